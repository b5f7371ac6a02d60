//go:build unix

package testenv

import (
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

// SwiftServer is an OpenStack Swift all-in-one on 127.0.0.1: memcached, an
// account, a container and an object server on single-replica rings, and a
// proxy whose pipeline has tempauth (Swift's native API) and s3api (the S3
// API over the same accounts). See Swift.
type SwiftServer struct {
	// AuthURL is the tempauth (v1.0) endpoint, http://127.0.0.1:PORT/auth/v1.0.
	AuthURL string
	// User and Key are tempauth credentials of an account admin
	// ("test:tester", "testing").
	User, Key string

	// S3Endpoint is the s3api endpoint of the same proxy,
	// http://127.0.0.1:PORT. Buckets are addressed in the path.
	S3Endpoint string
	// S3AccessKey and S3SecretKey are the same tempauth user as SigV4
	// credentials ("test:tester", "testing"); S3Region is "us-east-1".
	S3AccessKey, S3SecretKey, S3Region string

	// ProxyAddr is the proxy's listen address, 127.0.0.1:PORT.
	ProxyAddr string
	// Dir holds the configuration (etc/), rings and the one device (srv/d1).
	Dir string
	// StartTime is how long the start took: rings, daemons, and until an
	// authenticated request worked.
	StartTime time.Duration

	mu    sync.Mutex
	procs map[string]*swiftProc // by name: memcached, account, container, object, proxy
}

// swiftProc is one daemon, in a process group of its own.
type swiftProc struct {
	name string
	args []string
	out  *tailBuffer
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	err  error         // how it exited, valid after done
}

// Swift returns the OpenStack Swift of this test binary, starting it on
// first use (two to four seconds, ~260 MiB of memory). Its constraints
// are Swift's defaults (max_file_size 5 GiB + 2): Swift 2.30 reads them
// from /etc/swift/swift.conf whatever swift_dir says, and that file is
// left alone.
//
// One instance serves every test of a binary; `go test ./...` runs
// packages' binaries concurrently, and each gets its own instance on free
// ports, in its own directory. Tests must therefore not assume an empty
// account: each makes containers (buckets) of its own, with unique names.
// The instance lives as long as the test binary: every daemon is started
// with a parent-death signal (SIGKILL), so the kernel stops it when the
// binary exits, however it exits; the directory is removed by the next
// binary that starts a Swift. When a test that called Swift fails, the tail
// of each daemon's log is printed.
//
// It fails the test, never skips it, when Swift or memcached is not
// installed.
func Swift(tb testing.TB) *SwiftServer {
	tb.Helper()
	needSwift(tb)
	swiftShared.once.Do(func() { swiftShared.s, swiftShared.err = startSwift() })
	if swiftShared.err != nil {
		tb.Fatal(swiftShared.err)
	}
	s := swiftShared.s
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("testenv: Swift logs (tail):\n%s", s.Logs(8<<10))
		}
	})
	return s
}

var swiftShared struct {
	once sync.Once
	s    *SwiftServer
	err  error
}

// swiftPrograms are the executables Swift needs, with the Debian package
// that has each.
var swiftPrograms = [][2]string{
	{"memcached", "memcached"},
	{"swift-ring-builder", "swift"},
	{"swift-account-server", "swift-account"},
	{"swift-container-server", "swift-container"},
	{"swift-object-server", "swift-object"},
	{"swift-proxy-server", "swift-proxy"},
}

func needSwift(tb testing.TB) {
	tb.Helper()
	for _, p := range swiftPrograms {
		if _, err := exec.LookPath(p[0]); err != nil {
			tb.Fatalf("%s is not installed (package %s): run scripts/deps.sh (make test installs it)", p[0], p[1])
		}
	}
}

// Time limits of the Swift life cycle; they bound a broken setup, not a
// healthy one.
const (
	swiftStartTimeout = 60 * time.Second
	swiftStopTimeout  = 10 * time.Second
	swiftDirPrefix    = "coffre-swift-"
	swiftStartTries   = 3 // free ports are only free a moment ago
)

// Swift's ports: the storage servers' are written into the rings.
type swiftPorts struct {
	memcached, account, container, object, proxy int
}

