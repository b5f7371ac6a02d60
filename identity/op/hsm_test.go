//go:build cgo

package op

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/keys/pkcs11"
)

// TestHSMUnavailable: with the signing keys in a real HSM (SoftHSM2
// through PKCS#11), tokens are signed there; when the HSM goes away the
// token endpoint refuses with temporarily_unavailable and issues nothing;
// once it is back, issuance resumes.
func TestHSMUnavailable(t *testing.T) {
	h := testenv.SoftHSM(t)
	hsm, err := pkcs11.Create(t.Context(), pkcs11.Config{Module: h.ModulePath, TokenLabel: h.TokenLabel, PIN: keys.Secret(h.PIN), RetryInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hsm.Close() })
	f := newFixture(t, func(c *Config) { c.Keys = hsm })

	login := func() url.Values {
		fl := &flow{browser: f.newBrowser()}
		resp, page := f.loginPassword(fl, f.push(fl, nil), f.password)
		q := f.consent(fl, resp, page)
		q.Set("verifier", fl.verifier)
		return q
	}
	exchange := func(q url.Values) (int, map[string]any) {
		return f.exchange(&flow{verifier: q.Get("verifier")}, q.Get("code"))
	}
	if status, tok := exchange(login()); status != http.StatusOK {
		t.Fatalf("code exchange with the HSM: %d %v", status, tok)
	} else {
		f.idToken(tok["id_token"].(string)) // verifies against the published HSM key
	}

	q := login() // the pairwise subject (a MAC in the HSM) is computed at consent
	replug := h.Unplug(t)
	status, body := exchange(q)
	if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" || body["access_token"] != nil {
		t.Fatalf("code exchange with the HSM unplugged: %d %v, want 503 temporarily_unavailable and no token", status, body)
	}
	if !strings.Contains(f.events.String(), "signing refused by the key store") {
		t.Errorf("no log of the refused signature")
	}
	replug()
	// The refused exchange did not spend the code: the client retries it
	// (the store reconnects within its retry interval).
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body = exchange(q)
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status != http.StatusOK {
		t.Fatalf("retrying the refused exchange once the HSM is back: %d %v", status, body)
	}
}
