package jwt

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The cache rules of KeySetSource.
const (
	// MinCacheTTL and MaxCacheTTL bound how long a fetched key set is used
	// before it is fetched again, whatever its Cache-Control max-age says:
	// at least a minute, so that a client cannot make the provider fetch
	// on every request; at most a day, so that a replaced key goes away.
	MinCacheTTL = time.Minute
	MaxCacheTTL = 24 * time.Hour
	// DefaultCacheTTL is used when the answer has no max-age.
	DefaultCacheTTL = 10 * time.Minute
	// RefetchInterval is the least time between two fetches of one URL
	// that are not due to expiry: for a kid the cached set does not hold
	// (a client that just rotated its key), or after a failed fetch.
	RefetchInterval = time.Minute
	// FetchTimeout bounds one fetch, redirects included.
	FetchTimeout = 10 * time.Second
	// MaxKeySetSources is the most URLs a KeySetSource remembers; past it,
	// the least recently used is forgotten.
	MaxKeySetSources = 10_000
	maxRedirects     = 3
)

// KeySetSource fetches and caches the key sets of clients that registered
// a jwks_uri (their private_key_jwt and request object signing keys, and
// the keys to encrypt their tokens to). A KeySetSource serves every client
// of the provider, is safe for concurrent use, and makes at most one fetch
// at a time per URL: concurrent callers wait for the same answer.
//
// A fetched set is used until its Cache-Control max-age, bounded to
// [MinCacheTTL, MaxCacheTTL] (DefaultCacheTTL without max-age; no-store
// and no-cache count as MinCacheTTL). An expired set is never used: if the
// refetch fails, callers get the error, and for RefetchInterval the same
// error without a new attempt, so a client's failing server is not
// hammered. GetForKey refetches a set that is still fresh when it lacks
// the kid asked for, at most once per RefetchInterval.
//
// Only https URLs are fetched, and plain http on a loopback address for
// tests and development (CheckKeySetURL); redirects follow the same rule.
// Bodies over MaxKeySetSize are refused, and every set goes through
// ParseKeySet.
type KeySetSource struct {
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*keySetEntry
}

type keySetEntry struct {
	set      *jose.JSONWebKeySet // the last set fetched, nil if none
	expires  time.Time           // when set stops being used
	tried    time.Time           // start of the last fetch
	err      error               // its error, nil if it succeeded
	inflight chan struct{}       // closed when the fetch in progress ends
	used     time.Time
}

// NewKeySetSource returns a KeySetSource that fetches with client (nil: a
// client with FetchTimeout). The client is copied, so that its redirect
// policy can add the https rule; its Transport is shared.
func NewKeySetSource(client *http.Client) *KeySetSource {
	var c http.Client
	if client != nil {
		c = *client
	}
	if c.Timeout == 0 || c.Timeout > FetchTimeout {
		c.Timeout = FetchTimeout
	}
	next := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("%w: more than %d redirects", ErrFetch, maxRedirects)
		}
		if err := CheckKeySetURL(req.URL.String()); err != nil {
			return fmt.Errorf("redirect: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &KeySetSource{client: &c, now: time.Now, entries: make(map[string]*keySetEntry)}
}

// CheckKeySetURL returns an error (ErrFetch) unless uri is one that
// KeySetSource fetches: an absolute https URL without user information or
// fragment, or http on a loopback address (127.0.0.0/8, ::1, localhost).
// Client registration calls it to refuse a jwks_uri early.
func CheckKeySetURL(uri string) error {
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("%w: jwks_uri %q: %v", ErrFetch, uri, err)
	}
	switch {
	case u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%w: jwks_uri %q is not an absolute URL", ErrFetch, uri)
	case u.User != nil:
		return fmt.Errorf("%w: jwks_uri %q carries user information", ErrFetch, uri)
	case u.Fragment != "":
		return fmt.Errorf("%w: jwks_uri %q has a fragment", ErrFetch, uri)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%w: jwks_uri %q: https is required (plain http only on a loopback address)", ErrFetch, uri)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Get returns the key set at uri, from the cache or fetched. The set is
// shared: callers must not modify it.
func (s *KeySetSource) Get(ctx context.Context, uri string) (*jose.JSONWebKeySet, error) {
	return s.get(ctx, uri, "", false)
}

// GetForKey is Get for a token whose header names kid: when the cached set
// is fresh but has no key kid, the set is fetched again (at most once per
// RefetchInterval per URL) in case the client rotated its keys. A set that
// still lacks kid is ErrNoKey.
func (s *KeySetSource) GetForKey(ctx context.Context, uri, kid string) (*jose.JSONWebKeySet, error) {
	return s.get(ctx, uri, kid, true)
}

func (s *KeySetSource) get(ctx context.Context, uri, kid string, wantKid bool) (*jose.JSONWebKeySet, error) {
	if err := CheckKeySetURL(uri); err != nil {
		return nil, err
	}
	for {
		s.mu.Lock()
		now := s.now()
		e := s.entry(uri, now)
		fresh := e.set != nil && now.Before(e.expires)
		if fresh && (!wantKid || len(e.set.Key(kid)) > 0) {
			set := e.set
			s.mu.Unlock()
			return set, nil
		}
		if ch := e.inflight; ch != nil {
			s.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %s: %w", ErrFetch, uri, context.Cause(ctx))
			}
		}
		if !e.tried.IsZero() && now.Sub(e.tried) < RefetchInterval {
			err := e.err
			s.mu.Unlock()
			switch {
			case fresh: // wantKid, and the last fetch did not bring it
				return nil, fmt.Errorf("%w: jwks_uri %s has no key %q (fetched again less than %v ago; last error: %v)", ErrNoKey, uri, kid, RefetchInterval, err)
			case err != nil:
				return nil, fmt.Errorf("%w (not retried for %v)", err, RefetchInterval)
			}
			// An expired set fetched less than RefetchInterval ago: the
			// clock went backwards (MinCacheTTL >= RefetchInterval).
			return nil, fmt.Errorf("%w: %s: key set expired", ErrFetch, uri)
		}
		// This caller fetches, in a goroutine of its own so that the
		// fetch outlives the caller's context (other callers wait on it)
		// and is bounded by FetchTimeout alone.
		ch := make(chan struct{})
		e.inflight, e.tried = ch, now
		s.mu.Unlock()
		go s.fetch(context.WithoutCancel(ctx), uri, e, ch)
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %s: %w", ErrFetch, uri, context.Cause(ctx))
		}
	}
}

