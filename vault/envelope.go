package vault

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/meta"
)

// The envelope: every blob is encrypted (package crypt) under its own random
// data key (DEK). The DEK is wrapped by the tenant's key-encryption key
// (KEK) with XChaCha20-Poly1305, here, in the vault (its 192-bit random
// nonces never run out, unlike AES-GCM's 96-bit ones past 2^32 wraps under
// one key); the KEK is wrapped by the
// site's root key inside the key store (HSM or sealed keyring). Tenant KEKs
// are cached for a bounded time, so the key store sees O(1) operations per
// tenant per window, never one per object; cached KEKs are zeroed when they
// expire and on Close.
//
//	K/<tenant>/<version u32be>   kekRecord: the KEK wrapped by the root key
//
// A tenant's KEK versions are never reused; rotation adds a version that new
// blobs use, and older blobs keep naming the version that wraps their DEK.

const pKEK = "K/"

func kKEKsOf(tenant string) []byte { return []byte(pKEK + tenant + "/") }
func kKEK(tenant string, version int) []byte {
	return binary.BigEndian.AppendUint32(kKEKsOf(tenant), uint32(version))
}

// kekRecord is a tenant KEK wrapped by the site's root key.
type kekRecord struct {
	Version int       `json:"v"`
	Wrapped []byte    `json:"w"`
	Created time.Time `json:"t"`
}

// Errors of the key path.
var (
	// ErrKeyUnavailable: the key store is sealed or unreachable. Nothing is
	// written in plaintext; the request can be retried.
	ErrKeyUnavailable = errors.New("the key store is unavailable")
	// ErrKeyDestroyed: the tenant's keys were destroyed (crypto-shredding);
	// its data can never be read again.
	ErrKeyDestroyed = errors.New("the encryption keys of this data were destroyed")
	// ErrIntegrity: stored bytes failed authentication.
	ErrIntegrity = errors.New("the stored data failed its integrity check")
)

func kekAD(tenant string, version int) []byte {
	return []byte("coffre kek v1\x00" + tenant + "\x00" + strconv.Itoa(version))
}

func dekAD(tenant, blob string) []byte {
	return []byte("coffre dek v1\x00" + tenant + "\x00" + blob)
}

// payloadAD binds a blob's ciphertext to its place: moving ciphertext to
// another tenant, bucket, key or blob fails authentication. The version id
// is not part of it because versions are assigned when the write commits,
// after the bytes are stored; the blob name, unique per write, plays its
// part, and the metadata record ties the blob to its version.
func payloadAD(tenant, bucketID, key, blob string) []byte {
	return []byte("coffre payload v1\x00" + tenant + "\x00" + bucketID + "\x00" + key + "\x00" + blob)
}

// keyErr turns a key store failure into the vault's sentinels.
func keyErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keys.ErrSealed), errors.Is(err, keys.ErrUnavailable), errors.Is(err, keys.ErrClosed):
		return fmt.Errorf("%w: %v", ErrKeyUnavailable, err)
	case errors.Is(err, keys.ErrUnwrap):
		return fmt.Errorf("%w: a tenant key does not unwrap under the site's root keys: %v", ErrIntegrity, err)
	}
	return fmt.Errorf("%w: %v", ErrKeyUnavailable, err)
}

// kekCache holds unwrapped tenant KEKs for a bounded time.
type kekCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*cachedKEK // tenant "\x00" version
}

type cachedKEK struct {
	aead    cipher.AEAD
	key     []byte
	expires time.Time
}

func (c *kekCache) get(tenant string, version int, now time.Time) cipher.AEAD {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[tenant+"\x00"+strconv.Itoa(version)]
	if e == nil || now.After(e.expires) {
		return nil
	}
	return e.aead
}

func (c *kekCache) put(tenant string, version int, key []byte, now time.Time) (cipher.AEAD, error) {
	aead, err := newWrapAEAD(key)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*cachedKEK)
	}
	k := tenant + "\x00" + strconv.Itoa(version)
	if old := c.m[k]; old != nil {
		clear(old.key) // an expired entry, or a concurrent unwrap's: zero it, not leave it to the GC
	}
	c.m[k] = &cachedKEK{aead: aead, key: key, expires: now.Add(c.ttl)}
	return aead, nil
}

