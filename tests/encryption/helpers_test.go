// Package encryption_test checks encryption at rest from the outside, the
// way an auditor would: with real S3 clients against a real `coffre serve`
// process (or the whole stack in the test process where the test must reach
// the stored files while the server runs), it shows that no object content
// reaches a disk in clear, that stored bytes which were altered, cut,
// reordered or moved are never returned as an object's content, and that
// the server fails closed when its key store is unreachable or sealed by the
// wrong key.
package encryption_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	fsbackend "github.com/coffre-cloud/coffre/backend/fs"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/meta/sqlite"
	"github.com/coffre-cloud/coffre/s3api"
	"github.com/coffre-cloud/coffre/vault"
)

const (
	kib = 1 << 10
	mib = 1 << 20

	// opTimeout bounds a whole test's S3 calls: a hang fails the test.
	opTimeout = 60 * time.Second
)

// newClient returns an SDK client for an endpoint: path-style, plain HTTP,
// one attempt per request (a server error must fail the test, not be
// retried away), and a connection pool of its own.
func newClient(endpoint, id, secret string, opts ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   awshttp.NewBuildableClient(),
	}, opts...)
}

// payload returns n reproducible pseudo-random bytes.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x656e6372797074))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// statusOf returns the HTTP status of a failed SDK call, or 0 when the call
// got no HTTP response.
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// codeOf returns the S3 error code of a failed SDK call, or "".
func codeOf(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func createBucket(t *testing.T, ctx context.Context, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
}

func putObject(t *testing.T, ctx context.Context, c *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		t.Fatalf("PutObject(%s/%s, %d bytes): %v", bucket, key, len(body), err)
	}
}

// getObject reads an object whole and fails the test unless it is want.
func getObject(t *testing.T, ctx context.Context, c *s3.Client, bucket, key string, want []byte) {
	t.Helper()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject(%s/%s): %v", bucket, key, err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatalf("GetObject(%s/%s): reading body: %v", bucket, key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("GetObject(%s/%s) = %d bytes, want the %d bytes written", bucket, key, len(got), len(want))
	}
}

// filesUnder returns the size of every regular file under dir, by path.
func filesUnder(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	files := map[string]int64{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files[path] = fi.Size()
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("listing %s: %v", dir, err)
	}
	return files
}

// blobFiles returns the blob files of an fs backend rooted at root (names
// ending in the backend's '+' mark, outside its +tmp directory), by path.
func blobFiles(t *testing.T, root string) map[string]int64 {
	t.Helper()
	blobs := map[string]int64{}
	for path, size := range filesUnder(t, filepath.Join(root, "obj")) {
		if strings.HasSuffix(path, "+") {
			blobs[path] = size
		}
	}
	return blobs
}

// stack is a Coffre site in the test process: SQLite metadata, a file-system
// backend whose files the test can alter while the server runs, a vault on
// a built-in keyring (wrapped by Keys when set), and the S3 handler over
// loopback HTTP. Its log is kept for the test to read.
type stack struct {
	dir    string // the backend's root
	vault  *vault.Vault
	url    string
	log    *logBuffer
	client map[string]*s3.Client // by tenant
}

type stackOpts struct {
	tenants []string
	// wrapKeys, when set, wraps the keyring the vault gets.
	wrapKeys func(keys.Store) keys.Store
	now      func() time.Time
}

func newStack(t *testing.T, o stackOpts) *stack {
	t.Helper()
	dir := t.TempDir()
	m, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	root := filepath.Join(dir, "offer")
	st, err := fsbackend.Open(root)
	if err != nil {
		t.Fatalf("fs.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	ks := testenv.Keyring(t)
	if o.wrapKeys != nil {
		ks = o.wrapKeys(ks)
	}
	lb := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(lb, &slog.HandlerOptions{Level: slog.LevelInfo}))
	v := vault.New(vault.Config{Meta: m, Backend: st, Keys: ks, Logger: log, Now: o.now})
	t.Cleanup(v.Close)
	// Requests run under a context that the cleanup cancels, so that a
	// request stuck in the server (a deadlock the test found) cannot hang
	// the cleanup, which waits for every request to end.
	base, stop := context.WithCancel(context.Background())
	srv := httptest.NewUnstartedServer(s3api.New(s3api.Config{Vault: v, Logger: log}))
	srv.Config.BaseContext = func(net.Listener) context.Context { return base }
	srv.Start()
	t.Cleanup(func() { // registered last: runs first, before the stores close
		stop()
		srv.Close()
	})
	s := &stack{dir: root, vault: v, url: srv.URL, log: lb, client: map[string]*s3.Client{}}
	ctx := context.Background()
	for _, tn := range o.tenants {
		if _, err := v.CreateTenant(ctx, tn); err != nil {
			t.Fatalf("CreateTenant(%s): %v", tn, err)
		}
		k, err := v.CreateAccessKey(ctx, tn)
		if err != nil {
			t.Fatalf("CreateAccessKey(%s): %v", tn, err)
		}
		s.client[tn] = newClient(srv.URL, k.ID, k.Secret)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", lb.String())
		}
	})
	return s
}

// blobs returns the paths of an object's blob files, in order.
func (s *stack) blobs(t *testing.T, tenant, bucket, key string) []string {
	t.Helper()
	o, err := s.vault.GetObject(context.Background(), vault.Principal{Tenant: tenant}, bucket, key, "")
	if err != nil {
		t.Fatalf("vault.GetObject(%s/%s): %v", bucket, key, err)
	}
	paths := make([]string, len(o.Blobs))
	for i, b := range o.Blobs {
		// The fs backend's file of a blob: its name under the root, then
		// the '+' mark.
		paths[i] = filepath.Join(s.dir, filepath.FromSlash(b.Name)) + "+"
		if _, err := os.Stat(paths[i]); err != nil {
			t.Fatalf("blob %d of %s/%s: %v", i, bucket, key, err)
		}
	}
	return paths
}

// logBuffer collects a JSON slog stream, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mark returns a position in the log, for errorsSince.
func (b *logBuffer) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// errorsSince returns the "err" attribute of every record logged since
// mark. Tests that read it issue one request at a time.
func (b *logBuffer) errorsSince(mark int) []string {
	var errs []string
	for _, line := range strings.Split(b.String()[mark:], "\n") {
		var rec struct {
			Err string `json:"err"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Err != "" {
			errs = append(errs, rec.Err)
		}
	}
	return errs
}