func freeSwiftPorts() (swiftPorts, error) {
	var ports [5]int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	// Hold all five at once so that they differ.
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return swiftPorts{}, fmt.Errorf("testenv: no free port on 127.0.0.1: %v", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return swiftPorts{ports[0], ports[1], ports[2], ports[3], ports[4]}, nil
}

// startSwift starts a new instance, retrying on fresh ports when a daemon
// could not bind its port (another process took it meanwhile).
func startSwift() (*SwiftServer, error) {
	removeStaleSwiftDirs()
	var err error
	for range swiftStartTries {
		var s *SwiftServer
		s, err = startSwiftOnce()
		if err == nil {
			return s, nil
		}
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	return nil, err
}

func startSwiftOnce() (_ *SwiftServer, err error) {
	start := time.Now()
	ports, err := freeSwiftPorts()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", swiftDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, err
	}
	s := &SwiftServer{
		User:        "test:tester",
		Key:         "testing",
		S3AccessKey: "test:tester",
		S3SecretKey: "testing",
		S3Region:    "us-east-1",
		ProxyAddr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.proxy)),
		Dir:         dir,
		procs:       map[string]*swiftProc{},
	}
	s.AuthURL = "http://" + s.ProxyAddr + "/auth/v1.0"
	s.S3Endpoint = "http://" + s.ProxyAddr
	defer func() {
		if err != nil {
			logs := s.Logs(4 << 10)
			s.Stop()
			os.RemoveAll(dir)
			err = fmt.Errorf("%w\n%s", err, logs)
		}
	}()

	etc := filepath.Join(dir, "etc")
	for _, d := range []string{etc, filepath.Join(dir, "srv", "d1")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	if err := writeSwiftConfig(dir, ports); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(swiftStartTimeout)

	// The rings are built while the daemons start: only the proxy reads
	// them at start-up, and Python's start-up is most of the time of both.
	rings := make(chan error, 1)
	go func() { rings <- buildSwiftRings(etc, ports) }()
	defer func() {
		if rings != nil {
			<-rings // the builders run in dir, which the caller removes on error
		}
	}()

	// memcached first: tempauth keeps its tokens there, and a proxy that
	// found it down error-limits it for a minute (MACHINE-FACTS.md §1).
	if err := s.startProc("memcached", "memcached", "-u", "root", "-l", "127.0.0.1",
		"-p", strconv.Itoa(ports.memcached), "-U", "0", "-m", "64"); err != nil {
		return nil, err
	}
	for _, name := range []string{"account", "container", "object"} {
		conf := filepath.Join(etc, name+"-server.conf")
		if err := s.startProc(name, "swift-"+name+"-server", conf, "-v"); err != nil {
			return nil, err
		}
	}
	err, rings = <-rings, nil
	if err != nil {
		return nil, err
	}
	for _, srv := range []struct {
		name string
		port int
	}{{"memcached", ports.memcached}, {"account", ports.account}, {"container", ports.container}, {"object", ports.object}} {
		if err := s.waitListening(srv.name, srv.port, deadline); err != nil {
			return nil, err
		}
	}
	if err := s.startProxy(deadline); err != nil {
		return nil, err
	}
	s.StartTime = time.Since(start)
	return s, nil
}

// StopProxy stops the proxy (SIGTERM to its process group), so that
// clients see connections refused, as during an outage of the whole
// cluster. The other daemons keep running. Tests that stop the proxy share
// it with the binary's other tests: they must not run in parallel with
// them, and they must call StartProxy (which StopProxy registers as a
// cleanup in case the test ends first).
func (s *SwiftServer) StopProxy(tb testing.TB) {
	tb.Helper()
	if err := s.stopProc("proxy"); err != nil {
		tb.Logf("testenv: stopping the Swift proxy: %v", err)
	}
	tb.Cleanup(func() {
		if !s.running("proxy") {
			s.StartProxy(tb)
		}
	})
}

// StartProxy starts the proxy again on the same port, and waits until an
// authenticated request works.
func (s *SwiftServer) StartProxy(tb testing.TB) {
	tb.Helper()
	if s.running("proxy") {
		return
	}
	if err := s.startProxy(time.Now().Add(swiftStartTimeout)); err != nil {
		tb.Fatalf("testenv: restarting the Swift proxy: %v\n%s", err, s.Logs(4<<10))
	}
}

