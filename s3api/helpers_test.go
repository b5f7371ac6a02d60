package s3api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/coffre-cloud/coffre/backend/fs"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/meta/sqlite"
	"github.com/coffre-cloud/coffre/s3api"
	"github.com/coffre-cloud/coffre/vault"
)

const (
	region = "us-east-1"
	kiB    = 1 << 10
	miB    = 1 << 20
)

// stack is a whole Coffre site in the test process: SQLite metadata, a
// file-system backend, a vault with two tenants, and the S3 handler served
// both over TLS (the SDK sends aws-chunked bodies with checksum trailers only
// over TLS) and over plain HTTP (minio-go signs streaming payloads only
// there).
type stack struct {
	vault *vault.Vault
	tls   *httptest.Server
	plain *httptest.Server
	key   vault.AccessKey // tenant t1
	other vault.AccessKey // tenant t2, who owns nothing of t1's
}

func newStack(tb testing.TB) *stack {
	tb.Helper()
	dir := tb.TempDir()
	m, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		tb.Fatalf("sqlite.Open: %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	st, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		tb.Fatalf("fs.Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	w := &tbWriter{tb: tb}
	tb.Cleanup(w.stop) // registered before the servers', so it runs after they stop
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
	v := vault.New(vault.Config{Meta: m, Backend: st, Keys: testenv.Keyring(tb), Region: region, Logger: log})
	ctx := context.Background()
	s := &stack{vault: v}
	for _, k := range []struct {
		tenant string
		key    *vault.AccessKey
	}{{"t1", &s.key}, {"t2", &s.other}} {
		if _, err := v.CreateTenant(ctx, k.tenant); err != nil {
			tb.Fatalf("CreateTenant(%s): %v", k.tenant, err)
		}
		if *k.key, err = v.CreateAccessKey(ctx, k.tenant); err != nil {
			tb.Fatalf("CreateAccessKey(%s): %v", k.tenant, err)
		}
	}
	h := s3api.New(s3api.Config{Vault: v, Domains: []string{"localhost"}, Logger: log})
	s.tls = httptest.NewTLSServer(h)
	tb.Cleanup(s.tls.Close)
	s.plain = httptest.NewServer(h)
	tb.Cleanup(s.plain.Close)
	return s
}

// tbWriter sends the server's warnings and errors to the test log, where a
// failure shows them; it goes quiet once the test is over. A fuzz target's
// log is dropped: a worker may not log through its *testing.F.
type tbWriter struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, fuzz := w.tb.(*testing.F); !w.done && !fuzz {
		w.tb.Logf("server: %s", bytes.TrimRight(p, "\n"))
	}
	return len(p), nil
}

func (w *tbWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// sdk returns an aws-sdk-go-v2 client for key: path-style, over TLS, with
// the checksum behaviour config.LoadDefaultConfig gives (CRC32 trailers on
// aws-chunked bodies, response checksums validated) and a single attempt,
// so that a server error fails the test instead of being retried away. mods
// adjust the options.
func (s *stack) sdk(key vault.AccessKey, mods ...func(*s3.Options)) *s3.Client {
	o := s3.Options{
		Region:                     region,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
		BaseEndpoint:               aws.String(s.tls.URL),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(key.ID, key.Secret, ""),
		HTTPClient:                 s.tls.Client(),
		RetryMaxAttempts:           1,
		Retryer:                    aws.NopRetryer{},
	}
	return s3.New(o, mods...)
}

// overHTTP makes an SDK client talk plain HTTP: the SDK then sends
// checksums in headers and signs the payload's SHA-256.
func (s *stack) overHTTP(o *s3.Options) {
	o.BaseEndpoint = aws.String(s.plain.URL)
	o.HTTPClient = s.plain.Client()
}

// whenRequired makes an SDK client compute checksums only where the
// operation requires one, as clients configured for older S3 servers do.
func whenRequired(o *s3.Options) {
	o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
}

// virtualHosted makes an SDK client address buckets as bucket.localhost:PORT
// over plain HTTP; every connection goes to the test server whatever the
// host name.
func (s *stack) virtualHosted(o *s3.Options) {
	addr := s.plain.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	o.BaseEndpoint = aws.String("http://localhost:" + port)
	o.UsePathStyle = false
	o.HTTPClient = toServer(addr)
}

// toServer returns an HTTP client that connects to addr for every host.
func toServer(addr string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// minio returns a minio-go client for key over plain HTTP, where it signs
// every PUT body with STREAMING-AWS4-HMAC-SHA256-PAYLOAD. With trailing, a
// PUT that asks for a checksum (PutObjectOptions.Checksum) sends it as a
// trailer: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER.
func (s *stack) minio(tb testing.TB, key vault.AccessKey, trailing bool) *minio.Client {
	tb.Helper()
	return s.minioWith(tb, key, trailing, nil)
}

// minioWith is minio with a given transport (nil: the default).
func (s *stack) minioWith(tb testing.TB, key vault.AccessKey, trailing bool, rt http.RoundTripper) *minio.Client {
	tb.Helper()
	u, err := url.Parse(s.plain.URL)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:           miniocreds.NewStaticV4(key.ID, key.Secret, ""),
		Secure:          false,
		Region:          region,
		BucketLookup:    minio.BucketLookupPath,
		TrailingHeaders: trailing,
		MaxRetries:      1,
		Transport:       rt,
	})
	if err != nil {
		tb.Fatalf("minio.New: %v", err)
	}
	return c
}

// recorder is a RoundTripper that keeps the requests it sends.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *recorder) requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...)
}

