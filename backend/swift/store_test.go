package swift_test

import (
	"bytes"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	ncw "github.com/ncw/swift/v2"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/internal/remotetest"
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
	remotetest.Put(t, s, "a", []byte("a"))
	// Opening an existing container keeps what it holds.
	if got := remotetest.Get(t, open(t, cfg), "a", 0, -1); string(got) != "a" {
		t.Fatalf("Get through a second Open = %q, want %q", got, "a")
	}
}

func TestOpenErrors(t *testing.T) {
	sw := testenv.Swift(t)
	closed := fmt.Sprintf("http://127.0.0.1:%d/auth/v1.0", testenv.FreePort(t))
	fast := func(tb testing.TB) swift.Config {
		c := config(tb)
		c.Retries, c.RetryBase = 2, 10*time.Millisecond
		return c
	}
	remotetest.OpenErrors(t, fast, swift.Open, swift.ErrAuth, []remotetest.OpenError[swift.Config]{
		{Name: "key=wrong", Change: func(c *swift.Config) { c.Key = "wrong" }, Auth: true, Contains: []string{"test:tester", "refused", "check the user, key"}},
		{Name: "user=unknown", Change: func(c *swift.Config) { c.User = "test:nobody" }, Auth: true, Contains: []string{"test:nobody", "refused"}},
		{Name: "server=down", Change: func(c *swift.Config) { c.AuthURL = closed }, Contains: []string{"connection refused", closed}},
		{Name: "version=unknown", Change: func(c *swift.Config) { c.AuthURL = "http://" + sw.ProxyAddr + "/auth" }, Contains: []string{"auth_version"}},
		{Name: "container=invalid", Change: func(c *swift.Config) { c.Container = "a/b" }, Contains: []string{"container", "without '/'"}},
		{Name: "key=empty", Change: func(c *swift.Config) { c.Key = "" }, Contains: []string{"user and key are required"}},
	})
}

// TestLargeBlobs writes 20 MiB blobs each way: streamed in one object (the
// default configuration: above the 8 MiB buffer), and as static large
// objects of 4 MiB segments, of known and unknown size. Ranges cross the
// segments' boundaries.
func TestLargeBlobs(t *testing.T) {
	const size = 20<<20 + 3
	const seg = 4 << 20
	data := remotetest.Random(t, size)
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
			if got := remotetest.List(t, s, ""); !slices.Equal(got, []string{name}) {
				t.Errorf("List = %q, want only %q", got, name)
			}
			if info, err := s.Stat(t.Context(), name); err != nil || info.Size != size {
				t.Errorf("Stat = %+v, %v; want size %d", info, err, size)
			}
			remotetest.CheckRanges(t, s, name, data, [][2]int64{{seg - 1, 2}, {seg, 1}, {3*seg + 5, 2*seg + 17}, {size - 1, -1}, {size - 10, 100}, {size, -1}, {5 * seg, -1}})
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
	remotetest.Put(t, s, "p/large", remotetest.Random(t, 3<<20)) // 3 segments
	remotetest.ListPages(t, s, []string{"p/large"}, func() {
		c := raw(t)
		for _, foreign := range []string{"p/not a blob", "+other", "p//x"} {
			if err := c.ObjectPutString(t.Context(), cfg.Container, foreign, "x", ""); err != nil {
				t.Fatal(err)
			}
		}
	})
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
	prev := remotetest.Random(t, 1000)
	remotetest.Put(t, streamed, "existing", prev)
	data := remotetest.Random(t, 20<<20)

	for _, tt := range []struct {
		name string
		s    *swift.Store
	}{{"path=streamed", streamed}, {"path=segmented", segmented}} {
		t.Run(tt.name, func(t *testing.T) { remotetest.StoppedPut(t, sw, tt.s, data, 6<<20, prev) })
	}
	t.Run("ops=all", func(t *testing.T) { remotetest.Down(t, sw, streamed, swift.Open, cfg, prev) })
	t.Run("op=get/resume", func(t *testing.T) {
		cfg := cfg
		cfg.Retries, cfg.RetryBase, cfg.RetryMax = 12, 100*time.Millisecond, time.Second
		remotetest.ReadAcrossRestart(t, sw, open(t, cfg), "big", data)
		cfg.SegmentSize = 4 << 20
		remotetest.ReadAcrossRestart(t, sw, open(t, cfg), "big-segmented", data)
	})
}

