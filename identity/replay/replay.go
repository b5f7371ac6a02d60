package replay

import (
	"container/heap"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

var (
	// ErrReplay reports an identifier that was used before and has not
	// expired.
	ErrReplay = errors.New("replay: identifier already used")

	// ErrFull reports a Set holding its maximum of live identifiers. It is a
	// server condition, not the client's fault: callers answer it as "try
	// again later" (503), and size the Set for their peak rate times the
	// identifiers' lifetime.
	ErrFull = errors.New("replay: too many live identifiers")

	// ErrExpired reports an identifier whose expiry has already passed:
	// the caller should have refused it before recording it.
	ErrExpired = errors.New("replay: identifier already expired")
)

// evictBatch is how many expired entries Use evicts when the Set is not
// full: more than the one entry a call may add, so the backlog shrinks, and
// few enough that no single call stalls the others on the lock.
const evictBatch = 32

// A Set is a bounded set of one-time identifiers, each remembered until its
// expiry. It is safe for concurrent use. The zero Set is not usable: call
// New.
type Set struct {
	max int

	mu   sync.Mutex
	live map[digest]int64 // identifier → expiry, Unix nanoseconds
	exps expiries         // the same entries, soonest expiry first; may hold stale ones
}

type digest [sha256.Size]byte

// New returns an empty Set that holds at most max live identifiers. It
// panics if max is not positive.
func New(max int) *Set {
	if max <= 0 {
		panic(fmt.Sprintf("replay: New(%d): the maximum must be positive", max))
	}
	return &Set{max: max, live: make(map[digest]int64)}
}

// Use records id as used until exp, the last instant at which the caller
// would accept it (its expiry plus any clock-skew leeway the caller grants).
// It returns ErrReplay if id is already recorded and its expiry has not
// passed, ErrExpired if exp has already passed, and ErrFull if the Set holds
// its maximum of live identifiers; in those cases nothing is recorded.
//
// Callers scope id themselves (a client identifier, a key thumbprint, a
// target URI) so that unrelated parties cannot collide.
func (s *Set) Use(id string, exp time.Time) error {
	return s.UseAt(id, exp, time.Now())
}

// UseAt is Use at the instant now, for callers with a clock of their own
// (the verifiers' Now). Expiry and eviction follow the now of each call, so
// every caller of a Set must use the same clock.
func (s *Set) UseAt(id string, exp, now time.Time) error {
	return s.use(id, nanos(exp), nanos(now))
}

// nanos is t.UnixNano, saturated outside the years 1678 to 2262 where
// UnixNano is undefined.
func nanos(t time.Time) int64 {
	switch {
	case t.After(maxTime):
		return math.MaxInt64
	case t.Before(minTime):
		return math.MinInt64
	}
	return t.UnixNano()
}

var maxTime, minTime = time.Unix(0, math.MaxInt64), time.Unix(0, math.MinInt64)

func (s *Set) use(id string, e, now int64) error {
	if e < now {
		return ErrExpired
	}
	d := sha256.Sum256([]byte(id))

	s.mu.Lock()
	defer s.mu.Unlock()
	s.evict(now, evictBatch)
	if old, ok := s.live[d]; ok && old >= now {
		return ErrReplay
	}
	if len(s.live) >= s.max {
		s.evict(now, -1)
		if len(s.live) >= s.max {
			return ErrFull
		}
	}
	// A stale entry for d, if any, is replaced here; its heap record no
	// longer matches and is skipped when it surfaces.
	s.live[d] = e
	heap.Push(&s.exps, entry{exp: e, id: d})
	return nil
}

// Len returns the number of identifiers live at now, after evicting the
// expired ones.
func (s *Set) Len(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evict(nanos(now), -1)
	return len(s.live)
}

// evict removes up to n entries expired before now (all of them if n < 0).
// Each recorded entry is pushed once and popped once, so eviction costs
// O(log n) per Use, amortized.
func (s *Set) evict(now int64, n int) {
	for ; n != 0 && len(s.exps) > 0 && s.exps[0].exp < now; n-- {
		x := heap.Pop(&s.exps).(entry)
		if s.live[x.id] == x.exp {
			delete(s.live, x.id)
		}
	}
}

type entry struct {
	exp int64
	id  digest
}

// expiries is a min-heap of entries by expiry (container/heap).
type expiries []entry

func (h expiries) Len() int           { return len(h) }
func (h expiries) Less(i, j int) bool { return h[i].exp < h[j].exp }
func (h expiries) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiries) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *expiries) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
