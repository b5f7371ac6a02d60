package vault

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/meta"
	"github.com/coffre-cloud/coffre/vault/index"
)

// Config holds what a Vault is built from.
type Config struct {
	Meta meta.Store
	// Offers are the site's backends by offer name, and DefaultOffer the
	// one that buckets use when nothing places them (no Placer). Backend
	// alone is a site with one offer named "default".
	Offers       map[string]backend.Store
	DefaultOffer string
	Backend      backend.Store
	// Placer decides which offer holds a new bucket, and judges changes of
	// sensitivity; nil puts every bucket on DefaultOffer.
	Placer Placer
	// Quota returns a tenant's quota; nil means no quotas.
	Quota func(tenant string) Quota
	// InlineMax is the size up to which an object written in one PUT is
	// kept, encrypted, in the metadata store with its record rather than
	// as a blob on the bucket's offer; 0 keeps every object on offers.
	InlineMax int64
	// Keys holds the site's root keys. Every blob is encrypted under keys
	// that descend from them; without a key store nothing is written.
	Keys keys.Store
	// KEKCacheTTL bounds how long an unwrapped tenant key stays in memory;
	// 0 means 5 minutes.
	KEKCacheTTL time.Duration
	Logger      *slog.Logger     // nil: slog.Default()
	Now         func() time.Time // nil: time.Now
	// UploadExpiry is the age after which an unfinished multipart upload
	// is aborted by the janitor. 0 means 7 days.
	UploadExpiry time.Duration
	// Region is returned by GetBucketLocation.
	Region string
}

// Vault is the storage engine behind the S3 API.
type Vault struct {
	meta         meta.Store
	offers       map[string]backend.Store
	defaultOffer string
	placer       Placer
	quota        func(tenant string) Quota
	inlineMax    int64
	keys         keys.Store
	log          *slog.Logger
	now          func() time.Time
	expiry       time.Duration
	region       string
	started      time.Time
	wake         chan struct{}
	// nodes keeps the name index's nodes decoded, for every bucket.
	nodes *index.NodeCache
	// writing holds the blobs this process is writing and has not yet
	// committed or removed. Sweep skips them: a blob's mtime comes from the
	// kernel's coarse clock and can be earlier than started even when it
	// was written after it.
	writing sync.Map // blob name -> struct{}

	keyCache   kekCache
	writeKEKs  sync.Map // tenant → currentWriteKEK (wrapDEK's)
	tenants    sync.Map // tenant → decodedTenant (readTenant's)
	bucketKeys bucketKeyCache
	kekFlight  singleflight.Group // one key store Unwrap per key at a time
	kekUnwraps atomic.Int64

	traffic     sync.Map // trafficKey -> *trafficCounter (usage.go)
	buckets     sync.Map // bucket name -> cachedBucket (bucket.go)
	bucketGen   atomic.Int64
	bucketOffer sync.Map // bucket name -> [2]string{tenant, offer}, for request counting
	migrateWake chan struct{}
	// rootUsers rewrap other records wrapped by the root key (the identity
	// register's key) when it rotates (OnRootRotation).
	rootUsers []func(context.Context) (int, error)
}

// DefaultInlineMax is coffre serve's Config.InlineMax: objects of up to
// 16 KiB live in the metadata store, where a PUT costs one durable commit
// instead of three fsyncs (blob file, its directory, the commit).
const DefaultInlineMax = 16 << 10

// Limits of the S3 API.
const (
	MaxObjectSize = 5 << 40 // 5 TiB
	MaxPutSize    = 5 << 30 // 5 GiB in one PutObject or UploadPart
	MinPartSize   = 5 << 20 // every part but the last
	MaxParts      = 10000
	MaxKeyLength  = 1024
)

