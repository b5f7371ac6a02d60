package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Time limits of a server's life cycle. They bound a broken server, not a
// healthy one: a server that is ready returns at once.
const (
	startTimeout = 30 * time.Second // until GET /healthz answers 200
	stopTimeout  = 10 * time.Second // from SIGTERM until the process exits, then SIGKILL
)

var built struct {
	once sync.Once
	path string
	err  error
}

// BuildCoffre builds ./cmd/coffre once per test binary and returns the path of
// the executable. The binary goes to a fresh directory under os.TempDir;
// directories left by test binaries that have since exited are removed on the
// next build.
func BuildCoffre(tb testing.TB) string {
	tb.Helper()
	built.once.Do(func() { built.path, built.err = buildCoffre() })
	if built.err != nil {
		tb.Fatal(built.err)
	}
	return built.path
}

const buildDirPrefix = "coffre-testenv-"

func buildCoffre() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	removeStaleBuildDirs()
	dir, err := os.MkdirTemp("", buildDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", err
	}
	exe := filepath.Join(dir, "coffre")
	cmd := exec.Command("go", "build", "-o", exe, "./cmd/coffre")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build ./cmd/coffre in %s: %v\n%s", root, err, out)
	}
	return exe, nil
}

// moduleRoot returns the directory of Coffre's go.mod, asking the go command
// from the test's working directory (a package directory of the module), or
// else from the directory of this source file.
func moduleRoot() (string, error) {
	dirs := []string{""}
	if _, file, _, ok := runtime.Caller(0); ok {
		dirs = append(dirs, filepath.Dir(file))
	}
	for _, dir := range dirs {
		cmd := exec.Command("go", "env", "GOMOD")
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			continue
		}
		gomod := strings.TrimSpace(string(out))
		if gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	return "", errors.New("testenv: cannot find Coffre's go.mod (go env GOMOD is empty): run the tests from inside the repository")
}

// removeStaleBuildDirs removes the build directories of test binaries that
// are no longer running. Their names carry the builder's process ID.
func removeStaleBuildDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), buildDirPrefix+"*"))
	for _, dir := range matches {
		pid, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), buildDirPrefix), "-")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(pid); err == nil && n != os.Getpid() && !processAlive(n) {
			os.RemoveAll(dir)
		}
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// It never returns the same port twice in one test binary: the kernel may
// hand a just-closed port out again at once, and a server given two equal
// ports (S3 and identity) would not start.
func FreePort(tb testing.TB) int {
	tb.Helper()
	freePorts.Lock()
	defer freePorts.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("testenv: no free port on 127.0.0.1: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !freePorts.given[port] {
			freePorts.given[port] = true
			return port
		}
	}
	tb.Fatal("testenv: the kernel keeps handing out ports already given")
	return 0
}

// freePorts are the ports FreePort gave.
var freePorts = struct {
	sync.Mutex
	given map[int]bool
}{given: make(map[int]bool)}

// Opts configures StartCoffre. The zero value is a server on a fresh data
// directory with no extra flags.
type Opts struct {
	// DataDir is passed as --data. Default: a new t.TempDir().
	DataDir string
	// Env holds extra KEY=VALUE variables for the process; they override
	// the inherited environment and the generated root credentials.
	Env []string
	// Args are appended to `coffre serve --data DIR --s3-addr ADDR
	// --identity-addr ADDR` (a later --identity-addr wins).
	Args []string
	// IdentityHost, when set, names the identity provider's host in its
	// issuer (--identity-issuer http://HOST:PORT) while it still listens on
	// 127.0.0.1:PORT. Browser tests set "localhost": WebAuthn refuses an IP
	// address as relying party ID.
	IdentityHost string
}

// Server is a running `coffre serve` process. Its output (stdout and stderr)
// is printed when the test fails.
type Server struct {
	// Endpoint is the S3 endpoint, http://127.0.0.1:PORT.
	Endpoint string
	// Addr is the S3 listen address, 127.0.0.1:PORT.
	Addr string
	// AccessKey and SecretKey are the root credentials the server was
	// started with (COFFRE_ROOT_ACCESS_KEY, COFFRE_ROOT_SECRET_KEY).
	AccessKey, SecretKey string
	// DataDir is the server's --data directory.
	DataDir string
	// Issuer is the identity provider's issuer, http://127.0.0.1:PORT (a
	// port of its own, kept across restarts; Opts.IdentityHost replaces
	// 127.0.0.1), unless Args turn it off.
	Issuer string

	exe     string
	args    []string
	env     []string
	out     *tailBuffer
	tmp     string // holds client configuration files (AWSEnv)
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	waitErr error
}

