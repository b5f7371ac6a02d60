package vault

import (
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
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
// rewrites one leaf, every listing page reads a few. 3840 bytes is the most
// that, padded and sealed, fits in one 4 KiB page of the embedded SQLite
// store with its key: a rewritten leaf is then one page of the WAL, where a
// node of 8 KiB was a page and two overflow pages, freed and allocated
// again (with the free list) at each rewrite. Measured against 8 KiB: 15 to
// 20 % fewer WAL pages per group commit of 4 KiB PUTs, server CPU per PUT
// 0.89 to 1.01 x, listings unchanged end to end. In vault/index
// (BenchmarkScan, against 16 KiB nodes) a full scan reads 4.5 times as many
// nodes and gets 0.74 x the keys per second, far above what a listing
// needs, and a page of 1000 keys is 1.25 x faster. Trees written with
// larger nodes split them as they are rewritten.
const indexNodeBytes = 3840

// nodeCacheBytes bounds the sealed nodes the vault keeps decoded (index.
// NodeCache): about 2000 nodes, which hold the upper levels of every busy
// bucket's index and the leaves that PUTs keep changing. A PUT of a new
// name then reads its path without opening or decoding it.
const nodeCacheBytes = 8 << 20

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
		b.rec, b.tokKey, b.idx = e.rec, e.tokKey, &index.Tree{Prefix: kIndexOf(b.ID), AEAD: e.idx, MaxNodeBytes: indexNodeBytes, Cache: v.nodes}
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
	b.idx = &index.Tree{Prefix: kIndexOf(b.ID), AEAD: iaead, MaxNodeBytes: indexNodeBytes, Cache: v.nodes}
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

// The name index maps each key that has versions to a short value: 0 when
// only older versions or delete markers remain; for a live latest version,
// what a listing shows of it (listingValue), or 1 when that does not fit
// (the listing then reads the record).
var (
	idxLive = []byte{1}
	idxDead = []byte{0}
)

const idxListing = 2 // first byte of a listingValue

func indexLive(val []byte) bool {
	return len(val) > 0 && (val[0] == idxLive[0] || val[0] == idxListing)
}

// listingValue encodes the attributes ListObjects shows of a live version,
// so that a listing reads index nodes only:
//
//	2 | uvarint size | varint mtime (µs since 1970) | 16-byte MD5 of the ETag |
//	uvarint parts (0: not multipart) | str storage class | str checksum
//	algorithm | str checksum type
//
// where str is a uvarint length then the bytes. It returns nil when o's
// ETag is not an MD5 (with or without -N) or the value would be too long.
func listingValue(o *Object) []byte {
	sum, parts, ok := strings.Cut(o.ETag, "-")
	md5, err := hex.DecodeString(sum)
	if err != nil || len(md5) != 16 {
		return nil
	}
	n := 0
	if ok {
		if n, err = strconv.Atoi(parts); err != nil || n < 1 {
			return nil
		}
	}
	v := []byte{idxListing}
	v = binary.AppendUvarint(v, uint64(o.Size))
	v = binary.AppendVarint(v, o.LastModified.UnixMicro())
	v = append(v, md5...)
	v = binary.AppendUvarint(v, uint64(n))
	var alg, typ string
	if o.Checksum != nil {
		alg, typ = o.Checksum.Algorithm, o.Checksum.Type
	}
	for _, str := range []string{o.StorageClass, alg, typ} {
		v = binary.AppendUvarint(v, uint64(len(str)))
		v = append(v, str...)
	}
	if len(v) > index.MaxValueLen {
		return nil
	}
	return v
}

// listed decodes a listingValue; ok is false for any other value.
func listed(key string, v []byte) (o *Object, ok bool) {
	if len(v) == 0 || v[0] != idxListing {
		return nil, false
	}
	v = v[1:]
	size, n := binary.Uvarint(v)
	if n <= 0 {
		return nil, false
	}
	v = v[n:]
	mtime, n := binary.Varint(v)
	if n <= 0 || len(v) < n+16 {
		return nil, false
	}
	etag := hex.EncodeToString(v[n : n+16])
	v = v[n+16:]
	parts, n := binary.Uvarint(v)
	if n <= 0 {
		return nil, false
	}
	v = v[n:]
	if parts > 0 {
		etag += "-" + strconv.FormatUint(parts, 10)
	}
	var strs [3]string
	for i := range strs {
		l, n := binary.Uvarint(v)
		if n <= 0 || uint64(len(v)-n) < l {
			return nil, false
		}
		strs[i], v = string(v[n:n+int(l)]), v[n+int(l):]
	}
	o = &Object{Key: key, Size: int64(size), LastModified: time.UnixMicro(mtime).UTC(), ETag: etag, StorageClass: strs[0], Multipart: parts > 0}
	if strs[1] != "" {
		o.Checksum = &Checksum{Algorithm: strs[1], Type: strs[2]}
	}
	return o, len(v) == 0
}

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
	if v := listingValue(newest); v != nil {
		return b.idx.Put(tx, key, v)
	}
	return b.idx.Put(tx, key, idxLive)
}

// seal encrypts a record for the metadata key k. An Object whose inline
// blob is Here has that blob's ciphertext in the same sealed plaintext,
// after the record's JSON: JSON, ciphertext, its length (4 bytes, big
// endian), then a zero byte, which no JSON text ends with.
func (b *Bucket) seal(k []byte, v any) []byte {
	plain := encode(v)
	if o, ok := v.(*Object); ok {
		if bl := o.here(); bl != nil {
			plain = append(plain, bl.data...)
			plain = binary.BigEndian.AppendUint32(plain, uint32(len(bl.data)))
			plain = append(plain, 0)
		}
	}
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
	var data []byte
	if n := len(plain); n > 0 && plain[n-1] == 0 {
		if n < 5 || uint64(binary.BigEndian.Uint32(plain[n-5:])) > uint64(n-5) {
			return fmt.Errorf("%w: record of bucket %s: bad inline blob trailer", ErrIntegrity, b.Name)
		}
		size := int(binary.BigEndian.Uint32(plain[n-5:]))
		data, plain = plain[n-5-size:n-5], plain[:n-5-size]
	}
	err = decode(plain, v)
	clear(plain) // the record's JSON; the ciphertext after it is no secret
	if err != nil {
		return err
	}
	if data != nil {
		// The ciphertext after the record: the Here blob's.
		o, ok := v.(*Object)
		var bl *Blob
		if ok {
			bl = o.here()
		}
		if bl == nil {
			return fmt.Errorf("%w: record of bucket %s holds an inline blob but no blob of its own", ErrIntegrity, b.Name)
		}
		bl.data = data
	}
	return nil
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
