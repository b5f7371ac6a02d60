package swift_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ncw "github.com/ncw/swift/v2"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/swift"
	"github.com/coffre-cloud/coffre/internal/testenv"
)

// raw is a connection to the binary's Swift as the test user, to look at a
// container the way an operator would, under the store's feet.
func raw(t *testing.T) *ncw.Connection {
	t.Helper()
	sw := testenv.Swift(t)
	c := &ncw.Connection{AuthUrl: sw.AuthURL, UserName: sw.User, ApiKey: sw.Key}
	if err := c.Authenticate(t.Context()); err != nil {
		t.Fatalf("raw connection: %v", err)
	}
	return c
}

func random(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func put(t testing.TB, s backend.Store, name string, b []byte) {
	t.Helper()
	if err := s.Put(t.Context(), name, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatalf("Put(%q, %d bytes) = %v", name, len(b), err)
	}
}

func get(t testing.TB, s backend.Store, name string, off, length int64) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), name, off, length)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d) = %v", name, off, length, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading Get(%q, %d, %d) = %v", name, off, length, err)
	}
	return b
}

func list(t testing.TB, s backend.Store, prefix string) []string {
	t.Helper()
	var names []string
	if err := s.List(t.Context(), prefix, func(i backend.Info) error {
		names = append(names, i.Name)
		return nil
	}); err != nil {
		t.Fatalf("List(%q) = %v", prefix, err)
	}
	return names
}

// rawNames lists the container with the raw connection, segments included.
func rawNames(t *testing.T, c *ncw.Connection, container, prefix string) []string {
	t.Helper()
	names, err := c.ObjectNamesAll(t.Context(), container, &ncw.ObjectsOpts{Prefix: prefix})
	if err != nil {
		t.Fatalf("raw listing of %s: %v", container, err)
	}
	return names
}

func TestOpenCreatesContainer(t *testing.T) {
	c := raw(t)
	cfg := config(t)
	if _, _, err := c.Container(t.Context(), cfg.Container); !errors.Is(err, ncw.ContainerNotFound) {
		t.Fatalf("container %s before Open: %v, want ContainerNotFound", cfg.Container, err)
	}
	s := open(t, cfg)
	if _, _, err := c.Container(t.Context(), cfg.Container); err != nil {
		t.Fatalf("container %s after Open: %v", cfg.Container, err)
	}
	put(t, s, "a", []byte("a"))
	// Opening an existing container keeps what it holds.
	if got := get(t, open(t, cfg), "a", 0, -1); string(got) != "a" {
		t.Fatalf("Get through a second Open = %q, want %q", got, "a")
	}
}

func TestOpenErrors(t *testing.T) {
	sw := testenv.Swift(t)
	fast := func(c *swift.Config) { c.Retries, c.RetryBase = 2, 10*time.Millisecond }
	closed := fmt.Sprintf("http://127.0.0.1:%d/auth/v1.0", testenv.FreePort(t))
	tests := []struct {
		name     string
		config   func(*swift.Config)
		auth     bool     // the error wraps swift.ErrAuth
		contains []string // the message says these
	}{
		{"key=wrong", func(c *swift.Config) { c.Key = "wrong" }, true, []string{"test:tester", "refused", "check the user, key"}},
		{"user=unknown", func(c *swift.Config) { c.User = "test:nobody" }, true, []string{"test:nobody", "refused"}},
		{"server=down", func(c *swift.Config) { c.AuthURL = closed }, false, []string{"connection refused", closed}},
		{"version=unknown", func(c *swift.Config) { c.AuthURL = "http://" + sw.ProxyAddr + "/auth" }, false, []string{"auth_version"}},
		{"container=invalid", func(c *swift.Config) { c.Container = "a/b" }, false, []string{"container", "without '/'"}},
		{"key=empty", func(c *swift.Config) { c.Key = "" }, false, []string{"user and key are required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t)
			fast(&cfg)
			tt.config(&cfg)
			start := time.Now()
			s, err := swift.Open(t.Context(), cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open = nil, want an error")
			}
			t.Logf("Open = %v", err)
			if time.Since(start) > 10*time.Second {
				t.Errorf("Open took %v to fail", time.Since(start))
			}
			if got := errors.Is(err, swift.ErrAuth); got != tt.auth {
				t.Errorf("Open = %v; errors.Is(err, ErrAuth) = %v, want %v", err, got, tt.auth)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Open = %v; want the message to say %q", err, s)
				}
			}
		})
	}
}

