package s3api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coffre-cloud/coffre/s3api/sigv4"
	"github.com/coffre-cloud/coffre/vault"
)

// Config holds what a Server is built from.
type Config struct {
	Vault  *vault.Vault
	Logger *slog.Logger // nil: slog.Default()
	// Domains are the base host names under which virtual-hosted-style
	// requests name the bucket as the first label (bucket.domain). A
	// request to any other host is path-style.
	Domains []string
	// IdleTimeout bounds how long a request body may stall before the
	// request fails (the server's own timeouts cover headers).
	IdleTimeout time.Duration
	// KeyCacheTTL is how long an access key lookup is cached; 0 means 5 s.
	// A deleted key stops working after at most this long.
	KeyCacheTTL time.Duration
	// Metrics serves GET /metrics (Prometheus text format) without
	// authentication.
	Metrics bool
	// WebIdentity, when set, serves STS AssumeRoleWithWebIdentity at "/"
	// (sts.go): it decides who may have temporary keys of which tenant and
	// role. Nil: no STS, every request is signed.
	WebIdentity WebIdentity
}

// Server serves the S3 API.
type Server struct {
	vault    *vault.Vault
	log      *slog.Logger
	domains  []string
	idle     time.Duration
	verifier *sigv4.Verifier
	keys     keyCache
	metrics  *metrics    // nil when disabled
	web      WebIdentity // nil: no STS
}

// New returns an S3 server.
func New(c Config) *Server {
	s := &Server{vault: c.Vault, log: c.Logger, idle: c.IdleTimeout, web: c.WebIdentity}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.idle == 0 {
		s.idle = time.Minute
	}
	for _, d := range c.Domains {
		s.domains = append(s.domains, strings.ToLower(strings.TrimSuffix(d, ".")))
	}
	s.keys.ttl = c.KeyCacheTTL
	if s.keys.ttl == 0 {
		s.keys.ttl = 5 * time.Second
	}
	s.keys.lookup = c.Vault.LookupKey
	if c.Metrics {
		s.metrics = new(metrics)
	}
	s.verifier = &sigv4.Verifier{Lookup: func(ctx context.Context, id string) (string, error) {
		k, err := s.keys.get(ctx, id)
		if errors.Is(err, vault.ErrInvalidAccessKeyID) {
			return "", sigv4.ErrInvalidAccessKeyID
		}
		return k.Secret, err
	}}
	return s
}

// keyCache keeps access keys for a short time: key lookups are on the path
// of every request.
type keyCache struct {
	ttl    time.Duration
	lookup func(context.Context, string) (vault.AccessKey, error)
	mu     sync.Mutex
	m      map[string]cachedKey
}

type cachedKey struct {
	key     vault.AccessKey
	expires time.Time
}

func (c *keyCache) get(ctx context.Context, id string) (vault.AccessKey, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.key, nil
	}
	k, err := c.lookup(ctx, id)
	if err != nil {
		return k, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = make(map[string]cachedKey)
	}
	c.m[id] = cachedKey{k, now.Add(c.ttl)}
	c.mu.Unlock()
	return k, nil
}

