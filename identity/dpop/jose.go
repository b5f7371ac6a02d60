package dpop

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// MinRSABits is the smallest RSA key accepted, FAPI 2.0 §5.4.1's.
const MinRSABits = 2048

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

// b64 is the base64url of JWS (RFC 7515 §2): no padding, and no stray bits
// in the last character, so that a proof has one encoding only.
var b64 = base64.RawURLEncoding.Strict()

// splitCompact checks that s is a JWS in compact serialization (RFC 7515
// §7.1) of three non-empty base64url parts, and returns the decoded header
// and payload. go-jose parses s again; this pass refuses what it would
// tolerate (whitespace, non-canonical base64, an empty payload).
func splitCompact(s string) (header, payload []byte, err error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("%d parts separated by dots, want 3", len(parts))
	}
	var dec [3][]byte
	for i, p := range parts {
		if p == "" {
			return nil, nil, fmt.Errorf("part %d is empty", i+1)
		}
		for j := 0; j < len(p); j++ {
			if c := p[j]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return nil, nil, fmt.Errorf("part %d has a byte %q outside base64url", i+1, c)
			}
		}
		if dec[i], err = b64.DecodeString(p); err != nil {
			return nil, nil, fmt.Errorf("part %d: %v", i+1, err)
		}
	}
	return dec[0], dec[1], nil
}

// decodeObject decodes a JSON object into its members, refusing duplicate
// names (RFC 7519 §4 lets a parser do so, and a proof that reads
// differently to two parsers is no proof) and anything after the object.
// Names are matched exactly, unlike encoding/json's struct decoding.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	m := make(map[string]json.RawMessage)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not a JSON object: %v", err)
		}
		name, ok := t.(string)
		if !ok {
			return nil, errors.New("not a JSON object")
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("the member %q appears twice", name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("member %q: %v", name, err)
		}
		m[name] = v
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}

// stringMember returns the string member name of m, "" if it is absent,
// and an error if it is not a string.
func stringMember(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok {
		return "", nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("the %s claim must be a string", name)
	}
	return s, nil
}

// requiredString is stringMember for a member that must be present and not
// empty.
func requiredString(m map[string]json.RawMessage, name string) (string, error) {
	s, err := stringMember(m, name)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fmt.Errorf("the %s claim is required", name)
	}
	return s, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z: later dates are mistakes, and
// they would overflow time.Duration arithmetic.
const maxNumericDate = 253402300799

// numericDate returns the NumericDate member name of m (RFC 7519 §2: seconds
// since the epoch, possibly fractional), whether it is present, and an
// error if it is not a number in [0, year 9999].
func numericDate(m map[string]json.RawMessage, name string) (time.Time, bool, error) {
	raw, ok := m[name]
	if !ok {
		return time.Time{}, false, nil
	}
	var f float64
	if c := raw[0]; c != '-' && (c < '0' || c > '9') || json.Unmarshal(raw, &f) != nil || f < 0 || f > maxNumericDate || math.IsNaN(f) {
		return time.Time{}, true, fmt.Errorf("the %s claim must be a number of seconds since 1970", name)
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e9)), true, nil
}

// quoteMember shows member name of m for an error message, shortened.
func quoteMember(m map[string]json.RawMessage, name string) string {
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

// checkKey reports whether k, a public key, may verify alg: the key type
// and curve the algorithm names (RFC 7518 §3.1, RFC 8037 §3.1), and at
// least MinRSABits for RSA.
func checkKey(k *jose.JSONWebKey, alg jose.SignatureAlgorithm) error {
	switch pub := k.Key.(type) {
	case *ecdsa.PublicKey:
		want := map[jose.SignatureAlgorithm]elliptic.Curve{
			jose.ES256: elliptic.P256(), jose.ES384: elliptic.P384(), jose.ES512: elliptic.P521(),
		}[alg]
		if want == nil || pub.Curve != want {
			return fmt.Errorf("an EC key on %s cannot verify %s", pub.Curve.Params().Name, alg)
		}
	case *rsa.PublicKey:
		switch alg {
		case jose.PS256, jose.PS384, jose.PS512, jose.RS256, jose.RS384, jose.RS512:
		default:
			return fmt.Errorf("an RSA key cannot verify %s", alg)
		}
		if n := pub.N.BitLen(); n < MinRSABits {
			return fmt.Errorf("the RSA key has %d bits; at least %d are required", n, MinRSABits)
		}
	case ed25519.PublicKey:
		if alg != jose.EdDSA {
			return fmt.Errorf("an Ed25519 key cannot verify %s", alg)
		}
	default:
		return fmt.Errorf("unsupported key type %T", k.Key)
	}
	return nil
}
