package clientauth

import (
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/internal/jws/jwstest"
	"github.com/coffre-cloud/coffre/identity/replay"
	"github.com/go-jose/go-jose/v4"
)

// registered returns the public test key name (see jwstest.Key) as a
// client registers it.
func registered(t testing.TB, name, kid string) jose.JSONWebKey {
	t.Helper()
	pub := jwstest.Public(t, name)
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

func assertion(t testing.TB, s spec) string {
	t.Helper()
	if s.key == "" {
		s.key = "es256"
	}
	opts := &jose.SignerOptions{}
	kid := kids[s.key]
	if s.kid != nil {
		kid = *s.kid
	}
	if kid != "" {
		opts.WithHeader("kid", kid)
	}
	payload := s.payload
	if payload == nil {
		// What oauth4webapi sends (clientAssertionPayload).
		payload = jwstest.Claims(t, map[string]any{
			"jti": jwstest.JTI(),
			"aud": issuer, "exp": t0.Unix() + 60, "iat": t0.Unix(), "nbf": t0.Unix(),
			"iss": clientID, "sub": clientID,
		}, s.claims)
	}
	return jwstest.Sign(t, s.key, s.alg, opts, s.headers, payload)
}

func newVerifier() *Verifier {
	return &Verifier{
		Audiences: []string{issuer, tokenURL, parURL},
		Replay:    replay.New(1000),
		Now:       func() time.Time { return t0 },
	}
}

func ptr(s string) *string { return &s }