// signed returns a request to the plain-HTTP server signed in the
// Authorization header by key at time at, with the body's SHA-256 as the
// payload hash. target is a path with an optional query.
func (s *stack) signed(tb testing.TB, key vault.AccessKey, method, target string, body []byte, hdr http.Header, at time.Time) *http.Request {
	tb.Helper()
	req, err := http.NewRequest(method, s.plain.URL+target, bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("NewRequest %s %s: %v", method, target, err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	signRequest(tb, key, req, body, at)
	return req
}

func signRequest(tb testing.TB, key vault.AccessKey, req *http.Request, body []byte, at time.Time) {
	tb.Helper()
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}
	if err := signer.SignHTTP(context.Background(), creds, req, hash, "s3", region, at); err != nil {
		tb.Fatalf("SignHTTP: %v", err)
	}
}

// send sends req and returns the response with its body read.
func send(tb testing.TB, req *http.Request) (*http.Response, []byte) {
	tb.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

// do signs and sends a request as key, now.
func (s *stack) do(tb testing.TB, key vault.AccessKey, method, target string, body []byte, hdr http.Header) (*http.Response, []byte) {
	tb.Helper()
	return send(tb, s.signed(tb, key, method, target, body, hdr, time.Now()))
}

// errorXML is the body of an S3 error response.
type errorXML struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	Resource  string   `xml:"Resource"`
}

// checkErrorBody reports what is wrong with an S3 error response: it must
// be XML with a Code, a Message and the RequestId of its x-amz-request-id
// header. It returns the parsed body.
func checkErrorBody(resp *http.Response, body []byte) (errorXML, error) {
	var e errorXML
	if err := xml.Unmarshal(body, &e); err != nil {
		return e, fmt.Errorf("status %d: body %q is not an S3 error document: %v", resp.StatusCode, truncate(body), err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "xml") {
		return e, fmt.Errorf("status %d: Content-Type = %q, want application/xml", resp.StatusCode, ct)
	}
	switch {
	case e.Code == "":
		return e, fmt.Errorf("status %d: error body %q has no Code", resp.StatusCode, truncate(body))
	case e.Message == "":
		return e, fmt.Errorf("status %d: error body %q has no Message", resp.StatusCode, truncate(body))
	case e.RequestID == "":
		return e, fmt.Errorf("status %d: error body %q has no RequestId", resp.StatusCode, truncate(body))
	case e.RequestID != resp.Header.Get("x-amz-request-id"):
		return e, fmt.Errorf("status %d: RequestId = %q, want the x-amz-request-id header %q", resp.StatusCode, e.RequestID, resp.Header.Get("x-amz-request-id"))
	}
	return e, nil
}

// wantError checks that a raw response is the S3 error code with status.
func wantError(tb testing.TB, resp *http.Response, body []byte, status int, code string) {
	tb.Helper()
	if resp.StatusCode != status {
		tb.Fatalf("status = %d, want %d (%s); body %q", resp.StatusCode, status, code, truncate(body))
	}
	e, err := checkErrorBody(resp, body)
	if err != nil {
		tb.Fatal(err)
	}
	if e.Code != code {
		tb.Fatalf("Code = %q, want %q (message %q)", e.Code, code, e.Message)
	}
}

func truncate(b []byte) []byte {
	if len(b) > 300 {
		return append(b[:300:300], "..."...)
	}
	return b
}

// wantAPIError checks that err is an S3 error with the HTTP status and, when
// code is not empty, the error code (HEAD responses have no body, so the
// SDK names their errors after the status).
func wantAPIError(tb testing.TB, err error, status int, code string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("err = nil, want %d %s", status, code)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		tb.Fatalf("err = %v, want an HTTP response error %d %s", err, status, code)
	}
	if got := re.HTTPStatusCode(); got != status {
		tb.Fatalf("status = %d, want %d (%s); err = %v", got, status, code, err)
	}
	if code == "" {
		return
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		tb.Fatalf("err = %v, want API error %s", err, code)
	}
	if got := ae.ErrorCode(); got != code {
		tb.Fatalf("error code = %q, want %q; err = %v", got, code, err)
	}
}

// statusOf returns the HTTP status of an SDK error, 0 if it has none.
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// payload returns n reproducible pseudo-random bytes.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x636f66667265))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func md5B64(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// multipartETag is the ETag S3 gives a multipart object: the MD5 of the
// concatenated binary MD5s of its parts, then "-" and the part count.
func multipartETag(parts ...[]byte) string {
	var cat []byte
	for _, p := range parts {
		s := md5.Sum(p)
		cat = append(cat, s[:]...)
	}
	return fmt.Sprintf("%s-%d", md5Hex(cat), len(parts))
}

func quoted(etag string) string { return `"` + etag + `"` }

// createBucket creates a bucket with an SDK client and fails the test if it
// cannot.
func createBucket(tb testing.TB, c *s3.Client, name string) {
	tb.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		tb.Fatalf("CreateBucket(%s): %v", name, err)
	}
}

func putObject(tb testing.TB, c *s3.Client, bucket, key string, body []byte) *s3.PutObjectOutput {
	tb.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		tb.Fatalf("PutObject(%s/%s): %v", bucket, key, err)
	}
	return out
}

// getObject reads an object whole.
func getObject(tb testing.TB, c *s3.Client, in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput) {
	tb.Helper()
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		tb.Fatalf("GetObject(%s/%s): %v", aws.ToString(in.Bucket), aws.ToString(in.Key), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		tb.Fatalf("GetObject(%s/%s): reading body: %v", aws.ToString(in.Bucket), aws.ToString(in.Key), err)
	}
	return b, out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: still not %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
