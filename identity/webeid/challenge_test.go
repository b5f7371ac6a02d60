package webeid_test

import (
	"encoding/base64"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/webeid"
)

// clock is a settable clock for Challenges.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newChallenges(ttl time.Duration, max int) (*webeid.Challenges, *clock) {
	ch := webeid.NewChallenges(ttl, max)
	c := &clock{t: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
	webeid.SetChallengeClock(ch, c.now)
	return ch, c
}

func TestChallengeShape(t *testing.T) {
	ch, _ := newChallenges(time.Minute, 10)
	a, err := ch.New()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ch.New()
	raw, err := base64.StdEncoding.Strict().DecodeString(a)
	if err != nil || len(raw) != 32 || len(a) != 44 {
		t.Fatalf("challenge %q: %d bytes (%v), %d characters; want standard base64 of 32 bytes, 44 characters", a, len(raw), err, len(a))
	}
	if a == b {
		t.Fatalf("two challenges are equal: %q", a)
	}
}

func TestChallengeSingleUse(t *testing.T) {
	ch, _ := newChallenges(time.Minute, 10)
	n, _ := ch.New()
	if err := ch.Consume(n); err != nil {
		t.Fatalf("first Consume = %v, want success", err)
	}
	if err := ch.Consume(n); !errors.Is(err, webeid.ErrNonce) {
		t.Fatalf("second Consume (replay) = %v, want ErrNonce", err)
	}
	if err := ch.Consume("never-issued"); !errors.Is(err, webeid.ErrNonce) {
		t.Fatalf("Consume(never issued) = %v, want ErrNonce", err)
	}
	if err := webeid.NewChallenges(0, 0).Consume(n); !errors.Is(err, webeid.ErrNonce) {
		t.Fatalf("Consume on another store = %v, want ErrNonce", err)
	}
}

func TestChallengeExpiry(t *testing.T) {
	ch, clk := newChallenges(time.Minute, 10)
	old, _ := ch.New()
	clk.advance(59 * time.Second)
	fresh, _ := ch.New()
	clk.advance(time.Second) // old is exactly a minute old: expired
	if err := ch.Consume(old); !errors.Is(err, webeid.ErrNonce) {
		t.Fatalf("Consume(expired) = %v, want ErrNonce", err)
	}
	if err := ch.Consume(old); !errors.Is(err, webeid.ErrNonce) {
		t.Fatalf("Consume(expired, again) = %v, want ErrNonce", err)
	}
	if err := ch.Consume(fresh); err != nil {
		t.Fatalf("Consume(59 s old) = %v, want success", err)
	}
}

func TestChallengeBound(t *testing.T) {
	ch, clk := newChallenges(time.Minute, 3)
	var issued []string
	for range 3 {
		n, err := ch.New()
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, n)
	}
	if _, err := ch.New(); !errors.Is(err, webeid.ErrTooManyChallenges) {
		t.Fatalf("New beyond the bound = %v, want ErrTooManyChallenges", err)
	}
	// Spending one makes room; the others are not forgotten.
	if err := ch.Consume(issued[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.New(); err != nil {
		t.Fatalf("New after a Consume = %v", err)
	}
	if err := ch.Consume(issued[1]); err != nil {
		t.Fatalf("an outstanding challenge was forgotten: %v", err)
	}
	// Expired ones make room too, and are forgotten.
	clk.advance(time.Minute)
	for range 3 {
		if _, err := ch.New(); err != nil {
			t.Fatalf("New once the others expired = %v", err)
		}
	}
	if got := ch.Len(); got != 3 {
		t.Fatalf("Len = %d, want 3 (expired challenges forgotten)", got)
	}
}

func TestChallengeConcurrent(t *testing.T) {
	ch := webeid.NewChallenges(time.Minute, 1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	spent := 0
	nonces := make(chan string, 800)
	for range 8 {
		wg.Go(func() {
			for range 100 {
				n, err := ch.New()
				if err != nil {
					t.Error(err)
					return
				}
				nonces <- n
			}
		})
	}
	wg.Wait()
	close(nonces)
	var all []string
	for n := range nonces {
		all = append(all, n)
	}
	// Each challenge spent by two goroutines at once: exactly one wins.
	for range 2 {
		wg.Go(func() {
			for _, n := range all {
				if ch.Consume(n) == nil {
					mu.Lock()
					spent++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if spent != len(all) {
		t.Fatalf("%d challenges spent successfully, want exactly %d (each once)", spent, len(all))
	}
}
