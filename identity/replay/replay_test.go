package replay

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable time source for a Set.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := new(clock)
	c.t.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d)) }

// clocked is a Set used at the instants of a clock.
type clocked struct {
	*Set
	c *clock
}

func (s clocked) Use(id string, exp time.Time) error { return s.UseAt(id, exp, s.c.now()) }
func (s clocked) Len() int                           { return s.Set.Len(s.c.now()) }

func newSet(t testing.TB, max int) (clocked, *clock) {
	t.Helper()
	c := newClock()
	return clocked{New(max), c}, c
}

func TestUse(t *testing.T) {
	s, c := newSet(t, 10)
	exp := c.now().Add(time.Minute)
	if err := s.Use("a", exp); err != nil {
		t.Fatalf("first Use(a) = %v, want nil", err)
	}
	if err := s.Use("a", exp); !errors.Is(err, ErrReplay) {
		t.Fatalf("second Use(a) = %v, want ErrReplay", err)
	}
	if err := s.Use("b", exp); err != nil {
		t.Fatalf("Use(b) = %v, want nil", err)
	}
	// Still live at its expiry instant: the caller accepts it then.
	c.advance(time.Minute)
	if err := s.Use("a", exp.Add(time.Minute)); !errors.Is(err, ErrReplay) {
		t.Fatalf("Use(a) at its expiry = %v, want ErrReplay", err)
	}
	c.advance(time.Nanosecond)
	if err := s.Use("a", c.now().Add(time.Minute)); err != nil {
		t.Fatalf("Use(a) after its expiry = %v, want nil", err)
	}
	if err := s.Use("a", c.now().Add(time.Minute)); !errors.Is(err, ErrReplay) {
		t.Fatalf("Use(a) once more = %v, want ErrReplay", err)
	}
}

func TestUseExpired(t *testing.T) {
	s, c := newSet(t, 10)
	if err := s.Use("a", c.now().Add(-time.Nanosecond)); !errors.Is(err, ErrExpired) {
		t.Fatalf("Use with a past expiry = %v, want ErrExpired", err)
	}
	if got := s.Len(); got != 0 {
		t.Fatalf("Len after a refused Use = %d, want 0", got)
	}
	if err := s.Use("a", c.now()); err != nil {
		t.Fatalf("Use expiring now = %v, want nil", err)
	}
}

func TestFarFuture(t *testing.T) {
	s, c := newSet(t, 10)
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.Use("a", far); err != nil {
		t.Fatalf("Use until year 9999 = %v, want nil", err)
	}
	c.advance(100 * 365 * 24 * time.Hour)
	if err := s.Use("a", far); !errors.Is(err, ErrReplay) {
		t.Fatalf("Use(a) a century later = %v, want ErrReplay", err)
	}
	if err := s.Use("b", time.Time{}); !errors.Is(err, ErrExpired) {
		t.Fatalf("Use with the zero time = %v, want ErrExpired", err)
	}
}

func TestFull(t *testing.T) {
	s, c := newSet(t, 3)
	for i := range 3 {
		if err := s.Use(strconv.Itoa(i), c.now().Add(time.Duration(i+1)*time.Second)); err != nil {
			t.Fatalf("Use(%d) = %v", i, err)
		}
	}
	if err := s.Use("x", c.now().Add(time.Hour)); !errors.Is(err, ErrFull) {
		t.Fatalf("Use on a full set = %v, want ErrFull", err)
	}
	// A replay is still reported as such when the set is full.
	if err := s.Use("0", c.now().Add(time.Hour)); !errors.Is(err, ErrReplay) {
		t.Fatalf("Use(0) on a full set = %v, want ErrReplay", err)
	}
	// Once the first entry expires there is room for one more, and only one.
	c.advance(1500 * time.Millisecond)
	if err := s.Use("x", c.now().Add(time.Hour)); err != nil {
		t.Fatalf("Use after an expiry = %v, want nil", err)
	}
	if err := s.Use("y", c.now().Add(time.Hour)); !errors.Is(err, ErrFull) {
		t.Fatalf("Use on a full set again = %v, want ErrFull", err)
	}
	// The expired entry was forgotten: it can be used again after the others
	// expire.
	c.advance(2 * time.Second)
	if got, want := s.Len(), 1; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	if err := s.Use("0", c.now().Add(time.Hour)); err != nil {
		t.Fatalf("Use(0) after its expiry = %v, want nil", err)
	}
}

