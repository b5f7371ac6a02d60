package jwt

import (
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// sign makes a token with a raw go-jose signer, for the shapes the
// provider's Signer never makes.
func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, payload string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTamperedJWS: any change to header, payload or signature fails.
func TestTamperedJWS(t *testing.T) {
	s, _ := newSigner(t, stores[0])
	set := PublicJWKS(s.PublicKey())
	tok, err := s.Sign(claims, "JWT")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	for i := range parts {
		t.Run(fmt.Sprintf("part=%d", i), func(t *testing.T) {
			p := append([]string(nil), parts...)
			p[i] = flip(p[i])
			if payload, _, err := Verify(strings.Join(p, "."), &set); err == nil {
				t.Fatalf("Verify(part %d altered) accepted %s", i, payload)
			}
		})
	}
	// Line breaks, which Go's base64 decoders skip.
	if _, _, err := Verify(tok[:10]+"\r\n"+tok[10:], &set); !errors.Is(err, ErrBadToken) {
		t.Fatalf("Verify(token with CRLF) = %v, want ErrBadToken", err)
	}
	// Another claim set with the original signature.
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2]
	if _, _, err := Verify(forged, &set); !errors.Is(err, ErrBadToken) {
		t.Fatalf("Verify(forged payload) = %v, want ErrBadToken", err)
	}
	// The same token against another key with the same kid.
	other, _ := newSigner(t, stores[0])
	oset := PublicJWKS(other.PublicKey())
	if _, _, err := Verify(tok, &oset); !errors.Is(err, ErrBadToken) {
		t.Fatalf("Verify(with another key) = %v, want ErrBadToken", err)
	}
}

func TestVerifyKeySelection(t *testing.T) {
	testKeys(t)
	k256, k384 := ecKeys["P-256"], ecKeys["P-384"]
	pub := func(k *ecdsa.PrivateKey, kid, use string) jose.JSONWebKey {
		return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Use: use}
	}
	noKid := sign(t, jose.ES256, k256, "", `{"n":1}`)
	withKid := sign(t, jose.ES256, k256, "a", `{"n":2}`)
	for name, c := range map[string]struct {
		tok  string
		set  []jose.JSONWebKey
		algs []jose.SignatureAlgorithm
		want error
	}{
		"kid, one key":             {withKid, []jose.JSONWebKey{pub(k256, "a", "sig")}, nil, nil},
		"kid among several":        {withKid, []jose.JSONWebKey{pub(k384, "b", ""), pub(k256, "a", "")}, nil, nil},
		"no kid, one key":          {noKid, []jose.JSONWebKey{pub(k256, "a", "sig")}, nil, nil},
		"no kid, one fitting":      {noKid, []jose.JSONWebKey{pub(k256, "a", "sig"), pub(k384, "b", "sig")}, nil, nil},
		"no kid, two fitting":      {noKid, []jose.JSONWebKey{pub(k256, "a", "sig"), pub(ecKeys["P-256"], "b", "")}, nil, ErrNoKey},
		"unknown kid":              {withKid, []jose.JSONWebKey{pub(k256, "z", "sig")}, nil, ErrNoKey},
		"enc key":                  {withKid, []jose.JSONWebKey{pub(k256, "a", "enc")}, nil, ErrNoKey},
		"key for another alg":      {withKid, []jose.JSONWebKey{{Key: &k256.PublicKey, KeyID: "a", Algorithm: "ES384"}}, nil, ErrNoKey},
		"kid on a P-384 key":       {withKid, []jose.JSONWebKey{pub(k384, "a", "sig")}, nil, ErrNoKey},
		"nil set":                  {withKid, nil, nil, ErrNoKey},
		"ES384 not allowed":        {sign(t, jose.ES384, k384, "b", `{}`), []jose.JSONWebKey{pub(k384, "b", "")}, nil, ErrBadToken},
		"ES384 allowed":            {sign(t, jose.ES384, k384, "b", `{}`), []jose.JSONWebKey{pub(k384, "b", "")}, []jose.SignatureAlgorithm{jose.ES256, jose.ES384}, nil},
		"HS256 asked":              {withKid, []jose.JSONWebKey{{Key: make([]byte, 32), KeyID: "a"}}, []jose.SignatureAlgorithm{jose.HS256}, ErrUnsupported},
		"HS256 token, public key":  {sign(t, jose.HS256, make([]byte, 32), "a", `{}`), []jose.JSONWebKey{pub(k256, "a", "")}, nil, ErrBadToken},
		"alg none":                 {base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"a"}`)) + ".e30.", []jose.JSONWebKey{pub(k256, "a", "")}, nil, ErrBadToken},
		"private key in set works": {withKid, []jose.JSONWebKey{{Key: k256, KeyID: "a"}}, nil, nil},
	} {
		t.Run("case="+name, func(t *testing.T) {
			var set *jose.JSONWebKeySet
			if c.set != nil {
				set = &jose.JSONWebKeySet{Keys: c.set}
			}
			_, _, err := Verify(c.tok, set, c.algs...)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}
