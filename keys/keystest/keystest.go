package keystest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/keys"
)

// Opts describes the store under test.
type Opts struct {
	// New returns a fresh store holding one root key, version 1, and no
	// signing or MAC key. It releases what it opens through tb.Cleanup
	// (closing a store twice is fine).
	New func(tb testing.TB) keys.Store

	// Reopen closes s and opens the same store again, as a restarted
	// process would, returning the new handle.
	Reopen func(tb testing.TB, s keys.Store) keys.Store

	// MakeUnavailable cuts s off from its keys the way production does
	// (a sealed keyring; an HSM token gone away) and returns a function
	// that brings them back. The store itself must then recover, on its
	// own, without being reopened.
	MakeUnavailable func(tb testing.TB, s keys.Store) (restore func())

	// Secrets, if set, returns the slices of secret material that s holds
	// in memory (keys, derived keys, PINs). Run checks that Close zeroes
	// every one of them.
	Secrets func(s keys.Store) [][]byte
}

// Run checks that the stores made by o behave as keys.Store documents. Each
// check is a subtest that starts from a fresh store.
func Run(t *testing.T, o Opts) {
	if o.New == nil || o.Reopen == nil || o.MakeUnavailable == nil {
		t.Fatal("keystest.Opts: New, Reopen and MakeUnavailable are required")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Opts)
	}{
		{"RoundTrip", testRoundTrip},
		{"InvalidArgs", testInvalidArgs},
		{"WrongAD", testWrongAD},
		{"BitFlips", testBitFlips},
		{"Truncated", testTruncated},
		{"UnknownVersion", testUnknownVersion},
		{"Rotate", testRotate},
		{"Retire", testRetire},
		{"Reopen", testReopen},
		{"Concurrent", testConcurrent},
		{"Unavailable", testUnavailable},
		{"Canceled", testCanceled},
		{"Close", testClose},
		{"SigningKeys", testSigningKeys},
		{"MACKeys", testMACKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, o) })
	}
}

// kek is what the vault wraps: a 32-byte tenant key.
func kek(tb testing.TB) []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

var ad = []byte("tenant=ministry-x;kek=3")

func wrap(tb testing.TB, s keys.Store, secret, ad []byte) []byte {
	tb.Helper()
	w, err := s.Wrap(tb.Context(), secret, ad)
	if err != nil {
		tb.Fatalf("Wrap(%d bytes, ad %q) = %v", len(secret), ad, err)
	}
	return w
}

func mustUnwrap(tb testing.TB, s keys.Store, w, ad, want []byte) {
	tb.Helper()
	got, err := s.Unwrap(tb.Context(), w, ad)
	if err != nil {
		tb.Fatalf("Unwrap(blob of root version %d, ad %q) = %v, want the secret", version(w), ad, err)
	}
	if !bytes.Equal(got, want) {
		tb.Fatalf("Unwrap returned %d bytes that differ from the %d wrapped", len(got), len(want))
	}
}

// mustFail checks that Unwrap fails with ErrUnwrap and returns no bytes.
func mustFail(tb testing.TB, s keys.Store, w, ad []byte, what string) {
	tb.Helper()
	got, err := s.Unwrap(tb.Context(), w, ad)
	if !errors.Is(err, keys.ErrUnwrap) {
		tb.Fatalf("Unwrap(%s) = %v, want ErrUnwrap", what, err)
	}
	if got != nil {
		tb.Fatalf("Unwrap(%s) failed but returned %d bytes, want none", what, len(got))
	}
}

func version(w []byte) int {
	v, _ := keys.RootVersion(w)
	return v
}

func current(tb testing.TB, s keys.Store) int {
	tb.Helper()
	v, err := s.Current(tb.Context())
	if err != nil {
		tb.Fatalf("Current() = %v", err)
	}
	return v
}

