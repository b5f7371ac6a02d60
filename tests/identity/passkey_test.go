package identity_test

import (
	"regexp"
	"slices"
	"testing"

	"github.com/coffre-cloud/coffre/identity/demo"
)

// activationCodeRE matches an activation code as the register writes it
// (identity.NewActivationCode): two groups of five symbols.
var activationCodeRE = regexp.MustCompile(`\b[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}\b`)

// passkeyLogin is one login of passkey.mjs, as the relying party saw it.
type passkeyLogin struct {
	ACR string   `json:"acr"`
	AMR []string `json:"amr"`
	Sub string   `json:"sub"`
}

// passkeyResult is the result line of `node passkey.mjs` (js/passkey.mjs).
type passkeyResult struct {
	Enrollment  passkeyLogin `json:"enrollment"`
	Passkey     passkeyLogin `json:"passkey"`
	Credentials []struct {
		RPID     string `json:"rpId"`
		Resident bool   `json:"resident"`
	} `json:"credentials"`
}

// TestPasskeyLogin enrolls a passkey in Chromium's virtual authenticator
// (CTAP2, platform, resident key, user verification) and logs in with it:
// the operator gives a resident without TOTP an activation code (coffre
// identity resident activation-code), the resident logs in with the
// password and the code and enrolls a passkey, which reaches eidas2; a
// second login has the passkey alone as second factor, eidas2 again.
// passkey.mjs also runs axe-core on the second-factor page's passkey
// variants (enrollment, enrollment refused, passkey).
func TestPasskeyLogin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real coffre serve and headless Chromium (runs without -short)")
	}
	needBrowser(t)
	srv := startProvider(t)
	rp := registerRP(t, srv)
	rossi := demo.Residents[1] // no TOTP: the passkey is the only second factor
	if rossi.TOTP != "" {
		t.Fatalf("demo resident %s has a TOTP secret; the test wants one without", rossi.NationalNumber)
	}
	out := coffreCLI(t, srv, "identity", "resident", "activation-code", "--nn", rossi.NationalNumber)
	code := activationCodeRE.FindString(out)
	if code == "" {
		t.Fatalf("coffre identity resident activation-code: %q, want a code like 7KQ2M-XW9DA", out)
	}

	cfg := rp.config("eidas2", rossi)
	cfg.ActivationCode = code
	var res passkeyResult
	rp.run(t, "passkey.mjs", cfg, &res)
	t.Logf("enrollment: acr %s amr %v; passkey: acr %s amr %v", res.Enrollment.ACR, res.Enrollment.AMR, res.Passkey.ACR, res.Passkey.AMR)
	for name, l := range map[string]passkeyLogin{"enrollment": res.Enrollment, "passkey": res.Passkey} {
		if l.ACR != "eidas2" || !slices.Contains(l.AMR, "hwk") || !slices.Contains(l.AMR, "mfa") {
			t.Errorf("%s login: acr %q amr %v, want eidas2 with hwk and mfa (RFC 8176: a key in hardware, more than one factor)", name, l.ACR, l.AMR)
		}
	}
	if len(res.Credentials) != 1 || res.Credentials[0].RPID != "localhost" || !res.Credentials[0].Resident {
		t.Errorf("authenticator credentials = %+v, want one resident credential for localhost", res.Credentials)
	}
}
