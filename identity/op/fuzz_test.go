package op

import (
	"net/url"
	"slices"
	"testing"

	"github.com/coffre-cloud/coffre/identity"
)

// FuzzAuthRequest feeds arbitrary query strings to the checks of an
// authorization request: they must never panic, and what they accept must
// hold the invariants the rest of the flow relies on.
func FuzzAuthRequest(f *testing.F) {
	for _, s := range []string{
		"client_id=c1&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
		"client_id=c1&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid+identite_pivot+email&state=xyz&nonce=n&acr_values=eidas2+eidas3&prompt=login&max_age=0&ui_locales=en-GB&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&dpop_jkt=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		"scope=openid&response_type=code&prompt=none+login",
		"redirect_uri=https%3A%2F%2Frp.example%2Fcb%23frag&acr_values=%00",
	} {
		f.Add(s)
	}
	c := &identity.Client{ID: "c1", RedirectURIs: []string{"https://rp.example/cb"}, Scopes: []string{"email", "identite_pivot", "profile"}}
	p := &Provider{}
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		ar, err := p.checkAuthRequest(c, v)
		if err != nil {
			if asOAuth(err).Code == "" {
				t.Fatalf("an error without an OAuth code: %v", err)
			}
			return
		}
		switch {
		case !slices.Contains(c.RedirectURIs, ar.redirectURI):
			t.Fatalf("accepted redirect_uri %q", ar.redirectURI)
		case !pkceRE.MatchString(ar.codeChallenge):
			t.Fatalf("accepted code_challenge %q", ar.codeChallenge)
		case !slices.Contains(ar.scopes, "openid"):
			t.Fatalf("accepted scopes %v", ar.scopes)
		case ar.level < 0 || ar.level >= len(acrLevels):
			t.Fatalf("level %d", ar.level)
		case ar.prompt["none"] && len(ar.prompt) > 1:
			t.Fatalf("prompt %v", ar.prompt)
		}
	})
}