// TestLargeBlobs writes 20 MiB blobs each way: streamed in one object (the
// default configuration: above the 8 MiB buffer), and as static large
// objects of 4 MiB segments, of known and unknown size. Ranges cross the
// segments' boundaries.
func TestLargeBlobs(t *testing.T) {
	const size = 20<<20 + 3
	const seg = 4 << 20
	data := random(t, size)
	c := raw(t)
	tests := []struct {
		name    string
		segSize int64
		size    int64 // given to Put
		slo     bool
	}{
		{"path=streamed", 0, size, false},
		{"path=segmented/size=known", seg, size, true},
		{"path=segmented/size=unknown", seg, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t)
			cfg.SegmentSize = tt.segSize
			s := open(t, cfg)
			name := "obj/20/big"
			// A plain reader: no Len, Seek or WriterTo to lean on.
			r := struct{ io.Reader }{bytes.NewReader(data)}
			if err := s.Put(t.Context(), name, r, tt.size); err != nil {
				t.Fatalf("Put(20 MiB, size=%d) = %v", tt.size, err)
			}
			_, h, err := c.Object(t.Context(), cfg.Container, name)
			if err != nil {
				t.Fatalf("raw HEAD: %v", err)
			}
			if got := h.IsLargeObjectSLO(); got != tt.slo {
				t.Errorf("stored as a static large object: %v, want %v", got, tt.slo)
			}
			segs := rawNames(t, c, cfg.Container, "+segments/")
			if want := map[bool]int{false: 0, true: 6}[tt.slo]; len(segs) != want {
				t.Errorf("%d segments %q, want %d", len(segs), segs, want)
			}
			if got := list(t, s, ""); !slices.Equal(got, []string{name}) {
				t.Errorf("List = %q, want only %q", got, name)
			}
			if info, err := s.Stat(t.Context(), name); err != nil || info.Size != size {
				t.Errorf("Stat = %+v, %v; want size %d", info, err, size)
			}
			if got := get(t, s, name, 0, -1); !bytes.Equal(got, data) {
				t.Fatalf("Get of the whole blob differs (%d bytes, want %d)", len(got), len(data))
			}
			for _, r := range [][2]int64{{seg - 1, 2}, {seg, 1}, {3*seg + 5, 2*seg + 17}, {size - 1, -1}, {size - 10, 100}, {size, -1}, {5 * seg, -1}} {
				want := data[min(r[0], size):]
				if r[1] >= 0 && r[1] < int64(len(want)) {
					want = want[:r[1]]
				}
				if got := get(t, s, name, r[0], r[1]); !bytes.Equal(got, want) {
					t.Errorf("Get(off=%d, length=%d) = %d bytes, want %d (or different bytes)", r[0], r[1], len(got), len(want))
				}
			}
			if err := s.Delete(t.Context(), name); err != nil {
				t.Fatalf("Delete = %v", err)
			}
			if _, err := s.Stat(t.Context(), name); err != backend.ErrNotFound {
				t.Errorf("Stat after Delete = %v, want ErrNotFound", err)
			}
			if segs := rawNames(t, c, cfg.Container, ""); len(segs) != 0 {
				t.Errorf("after Delete the container still holds %q", segs)
			}
		})
	}
}

// TestSegmentLimit checks that a blob needing more segments than the
// cluster allows (1000 by default) is refused before anything is sent.
func TestSegmentLimit(t *testing.T) {
	cfg := config(t)
	cfg.SegmentSize = 1
	cfg.BufferSize = -1
	s := open(t, cfg)
	err := s.Put(t.Context(), "big", bytes.NewReader(make([]byte, 1001)), 1001)
	if err == nil || !strings.Contains(err.Error(), "raise segment_size") {
		t.Fatalf("Put of 1001 one-byte segments = %v, want an error saying to raise segment_size", err)
	}
	if names := rawNames(t, raw(t), cfg.Container, ""); len(names) != 0 {
		t.Errorf("the refused Put left %q", names)
	}
}

