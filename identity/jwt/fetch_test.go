package jwt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// clock is a settable time for the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// jwksServer serves a key set on 127.0.0.1 and counts the fetches.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int32

	mu           sync.Mutex
	body         []byte
	cacheControl string
	status       int
	delay        chan struct{} // if set, each answer waits for it to close
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	body, cc, status, delay := s.body, s.cacheControl, s.status, s.delay
	s.mu.Unlock()
	if delay != nil {
		<-delay
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.WriteHeader(status)
	w.Write(body)
}

func (s *jwksServer) set(f func(*jwksServer)) {
	s.mu.Lock()
	f(s)
	s.mu.Unlock()
}

func newSource(t *testing.T, c *http.Client) (*KeySetSource, *clock) {
	src := NewKeySetSource(c)
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	src.now = clk.Now
	return src, clk
}

func ecSetJSON(t testing.TB, kids ...string) []byte {
	testKeys(t)
	var keys []map[string]any
	for _, kid := range kids {
		keys = append(keys, jwkMap(t, jose.JSONWebKey{Key: &ecKeys["P-256"].PublicKey, KeyID: kid, Use: "sig"}))
	}
	return setJSON(t, keys...)
}

func TestKeySetSourceCache(t *testing.T) {
	for _, c := range []struct {
		cacheControl string
		ttl          time.Duration
	}{
		{"", DefaultCacheTTL},
		{"max-age=600", 10 * time.Minute},
		{"public, max-age=3600", time.Hour},
		{"max-age=5", MinCacheTTL},
		{"max-age=0", MinCacheTTL},
		{"max-age=864000", MaxCacheTTL},
		{"max-age=99999999999999999999", DefaultCacheTTL}, // unreadable: ignored
		{"no-store", MinCacheTTL},
		{"no-cache, max-age=3600", MinCacheTTL},
	} {
		t.Run("cache-control="+c.cacheControl, func(t *testing.T) {
			srv := newJWKSServer(t, ecSetJSON(t, "a"))
			srv.cacheControl = c.cacheControl
			src, clk := newSource(t, nil)
			get := func() {
				t.Helper()
				set, err := src.Get(t.Context(), srv.URL)
				if err != nil || len(set.Keys) != 1 {
					t.Fatalf("Get = %v, %v", set, err)
				}
			}
			get()
			get()
			if n := srv.hits.Load(); n != 1 {
				t.Fatalf("%d fetches for two Gets, want 1", n)
			}
			clk.Add(c.ttl - time.Second)
			get()
			if n := srv.hits.Load(); n != 1 {
				t.Fatalf("%d fetches a second before the %v TTL, want 1", n, c.ttl)
			}
			clk.Add(2 * time.Second)
			get()
			if n := srv.hits.Load(); n != 2 {
				t.Fatalf("%d fetches a second after the %v TTL, want 2", n, c.ttl)
			}
		})
	}
}

