package vault

import (
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/coffre-cloud/coffre/meta"
	"github.com/coffre-cloud/coffre/vault/index"
)

// Object and upload records (standard headers, user metadata, tags,
// checksums, data keys) are sealed in the metadata store under a key of
// their bucket: 32 random bytes (the bucket key) wrapped by the tenant's
// KEK and kept in the bucket record. Each record is XChaCha20-Poly1305
// under a key derived from it, with the record's own metadata key as associated data,
// so that records cannot be swapped. Rotation rewraps the bucket key only;
// shredding the tenant's KEKs makes the records unreadable too.

func bucketKeyAD(tenant, bid string, version int) []byte {
	return []byte("coffre bucket key v1\x00" + tenant + "\x00" + bid + "\x00" + strconv.Itoa(version))
}

func recordAD(key []byte) []byte { return append([]byte("coffre record v1\x00"), key...) }

// newBucketKey makes the key of a new bucket, wrapped by the tenant's
// current KEK.
func (v *Vault) newBucketKey(ctx context.Context, tenant, bid string) (wrapped []byte, version int, err error) {
	aead, version, err := v.currentKEK(ctx, tenant)
	if err != nil {
		return nil, 0, err
	}
	mk := make([]byte, 32)
	rand.Read(mk)
	defer clear(mk)
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(mk)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, mk, bucketKeyAD(tenant, bid, version)), version, nil
}

// openBucketKey unwraps a bucket's key with the tenant's KEK. tx is the
// caller's transaction, or nil outside one.
func (v *Vault) openBucketKey(ctx context.Context, tx meta.Tx, b Bucket) ([]byte, error) {
	var aead cipher.AEAD
	var err error
	if tx != nil {
		aead, err = v.kekIn(ctx, tx, b.Tenant, b.MKV)
	} else {
		aead, err = v.kek(ctx, b.Tenant, b.MKV)
	}
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(b.MK) < ns+aead.Overhead() {
		return nil, fmt.Errorf("%w: the key of bucket %s is missing or truncated", ErrIntegrity, b.Name)
	}
	mk, err := aead.Open(nil, b.MK[:ns], b.MK[ns:], bucketKeyAD(b.Tenant, b.ID, b.MKV))
	if err != nil {
		return nil, fmt.Errorf("%w: the key of bucket %s does not unwrap", ErrIntegrity, b.Name)
	}
	return mk, nil
}

// indexNodeBytes sizes the nodes of the name index: every PUT of a new name
// rewrites one leaf, every listing page reads a few (8 KiB: between 4 KiB's
// faster writes and 16 KiB's faster scans, measured in vault/index).
const indexNodeBytes = 8 << 10

// bucketKeys are the keys derived from a bucket key, cached: deriving them
// costs three HKDFs and two AES key schedules, on every request otherwise.
type bucketKeys struct {
	rec     cipher.AEAD
	tokKey  []byte
	idx     cipher.AEAD
	expires time.Time
}

// bucketKeyCache maps bucket id, KEK version and wrapped bucket key to the
// derived keys. Entries live as long as tenant keys do in memory.
type bucketKeyCache struct {
	mu sync.Mutex
	m  map[string]*bucketKeys
}

func (c *bucketKeyCache) get(k string, now time.Time) *bucketKeys {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[k]
	if e == nil || now.After(e.expires) {
		return nil
	}
	return e
}

func (c *bucketKeyCache) put(k string, e *bucketKeys) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= 10000 {
		c.resetLocked()
	}
	c.m[k] = e
}

// reset zeroes the token keys and forgets everything.
func (c *bucketKeyCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetLocked()
}

func (c *bucketKeyCache) resetLocked() {
	for _, old := range c.m {
		clear(old.tokKey)
	}
	c.m = make(map[string]*bucketKeys)
}

