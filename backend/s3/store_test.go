package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/s3"
	"github.com/coffre-cloud/coffre/internal/testenv"
)

// raw is an S3 client of the binary's Swift, to look at a bucket the way
// an operator would, under the store's feet.
func raw(t *testing.T) *awss3.Client {
	sw := testenv.Swift(t)
	return awss3.New(awss3.Options{
		BaseEndpoint:               aws.String(sw.S3Endpoint),
		Region:                     sw.S3Region,
		Credentials:                credentials.NewStaticCredentialsProvider(sw.S3AccessKey, sw.S3SecretKey, ""),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// rawKeys lists the bucket's keys with the raw client.
func rawKeys(t *testing.T, bucket string) []string {
	t.Helper()
	out, err := raw(t).ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatalf("raw listing of %s: %v", bucket, err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	return keys
}

// uploads lists the multipart uploads in progress in the bucket.
func uploads(t *testing.T, bucket string) []string {
	t.Helper()
	out, err := raw(t).ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatalf("listing the multipart uploads of %s: %v", bucket, err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, *u.Key)
	}
	return keys
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

func checkMissing(t *testing.T, s backend.Store, name string) {
	t.Helper()
	if _, err := s.Stat(t.Context(), name); err != backend.ErrNotFound {
		t.Errorf("Stat(%q) = %v, want ErrNotFound", name, err)
	}
	if names := list(t, s, ""); slices.Contains(names, name) {
		t.Errorf("List shows %q", name)
	}
}

func TestOpenCreatesBucket(t *testing.T) {
	cfg := config(t)
	if _, err := raw(t).HeadBucket(t.Context(), &awss3.HeadBucketInput{Bucket: &cfg.Bucket}); err == nil {
		t.Fatalf("bucket %s exists before Open", cfg.Bucket)
	}
	s := open(t, cfg)
	if _, err := raw(t).HeadBucket(t.Context(), &awss3.HeadBucketInput{Bucket: &cfg.Bucket}); err != nil {
		t.Fatalf("bucket %s after Open: %v", cfg.Bucket, err)
	}
	put(t, s, "a", []byte("a"))
	if got := get(t, open(t, cfg), "a", 0, -1); string(got) != "a" {
		t.Fatalf("Get through a second Open = %q, want %q", got, "a")
	}
}

func TestOpenErrors(t *testing.T) {
	closed := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	tests := []struct {
		name     string
		config   func(*s3.Config)
		auth     bool
		contains []string
	}{
		{"secret=wrong", func(c *s3.Config) { c.SecretKey = "wrong" }, true, []string{"test:tester", "secret_key"}},
		{"key=unknown", func(c *s3.Config) { c.AccessKey = "test:nobody" }, true, []string{"test:nobody", "check"}},
		{"server=down", func(c *s3.Config) { c.Endpoint = closed }, false, []string{"connection refused"}},
		{"bucket=invalid", func(c *s3.Config) { c.Bucket = "a" }, false, []string{"bucket \"a\""}},
		{"part=small", func(c *s3.Config) { c.PartSize = 1 << 20 }, false, []string{"part_size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t)
			cfg.Retries, cfg.RetryBase, cfg.RetryMax = 2, 10*time.Millisecond, 20*time.Millisecond
			tt.config(&cfg)
			start := time.Now()
			s, err := s3.Open(t.Context(), cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open = nil, want an error")
			}
			t.Logf("Open = %v", err)
			if time.Since(start) > 10*time.Second {
				t.Errorf("Open took %v to fail", time.Since(start))
			}
			if got := errors.Is(err, s3.ErrAuth); got != tt.auth {
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

// TestMultipart writes 20 MiB blobs in 5 MiB parts, of known and unknown
// size, reads ranges across the parts' boundaries, and checks that failed
// uploads (reader error, reader too long or too short) leave no object
// and no upload behind.
func TestMultipart(t *testing.T) {
	const size = 20<<20 + 3
	const part = 5 << 20
	data := random(t, size)
	cfg := config(t)
	cfg.PartSize = part
	cfg.Concurrency = 3
	s := open(t, cfg)
	for _, given := range []int64{size, -1} {
		t.Run(fmt.Sprintf("size=%d", given), func(t *testing.T) {
			name := "obj/20/big"
			if err := s.Put(t.Context(), name, struct{ io.Reader }{bytes.NewReader(data)}, given); err != nil {
				t.Fatalf("Put(20 MiB, size=%d) = %v", given, err)
			}
			out, err := raw(t).HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: &cfg.Bucket, Key: &name})
			if err != nil {
				t.Fatal(err)
			}
			if etag := aws.ToString(out.ETag); !strings.HasSuffix(etag, `-5"`) {
				t.Errorf("ETag %s, want the ETag of a 5-part upload", etag)
			}
			if got := get(t, s, name, 0, -1); !bytes.Equal(got, data) {
				t.Fatalf("Get of the whole blob differs (%d bytes, want %d)", len(got), len(data))
			}
			for _, r := range [][2]int64{{part - 1, 2}, {part, 1}, {3*part + 5, part + 17}, {size - 1, -1}, {size - 10, 100}, {size, -1}} {
				want := data[min(r[0], size):]
				if r[1] >= 0 && r[1] < int64(len(want)) {
					want = want[:r[1]]
				}
				if got := get(t, s, name, r[0], r[1]); !bytes.Equal(got, want) {
					t.Errorf("Get(off=%d, length=%d) = %d bytes, want %d (or different bytes)", r[0], r[1], len(got), len(want))
				}
			}
			if err := s.Delete(t.Context(), name); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("failures", func(t *testing.T) {
		prev := random(t, 100)
		put(t, s, "existing", prev)
		for _, tt := range []struct {
			name string
			r    io.Reader
			size int64
		}{
			{"reader=fails", io.MultiReader(bytes.NewReader(data[:12<<20]), failing{}), size},
			{"reader=long", bytes.NewReader(data), size - 1},
			{"reader=short", bytes.NewReader(data[:size-1]), size},
			{"reader=fails/size=unknown", io.MultiReader(bytes.NewReader(data[:12<<20]), failing{}), -1},
		} {
			for _, name := range []string{"fresh", "existing"} {
				if err := s.Put(t.Context(), name, tt.r, tt.size); err == nil {
					t.Errorf("%s: Put(%q) = nil, want an error", tt.name, name)
				}
				if r, ok := tt.r.(*bytes.Reader); ok {
					r.Seek(0, io.SeekStart)
				}
			}
		}
		checkMissing(t, s, "fresh")
		if got := get(t, s, "existing", 0, -1); !bytes.Equal(got, prev) {
			t.Errorf("existing blob changed by failed Puts: %d bytes", len(got))
		}
		if u := uploads(t, cfg.Bucket); len(u) != 0 {
			t.Errorf("multipart uploads left behind: %q", u)
		}
	})
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("reader failed on purpose") }

// TestListPages lists across pages of three keys, in a bucket shared with
// another prefix and holding keys that are not blob names.
func TestListPages(t *testing.T) {
	cfg := config(t)
	cfg.ListPageSize = 3
	cfg.Prefix = "site-a/"
	s := open(t, cfg)
	other := cfg
	other.Prefix = "site-b/"
	put(t, open(t, other), "p/00", []byte("other"))
	var want []string
	for i := range 13 {
		name := fmt.Sprintf("p/%02d", 12-i)
		put(t, s, name, []byte(name))
		want = append(want, name)
	}
	for _, key := range []string{"site-a/p/not a blob", "site-a/p//x", "site-a", "p/00"} {
		if _, err := raw(t).PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &cfg.Bucket, Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
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
	if got := rawKeys(t, cfg.Bucket); !slices.Contains(got, "site-a/p/00") || !slices.Contains(got, "site-b/p/00") {
		t.Errorf("keys in the bucket %q, want the prefixes in them", got)
	}
}

// TestProxyDown stops the Swift proxy (and with it the S3 API) under
// operations: each fails, and nothing partial becomes visible.
func TestProxyDown(t *testing.T) {
	sw := testenv.Swift(t)
	cfg := config(t)
	cfg.Retries, cfg.RetryBase, cfg.RetryMax = 2, 10*time.Millisecond, 50*time.Millisecond
	cfg.PartSize = 5 << 20
	s := open(t, cfg)
	prev := random(t, 1000)
	put(t, s, "existing", prev)
	const size = 20 << 20
	data := random(t, size)

	t.Run("op=put/path=multipart", func(t *testing.T) {
		for _, name := range []string{"fresh", "existing"} {
			r := &hookReader{r: bytes.NewReader(data), after: 11 << 20, hook: func() { sw.StopProxy(t) }}
			err := s.Put(t.Context(), name, r, size)
			if err == nil {
				t.Errorf("Put(%q) with the proxy stopped after 11 MiB of 20 = nil, want an error", name)
			}
			t.Logf("Put(%q) = %v", name, err)
			sw.StartProxy(t)
		}
		checkMissing(t, s, "fresh")
		if got := get(t, s, "existing", 0, -1); !bytes.Equal(got, prev) {
			t.Errorf("existing blob changed by a failed Put: %d bytes", len(got))
		}
	})

	t.Run("ops=all", func(t *testing.T) {
		sw.StopProxy(t)
		defer sw.StartProxy(t)
		ctx := t.Context()
		if err := s.Put(ctx, "fresh", bytes.NewReader(prev), int64(len(prev))); err == nil {
			t.Error("Put = nil, want an error")
		}
		if _, err := s.Stat(ctx, "existing"); err == nil || err == backend.ErrNotFound {
			t.Errorf("Stat = %v, want an error other than ErrNotFound", err)
		}
		if rc, err := s.Get(ctx, "existing", 0, -1); err == nil || err == backend.ErrNotFound {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Get = %v, want an error other than ErrNotFound", err)
		}
		if err := s.Delete(ctx, "existing"); err == nil {
			t.Error("Delete = nil, want an error")
		}
		if err := s.List(ctx, "", func(backend.Info) error { return nil }); err == nil {
			t.Error("List = nil, want an error")
		}
		if s, err := s3.Open(ctx, cfg); err == nil {
			s.Close()
			t.Error("Open = nil, want an error")
		}
		sw.StartProxy(t)
		checkMissing(t, s, "fresh")
		if got := get(t, s, "existing", 0, -1); !bytes.Equal(got, prev) {
			t.Errorf("existing blob changed: %d bytes", len(got))
		}
	})

	t.Run("op=get/resume", func(t *testing.T) {
		cfg := cfg
		cfg.Retries, cfg.RetryBase, cfg.RetryMax = 12, 100*time.Millisecond, time.Second
		s := open(t, cfg)
		put(t, s, "big", data)
		rc, err := s.Get(t.Context(), "big", 0, -1)
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
			t.Fatalf("reading across a proxy restart: %v", err)
		}
		if got := append(head, rest...); !bytes.Equal(got, data) {
			t.Fatalf("blob read across a proxy restart differs (%d bytes, want %d)", len(got), len(data))
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

// front is a reverse proxy in front of the S3 API that injects faults:
// statuses in place of answers, responses cut midway. It keeps the Host
// header, which SigV4 signs.
type front struct {
	URL     string
	mu      sync.Mutex
	fault   func(r *http.Request, n int) (status int, cutAfter int64)
	n       int
	methods []string
}

func newFront(t *testing.T) *front {
	sw := testenv.Swift(t)
	target, _ := url.Parse(sw.S3Endpoint)
	f := &front{}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.n++
		f.methods = append(f.methods, r.Method)
		status, cut := 0, int64(-1)
		if f.fault != nil {
			status, cut = f.fault(r, f.n)
		}
		f.mu.Unlock()
		switch {
		case status != 0:
			w.WriteHeader(status)
		case cut >= 0:
			rp.ServeHTTP(&cutWriter{ResponseWriter: w, left: cut}, r)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
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
		panic(http.ErrAbortHandler)
	}
	c.left -= int64(len(p))
	return c.ResponseWriter.Write(p)
}

// TestRetries checks the SDK's retryer as configured (transient statuses
// retried, bounded, others not) and the resumption of cut responses.
func TestRetries(t *testing.T) {
	f := newFront(t)
	cfg := config(t)
	cfg.Endpoint = f.URL
	cfg.RetryBase, cfg.RetryMax = 10*time.Millisecond, 40*time.Millisecond
	cfg.PartSize = 5 << 20
	s := open(t, cfg)
	ctx := t.Context()
	data := random(t, 12<<20)
	firstN := func(n int, status int) func(*http.Request, int) (int, int64) {
		return func(_ *http.Request, i int) (int, int64) {
			if i <= n {
				return status, -1
			}
			return 0, -1
		}
	}

	t.Run("status=503", func(t *testing.T) {
		for _, size := range []int64{10, 12 << 20} { // PutObject, multipart
			f.set(firstN(2, 503))
			if err := s.Put(ctx, "a", bytes.NewReader(data[:size]), size); err != nil {
				t.Fatalf("Put(%d bytes) after two 503s = %v", size, err)
			}
			f.set(firstN(2, 503))
			if got := get(t, s, "a", 0, -1); !bytes.Equal(got, data[:size]) {
				t.Errorf("Get after two 503s: %d bytes, want %d", len(got), size)
			}
			f.set(firstN(2, 500))
			if _, err := s.Stat(ctx, "a"); err != nil {
				t.Errorf("Stat after two 500s = %v", err)
			}
			f.set(firstN(2, 503))
			if names := list(t, s, ""); !slices.Equal(names, []string{"a"}) {
				t.Errorf("List after two 503s = %q", names)
			}
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
		if err := s.Put(ctx, "d", bytes.NewReader([]byte("d")), 1); err == nil {
			t.Error("Put against a server answering 503 = nil, want an error")
		}
		if got := f.seen(); len(got) != 5 {
			t.Errorf("requests %v, want 5 PUTs (1 + 4 retries)", got)
		}
	})

	t.Run("get=cut", func(t *testing.T) {
		f.set(nil)
		put(t, s, "e", data)
		var cuts atomic.Int64
		f.set(func(r *http.Request, _ int) (int, int64) {
			if r.Method == "GET" && cuts.Add(1) <= 3 {
				return 0, 1 << 20
			}
			return 0, -1
		})
		if got := get(t, s, "e", 100, -1); !bytes.Equal(got, data[100:]) {
			t.Errorf("Get across 3 cut responses: %d bytes, want %d", len(got), len(data)-100)
		}
		if got := f.seen(); len(got) != 4 {
			t.Errorf("requests %v, want 4 GETs", got)
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
		if _, err := io.ReadFull(rc, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		f.set(nil)
		put(t, s, "e", random(t, len(data)))
		if _, err := io.ReadAll(rc); err == nil || !strings.Contains(err.Error(), "changed") {
			t.Errorf("reading a blob replaced midway = %v, want an error saying it changed", err)
		}
	})
}

// TestContext checks that a Get's reader stops with its context, and that
// a multipart Put cancelled midway aborts its upload.
func TestContext(t *testing.T) {
	cfg := config(t)
	cfg.PartSize = 5 << 20
	s := open(t, cfg)
	data := random(t, 12<<20)
	put(t, s, "x", data)
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

	ctx, cancel = context.WithCancel(t.Context())
	r := &hookReader{r: bytes.NewReader(data), after: 7 << 20, hook: cancel}
	if err := s.Put(ctx, "y", r, int64(len(data))); !errors.Is(err, context.Canceled) {
		t.Errorf("Put cancelled after 7 MiB of 12 = %v, want context.Canceled", err)
	}
	checkMissing(t, s, "y")
	if u := uploads(t, cfg.Bucket); len(u) != 0 {
		t.Errorf("multipart uploads left behind: %q", u)
	}
}
