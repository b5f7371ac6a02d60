package jwt

import (
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/keys/keyring"
)

type idClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
}

var claims = idClaims{Iss: "https://id.coffre.example", Sub: "pairwise-123", Aud: "client-1", Exp: 2000000000}

func header(t *testing.T, compact string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.SplitN(compact, ".", 2)[0])
	if err != nil {
		t.Fatalf("header of %q: %v", compact, err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("header %s: %v", b, err)
	}
	return h
}

// TestSignVerify signs with each kind of store and checks the result with
// go-jose directly (as any relying party would) and with Verify.
func TestSignVerify(t *testing.T) {
	for _, st := range stores {
		t.Run("store="+st.name, func(t *testing.T) {
			s, _ := newSigner(t, st)
			for _, typ := range []string{"JWT", "at+jwt", "logout+jwt"} {
				t.Run("typ="+typ, func(t *testing.T) {
					tok, err := s.Sign(claims, typ)
					if err != nil {
						t.Fatal(err)
					}
					h := header(t, tok)
					if len(h) != 3 || h["alg"] != "ES256" || h["kid"] != "k1" || h["typ"] != typ {
						t.Fatalf("header = %v, want exactly alg ES256, kid k1, typ %s", h, typ)
					}
					sig, _ := base64.RawURLEncoding.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:])
					if len(sig) != 64 {
						t.Fatalf("signature of %d bytes, want 64 (R||S, RFC 7518 §3.4)", len(sig))
					}
					// go-jose, with the bare public key.
					jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
					if err != nil {
						t.Fatal(err)
					}
					payload, err := jws.Verify(s.PublicKey().JWK().Key)
					if err != nil {
						t.Fatalf("go-jose Verify = %v", err)
					}
					var got idClaims
					if err := json.Unmarshal(payload, &got); err != nil || got != claims {
						t.Fatalf("payload = %s (%v), want %+v", payload, err, claims)
					}
					// Verify, with the published set.
					set := PublicJWKS(s.PublicKey())
					payload, hdr, err := Verify(tok, &set)
					if err != nil {
						t.Fatalf("Verify = %v", err)
					}
					if hdr.KeyID != "k1" || hdr.ExtraHeaders[jose.HeaderType] != typ || !json.Valid(payload) {
						t.Fatalf("Verify header = %+v", hdr)
					}
				})
			}
		})
	}
}

// TestSignerPublicKey: the Signer publishes the store's key.
func TestSignerPublicKey(t *testing.T) {
	s, ks := newSigner(t, stores[0])
	cs, err := ks.Signer(t.Context(), "id-token")
	if err != nil {
		t.Fatal(err)
	}
	if !cs.Public().(*ecdsa.PublicKey).Equal(s.PublicKey().JWK().Key) {
		t.Fatal("Signer.PublicKey is not the store's key")
	}
	// An empty kid is the RFC 7638 thumbprint.
	s2, err := NewSigner(t.Context(), ks, "id-token", "")
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := Thumbprint(cs.Public())
	if s2.KeyID() != tp || len(tp) != 43 {
		t.Fatalf("KeyID with an empty kid = %q, want the thumbprint %q", s2.KeyID(), tp)
	}
}

// TestSignStoreClosed: once the store is closed, Sign fails with
// keys.ErrClosed and returns no token.
func TestSignStoreClosed(t *testing.T) {
	for _, st := range stores {
		t.Run("store="+st.name, func(t *testing.T) {
			s, ks := newSigner(t, st)
			if err := ks.Close(); err != nil {
				t.Fatal(err)
			}
			tok, err := s.Sign(claims, "JWT")
			if !errors.Is(err, keys.ErrClosed) || tok != "" {
				t.Fatalf("Sign after Close = %q, %v; want no token and keys.ErrClosed", tok, err)
			}
			if _, err := NewSigner(t.Context(), ks, "id-token", "k1"); !errors.Is(err, keys.ErrClosed) {
				t.Fatalf("NewSigner after Close = %v, want keys.ErrClosed", err)
			}
		})
	}
}