func testRoundTrip(t *testing.T, o Opts) {
	s := o.New(t)
	if got, want := current(t, s), 1; got != want {
		t.Fatalf("Current() of a new store = %d, want %d", got, want)
	}
	for _, size := range []int{1, 16, 32, 64, 1000, keys.MaxSecretSize} {
		for _, a := range [][]byte{nil, ad, bytes.Repeat([]byte{'a'}, keys.MaxADSize)} {
			t.Run(fmt.Sprintf("size=%d/ad=%d", size, len(a)), func(t *testing.T) {
				secret := make([]byte, size)
				rand.Read(secret)
				orig := bytes.Clone(secret)
				w := wrap(t, s, secret, a)
				if got, want := len(w), size+keys.WrapOverhead; got != want {
					t.Fatalf("len(Wrap(%d bytes)) = %d, want %d", size, got, want)
				}
				if got, want := version(w), 1; got != want {
					t.Fatalf("RootVersion(Wrap(...)) = %d, want %d", got, want)
				}
				if size >= 16 && bytes.Contains(w, secret) {
					t.Fatal("the wrapped blob contains the secret in clear")
				}
				mustUnwrap(t, s, w, a, orig)
				if !bytes.Equal(secret, orig) {
					t.Fatal("Wrap modified its secret argument")
				}
				// Two wraps of one secret differ (fresh nonce) and both open.
				w2 := wrap(t, s, secret, a)
				if bytes.Equal(w, w2) {
					t.Fatal("two Wraps of the same secret are identical: the nonce is not fresh")
				}
				mustUnwrap(t, s, w2, a, orig)
			})
		}
	}
	t.Run("ad=nil-equals-empty", func(t *testing.T) {
		secret := kek(t)
		mustUnwrap(t, s, wrap(t, s, secret, nil), []byte{}, secret)
		mustUnwrap(t, s, wrap(t, s, secret, []byte{}), nil, secret)
	})
}

func testInvalidArgs(t *testing.T, o Opts) {
	s := o.New(t)
	for _, tt := range []struct {
		name       string
		secret, ad []byte
	}{
		{"secret=empty", nil, ad},
		{"secret=too-big", make([]byte, keys.MaxSecretSize+1), ad},
		{"ad=too-big", kek(t), make([]byte, keys.MaxADSize+1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if w, err := s.Wrap(t.Context(), tt.secret, tt.ad); !errors.Is(err, keys.ErrInvalid) || w != nil {
				t.Fatalf("Wrap(%d bytes, ad of %d bytes) = %d bytes, %v; want ErrInvalid", len(tt.secret), len(tt.ad), len(w), err)
			}
		})
	}
	for _, name := range []string{"", "Upper", "-lead", "sp ace", "a/b", string(make([]byte, 65))} {
		t.Run(fmt.Sprintf("name=%q", name), func(t *testing.T) {
			if err := s.CreateMACKey(t.Context(), name); !errors.Is(err, keys.ErrInvalid) {
				t.Fatalf("CreateMACKey(%q) = %v, want ErrInvalid", name, err)
			}
			if _, err := s.CreateSigningKey(t.Context(), name); !errors.Is(err, keys.ErrInvalid) {
				t.Fatalf("CreateSigningKey(%q) = %v, want ErrInvalid", name, err)
			}
		})
	}
}

func testWrongAD(t *testing.T, o Opts) {
	s := o.New(t)
	secret := kek(t)
	w := wrap(t, s, secret, ad)
	for _, wrong := range [][]byte{
		nil,
		[]byte("tenant=ministry-y;kek=3"),
		[]byte("tenant=ministry-x;kek=4"),
		append(bytes.Clone(ad), 0),
		ad[:len(ad)-1],
	} {
		mustFail(t, s, w, wrong, fmt.Sprintf("ad %q instead of %q", wrong, ad))
	}
	mustUnwrap(t, s, wrap(t, s, secret, nil), nil, secret)
	mustFail(t, s, wrap(t, s, secret, nil), ad, "ad given, none bound")
}

// testBitFlips flips every bit of a wrapped blob, one at a time: header,
// version, nonce, ciphertext and tag are all authenticated.
func testBitFlips(t *testing.T, o Opts) {
	s := o.New(t)
	secret := kek(t)
	w := wrap(t, s, secret, ad)
	for i := range len(w) * 8 {
		b := bytes.Clone(w)
		b[i/8] ^= 1 << (i % 8)
		mustFail(t, s, b, ad, fmt.Sprintf("bit %d of %d flipped", i, len(w)*8))
	}
	mustUnwrap(t, s, w, ad, secret)
}

