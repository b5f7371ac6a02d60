package encryption_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/internal/testenv"
)

// recoverWithin bounds how long a server may take to use its HSM again once
// the token is back.
const recoverWithin = 30 * time.Second

// TestHSMUnavailableFailsClosed runs a server on a SoftHSM token, then
// unplugs the token while it serves. What needs the key store (making a
// tenant's key, hence its access key; rotating) fails and changes nothing;
// reads and writes under a tenant key already in the cache go on. Once the
// token is back, the same operations succeed without restarting the server.
func TestHSMUnavailableFailsClosed(t *testing.T) {
	hsm := testenv.SoftHSM(t) // first: it sets SOFTHSM2_CONF, which the server inherits
	srv := testenv.StartCoffre(t, testenv.Opts{
		Env:  []string{"COFFRE_PKCS11_PIN=" + hsm.PIN},
		Args: []string{"--pkcs11-module", hsm.ModulePath, "--pkcs11-token", hsm.TokenLabel},
	})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	root := newClient(srv.Endpoint, srv.AccessKey, srv.SecretKey)
	createBucket(t, ctx, root, "root-bucket")
	rootBody := payload(100*kib, 1)
	putObject(t, ctx, root, "root-bucket", "before", rootBody)
	getObject(t, ctx, root, "root-bucket", "before", rootBody)

	// A tenant made beside the running server while the HSM is away: its
	// key, and so its access key (sealed under it), cannot be made.
	offers := filepath.Join(srv.DataDir, "sites", "monaco", "offers")
	before := filesUnder(t, offers)
	replug := hsm.Unplug(t)
	admin(t, srv.DataDir, "tenant", "create", "--data", srv.DataDir, "late")
	if out, err := tryAdmin(t, srv.DataDir, "key", "create", "--data", srv.DataDir, "--tenant", "late"); err == nil || !strings.Contains(out, "key store") {
		t.Fatalf("key create with the HSM unplugged: %v\n%s\nwant a failure naming the key store", err, out)
	}
	// A key rotation needs the HSM too, and must change nothing.
	if out, err := tryAdmin(t, srv.DataDir, "keys", "rotate", "--data", srv.DataDir, "--tenant", "root"); err == nil {
		t.Fatalf("keys rotate with the HSM unplugged succeeded:\n%s", out)
	}
	// Writes and reads under a cached tenant key need no key store call.
	putObject(t, ctx, root, "root-bucket", "during", rootBody)
	if after := filesUnder(t, offers); len(after) != len(before)+1 {
		t.Fatalf("%d files in the offer after one PUT, want %d", len(after), len(before)+1)
	}
	before = filesUnder(t, offers)
	// Reads under a cached tenant key need no key store call.
	getObject(t, ctx, root, "root-bucket", "before", rootBody)

	replug()
	deadline := time.Now().Add(recoverWithin)
	var out string
	var err error
	for out, err = tryAdmin(t, srv.DataDir, "key", "create", "--data", srv.DataDir, "--tenant", "late"); err != nil; out, err = tryAdmin(t, srv.DataDir, "key", "create", "--data", srv.DataDir, "--tenant", "late") {
		if time.Now().After(deadline) {
			t.Fatalf("key create still fails %v after the HSM came back: %v\n%s; want the server to reconnect by itself", recoverWithin, err, out)
		}
		time.Sleep(100 * time.Millisecond) // polling interval, not synchronization
	}
	id, secret := accessKeyOf(t, out)
	late := newClient(srv.Endpoint, id, secret)
	body := payload(200*kib, 2)
	createBucket(t, ctx, late, "late-bucket")
	putObject(t, ctx, late, "late-bucket", "first", body)
	getObject(t, ctx, late, "late-bucket", "first", body)
	if n, want := len(filesUnder(t, offers))-len(before), 1; n != want {
		t.Fatalf("%d new files in the offer after one successful PUT, want %d", n, want)
	}
}

// TestWrongUnsealKeyRefusesToStart restarts a server whose keyring exists
// with a COFFRE_UNSEAL_KEY that is not its unseal key (a well-formed one,
// and one that is not even base64): the server must exit with an error that
// says so, before serving, and leave the keyring as it was. With the right
// key (the data directory's unseal-key file) it starts and reads its data.
func TestWrongUnsealKeyRefusesToStart(t *testing.T) {
	srv := testenv.StartCoffre(t, testenv.Opts{})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	c := newClient(srv.Endpoint, srv.AccessKey, srv.SecretKey)
	createBucket(t, ctx, c, "bkt")
	body := payload(10*kib, 3)
	putObject(t, ctx, c, "bkt", "k", body)
	if err := srv.Stop(); err != nil {
		t.Fatalf("stopping the server: %v", err)
	}
	keyring := filepath.Join(srv.DataDir, "sites", "monaco", "keyring")
	ring := readFile(t, keyring)

	wrong := make([]byte, 32)
	rand.Read(wrong)
	for _, tc := range []struct {
		name, key, want string
	}{
		{"well-formed", base64.StdEncoding.EncodeToString(wrong), "wrong unseal key"},
		{"malformed", "not an unseal key", "COFFRE_UNSEAL_KEY"},
	} {
		t.Run("key="+tc.name, func(t *testing.T) {
			out := refuseToServe(t, srv, "COFFRE_UNSEAL_KEY="+tc.key)
			if !strings.Contains(out, tc.want) {
				t.Errorf("output %q does not say %q", out, tc.want)
			}
			if strings.Contains(out, tc.key) {
				t.Errorf("output %q repeats the unseal key given", out)
			}
			if !bytes.Equal(readFile(t, keyring), ring) {
				t.Errorf("the keyring file changed after a start with the wrong unseal key, want it untouched")
			}
		})
	}
	srv.Restart(t)
	getObject(t, ctx, newClient(srv.Endpoint, srv.AccessKey, srv.SecretKey), "bkt", "k", body)
}

