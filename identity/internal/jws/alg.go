package jws

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// MinRSABits is the smallest RSA key accepted, FAPI 2.0 §5.4.1's.
const MinRSABits = 2048

// asymmetric are the algorithms a verifier may be configured with: the
// registered asymmetric signature algorithms go-jose implements.
var asymmetric = map[jose.SignatureAlgorithm]bool{
	jose.ES256: true, jose.ES384: true, jose.ES512: true,
	jose.PS256: true, jose.PS384: true, jose.PS512: true,
	jose.RS256: true, jose.RS384: true, jose.RS512: true,
	jose.EdDSA: true,
}

// NotAsymmetric returns the first of algs that is not a registered
// asymmetric signature algorithm go-jose implements, and whether there is
// one: a verifier configured with it would accept HMAC, "none" or an
// algorithm nobody can use.
func NotAsymmetric(algs []jose.SignatureAlgorithm) (jose.SignatureAlgorithm, bool) {
	for _, a := range algs {
		if !asymmetric[a] {
			return a, true
		}
	}
	return "", false
}

// ParseSigned is jose.ParseSignedCompact, with an error that lists algs
// when the token's alg is not one of them.
func ParseSigned(s string, algs []jose.SignatureAlgorithm) (*jose.JSONWebSignature, error) {
	signed, err := jose.ParseSignedCompact(s, algs)
	if err != nil {
		var ue *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("alg %q is not accepted; use one of %s", ue.Got, JoinAlgs(algs))
		}
		return nil, err
	}
	return signed, nil
}

// CheckKey reports whether k, a public key, may verify alg: the key type
// and curve the algorithm names (RFC 7518 §3.1, RFC 8037 §3.1), and at
// least MinRSABits for RSA.
func CheckKey(k *jose.JSONWebKey, alg jose.SignatureAlgorithm) error {
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

// JoinAlgs returns algs separated by spaces, as in an algs parameter (RFC
// 9449 §7.1) and in error messages.
func JoinAlgs(algs []jose.SignatureAlgorithm) string {
	s := make([]string, len(algs))
	for i, a := range algs {
		s[i] = string(a)
	}
	return strings.Join(s, " ")
}
