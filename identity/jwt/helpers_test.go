package jwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/keys"
)

// store is a kind of keys.Store the tests run against: the keyring here,
// SoftHSM in hsm_test.go (cgo builds).
type store struct {
	name string
	new  func(testing.TB) keys.Store
}

var stores = []store{{"keyring", testenv.Keyring}}

// newSigner makes a signing key named "id-token" in a fresh store of kind
// st and returns a Signer on it with kid "k1", and the store.
func newSigner(tb testing.TB, st store) (*Signer, keys.Store) {
	tb.Helper()
	ks := st.new(tb)
	if _, err := ks.CreateSigningKey(tb.Context(), "id-token"); err != nil {
		tb.Fatalf("CreateSigningKey = %v", err)
	}
	s, err := NewSigner(tb.Context(), ks, "id-token", "k1")
	if err != nil {
		tb.Fatalf("NewSigner = %v", err)
	}
	return s, ks
}

// Test keys are made once per binary: RSA generation is slow.
var (
	testKeysOnce sync.Once
	ecKeys       map[string]*ecdsa.PrivateKey
	rsaKey       *rsa.PrivateKey
	rsaWeak      *rsa.PrivateKey
)

func testKeys(tb testing.TB) {
	tb.Helper()
	testKeysOnce.Do(func() {
		ecKeys = map[string]*ecdsa.PrivateKey{}
		for name, c := range map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()} {
			k, err := ecdsa.GenerateKey(c, rand.Reader)
			if err != nil {
				panic(err)
			}
			ecKeys[name] = k
		}
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		// A 1024-bit key, which this package refuses everywhere.
		if rsaWeak, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
	})
}

// clientKey returns a recipient key of a client: the private half as the
// client holds it, the public half as it publishes it.
func clientKey(tb testing.TB, kind, kid string) (priv any, pub jose.JSONWebKey) {
	testKeys(tb)
	switch kind {
	case "RSA":
		return rsaKey, jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: kid, Use: "enc"}
	case "RSA-1024":
		return rsaWeak, jose.JSONWebKey{Key: &rsaWeak.PublicKey, KeyID: kid, Use: "enc"}
	}
	k := ecKeys[kind]
	return k, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Use: "enc"}
}
