package webeid

import (
	"container/list"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

// Defaults of NewChallenges.
const (
	// DefaultChallengeTTL is the challenge lifetime the Web eID
	// architecture document recommends.
	DefaultChallengeTTL = 5 * time.Minute
	// DefaultMaxChallenges bounds outstanding challenges to about 20 MB.
	DefaultMaxChallenges = 100_000
)

// challengeBytes is the challenge's entropy: the Web eID architecture
// document asks for at least 256 bits, and the Web eID application refuses
// challenges shorter than 44 characters, the base64 of 32 bytes.
const challengeBytes = 32

// Challenges issues Web eID challenge nonces and spends each one once. It
// holds at most max outstanding challenges, forgetting expired ones as it
// goes; it is safe for concurrent use.
//
// It only knows which challenges it issued: tying a challenge to the
// browser session it was issued to is the caller's job (keep it in the
// session, take it from there, never from the request). Otherwise an
// attacker could log a victim's browser in as themselves (a forged login,
// as the Web eID format specification warns).
type Challenges struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	byNonce map[string]*list.Element
	order   *list.List // of *challenge, oldest first: all share one TTL, so also soonest to expire first
}

type challenge struct {
	nonce   string
	expires time.Time
}

// NewChallenges returns a store whose challenges live ttl (zero or less
// means DefaultChallengeTTL), holding at most max outstanding (zero or
// less means DefaultMaxChallenges).
func NewChallenges(ttl time.Duration, max int) *Challenges {
	if ttl <= 0 {
		ttl = DefaultChallengeTTL
	}
	if max <= 0 {
		max = DefaultMaxChallenges
	}
	return &Challenges{ttl: ttl, max: max, now: time.Now, byNonce: map[string]*list.Element{}, order: list.New()}
}

// New issues a challenge: 32 random bytes in standard, padded base64 (44
// characters), as webeid.authenticate() takes it. When max challenges are
// outstanding and none has expired, it refuses with ErrTooManyChallenges
// rather than forget an earlier one, which would fail a login in progress
// without telling anyone; a flood of challenge requests is for rate
// limiting in front of it to stop.
func (c *Challenges) New() (string, error) {
	b := make([]byte, challengeBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webeid: draw a challenge: %v", err)
	}
	nonce := base64.StdEncoding.EncodeToString(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.evict(now)
	if len(c.byNonce) >= c.max {
		return "", fmt.Errorf("webeid: %d login challenges outstanding, the most allowed (each lives %v): %w", len(c.byNonce), c.ttl, ErrTooManyChallenges)
	}
	c.byNonce[nonce] = c.order.PushBack(&challenge{nonce: nonce, expires: now.Add(c.ttl)})
	return nonce, nil
}

// Consume spends nonce: nil if it was issued here, has not expired and was
// not spent before; an ErrNonce error otherwise. Either way it cannot be
// spent again.
func (c *Challenges) Consume(nonce string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	e, ok := c.byNonce[nonce]
	if !ok {
		c.evict(now)
		return fmt.Errorf("webeid: challenge not issued here, already used, or expired and forgotten: %w", ErrNonce)
	}
	ch := c.order.Remove(e).(*challenge)
	delete(c.byNonce, nonce)
	c.evict(now)
	if !now.Before(ch.expires) {
		return fmt.Errorf("webeid: challenge expired %v ago (challenges live %v): %w", now.Sub(ch.expires).Round(time.Second), c.ttl, ErrNonce)
	}
	return nil
}

// Len returns the number of outstanding challenges, expired ones not yet
// forgotten included.
func (c *Challenges) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byNonce)
}

// evict forgets expired challenges; c.mu is held.
func (c *Challenges) evict(now time.Time) {
	for e := c.order.Front(); e != nil; e = c.order.Front() {
		ch := e.Value.(*challenge)
		if now.Before(ch.expires) {
			return
		}
		c.order.Remove(e)
		delete(c.byNonce, ch.nonce)
	}
}
