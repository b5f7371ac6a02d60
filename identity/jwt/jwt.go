package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// Error kinds. Functions wrap them with context; callers test with
// errors.Is. Errors of the key store pass through Signer.Sign wrapped, so
// errors.Is(err, keys.ErrUnavailable) works too.
var (
	// ErrInvalid: an argument no call can accept (claims that are not a
	// JSON object, an empty typ, a payload that is not a compact JWS).
	ErrInvalid = errors.New("jwt: invalid argument")
	// ErrUnsupported: an algorithm or key type this package does not use.
	ErrUnsupported = errors.New("jwt: unsupported algorithm or key")
	// ErrNoKey: no key of the set (or the key given) fits the algorithm,
	// use and kid asked for.
	ErrNoKey = errors.New("jwt: no usable key")
	// ErrBadToken: a token that is malformed, uses an algorithm not
	// allowed, fails its signature or does not decrypt.
	ErrBadToken = errors.New("jwt: token refused")
	// ErrBadKeySet: a key set refused as a whole (private or symmetric key
	// material, not JSON, too large, no usable key).
	ErrBadKeySet = errors.New("jwt: key set refused")
	// ErrFetch: a jwks_uri that is not allowed or that did not answer a
	// key set.
	ErrFetch = errors.New("jwt: cannot fetch key set")
)

// minRSABits is the smallest RSA modulus used, to encrypt or to verify.
const minRSABits = 2048

// The encryption algorithms, as discovery metadata lists them
// (id_token_encryption_alg_values_supported, ..._enc_values_supported).
var (
	keyAlgs     = []jose.KeyAlgorithm{jose.ECDH_ES, jose.ECDH_ES_A256KW, jose.RSA_OAEP_256}
	contentEncs = []jose.ContentEncryption{jose.A256GCM, jose.A128GCM, jose.A128CBC_HS256}
)

// KeyAlgorithms returns the JWE "alg" values Encrypt and Decrypt support.
func KeyAlgorithms() []jose.KeyAlgorithm { return slices.Clone(keyAlgs) }

// ContentEncryptions returns the JWE "enc" values Encrypt and Decrypt
// support. A128CBC-HS256 is there because it is OpenID Connect's default
// when a client registers an "alg" without an "enc".
func ContentEncryptions() []jose.ContentEncryption { return slices.Clone(contentEncs) }

// publicOf returns the public key of k (k itself when it is public).
func publicOf(k jose.JSONWebKey) (jose.JSONWebKey, bool) {
	if k.Key == nil {
		return k, false
	}
	if !k.IsPublic() {
		k = k.Public()
	}
	return k, k.Key != nil && k.IsPublic() && k.Valid()
}

// usableForEncryption says why k cannot encrypt for alg, or nil.
func usableForEncryption(k jose.JSONWebKey, alg jose.KeyAlgorithm) error {
	if k.Use != "" && k.Use != "enc" {
		return fmt.Errorf("use %q", k.Use)
	}
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return fmt.Errorf("alg %q", k.Algorithm)
	}
	switch alg {
	case jose.ECDH_ES, jose.ECDH_ES_A256KW:
		pub, ok := k.Key.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("a %T, want an EC key", k.Key)
		}
		switch pub.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("curve %s", pub.Curve.Params().Name)
	case jose.RSA_OAEP_256:
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("a %T, want an RSA key", k.Key)
		}
		if pub.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits, want %d or more", pub.N.BitLen(), minRSABits)
		}
		return nil
	}
	return fmt.Errorf("%w: alg %q", ErrUnsupported, alg)
}

// usableForSignature says why k cannot verify alg, or nil.
func usableForSignature(k jose.JSONWebKey, alg jose.SignatureAlgorithm) error {
	if k.Use != "" && k.Use != "sig" {
		return fmt.Errorf("use %q", k.Use)
	}
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return fmt.Errorf("alg %q", k.Algorithm)
	}
	switch alg {
	case jose.ES256, jose.ES384, jose.ES512:
		pub, ok := k.Key.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("a %T, want an EC key", k.Key)
		}
		want := map[jose.SignatureAlgorithm]elliptic.Curve{jose.ES256: elliptic.P256(), jose.ES384: elliptic.P384(), jose.ES512: elliptic.P521()}[alg]
		if pub.Curve != want {
			return fmt.Errorf("curve %s for %s", pub.Curve.Params().Name, alg)
		}
		return nil
	case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("a %T, want an RSA key", k.Key)
		}
		if pub.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits, want %d or more", pub.N.BitLen(), minRSABits)
		}
		return nil
	case jose.EdDSA:
		if _, ok := k.Key.(ed25519.PublicKey); !ok {
			return fmt.Errorf("a %T, want an Ed25519 key", k.Key)
		}
		return nil
	}
	return fmt.Errorf("%w: alg %q", ErrUnsupported, alg)
}

// compact reports whether s uses only the characters of a compact
// serialization: base64url and dots. Go's base64 decoders skip CR and LF,
// so without this check one token would have many spellings.
func compact(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
