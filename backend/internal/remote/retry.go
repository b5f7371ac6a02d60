package remote

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff bounds the retries of a request and the waits between them.
type Backoff struct {
	Retries   int           // after the first attempt
	Base, Max time.Duration // the wait before the first retry, and the bound of every wait
}

// Wait is the wait before retry n (0-based): Base·2ⁿ bounded by Max, of
// which the upper half is random, so that clients that failed together do
// not retry together.
func (b Backoff) Wait(n int) time.Duration {
	d := b.Max
	if n < 30 && b.Base<<n < b.Max {
		d = b.Base << n
	}
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// Sleep waits for d, or until ctx ends; it reports whether d went by.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
