package op

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// ttlMap holds short-lived protocol state (pushed requests, interactions,
// authorization codes, sessions) in memory, each entry with its expiry. It
// is bounded: when full, it refuses new entries rather than grow (the
// caller answers "temporarily unavailable"), after evicting what expired.
//
// Memory is the right place for state that lives seconds to hours and whose
// loss costs a resident one more login; what must survive a restart (grants
// and their refresh tokens) is in the register.
type ttlMap[V any] struct {
	mu      sync.Mutex
	m       map[string]ttlEntry[V]
	max     int
	sweepAt time.Time
}

type ttlEntry[V any] struct {
	v   V
	exp time.Time
}

func newTTLMap[V any](max int) *ttlMap[V] {
	return &ttlMap[V]{m: make(map[string]ttlEntry[V]), max: max}
}

// put stores v under k until exp; false when the map is full.
func (t *ttlMap[V]) put(k string, v V, exp, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= t.max || now.After(t.sweepAt) {
		t.sweepLocked(now)
		if len(t.m) >= t.max {
			return false
		}
	}
	t.m[k] = ttlEntry[V]{v, exp}
	return true
}

func (t *ttlMap[V]) sweepLocked(now time.Time) {
	for k, e := range t.m {
		if now.After(e.exp) {
			delete(t.m, k)
		}
	}
	t.sweepAt = now.Add(time.Minute)
}

// get returns the live entry of k.
func (t *ttlMap[V]) get(k string, now time.Time) (V, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[k]
	if !ok || now.After(e.exp) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// take removes and returns the entry of k, live or not: a one-time value.
func (t *ttlMap[V]) take(k string) (V, time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[k]
	delete(t.m, k)
	return e.v, e.exp, ok
}

// update changes the live entry of k under the lock.
func (t *ttlMap[V]) update(k string, now time.Time, fn func(*V, *time.Time) bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[k]
	if !ok || now.After(e.exp) {
		return false
	}
	if !fn(&e.v, &e.exp) {
		return false
	}
	t.m[k] = e
	return true
}

func (t *ttlMap[V]) delete(k string) {
	t.mu.Lock()
	delete(t.m, k)
	t.mu.Unlock()
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
