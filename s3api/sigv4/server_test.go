package sigv4

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// outcome is what the test server saw for one request.
type outcome struct {
	verifyErr error   // from Verify
	res       *Result // when Verify succeeded
	body      []byte  // read from res.Body
	bodyErr   error   // from reading res.Body to its end
	trailer   http.Header
	header    http.Header // request headers as received
}

// kind is "ok", or the sentinel name of the first failure.
func (o outcome) kind() string {
	if o.verifyErr != nil {
		return kindOf(o.verifyErr)
	}
	return kindOf(o.bodyErr)
}

// verifyServer is an S3 endpoint that only authenticates: its handler runs
// Verify and reads Body to the end, recording what happened, so tests
// drive it with real clients and real wire formats.
type verifyServer struct {
	*httptest.Server
	mu       sync.Mutex
	v        *Verifier
	outcomes []outcome
}

func newVerifyServer(t *testing.T, v *Verifier, tls bool) *verifyServer {
	s := &verifyServer{v: v}
	if tls {
		s.Server = httptest.NewTLSServer(s)
	} else {
		s.Server = httptest.NewServer(s)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *verifyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	v := s.v
	s.mu.Unlock()
	o := outcome{header: r.Header.Clone()}
	res, err := v.Verify(r)
	o.verifyErr = err
	if err == nil {
		o.res = res
		o.body, o.bodyErr = io.ReadAll(res.Body)
		o.trailer = res.Trailer()
		res.Body.Close()
	}
	s.mu.Lock()
	s.outcomes = append(s.outcomes, o)
	s.mu.Unlock()

	if k := o.kind(); k != "ok" {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "<Error><Code>AccessDenied</Code><Message>%s</Message></Error>", k)
		return
	}
	// Just enough S3 for the SDKs to be satisfied with the answer.
	switch {
	case r.Method == http.MethodGet && r.URL.Query().Has("list-type"):
		w.Header().Set("Content-Type", "application/xml")
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.Header().Set("ETag", `"5d41402abc4b2a76b9719d911017c592"`)
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	default:
		w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
		w.WriteHeader(http.StatusOK)
	}
}

func (s *verifyServer) setVerifier(v *Verifier) {
	s.mu.Lock()
	s.v = v
	s.mu.Unlock()
}

// take returns and forgets the outcomes recorded so far.
func (s *verifyServer) take() []outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.outcomes
	s.outcomes = nil
	return o
}

// last returns the outcome of the only request since the previous call.
func (s *verifyServer) last(t *testing.T) outcome {
	t.Helper()
	o := s.take()
	if len(o) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(o))
	}
	return o[0]
}