// TestListPages lists across many pages of three names, with segments and
// objects that are not blobs in the container.
func TestListPages(t *testing.T) {
	cfg := config(t)
	cfg.ListPageSize = 3
	cfg.SegmentSize = 1 << 20
	s := open(t, cfg)
	var want []string
	for i := range 13 {
		name := fmt.Sprintf("p/%02d", 12-i)
		put(t, s, name, []byte(name))
		want = append(want, name)
	}
	put(t, s, "p/large", random(t, 3<<20)) // 3 segments
	want = append(want, "p/large")
	c := raw(t)
	for _, foreign := range []string{"p/not a blob", "+other", "p//x"} {
		if err := c.ObjectPutString(t.Context(), cfg.Container, foreign, "x", ""); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want)
	if got := list(t, s, ""); !slices.Equal(got, want) {
		t.Errorf("List(\"\") =\n%q\nwant\n%q", got, want)
	}
	if got := list(t, s, "p/0"); !slices.Equal(got, want[:10]) {
		t.Errorf("List(\"p/0\") =\n%q\nwant\n%q", got, want[:10])
	}
}

// TestProxyDown stops the Swift proxy under operations: each fails with
// an error (never ErrNotFound, never a partial blob), and a blob being read
// when the proxy comes back is read to its end, identical.
func TestProxyDown(t *testing.T) {
	sw := testenv.Swift(t)
	cfg := config(t)
	cfg.Retries, cfg.RetryBase, cfg.RetryMax = 2, 10*time.Millisecond, 50*time.Millisecond
	streamed := open(t, cfg)
	cfg2 := cfg
	cfg2.SegmentSize = 4 << 20
	segmented := open(t, cfg2)
	prev := random(t, 1000)
	put(t, streamed, "existing", prev)
	const size = 20 << 20
	data := random(t, size)

	for _, tt := range []struct {
		name string
		s    *swift.Store
	}{{"path=streamed", streamed}, {"path=segmented", segmented}} {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"fresh", "existing"} {
				r := &hookReader{r: bytes.NewReader(data), after: 6 << 20, hook: func() { sw.StopProxy(t) }}
				err := tt.s.Put(t.Context(), name, r, size)
				if err == nil {
					t.Errorf("Put(%q) with the proxy stopped after 6 MiB of 20 = nil, want an error", name)
				}
				t.Logf("Put(%q) = %v", name, err)
				sw.StartProxy(t)
			}
			checkMissing(t, tt.s, "fresh")
			if got := get(t, tt.s, "existing", 0, -1); !bytes.Equal(got, prev) {
				t.Errorf("existing blob changed by a failed Put: %d bytes", len(got))
			}
		})
	}

	t.Run("ops=all", func(t *testing.T) {
		sw.StopProxy(t)
		defer sw.StartProxy(t)
		ctx := t.Context()
		if err := streamed.Put(ctx, "fresh", bytes.NewReader(prev), int64(len(prev))); err == nil {
			t.Error("Put = nil, want an error")
		}
		if _, err := streamed.Stat(ctx, "existing"); err == nil || err == backend.ErrNotFound {
			t.Errorf("Stat = %v, want an error other than ErrNotFound", err)
		}
		if rc, err := streamed.Get(ctx, "existing", 0, -1); err == nil || err == backend.ErrNotFound {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Get = %v, want an error other than ErrNotFound", err)
		}
		if err := streamed.Delete(ctx, "existing"); err == nil {
			t.Error("Delete = nil, want an error")
		}
		if err := streamed.List(ctx, "", func(backend.Info) error { return nil }); err == nil {
			t.Error("List = nil, want an error")
		}
		if s, err := swift.Open(ctx, cfg); err == nil {
			s.Close()
			t.Error("Open = nil, want an error")
		}
		sw.StartProxy(t)
		checkMissing(t, streamed, "fresh")
		if got := get(t, streamed, "existing", 0, -1); !bytes.Equal(got, prev) {
			t.Errorf("existing blob changed: %d bytes", len(got))
		}
	})

	t.Run("op=get/resume", func(t *testing.T) {
		cfg := cfg
		cfg.Retries, cfg.RetryBase, cfg.RetryMax = 12, 100*time.Millisecond, time.Second
		s := open(t, cfg)
		for _, name := range []string{"big", "big-segmented"} {
			if name == "big-segmented" {
				cfg.SegmentSize = 4 << 20
				s = open(t, cfg)
			}
			put(t, s, name, data)
			rc, err := s.Get(t.Context(), name, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			head := make([]byte, 1<<20)
			if _, err := io.ReadFull(rc, head); err != nil {
				t.Fatal(err)
			}
			sw.StopProxy(t)
			go func() {
				time.Sleep(200 * time.Millisecond)
				sw.StartProxy(t)
			}()
			rest, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("reading %s across a proxy restart: %v", name, err)
			}
			if got := append(head, rest...); !bytes.Equal(got, data) {
				t.Fatalf("%s read across a proxy restart differs (%d bytes, want %d)", name, len(got), len(data))
			}
		}
	})
}