// TestKeySetSourceUnknownKid: a kid the cached set lacks causes one
// refetch; more within RefetchInterval cause none.
func TestKeySetSourceUnknownKid(t *testing.T) {
	srv := newJWKSServer(t, ecSetJSON(t, "old"))
	src, clk := newSource(t, nil)
	if _, err := src.GetForKey(t.Context(), srv.URL, "old"); err != nil {
		t.Fatal(err)
	}
	// The client rotates its key.
	srv.set(func(s *jwksServer) { s.body = ecSetJSON(t, "new") })
	clk.Add(RefetchInterval)
	set, err := src.GetForKey(t.Context(), srv.URL, "new")
	if err != nil || len(set.Key("new")) != 1 {
		t.Fatalf("GetForKey(new kid) = %v, %v; want the refetched set", set, err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	// An attacker's made-up kids: one refetch, then none for a minute.
	clk.Add(time.Second)
	for i := range 5 {
		if _, err := src.GetForKey(t.Context(), srv.URL, fmt.Sprintf("bogus-%d", i)); !errors.Is(err, ErrNoKey) {
			t.Fatalf("GetForKey(unknown kid) = %v, want ErrNoKey", err)
		}
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches after unknown kids within %v of the last fetch, want still 2", n, RefetchInterval)
	}
	clk.Add(RefetchInterval)
	if _, err := src.GetForKey(t.Context(), srv.URL, "bogus"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("GetForKey(unknown kid) = %v, want ErrNoKey", err)
	}
	if n := srv.hits.Load(); n != 3 {
		t.Fatalf("%d fetches after an unknown kid %v after the last fetch, want 3", n, RefetchInterval)
	}
	// Get (no kid) keeps serving the fresh set.
	if set, err := src.Get(t.Context(), srv.URL); err != nil || len(set.Key("new")) != 1 {
		t.Fatalf("Get = %v, %v", set, err)
	}
}

// TestKeySetSourceFailure: a failed fetch is not retried for
// RefetchInterval; an expired set is not served.
func TestKeySetSourceFailure(t *testing.T) {
	srv := newJWKSServer(t, ecSetJSON(t, "a"))
	src, clk := newSource(t, nil)
	if _, err := src.Get(t.Context(), srv.URL); err != nil {
		t.Fatal(err)
	}
	srv.set(func(s *jwksServer) { s.status = http.StatusServiceUnavailable })
	clk.Add(DefaultCacheTTL + time.Second)
	for range 3 {
		if _, err := src.Get(t.Context(), srv.URL); !errors.Is(err, ErrFetch) {
			t.Fatalf("Get with the server failing = %v, want ErrFetch", err)
		}
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (one failed, not retried)", n)
	}
	srv.set(func(s *jwksServer) { s.status = http.StatusOK })
	clk.Add(RefetchInterval)
	if _, err := src.Get(t.Context(), srv.URL); err != nil {
		t.Fatalf("Get once the server is back = %v", err)
	}
}

// TestKeySetSourceConcurrent: many callers, one fetch.
func TestKeySetSourceConcurrent(t *testing.T) {
	srv := newJWKSServer(t, ecSetJSON(t, "a"))
	release := make(chan struct{})
	srv.delay = release
	src, _ := newSource(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := src.Get(t.Context(), srv.URL)
			errs <- err
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.hits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for 20 concurrent Gets, want 1", n)
	}
}

// TestKeySetSourceCallerCancels: a caller that gives up does not spoil
// the fetch for the others.
func TestKeySetSourceCallerCancels(t *testing.T) {
	srv := newJWKSServer(t, ecSetJSON(t, "a"))
	release := make(chan struct{})
	srv.delay = release
	src, _ := newSource(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, err := src.Get(ctx, srv.URL)
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for srv.hits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with its context cancelled = %v, want context.Canceled", err)
	}
	close(release)
	if _, err := src.Get(t.Context(), srv.URL); err != nil {
		t.Fatalf("Get after another caller cancelled = %v", err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

func TestKeySetSourceRefusals(t *testing.T) {
	testKeys(t)
	priv := setJSON(t, jwkMap(t, jose.JSONWebKey{Key: ecKeys["P-256"], KeyID: "a"}))
	big := append(ecSetJSON(t, "a"), strings.Repeat(" ", MaxKeySetSize)...)
	for name, c := range map[string]struct {
		body   []byte
		chunk  bool // no Content-Length
		status int
		want   []error
	}{
		"private key":           {priv, false, 200, []error{ErrFetch, ErrBadKeySet}},
		"oversized":             {big, false, 200, []error{ErrFetch}},
		"oversized, no length":  {big, true, 200, []error{ErrFetch}},
		"not found":             {ecSetJSON(t, "a"), false, 404, []error{ErrFetch}},
		"HTML":                  {[]byte("<html>"), false, 200, []error{ErrFetch, ErrBadKeySet}},
		"exactly MaxKeySetSize": {append(ecSetJSON(t, "a"), strings.Repeat(" ", MaxKeySetSize-len(ecSetJSON(t, "a")))...), true, 200, nil},
	} {
		t.Run("case="+name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				if c.chunk {
					w.(http.Flusher).Flush() // chunked: no Content-Length
				}
				w.Write(c.body)
			}))
			defer srv.Close()
			src, _ := newSource(t, nil)
			set, err := src.Get(t.Context(), srv.URL)
			for _, w := range c.want {
				if !errors.Is(err, w) || set != nil {
					t.Fatalf("Get = %v, %v; want %v", set, err, c.want)
				}
			}
			if c.want == nil && err != nil {
				t.Fatalf("Get = %v", err)
			}
		})
	}
}

func TestCheckKeySetURL(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"https://rp.example.fr/jwks.json", true},
		{"https://rp.example.fr:8443/.well-known/jwks?v=2", true},
		{"http://127.0.0.1:8080/jwks", true},
		{"http://127.1.2.3/jwks", true},
		{"http://[::1]:9000/jwks", true},
		{"http://localhost/jwks", true},
		{"http://rp.example.fr/jwks.json", false},
		{"http://10.0.0.1/jwks", false},
		{"http://127.0.0.1.nip.io/jwks", false},
		{"ftp://rp.example.fr/jwks", false},
		{"file:///etc/passwd", false},
		{"https://user:pw@rp.example.fr/jwks", false},
		{"https://rp.example.fr/jwks#frag", false},
		{"/jwks", false},
		{"https:rp.example.fr", false},
		{"", false},
		{"https://rp.example.fr/%zz", false},
	} {
		err := CheckKeySetURL(c.url)
		if c.ok != (err == nil) || err != nil && !errors.Is(err, ErrFetch) {
			t.Errorf("CheckKeySetURL(%q) = %v, want ok=%v", c.url, err, c.ok)
		}
	}
	// Get refuses such a URL before any network access.
	src, _ := newSource(t, nil)
	if _, err := src.Get(t.Context(), "http://rp.example.fr/jwks.json"); !errors.Is(err, ErrFetch) {
		t.Fatalf("Get(http, not loopback) = %v, want ErrFetch", err)
	}
}

