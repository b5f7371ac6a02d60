//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/keys/keystest"
)

// hsms remembers the token and config of each store, for Reopen and
// MakeUnavailable.
var hsms sync.Map // *Store -> *testenv.HSM

func config(h *testenv.HSM) Config {
	return Config{
		Module:        h.ModulePath,
		TokenLabel:    h.TokenLabel,
		PIN:           keys.Secret(h.PIN),
		RetryInterval: 20 * time.Millisecond,
	}
}

func newStore(tb testing.TB) keys.Store {
	h := testenv.SoftHSM(tb)
	s, err := Create(tb.Context(), config(h))
	if err != nil {
		tb.Fatalf("Create(token %s) = %v", h.TokenLabel, err)
	}
	hsms.Store(s, h)
	tb.Cleanup(func() { s.Close() })
	return s
}

func reopen(tb testing.TB, ks keys.Store) keys.Store {
	h, _ := hsms.Load(ks)
	ks.Close()
	s, err := Open(tb.Context(), config(h.(*testenv.HSM)))
	if err != nil {
		tb.Fatalf("Open = %v", err)
	}
	hsms.Store(s, h)
	tb.Cleanup(func() { s.Close() })
	return s
}

var suite = keystest.Opts{
	New:    newStore,
	Reopen: reopen,
	// The token's files vanish, as an HSM that went away: SoftHSM fails
	// every call on it from then on, even once the files are back, until
	// the module is initialised again, which the store must do by itself.
	MakeUnavailable: func(tb testing.TB, ks keys.Store) func() {
		h, _ := hsms.Load(ks)
		return h.(*testenv.HSM).Unplug(tb)
	},
	Secrets: func(ks keys.Store) [][]byte { return ks.(*Store).heldSecrets() },
}

func TestConformance(t *testing.T) { keystest.Run(t, suite) }

func BenchmarkPKCS11(b *testing.B) { keystest.Bench(b, suite) }

// session opens a session of the test's own on the store's token, logged in.
func session(t *testing.T, s *Store) (*p11.Ctx, p11.SessionHandle) {
	t.Helper()
	s.mod.mu.RLock()
	t.Cleanup(s.mod.mu.RUnlock)
	slot, _, ok := s.findToken()
	if !ok {
		t.Fatal("token not found")
	}
	p := s.mod.ctx
	sh, err := p.OpenSession(slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.CloseSession(sh) })
	if err := p.Login(sh, p11.CKU_USER, string(s.pin)); err != nil && !isCode(err, p11.CKR_USER_ALREADY_LOGGED_IN) {
		t.Fatal(err)
	}
	return p, sh
}

// TestKeysStayInside checks the attributes of every key the store makes:
// sensitive, never extractable, and reading the value fails.
func TestKeysStayInside(t *testing.T) {
	s := newStore(t).(*Store)
	if _, err := s.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSigningKey(t.Context(), "es256"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateMACKey(t.Context(), "pairwise"); err != nil {
		t.Fatal(err)
	}
	p, sh := session(t, s)
	for _, o := range []struct {
		class uint
		label string
	}{
		{p11.CKO_SECRET_KEY, "coffre-root-v1"},
		{p11.CKO_SECRET_KEY, "coffre-root-v2"},
		{p11.CKO_PRIVATE_KEY, "coffre-sign-es256"},
		{p11.CKO_SECRET_KEY, "coffre-mac-pairwise"},
	} {
		t.Run("label="+o.label, func(t *testing.T) {
			if err := p.FindObjectsInit(sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, o.class), p11.NewAttribute(p11.CKA_LABEL, o.label)}); err != nil {
				t.Fatal(err)
			}
			hs, _, err := p.FindObjects(sh, 2)
			p.FindObjectsFinal(sh)
			if err != nil || len(hs) != 1 {
				t.Fatalf("FindObjects(%s) = %v, %v; want one object", o.label, hs, err)
			}
			want := map[uint]bool{
				p11.CKA_TOKEN:             true,
				p11.CKA_PRIVATE:           true,
				p11.CKA_SENSITIVE:         true,
				p11.CKA_ALWAYS_SENSITIVE:  true,
				p11.CKA_EXTRACTABLE:       false,
				p11.CKA_NEVER_EXTRACTABLE: true,
			}
			var tmpl []*p11.Attribute
			for a := range want {
				tmpl = append(tmpl, p11.NewAttribute(a, nil))
			}
			attrs, err := p.GetAttributeValue(sh, hs[0], tmpl)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range attrs {
				if got := len(a.Value) == 1 && a.Value[0] == 1; got != want[a.Type] {
					t.Errorf("attribute 0x%x = %v, want %v", a.Type, got, want[a.Type])
				}
			}
			_, err = p.GetAttributeValue(sh, hs[0], []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)})
			if !isCode(err, p11.CKR_ATTRIBUTE_SENSITIVE) {
				t.Fatalf("reading CKA_VALUE = %v, want CKR_ATTRIBUTE_SENSITIVE", err)
			}
		})
	}
}

