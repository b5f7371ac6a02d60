package jwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/coffre-cloud/coffre/keys"
)

// Signer signs tokens with ES256 and a key that lives in a keys.Store. It
// holds the store's crypto.Signer, never the private key: each Sign is one
// signature made by the store (the HSM, or the keyring's sealed memory).
// A Signer is safe for concurrent use.
type Signer struct {
	name string
	kid  string
	key  jose.JSONWebKey // Key: the store's signer, as a go-jose OpaqueSigner
	pub  PublicKey
}

// NewSigner returns a Signer for the store's signing key name, whose tokens
// carry kid in their header. An empty kid means the key's RFC 7638
// thumbprint (Thumbprint). The key must be ECDSA P-256, as every
// keys.Store signing key is. A store error (keys.ErrNoSuchKey,
// keys.ErrSealed...) is returned wrapped.
//
// go-jose's cryptosigner adapts the store's crypto.Signer: it hashes the
// signing input with SHA-256, has the store sign the digest, and turns the
// ASN.1 DER signature that crypto.Signer returns into the fixed 64-byte
// R||S that JWS requires (RFC 7518 §3.4).
func NewSigner(ctx context.Context, store keys.Store, name, kid string) (*Signer, error) {
	cs, err := store.Signer(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("jwt: signing key %s: %w", name, err)
	}
	pub, err := NewPublicKey(kid, cs.Public())
	if err != nil {
		return nil, fmt.Errorf("jwt: signing key %s: %w", name, err)
	}
	return &Signer{
		name: name,
		kid:  pub.kid,
		key:  jose.JSONWebKey{Key: cryptosigner.Opaque(cs), KeyID: pub.kid, Algorithm: string(jose.ES256), Use: "sig"},
		pub:  pub,
	}, nil
}

// KeyID returns the kid of the Signer's tokens.
func (s *Signer) KeyID() string { return s.kid }

// PublicKey returns the Signer's public key, to publish (PublicJWKS).
func (s *Signer) PublicKey() PublicKey { return s.pub }

// Sign returns claims, marshalled with encoding/json, as a compact JWS
// whose protected header is {"alg":"ES256","kid":kid,"typ":typ}. Claims
// must marshal to a JSON object (RFC 7519 §7.1); typ must be 1 to 64
// printable ASCII characters. When the store cannot sign (sealed, closed,
// unreachable) Sign returns its error wrapped, and no token.
func (s *Signer) Sign(claims any, typ string) (string, error) {
	if !validTyp(typ) {
		return "", fmt.Errorf("%w: typ %q, want 1 to 64 printable ASCII characters", ErrInvalid, typ)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("%w: claims: %v", ErrInvalid, err)
	}
	if len(payload) == 0 || payload[0] != '{' {
		return "", fmt.Errorf("%w: claims marshal to %.20s..., want a JSON object", ErrInvalid, payload)
	}
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: s.key}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", fmt.Errorf("jwt: sign with key %s: %w", s.name, err)
	}
	obj, err := js.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("jwt: sign %s with key %s: %w", typ, s.name, err)
	}
	return obj.CompactSerialize()
}

func validTyp(typ string) bool {
	if len(typ) == 0 || len(typ) > 64 {
		return false
	}
	for i := 0; i < len(typ); i++ {
		if typ[i] <= ' ' || typ[i] > '~' {
			return false
		}
	}
	return true
}

// PublicKey is one of the provider's ES256 verification keys with its kid:
// the current signing key, or a previous one still published because
// tokens it signed have not expired yet.
type PublicKey struct {
	kid string
	key *ecdsa.PublicKey
}

// NewPublicKey returns the PublicKey of an ECDSA P-256 key (as
// keys.Store.CreateSigningKey and crypto.Signer.Public return it). An
// empty kid means the key's thumbprint.
func NewPublicKey(kid string, pub crypto.PublicKey) (PublicKey, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return PublicKey{}, fmt.Errorf("%w: a %T, want an ECDSA P-256 key (ES256)", ErrUnsupported, pub)
	}
	if kid == "" {
		var err error
		if kid, err = Thumbprint(k); err != nil {
			return PublicKey{}, err
		}
	}
	return PublicKey{kid: kid, key: k}, nil
}

// KeyID returns the key's kid.
func (p PublicKey) KeyID() string { return p.kid }

// JWK returns the key as published: use "sig", alg "ES256", its kid.
func (p PublicKey) JWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: p.key, KeyID: p.kid, Algorithm: string(jose.ES256), Use: "sig"}
}

// PublicJWKS returns the provider's key set, to serve at its jwks_uri
// (json.Marshal gives the document): the current key and the previous
// ones, in the order given. A zero PublicKey is skipped, and so is a
// second key with the same kid.
func PublicJWKS(keys ...PublicKey) jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	seen := make(map[string]bool)
	for _, k := range keys {
		if k.key == nil || seen[k.kid] {
			continue
		}
		seen[k.kid] = true
		set.Keys = append(set.Keys, k.JWK())
	}
	return set
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of a public key,
// base64url without padding: a kid that changes when, and only when, the
// key does.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("%w: thumbprint: %v", ErrUnsupported, err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}
