//go:build cgo

package jwt

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/keys/pkcs11"
)

func init() { stores = append(stores, store{"softhsm", newSoftHSM}) }

// hsms remembers the token of each SoftHSM store, for Unplug.
var hsms sync.Map // keys.Store -> *testenv.HSM

func newSoftHSM(tb testing.TB) keys.Store {
	tb.Helper()
	h := testenv.SoftHSM(tb)
	s, err := pkcs11.Create(tb.Context(), pkcs11.Config{
		Module:        h.ModulePath,
		TokenLabel:    h.TokenLabel,
		PIN:           keys.Secret(h.PIN),
		RetryInterval: 20 * time.Millisecond,
	})
	if err != nil {
		tb.Fatalf("pkcs11.Create(token %s) = %v", h.TokenLabel, err)
	}
	hsms.Store(keys.Store(s), h)
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestSignHSMUnplugged: the HSM goes away. Sign fails with
// keys.ErrUnavailable and returns no token; once the HSM is back, signing
// resumes without a new Signer.
func TestSignHSMUnplugged(t *testing.T) {
	s, ks := newSigner(t, store{"softhsm", newSoftHSM})
	set := PublicJWKS(s.PublicKey())
	if _, err := s.Sign(map[string]any{"sub": "before"}, "JWT"); err != nil {
		t.Fatalf("Sign before unplugging = %v", err)
	}
	h, _ := hsms.Load(ks)
	replug := h.(*testenv.HSM).Unplug(t)
	tok, err := s.Sign(map[string]any{"sub": "during"}, "JWT")
	if !errors.Is(err, keys.ErrUnavailable) {
		t.Fatalf("Sign with the HSM unplugged = %v, want keys.ErrUnavailable", err)
	}
	if tok != "" {
		t.Fatalf("Sign with the HSM unplugged returned a token %q along with its error", tok)
	}
	replug()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tok, err = s.Sign(map[string]any{"sub": "after"}, "JWT")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Sign 10s after replugging the HSM = %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if _, _, err := Verify(tok, &set); err != nil {
		t.Fatalf("Verify(token signed after replug) = %v", err)
	}
}
