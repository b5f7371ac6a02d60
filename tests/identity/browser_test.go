package identity_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/demo"
	"github.com/coffre-cloud/coffre/internal/testenv"
)

// The browser tests run node scripts of js/ (openid-client, playwright-core,
// axe-core: js/package.json) against a real `coffre serve`; each script
// drives one headless Chromium and prints one JSON line of results.
const (
	jsDir    = "js"
	chromium = "/usr/bin/chromium"
	// nodeTimeout bounds one script: a healthy one takes 1 to 3 s.
	nodeTimeout = 60 * time.Second
)

// needBrowser fails the test when node, Chromium or the node modules are
// missing: scripts/deps.sh installs them, and make test runs it.
func needBrowser(t *testing.T) {
	t.Helper()
	testenv.Need(t, "node")
	testenv.Need(t, chromium)
	if _, err := os.Stat(filepath.Join(jsDir, "node_modules", ".package-lock.json")); err != nil {
		t.Fatalf("the node modules of tests/identity/js are not installed (%v): run scripts/deps.sh (make test installs them)", err)
	}
}

// startProvider runs `coffre serve` with its provider's issuer on
// http://localhost:PORT, as browsers need it for WebAuthn (an IP address
// cannot be a relying party ID); the provider listens on 127.0.0.1:PORT.
func startProvider(t *testing.T) *testenv.Server {
	t.Helper()
	return testenv.StartCoffre(t, testenv.Opts{IdentityHost: "localhost"})
}

// rpClient is the independent relying party, registered with the provider.
type rpClient struct {
	srv  *testenv.Server
	id   string
	keys string // the file of its private JWKs
	port int    // of its redirect URIs on 127.0.0.1
}

// registerRP makes the relying party's keys (rp.mjs keys) and registers it
// through the CLI, which reaches the running server by its admin socket:
// the strict profile, id_tokens and userinfo encrypted with ECDH-ES.
func registerRP(t *testing.T, srv *testenv.Server) *rpClient {
	t.Helper()
	dir := t.TempDir()
	rp := &rpClient{srv: srv, id: "rp-openid-client", keys: filepath.Join(dir, "rp-keys.json"), port: testenv.FreePort(t)}
	jwks := filepath.Join(dir, "rp-jwks.json")
	if err := os.WriteFile(jwks, runNode(t, "rp.mjs", "keys", rp.keys), 0o644); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", rp.port)
	out := coffreCLI(t, srv, "identity", "client", "add", "--id", rp.id, "--name", "Service de test",
		"--redirect-uri", base+"/callback", "--post-logout-uri", base+"/logged-out",
		"--jwks", jwks, "--id-token-enc", "ECDH-ES", "--userinfo-jwt")
	if !strings.Contains(out, "client "+rp.id+" registered") {
		t.Fatalf("coffre identity client add: %s, want \"client %s registered\"", out, rp.id)
	}
	return rp
}

// coffreCLI runs a coffre command on the server's data directory and
// returns its output.
func coffreCLI(t *testing.T, srv *testenv.Server, args ...string) string {
	t.Helper()
	// --data goes after the subcommand words, with the other flags.
	words := 0
	for words < len(args) && !strings.HasPrefix(args[words], "-") {
		words++
	}
	full := append(append(append([]string{}, args[:words]...), "--data", srv.DataDir), args[words:]...)
	cmd := exec.Command(testenv.BuildCoffre(t), full...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("coffre %s: %v\n%s", strings.Join(full, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// config is the JSON configuration of the scripts (js/lib.mjs).
type config struct {
	Issuer         string `json:"issuer"`
	ClientID       string `json:"client_id"`
	Keys           string `json:"keys"`
	RedirectPort   int    `json:"redirect_port"`
	ACR            string `json:"acr,omitempty"`
	Username       string `json:"username"`
	Password       string `json:"password"`
	TOTPSecret     string `json:"totp_secret,omitempty"`
	ActivationCode string `json:"activation_code,omitempty"`
}

// config returns the scripts' configuration for a resident's login.
func (rp *rpClient) config(acr string, r demo.Resident) config {
	return config{Issuer: rp.srv.Issuer, ClientID: rp.id, Keys: rp.keys, RedirectPort: rp.port,
		ACR: acr, Username: r.NationalNumber, Password: r.Password, TOTPSecret: r.TOTP}
}

// run runs a script on a configuration and decodes its result line into
// result.
func (rp *rpClient) run(t *testing.T, script string, cfg config, result any) {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{file}
	if script == "rp.mjs" {
		args = []string{"login", file}
	}
	out := runNode(t, script, args...)
	if err := json.Unmarshal(out, result); err != nil {
		t.Fatalf("node %s: result %q: %v", script, out, err)
	}
}

// runNode runs node on a script of js/ and returns its last line of output,
// failing the test with the script's messages when it fails.
func runNode(t *testing.T, script string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = jsDir
	// SIGTERM lets Playwright close its Chromium; WaitDelay then kills.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("no result within %v", nodeTimeout)
	}
	if err != nil {
		t.Fatalf("node %s %s: %v\n%s", script, strings.Join(args, " "), err, stderr.String())
	}
	t.Logf("node %s: %.1fs", script, time.Since(start).Seconds())
	if testing.Verbose() {
		t.Logf("node %s progress:\n%s", script, stderr.String())
	}
	var last []byte
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			last = bytes.Clone(line)
		}
	}
	if last == nil {
		t.Fatalf("node %s printed no result line; its messages:\n%s", script, stderr.String())
	}
	return last
}