// New returns a vault over the given stores.
func New(c Config) *Vault {
	v := &Vault{meta: c.Meta, offers: c.Offers, defaultOffer: c.DefaultOffer, placer: c.Placer, quota: c.Quota, inlineMax: c.InlineMax,
		keys: c.Keys, log: c.Logger, now: c.Now, expiry: c.UploadExpiry, region: c.Region,
		nodes: index.NewNodeCache(nodeCacheBytes)}
	if c.Backend != nil {
		v.offers = map[string]backend.Store{"default": c.Backend}
		v.defaultOffer = "default"
	}
	v.keyCache.ttl = c.KEKCacheTTL
	if v.keyCache.ttl == 0 {
		v.keyCache.ttl = 5 * time.Minute
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.expiry == 0 {
		v.expiry = 7 * 24 * time.Hour
	}
	if v.region == "" {
		v.region = "us-east-1"
	}
	v.started = v.now()
	v.wake = make(chan struct{}, 1)
	v.migrateWake = make(chan struct{}, 1)
	return v
}

// Close zeroes the tenant keys the vault holds in memory.
func (v *Vault) Close() {
	v.keyCache.expire(v.now(), true, "")
	v.bucketKeys.reset()
}

// Region is the S3 region of this site.
func (v *Vault) Region() string { return v.region }

// Principal is an authenticated caller.
type Principal struct {
	Tenant    string
	AccessKey string
}

// view and update run a metadata transaction and mark a failure of the store
// itself as ErrMetadataUnavailable, keeping the vault's own sentinels as
// they are.
func (v *Vault) view(ctx context.Context, fn func(meta.Tx) error) error {
	return metaErr(v.meta.View(ctx, fn))
}

func (v *Vault) update(ctx context.Context, fn func(meta.Tx) error) error {
	gen := v.bucketGen.Load()
	err := metaErr(v.meta.Update(ctx, fn))
	if v.bucketGen.Load() != gen {
		// A bucket record changed in fn: the bump there made copies read
		// before it stale; this one, after the commit, those read while
		// it ran.
		v.bucketGen.Add(1)
	}
	return err
}

type vaultError struct{ err error }

func (e vaultError) Error() string { return e.err.Error() }
func (e vaultError) Unwrap() error { return e.err }

// fail marks an error raised by the vault inside a transaction, so that
// metaErr passes it through.
func fail(format string, args ...any) error { return vaultError{fmt.Errorf(format, args...)} }

func metaErr(err error) error {
	if err == nil {
		return nil
	}
	var ve vaultError
	if errors.As(err, &ve) {
		return ve.err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrMetadataUnavailable, err)
}

// getRecord reads and decodes one record; a missing one is meta.ErrNotFound.
func getRecord(tx meta.Tx, key []byte, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	return decode(b, v)
}

var tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// CreateTenant adds a tenant.
func (v *Vault) CreateTenant(ctx context.Context, name string) (Tenant, error) {
	if !tenantName.MatchString(name) {
		return Tenant{}, fmt.Errorf("%w: tenant name %q: use 2 to 63 characters a-z, 0-9 and '-', starting with a letter or digit", ErrInvalidArgument, name)
	}
	t := Tenant{Name: name, Created: v.now().UTC()}
	err := v.update(ctx, func(tx meta.Tx) error {
		if _, err := tx.Get(kTenant(name)); err == nil {
			return fail("%w: %s", ErrTenantExists, name)
		} else if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		return tx.Put(kTenant(name), encode(t))
	})
	return t, err
}

// EnsureTenant creates the tenant unless it exists.
func (v *Vault) EnsureTenant(ctx context.Context, name string) error {
	_, err := v.CreateTenant(ctx, name)
	if errors.Is(err, ErrTenantExists) {
		return nil
	}
	return err
}

// Tenants lists the tenants in name order.
func (v *Vault) Tenants(ctx context.Context) ([]Tenant, error) {
	var ts []Tenant
	err := v.view(ctx, func(tx meta.Tx) error {
		ts = ts[:0]
		p := []byte(pTenant)
		return tx.Scan(p, meta.PrefixEnd(p), func(_, val []byte) (bool, error) {
			var t Tenant
			if err := decode(val, &t); err != nil {
				return false, err
			}
			ts = append(ts, t)
			return true, nil
		})
	})
	return ts, err
}

const (
	accessKeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretAlphabet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)] // both alphabets divide 256: no bias
	}
	return string(b)
}

// NewAccessKeyPair returns a fresh S3 access key id and secret.
func NewAccessKeyPair() (id, secret string) {
	return "CO" + randomString(18, accessKeyAlphabet), randomString(40, secretAlphabet)
}

// CreateAccessKey makes a new access key for an existing tenant.
func (v *Vault) CreateAccessKey(ctx context.Context, tenant string) (AccessKey, error) {
	id, secret := NewAccessKeyPair()
	return v.PutAccessKey(ctx, tenant, id, secret)
}

// PutAccessKey installs a given access key for a tenant (used for the root
// credentials from the environment). An existing key with the same id is
// replaced only if it belongs to the same tenant and is not temporary.
func (v *Vault) PutAccessKey(ctx context.Context, tenant, id, secret string) (AccessKey, error) {
	if len(id) < 3 || len(id) > 128 || len(secret) < 8 || len(secret) > 256 {
		return AccessKey{}, fmt.Errorf("%w: access key id must have 3 to 128 characters and secret 8 to 256", ErrInvalidArgument)
	}
	return v.storeKey(ctx, AccessKey{ID: id, Secret: secret, Tenant: tenant, Created: v.now().UTC()}, false)
}