func (s *SwiftServer) startProxy(deadline time.Time) error {
	if err := s.startProc("proxy", "swift-proxy-server", filepath.Join(s.Dir, "etc", "proxy-server.conf"), "-v"); err != nil {
		return err
	}
	return s.waitReady(deadline)
}

// waitReady polls the proxy until GET /healthcheck answers 200 and
// tempauth hands out a token that the account accepts: the proxy, memcached
// and the account server all work.
func (s *SwiftServer) waitReady(deadline time.Time) error {
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		if err := s.exited("proxy"); err != nil {
			return err
		}
		last = s.probe(client)
		if last == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testenv: Swift proxy %s not ready within %v (last: %s)", s.ProxyAddr, swiftStartTimeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// probe returns "" when Swift serves authenticated requests, else what
// failed.
func (s *SwiftServer) probe(client *http.Client) string {
	do := func(req *http.Request) (*http.Response, string) {
		resp, err := client.Do(req)
		if err != nil {
			return nil, err.Error()
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return nil, fmt.Sprintf("%s %s: %s", req.Method, req.URL, resp.Status)
		}
		return resp, ""
	}
	req, _ := http.NewRequest("GET", "http://"+s.ProxyAddr+"/healthcheck", nil)
	if _, msg := do(req); msg != "" {
		return msg
	}
	req, _ = http.NewRequest("GET", s.AuthURL, nil)
	req.Header.Set("X-Auth-User", s.User)
	req.Header.Set("X-Auth-Key", s.Key)
	resp, msg := do(req)
	if msg != "" {
		return msg
	}
	req, _ = http.NewRequest("HEAD", resp.Header.Get("X-Storage-Url"), nil)
	req.Header.Set("X-Auth-Token", resp.Header.Get("X-Auth-Token"))
	_, msg = do(req)
	return msg
}

// Stop stops every daemon (SIGTERM to each process group, SIGKILL after
// 10 s) and waits for them. The shared instance of Swift is stopped by the
// kernel when the test binary exits; Stop is for instances a test owns.
func (s *SwiftServer) Stop() error {
	var errs []error
	// The proxy first, memcached last: the reverse of the start.
	for _, name := range []string{"proxy", "object", "container", "account", "memcached"} {
		if err := s.stopProc(name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// PIDs returns the process IDs of the running daemons by name (memcached,
// account, container, object, proxy).
func (s *SwiftServer) PIDs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for name, p := range s.procs {
		select {
		case <-p.done:
		default:
			m[name] = p.cmd.Process.Pid
		}
	}
	return m
}

// Logs returns the last n bytes of each daemon's output.
func (s *SwiftServer) Logs(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, name := range []string{"memcached", "account", "container", "object", "proxy"} {
		p := s.procs[name]
		if p == nil {
			continue
		}
		out := p.out.String()
		if len(out) > n {
			out = "[...]" + out[len(out)-n:]
		}
		fmt.Fprintf(&b, "--- %s (%s):\n%s\n", name, strings.Join(p.args, " "), out)
	}
	return b.String()
}

func (s *SwiftServer) startProc(name, prog string, args ...string) error {
	cmd := exec.Command(prog, args...)
	p := &swiftProc{name: name, args: append([]string{prog}, args...), out: &tailBuffer{max: 1 << 20}, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	// A process group of its own, so that a stop reaches any child, and a
	// parent-death signal, so that no daemon outlives the test binary.
	attr := sysProcAttr()
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Setpgid = true
	cmd.SysProcAttr = attr
	cmd.WaitDelay = swiftStopTimeout
	if err := startOnSpawner(cmd); err != nil {
		return fmt.Errorf("testenv: starting %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.procs[name] = p
	s.mu.Unlock()
	return nil
}

func (s *SwiftServer) proc(name string) *swiftProc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.procs[name]
}

func (s *SwiftServer) running(name string) bool {
	p := s.proc(name)
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// exited returns an error if the named daemon has exited.
func (s *SwiftServer) exited(name string) error {
	p := s.proc(name)
	if p == nil {
		return fmt.Errorf("testenv: Swift %s was not started", name)
	}
	select {
	case <-p.done:
		return fmt.Errorf("testenv: Swift %s exited (%v): %s", name, p.err, swiftLastLines(p.out.String(), 5))
	default:
		return nil
	}
}

func (s *SwiftServer) waitListening(name string, port int, deadline time.Time) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		if err := s.exited(name); err != nil {
			return err
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testenv: Swift %s not listening on %s within %v: %v", name, addr, swiftStartTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *SwiftServer) stopProc(name string) error {
	p := s.proc(name)
	if p == nil {
		return nil
	}
	pid := p.cmd.Process.Pid
	select {
	case <-p.done:
		return nil
	default:
	}
	syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(swiftStopTimeout):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("testenv: Swift %s did not exit within %v of SIGTERM; killed", name, swiftStopTimeout)
	}
}

func swiftLastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// buildSwiftRings makes the account, container and object rings: one replica,
// one device (d1, the directory srv/d1) on the server's port. The three are
// built concurrently (each swift-ring-builder run starts Python: ~0.3 s).
func buildSwiftRings(etc string, ports swiftPorts) error {
	rings := []struct {
		name string
		port int
	}{{"account", ports.account}, {"container", ports.container}, {"object", ports.object}}
	errs := make([]error, len(rings))
	var wg sync.WaitGroup
	for i, r := range rings {
		wg.Go(func() {
			builder := r.name + ".builder"
			for _, args := range [][]string{
				{builder, "create", "10", "1", "1"},
				{builder, "add", fmt.Sprintf("r1z1-127.0.0.1:%d/d1", r.port), "100"},
				{builder, "rebalance"},
			} {
				cmd := exec.Command("swift-ring-builder", args...)
				cmd.Dir = etc
				if out, err := cmd.CombinedOutput(); err != nil {
					errs[i] = fmt.Errorf("testenv: swift-ring-builder %s: %v\n%s", strings.Join(args, " "), err, out)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeSwiftConfig writes swift.conf and the four servers' configuration
// files to dir/etc, as MACHINE-FACTS.md §1 describes.
func writeSwiftConfig(dir string, ports swiftPorts) error {
	etc := filepath.Join(dir, "etc")
	files := map[string]string{
		"swift.conf": `[swift-hash]
swift_hash_path_suffix = coffre-testenv
swift_hash_path_prefix = coffre-testenv

[storage-policy:0]
name = Policy-0
default = yes
`,
		"proxy-server.conf": fmt.Sprintf(`[DEFAULT]
bind_ip = 127.0.0.1
bind_port = %d
workers = 0
user = root
swift_dir = %s
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy dlo slo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:%d

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:dlo]
use = egg:swift#dlo

[filter:slo]
use = egg:swift#slo
`, ports.proxy, etc, ports.memcached),
	}
	for _, srv := range []struct {
		name string
		port int
	}{{"account", ports.account}, {"container", ports.container}, {"object", ports.object}} {
		files[srv.name+"-server.conf"] = fmt.Sprintf(`[DEFAULT]
devices = %s
mount_check = false
bind_ip = 127.0.0.1
bind_port = %d
workers = 0
user = root
swift_dir = %s
log_level = INFO

[pipeline:main]
pipeline = %s-server

[app:%s-server]
use = egg:swift#%s
`, filepath.Join(dir, "srv"), srv.port, etc, srv.name, srv.name, srv.name)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(text), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// removeStaleSwiftDirs removes the directories of test binaries that have
// exited (their daemons died with them).
func removeStaleSwiftDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), swiftDirPrefix+"*"))
	for _, dir := range matches {
		pid, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), swiftDirPrefix), "-")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(pid); err == nil && n != os.Getpid() && !processAlive(n) {
			os.RemoveAll(dir)
		}
	}
}

// spawner is a goroutine locked to an OS thread of its own, which never
// exits: the parent-death signal fires when the thread that forked a
// daemon exits, not the process (golang.org/issue/27505), so daemons are
// forked there, whichever goroutine asks (StartProxy may be called from a
// short-lived one).
var spawner struct {
	once sync.Once
	reqs chan func()
}

func startOnSpawner(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for f := range spawner.reqs {
				f()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- func() { done <- cmd.Start() }
	return <-done
}
