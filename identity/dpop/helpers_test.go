package dpop

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/internal/jws/jwstest"
	"github.com/coffre-cloud/coffre/identity/replay"
	"github.com/go-jose/go-jose/v4"
)

// t0 is the verifiers' clock in the tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	testURI    = "https://id.example.fr/token"
	testMethod = http.MethodPost
)

// A spec describes a proof to build; the zero spec is a valid ES256 proof
// for testMethod and testURI made at t0.
type spec struct {
	key     string                  // test key name (see jwstest.Key); "" means es256
	alg     jose.SignatureAlgorithm // "" means the key's usual algorithm
	noTyp   bool                    // omit typ
	noJWK   bool                    // do not embed the public key
	headers map[jose.HeaderKey]any  // more or overriding header parameters
	claims  map[string]any          // more or overriding claims; nil values remove one
	payload []byte                  // the payload verbatim, instead of claims
}

// proof builds a proof with go-jose's signer.
func proof(t testing.TB, s spec) string {
	t.Helper()
	if s.key == "" {
		s.key = "es256"
	}
	opts := &jose.SignerOptions{EmbedJWK: !s.noJWK}
	if !s.noTyp {
		opts.WithType(typ)
	}
	payload := s.payload
	if payload == nil {
		payload = jwstest.Claims(t, map[string]any{"jti": jwstest.JTI(), "htm": testMethod, "htu": testURI, "iat": t0.Unix()}, s.claims)
	}
	return jwstest.Sign(t, s.key, s.alg, opts, s.headers, payload)
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
