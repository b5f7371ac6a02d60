package jwt

import (
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// sigAlgs are the algorithms Verify may be asked to accept: asymmetric
// ones only.
var sigAlgs = []jose.SignatureAlgorithm{
	jose.ES256, jose.ES384, jose.ES512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.RS256, jose.RS384, jose.RS512,
	jose.EdDSA,
}

// Verify checks a compact JWS against a key set and returns its payload
// and protected header. The header's alg must be one of algs (ES256 when
// none is given; HS* and "none" are never accepted). The key is chosen by
// the header's kid among the set's keys that fit alg (use "sig" or none,
// alg alg or none, right type, curve or size); a token without kid is
// accepted only when exactly one key fits. The token must be base64url and
// dots only (no line breaks, which Go's decoders would skip). Unknown or
// ill-fitting kid is ErrNoKey; anything else wrong is ErrBadToken.
// Checking claims (iss, aud, exp) and typ is the caller's job.
//
// A token string is not a unique name for a token: ECDSA signatures are
// malleable ((r, s) and (r, n-s) both verify), so replay caches key on
// the jti claim, never on the token itself.
func Verify(token string, set *jose.JSONWebKeySet, algs ...jose.SignatureAlgorithm) ([]byte, jose.Header, error) {
	if len(algs) == 0 {
		algs = []jose.SignatureAlgorithm{jose.ES256}
	}
	for _, a := range algs {
		if !slices.Contains(sigAlgs, a) {
			return nil, jose.Header{}, fmt.Errorf("%w: JWS alg %q (supported: %v)", ErrUnsupported, a, sigAlgs)
		}
	}
	if !compact(token) {
		return nil, jose.Header{}, fmt.Errorf("%w: not a compact JWS (characters outside base64url and '.')", ErrBadToken)
	}
	jws, err := jose.ParseSignedCompact(token, algs)
	if err != nil {
		return nil, jose.Header{}, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, jose.Header{}, fmt.Errorf("%w: %d signatures", ErrBadToken, len(jws.Signatures))
	}
	h := jws.Signatures[0].Protected
	alg := jose.SignatureAlgorithm(h.Algorithm)
	var fit []jose.JSONWebKey
	if set != nil {
		for _, k := range set.Keys {
			if h.KeyID != "" && k.KeyID != h.KeyID {
				continue
			}
			if pub, ok := publicOf(k); ok && usableForSignature(pub, alg) == nil {
				fit = append(fit, pub)
			}
		}
	}
	switch {
	case len(fit) == 0:
		return nil, h, fmt.Errorf("%w: no key of the set fits kid %q and alg %s", ErrNoKey, h.KeyID, alg)
	case h.KeyID == "" && len(fit) > 1:
		return nil, h, fmt.Errorf("%w: the token has no kid and %d keys of the set fit alg %s", ErrNoKey, len(fit), alg)
	}
	for _, k := range fit {
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, h, nil
		}
	}
	return nil, h, fmt.Errorf("%w: signature does not verify with key %q", ErrBadToken, h.KeyID)
}
