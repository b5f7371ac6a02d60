package jwt

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestNested signs with each store, encrypts to each kind of client key,
// then plays the client: decrypt, verify, read the claims.
func TestNested(t *testing.T) {
	cases := []struct {
		key string
		alg jose.KeyAlgorithm
		enc jose.ContentEncryption
	}{
		{"P-256", jose.ECDH_ES, jose.A256GCM},
		{"P-384", jose.ECDH_ES, jose.A256GCM},
		{"P-521", jose.ECDH_ES, jose.A256GCM},
		{"P-256", jose.ECDH_ES_A256KW, jose.A256GCM},
		{"RSA", jose.RSA_OAEP_256, jose.A256GCM},
		{"P-256", jose.ECDH_ES, jose.A128GCM},
		{"RSA", jose.RSA_OAEP_256, jose.A128CBC_HS256},
	}
	for _, st := range stores {
		s, _ := newSigner(t, st)
		set := PublicJWKS(s.PublicKey())
		for _, c := range cases {
			t.Run(fmt.Sprintf("store=%s/key=%s/alg=%s/enc=%s", st.name, c.key, c.alg, c.enc), func(t *testing.T) {
				priv, pub := clientKey(t, c.key, "client-enc-1")
				jws, err := s.Sign(claims, "JWT")
				if err != nil {
					t.Fatal(err)
				}
				jwe, err := Encrypt(jws, pub, c.alg, c.enc)
				if err != nil {
					t.Fatalf("Encrypt = %v", err)
				}
				if n := strings.Count(jwe, "."); n != 4 {
					t.Fatalf("Encrypt gave %d dots, want a 5-part compact JWE", n)
				}
				h := header(t, jwe)
				if h["alg"] != string(c.alg) || h["enc"] != string(c.enc) || h["kid"] != "client-enc-1" || h["cty"] != "JWT" {
					t.Fatalf("JWE header = %v, want alg %s, enc %s, kid client-enc-1, cty JWT", h, c.alg, c.enc)
				}
				inner, err := Decrypt(jwe, priv)
				if err != nil {
					t.Fatalf("Decrypt = %v", err)
				}
				if inner != jws {
					t.Fatal("Decrypt did not give back the signed token")
				}
				payload, _, err := Verify(inner, &set)
				if err != nil {
					t.Fatalf("Verify(inner) = %v", err)
				}
				var got idClaims
				if err := json.Unmarshal(payload, &got); err != nil || got != claims {
					t.Fatalf("claims = %s, want %+v", payload, claims)
				}
				// The client's JWK form of its private key works too.
				if _, err := Decrypt(jwe, jose.JSONWebKey{Key: priv, KeyID: "client-enc-1"}); err != nil {
					t.Fatalf("Decrypt(JWK) = %v", err)
				}
			})
		}
	}
}

// TestTamperedJWE: a change to any of the five parts of the JWE, or the
// wrong private key, and Decrypt fails.
func TestTamperedJWE(t *testing.T) {
	s, _ := newSigner(t, stores[0])
	jws, err := s.Sign(claims, "JWT")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"P-256", "RSA"} {
		priv, pub := clientKey(t, kind, "c")
		alg := jose.ECDH_ES
		if kind == "RSA" {
			alg = jose.RSA_OAEP_256
		}
		jwe, err := Encrypt(jws, pub, alg, jose.A256GCM)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(jwe, ".")
		for i := range parts {
			if parts[i] == "" {
				continue // ECDH-ES has no encrypted key
			}
			t.Run(fmt.Sprintf("key=%s/part=%d", kind, i), func(t *testing.T) {
				p := append([]string(nil), parts...)
				p[i] = flip(p[i])
				if got, err := Decrypt(strings.Join(p, "."), priv); !errors.Is(err, ErrBadToken) || got != "" {
					t.Fatalf("Decrypt(part %d altered) = %q, %v; want ErrBadToken", i, got, err)
				}
			})
		}
		if _, err := Decrypt(jwe[:10]+"\n"+jwe[10:], priv); !errors.Is(err, ErrBadToken) {
			t.Fatalf("Decrypt(JWE with a line break) = %v, want ErrBadToken", err)
		}
		other, _ := clientKey(t, map[string]string{"P-256": "P-384", "RSA": "P-256"}[kind], "c")
		if _, err := Decrypt(jwe, other); !errors.Is(err, ErrBadToken) {
			t.Fatalf("Decrypt with another key = %v, want ErrBadToken", err)
		}
	}
}

