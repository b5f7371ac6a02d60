package placement_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/coffre-cloud/coffre/backend"
)

// stepTimeout bounds each command and SDK call: the largest moves 12 MiB
// over loopback; a hang fails the step.
const stepTimeout = 2 * time.Minute

// shell runs commands in an environment of the test's choosing, each with
// a timeout, logging each command line so that a failure shows the steps
// that led to it.
type shell struct{ env []string }

// result is what one command did.
type result struct {
	argv           []string
	err            error // nil when it exited 0
	stdout, stderr string
}

func (r result) String() string {
	status := "exit status 0"
	if r.err != nil {
		status = r.err.Error()
	}
	return fmt.Sprintf("$ %s\n%s\n--- stdout:\n%s\n--- stderr:\n%s", quoteArgs(r.argv), status, r.stdout, r.stderr)
}

// try runs argv and returns what happened, whatever it was.
func (sh shell) try(t testing.TB, argv ...string) result {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = sh.env
	cmd.WaitDelay = 5 * time.Second // a child holding the pipes open cannot hang the test
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v (%v)", stepTimeout, err)
	}
	t.Logf("$ %s (%v)", quoteArgs(argv), time.Since(start).Round(time.Millisecond))
	return result{argv: argv, err: err, stdout: stdout.String(), stderr: stderr.String()}
}

// run runs argv, fails the test unless it exits 0, and returns its stdout.
func (sh shell) run(t testing.TB, argv ...string) string {
	t.Helper()
	res := sh.try(t, argv...)
	if res.err != nil {
		t.Fatalf("step failed:\n%s", res)
	}
	return res.stdout
}

// fail runs argv, which must fail with the S3 error code as the aws cli
// prints it ("An error occurred (CODE) when calling ..."), and returns its
// stderr.
func (sh shell) fail(t testing.TB, code string, argv ...string) string {
	t.Helper()
	res := sh.try(t, argv...)
	if res.err == nil || !strings.Contains(res.stderr, "("+code+")") {
		t.Fatalf("want a failure with S3 error code %s, got:\n%s", code, res)
	}
	return res.stderr
}

func quoteArgs(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$&;|<>()*?[]#~{}") {
			a = strconv.Quote(a)
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// withCredentials returns env with its AWS access key replaced.
func withCredentials(env []string, id, secret string) []string {
	var out []string
	for _, kv := range env {
		switch {
		case strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID="):
			kv = "AWS_ACCESS_KEY_ID=" + id
		case strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY="):
			kv = "AWS_SECRET_ACCESS_KEY=" + secret
		}
		out = append(out, kv)
	}
	return out
}

// credentialsIn returns the access key that `coffre key create` printed.
func credentialsIn(t testing.TB, out string) (id, secret string) {
	t.Helper()
	idm := regexp.MustCompile(`AWS_ACCESS_KEY_ID=(\S+)`).FindStringSubmatch(out)
	sm := regexp.MustCompile(`AWS_SECRET_ACCESS_KEY=(\S+)`).FindStringSubmatch(out)
	if idm == nil || sm == nil {
		t.Fatalf("coffre key create printed no credentials:\n%s", out)
	}
	return idm[1], sm[1]
}

// newClient returns an SDK client of a Coffre endpoint: path-style, and a
// single attempt per request, so that an error is seen as the server sent
// it rather than retried away.
func newClient(endpoint, id, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   awshttp.NewBuildableClient(),
	})
}

// mustAPIError fails the test unless err is an S3 error with the HTTP
// status and code, and returns its message.
func mustAPIError(t testing.TB, what string, err error, status int, code string) string {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded, want HTTP %d %s", what, status, code)
	}
	var re *awshttp.ResponseError
	gotStatus := 0
	if errors.As(err, &re) {
		gotStatus = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	gotCode, msg := "", ""
	if errors.As(err, &ae) {
		gotCode, msg = ae.ErrorCode(), ae.ErrorMessage()
	}
	if gotStatus != status || gotCode != code {
		t.Fatalf("%s: HTTP %d %s, want HTTP %d %s (%v)", what, gotStatus, gotCode, status, code, err)
	}
	return msg
}

// statusOf returns the HTTP status of a failed SDK call, or 0 when it got
// no HTTP response.
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// offer reads the blobs of one offer straight from its backend, as its
// provider holds them: blob names are opaque, so where a bucket's data went
// is told by which offer gained names.
type offer struct {
	name string
	// store lists a Swift container or an S3 bucket through Coffre's own
	// backend package.
	store backend.Store
	// dir is an fs offer's directory, walked rather than opened: the
	// serving process holds its lock.
	dir string
}

// blobs returns the names of the blobs the offer holds now.
func (o *offer) blobs(t testing.TB) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	if o.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		err := o.store.List(ctx, "", func(i backend.Info) error {
			names[i.Name] = true
			return nil
		})
		if err != nil {
			t.Fatalf("listing the blobs of offer %s: %v", o.name, err)
		}
		return names
	}
	// backend/fs stores blob NAME as the file NAME+; "+tmp" holds uploads
	// in progress.
	err := filepath.WalkDir(o.dir, func(p string, d iofs.DirEntry, err error) error {
		switch {
		case errors.Is(err, iofs.ErrNotExist) && p == o.dir:
			return iofs.SkipAll // not created yet: no blob
		case err != nil:
			return err
		case d.IsDir() && d.Name() == "+tmp":
			return iofs.SkipDir
		case d.Type().IsRegular() && strings.HasSuffix(d.Name(), "+"):
			rel, _ := filepath.Rel(o.dir, p)
			names[strings.TrimSuffix(filepath.ToSlash(rel), "+")] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking the directory of offer %s: %v", o.name, err)
	}
	return names
}

// added returns the names of after that are not in before, sorted.
func added(before, after map[string]bool) []string {
	var out []string
	for n := range after {
		if !before[n] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// kept returns the names of set that are still in now, sorted.
func kept(set []string, now map[string]bool) []string {
	var out []string
	for _, n := range set {
		if now[n] {
			out = append(out, n)
		}
	}
	return out
}

// randomBytes returns size pseudo-random bytes of seed, so that a failure
// can be reproduced.
func randomBytes(size int, seed uint64) []byte {
	b := make([]byte, size)
	src := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'p'})
	src.Read(b)
	return b
}

// writeFile writes b to a new file in dir and returns its path.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// mustEqual fails unless got holds the bytes of want.
func mustEqual(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes sha256 %s…, want the %d bytes uploaded, sha256 %s…", what, len(got), sha(got), len(want), sha(want))
	}
}

// lineWith returns the first line of out that contains every one of
// words, compared case-insensitively with runs of spaces counted as one,
// or "" when none does.
func lineWith(out string, words ...string) string {
	for line := range strings.Lines(out) {
		norm := strings.ToLower(strings.Join(strings.Fields(line), " "))
		if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(norm, strings.ToLower(w)) }) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// mustHaveLine fails unless a line of out contains every one of words.
func mustHaveLine(t testing.TB, what, out string, words ...string) string {
	t.Helper()
	line := lineWith(out, words...)
	if line == "" {
		t.Fatalf("%s: no line contains all of %q:\n%s", what, words, out)
	}
	return line
}

// getObject reads a whole object through the SDK.
func getObject(ctx context.Context, c *s3.Client, bucket, key string) ([]byte, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}
