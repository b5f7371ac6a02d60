// Package durability_test kills a real `coffre serve` process with SIGKILL
// while S3 clients write to it, restarts it on the same data directory, and
// checks what an operator relies on after a crash: every acknowledged write
// (and delete) is there, every interrupted one either landed whole or not at
// all, listings only show readable objects, and nothing is left on disk that
// no object references. It also measures that memory stays flat while a
// 2 GiB object streams through the server.
package durability_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffre-cloud/coffre/internal/detstream"
	"github.com/coffre-cloud/coffre/internal/testenv"
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// newClient returns an SDK client for srv: path-style, root credentials, and
// a single attempt per request, so that a request cut by the kill fails
// instead of being retried against the restarted server. Each call gets its
// own connection pool: connections to a killed process must not be reused.
func newClient(srv *testenv.Server, opts ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   awshttp.NewBuildableClient(),
	}, opts...)
}

// statusOf returns the HTTP status of a failed SDK call, or 0 when the call
// got no HTTP response (a connection error).
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// stream is size bytes, from byte base on, of the deterministic stream of
// a seed (internal/detstream): bodies are written and checked without being
// held in memory.
type stream = detstream.Stream

func newStream(seed uint64, base, size int64) *stream {
	return detstream.New("coffre durability stream", seed, base, size)
}

// sumOf returns the SHA-256 of size bytes of seed's stream.
func sumOf(seed uint64, size int64) [32]byte {
	h := sha256.New()
	buf := make([]byte, 256*kib)
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{newStream(seed, 0, size)}, buf); err != nil {
		panic(err) // a stream never fails
	}
	return [32]byte(h.Sum(nil))
}

// readSum reads r to its end and returns the SHA-256 and count of its bytes.
func readSum(r io.Reader) ([32]byte, int64, error) {
	h := sha256.New()
	n, err := io.CopyBuffer(h, struct{ io.Reader }{r}, make([]byte, 256*kib))
	return [32]byte(h.Sum(nil)), n, err
}

// serverPID returns the process ID of srv's `coffre serve`.
func serverPID(t *testing.T, srv *testenv.Server) int {
	t.Helper()
	pid := srv.PID()
	if pid == 0 {
		t.Fatal("the server is not running")
	}
	return pid
}

// rss returns the resident set size of a process (VmRSS), in bytes.
func rss(pid int) (int64, error) { return procStatus(pid, "VmRSS") }

// resetPeakRSS resets the kernel's record of a process's peak RSS (VmHWM)
// to its current RSS (proc(5), clear_refs).
func resetPeakRSS(pid int) error {
	return os.WriteFile(filepath.Join("/proc", strconv.Itoa(pid), "clear_refs"), []byte("5"), 0)
}

// procStatus returns a size field of /proc/PID/status (VmRSS, VmHWM...),
// in bytes.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("unexpected %s line %q", field, sc.Text())
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * kib, err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status (a zombie?)", field, pid)
}

// createBucket creates a bucket or fails the test.
func createBucket(t *testing.T, ctx context.Context, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
}