// flip changes one character in the middle of a base64url string to
// another base64url character.
func flip(s string) string {
	if s == "" {
		return "A"
	}
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestEncryptRefusals(t *testing.T) {
	s, _ := newSigner(t, stores[0])
	jws, err := s.Sign(claims, "JWT")
	if err != nil {
		t.Fatal(err)
	}
	_, p256 := clientKey(t, "P-256", "ec")
	_, rsa := clientKey(t, "RSA", "rsa")
	_, weak := clientKey(t, "RSA-1024", "weak")
	sigKey := p256
	sigKey.Use = "sig"
	otherAlg := p256
	otherAlg.Algorithm = string(jose.ECDH_ES_A256KW)
	for name, c := range map[string]struct {
		payload string
		key     jose.JSONWebKey
		alg     jose.KeyAlgorithm
		enc     jose.ContentEncryption
		want    error
	}{
		"RSA-1024":          {jws, weak, jose.RSA_OAEP_256, jose.A256GCM, ErrNoKey},
		"EC key for RSA":    {jws, p256, jose.RSA_OAEP_256, jose.A256GCM, ErrNoKey},
		"RSA key for ECDH":  {jws, rsa, jose.ECDH_ES, jose.A256GCM, ErrNoKey},
		"use sig":           {jws, sigKey, jose.ECDH_ES, jose.A256GCM, ErrNoKey},
		"key for other alg": {jws, otherAlg, jose.ECDH_ES, jose.A256GCM, ErrNoKey},
		"symmetric key":     {jws, jose.JSONWebKey{Key: make([]byte, 32)}, jose.ECDH_ES, jose.A256GCM, ErrNoKey},
		"no key":            {jws, jose.JSONWebKey{}, jose.ECDH_ES, jose.A256GCM, ErrNoKey},
		"RSA1_5":            {jws, rsa, jose.RSA1_5, jose.A256GCM, ErrUnsupported},
		"RSA-OAEP (SHA-1)":  {jws, rsa, jose.RSA_OAEP, jose.A256GCM, ErrUnsupported},
		"dir":               {jws, jose.JSONWebKey{Key: make([]byte, 32)}, jose.DIRECT, jose.A256GCM, ErrUnsupported},
		"A192GCM":           {jws, p256, jose.ECDH_ES, jose.A192GCM, ErrUnsupported},
		"payload not a JWS": {`{"sub":"x"}`, p256, jose.ECDH_ES, jose.A256GCM, ErrInvalid},
		"payload is a JWE":  {"a.b.c.d.e", p256, jose.ECDH_ES, jose.A256GCM, ErrInvalid},
		"empty payload":     {"", p256, jose.ECDH_ES, jose.A256GCM, ErrInvalid},
	} {
		t.Run("case="+name, func(t *testing.T) {
			if got, err := Encrypt(c.payload, c.key, c.alg, c.enc); !errors.Is(err, c.want) || got != "" {
				t.Fatalf("Encrypt = %q, %v; want %v", got, err, c.want)
			}
		})
	}
}

func TestChooseEncKey(t *testing.T) {
	_, p256 := clientKey(t, "P-256", "ec-enc")
	_, p384 := clientKey(t, "P-384", "ec-384")
	_, rsa := clientKey(t, "RSA", "rsa-enc")
	_, weak := clientKey(t, "RSA-1024", "rsa-weak")
	sig := p256
	sig.KeyID, sig.Use = "ec-sig", "sig"
	kw := p256
	kw.KeyID, kw.Algorithm = "ec-kw", string(jose.ECDH_ES_A256KW)
	p384.Use = ""
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{sig, weak, kw, rsa, p384, p256}}
	for _, c := range []struct {
		alg  jose.KeyAlgorithm
		want string
	}{
		{jose.ECDH_ES, "ec-384"},       // sig and kw are passed over; no use is fine
		{jose.ECDH_ES_A256KW, "ec-kw"}, // alg matches
		{jose.RSA_OAEP_256, "rsa-enc"}, // the weak one is passed over
	} {
		got, err := ChooseEncKey(set, c.alg)
		if err != nil || got.KeyID != c.want {
			t.Errorf("ChooseEncKey(%s) = %q, %v; want %q", c.alg, got.KeyID, err, c.want)
		}
	}
	if _, err := ChooseEncKey(&jose.JSONWebKeySet{Keys: []jose.JSONWebKey{sig, weak}}, jose.RSA_OAEP_256); !errors.Is(err, ErrNoKey) {
		t.Errorf("ChooseEncKey(no fit) = %v, want ErrNoKey", err)
	}
	if _, err := ChooseEncKey(nil, jose.ECDH_ES); !errors.Is(err, ErrNoKey) {
		t.Errorf("ChooseEncKey(nil) = %v, want ErrNoKey", err)
	}
	if _, err := ChooseEncKey(set, jose.RSA1_5); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ChooseEncKey(RSA1_5) = %v, want ErrUnsupported", err)
	}
	// A private key in the set yields its public half.
	priv, _ := clientKey(t, "P-521", "p521")
	got, err := ChooseEncKey(&jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv, KeyID: "p521"}}}, jose.ECDH_ES)
	if err != nil || !got.IsPublic() {
		t.Errorf("ChooseEncKey(private key) = %+v, %v; want its public half", got, err)
	}
}