// storeKey seals k's secret under its tenant's current KEK and writes k,
// keeping the creation time of the record it replaces. It refuses to
// replace a key of another tenant, or a temporary key by a permanent one
// (or the other way round). With reseal, k must exist (else
// ErrInvalidAccessKeyID): a key deleted meanwhile stays deleted.
func (v *Vault) storeKey(ctx context.Context, k AccessKey, reseal bool) (AccessKey, error) {
	aead, version, err := v.currentKEK(ctx, k.Tenant)
	if err != nil {
		return AccessKey{}, err
	}
	k.Sealed, k.KEK = sealSecret(aead, k), version
	err = v.update(ctx, func(tx meta.Tx) error {
		if _, err := tx.Get(kTenant(k.Tenant)); errors.Is(err, meta.ErrNotFound) {
			return fail("%w: %s", ErrNoSuchTenant, k.Tenant)
		} else if err != nil {
			return err
		}
		var old AccessKey
		switch err := getRecord(tx, kAccess(k.ID), &old); {
		case err == nil && old.Tenant != k.Tenant:
			return fail("%w: access key %s belongs to tenant %s", ErrInvalidArgument, k.ID, old.Tenant)
		case err == nil && old.Temporary() != k.Temporary():
			return fail("%w: access key %s exists, and only one of the two is temporary", ErrInvalidArgument, k.ID)
		case errors.Is(err, meta.ErrNotFound) && reseal:
			return fail("%w: %s", ErrInvalidAccessKeyID, k.ID)
		case err != nil && !errors.Is(err, meta.ErrNotFound):
			return err
		}
		if old.ID != "" {
			k.Created = old.Created
		}
		return tx.Put(kAccess(k.ID), encode(k))
	})
	return k, err
}

// DeleteAccessKey removes an access key.
func (v *Vault) DeleteAccessKey(ctx context.Context, id string) error {
	return v.update(ctx, func(tx meta.Tx) error {
		if _, err := tx.Get(kAccess(id)); errors.Is(err, meta.ErrNotFound) {
			return fail("%w: %s", ErrInvalidAccessKeyID, id)
		}
		return tx.Delete(kAccess(id))
	})
}

// AccessKeys lists the access keys of a tenant ("" for all).
func (v *Vault) AccessKeys(ctx context.Context, tenant string) ([]AccessKey, error) {
	var ks []AccessKey
	err := v.view(ctx, func(tx meta.Tx) error {
		ks = ks[:0]
		p := []byte(pAccess)
		return tx.Scan(p, meta.PrefixEnd(p), func(_, val []byte) (bool, error) {
			var k AccessKey
			if err := decode(val, &k); err != nil {
				return false, err
			}
			if tenant == "" || k.Tenant == tenant {
				ks = append(ks, k)
			}
			return true, nil
		})
	})
	return ks, err
}

// LookupKey returns the access key with the given id, or
// ErrInvalidAccessKeyID. It is called on every authenticated request.
func (v *Vault) LookupKey(ctx context.Context, id string) (AccessKey, error) {
	var k AccessKey
	err := v.view(ctx, func(tx meta.Tx) error {
		err := getRecord(tx, kAccess(id), &k)
		if errors.Is(err, meta.ErrNotFound) {
			return fail("%w", ErrInvalidAccessKeyID)
		}
		return err
	})
	if err != nil {
		return k, err
	}
	aead, err := v.kek(ctx, k.Tenant, k.KEK)
	if err != nil {
		return k, err
	}
	k.Secret, err = openSecret(aead, k)
	return k, err
}

// secretAD binds a sealed secret to its key: tenant and id, and for a
// temporary key what limits it (role, expiry, session token hash, holder),
// so that a record edited in the metadata store (a temporary key made
// permanent, its expiry pushed back, its role raised) no longer opens.
func secretAD(k AccessKey) []byte {
	if !k.Temporary() {
		return []byte("coffre access key v1\x00" + k.Tenant + "\x00" + k.ID)
	}
	return []byte("coffre temporary access key v1\x00" + k.Tenant + "\x00" + k.ID + "\x00" + string(k.Role) + "\x00" +
		strconv.FormatInt(k.Expires.Unix(), 10) + "\x00" + hex.EncodeToString(k.SessionHash) + "\x00" + k.Subject)
}

// sealSecret seals an access key's secret with a tenant KEK.
func sealSecret(aead cipher.AEAD, k AccessKey) []byte {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(k.Secret)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(k.Secret), secretAD(k))
}

// openSecret opens the sealed secret of an access key.
func openSecret(aead cipher.AEAD, k AccessKey) (string, error) {
	ns := aead.NonceSize()
	if len(k.Sealed) < ns+aead.Overhead() {
		return "", fmt.Errorf("%w: the secret of access key %s is missing", ErrIntegrity, k.ID)
	}
	b, err := aead.Open(nil, k.Sealed[:ns], k.Sealed[ns:], secretAD(k))
	if err != nil {
		return "", fmt.Errorf("%w: the secret of access key %s does not open", ErrIntegrity, k.ID)
	}
	return string(b), nil
}