// expire zeroes and drops the keys past their time (all of them when all
// is set), and those of one tenant when tenant is not "".
func (c *kekCache) expire(now time.Time, all bool, tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if all || now.After(e.expires) || tenant != "" && len(k) > len(tenant) && k[:len(tenant)+1] == tenant+"\x00" {
			clear(e.key) // the AES key schedule inside aead is Go's and cannot be zeroed
			delete(c.m, k)
		}
	}
}

// drop zeroes and forgets one cached key version.
func (c *kekCache) drop(tenant string, version int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := tenant + "\x00" + strconv.Itoa(version)
	if e := c.m[k]; e != nil {
		clear(e.key)
		delete(c.m, k)
	}
}

// currentKEK returns the AEAD and version of the tenant's current KEK,
// making version 1 on first use.
func (v *Vault) currentKEK(ctx context.Context, tenant string) (cipher.AEAD, int, error) {
	var (
		t   Tenant
		rec kekRecord
	)
	err := v.view(ctx, func(tx meta.Tx) error {
		err := getRecord(tx, kTenant(tenant), &t)
		if errors.Is(err, meta.ErrNotFound) {
			return fail("%w: %s", ErrNoSuchTenant, tenant)
		} else if err != nil || t.Shredded || t.KEKVersion == 0 {
			return err
		}
		return readKEK(tx, tenant, t.KEKVersion, &rec)
	})
	if err != nil {
		return nil, 0, err
	}
	if t.Shredded {
		return nil, 0, fmt.Errorf("%w: tenant %s was shredded", ErrKeyDestroyed, tenant)
	}
	if t.KEKVersion == 0 {
		return v.newKEK(ctx, tenant, 0)
	}
	aead, err := v.openKEK(ctx, tenant, rec)
	return aead, t.KEKVersion, err
}

// newKEK makes the tenant's next KEK version current, unless the current
// version is no longer after (someone else rotated meanwhile).
//
// The key store call runs outside the metadata transaction: that
// transaction runs on the store's single writer, which every write of the
// site shares, and a key store call (an HSM over the network) is neither
// fast nor bounded by it.
func (v *Vault) newKEK(ctx context.Context, tenant string, after int) (cipher.AEAD, int, error) {
	var t Tenant
	err := v.view(ctx, func(tx meta.Tx) error {
		err := getRecord(tx, kTenant(tenant), &t)
		if errors.Is(err, meta.ErrNotFound) {
			return fail("%w: %s", ErrNoSuchTenant, tenant)
		}
		return err
	})
	switch {
	case err != nil:
		return nil, 0, err
	case t.Shredded:
		return nil, 0, fmt.Errorf("%w: tenant %s was shredded", ErrKeyDestroyed, tenant)
	case t.KEKVersion != after:
		aead, err := v.kek(ctx, tenant, t.KEKVersion) // lost the race: use theirs
		return aead, t.KEKVersion, err
	}
	version := t.LastKEK + 1
	key := make([]byte, 32)
	rand.Read(key)
	wrapped, err := v.keys.Wrap(ctx, key, kekAD(tenant, version))
	if err != nil {
		clear(key)
		return nil, 0, keyErr(err)
	}
	theirs := 0
	err = v.update(ctx, func(tx meta.Tx) error {
		v.bucketGen.Add(1) // cached buckets are read under keys this may change
		theirs = 0
		var t Tenant
		if err := getRecord(tx, kTenant(tenant), &t); errors.Is(err, meta.ErrNotFound) {
			return fail("%w: %s", ErrNoSuchTenant, tenant)
		} else if err != nil {
			return err
		}
		if t.Shredded {
			return fail("%w: tenant %s was shredded", ErrKeyDestroyed, tenant)
		}
		if t.KEKVersion != after || t.LastKEK != version-1 {
			theirs = t.KEKVersion // someone rotated meanwhile: use theirs
			return nil
		}
		rec := kekRecord{Version: version, Wrapped: wrapped, Created: v.now().UTC()}
		if err := tx.Put(kKEK(tenant, version), encode(rec)); err != nil {
			return err
		}
		t.KEKVersion, t.LastKEK = version, version
		return tx.Put(kTenant(tenant), encode(t))
	})
	if err != nil || theirs != 0 {
		clear(key)
		if err != nil {
			return nil, 0, err
		}
		aead, err := v.kek(ctx, tenant, theirs)
		return aead, theirs, err
	}
	v.writeKEKs.Delete(tenant) // wrapDEK reads the new version next
	aead, err := v.keyCache.put(tenant, version, key, v.now())
	return aead, version, err
}