// TestSessionsClosedUnderIt: every session of the application is closed
// behind the store's back (which also logs it out); the next call
// reconnects, logs in again and succeeds, without an error to the caller.
func TestSessionsClosedUnderIt(t *testing.T) {
	s := newStore(t).(*Store)
	secret := []byte("0123456789abcdef0123456789abcdef")
	w, err := s.Wrap(t.Context(), secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.mod.mu.RLock()
	slot := s.slot
	err = s.mod.ctx.CloseAllSessions(slot)
	s.mod.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Unwrap(t.Context(), w, nil)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unwrap after C_CloseAllSessions = %v, want the secret (reconnect and retry)", err)
	}
	s.mu.Lock()
	cause := s.lastErr
	s.mu.Unlock()
	if !isCode(cause, p11.CKR_SESSION_HANDLE_INVALID) {
		t.Fatalf("the store reconnected because of %v, want CKR_SESSION_HANDLE_INVALID (did the sessions close?)", cause)
	}
}

// TestTwoStoresOneModule: stores on two tokens share the process-global
// module; one token vanishing and the module restarting for it does not
// surface as an error in the other.
func TestTwoStoresOneModule(t *testing.T) {
	a, b := newStore(t).(*Store), newStore(t).(*Store)
	secret := []byte("0123456789abcdef0123456789abcdef")
	wb, err := b.Wrap(t.Context(), secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	ha, _ := hsms.Load(a)
	replug := ha.(*testenv.HSM).Unplug(t)
	if _, err := a.Current(t.Context()); !errors.Is(err, keys.ErrUnavailable) {
		t.Fatalf("Current() on the unplugged token = %v, want ErrUnavailable", err)
	}
	if a.mod != b.mod {
		t.Fatal("two stores on one module path load it twice")
	}
	if got, err := b.Unwrap(t.Context(), wb, nil); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unwrap on the other token while one is unplugged = %v", err)
	}
	replug()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := a.Current(t.Context())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store on the replugged token did not recover: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, err := b.Unwrap(t.Context(), wb, nil); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unwrap on the other token after the module restarted = %v", err)
	}
}