// entry returns the cache entry of uri, making it (and forgetting the
// least recently used entry when full) if needed. s.mu is held.
func (s *KeySetSource) entry(uri string, now time.Time) *keySetEntry {
	e := s.entries[uri]
	if e == nil {
		if len(s.entries) >= MaxKeySetSources {
			var oldest string
			for u, o := range s.entries {
				if o.inflight == nil && (oldest == "" || o.used.Before(s.entries[oldest].used)) {
					oldest = u
				}
			}
			delete(s.entries, oldest)
		}
		e = &keySetEntry{}
		s.entries[uri] = e
	}
	e.used = now
	return e
}

func (s *KeySetSource) fetch(ctx context.Context, uri string, e *keySetEntry, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	set, ttl, err := s.download(ctx, uri)
	s.mu.Lock()
	if err != nil {
		e.err = err
	} else {
		e.set, e.expires, e.err = set, s.now().Add(ttl), nil
	}
	e.inflight = nil
	s.mu.Unlock()
	close(done)
}

func (s *KeySetSource) download(ctx context.Context, uri string) (*jose.JSONWebKeySet, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", ErrFetch, uri, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", ErrFetch, uri, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%w: %s answered %s", ErrFetch, uri, resp.Status)
	}
	if resp.ContentLength > MaxKeySetSize {
		return nil, 0, fmt.Errorf("%w: %s: a key set of %d bytes, at most %d", ErrFetch, uri, resp.ContentLength, MaxKeySetSize)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxKeySetSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", ErrFetch, uri, err)
	}
	if len(body) > MaxKeySetSize {
		return nil, 0, fmt.Errorf("%w: %s: a key set over %d bytes", ErrFetch, uri, MaxKeySetSize)
	}
	set, err := ParseKeySet(body)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", ErrFetch, uri, err)
	}
	return set, cacheTTL(resp.Header), nil
}

// cacheTTL reads Cache-Control's max-age (RFC 9111 §5.2.2.1), bounded to
// [MinCacheTTL, MaxCacheTTL].
func cacheTTL(h http.Header) time.Duration {
	ttl := DefaultCacheTTL
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return MinCacheTTL
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
				if err != nil || n < 0 {
					continue
				}
				if n > int64(MaxCacheTTL/time.Second) {
					n = int64(MaxCacheTTL / time.Second)
				}
				ttl = time.Duration(n) * time.Second
			}
		}
	}
	return min(max(ttl, MinCacheTTL), MaxCacheTTL)
}
