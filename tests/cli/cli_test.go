// Package cli_test drives a real `coffre serve` process with the S3 clients
// people use: the aws cli, rclone and s3cmd, as Debian ships them. Each test
// is one realistic session (make a bucket, upload single-part and multipart
// objects, list, sync, download and compare, presign, delete) and fails on
// the first step that goes wrong, with that step's command line, exit status
// and output.
package cli_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/internal/testenv"
)

const (
	mib = 1 << 20
	// stepTimeout bounds each client command: the slowest moves 100 MiB
	// over loopback, which takes seconds; a hang fails the step.
	stepTimeout = 3 * time.Minute
)

func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a real server and 150 MiB through the aws cli (runs without -short)")
	}
	aws := testenv.AWSCLI(t)
	curl := testenv.Need(t, "curl")
	srv := testenv.StartCoffre(t, testenv.Opts{})
	sh := shell{t: t, env: testenv.AWSEnv(srv)}
	awsc := func(args ...string) string {
		t.Helper()
		return sh.run(append([]string{aws, "--endpoint-url", srv.Endpoint}, args...)...)
	}

	local := t.TempDir()
	big20 := filepath.Join(local, "20MiB.bin")
	big100 := filepath.Join(local, "100MiB.bin")
	sum20 := writeRandomFile(t, big20, 20*mib, 20)
	sum100 := writeRandomFile(t, big100, 100*mib, 100)
	tree := filepath.Join(local, "tree")
	files := writeTree(t, tree)

	const bucket = "aws-cli-session"
	awsc("s3", "mb", "s3://"+bucket)
	mustContainLine(t, "aws s3 ls", awsc("s3", "ls"), bucket)

	// Both files are above the aws cli's 8 MiB multipart threshold.
	awsc("s3", "cp", big20, "s3://"+bucket+"/blobs/20MiB.bin")
	awsc("s3", "cp", big100, "s3://"+bucket+"/blobs/100MiB.bin")
	ls := awsc("s3", "ls", "s3://"+bucket+"/blobs/")
	mustContainLine(t, "aws s3 ls blobs/", ls, strconv.Itoa(20*mib)+" 20MiB.bin")
	mustContainLine(t, "aws s3 ls blobs/", ls, strconv.Itoa(100*mib)+" 100MiB.bin")

	// sync uploads every file once; a second sync finds nothing to do.
	out := awsc("s3", "sync", tree, "s3://"+bucket+"/tree/")
	if got, want := strings.Count(out, "upload: "), len(files); got != want {
		t.Fatalf("first aws s3 sync uploaded %d files, want %d:\n%s", got, want, out)
	}
	if out := awsc("s3", "sync", tree, "s3://"+bucket+"/tree/"); strings.Contains(out, "upload: ") {
		t.Fatalf("second aws s3 sync uploaded again, want nothing to do:\n%s", out)
	}
	if got, want := countLines(awsc("s3", "ls", "--recursive", "s3://"+bucket+"/tree/")), len(files); got != want {
		t.Fatalf("aws s3 ls --recursive tree/ listed %d objects, want %d", got, want)
	}
	back := filepath.Join(t.TempDir(), "tree")
	awsc("s3", "sync", "s3://"+bucket+"/tree/", back)
	compareTrees(t, files, tree, back)

	down := t.TempDir()
	awsc("s3", "cp", "s3://"+bucket+"/blobs/20MiB.bin", filepath.Join(down, "20MiB.bin"))
	awsc("s3", "cp", "s3://"+bucket+"/blobs/100MiB.bin", filepath.Join(down, "100MiB.bin"))
	mustHaveSum(t, filepath.Join(down, "20MiB.bin"), sum20)
	mustHaveSum(t, filepath.Join(down, "100MiB.bin"), sum100)

	var head struct {
		ContentLength int64
		ETag          string
		LastModified  string
	}
	decodeJSON(t, awsc("s3api", "head-object", "--bucket", bucket, "--key", "blobs/20MiB.bin"), &head)
	if head.ContentLength != 20*mib || head.ETag == "" || head.LastModified == "" {
		t.Fatalf("aws s3api head-object blobs/20MiB.bin = %+v, want ContentLength %d and an ETag and LastModified", head, 20*mib)
	}

	// A presigned URL works with a plain HTTP client, and only as signed.
	url := strings.TrimSpace(awsc("s3", "presign", "s3://"+bucket+"/blobs/20MiB.bin", "--expires-in", "300"))
	fetched := filepath.Join(down, "presigned.bin")
	sh.run(curl, "-fsS", "-o", fetched, url)
	mustHaveSum(t, fetched, sum20)
	if code := sh.run(curl, "-sS", "-o", os.DevNull, "-w", "%{http_code}", tamperSignature(t, url)); code != "403" {
		t.Fatalf("GET of a presigned URL with an altered signature: HTTP status %s, want 403", code)
	}

	awsc("s3", "rm", "--recursive", "s3://"+bucket+"/")
	var list struct{ KeyCount int }
	decodeJSON(t, awsc("s3api", "list-objects-v2", "--no-paginate", "--bucket", bucket), &list)
	if list.KeyCount != 0 {
		t.Fatalf("after aws s3 rm --recursive, list-objects-v2 KeyCount = %d, want 0", list.KeyCount)
	}
	awsc("s3", "rb", "s3://"+bucket)
	if out := awsc("s3", "ls"); strings.Contains(out, bucket) {
		t.Fatalf("aws s3 ls after rb still lists %s:\n%s", bucket, out)
	}
}

