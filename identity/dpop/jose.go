package dpop

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coffre-cloud/coffre/identity/internal/jws"
	"github.com/go-jose/go-jose/v4"
)

// MinRSABits is the smallest RSA key accepted, FAPI 2.0 §5.4.1's.
const MinRSABits = jws.MinRSABits

// Thumbprint returns the RFC 7638 JWK thumbprint of k's public key with
// SHA-256, base64url-encoded without padding: the form of cnf.jkt and
// dpop_jkt (RFC 9449 §6.1, §10).
func Thumbprint(k jose.JSONWebKey) (string, error) {
	b, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("dpop: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// requiredClaim is jws.Object.RequiredString in this package's words,
// which name a claim as one: "the jti claim must be a string" where
// identity/clientauth says "jti must be a string".
func requiredClaim(claims jws.Object, name string) (string, error) {
	if _, err := claims.String(name); err != nil {
		return "", fmt.Errorf("the %s claim must be a string", name)
	}
	return claims.RequiredString(name)
}

// quoteMember shows member name of m for an error message, shortened.
func quoteMember(m jws.Object, name string) string {
	raw, ok := m[name]
	if !ok {
		return "absent"
	}
	if len(raw) > 64 {
		return string(raw[:64]) + "..."
	}
	return string(raw)
}

// privateMembers are the JWK members of private or symmetric keys (RFC 7518
// §6.2.2, §6.3.2, §6.4; RFC 8037 §2; RFC 9964's AKP "priv").
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// checkNoPrivateMembers refuses a jwk header carrying private key material
// (RFC 9449 §4.3 check 7). go-jose refuses it too; checking here says why.
func checkNoPrivateMembers(raw json.RawMessage) error {
	var m map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return errors.New("not a JSON object")
	}
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return fmt.Errorf("the member %q is private or symmetric key material; a proof carries only the public key", name)
		}
	}
	return nil
}
