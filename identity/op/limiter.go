package op

import (
	"sync"
	"time"
)

// Failed logins are limited per account and per source address:
//
//   - an account is locked for lockBase after accountFailures failed
//     attempts in a row, doubling at each further failure up to lockMax
//     (a correct password does not unlock it early: the lock is the point);
//   - a source is blocked for sourceWindow after sourceFailures failures
//     within sourceWindow, whatever the accounts tried.
//
// Both count in memory: a restart forgets them, which costs an attacker a
// restart of the provider, not something they control.
const (
	accountFailures = 5
	lockBase        = time.Minute
	lockMax         = time.Hour
	sourceFailures  = 30
	sourceWindow    = 15 * time.Minute
	limiterMax      = 1_000_000
)

type limiter struct {
	mu       sync.Mutex
	accounts map[string]*failures
	sources  map[string]*failures
	sweepAt  time.Time
}

type failures struct {
	n      int
	first  time.Time
	until  time.Time // locked until
	lastAt time.Time
}

func newLimiter() *limiter {
	return &limiter{accounts: make(map[string]*failures), sources: make(map[string]*failures)}
}

// blocked reports whether an attempt for account from src must be refused
// now, and until when.
func (l *limiter) blocked(account, src string, now time.Time) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.sources[src]; f != nil && now.Before(f.until) {
		return true, f.until
	}
	if f := l.accounts[account]; account != "" && f != nil && now.Before(f.until) {
		return true, f.until
	}
	return false, time.Time{}
}

// fail counts a failed attempt.
func (l *limiter) fail(account, src string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.After(l.sweepAt) || len(l.accounts)+len(l.sources) > limiterMax {
		l.sweep(now)
	}
	s := l.sources[src]
	if s == nil || now.Sub(s.first) > sourceWindow {
		s = &failures{first: now}
		l.sources[src] = s
	}
	s.n++
	s.lastAt = now
	if s.n >= sourceFailures {
		s.until = now.Add(sourceWindow)
	}
	if account == "" {
		return
	}
	a := l.accounts[account]
	if a == nil {
		a = &failures{first: now}
		l.accounts[account] = a
	}
	a.n++
	a.lastAt = now
	if a.n >= accountFailures {
		d := lockBase << min(a.n-accountFailures, 10)
		a.until = now.Add(min(d, lockMax))
	}
}

// succeed forgets an account's failures.
func (l *limiter) succeed(account string) {
	l.mu.Lock()
	delete(l.accounts, account)
	l.mu.Unlock()
}

func (l *limiter) sweep(now time.Time) {
	for k, f := range l.accounts {
		if now.Sub(f.lastAt) > lockMax && now.After(f.until) {
			delete(l.accounts, k)
		}
	}
	for k, f := range l.sources {
		if now.Sub(f.first) > sourceWindow && now.After(f.until) {
			delete(l.sources, k)
		}
	}
	l.sweepAt = now.Add(time.Minute)
}
