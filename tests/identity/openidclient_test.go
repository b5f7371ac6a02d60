package identity_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/identity/demo"
)

// rpResult is the result line of `node rp.mjs login` (js/rp.mjs).
type rpResult struct {
	ACR      string   `json:"acr"`
	AMR      []string `json:"amr"`
	Sub      string   `json:"sub"`
	Userinfo struct {
		Sub        string `json:"sub"`
		GivenName  string `json:"given_name"`
		FamilyName string `json:"family_name"`
		Birthdate  string `json:"birthdate"`
	} `json:"userinfo"`
	TokenType           string   `json:"token_type"`
	RefreshRotated      bool     `json:"refresh_rotated"`
	Logout              string   `json:"logout"`
	DPoPNonceChallenges []string `json:"dpop_nonce_challenges"`
	Checks              []string `json:"checks"`
}

// TestOpenIDClient logs a demo resident in through an independent relying
// party built on openid-client, a certified RP library, driving the
// provider's pages in headless Chromium: at eidas1 (password) and eidas2
// (password and TOTP), with the whole FAPI 2.0 profile (PAR,
// private_key_jwt, DPoP with server nonces, PKCE, iss), the id_token and
// userinfo encrypted to the client, refresh token rotation and
// RP-initiated logout. rp.mjs checks each step; this test checks what the
// service ends up with.
func TestOpenIDClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real coffre serve and headless Chromium (runs without -short)")
	}
	needBrowser(t)
	srv := startProvider(t)
	rp := registerRP(t, srv)
	louise := demo.Residents[0]

	subs := map[string]string{}
	for _, tc := range []struct {
		acr     string
		wantAMR []string
	}{
		{"eidas1", []string{"pwd"}},
		{"eidas2", []string{"pwd", "otp", "mfa"}},
	} {
		t.Run("acr="+tc.acr, func(t *testing.T) {
			var res rpResult
			rp.run(t, "rp.mjs", rp.config(tc.acr, louise), &res)
			t.Logf("acr %s amr %v; DPoP nonce challenges: %v; checks: %v", res.ACR, res.AMR, res.DPoPNonceChallenges, res.Checks)
			if got, want := res.ACR, tc.acr; got != want {
				t.Errorf("acr = %q, want %q", got, want)
			}
			for _, m := range tc.wantAMR {
				if !slices.Contains(res.AMR, m) {
					t.Errorf("amr = %v, want it to include %q", res.AMR, m)
				}
			}
			ui := res.Userinfo
			if ui.GivenName != "Louise Marie" || ui.FamilyName != "Gastaud" || ui.Birthdate != "1990-04-12" {
				t.Errorf("userinfo: given_name %q family_name %q birthdate %q, want Louise Marie, Gastaud, 1990-04-12", ui.GivenName, ui.FamilyName, ui.Birthdate)
			}
			if res.Sub == "" || strings.Contains(res.Sub, louise.NationalNumber) || ui.Sub != res.Sub {
				t.Errorf("sub = %q (userinfo %q), want a pairwise subject, the same in both, without the national number %s", res.Sub, ui.Sub, louise.NationalNumber)
			}
			if res.TokenType != "dpop" {
				t.Errorf("token_type = %q, want dpop (sender-constrained tokens)", res.TokenType)
			}
			if !res.RefreshRotated {
				t.Error("the refresh token was not rotated")
			}
			if res.Logout != "done" {
				t.Errorf("logout = %q, want done", res.Logout)
			}
			// The provider runs with DPoP nonces: the first proof at the
			// PAR endpoint, and a proof without nonce at userinfo (a
			// resource server), were challenged, and the library retried
			// with the provider's nonce.
			for _, want := range []string{"POST /par 400", "GET /userinfo 401"} {
				if !slices.Contains(res.DPoPNonceChallenges, want) {
					t.Errorf("use_dpop_nonce challenges = %v, want %q among them", res.DPoPNonceChallenges, want)
				}
			}
			subs[tc.acr] = res.Sub
		})
	}
	// Pairwise subjects are per sector, not per login or level.
	if subs["eidas1"] != "" && subs["eidas2"] != "" && subs["eidas1"] != subs["eidas2"] {
		t.Errorf("sub at eidas1 %q, at eidas2 %q: want the same subject for one client", subs["eidas1"], subs["eidas2"])
	}
}
