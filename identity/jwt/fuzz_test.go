package jwt

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// FuzzParseKeySet reads arbitrary key set documents: no panic, and a set
// that is accepted holds only usable public keys, and survives a round trip.
func FuzzParseKeySet(f *testing.F) {
	testKeys(f)
	ec := jwkMap(f, jose.JSONWebKey{Key: &ecKeys["P-256"].PublicKey, KeyID: "ec", Use: "sig"})
	ecPriv := jwkMap(f, jose.JSONWebKey{Key: ecKeys["P-384"], KeyID: "p"})
	rsaPub := jwkMap(f, jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "rsa", Use: "enc"})
	for _, seed := range [][]byte{
		setJSON(f, ec),
		setJSON(f, ec, rsaPub),
		setJSON(f, ecPriv),
		setJSON(f, with(ec, "kty", "oct", "k", "AAAA")),
		setJSON(f, with(ec, "crv", "P-384")),
		setJSON(f, with(ec, "x5c", []string{"MIIB"})),
		[]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`),
		[]byte(`{"keys":[{"kty":"AKP","alg":"ML-DSA-44","pub":"AA"}]}`),
		[]byte(`{"keys":[]}`),
		[]byte(`{}`),
		[]byte(`null`),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		set, err := ParseKeySet(doc)
		if err != nil {
			if set != nil {
				t.Fatal("ParseKeySet returned a set with its error")
			}
			return
		}
		if len(set.Keys) == 0 || len(set.Keys) > MaxKeys {
			t.Fatalf("accepted a set of %d keys", len(set.Keys))
		}
		for _, k := range set.Keys {
			if !k.IsPublic() || !k.Valid() {
				t.Fatalf("accepted a key that is not public: %T", k.Key)
			}
			if k.Use != "" && k.Use != "sig" && k.Use != "enc" {
				t.Fatalf("accepted use %q", k.Use)
			}
			if r, ok := k.Key.(*rsa.PublicKey); ok && r.N.BitLen() < minRSABits {
				t.Fatalf("accepted an RSA key of %d bits", r.N.BitLen())
			}
		}
		b, err := json.Marshal(set)
		if err != nil {
			return // go-jose cannot write back some keys it reads (AKP with odd algs)
		}
		again, err := ParseKeySet(b)
		if err != nil || len(again.Keys) != len(set.Keys) {
			t.Fatalf("round trip: %v (%d keys, want %d)", err, len(again.Keys), len(set.Keys))
		}
	})
}

// FuzzVerify feeds arbitrary compact JWSs to Verify against the
// provider's key set: no panic, and nothing verifies that the key did not
// sign (so an accepted payload is one of the payloads signed below).
func FuzzVerify(f *testing.F) {
	s, _ := newSigner(f, stores[0])
	set := PublicJWKS(s.PublicKey())
	signed := map[string]bool{}
	for _, c := range []any{claims, map[string]any{"sub": "b", "aud": []string{"x", "y"}}, json.RawMessage(`{}`)} {
		tok, err := s.Sign(c, "JWT")
		if err != nil {
			f.Fatal(err)
		}
		_, payload, _ := strings.Cut(tok, ".")
		payload, _, _ = strings.Cut(payload, ".")
		p, _ := base64.RawURLEncoding.DecodeString(payload)
		signed[string(p)] = true
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2])
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".")
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"k1"}`)) + "." + parts[1] + "." + parts[2])
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"k1","crit":["b64"],"b64":false}`)) + "." + parts[1] + "." + parts[2])
	}
	f.Add("")
	f.Add("..")
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, tok string) {
		payload, _, err := Verify(tok, &set)
		if err == nil && !signed[string(payload)] {
			t.Fatalf("Verify accepted a payload that was never signed: %q", payload)
		}
	})
}

// FuzzDecrypt feeds arbitrary compact JWEs to Decrypt: no panic, and what
// decrypts is one of the tokens encrypted below (the AEAD tag holds).
func FuzzDecrypt(f *testing.F) {
	ecPriv, ecPub := clientKey(f, "P-256", "ec")
	rsaPriv, rsaPub := clientKey(f, "RSA", "rsa")
	sent := map[string]bool{}
	for i, c := range []struct {
		pub jose.JSONWebKey
		alg jose.KeyAlgorithm
		enc jose.ContentEncryption
	}{
		{ecPub, jose.ECDH_ES, jose.A256GCM},
		{ecPub, jose.ECDH_ES_A256KW, jose.A128GCM},
		{rsaPub, jose.RSA_OAEP_256, jose.A256GCM},
		{rsaPub, jose.RSA_OAEP_256, jose.A128CBC_HS256},
	} {
		inner := "eyJhbGciOiJFUzI1NiJ9.eyJuIjo" + string(rune('0'+i)) + "fQ.sig"
		jwe, err := Encrypt(inner, c.pub, c.alg, c.enc)
		if err != nil {
			f.Fatal(err)
		}
		sent[inner] = true
		f.Add(jwe)
		parts := strings.Split(jwe, ".")
		parts[3] = flip(parts[3])
		f.Add(strings.Join(parts, "."))
	}
	f.Add("")
	f.Add("....")
	f.Fuzz(func(t *testing.T, jwe string) {
		for _, priv := range []any{ecPriv, rsaPriv} {
			got, err := Decrypt(jwe, priv)
			if err == nil && !sent[got] {
				t.Fatalf("Decrypt gave %q, which was never encrypted", got)
			}
		}
	})
}