// TestDecryptRefusals: JWEs that are not nested JWTs of the supported
// algorithms are refused before decryption.
func TestDecryptRefusals(t *testing.T) {
	priv, pub := clientKey(t, "P-256", "c")
	rpriv, rpub := clientKey(t, "RSA", "r")
	enc := func(key any, alg jose.KeyAlgorithm, opts *jose.EncrypterOptions) string {
		t.Helper()
		e, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: alg, Key: key}, opts)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := e.Encrypt([]byte("a.b.c"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for name, c := range map[string]struct {
		jwe  string
		priv any
	}{
		"no cty":      {enc(pub.Key, jose.ECDH_ES, nil), priv},
		"cty JSON":    {enc(pub.Key, jose.ECDH_ES, (&jose.EncrypterOptions{}).WithContentType("JSON")), priv},
		"compressed":  {enc(pub.Key, jose.ECDH_ES, &jose.EncrypterOptions{Compression: jose.DEFLATE, ExtraHeaders: map[jose.HeaderKey]any{"cty": "JWT"}}), priv},
		"RSA1_5":      {enc(rpub.Key, jose.RSA1_5, (&jose.EncrypterOptions{}).WithContentType("JWT")), rpriv},
		"compact JWS": {"a.b.c", priv},
		"empty":       {"", priv},
		"JSON form":   {`{"protected":"e30","ciphertext":"AA"}`, priv},
		"garbage":     {"....", priv},
	} {
		t.Run("case="+name, func(t *testing.T) {
			if got, err := Decrypt(c.jwe, c.priv); !errors.Is(err, ErrBadToken) || got != "" {
				t.Fatalf("Decrypt = %q, %v; want ErrBadToken", got, err)
			}
		})
	}
	// Lower-case "jwt" is the same media type (RFC 7515 §4.1.10).
	ok := enc(pub.Key, jose.ECDH_ES, (&jose.EncrypterOptions{}).WithContentType("jwt"))
	if got, err := Decrypt(ok, priv); err != nil || got != "a.b.c" {
		t.Fatalf("Decrypt(cty jwt) = %q, %v", got, err)
	}
}
