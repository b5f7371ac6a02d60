package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"strings"
	"sync"
)

// maxCachedKeys bounds the signing-key cache. A key is valid for one day in
// one region, so the cache holds about one entry per active access key;
// past the bound a random entry is evicted.
const maxCachedKeys = 1024

// keyEntry is a derived signing key with a pool of HMAC states keyed with
// it, so that verifying a request allocates no HMAC.
type keyEntry struct {
	key  [32]byte
	macs sync.Pool
}

func (e *keyEntry) getMAC() hash.Hash {
	if m, ok := e.macs.Get().(hash.Hash); ok {
		m.Reset()
		return m
	}
	return hmac.New(sha256.New, e.key[:])
}

func (e *keyEntry) putMAC(m hash.Hash) { e.macs.Put(m) }

type cacheKey struct{ secret, date, region string }

// keyCache caches signing keys per (secret, date, region); the service is
// always s3. Keying by the secret, not the access key id, makes a rotated
// secret miss the cache instead of verifying with the old one. The cost is
// that an entry keeps a copy of the secret (Go strings cannot be wiped)
// until it is evicted; it is never logged or returned.
type keyCache struct {
	mu sync.Mutex
	m  map[cacheKey]*keyEntry
}

func (c *keyCache) get(secret, date, region string) *keyEntry {
	k := cacheKey{secret, date, region}
	c.mu.Lock()
	e := c.m[k]
	c.mu.Unlock()
	if e != nil {
		return e
	}
	e = &keyEntry{key: deriveSigningKey(secret, date, region)}
	// date and region are substrings of the request; clone them so the
	// cache does not pin whole Authorization headers.
	k = cacheKey{strings.Clone(secret), strings.Clone(date), strings.Clone(region)}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[cacheKey]*keyEntry)
	}
	if len(c.m) >= maxCachedKeys {
		for old := range c.m { // map order is random: a random eviction
			delete(c.m, old)
			break
		}
	}
	c.m[k] = e
	c.mu.Unlock()
	return e
}

// deriveSigningKey computes
// HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), "s3"), "aws4_request").
func deriveSigningKey(secret, date, region string) [32]byte {
	k := make([]byte, 0, 4+len(secret))
	k = append(k, "AWS4"...)
	k = append(k, secret...)
	var sum [32]byte
	key := k
	for _, data := range [...]string{date, region, serviceName, scopeTerminator} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(data))
		m.Sum(sum[:0])
		key = sum[:]
	}
	clear(k)
	return sum
}
