package jwstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

//go:embed testdata/test-keys.json
var keysJSON []byte

var keys = sync.OnceValues(func() (map[string]jose.JSONWebKey, error) {
	var m map[string]jose.JSONWebKey
	return m, json.Unmarshal(keysJSON, &m)
})

// Key returns the private test key name: es256, es256-b (another P-256
// key), es384, rsa2048, rsa1024 (too small to be accepted) or ed25519.
func Key(t testing.TB, name string) jose.JSONWebKey {
	t.Helper()
	m, err := keys()
	if err != nil {
		t.Fatalf("test keys: %v", err)
	}
	k, ok := m[name]
	if !ok {
		t.Fatalf("no test key %q", name)
	}
	return k
}

// Public returns the public half of the test key name.
func Public(t testing.TB, name string) jose.JSONWebKey {
	t.Helper()
	k := Key(t, name)
	return k.Public()
}

// algs is the algorithm each test key signs with unless a test says
// otherwise.
var algs = map[string]jose.SignatureAlgorithm{
	"es256": jose.ES256, "es256-b": jose.ES256, "es384": jose.ES384,
	"rsa2048": jose.PS256, "rsa1024": jose.PS256, "ed25519": jose.EdDSA,
}

// Sign signs payload with go-jose's signer and the test key name, by alg
// or, when alg is "", the key's usual algorithm (ES256, ES384, PS256 or
// EdDSA), with opts and then headers, which may override opts'.
func Sign(t testing.TB, name string, alg jose.SignatureAlgorithm, opts *jose.SignerOptions, headers map[jose.HeaderKey]any, payload []byte) string {
	t.Helper()
	if alg == "" {
		alg = algs[name]
	}
	for k, v := range headers {
		opts.WithHeader(k, v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: Key(t, name)}, opts)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	signed, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	out, err := signed.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Claims returns the JSON of claims with overrides applied: an override
// with a nil value removes the claim.
func Claims(t testing.TB, claims, overrides map[string]any) []byte {
	t.Helper()
	for k, v := range overrides {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var jtis atomic.Int64

// JTI returns a jti not returned before in this process.
func JTI() string { return "jti-" + strconv.FormatInt(jtis.Add(1), 10) }

// SignRaw signs header and payload as given, base64url-encoded, with the
// standard library and the test key name, for what go-jose's signer cannot
// produce (duplicate members, "none"). The key's type chooses the
// signature: ES256 for a P-256 key, PS256 for RSA, EdDSA for Ed25519; alg
// "none" gets a signature of zeros, as an attacker would send it.
func SignRaw(t testing.TB, name string, alg jose.SignatureAlgorithm, header, payload string) string {
	t.Helper()
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	if alg == "none" {
		return in + ".AAAA"
	}
	sum := sha256.Sum256([]byte(in))
	var sig []byte
	switch k := Key(t, name).Key.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case *rsa.PrivateKey:
		var err error
		sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(in))
	default:
		t.Fatalf("SignRaw: %T", k)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// VerifyRaw checks a compact JWS signature with the standard library alone,
// for ES256, PS256 and EdDSA: in is the signing input (header.payload),
// sig the decoded signature.
func VerifyRaw(pub any, in, sig []byte) bool {
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