// StartCoffre builds Coffre (once) and runs `coffre serve` on a free port of
// 127.0.0.1 with generated root credentials, waits until GET /healthz answers
// 200, and stops the server when the test ends.
func StartCoffre(tb testing.TB, opts Opts) *Server {
	tb.Helper()
	exe := BuildCoffre(tb)
	s := &Server{
		AccessKey: "TEST" + strings.ToUpper(randomHex(8)),
		SecretKey: randomHex(20),
		DataDir:   opts.DataDir,
		exe:       exe,
		out:       &tailBuffer{max: 4 << 20},
		tmp:       tb.TempDir(),
	}
	if s.DataDir == "" {
		s.DataDir = tb.TempDir()
	}
	if err := os.WriteFile(filepath.Join(s.tmp, awsConfigFile), []byte(awsConfig), 0o600); err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(tb)))
	s.Endpoint = "http://" + s.Addr
	idPort := strconv.Itoa(FreePort(tb))
	idAddr := net.JoinHostPort("127.0.0.1", idPort)
	s.Issuer = "http://" + idAddr
	s.args = []string{"serve", "--data", s.DataDir, "--s3-addr", s.Addr, "--identity-addr", idAddr}
	if opts.IdentityHost != "" {
		s.Issuer = "http://" + net.JoinHostPort(opts.IdentityHost, idPort)
		s.args = append(s.args, "--identity-issuer", s.Issuer)
	}
	s.args = append(s.args, opts.Args...)
	s.env = append(environWithout("COFFRE_"),
		"COFFRE_ROOT_ACCESS_KEY="+s.AccessKey,
		"COFFRE_ROOT_SECRET_KEY="+s.SecretKey)
	s.env = append(s.env, opts.Env...)

	// Cleanups run last-registered first: stop the server, then print
	// everything it wrote, shutdown included.
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("coffre %s output:\n%s", strings.Join(s.args, " "), s.out.String())
		}
	})
	tb.Cleanup(func() {
		if tb.Failed() {
			// SIGQUIT: the Go runtime prints every goroutine's stack before
			// exiting, so that a request that hung shows where.
			s.stop(syscall.SIGQUIT)
			return
		}
		if err := s.Stop(); err != nil {
			tb.Logf("testenv: stopping coffre: %v", err)
		}
	})
	s.start(tb)
	return s
}

// Restart stops the server if it is still running (SIGTERM), then starts it
// again with the same data directory, port, credentials and flags, and waits
// until it is healthy.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if err := s.Stop(); err != nil {
		tb.Logf("testenv: stopping coffre before restart: %v", err)
	}
	s.start(tb)
}

// Stop sends SIGTERM and waits for the process to exit, killing it if it has
// not exited after 10 s. It returns nil if the process exited with status 0
// (or had already been stopped), and otherwise how it ended.
func (s *Server) Stop() error {
	return s.stop(syscall.SIGTERM)
}

// Kill sends SIGKILL and waits for the process to exit: a crash, as far as
// the data directory can tell.
func (s *Server) Kill() {
	s.stop(syscall.SIGKILL)
}

// Output returns what the server has written to stdout and stderr so far
// (the last 4 MiB of it), across restarts.
func (s *Server) Output() string { return s.out.String() }

// PID returns the process ID of the running server, or 0 when it is stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) start(tb testing.TB) {
	tb.Helper()
	cmd := exec.Command(s.exe, s.args...)
	cmd.Env = s.env
	cmd.Stdout = s.out
	cmd.Stderr = s.out
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = stopTimeout // in case a child keeps the output pipes open
	fmt.Fprintf(s.out, "--- testenv: %s %s\n", filepath.Base(s.exe), strings.Join(s.args, " "))
	if err := cmd.Start(); err != nil {
		tb.Fatalf("testenv: starting coffre: %v", err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done, s.waitErr = cmd, done, nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(done)
	}()
	s.waitHealthy(tb, done)
}

// waitHealthy polls GET /healthz until it answers 200, the process exits, or
// startTimeout passes.
func (s *Server) waitHealthy(tb testing.TB, exited <-chan struct{}) {
	tb.Helper()
	url := s.Endpoint + "/healthz"
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-exited:
			s.mu.Lock()
			err := s.waitErr
			s.mu.Unlock()
			tb.Fatalf("testenv: coffre exited (%v) before GET %s answered 200 (last: %s)", err, url, last)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("testenv: GET %s did not answer 200 within %v (last: %s)", url, startTimeout, last)
		}
	}
}

func (s *Server) stop(sig syscall.Signal) error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		// Already exited: report how, once.
	default:
		cmd.Process.Signal(sig)
		select {
		case <-done:
		case <-time.After(stopTimeout):
			cmd.Process.Kill()
			<-done
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			return fmt.Errorf("coffre did not exit within %v of %v; killed", stopTimeout, sig)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmd = nil
	if sig == syscall.SIGKILL {
		return nil
	}
	return s.waitErr
}

func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// tailBuffer is an io.Writer safe for concurrent use that keeps the last max
// bytes written to it (roughly: it drops the older half when full).
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len()+len(p) > b.max {
		keep := bytes.Clone(b.buf.Bytes()[b.buf.Len()/2:])
		b.buf.Reset()
		b.buf.WriteString("[... earlier output dropped ...]\n")
		b.buf.Write(keep)
	}
	return b.buf.Write(p)
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