// kek returns the AEAD of one version of a tenant's KEK, from the cache or
// unwrapped by the key store.
func (v *Vault) kek(ctx context.Context, tenant string, version int) (cipher.AEAD, error) {
	var rec kekRecord
	if err := v.view(ctx, func(tx meta.Tx) error { return readKEK(tx, tenant, version, &rec) }); err != nil {
		return nil, err
	}
	return v.openKEK(ctx, tenant, rec)
}

// kekIn is kek for a caller inside a transaction: it reads the record
// through tx. A View started there could wait forever for a read
// connection that the callers' own transactions hold.
func (v *Vault) kekIn(ctx context.Context, tx meta.Tx, tenant string, version int) (cipher.AEAD, error) {
	var rec kekRecord
	if err := readKEK(tx, tenant, version, &rec); err != nil {
		return nil, err
	}
	return v.openKEK(ctx, tenant, rec)
}

// readKEK reads a KEK record. It is read even when the key is cached (one
// point read): a key that was shredded or retired, maybe by another gateway
// node, stops working at once rather than when the cache expires.
func readKEK(tx meta.Tx, tenant string, version int, rec *kekRecord) error {
	err := getRecord(tx, kKEK(tenant, version), rec)
	if errors.Is(err, meta.ErrNotFound) {
		return fail("%w: key version %d of tenant %s", ErrKeyDestroyed, version, tenant)
	}
	return err
}

// openKEK returns the AEAD of a KEK record's key, from the cache or
// unwrapped by the key store.
func (v *Vault) openKEK(ctx context.Context, tenant string, rec kekRecord) (cipher.AEAD, error) {
	version := rec.Version
	if aead := v.keyCache.get(tenant, version, v.now()); aead != nil {
		return aead, nil
	}
	// One Unwrap per key however many requests missed the cache meanwhile:
	// the key store sees O(1) calls per tenant per cache period.
	aead, err, _ := v.kekFlight.Do(tenant+"\x00"+strconv.Itoa(version), func() (any, error) {
		if aead := v.keyCache.get(tenant, version, v.now()); aead != nil {
			return aead, nil
		}
		key, err := v.keys.Unwrap(ctx, rec.Wrapped, kekAD(tenant, version))
		if err != nil {
			return nil, keyErr(err)
		}
		v.kekUnwraps.Add(1)
		return v.keyCache.put(tenant, version, key, v.now())
	})
	if err != nil {
		return nil, err
	}
	return aead.(cipher.AEAD), nil
}

// wrapDEK makes a fresh data key for a blob and wraps it with the tenant's
// current KEK, sealing it first with the customer key when there is one.
func (v *Vault) wrapDEK(ctx context.Context, tenant, blob string, customerKey []byte) (dek, wrapped []byte, version int, aead cipher.AEAD, err error) {
	aead, version, err = v.writeKEK(ctx, tenant)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	dek = make([]byte, 32)
	rand.Read(dek)
	inner := dek
	if customerKey != nil {
		if inner, err = sealForCustomer(customerKey, dek, blob); err != nil {
			clear(dek)
			return nil, nil, 0, nil, err
		}
	}
	return dek, sealDEK(aead, inner, tenant, blob), version, aead, nil
}