func testTruncated(t *testing.T, o Opts) {
	s := o.New(t)
	secret := kek(t)
	w := wrap(t, s, secret, ad)
	for n := range len(w) {
		mustFail(t, s, bytes.Clone(w[:n]), ad, fmt.Sprintf("blob truncated to %d of %d bytes", n, len(w)))
	}
	mustFail(t, s, append(bytes.Clone(w), 0), ad, "blob with a byte appended")
	mustFail(t, s, append(bytes.Clone(w), w...), ad, "blob doubled")
}

func testUnknownVersion(t *testing.T, o Opts) {
	s := o.New(t)
	w := wrap(t, s, kek(t), ad)
	for _, v := range []uint32{0, 2, 99, 1<<31 - 1, 1 << 31, 1<<32 - 1} {
		b := bytes.Clone(w)
		binary.BigEndian.PutUint32(b[1:5], v)
		mustFail(t, s, b, ad, fmt.Sprintf("blob naming root version %d", v))
	}
	b := bytes.Clone(w)
	binary.BigEndian.PutUint32(b[1:5], 2)
	if _, err := s.Unwrap(t.Context(), b, ad); !errors.Is(err, keys.ErrNoSuchKey) {
		t.Fatalf("Unwrap(blob naming missing root version 2) = %v, want ErrNoSuchKey too", err)
	}
}

func testRotate(t *testing.T, o Opts) {
	s := o.New(t)
	secret := kek(t)
	w1 := wrap(t, s, secret, ad)
	for want := 2; want <= 3; want++ {
		v, err := s.Rotate(t.Context())
		if err != nil || v != want {
			t.Fatalf("Rotate() = %d, %v; want %d", v, err, want)
		}
		if got := current(t, s); got != want {
			t.Fatalf("Current() after Rotate = %d, want %d", got, want)
		}
		w := wrap(t, s, secret, ad)
		if got := version(w); got != want {
			t.Fatalf("Wrap after Rotate to %d used root version %d", want, got)
		}
		mustUnwrap(t, s, w, ad, secret)
		mustUnwrap(t, s, w1, ad, secret)
	}
	// A blob under version 1 relabelled as version 2 does not open: each
	// version is its own key.
	b := bytes.Clone(w1)
	binary.BigEndian.PutUint32(b[1:5], 2)
	mustFail(t, s, b, ad, "version-1 blob relabelled as version 2")
}

func testRetire(t *testing.T, o Opts) {
	s := o.New(t)
	secret := kek(t)
	w1 := wrap(t, s, secret, ad)
	if err := s.Retire(t.Context(), 1); !errors.Is(err, keys.ErrInvalid) {
		t.Fatalf("Retire(current version 1) = %v, want ErrInvalid", err)
	}
	mustUnwrap(t, s, w1, ad, secret)
	if _, err := s.Rotate(t.Context()); err != nil {
		t.Fatalf("Rotate() = %v", err)
	}
	// The rewrap a Retire must follow: Unwrap, then Wrap under current.
	w2 := wrap(t, s, secret, ad)
	if err := s.Retire(t.Context(), 1); err != nil {
		t.Fatalf("Retire(1) = %v", err)
	}
	mustFail(t, s, w1, ad, "blob under retired version 1")
	if _, err := s.Unwrap(t.Context(), w1, ad); !errors.Is(err, keys.ErrNoSuchKey) {
		t.Fatalf("Unwrap(blob under retired version 1) = %v, want ErrNoSuchKey too", err)
	}
	mustUnwrap(t, s, w2, ad, secret)
	for _, v := range []int{1, 7, 0, -1} {
		if err := s.Retire(t.Context(), v); !errors.Is(err, keys.ErrNoSuchKey) {
			t.Fatalf("Retire(%d) of a missing version = %v, want ErrNoSuchKey", v, err)
		}
	}
	// Versions are never reused: the next one is 3, and version-1 blobs
	// stay dead.
	if v, err := s.Rotate(t.Context()); err != nil || v != 3 {
		t.Fatalf("Rotate() after Retire(1) = %d, %v; want 3", v, err)
	}
	s = o.Reopen(t, s)
	mustFail(t, s, w1, ad, "blob under retired version 1, after reopen")
	mustUnwrap(t, s, w2, ad, secret)
}