// front is a remotetest.Front before the Swift proxy that counts, and may
// fail, the storage requests only (not the logins), and can rewrite the
// cluster's GET /info.
type front struct {
	*remotetest.Front
	authURL string // the tempauth endpoint through the front
	// info, if set, rewrites the cluster's GET /info, or answers status
	// instead when it returns one.
	info func(map[string]any) (status int)
}

func newFront(t *testing.T) *front {
	sw := testenv.Swift(t)
	f := &front{}
	f.Front = remotetest.NewFront(t, "http://"+sw.ProxyAddr, remotetest.FrontOpts{
		Faulty: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/v1/") },
		Wrap: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/info" || f.info == nil {
					next.ServeHTTP(w, r)
					return
				}
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
			})
		},
	})
	f.authURL = f.URL + "/auth/v1.0"
	return f
}

// TestRetries checks what is retried, through a proxy that fails requests
// on purpose: transient statuses before a response is under way, a 401
// (the token expired: log in again), a response cut midway (resume), and
// a server that never recovers (bounded).
func TestRetries(t *testing.T) {
	f := newFront(t)
	cfg := config(t)
	cfg.AuthURL = f.authURL
	cfg.RetryBase, cfg.RetryMax = 10*time.Millisecond, 40*time.Millisecond
	s := open(t, cfg)
	ctx := t.Context()
	data := remotetest.Random(t, 3<<20)

	t.Run("status=503", func(t *testing.T) {
		for _, size := range []int{10, 3 << 20} { // buffered, streamed
			cfg := cfg
			cfg.BufferSize = 1 << 20
			if puts := remotetest.Retried(t, f.Front, open(t, cfg), data[:size], 429); len(puts) != 3 {
				t.Errorf("Put(%d bytes): requests %v, want 3 PUTs", size, puts)
			}
		}
	})

	t.Run("status=401", func(t *testing.T) {
		f.Set(remotetest.FirstN(1, 401))
		remotetest.Put(t, s, "b", []byte("b"))
		if got := f.Seen(); len(got) != 2 {
			t.Errorf("requests %v, want the refused PUT and the PUT after logging in again", got)
		}
		f.Set(remotetest.Always(401))
		err := s.Put(ctx, "b", bytes.NewReader([]byte("b")), 1)
		if !errors.Is(err, swift.ErrAuth) {
			t.Errorf("Put with every request refused = %v, want ErrAuth", err)
		}
	})

	t.Run("status=400", func(t *testing.T) { remotetest.NotRetried(t, f.Front, s) })

	t.Run("status=always503", func(t *testing.T) {
		// 1 attempt + 4 retries, then the HEAD that asks whether it landed
		// is not sent: a 503 is an answer.
		if err := remotetest.RetriesBounded(t, f.Front, s); err != nil && !strings.Contains(err.Error(), "503") {
			t.Errorf("Put against a server answering 503 = %v, want a 503 error", err)
		}
	})

	// 1 MiB, 1 MiB, then the last 1 MiB - 100 in one response.
	t.Run("get=cut", func(t *testing.T) { remotetest.CutResponses(t, f.Front, s, data, 3) })
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
	remotetest.Put(t, s, "k", []byte("through keystone"))
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
	remotetest.Put(t, s, "x", remotetest.Random(t, 4<<20))
	remotetest.CancelledRead(t, s, "x")
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
			cfg.AuthURL = f.authURL
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
