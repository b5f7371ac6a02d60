package dpop

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/coffre-cloud/coffre/identity/internal/jws"
)

// DefaultNonceLifetime is the lifetime of a nonce when NewNonces is given
// none.
const DefaultNonceLifetime = 5 * time.Minute

// MinNonceKeySize is the smallest key NewNoncesWithKey accepts.
const MinNonceKeySize = 32

// nonceLabel separates these MACs from any other use of a shared key.
const nonceLabel = "coffre dpop nonce v1\x00"

// nonceSize is the decoded size of a nonce: issue time, then its MAC.
const nonceSize = 8 + sha256.Size

// Nonces issues and checks the server nonces of RFC 9449 §8 (authorization
// server) and §9 (resource server) without storing them: a nonce is
// base64url(t || HMAC-SHA256(key, label || t)), t its issue time in Unix
// seconds, big-endian. It is valid while younger than its lifetime, so a
// client captured once can pre-compute proofs for at most that long.
//
// Current hands out the same nonce for a quarter of the lifetime, so it
// costs one MAC per period, and a nonce a client receives stays valid for
// at least three quarters of the lifetime. Any node holding the same key
// accepts it. Give the authorization server and each resource server keys
// of their own: RFC 9449 §9 wants a nonce accepted only where it was
// issued.
//
// Nonces is safe for concurrent use.
type Nonces struct {
	key      []byte
	lifetime time.Duration
	period   int64 // seconds during which Current returns the same nonce
	current  atomic.Pointer[issued]
}

type issued struct {
	t     int64
	nonce string
}

// NewNonces returns Nonces under a random key held in memory, for a single
// node: its nonces die with the process, and clients then get a new one
// through a use_dpop_nonce error. lifetime ≤ 0 means DefaultNonceLifetime.
func NewNonces(lifetime time.Duration) *Nonces {
	key := make([]byte, MinNonceKeySize)
	rand.Read(key) // never fails (crypto/rand, Go 1.24+)
	return newNonces(key, lifetime)
}

// NewNoncesWithKey returns Nonces under key, shared by the nodes of a site
// so that a nonce issued by one is accepted by the others. The key must be
// at least MinNonceKeySize random bytes, kept like any signing secret.
// lifetime ≤ 0 means DefaultNonceLifetime.
func NewNoncesWithKey(key []byte, lifetime time.Duration) (*Nonces, error) {
	if len(key) < MinNonceKeySize {
		return nil, fmt.Errorf("dpop: a nonce key of %d bytes is too short; use %d random bytes or more", len(key), MinNonceKeySize)
	}
	return newNonces(append([]byte(nil), key...), lifetime), nil
}

func newNonces(key []byte, lifetime time.Duration) *Nonces {
	if lifetime <= 0 {
		lifetime = DefaultNonceLifetime
	}
	return &Nonces{key: key, lifetime: lifetime, period: max(int64(lifetime/4/time.Second), 1)}
}

// Lifetime returns how long a nonce stays valid after it is issued.
func (n *Nonces) Lifetime() time.Duration { return n.lifetime }

// Current returns the nonce to send in a DPoP-Nonce header now.
func (n *Nonces) Current() string { return n.currentAt(time.Now()) }

// Valid reports whether nonce was issued under n's key less than its
// lifetime ago (or at most Skew in the future, for the clocks of other
// nodes).
func (n *Nonces) Valid(nonce string) bool { return n.validAt(nonce, time.Now()) }

func (n *Nonces) currentAt(now time.Time) string {
	s := now.Unix()
	t := s - s%n.period
	if c := n.current.Load(); c != nil && c.t == t {
		return c.nonce
	}
	var b [nonceSize]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t))
	copy(b[8:], n.mac(b[:8]))
	c := &issued{t: t, nonce: jws.Encoding.EncodeToString(b[:])}
	n.current.Store(c)
	return c.nonce
}

func (n *Nonces) validAt(nonce string, now time.Time) bool {
	if len(nonce) != jws.Encoding.EncodedLen(nonceSize) {
		return false
	}
	b, err := jws.Encoding.DecodeString(nonce)
	if err != nil || len(b) != nonceSize {
		return false
	}
	if !hmac.Equal(b[8:], n.mac(b[:8])) {
		return false
	}
	t := int64(binary.BigEndian.Uint64(b[:8]))
	if t < 0 || t > jws.MaxNumericDate {
		return false
	}
	age := now.Sub(time.Unix(t, 0))
	return age < n.lifetime && age >= -Skew
}

func (n *Nonces) mac(t []byte) []byte {
	h := hmac.New(sha256.New, n.key)
	h.Write([]byte(nonceLabel))
	h.Write(t)
	return h.Sum(nil)
}