// writeKEKTTL bounds how long wrapDEK uses a tenant's current KEK without
// reading the tenant's record again. A rotation or a shredding elsewhere
// is caught by bindKEK, in the transaction that references the blob.
const writeKEKTTL = 2 * time.Second

// currentWriteKEK is a tenant's current KEK as wrapDEK last read it.
type currentWriteKEK struct {
	aead    cipher.AEAD
	version int
	at      time.Time
}

// writeKEK is currentKEK for new data keys, through a cache of writeKEKTTL:
// a small PUT would otherwise spend a metadata transaction on it.
func (v *Vault) writeKEK(ctx context.Context, tenant string) (cipher.AEAD, int, error) {
	if e, ok := v.writeKEKs.Load(tenant); ok {
		if c := e.(currentWriteKEK); v.now().Sub(c.at) < writeKEKTTL {
			return c.aead, c.version, nil
		}
	}
	aead, version, err := v.currentKEK(ctx, tenant)
	if err == nil {
		v.writeKEKs.Store(tenant, currentWriteKEK{aead, version, v.now()})
	}
	return aead, version, err
}

// bindKEK runs in the transaction that makes a record reference a blob
// written by this request: it checks that the tenant still has keys and
// that the blob's data key is wrapped under the tenant's current KEK, and
// rewraps it when a rotation came during the upload. A rotation destroys
// the older KEK versions once it has rewrapped the data keys it found, so a
// key wrapped under an older version and referenced afterwards would be
// lost with them; a shredded tenant gets nothing new. The current KEK must
// be in the cache (the key store cannot be called inside a transaction):
// when it is not, bindKEK fails with errRebindKEK and updateBinding loads
// it and runs the transaction again.
func (v *Vault) bindKEK(tx meta.Tx, tenant string, bl *Blob) error {
	t, err := v.readTenant(tx, tenant)
	if err != nil {
		return err
	}
	if t.Shredded || t.KEKVersion == 0 {
		v.writeKEKs.Delete(tenant)
		return fail("%w: tenant %s was shredded", ErrKeyDestroyed, tenant)
	}
	if bl.KEK == t.KEKVersion {
		return nil
	}
	v.writeKEKs.Delete(tenant)
	old, cur := bl.kekAEAD, v.keyCache.get(tenant, t.KEKVersion, v.now())
	if old == nil {
		return fail("%w: blob %s has no key to rewrap from", ErrIntegrity, bl.Name)
	}
	if cur == nil {
		return vaultError{errRebindKEK}
	}
	dek, err := openDEK(old, tenant, *bl)
	if err != nil {
		return vaultError{err}
	}
	bl.DEK, bl.KEK, bl.kekAEAD = sealDEK(cur, dek, tenant, bl.Name), t.KEKVersion, cur
	clear(dek)
	return nil
}

// readTenant reads a tenant's record; a missing one is ErrNoSuchTenant.
// Every PUT reads it (bindKEK), and decoding its JSON cost more than the
// read: the last record decoded is kept, and used for the same bytes only.
func (v *Vault) readTenant(tx meta.Tx, tenant string) (Tenant, error) {
	b, err := tx.Get(kTenant(tenant))
	if errors.Is(err, meta.ErrNotFound) {
		return Tenant{}, fail("%w: %s", ErrNoSuchTenant, tenant)
	} else if err != nil {
		return Tenant{}, err
	}
	if d, ok := v.tenants.Load(tenant); ok && bytes.Equal(d.(decodedTenant).raw, b) {
		return d.(decodedTenant).t, nil
	}
	var t Tenant
	if err := decode(b, &t); err != nil {
		return Tenant{}, err
	}
	v.tenants.Store(tenant, decodedTenant{raw: bytes.Clone(b), t: t})
	return t, nil
}

// decodedTenant is a tenant record and the bytes it was decoded from.
type decodedTenant struct {
	raw []byte
	t   Tenant
}

// errRebindKEK: see bindKEK. It is an ErrKeyUnavailable in case it lasts.
var errRebindKEK = fmt.Errorf("%w: the tenant's key was rotated during the upload and the new one is not loaded; retry", ErrKeyUnavailable)

