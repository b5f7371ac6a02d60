package jwstest_test

import (
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/identity/internal/jws"
	"github.com/coffre-cloud/coffre/identity/internal/jws/jwstest"
	"github.com/go-jose/go-jose/v4"
)

// TestSigners checks that go-jose's signer, as Sign drives it, and SignRaw
// produce signatures VerifyRaw and go-jose both accept, for every key and
// algorithm VerifyRaw knows, and that a signature by another key is refused.
func TestSigners(t *testing.T) {
	for _, name := range []string{"es256", "rsa2048", "ed25519"} {
		pub := jwstest.Public(t, name)
		other := jwstest.Public(t, map[string]string{"es256": "es256-b", "rsa2048": "rsa1024", "ed25519": "es256"}[name])
		for signer, token := range map[string]string{
			"go-jose": jwstest.Sign(t, name, "", &jose.SignerOptions{}, map[jose.HeaderKey]any{"typ": "JWT"}, jwstest.Claims(t, map[string]any{"jti": jwstest.JTI(), "gone": 1}, map[string]any{"gone": nil})),
			"stdlib":  jwstest.SignRaw(t, name, "", `{"alg":"`+string(map[string]jose.SignatureAlgorithm{"es256": jose.ES256, "rsa2048": jose.PS256, "ed25519": jose.EdDSA}[name])+`","typ":"JWT"}`, `{"jti":"x"}`),
		} {
			t.Run("key="+name+"/signer="+signer, func(t *testing.T) {
				i := strings.LastIndexByte(token, '.')
				sig, err := jws.Encoding.DecodeString(token[i+1:])
				if err != nil {
					t.Fatal(err)
				}
				if !jwstest.VerifyRaw(pub.Key, []byte(token[:i]), sig) {
					t.Fatal("VerifyRaw refuses the signature")
				}
				if jwstest.VerifyRaw(other.Key, []byte(token[:i]), sig) {
					t.Fatal("VerifyRaw accepts the signature with another key")
				}
				signed, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.PS256, jose.EdDSA})
				if err != nil {
					t.Fatal(err)
				}
				payload, err := signed.Verify(pub)
				if err != nil {
					t.Fatalf("go-jose refuses the signature: %v", err)
				}
				if s := string(payload); !strings.HasPrefix(s, `{"jti":"`) || strings.Contains(s, "gone") {
					t.Fatalf("payload = %s, want the jti alone", s)
				}
			})
		}
	}
}

func TestNone(t *testing.T) {
	if got := jwstest.SignRaw(t, "", "none", `{"alg":"none"}`, `{}`); !strings.HasSuffix(got, ".AAAA") {
		t.Fatalf("SignRaw with none = %q, want a signature of zeros", got)
	}
}

func TestJTI(t *testing.T) {
	if a, b := jwstest.JTI(), jwstest.JTI(); a == b {
		t.Fatalf("JTI returned %q twice", a)
	}
}
