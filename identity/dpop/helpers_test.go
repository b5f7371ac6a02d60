package dpop

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
	"net/http"
	"os"
	"sync"
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

func publicJWK(t testing.TB, name string) jose.JSONWebKey {
	t.Helper()
	k := key(t, name)
	return k.Public()
}

// t0 is the verifiers' clock in the tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	testURI    = "https://id.example.fr/token"
	testMethod = http.MethodPost
)

// A spec describes a proof to build; the zero spec is a valid ES256 proof
// for testMethod and testURI made at t0.
type spec struct {
	key     string                  // test key name; "" means es256
	alg     jose.SignatureAlgorithm // "" means the key's usual algorithm
	noTyp   bool                    // omit typ
	noJWK   bool                    // do not embed the public key
	headers map[jose.HeaderKey]any  // more or overriding header parameters
	claims  map[string]any          // more or overriding claims; nil values remove one
	payload []byte                  // the payload verbatim, instead of claims
}

var defaultAlg = map[string]jose.SignatureAlgorithm{
	"es256": jose.ES256, "es256-b": jose.ES256, "es384": jose.ES384,
	"rsa2048": jose.PS256, "rsa1024": jose.PS256, "ed25519": jose.EdDSA,
}

var jtiCounter struct {
	sync.Mutex
	n int
}

func newJTI() string {
	jtiCounter.Lock()
	defer jtiCounter.Unlock()
	jtiCounter.n++
	return "jti-" + big.NewInt(int64(jtiCounter.n)).String()
}

// proof builds a proof with go-jose's signer.
func proof(t testing.TB, s spec) string {
	t.Helper()
	if s.key == "" {
		s.key = "es256"
	}
	if s.alg == "" {
		s.alg = defaultAlg[s.key]
	}
	opts := &jose.SignerOptions{EmbedJWK: !s.noJWK}
	if !s.noTyp {
		opts.WithType(typ)
	}
	for k, v := range s.headers {
		opts.WithHeader(k, v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: key(t, s.key)}, opts)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	payload := s.payload
	if payload == nil {
		claims := map[string]any{"jti": newJTI(), "htm": testMethod, "htu": testURI, "iat": t0.Unix()}
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

// rawProof signs header and payload as given, for what go-jose's signer
// cannot produce (duplicate members, "none"); alg "none" gets a signature
// of zeros, as an attacker would send it.
func rawProof(t testing.TB, keyName string, alg jose.SignatureAlgorithm, header, payload string) string {
	t.Helper()
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	if alg == "none" {
		return in + ".AAAA"
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(signRaw(t, key(t, keyName).Key, alg, []byte(in)))
}

// signRaw signs with the standard library alone, as a second implementation
// beside go-jose.
func signRaw(t testing.TB, priv any, alg jose.SignatureAlgorithm, in []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(in)
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	case *rsa.PrivateKey:
		sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case ed25519.PrivateKey:
		return ed25519.Sign(k, in)
	}
	t.Fatalf("signRaw: %T", priv)
	return nil
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

func header(proofs ...string) http.Header {
	h := http.Header{}
	for _, p := range proofs {
		h.Add("DPoP", p)
	}
	return h
}

func newVerifier() *Verifier {
	return &Verifier{Replay: replay.New(1000), Now: func() time.Time { return t0 }}
}

func ath(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
