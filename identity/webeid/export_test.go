package webeid

import "time"

// SetChallengeClock sets the clock of c, for tests of expiry.
func SetChallengeClock(c *Challenges, now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}
