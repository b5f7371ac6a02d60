package clientauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/replay"
	"github.com/go-jose/go-jose/v4"
)

// The test keys are fixed (testdata/test-keys.json, made for these tests
// only) so that a fuzz input saved in testdata/fuzz means the same thing on
// every run.
var testKeys = sync.OnceValues(func() (map[string]jose.JSONWebKey, error) {
	b, err := os.ReadFile("testdata/test-keys.json")
	if err != nil {
		return nil, err
	}
	var m map[string]jose.JSONWebKey
	return m, json.Unmarshal(b, &m)
})

func key(t testing.TB, name string) jose.JSONWebKey {
	t.Helper()
	m, err := testKeys()
	if err != nil {
		t.Fatalf("test keys: %v", err)
	}
	k, ok := m[name]
	if !ok {
		t.Fatalf("no test key %q", name)
	}
	return k
}

// registered returns the public key name as a client registers it.
func registered(t testing.TB, name, kid string) jose.JSONWebKey {
	t.Helper()
	k := key(t, name)
	pub := k.Public()
	pub.KeyID = kid
	return pub
}

const (
	issuer   = "https://id.example.fr"
	tokenURL = issuer + "/token"
	parURL   = issuer + "/par"
	clientID = "client-1"
)

// t0 is the verifiers' clock in the tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clientKeys is the test client's registration: a key per FAPI algorithm,
// one for encryption, one too small, one restricted to another algorithm.
func clientKeys(t testing.TB) *jose.JSONWebKeySet {
	enc := registered(t, "es384", "k-enc")
	enc.Use = "enc"
	restricted := registered(t, "es256", "k-es-384")
	restricted.Algorithm = string(jose.ES384)
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		registered(t, "es256", "k-es"),
		registered(t, "rsa2048", "k-rsa"),
		registered(t, "ed25519", "k-ed"),
		registered(t, "rsa1024", "k-small"),
		enc,
		restricted,
	}}
}

var kids = map[string]string{"es256": "k-es", "rsa2048": "k-rsa", "ed25519": "k-ed", "rsa1024": "k-small", "es384": "k-enc"}

var defaultAlg = map[string]jose.SignatureAlgorithm{
	"es256": jose.ES256, "es256-b": jose.ES256, "es384": jose.ES384,
	"rsa2048": jose.PS256, "rsa1024": jose.PS256, "ed25519": jose.EdDSA,
}

// A spec describes an assertion to build; the zero spec is a valid ES256
// assertion of clientID for issuer, made at t0, with a kid.
type spec struct {
	key     string                  // test key name; "" means es256
	alg     jose.SignatureAlgorithm // "" means the key's usual algorithm
	kid     *string                 // nil means the key's kid; "" none
	headers map[jose.HeaderKey]any  // more or overriding header parameters
	claims  map[string]any          // more or overriding claims; nil values remove one
	payload []byte                  // the payload verbatim, instead of claims
}

var jtis atomic.Int64

func assertion(t testing.TB, s spec) string {
	t.Helper()
	if s.key == "" {
		s.key = "es256"
	}
	if s.alg == "" {
		s.alg = defaultAlg[s.key]
	}
	opts := &jose.SignerOptions{}
	kid := kids[s.key]
	if s.kid != nil {
		kid = *s.kid
	}
	if kid != "" {
		opts.WithHeader("kid", kid)
	}
	for k, v := range s.headers {
		opts.WithHeader(k, v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: key(t, s.key).Key}, opts)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	payload := s.payload
	if payload == nil {
		// What oauth4webapi sends (clientAssertionPayload).
		claims := map[string]any{
			"jti": "jti-" + strconv.FormatInt(jtis.Add(1), 10),
			"aud": issuer, "exp": t0.Unix() + 60, "iat": t0.Unix(), "nbf": t0.Unix(),
			"iss": clientID, "sub": clientID,
		}
		for k, v := range s.claims {
			if v == nil {
				delete(claims, k)
			} else {
				claims[k] = v
			}
		}
		if payload, err = json.Marshal(claims); err != nil {
			t.Fatal(err)
		}
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rawAssertion signs header and payload as given with the standard library,
// for what go-jose's signer cannot produce; alg "none" gets a signature of
// zeros.
func rawAssertion(t testing.TB, keyName string, alg jose.SignatureAlgorithm, header, payload string) string {
	t.Helper()
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	if alg == "none" {
		return in + ".AAAA"
	}
	sum := sha256.Sum256([]byte(in))
	var sig []byte
	switch k := key(t, keyName).Key.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		t.Fatalf("rawAssertion: %T", k)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// verifyRaw checks a compact JWS signature with the standard library alone,
// for ES256, PS256 and EdDSA.
func verifyRaw(pub any, in, sig []byte) bool {
	sum := sha256.Sum256(in)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if len(sig) != 64 {
			return false
		}
		return ecdsa.Verify(k, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	case *rsa.PublicKey:
		return rsa.VerifyPSS(k, crypto.SHA256, sum[:], sig, nil) == nil
	case ed25519.PublicKey:
		return ed25519.Verify(k, in, sig)
	}
	return false
}

func newVerifier() *Verifier {
	return &Verifier{
		Audiences: []string{issuer, tokenURL, parURL},
		Replay:    replay.New(1000),
		Now:       func() time.Time { return t0 },
	}
}

func ptr(s string) *string { return &s }