// hookReader calls hook once after reading at least after bytes.
type hookReader struct {
	r     io.Reader
	after int64
	n     int64
	hook  func()
}

func (h *hookReader) Read(p []byte) (int, error) {
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	n, err := h.r.Read(p)
	h.n += int64(n)
	if h.hook != nil && h.n >= h.after {
		h.hook()
		h.hook = nil
	}
	return n, err
}

func checkMissing(t *testing.T, s backend.Store, name string) {
	t.Helper()
	if _, err := s.Stat(t.Context(), name); err != backend.ErrNotFound {
		t.Errorf("Stat(%q) = %v, want ErrNotFound", name, err)
	}
	if names := list(t, s, ""); slices.Contains(names, name) {
		t.Errorf("List shows %q", name)
	}
}

// front is a reverse proxy in front of the Swift proxy that injects
// faults: statuses in place of answers, responses cut midway.
type front struct {
	URL     string
	mu      sync.Mutex
	fault   func(r *http.Request, n int) (status int, cutAfter int64)
	n       int // storage requests seen
	methods []string
	// info, if set, rewrites the cluster's GET /info, or answers status
	// instead when it returns one.
	info func(map[string]any) (status int)
}

func newFront(t *testing.T) *front {
	sw := testenv.Swift(t)
	target, _ := url.Parse("http://" + sw.ProxyAddr)
	f := &front{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = nil
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/info" && f.info != nil {
			resp, err := http.Get("http://" + sw.ProxyAddr + "/info")
			if err != nil {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			var info map[string]any
			json.NewDecoder(resp.Body).Decode(&info)
			if status := f.info(info); status != 0 {
				w.WriteHeader(status)
				return
			}
			json.NewEncoder(w).Encode(info)
			return
		}
		status, cut := 0, int64(-1)
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			f.mu.Lock()
			f.n++
			f.methods = append(f.methods, r.Method)
			if f.fault != nil {
				status, cut = f.fault(r, f.n)
			}
			f.mu.Unlock()
		}
		if status != 0 {
			// Answer without reading the body: the client, which sent
			// Expect: 100-continue, never sends it.
			w.WriteHeader(status)
			return
		}
		if cut >= 0 {
			cw := &cutWriter{ResponseWriter: w, left: cut}
			rp.ServeHTTP(cw, r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL + "/auth/v1.0"
	return f
}

func (f *front) set(fault func(r *http.Request, n int) (int, int64)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault, f.n, f.methods = fault, 0, nil
}

func (f *front) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.methods)
}

// cutWriter lets left bytes of the body through, then aborts the response.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		c.ResponseWriter.Write(p[:c.left])
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection is closed mid-body
	}
	c.left -= int64(len(p))
	return c.ResponseWriter.Write(p)
}