// TestAWSCLIEmptyFileFirst uploads an empty file and then non-empty ones
// one at a time, so that they share one kept-alive connection. botocore sends
// every upload with Expect: 100-continue; when the final response to the
// empty one came without a 100 first, it parsed the next response on that
// connection with the old status line and waited for a body until its read
// timeout (boto/botocore#3755). TestAWSCLI's sync met this at random.
func TestAWSCLIEmptyFileFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a real server driven by the aws cli (runs without -short)")
	}
	aws := testenv.AWSCLI(t)
	srv := testenv.StartCoffre(t, testenv.Opts{})
	config := filepath.Join(t.TempDir(), "aws-config")
	writeFile(t, config, "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n    max_concurrent_requests = 1\n")
	sh := shell{t: t, env: append(testenv.AWSEnv(srv), "AWS_CONFIG_FILE="+config)}
	awsc := func(args ...string) string {
		t.Helper()
		// A read timeout far below the 60 s default: the failure it looks
		// for is a wait that never ends.
		return sh.run(append([]string{aws, "--endpoint-url", srv.Endpoint, "--cli-read-timeout", "20"}, args...)...)
	}
	dir := t.TempDir()
	files := map[string][]byte{"a-empty.txt": {}}
	for i := range 3 {
		files[fmt.Sprintf("b-data-%d.txt", i)] = []byte(strings.Repeat("donnée ", 100*(i+1)))
	}
	for name, b := range files {
		writeFile(t, filepath.Join(dir, name), string(b))
	}
	const bucket = "aws-cli-empty-first"
	awsc("s3", "mb", "s3://"+bucket)
	out := awsc("s3", "cp", "--recursive", dir, "s3://"+bucket+"/")
	if got := strings.Count(out, "upload: "); got != len(files) {
		t.Fatalf("aws s3 cp --recursive uploaded %d files, want %d:\n%s", got, len(files), out)
	}
	back := t.TempDir()
	awsc("s3", "cp", "--recursive", "s3://"+bucket+"/", back)
	compareTrees(t, files, dir, back)
}