// TestTokenMadeLater: a token initialised by another process after this
// one initialised the module is found (the store initialises the module
// again when the label is missing).
func TestTokenMadeLater(t *testing.T) {
	first := newStore(t) // the module is now initialised
	second := newStore(t)
	if _, err := first.Current(t.Context()); err != nil {
		t.Fatalf("first store after the second was made: %v", err)
	}
	if _, err := second.Current(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	h := testenv.SoftHSM(t)
	cfg := config(h)
	if _, err := Open(t.Context(), cfg); !errors.Is(err, keys.ErrNoSuchKey) || !strings.Contains(err.Error(), "Create") {
		t.Fatalf("Open(token without root keys) = %v, want ErrNoSuchKey pointing to Create", err)
	}
	s, err := Create(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Create(t.Context(), cfg); !errors.Is(err, keys.ErrExist) {
		t.Fatalf("Create(token with root keys) = %v, want ErrExist", err)
	}
	bad := cfg
	bad.PIN = keys.Secret("999999")
	if _, err := Open(t.Context(), bad); !errors.Is(err, keys.ErrSealed) || !strings.Contains(err.Error(), "refused the PIN") {
		t.Fatalf("Open(wrong PIN) = %v, want ErrSealed saying the PIN was refused", err)
	}
	missing := cfg
	missing.TokenLabel = "no-such-token"
	if _, err := Open(t.Context(), missing); !errors.Is(err, keys.ErrUnavailable) || !strings.Contains(err.Error(), h.TokenLabel) {
		t.Fatalf("Open(missing token) = %v, want ErrUnavailable listing the tokens present", err)
	}
	nomod := cfg
	nomod.Module = "/nonexistent/libpkcs11.so"
	if _, err := Open(t.Context(), nomod); err == nil || !strings.Contains(err.Error(), "cannot load module") {
		t.Fatalf("Open(missing module) = %v", err)
	}
	for _, c := range []Config{{}, {Module: cfg.Module}, {Module: cfg.Module, TokenLabel: "x"}, {Module: cfg.Module, TokenLabel: "x", PIN: cfg.PIN, KeyPrefix: "A B"}} {
		if _, err := Open(t.Context(), c); !errors.Is(err, keys.ErrInvalid) {
			t.Fatalf("Open(%+v) = %v, want ErrInvalid", c, err)
		}
	}
}

// TestKeyPrefix: two sites share a token under different prefixes, and
// neither sees the other's keys.
func TestKeyPrefix(t *testing.T) {
	h := testenv.SoftHSM(t)
	a, err := Create(t.Context(), config(h))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cfg := config(h)
	cfg.KeyPrefix = "luxembourg"
	b, err := Create(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Create with another prefix on a token in use = %v", err)
	}
	defer b.Close()
	w, err := a.Wrap(t.Context(), []byte("0123456789abcdef0123456789abcdef"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Unwrap(t.Context(), w, nil); !errors.Is(err, keys.ErrUnwrap) {
		t.Fatalf("Unwrap of another prefix's blob = %v, want ErrUnwrap", err)
	}
}

func TestLoadPIN(t *testing.T) {
	t.Setenv(EnvPINFile, "")
	t.Setenv(EnvPIN, "123456")
	pin, err := LoadPIN()
	if err != nil || string(pin) != "123456" {
		t.Fatalf("LoadPIN from %s = %q, %v", EnvPIN, pin, err)
	}
	if _, ok := os.LookupEnv(EnvPIN); ok {
		t.Fatalf("%s still set after LoadPIN", EnvPIN)
	}
	f := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(f, []byte("654321\n"), 0o600)
	t.Setenv(EnvPINFile, f)
	if pin, err := LoadPIN(); err != nil || string(pin) != "654321" {
		t.Fatalf("LoadPIN from %s = %v", EnvPINFile, err)
	}
	os.Chmod(f, 0o640)
	if _, err := LoadPIN(); !errors.Is(err, keys.ErrInvalid) {
		t.Fatalf("LoadPIN(file of mode 0640) = %v, want ErrInvalid", err)
	}
	t.Setenv(EnvPINFile, "")
	if _, err := LoadPIN(); !errors.Is(err, keys.ErrInvalid) {
		t.Fatalf("LoadPIN with nothing set = %v, want ErrInvalid", err)
	}
}

func TestNeverPrinted(t *testing.T) {
	cfg := Config{Module: "m", TokenLabel: "t", PIN: keys.Secret("pin-7531")}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "cfg", cfg)
	fmt.Fprintf(&buf, "%v %+v %#v %s", cfg, cfg, cfg, cfg.PIN)
	if strings.Contains(buf.String(), "7531") {
		t.Fatalf("PIN leaked: %s", buf.String())
	}
}

// TestSessionsBounded: with MaxSessions 2, 16 concurrent callers never hold
// more than 2 sessions.
func TestSessionsBounded(t *testing.T) {
	h := testenv.SoftHSM(t)
	cfg := config(h)
	cfg.MaxSessions = 2
	s, err := Create(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 20 {
				if _, err := s.Wrap(context.Background(), []byte("0123456789abcdef"), nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s.mu.Lock()
	n := len(s.idle)
	s.mu.Unlock()
	if n > 2 {
		t.Fatalf("%d idle sessions after the load, want at most MaxSessions=2", n)
	}
}

// TestOtherNodeRotates: two stores on one token, as two gateway nodes
// sharing an HSM. A Rotate on one reaches the other's Wraps within
// Refresh, and the other unwraps blobs of the new version at once.
func TestOtherNodeRotates(t *testing.T) {
	h := testenv.SoftHSM(t)
	cfg := config(h)
	cfg.Refresh = 50 * time.Millisecond
	a, err := Create(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	secret := []byte("0123456789abcdef0123456789abcdef")
	if _, err := a.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	wa, err := a.Wrap(t.Context(), secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Unwrap(t.Context(), wa, nil); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("node b Unwrap(blob of node a's new version) = %v", err)
	}
	time.Sleep(2 * cfg.Refresh)
	wb, err := b.Wrap(t.Context(), secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := keys.RootVersion(wb); v != 2 {
		t.Fatalf("node b wraps under version %d after Refresh, want 2 (node a rotated)", v)
	}
	if v, err := b.Current(t.Context()); err != nil || v != 2 {
		t.Fatalf("node b Current() = %d, %v; want 2", v, err)
	}
}