// TestKeySetSourceTLS: an https jwks_uri, with the test server's client
// (its transport trusts the test certificate).
func TestKeySetSourceTLS(t *testing.T) {
	body := ecSetJSON(t, "a")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	src, _ := newSource(t, srv.Client())
	if set, err := src.Get(t.Context(), srv.URL); err != nil || len(set.Keys) != 1 {
		t.Fatalf("Get(https) = %v, %v", set, err)
	}
}

// TestKeySetSourceRedirect: a redirect is followed only to a URL Get
// would fetch itself.
func TestKeySetSourceRedirect(t *testing.T) {
	target := newJWKSServer(t, ecSetJSON(t, "a"))
	for _, c := range []struct {
		to string
		ok bool
	}{
		{target.URL + "/jwks", true},
		{"http://rp.example.fr/jwks", false},
	} {
		srv := httptest.NewServer(http.RedirectHandler(c.to, http.StatusFound))
		src, _ := newSource(t, nil)
		_, err := src.Get(t.Context(), srv.URL)
		srv.Close()
		if c.ok != (err == nil) {
			t.Errorf("Get(redirect to %s) = %v, want ok=%v", c.to, err, c.ok)
		}
	}
	// A redirect loop ends.
	var loop *httptest.Server
	loop = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, loop.URL+r.URL.Path+"x", http.StatusFound)
	}))
	defer loop.Close()
	src, _ := newSource(t, nil)
	if _, err := src.Get(t.Context(), loop.URL+"/"); !errors.Is(err, ErrFetch) {
		t.Fatalf("Get(redirect loop) = %v, want ErrFetch", err)
	}
}

// TestKeySetSourceBounded: the cache forgets the least recently used URL
// past MaxKeySetSources.
func TestKeySetSourceBounded(t *testing.T) {
	srv := newJWKSServer(t, ecSetJSON(t, "a"))
	src, clk := newSource(t, nil)
	for i := range MaxKeySetSources + 5 {
		src.mu.Lock()
		src.entry(fmt.Sprintf("%s/%d", srv.URL, i), clk.Now())
		src.mu.Unlock()
		clk.Add(time.Millisecond)
	}
	src.mu.Lock()
	n := len(src.entries)
	_, first := src.entries[srv.URL+"/0"]
	_, last := src.entries[fmt.Sprintf("%s/%d", srv.URL, MaxKeySetSources+4)]
	src.mu.Unlock()
	if n != MaxKeySetSources || first || !last {
		t.Fatalf("%d entries (first kept: %v, last kept: %v), want %d, the oldest forgotten", n, first, last, MaxKeySetSources)
	}
}