// TestSignSealed: a sealed keyring refuses to sign with keys.ErrSealed.
func TestSignSealed(t *testing.T) {
	s, ks := newSigner(t, stores[0])
	ks.(*keyring.Store).Seal()
	if tok, err := s.Sign(claims, "JWT"); !errors.Is(err, keys.ErrSealed) || tok != "" {
		t.Fatalf("Sign with the keyring sealed = %q, %v; want keys.ErrSealed", tok, err)
	}
}

func TestNewSignerNoKey(t *testing.T) {
	ks := stores[0].new(t)
	if _, err := NewSigner(t.Context(), ks, "missing", "k1"); !errors.Is(err, keys.ErrNoSuchKey) {
		t.Fatalf("NewSigner(missing key) = %v, want keys.ErrNoSuchKey", err)
	}
}

func TestSignInvalid(t *testing.T) {
	s, _ := newSigner(t, stores[0])
	for name, c := range map[string]struct {
		claims any
		typ    string
	}{
		"empty typ":        {claims, ""},
		"typ with space":   {claims, "at jwt"},
		"typ with newline": {claims, "JWT\n"},
		"long typ":         {claims, strings.Repeat("a", 65)},
		"array claims":     {[]string{"a"}, "JWT"},
		"string claims":    {"sub", "JWT"},
		"null claims":      {nil, "JWT"},
		"unmarshalable":    {map[string]any{"c": make(chan int)}, "JWT"},
	} {
		t.Run("case="+name, func(t *testing.T) {
			if tok, err := s.Sign(c.claims, c.typ); !errors.Is(err, ErrInvalid) || tok != "" {
				t.Fatalf("Sign = %q, %v; want ErrInvalid", tok, err)
			}
		})
	}
	// json.RawMessage claims are passed through.
	tok, err := s.Sign(json.RawMessage(`{"sub":"raw"}`), "JWT")
	if err != nil {
		t.Fatal(err)
	}
	set := PublicJWKS(s.PublicKey())
	if p, _, err := Verify(tok, &set); err != nil || string(p) != `{"sub":"raw"}` {
		t.Fatalf("Verify(raw claims) = %s, %v", p, err)
	}
}

func TestPublicJWKS(t *testing.T) {
	a, _ := newSigner(t, stores[0])
	ks := stores[0].new(t)
	pub, err := ks.CreateSigningKey(t.Context(), "previous")
	if err != nil {
		t.Fatal(err)
	}
	prev, err := NewPublicKey("k0", pub)
	if err != nil {
		t.Fatal(err)
	}
	set := PublicJWKS(a.PublicKey(), prev, PublicKey{}, a.PublicKey())
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 2 {
		t.Fatalf("PublicJWKS = %s, want 2 keys (zero and duplicate skipped)", b)
	}
	for i, kid := range []string{"k1", "k0"} {
		k := doc.Keys[i]
		if k["kid"] != kid || k["use"] != "sig" || k["alg"] != "ES256" || k["kty"] != "EC" || k["crv"] != "P-256" {
			t.Errorf("key %d = %v, want kid %s, use sig, alg ES256, EC P-256", i, k, kid)
		}
		if _, ok := k["d"]; ok {
			t.Errorf("key %d has a private part", i)
		}
	}
	// What the provider publishes, a client parses.
	if _, err := ParseKeySet(b); err != nil {
		t.Fatalf("ParseKeySet(PublicJWKS) = %v", err)
	}
	if b, _ := json.Marshal(PublicJWKS()); string(b) != `{"keys":[]}` {
		t.Fatalf("PublicJWKS() = %s, want an empty keys array", b)
	}
	testKeys(t)
	if _, err := NewPublicKey("x", &ecKeys["P-384"].PublicKey); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("NewPublicKey(P-384) = %v, want ErrUnsupported", err)
	}
}