// request is one S3 request being served.
type request struct {
	*http.Request
	id        string
	bucket    string
	key       string
	query     url.Values
	principal vault.Principal
	auth      *sigv4.Result
	start     time.Time
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// ServeHTTP routes, authenticates and serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	if hr.ContentLength == 0 && hr.ProtoAtLeast(1, 1) && strings.EqualFold(hr.Header.Get("Expect"), "100-continue") {
		// net/http sends 100 Continue when a handler first reads a body,
		// so never for an empty one, whose final response then comes
		// where the client waits for the 100 (RFC 9110 allows that).
		// botocore (the aws cli, boto3) keeps that response's status for
		// the next request on the connection and parses the next answer
		// wrongly: it waits for a body that never comes, a 60 s read
		// timeout (boto/botocore#3755). A 100 first is allowed too, and
		// keeps those clients on their normal path.
		w.WriteHeader(http.StatusContinue)
	}
	if hr.URL.Path == "/healthz" && (hr.Method == http.MethodGet || hr.Method == http.MethodHead) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
		return
	}
	if hr.URL.Path == "/metrics" && hr.Method == http.MethodGet && s.metrics != nil {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		s.metrics.write(w)
		if usage, err := s.vault.Usage(hr.Context()); err == nil {
			writeUsage(w, usage)
		} else {
			s.log.Warn("reading usage for /metrics failed", "err", err)
		}
		return
	}
	r := &request{Request: hr, id: newRequestID(), start: time.Now()}
	sw := &statusWriter{ResponseWriter: w, rc: http.NewResponseController(w), idle: s.idle}
	sw.rc.SetWriteDeadline(time.Time{}) // net/http keeps an earlier response's deadline on a kept-alive connection
	w = sw
	defer func() {
		d := time.Since(r.start)
		if s.metrics != nil {
			var in int64
			if r.auth != nil {
				in = max(r.auth.DecodedLength, 0)
			}
			s.metrics.observe(hr.Method, sw.status, in, sw.n, d)
		}
		s.log.Debug("request", "method", hr.Method, "path", hr.URL.Path, "status", sw.status, "bytes_out", sw.n, "duration", d, "request_id", r.id)
	}()
	h := w.Header()
	h.Set("x-amz-request-id", r.id)
	h.Set("x-amz-id-2", r.id)
	h.Set("Server", "Coffre")
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving request", "method", hr.Method, "path", hr.URL.Path, "panic", p, "request_id", r.id)
			s.writeError(w, r, errInternal)
		}
	}()
	err := s.serve(w, r)
	if err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *request) error {
	var err error
	if r.query, err = url.ParseQuery(r.URL.RawQuery); err != nil {
		return &APIError{"InvalidArgument", http.StatusBadRequest, "The query string is malformed."}
	}
	if err := s.route(r); err != nil {
		return err
	}
	if s.web != nil && isAssumeRoleWithWebIdentity(r) {
		// Unsigned: the web identity token is the credential.
		s.assumeRoleWithWebIdentity(w, r)
		return nil
	}
	if r.auth, err = s.verifier.Verify(r.Request); err != nil {
		return err
	}
	defer r.auth.Body.Close()
	if r.auth.Anonymous {
		return &APIError{"AccessDenied", http.StatusForbidden, "Anonymous access is not allowed; sign your requests (AWS Signature Version 4)."}
	}
	k, err := s.keys.get(r.Context(), r.auth.AccessKeyID)
	if err != nil {
		return err
	}
	if err := s.vault.CheckSession(k, r.auth.SessionToken); err != nil {
		return err
	}
	if err := authorize(k, r); err != nil {
		return err
	}
	r.principal = vault.Principal{Tenant: k.Tenant, AccessKey: k.ID}
	// A copy of the request gets the new body: net/http must keep seeing
	// its own, to discard what the handler left unread or to close the
	// connection, so that a refused upload's bytes are never read as the
	// next request on a kept-alive connection.
	own := *r.Request
	own.Body = &idleReader{r: r.auth.Body, rc: http.NewResponseController(w), idle: s.idle}
	r.Request = &own
	return s.dispatch(w, r)
}

// route finds the bucket and key, virtual-hosted-style or path-style.
func (s *Server) route(r *request) error {
	path := r.URL.EscapedPath()
	if r.URL.RawPath == "" {
		path = r.URL.Path
	} else if p, err := url.PathUnescape(path); err == nil {
		path = p
	} else {
		return &APIError{"InvalidURI", http.StatusBadRequest, "Couldn't parse the specified URI."}
	}
	path = strings.TrimPrefix(path, "/")
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, d := range s.domains {
		if strings.HasSuffix(host, "."+d) {
			r.bucket = strings.TrimSuffix(host, "."+d)
			r.key = path
			return nil
		}
	}
	r.bucket, r.key, _ = strings.Cut(path, "/")
	return nil
}

// idleReader fails a body that stalls longer than idle, extending the
// connection's read deadline as bytes arrive (at most once a second, to
// keep the cost off the hot path).
type idleReader struct {
	r        io.ReadCloser
	rc       *http.ResponseController
	idle     time.Duration
	extended time.Time
}

func (ir *idleReader) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(ir.extended) > time.Second {
		ir.extended = now
		ir.rc.SetReadDeadline(now.Add(ir.idle))
	}
	n, err := ir.r.Read(p)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = errRequestTimeout
	}
	return n, err
}

func (ir *idleReader) Close() error { return ir.r.Close() }

func (s *Server) writeError(w http.ResponseWriter, r *request, err error) {
	ae, known := toAPIError(err)
	if !known {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err, "request_id", r.id)
	} else if ae.Status >= 500 {
		s.log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "code", ae.Code, "err", err, "request_id", r.id)
	}
	h := w.Header()
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Del("Content-Length")
	if r.Method == http.MethodHead {
		w.WriteHeader(ae.Status)
		return
	}
	resource := r.URL.Path
	body := errorBody{Code: ae.Code, Message: ae.Message, Resource: resource, RequestID: r.id, HostID: r.id}
	if ae.Code == "NoSuchKey" {
		body.Key = r.key
	}
	if ae.Code == "NoSuchBucket" {
		body.BucketN = r.bucket
	}
	h.Set("Content-Type", "application/xml")
	w.WriteHeader(ae.Status)
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(body)
}

// writeXML writes a 200 response with an XML body.
func writeXML(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, xml.Header)
	return xml.NewEncoder(w).Encode(v)
}

// readXML decodes a small XML request body into v.
func readXML(r *request, limit int64, v any) error {
	body := io.LimitReader(r.Body, limit+1)
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		return errMaxMessageLength
	}
	if len(data) == 0 {
		return errMalformedXML
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return errMalformedXML
	}
	return nil
}