// TestRetries checks what is retried, through a proxy that fails requests
// on purpose: transient statuses before a response is under way, a 401
// (the token expired: log in again), a response cut midway (resume), and
// a server that never recovers (bounded).
func TestRetries(t *testing.T) {
	f := newFront(t)
	cfg := config(t)
	cfg.AuthURL = f.URL
	cfg.RetryBase, cfg.RetryMax = 10*time.Millisecond, 40*time.Millisecond
	s := open(t, cfg)
	ctx := t.Context()
	data := random(t, 3<<20)
	firstN := func(n int, status int) func(*http.Request, int) (int, int64) {
		return func(_ *http.Request, i int) (int, int64) {
			if i <= n {
				return status, -1
			}
			return 0, -1
		}
	}

	t.Run("status=503", func(t *testing.T) {
		for _, size := range []int64{10, 3 << 20} { // buffered, streamed
			cfg := cfg
			cfg.BufferSize = 1 << 20
			s := open(t, cfg)
			f.set(firstN(2, 503))
			if err := s.Put(ctx, "a", bytes.NewReader(data[:size]), size); err != nil {
				t.Fatalf("Put(%d bytes) after two 503s = %v", size, err)
			}
			if got := f.seen(); len(got) != 3 {
				t.Errorf("Put(%d bytes): requests %v, want 3 PUTs", size, got)
			}
			f.set(firstN(2, 503))
			if got := get(t, s, "a", 0, -1); !bytes.Equal(got, data[:size]) {
				t.Errorf("Get after two 503s: %d bytes, want %d", len(got), size)
			}
			f.set(firstN(2, 429))
			if _, err := s.Stat(ctx, "a"); err != nil {
				t.Errorf("Stat after two 429s = %v", err)
			}
			f.set(firstN(2, 503))
			if names := list(t, s, ""); !slices.Equal(names, []string{"a"}) {
				t.Errorf("List after two 503s = %q", names)
			}
		}
	})

	t.Run("status=401", func(t *testing.T) {
		f.set(firstN(1, 401))
		put(t, s, "b", []byte("b"))
		if got := f.seen(); len(got) != 2 {
			t.Errorf("requests %v, want the refused PUT and the PUT after logging in again", got)
		}
		f.set(func(*http.Request, int) (int, int64) { return 401, -1 })
		err := s.Put(ctx, "b", bytes.NewReader([]byte("b")), 1)
		if !errors.Is(err, swift.ErrAuth) {
			t.Errorf("Put with every request refused = %v, want ErrAuth", err)
		}
	})

	t.Run("status=400", func(t *testing.T) {
		f.set(firstN(1, 400))
		if err := s.Put(ctx, "c", bytes.NewReader([]byte("c")), 1); err == nil {
			t.Error("Put answered 400 = nil, want an error")
		}
		if got := f.seen(); len(got) != 1 {
			t.Errorf("requests %v, want one: a 400 is not transient", got)
		}
	})

	t.Run("status=always503", func(t *testing.T) {
		f.set(func(*http.Request, int) (int, int64) { return 503, -1 })
		start := time.Now()
		err := s.Put(ctx, "d", bytes.NewReader([]byte("d")), 1)
		if err == nil || !strings.Contains(err.Error(), "503") {
			t.Errorf("Put against a server answering 503 = %v, want a 503 error", err)
		}
		// 1 attempt + 4 retries, then the HEAD that asks whether it landed
		// is not sent: a 503 is an answer.
		if got := f.seen(); len(got) != 5 {
			t.Errorf("requests %v, want 5 PUTs", got)
		}
		t.Logf("gave up after %v", time.Since(start))
	})

	t.Run("get=cut", func(t *testing.T) {
		f.set(nil)
		put(t, s, "e", data)
		var cuts atomic.Int64
		f.set(func(r *http.Request, _ int) (int, int64) {
			if r.Method == "GET" && cuts.Add(1) <= 3 {
				return 0, 1 << 20 // each response stops after 1 MiB
			}
			return 0, -1
		})
		if got := get(t, s, "e", 100, -1); !bytes.Equal(got, data[100:]) {
			t.Errorf("Get across 3 cut responses: %d bytes, want %d", len(got), len(data)-100)
		}
		// 1 MiB, 1 MiB, then the last 1 MiB - 100 in one response.
		if got := f.seen(); len(got) != 3 {
			t.Errorf("requests %v, want 3 GETs", got)
		}
		// A blob replaced between two responses is not spliced.
		f.set(func(r *http.Request, _ int) (int, int64) {
			if r.Method == "GET" {
				return 0, 1 << 20
			}
			return 0, -1
		})
		rc, err := s.Get(ctx, "e", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		head := make([]byte, 1<<20)
		if _, err := io.ReadFull(rc, head); err != nil {
			t.Fatal(err)
		}
		f.set(nil)
		put(t, s, "e", random(t, len(data)))
		if _, err := io.ReadAll(rc); err == nil || !strings.Contains(err.Error(), "changed") {
			t.Errorf("reading a blob replaced midway = %v, want an error saying it changed", err)
		}
	})
}

// TestKeystone logs in through a fake Keystone v3 that checks the request
// the configuration makes, and returns a real token of the test Swift with
// a catalog listing it.
func TestKeystone(t *testing.T) {
	c := raw(t)
	storage, token := c.StorageUrl, c.AuthToken
	var got map[string]any
	ks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v3/auth/tokens" {
			http.NotFound(w, r)
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		ep := func(region, iface, url string) map[string]string {
			return map[string]string{"region": region, "interface": iface, "url": url}
		}
		w.Header().Set("X-Subject-Token", token)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"token": map[string]any{
			"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			"catalog": []any{
				map[string]any{"type": "identity", "endpoints": []any{ep("RegionTwo", "public", "http://127.0.0.1:1/")}},
				map[string]any{"type": "object-store", "endpoints": []any{
					ep("RegionOne", "public", "http://127.0.0.1:1/v1/AUTH_wrong"),
					ep("RegionTwo", "internal", "http://127.0.0.1:1/v1/AUTH_wrong"),
					ep("RegionTwo", "public", storage),
				}},
			},
		}})
	}))
	defer ks.Close()
	cfg := swift.Config{
		AuthURL: ks.URL + "/v3", User: "agent", Key: "secret", Domain: "Ministry",
		Project: "vault", Region: "RegionTwo", Container: config(t).Container,
	}
	s := open(t, cfg)
	put(t, s, "k", []byte("through keystone"))
	if b, err := c.ObjectGetBytes(t.Context(), cfg.Container, "k"); err != nil || string(b) != "through keystone" {
		t.Errorf("object written after a Keystone login: %q, %v", b, err)
	}
	want := `{"auth":{"identity":{"methods":["password"],"password":{"user":{"domain":{"name":"Ministry"},"name":"agent","password":"secret"}}},"scope":{"project":{"domain":{"name":"Ministry"},"name":"vault"}}}}`
	if b, _ := json.Marshal(got); string(b) != want {
		t.Errorf("Keystone got\n%s\nwant\n%s", b, want)
	}

	cfg.Region = "Nowhere"
	_, err := swift.Open(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), `region "Nowhere"`) {
		t.Errorf("Open with a region missing from the catalog = %v, want an error naming it", err)
	}
}

