package keyring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/keys/keystest"
)

// testArgon2 keeps tests fast; TestDefaultArgon2 checks the real parameters.
var testArgon2 = Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

var testPass = []byte("correct horse battery staple")

// opened remembers how each store of the suite was opened, for Reopen.
var opened sync.Map // *Store -> *UnsealKey

func newStore(tb testing.TB) keys.Store {
	path := filepath.Join(tb.TempDir(), "keyring")
	u := Passphrase(testPass)
	s, err := Create(path, u, &Options{Argon2: testArgon2})
	if err != nil {
		tb.Fatalf("Create(%s) = %v", path, err)
	}
	opened.Store(s, u)
	tb.Cleanup(func() { s.Close() })
	return s
}

func reopen(tb testing.TB, ks keys.Store) keys.Store {
	old := ks.(*Store)
	u, _ := opened.Load(old)
	if err := old.Close(); err != nil {
		tb.Fatal(err)
	}
	s, err := Open(old.path, u.(*UnsealKey))
	if err != nil {
		tb.Fatalf("Open(%s) = %v", old.path, err)
	}
	opened.Store(s, u)
	tb.Cleanup(func() { s.Close() })
	return s
}

var suite = keystest.Opts{
	New:    newStore,
	Reopen: reopen,
	MakeUnavailable: func(tb testing.TB, ks keys.Store) func() {
		s := ks.(*Store)
		u, _ := opened.Load(s)
		s.Seal()
		return func() {
			if err := s.Unseal(u.(*UnsealKey)); err != nil {
				tb.Fatalf("Unseal = %v", err)
			}
		}
	},
	Secrets: func(ks keys.Store) [][]byte { return ks.(*Store).heldSecrets() },
}

func TestConformance(t *testing.T) { keystest.Run(t, suite) }

func BenchmarkKeyring(b *testing.B) { keystest.Bench(b, suite) }

func TestWrongPassphrase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring")
	s, err := Create(path, Passphrase(testPass), &Options{Argon2: testArgon2})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(path, Passphrase([]byte("wrong")))
	if !errors.Is(err, keys.ErrSealed) || !strings.Contains(err.Error(), "wrong unseal key") {
		t.Fatalf("Open(wrong passphrase) = %v, want ErrSealed saying \"wrong unseal key\"", err)
	}
	k, _ := NewUnsealKey()
	_, err = Open(path, k)
	if !errors.Is(err, keys.ErrSealed) || !strings.Contains(err.Error(), "sealed with a passphrase") {
		t.Fatalf("Open(random key on a passphrase keyring) = %v, want ErrSealed naming the kind", err)
	}
	// A failed Open leaves the lock free.
	s, err = Open(path, Passphrase(testPass))
	if err != nil {
		t.Fatalf("Open(right passphrase) after failures = %v", err)
	}
	s.Close()
}

func TestCreateRefusesExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring")
	s, err := Create(path, Passphrase(testPass), &Options{Argon2: testArgon2})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	before, _ := os.ReadFile(path)
	if _, err := Create(path, Passphrase([]byte("other")), &Options{Argon2: testArgon2}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing keyring = %v, want fs.ErrExist", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a refused Create changed the keyring file")
	}
	if _, err := Create(filepath.Join(t.TempDir(), "k"), Passphrase(nil), nil); !errors.Is(err, keys.ErrInvalid) {
		t.Fatalf("Create(empty passphrase) = %v, want ErrInvalid", err)
	}
}

func TestOneOpenerAtATime(t *testing.T) {
	s := newStore(t).(*Store)
	if _, err := Open(s.path, Passphrase(testPass)); err == nil || !strings.Contains(err.Error(), "held by another") {
		t.Fatalf("second Open of an open keyring = %v, want a lock error", err)
	}
}

func TestFileMode(t *testing.T) {
	s := newStore(t).(*Store)
	if _, err := s.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("keyring file mode = %v, want 0600", got)
	}
	ents, _ := os.ReadDir(filepath.Dir(s.path))
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
}

// TestFileTamper flips every bit of a keyring file: each one makes Open fail
// (ErrSealed for the authenticated part, a format error for the magic), and
// never with a panic or a huge allocation.
func TestFileTamper(t *testing.T) {
	s := newStore(t).(*Store)
	s.Close()
	good, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	u := Passphrase(testPass)
	for i := range len(good) * 8 {
		b := bytes.Clone(good)
		b[i/8] ^= 1 << (i % 8)
		if err := os.WriteFile(s.path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if s2, err := Open(s.path, u); err == nil {
			s2.Close()
			t.Fatalf("Open succeeded with bit %d of the keyring file flipped", i)
		}
	}
	for n := range len(good) {
		os.WriteFile(s.path, good[:n], 0o600)
		if s2, err := Open(s.path, u); err == nil {
			s2.Close()
			t.Fatalf("Open succeeded with the keyring file truncated to %d bytes", n)
		}
	}
}

// TestHostileArgonParams: a file asking for 4 TiB of memory is refused
// before any is allocated.
func TestHostileArgonParams(t *testing.T) {
	s := newStore(t).(*Store)
	s.Close()
	b, _ := os.ReadFile(s.path)
	b[14], b[15], b[16], b[17] = 0xff, 0xff, 0xff, 0xff
	os.WriteFile(s.path, b, 0o600)
	if _, err := Open(s.path, Passphrase(testPass)); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("Open(file with memory=4 TiB) = %v, want a parameter range error", err)
	}
	if _, err := Create(filepath.Join(t.TempDir(), "k"), Passphrase(testPass), &Options{Argon2: Argon2Params{Time: 1, MemoryKiB: 4, Threads: 1}}); !errors.Is(err, keys.ErrInvalid) {
		t.Fatalf("Create(memory 4 KiB) = %v, want ErrInvalid", err)
	}
}

func TestRandomUnsealKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "unseal.key")
	u, err := NewUnsealKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteUnsealKeyFile(keyFile, u); err != nil {
		t.Fatal(err)
	}
	if err := WriteUnsealKeyFile(keyFile, u); err == nil {
		t.Fatal("WriteUnsealKeyFile replaced an existing key file")
	}
	if fi, _ := os.Stat(keyFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	path := filepath.Join(dir, "keyring")
	s, err := Create(path, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	w, err := s.Wrap(t.Context(), secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	fromFile, err := UnsealKeyFromFile(keyFile)
	if err != nil {
		t.Fatalf("UnsealKeyFromFile = %v", err)
	}
	s, err = Open(path, fromFile)
	if err != nil {
		t.Fatalf("Open(key from file) = %v", err)
	}
	if got, err := s.Unwrap(t.Context(), w, nil); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unwrap after Open(key from file) = %v", err)
	}
	s.Close()

	text, _ := os.ReadFile(keyFile)
	t.Setenv(EnvUnsealKey, string(text))
	fromEnv, err := UnsealKeyFromEnv()
	if err != nil {
		t.Fatalf("UnsealKeyFromEnv = %v", err)
	}
	if _, ok := os.LookupEnv(EnvUnsealKey); ok {
		t.Fatalf("%s still set after UnsealKeyFromEnv", EnvUnsealKey)
	}
	s, err = Open(path, fromEnv)
	if err != nil {
		t.Fatalf("Open(key from env) = %v", err)
	}
	s.Close()

	if _, err := Open(path, Passphrase(text)); !errors.Is(err, keys.ErrSealed) {
		t.Fatalf("Open(random-key keyring with a passphrase) = %v, want ErrSealed", err)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := UnsealKeyFromFile(keyFile); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("UnsealKeyFromFile(mode 0644) = %v, want a refusal that says to chmod", err)
	}
	for _, bad := range []string{"", "not base64!", "AAAA"} {
		if _, err := ParseUnsealKey([]byte(bad)); !errors.Is(err, keys.ErrInvalid) {
			t.Fatalf("ParseUnsealKey(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	os.Unsetenv(EnvUnsealKey)
	if _, err := UnsealKeyFromEnv(); !errors.Is(err, keys.ErrSealed) {
		t.Fatalf("UnsealKeyFromEnv with the variable unset = %v, want ErrSealed", err)
	}
}

// TestNeverPrinted: no key material reaches fmt or slog output.
func TestNeverPrinted(t *testing.T) {
	s := newStore(t).(*Store)
	u := Passphrase([]byte("hunter2-passphrase"))
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "unseal", u, "store", s, "secret", keys.Secret("topsecretbytes"))
	fmt.Fprintf(&buf, "%v %s %x %#v %+v", u, u, u, u, keys.Secret("topsecretbytes"))
	for _, leak := range []string{"hunter2", "topsecret", fmt.Sprintf("%x", "hunter2"), fmt.Sprintf("%x", "topsecret")} {
		if strings.Contains(buf.String(), leak) {
			t.Fatalf("output leaks %q: %s", leak, buf.String())
		}
	}
	if !strings.Contains(buf.String(), s.path) {
		t.Fatalf("store's log value lacks its path: %s", buf.String())
	}
}

// TestSealZeroes: Seal zeroes what Close zeroes, and Unseal with a wrong
// key keeps the store sealed.
func TestSealZeroes(t *testing.T) {
	s := newStore(t).(*Store)
	held := s.heldSecrets()
	s.Seal()
	for i, b := range held {
		if !keys.Secret(b).IsZero() {
			t.Fatalf("secret %d not zeroed by Seal", i)
		}
	}
	if err := s.Unseal(Passphrase([]byte("wrong"))); !errors.Is(err, keys.ErrSealed) {
		t.Fatalf("Unseal(wrong) = %v, want ErrSealed", err)
	}
	if _, err := s.Current(context.Background()); !errors.Is(err, keys.ErrSealed) {
		t.Fatalf("Current() after a failed Unseal = %v, want ErrSealed", err)
	}
}

// TestDefaultArgon2 opens a keyring with the production parameters and
// reports how long it takes (the cost of each passphrase guess too).
func TestDefaultArgon2(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id with 64 MiB: slow under -short")
	}
	path := filepath.Join(t.TempDir(), "keyring")
	s, err := Create(path, Passphrase(testPass), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, _ := os.ReadFile(path)
	h, err := parseHeader(b)
	if err != nil || h.argon != DefaultArgon2 {
		t.Fatalf("header argon2 = %+v, %v; want %+v", h.argon, err, DefaultArgon2)
	}
	start := time.Now()
	s, err = Open(path, Passphrase(testPass))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Open with argon2id %+v took %v", DefaultArgon2, time.Since(start))
	s.Close()
}
