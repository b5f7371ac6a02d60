package jwt

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Encrypt returns the nested JWT of OpenID Connect Core §16.14: jws (a
// compact JWS, signed first) encrypted to the client's key as a compact
// JWE with cty "JWT" and the key's kid. alg is one of KeyAlgorithms
// (ECDH-ES or ECDH-ES+A256KW with an EC P-256, P-384 or P-521 key;
// RSA-OAEP-256 with an RSA key of 2048 bits or more), enc one of
// ContentEncryptions. A key whose use is not "enc" (or empty), whose alg
// is another one, or of the wrong type or size is ErrNoKey; ChooseEncKey
// picks a fitting one from a client's set.
func Encrypt(jws string, to jose.JSONWebKey, alg jose.KeyAlgorithm, enc jose.ContentEncryption) (string, error) {
	if !slices.Contains(keyAlgs, alg) {
		return "", fmt.Errorf("%w: JWE alg %q (supported: %v)", ErrUnsupported, alg, keyAlgs)
	}
	if !slices.Contains(contentEncs, enc) {
		return "", fmt.Errorf("%w: JWE enc %q (supported: %v)", ErrUnsupported, enc, contentEncs)
	}
	if strings.Count(jws, ".") != 2 {
		return "", fmt.Errorf("%w: the payload of a nested JWT must be a compact JWS", ErrInvalid)
	}
	pub, ok := publicOf(to)
	if !ok {
		return "", fmt.Errorf("%w: recipient key %q is not an asymmetric key", ErrNoKey, to.KeyID)
	}
	if err := usableForEncryption(pub, alg); err != nil {
		return "", fmt.Errorf("%w: recipient key %q cannot be used for %s: %v", ErrNoKey, to.KeyID, alg, err)
	}
	e, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: alg, Key: pub.Key, KeyID: pub.KeyID},
		(&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		return "", fmt.Errorf("jwt: encrypt to key %q: %w", to.KeyID, err)
	}
	obj, err := e.Encrypt([]byte(jws))
	if err != nil {
		return "", fmt.Errorf("jwt: encrypt to key %q: %w", to.KeyID, err)
	}
	return obj.CompactSerialize()
}

// ChooseEncKey returns the first key of a client's set that Encrypt can
// use with alg: use "enc" or no use, alg alg or no alg, the right type,
// curve or size. Private key material in the set is ignored (only the
// public half is returned). No such key is ErrNoKey, with the reason each
// key was passed over.
func ChooseEncKey(set *jose.JSONWebKeySet, alg jose.KeyAlgorithm) (jose.JSONWebKey, error) {
	if !slices.Contains(keyAlgs, alg) {
		return jose.JSONWebKey{}, fmt.Errorf("%w: JWE alg %q (supported: %v)", ErrUnsupported, alg, keyAlgs)
	}
	if set == nil || len(set.Keys) == 0 {
		return jose.JSONWebKey{}, fmt.Errorf("%w: the client's key set is empty", ErrNoKey)
	}
	var why []string
	for _, k := range set.Keys {
		pub, ok := publicOf(k)
		if !ok {
			why = append(why, fmt.Sprintf("%q: not an asymmetric key", k.KeyID))
			continue
		}
		if err := usableForEncryption(pub, alg); err != nil {
			why = append(why, fmt.Sprintf("%q: %v", k.KeyID, err))
			continue
		}
		return pub, nil
	}
	return jose.JSONWebKey{}, fmt.Errorf("%w: no key of the client's set can be used for %s (%s)", ErrNoKey, alg, strings.Join(why, "; "))
}

// Decrypt opens a nested JWT made by Encrypt (or by anyone using the same
// algorithms) with the recipient's private key (*ecdsa.PrivateKey,
// *rsa.PrivateKey or a jose.JSONWebKey holding one) and returns the inner
// compact JWS, still to be verified. It refuses a JWE whose cty is not
// "JWT", that is compressed, or whose alg or enc is not supported
// (ErrBadToken).
func Decrypt(jwe string, priv any) (string, error) {
	if !compact(jwe) {
		return "", fmt.Errorf("%w: not a compact JWE (characters outside base64url and '.')", ErrBadToken)
	}
	obj, err := jose.ParseEncryptedCompact(jwe, keyAlgs, contentEncs)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	if _, ok := obj.Header.ExtraHeaders["zip"]; ok {
		return "", fmt.Errorf("%w: compressed JWE", ErrBadToken)
	}
	if cty, _ := obj.Header.ExtraHeaders[jose.HeaderContentType].(string); !strings.EqualFold(cty, "JWT") {
		return "", fmt.Errorf("%w: cty %q, want \"JWT\" (a nested JWT)", ErrBadToken, cty)
	}
	plain, err := obj.Decrypt(priv)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	return string(plain), nil
}