// TestMissingUnsealKeyRefusesToStart removes the data directory's
// unseal-key file of an existing keyring: the server must refuse to start,
// naming COFFRE_UNSEAL_KEY, and must not make a new key. With the file put
// back it starts and reads its data.
func TestMissingUnsealKeyRefusesToStart(t *testing.T) {
	srv := testenv.StartCoffre(t, testenv.Opts{})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	c := newClient(srv.Endpoint, srv.AccessKey, srv.SecretKey)
	createBucket(t, ctx, c, "bkt")
	body := payload(10*kib, 4)
	putObject(t, ctx, c, "bkt", "k", body)
	if err := srv.Stop(); err != nil {
		t.Fatalf("stopping the server: %v", err)
	}
	keyFile := filepath.Join(srv.DataDir, "unseal-key")
	saved := filepath.Join(t.TempDir(), "unseal-key")
	if err := os.Rename(keyFile, saved); err != nil {
		t.Fatal(err)
	}

	out := refuseToServe(t, srv)
	if !strings.Contains(out, "COFFRE_UNSEAL_KEY") {
		t.Errorf("output %q does not name COFFRE_UNSEAL_KEY", out)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("stat %s after the refused start: %v, want no new unseal key made", keyFile, err)
	}

	if err := os.Rename(saved, keyFile); err != nil {
		t.Fatal(err)
	}
	srv.Restart(t)
	getObject(t, ctx, newClient(srv.Endpoint, srv.AccessKey, srv.SecretKey), "bkt", "k", body)
}

// TestMissingKeyringRefusesToStart removes the keyring file of a site
// whose metadata holds tenant keys wrapped by it (the unseal key stays):
// the server must refuse to start rather than make a new root key, under
// which none of the existing objects can be read and new objects would be
// unreadable once the real keyring is restored.
func TestMissingKeyringRefusesToStart(t *testing.T) {
	srv := testenv.StartCoffre(t, testenv.Opts{})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	c := newClient(srv.Endpoint, srv.AccessKey, srv.SecretKey)
	createBucket(t, ctx, c, "bkt")
	putObject(t, ctx, c, "bkt", "k", payload(10*kib, 5))
	if err := srv.Stop(); err != nil {
		t.Fatalf("stopping the server: %v", err)
	}
	keyring := filepath.Join(srv.DataDir, "sites", "monaco", "keyring")
	if err := os.Rename(keyring, filepath.Join(t.TempDir(), "keyring")); err != nil {
		t.Fatal(err)
	}
	out := refuseToServe(t, srv)
	if !strings.Contains(out, "keyring") {
		t.Errorf("output %q does not name the missing keyring", out)
	}
	if _, err := os.Stat(keyring); !os.IsNotExist(err) {
		t.Errorf("stat %s after the refused start: %v, want no new keyring made", keyring, err)
	}
}

// refuseToServe runs `coffre serve` on srv's data directory (srv stopped)
// with srv's root credentials and extra environment, and returns its output
// once it has exited with a non-zero status. It fails the test if the
// server answers /healthz instead, or neither happens within the deadline.
func refuseToServe(t *testing.T, srv *testenv.Server, env ...string) string {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
	cmd := exec.Command(testenv.BuildCoffre(t), "serve", "--data", srv.DataDir, "--s3-addr", addr, "--identity-addr", "off")
	cmd.Env = append(environWithout("COFFRE_"), "COFFRE_ROOT_ACCESS_KEY="+srv.AccessKey, "COFFRE_ROOT_SECRET_KEY="+srv.SecretKey)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case err := <-exited:
			if err == nil {
				t.Fatalf("coffre serve exited with status 0, want a refusal (non-zero); output:\n%s", out.String())
			}
			return out.String()
		case <-deadline:
			cmd.Process.Kill()
			<-exited
			t.Fatalf("coffre serve neither exited nor served within 30 s; output:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
			if resp, err := client.Get("http://" + addr + "/healthz"); err == nil {
				resp.Body.Close()
				cmd.Process.Kill()
				<-exited
				t.Fatalf("coffre serve started (GET /healthz: %s), want it to refuse; output:\n%s", resp.Status, out.String())
			}
		}
	}
}

// admin runs an admin command of coffre beside the server and returns its
// standard output.
func admin(t *testing.T, dataDir string, args ...string) string {
	t.Helper()
	out, err := tryAdmin(t, dataDir, args...)
	if err != nil {
		t.Fatalf("coffre %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// tryAdmin runs an admin command and returns its output (stdout, then
// stderr) and error.
func tryAdmin(t *testing.T, dataDir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.BuildCoffre(t), args...)
	cmd.Env = environWithout("COFFRE_")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	return string(out) + stderr.String(), err
}

// accessKeyOf reads the credentials `coffre key create` prints.
func accessKeyOf(t *testing.T, out string) (id, secret string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "AWS_ACCESS_KEY_ID="); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(line, "AWS_SECRET_ACCESS_KEY="); ok {
			secret = v
		}
	}
	if id == "" || secret == "" {
		t.Fatalf("no credentials in the output of coffre key create:\n%s", out)
	}
	return id, secret
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
