package remotetest

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
)

// A Fault decides the fate of the nth request (from 1) that reaches a
// Front: answered status instead of the server when status is not 0, cut
// after cutAfter bytes of the server's response body when cutAfter >= 0,
// passed through otherwise.
type Fault func(r *http.Request, n int) (status int, cutAfter int64)

// FirstN is the Fault that answers status to the first n requests, and
// passes the others through.
func FirstN(n int, status int) Fault {
	return func(_ *http.Request, i int) (int, int64) {
		if i <= n {
			return status, -1
		}
		return 0, -1
	}
}

// Always is the Fault that answers status to every request.
func Always(status int) Fault {
	return func(*http.Request, int) (int, int64) { return status, -1 }
}

// Front is a reverse proxy in front of a server that injects faults:
// statuses in place of answers, responses cut midway. It keeps the Host
// header, which SigV4 signs.
type Front struct {
	URL string // the proxy's, http://127.0.0.1:PORT

	faulty  func(*http.Request) bool
	mu      sync.Mutex
	fault   Fault
	n       int // requests seen that faulty accepts
	methods []string
}

// FrontOpts are the options of NewFront.
type FrontOpts struct {
	// Faulty selects the requests that count, and that a Fault may hit;
	// the others go through untouched. Nil selects every request.
	Faulty func(*http.Request) bool
	// Wrap, if not nil, wraps the Front's handler: it may answer some
	// requests itself.
	Wrap func(http.Handler) http.Handler
}

// NewFront starts a Front to target, a URL, for the duration of the test.
// It injects no fault until Set gives it one.
func NewFront(t *testing.T, target string, o FrontOpts) *Front {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("front of %q: %v", target, err)
	}
	f := &Front{faulty: o.Faulty}
	rp := httputil.NewSingleHostReverseProxy(u)
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, cut := f.decide(r)
		switch {
		case status != 0:
			// Answer without reading the body: a client that sent
			// Expect: 100-continue never sends it.
			w.WriteHeader(status)
		case cut >= 0:
			rp.ServeHTTP(&cutWriter{ResponseWriter: w, left: cut}, r)
		default:
			rp.ServeHTTP(w, r)
		}
	})
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// decide counts r, if it is faulty, and returns what its Fault decides.
func (f *Front) decide(r *http.Request) (status int, cutAfter int64) {
	if f.faulty != nil && !f.faulty(r) {
		return 0, -1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.methods = append(f.methods, r.Method)
	if f.fault == nil {
		return 0, -1
	}
	return f.fault(r, f.n)
}

// Set makes fault decide the requests from now on (nil: none fails), and
// starts counting them again.
func (f *Front) Set(fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault, f.n, f.methods = fault, 0, nil
}

// Seen returns the methods of the requests counted since the last Set.
func (f *Front) Seen() []string {
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