func testReopen(t *testing.T, o Opts) {
	s := o.New(t)
	secret := kek(t)
	w1 := wrap(t, s, secret, ad)
	if _, err := s.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	w2 := wrap(t, s, secret, ad)
	s = o.Reopen(t, s)
	if got, want := current(t, s), 2; got != want {
		t.Fatalf("Current() after reopen = %d, want %d", got, want)
	}
	mustUnwrap(t, s, w1, ad, secret)
	mustUnwrap(t, s, w2, ad, secret)
	if got := version(wrap(t, s, secret, ad)); got != 2 {
		t.Fatalf("Wrap after reopen used root version %d, want 2", got)
	}
	s = o.Reopen(t, s)
	mustUnwrap(t, s, w1, ad, secret)
}

// testConcurrent runs Wraps and Unwraps from 16 goroutines while the root
// key rotates under them.
func testConcurrent(t *testing.T, o Opts) {
	const workers, rounds = 16, 25
	s := o.New(t)
	secret := kek(t)
	w1 := wrap(t, s, secret, ad)
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	for i := range workers {
		wg.Go(func() {
			myAD := fmt.Appendf(nil, "tenant=t%d", i)
			mine := kek(t)
			for range rounds {
				w, err := s.Wrap(t.Context(), mine, myAD)
				if err != nil {
					errs <- fmt.Errorf("worker %d: Wrap: %w", i, err)
					return
				}
				got, err := s.Unwrap(t.Context(), w, myAD)
				if err != nil || !bytes.Equal(got, mine) {
					errs <- fmt.Errorf("worker %d: Unwrap(own blob, version %d) = %v", i, version(w), err)
					return
				}
				got, err = s.Unwrap(t.Context(), w1, ad)
				if err != nil || !bytes.Equal(got, secret) {
					errs <- fmt.Errorf("worker %d: Unwrap(version-1 blob) = %v", i, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 2 {
			if _, err := s.Rotate(t.Context()); err != nil {
				errs <- fmt.Errorf("rotate during the load: %w", err)
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := current(t, s); got != 3 {
		t.Fatalf("Current() after two concurrent Rotates = %d, want 3", got)
	}
}

// testUnavailable cuts the store off from its keys: calls fail with
// ErrUnavailable or ErrSealed (never ErrUnwrap, which would tell the caller
// its blob is bad), then the store recovers by itself.
func testUnavailable(t *testing.T, o Opts) {
	s := o.New(t)
	secret := kek(t)
	w := wrap(t, s, secret, ad)
	restore := o.MakeUnavailable(t, s)
	down := func(err error) bool { return errors.Is(err, keys.ErrUnavailable) || errors.Is(err, keys.ErrSealed) }
	for range 3 { // repeated calls stay failed, and fail the same way
		if got, err := s.Unwrap(t.Context(), w, ad); !down(err) || errors.Is(err, keys.ErrUnwrap) || got != nil {
			t.Fatalf("Unwrap while unavailable = %d bytes, %v; want ErrUnavailable or ErrSealed, not ErrUnwrap", len(got), err)
		}
		if got, err := s.Wrap(t.Context(), secret, ad); !down(err) || got != nil {
			t.Fatalf("Wrap while unavailable = %d bytes, %v; want ErrUnavailable or ErrSealed", len(got), err)
		}
		if _, err := s.Current(t.Context()); !down(err) {
			t.Fatalf("Current() while unavailable = %v, want ErrUnavailable or ErrSealed", err)
		}
	}
	restore()
	// Recovery may take the store's retry interval: poll with a deadline.
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := s.Unwrap(t.Context(), w, ad)
		if err == nil {
			if !bytes.Equal(got, secret) {
				t.Fatal("Unwrap after recovery returned other bytes")
			}
			break
		}
		if !down(err) {
			t.Fatalf("Unwrap while recovering = %v, want ErrUnavailable or ErrSealed until it works", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover within 15s of being made available again: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mustUnwrap(t, s, wrap(t, s, secret, ad), ad, secret)
	if _, err := s.Rotate(t.Context()); err != nil {
		t.Fatalf("Rotate() after recovery = %v", err)
	}
	mustUnwrap(t, s, w, ad, secret)
}

func testCanceled(t *testing.T, o Opts) {
	s := o.New(t)
	w := wrap(t, s, kek(t), ad)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Wrap(ctx, kek(t), ad); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wrap(canceled ctx) = %v, want context.Canceled", err)
	}
	if _, err := s.Unwrap(ctx, w, ad); !errors.Is(err, context.Canceled) {
		t.Fatalf("Unwrap(canceled ctx) = %v, want context.Canceled", err)
	}
	if _, err := s.Rotate(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Rotate(canceled ctx) = %v, want context.Canceled", err)
	}
	if got := current(t, s); got != 1 {
		t.Fatalf("Current() after a canceled Rotate = %d, want 1", got)
	}
}

func testClose(t *testing.T, o Opts) {
	s := o.New(t)
	w := wrap(t, s, kek(t), ad)
	if err := s.CreateMACKey(t.Context(), "pairwise"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSigningKey(t.Context(), "es256"); err != nil {
		t.Fatal(err)
	}
	signer, err := s.Signer(t.Context(), "es256")
	if err != nil {
		t.Fatal(err)
	}
	var held [][]byte
	if o.Secrets != nil {
		held = o.Secrets(s)
		if len(held) == 0 {
			t.Fatal("Opts.Secrets returned nothing for an open store")
		}
		for i, b := range held {
			if keys.Secret(b).IsZero() {
				t.Fatalf("secret %d of %d is already zero before Close (Opts.Secrets returns copies?)", i, len(held))
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	for i, b := range held {
		if !keys.Secret(b).IsZero() {
			t.Errorf("secret %d of %d (%d bytes) is not zeroed after Close", i, len(held), len(b))
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close() = %v, want nil", err)
	}
	ctx := t.Context()
	checks := map[string]error{}
	_, checks["Wrap"] = s.Wrap(ctx, kek(t), ad)
	_, checks["Unwrap"] = s.Unwrap(ctx, w, ad)
	_, checks["Rotate"] = s.Rotate(ctx)
	checks["Retire"] = s.Retire(ctx, 1)
	_, checks["Current"] = s.Current(ctx)
	_, checks["Signer"] = s.Signer(ctx, "es256")
	_, checks["MAC"] = s.MAC(ctx, "pairwise", []byte("x"))
	checks["CreateMACKey"] = s.CreateMACKey(ctx, "other")
	_, checks["CreateSigningKey"] = s.CreateSigningKey(ctx, "other")
	d := sha256.Sum256([]byte("x"))
	_, checks["Sign"] = signer.Sign(rand.Reader, d[:], crypto.SHA256)
	for op, err := range checks {
		if !errors.Is(err, keys.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", op, err)
		}
	}
}

func testSigningKeys(t *testing.T, o Opts) {
	s := o.New(t)
	ctx := t.Context()
	if _, err := s.Signer(ctx, "es256-1"); !errors.Is(err, keys.ErrNoSuchKey) {
		t.Fatalf("Signer(missing) = %v, want ErrNoSuchKey", err)
	}
	pub, err := s.CreateSigningKey(ctx, "es256-1")
	if err != nil {
		t.Fatalf("CreateSigningKey = %v", err)
	}
	if _, err := s.CreateSigningKey(ctx, "es256-1"); !errors.Is(err, keys.ErrExist) {
		t.Fatalf("CreateSigningKey(existing name) = %v, want ErrExist", err)
	}
	ecpub, ok := pub.(*ecdsa.PublicKey)
	if !ok || ecpub.Curve.Params().Name != "P-256" {
		t.Fatalf("CreateSigningKey returned a %T, want a P-256 *ecdsa.PublicKey", pub)
	}
	msg := []byte(`{"iss":"http://127.0.0.1:9100","sub":"x"}`)
	digest := sha256.Sum256(msg)
	verify := func(s keys.Store, what string) {
		t.Helper()
		signer, err := s.Signer(t.Context(), "es256-1")
		if err != nil {
			t.Fatalf("Signer(%s) = %v", what, err)
		}
		if !signer.Public().(*ecdsa.PublicKey).Equal(ecpub) {
			t.Fatalf("Signer(%s).Public() differs from what CreateSigningKey returned", what)
		}
		sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("Sign(%s) = %v", what, err)
		}
		if !ecdsa.VerifyASN1(ecpub, digest[:], sig) {
			t.Fatalf("signature by %s does not verify", what)
		}
		other := sha256.Sum256([]byte("other"))
		if ecdsa.VerifyASN1(ecpub, other[:], sig) {
			t.Fatal("signature verifies for another digest")
		}
		if _, err := signer.Sign(rand.Reader, digest[:], crypto.SHA384); !errors.Is(err, keys.ErrInvalid) {
			t.Fatalf("Sign with SHA-384 opts = %v, want ErrInvalid (ES256 only)", err)
		}
		if _, err := signer.Sign(rand.Reader, digest[:20], crypto.SHA256); !errors.Is(err, keys.ErrInvalid) {
			t.Fatalf("Sign of a 20-byte digest = %v, want ErrInvalid", err)
		}
	}
	verify(s, "new key")
	pub2, err := s.CreateSigningKey(ctx, "es256-2")
	if err != nil {
		t.Fatal(err)
	}
	if pub2.(*ecdsa.PublicKey).Equal(ecpub) {
		t.Fatal("two signing keys have the same public key")
	}
	s = o.Reopen(t, s)
	verify(s, "key after reopen")
}

func testMACKeys(t *testing.T, o Opts) {
	s := o.New(t)
	ctx := t.Context()
	msg := []byte("sector=health;nin=85010112345")
	if _, err := s.MAC(ctx, "pairwise", msg); !errors.Is(err, keys.ErrNoSuchKey) {
		t.Fatalf("MAC(missing key) = %v, want ErrNoSuchKey", err)
	}
	if err := s.CreateMACKey(ctx, "pairwise"); err != nil {
		t.Fatalf("CreateMACKey = %v", err)
	}
	if err := s.CreateMACKey(ctx, "pairwise"); !errors.Is(err, keys.ErrExist) {
		t.Fatalf("CreateMACKey(existing name) = %v, want ErrExist", err)
	}
	if err := s.CreateMACKey(ctx, "pairwise-2"); err != nil {
		t.Fatal(err)
	}
	mac := func(s keys.Store, name string, msg []byte) []byte {
		t.Helper()
		m, err := s.MAC(ctx, name, msg)
		if err != nil {
			t.Fatalf("MAC(%s) = %v", name, err)
		}
		if len(m) != sha256.Size {
			t.Fatalf("MAC is %d bytes, want %d", len(m), sha256.Size)
		}
		return m
	}
	m1 := mac(s, "pairwise", msg)
	if !bytes.Equal(m1, mac(s, "pairwise", msg)) {
		t.Fatal("MAC of the same message differs between calls")
	}
	if bytes.Equal(m1, mac(s, "pairwise", []byte("sector=tax;nin=85010112345"))) {
		t.Fatal("MAC of two messages is the same")
	}
	if bytes.Equal(m1, mac(s, "pairwise-2", msg)) {
		t.Fatal("two MAC keys give the same MAC")
	}
	if len(mac(s, "pairwise", nil)) != sha256.Size {
		t.Fatal("MAC of an empty message")
	}
	s = o.Reopen(t, s)
	if !bytes.Equal(m1, mac(s, "pairwise", msg)) {
		t.Fatal("MAC differs after reopen: pairwise subject ids would change")
	}
}