func TestRclone(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a real server driven by rclone (runs without -short)")
	}
	rclone := testenv.Need(t, "rclone")
	srv := testenv.StartCoffre(t, testenv.Opts{})
	// The remote "coffre:" is configured entirely from the environment,
	// without AWS_ variables: rclone's AWS SDK would read AWS_CA_BUNDLE and
	// the like.
	sh := shell{t: t, env: append(environWithout("RCLONE_", "AWS_"),
		"RCLONE_CONFIG="+filepath.Join(t.TempDir(), "rclone.conf"), // absent: no user config
		"RCLONE_CONFIG_COFFRE_TYPE=s3",
		"RCLONE_CONFIG_COFFRE_PROVIDER=Other",
		"RCLONE_CONFIG_COFFRE_ENV_AUTH=false",
		"RCLONE_CONFIG_COFFRE_ACCESS_KEY_ID="+srv.AccessKey,
		"RCLONE_CONFIG_COFFRE_SECRET_ACCESS_KEY="+srv.SecretKey,
		"RCLONE_CONFIG_COFFRE_REGION=us-east-1",
		"RCLONE_CONFIG_COFFRE_ENDPOINT="+srv.Endpoint,
		"RCLONE_CONFIG_COFFRE_FORCE_PATH_STYLE=true",
	)}
	rc := func(args ...string) result {
		t.Helper()
		// One try per request: a server error fails the step, it is not retried away.
		return sh.runResult(append([]string{rclone, "--retries", "1", "--low-level-retries", "1"}, args...)...)
	}

	local := t.TempDir()
	tree := filepath.Join(local, "tree")
	files := writeTree(t, tree)
	big := filepath.Join(local, "20MiB.bin")
	sum := writeRandomFile(t, big, 20*mib, 21)

	const remote = "coffre:rclone-session"
	rc("mkdir", remote)
	rc("copy", tree, remote+"/tree")
	ls := rc("ls", remote).stdout
	if got, want := countLines(ls), len(files); got != want {
		t.Fatalf("rclone ls listed %d objects, want %d:\n%s", got, want, ls)
	}
	for name := range files {
		mustContainLine(t, "rclone ls", ls, "tree/"+name)
	}
	// check compares MD5 hashes; it must not fall back to sizes only.
	res := rc("check", tree, remote+"/tree")
	if !strings.Contains(res.stderr, "0 differences found") || strings.Contains(res.stderr, "hashes could not be checked") ||
		strings.Contains(res.stderr, "No common hash") {
		t.Fatalf("rclone check did not verify every hash:\n%s", res)
	}

	// Above the 5 MiB cutoff: a multipart upload of 5 MiB parts.
	rc("copyto", big, remote+"/big/20MiB.bin", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M")
	if got := sha256Hex([]byte(rc("cat", remote+"/big/20MiB.bin").stdout)); got != sum {
		t.Fatalf("rclone cat big/20MiB.bin: sha256 %s, want %s", got, sum)
	}
	// A multipart ETag is no MD5: rclone keeps the MD5 in user metadata.
	md5sum := rc("md5sum", remote+"/big/20MiB.bin").stdout
	if got, _, _ := strings.Cut(md5sum, " "); got != md5Hex(t, big) {
		t.Fatalf("rclone md5sum big/20MiB.bin = %q, want %s (x-amz-meta-md5chksum round trip)", md5sum, md5Hex(t, big))
	}

	rc("delete", remote)
	if ls := rc("ls", remote).stdout; ls != "" {
		t.Fatalf("rclone ls after delete:\n%s\nwant nothing", ls)
	}
	rc("rmdir", remote)
	if out := rc("lsd", "coffre:").stdout; strings.Contains(out, "rclone-session") {
		t.Fatalf("rclone lsd after rmdir still lists the bucket:\n%s", out)
	}
}

func TestS3cmd(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a real server driven by s3cmd (runs without -short)")
	}
	s3cmd := testenv.Need(t, "s3cmd")
	srv := testenv.StartCoffre(t, testenv.Opts{})
	// host_bucket without %(bucket)s: path-style requests to the endpoint.
	config := filepath.Join(t.TempDir(), "s3cfg")
	writeFile(t, config, fmt.Sprintf(`[default]
access_key = %s
secret_key = %s
host_base = %s
host_bucket = %[3]s
bucket_location = us-east-1
use_https = False
signature_v2 = False
multipart_chunk_size_mb = 5
`, srv.AccessKey, srv.SecretKey, srv.Addr))
	sh := shell{t: t, env: os.Environ()}
	s3 := func(args ...string) string {
		t.Helper()
		return sh.run(append([]string{s3cmd, "--config", config, "--no-progress"}, args...)...)
	}

	local := t.TempDir()
	big := filepath.Join(local, "20MiB.bin")
	sum := writeRandomFile(t, big, 20*mib, 22)

	const bucket = "s3://s3cmd-session"
	s3("mb", bucket)
	mustContainLine(t, "s3cmd ls", s3("ls"), bucket)
	// Above multipart_chunk_size_mb: four 5 MiB parts.
	s3("put", big, bucket+"/big/20MiB.bin")
	mustContainLine(t, "s3cmd ls", s3("ls", bucket+"/big/"), strconv.Itoa(20*mib)+"  "+bucket+"/big/20MiB.bin")
	got := filepath.Join(t.TempDir(), "20MiB.bin")
	if res := sh.runResult(s3cmd, "--config", config, "--no-progress", "get", bucket+"/big/20MiB.bin", got); strings.Contains(res.stderr, "MD5") {
		t.Fatalf("s3cmd get warned about the MD5:\n%s", res)
	}
	mustHaveSum(t, got, sum)
	info := s3("info", bucket+"/big/20MiB.bin")
	mustContainLine(t, "s3cmd info", info, "File size: "+strconv.Itoa(20*mib))
	s3("del", bucket+"/big/20MiB.bin")
	if out := s3("ls", "--recursive", bucket); strings.TrimSpace(out) != "" {
		t.Fatalf("s3cmd ls --recursive after del:\n%s\nwant nothing", out)
	}
	s3("rb", bucket)
	if out := s3("ls"); strings.Contains(out, bucket) {
		t.Fatalf("s3cmd ls after rb still lists %s:\n%s", bucket, out)
	}
}

// shell runs client commands for one test, each with a timeout, in an
// environment of the test's choosing.
type shell struct {
	t   *testing.T
	env []string
}

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