// TestContext checks that Put gives up promptly on a cancelled context,
// whatever path it takes, and that Get's reader stops with it.
func TestContext(t *testing.T) {
	cfg := config(t)
	cfg.SegmentSize = 1 << 20
	s := open(t, cfg)
	put(t, s, "x", random(t, 4<<20))
	ctx, cancel := context.WithCancel(t.Context())
	rc, err := s.Get(ctx, "x", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Errorf("reading after cancel = %v, want context.Canceled", err)
	}
}

// TestClusterLimit checks that Open learns the cluster's largest object
// from GET /info, and that Put segments blobs past it, with the default
// configuration. The test Swift's limit is Swift's default, 5 GiB + 2:
// a proxy lowers it to 16 MiB in the /info it forwards. Without /info
// (disabled by the operator), Swift's default is assumed.
func TestClusterLimit(t *testing.T) {
	const limit = 16 << 20
	const size = limit + 1
	sum := func(r io.Reader) []byte {
		h := md5.New()
		if _, err := io.Copy(h, r); err != nil {
			t.Fatal(err)
		}
		return h.Sum(nil)
	}
	want := sum(stream(1, size))
	for _, tt := range []struct {
		name string
		info func(map[string]any) int
		slo  bool
	}{
		{"info=lowered", func(info map[string]any) int {
			info["swift"].(map[string]any)["max_file_size"] = limit
			return 0
		}, true},
		{"info=disabled", func(map[string]any) int { return http.StatusNotFound }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFront(t)
			f.info = tt.info
			cfg := config(t)
			cfg.AuthURL = f.URL
			s := open(t, cfg)
			if err := s.Put(t.Context(), "huge", stream(1, size), size); err != nil {
				t.Fatalf("Put(%d bytes) = %v", size, err)
			}
			_, h, err := raw(t).Object(t.Context(), cfg.Container, "huge")
			if err != nil || h.IsLargeObjectSLO() != tt.slo {
				t.Fatalf("stored as a static large object: %v (%v), want %v", h.IsLargeObjectSLO(), err, tt.slo)
			}
			if segs := rawNames(t, raw(t), cfg.Container, "+segments/"); tt.slo && len(segs) != 2 {
				t.Errorf("segments %q, want 2", segs)
			}
			rc, err := s.Get(t.Context(), "huge", 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if got := sum(rc); !bytes.Equal(got, want) {
				t.Fatalf("Get of the %d-byte blob has MD5 %x, want %x", size, got, want)
			}
			if err := s.Delete(t.Context(), "huge"); err != nil {
				t.Fatal(err)
			}
			if names := rawNames(t, raw(t), cfg.Container, ""); len(names) != 0 {
				t.Errorf("after Delete the container holds %q", names)
			}
		})
	}
}

// stream yields n pseudo-random bytes of seed, generated as it goes.
func stream(seed uint64, n int64) io.Reader {
	var key [32]byte
	key[0] = byte(seed)
	return io.LimitReader(mrand.NewChaCha8(key), n)
}