// updateBinding is v.update for a transaction that calls bindKEK: when a
// rotation's new KEK is not in the cache, it loads it, outside the
// transaction, and runs fn again, once.
func (v *Vault) updateBinding(ctx context.Context, tenant string, fn func(meta.Tx) error) error {
	err := v.update(ctx, fn)
	if errors.Is(err, errRebindKEK) {
		if _, _, kerr := v.currentKEK(ctx, tenant); kerr != nil {
			return kerr
		}
		err = v.update(ctx, fn)
	}
	return err
}

// sealDEK wraps a data key with a KEK: nonce || AES-GCM(dek).
func sealDEK(aead cipher.AEAD, dek []byte, tenant, blob string) []byte {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(dek)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, dek, dekAD(tenant, blob))
}

// unwrapKEKLayer removes the tenant-key layer of a blob's wrapped data key:
// the result is the data key, or for SSE-C blobs the data key still sealed
// with the customer key.
// recs, when it holds the record of b's KEK version, was read by the
// caller's transaction; otherwise the record is read now.
func (v *Vault) unwrapKEKLayer(ctx context.Context, tenant string, b Blob, recs map[int]kekRecord) ([]byte, error) {
	var aead cipher.AEAD
	var err error
	if rec, ok := recs[b.KEK]; ok {
		aead, err = v.openKEK(ctx, tenant, rec)
	} else {
		aead, err = v.kek(ctx, tenant, b.KEK)
	}
	if err != nil {
		return nil, err
	}
	return openDEK(aead, tenant, b)
}

// openDEK opens the KEK layer of b's wrapped data key with aead.
func openDEK(aead cipher.AEAD, tenant string, b Blob) ([]byte, error) {
	ns := aead.NonceSize()
	if len(b.DEK) < ns+aead.Overhead() {
		return nil, fmt.Errorf("%w: wrapped data key of blob %s is truncated", ErrIntegrity, b.Name)
	}
	dek, err := aead.Open(nil, b.DEK[:ns], b.DEK[ns:], dekAD(tenant, b.Name))
	if err != nil {
		return nil, fmt.Errorf("%w: data key of blob %s does not unwrap", ErrIntegrity, b.Name)
	}
	return dek, nil
}

// unwrapDEK opens the data key of a blob; customerKey is the SSE-C key of
// the request, or nil.
func (v *Vault) unwrapDEK(ctx context.Context, tenant string, b Blob, customerKey []byte, recs map[int]kekRecord) ([]byte, error) {
	inner, err := v.unwrapKEKLayer(ctx, tenant, b, recs)
	if err != nil || !b.SSEC {
		return inner, err
	}
	defer clear(inner)
	if customerKey == nil {
		return nil, ErrCustomerKeyRequired
	}
	return openForCustomer(customerKey, inner, b.Name)
}

// HasTenantKeys reports whether the metadata holds a tenant key, wrapped by
// the site's root key: a site that has one must never make a new key store,
// under whose root key none of them would open.
func (v *Vault) HasTenantKeys(ctx context.Context) (bool, error) {
	found := false
	err := v.view(ctx, func(tx meta.Tx) error {
		pre := []byte(pKEK)
		return tx.Scan(pre, meta.PrefixEnd(pre), func(_, _ []byte) (bool, error) {
			found = true
			return false, nil
		})
	})
	return found, err
}

// KEKUnwraps counts the key store's Unwrap calls made for tenant KEKs since
// start: the figure that shows the HSM is off the per-object path.
func (v *Vault) KEKUnwraps() int64 { return v.kekUnwraps.Load() }

// newWrapAEAD is the AEAD of every key that seals many small things with
// random nonces: tenant KEKs (data keys), bucket keys (records, index nodes)
// and SSE-C keys. XChaCha20-Poly1305's 192-bit nonces make random nonces
// safe for any number of seals.
func newWrapAEAD(key []byte) (cipher.AEAD, error) {
	return chacha20poly1305.NewX(key)
}