// TestEvictionBounded checks that expired entries do not accumulate: the
// map and the heap stay near the number of live entries however many
// identifiers go through the set.
func TestEvictionBounded(t *testing.T) {
	const max = 1000
	s, c := newSet(t, max)
	for i := range 100 * max {
		if err := s.Use(strconv.Itoa(i), c.now().Add(10*time.Millisecond)); err != nil {
			t.Fatalf("Use(%d) = %v", i, err)
		}
		c.advance(time.Millisecond)
	}
	s.mu.Lock()
	live, heaped := len(s.live), len(s.exps)
	s.mu.Unlock()
	if live > 11 || heaped > 11 {
		t.Fatalf("after 100000 short-lived ids: %d in map, %d in heap; want at most 11 (the live ones)", live, heaped)
	}
}

// TestReuseAfterExpiry checks the stale heap record of an identifier reused
// after its expiry does not evict the new record.
func TestReuseAfterExpiry(t *testing.T) {
	s, c := newSet(t, 100)
	if err := s.Use("a", c.now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Fill the heap top with other expired entries so "a" is not evicted
	// before it is reused.
	for i := range 2 * evictBatch {
		if err := s.Use(strconv.Itoa(i), c.now()); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(2 * time.Second)
	if err := s.Use("a", c.now().Add(time.Hour)); err != nil {
		t.Fatalf("Use(a) after expiry = %v, want nil", err)
	}
	for i := range 4 {
		if err := s.Use("filler"+strconv.Itoa(i), c.now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		c.advance(time.Second)
	}
	if err := s.Use("a", c.now().Add(time.Hour)); !errors.Is(err, ErrReplay) {
		t.Fatalf("Use(a) once more = %v, want ErrReplay (the stale record evicted the new one)", err)
	}
}

// TestConcurrentUse races many goroutines on the same identifiers: each is
// accepted exactly once.
func TestConcurrentUse(t *testing.T) {
	s := New(1 << 16)
	exp := time.Now().Add(time.Hour)
	const ids, workers = 200, 8
	var accepted [ids]atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range ids {
				id := (i + w*7) % ids
				switch err := s.Use(fmt.Sprint("id-", id), exp); {
				case err == nil:
					accepted[id].Add(1)
				case errors.Is(err, ErrReplay):
				default:
					t.Errorf("Use = %v", err)
				}
			}
		})
	}
	wg.Wait()
	for i := range accepted {
		if got := accepted[i].Load(); got != 1 {
			t.Fatalf("id-%d accepted %d times, want 1", i, got)
		}
	}
}

func TestNewPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New(0) did not panic")
		}
	}()
	New(0)
}

// BenchmarkUse records fresh identifiers in a set kept at a steady state of
// about 100k live entries (each lives for 100k calls), the size of a busy
// provider's jti set.
func BenchmarkUse(b *testing.B) {
	s, c := newSet(b, 200_000)
	ids := make([]string, 1<<20)
	for i := range ids {
		ids[i] = "jti-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c.advance(time.Microsecond)
		if err := s.Use(ids[i%len(ids)]+strconv.Itoa(i/len(ids)), c.now().Add(100*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUseParallel is BenchmarkUse from all procs at once, on the real
// clock: the cost of the one lock.
func BenchmarkUseParallel(b *testing.B) {
	s := New(1 << 20)
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			now := time.Now()
			if err := s.UseAt("jti-"+strconv.FormatInt(n.Add(1), 10), now.Add(50*time.Millisecond), now); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
