package op

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/coffre-cloud/coffre/identity/jwt"
)

// TestVerifyIDToken checks the id_tokens S3 STS exchanges: one from the
// code flow verifies, and each kind of bad token is refused with the error
// that tells expired from invalid.
func TestVerifyIDToken(t *testing.T) {
	f := newFixture(t)
	fl := &flow{browser: f.newBrowser()}
	resp, page := f.loginPassword(fl, f.push(fl, url.Values{"acr_values": {"eidas1"}}), f.password)
	q := f.consent(fl, resp, page)
	status, tok := f.exchange(fl, q.Get("code"))
	if status != 200 {
		t.Fatalf("code exchange: %d %v", status, tok)
	}
	idt, err := jwt.Decrypt(tok["id_token"].(string), f.encKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := f.p.VerifyIDToken(ctx, idt)
	if err != nil {
		t.Fatalf("VerifyIDToken(an id_token of the code flow) = %v", err)
	}
	if got.Client != f.client.ID || got.NationalNumber != f.resident.NationalNumber || got.JTI == "" || got.ACR != "eidas1" || got.Subject == "" {
		t.Fatalf("VerifyIDToken = %+v, want the client, the resident, a jti and acr eidas1", got)
	}
	if _, err := f.p.VerifyIDToken(ctx, tok["id_token"].(string)); !errors.Is(err, ErrIDTokenInvalid) {
		t.Errorf("VerifyIDToken(the encrypted id_token) = %v, want ErrIDTokenInvalid", err)
	}

	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": f.issuer, "sub": got.Subject, "aud": f.client.ID, "exp": time.Now().Add(time.Minute).Unix(),
			"at_hash": "x", "jti": "j", "acr": "eidas1"}
		edit(c)
		return c
	}
	sign := func(c map[string]any) string {
		s, err := f.p.sign(c, "JWT")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	other := newFixture(t)
	fromOther, err := other.p.sign(claims(func(map[string]any) {}), "JWT")
	if err != nil {
		t.Fatal(err)
	}
	foreignKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: foreignKey, KeyID: f.p.current}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims(func(map[string]any) {}))
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := jws.CompactSerialize()
	for _, c := range []struct {
		name, tok string
		want      error
	}{
		{"token=signed", sign(claims(func(map[string]any) {})), nil},
		{"token=expired", sign(claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Second).Unix() })), ErrIDTokenExpired},
		{"token=other provider", fromOther, ErrIDTokenInvalid},
		{"token=forged with the provider's kid", forged, ErrIDTokenInvalid},
		{"token=other issuer", sign(claims(func(c map[string]any) { c["iss"] = "https://elsewhere.example" })), ErrIDTokenInvalid},
		{"token=unknown subject", sign(claims(func(c map[string]any) { c["sub"] = "nobody" })), ErrIDTokenInvalid},
		{"token=access token", tok["access_token"].(string), ErrIDTokenInvalid},
		{"token=garbage", "not.a.token", ErrIDTokenInvalid},
		{"token=long", strings.Repeat("a", 20000), ErrIDTokenInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.p.VerifyIDToken(ctx, c.tok)
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Fatalf("VerifyIDToken = %v, want %v", err, c.want)
			}
		})
	}

	// The provider's clock decides expiry.
	f.p.now = func() time.Time { return got.Expires.Add(time.Second) }
	if _, err := f.p.VerifyIDToken(ctx, idt); !errors.Is(err, ErrIDTokenExpired) {
		t.Fatalf("VerifyIDToken a second after exp = %v, want ErrIDTokenExpired", err)
	}
}