// withRecordKey attaches the record sealer, the name token key and the name
// index to b. The tenant's KEK record is read each time (v.kek), so a
// shredded or retired key stops at once even when the derived keys are
// cached.
//
// tx is the caller's transaction, or nil outside one: a View started inside
// a transaction could wait forever for a read connection that the callers'
// own transactions hold.
func (v *Vault) withRecordKey(ctx context.Context, tx meta.Tx, b *Bucket) error {
	var err error
	if tx != nil {
		_, err = v.kekIn(ctx, tx, b.Tenant, b.MKV)
	} else {
		_, err = v.kek(ctx, b.Tenant, b.MKV)
	}
	if err != nil {
		return err
	}
	ck := b.ID + "\x00" + strconv.Itoa(b.MKV) + "\x00" + string(b.MK)
	if e := v.bucketKeys.get(ck, v.now()); e != nil {
		b.rec, b.tokKey, b.idx = e.rec, e.tokKey, &index.Tree{Prefix: kIndexOf(b.ID), AEAD: e.idx, MaxNodeBytes: indexNodeBytes}
		return nil
	}
	if err := v.deriveBucketKeys(ctx, tx, b); err != nil {
		return err
	}
	v.bucketKeys.put(ck, &bucketKeys{rec: b.rec, tokKey: b.tokKey, idx: b.idx.AEAD, expires: v.now().Add(v.keyCache.ttl)})
	return nil
}

// deriveBucketKeys unwraps the bucket key and derives its keys into b.
func (v *Vault) deriveBucketKeys(ctx context.Context, tx meta.Tx, b *Bucket) error {
	mk, err := v.openBucketKey(ctx, tx, *b)
	if err != nil {
		return err
	}
	defer clear(mk)
	k, err := hkdf.Key(sha256.New, mk, nil, "coffre records v1", 32)
	if err != nil {
		return err
	}
	defer clear(k)
	if b.rec, err = newWrapAEAD(k); err != nil {
		return err
	}
	if b.tokKey, err = hkdf.Key(sha256.New, mk, nil, "coffre name tokens v1", 32); err != nil {
		return err
	}
	ik, err := hkdf.Key(sha256.New, mk, nil, "coffre name index v1", 32)
	if err != nil {
		return err
	}
	defer clear(ik)
	iaead, err := newWrapAEAD(ik)
	if err != nil {
		return err
	}
	b.idx = &index.Tree{Prefix: kIndexOf(b.ID), AEAD: iaead, MaxNodeBytes: indexNodeBytes}
	return nil
}

// tok is the token of an object key in the metadata store's keys: a keyed
// hash, so that the store holds no name. 128 bits make a collision of two
// names of one bucket negligible.
func (b *Bucket) tok(key string) string {
	m := hmac.New(sha256.New, b.tokKey)
	m.Write([]byte(key))
	return string(m.Sum(nil)[:16])
}

// The name index maps each key that has versions to one byte: 1 when its
// latest version is live (listed by ListObjects), 0 when only older
// versions or delete markers remain.
var (
	idxLive = []byte{1}
	idxDead = []byte{0}
)

func indexLive(val []byte) bool { return len(val) == 1 && val[0] == 1 }

// indexLatest records in the name index what the newest version of a key
// is (nil: the key has no version left).
func (b *Bucket) indexLatest(tx meta.Tx, key string, newest *Object) error {
	switch {
	case newest == nil:
		_, err := b.idx.Delete(tx, key)
		return err
	case newest.DeleteMarker:
		return b.idx.Put(tx, key, idxDead)
	}
	return b.idx.Put(tx, key, idxLive)
}

// seal encrypts a record for the metadata key k.
func (b *Bucket) seal(k []byte, v any) []byte {
	plain := encode(v)
	defer clear(plain)
	nonce := make([]byte, b.rec.NonceSize(), b.rec.NonceSize()+len(plain)+b.rec.Overhead())
	rand.Read(nonce)
	return b.rec.Seal(nonce, nonce, plain, recordAD(k))
}

// open decrypts a record read at metadata key k.
func (b *Bucket) open(k, val []byte, v any) error {
	ns := b.rec.NonceSize()
	if len(val) < ns+b.rec.Overhead() {
		return fmt.Errorf("%w: record of bucket %s is truncated", ErrIntegrity, b.Name)
	}
	plain, err := b.rec.Open(nil, val[:ns], val[ns:], recordAD(k))
	if err != nil {
		return fmt.Errorf("%w: record of bucket %s does not authenticate", ErrIntegrity, b.Name)
	}
	defer clear(plain)
	return decode(plain, v)
}

// put seals and writes a record.
func (b *Bucket) put(tx meta.Tx, k []byte, v any) error { return tx.Put(k, b.seal(k, v)) }

// get reads and opens a record; a missing one is meta.ErrNotFound.
func (b *Bucket) get(tx meta.Tx, k []byte, v any) error {
	val, err := tx.Get(k)
	if err != nil {
		return err
	}
	return b.open(k, val, v)
}