// try runs argv and returns what happened, whatever it was. The command
// line is logged, so a failing test shows the steps that led to it.
func (sh shell) try(argv ...string) result {
	sh.t.Helper()
	start := time.Now()
	defer func() {
		sh.t.Helper()
		sh.t.Logf("$ %s (%v)", quoteArgs(argv), time.Since(start).Round(time.Millisecond))
	}()
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
	return result{argv: argv, err: err, stdout: stdout.String(), stderr: stderr.String()}
}

// runResult runs argv and fails the test unless it exits 0.
func (sh shell) runResult(argv ...string) result {
	sh.t.Helper()
	res := sh.try(argv...)
	if res.err != nil {
		sh.t.Fatalf("step failed:\n%s", res)
	}
	return res
}

// run runs argv, fails the test unless it exits 0, and returns its stdout.
func (sh shell) run(argv ...string) string {
	sh.t.Helper()
	return sh.runResult(argv...).stdout
}

func quoteArgs(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$&;|<>()*?[]#~") {
			a = strconv.Quote(a)
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// writeRandomFile writes size pseudo-random bytes (from seed, so a failure
// can be reproduced) to path and returns their SHA-256 in hex.
func writeRandomFile(t *testing.T, path string, size int64, seed uint64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	src := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	if _, err := io.CopyN(io.MultiWriter(f, h), src, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeTree writes about fifty small files in nested directories under dir,
// names with spaces and accents and an empty file among them, dated an hour
// ago (as files that exist before a sync are), and returns their contents by
// slash-separated path.
func writeTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{
		"README.txt":                          []byte("files for the sync test\n"),
		"empty.txt":                           {},
		"docs/procès-verbal du conseil.txt":   []byte("séance du 3 mars\n"),
		"docs/notes 2024/janvier (final).txt": []byte("notes\n"),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 46 {
		name := fmt.Sprintf("data/d%d/e%d/file-%02d.bin", i%4, i%3, i)
		b := make([]byte, 1+r.IntN(64<<10))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		files[name] = b
	}
	past := time.Now().Add(-time.Hour)
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, string(b))
		if err := os.Chtimes(p, past, past); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// compareTrees checks that dir got holds exactly the files of want.
func compareTrees(t *testing.T, want map[string][]byte, wantDir, gotDir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(gotDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(gotDir, p)
		name := filepath.ToSlash(rel)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		w, ok := want[name]
		if !ok {
			return fmt.Errorf("unexpected file %s", name)
		}
		if !bytes.Equal(b, w) {
			return fmt.Errorf("%s: %d bytes differ from the %d bytes in %s", name, len(b), len(w), wantDir)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatalf("downloaded tree %s: %v", gotDir, err)
	}
	if n != len(want) {
		t.Fatalf("downloaded tree %s has %d files, want %d", gotDir, n, len(want))
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func fileHash(t *testing.T, path string, h interface {
	io.Writer
	Sum([]byte) []byte
}) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func md5Hex(t *testing.T, path string) string {
	t.Helper()
	return fileHash(t, path, md5.New())
}

func mustHaveSum(t *testing.T, path, want string) {
	t.Helper()
	if got := fileHash(t, path, sha256.New()); got != want {
		t.Fatalf("%s: sha256 %s, want %s (the uploaded content)", path, got, want)
	}
}

// mustContainLine fails unless a line of out contains want, with runs of
// spaces counted as one (clients align their columns).
func mustContainLine(t *testing.T, what, out, want string) {
	t.Helper()
	want = strings.Join(strings.Fields(want), " ")
	for line := range strings.Lines(out) {
		if strings.Contains(strings.Join(strings.Fields(line), " "), want) {
			return
		}
	}
	t.Fatalf("%s output has no line with %q:\n%s", what, want, out)
}

func countLines(s string) int {
	n := 0
	for line := range strings.Lines(s) {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return n
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decoding %T from client output: %v\n%s", v, err, s)
	}
}

// tamperSignature flips the last hex digit of a presigned URL's signature.
func tamperSignature(t *testing.T, url string) string {
	t.Helper()
	i := strings.Index(url, "X-Amz-Signature=")
	if i < 0 {
		t.Fatalf("presigned URL has no X-Amz-Signature: %s", url)
	}
	end := i + len("X-Amz-Signature=")
	for end < len(url) && url[end] != '&' {
		end++
	}
	last := url[end-1]
	flipped := byte('0')
	if last == '0' {
		flipped = '1'
	}
	return url[:end-1] + string(flipped) + url[end:]
}

// environWithout returns the environment without the variables whose names
// start with one of prefixes.
func environWithout(prefixes ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			env = append(env, kv)
		}
	}
	return env
}
