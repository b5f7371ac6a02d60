package op

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/webeid/webeidtest"
)

// The card tests run the ID-card login against webeidtest's national PKI:
// cards are SoftHSM2 tokens that sign through PKCS#11 as the Web eID
// application has a card sign, and the PKI's revocation server answers
// OCSP and serves the CRL. What they cannot run is card.js with the real
// extension and application (see card.js for the protocol they speak).

// cardFixture is the fixture with the card login on, trusting pki.
type cardFixture struct {
	*fixture
	pki *webeidtest.PKI
}

func newCardFixture(t *testing.T) *cardFixture {
	t.Helper()
	pki := webeidtest.NewPKI(t)
	// Origin empty: the provider uses its issuer's.
	f := newFixture(t, func(c *Config) { c.Card = pki.Validator("") })
	return &cardFixture{fixture: f, pki: pki}
}

// issueCard issues a card of pki naming the fixture's resident (unless
// opts say otherwise), and registers it for them if register is set.
func (f *cardFixture) issueCard(pki *webeidtest.PKI, opts webeidtest.CardOptions, register bool) *webeidtest.Card {
	f.t.Helper()
	if opts.Number == "" {
		opts.Number = f.resident.NationalNumber
	}
	c := pki.IssueCard(f.t, opts)
	if register {
		f.registerCard(c.Cert)
	}
	return c
}

// registerCard adds a card to the resident's, as an import of the
// population register does.
func (f *fixture) registerCard(cert *x509.Certificate) {
	f.t.Helper()
	err := f.reg.UpdateResident(context.Background(), f.resident.NationalNumber, func(r *identity.Resident) error {
		r.Cards = append(r.Cards, identity.Card{Certificate: cert.Raw, Fingerprint: identity.CardFingerprint(cert.Raw)})
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// loginPage starts an authorization at acr in the flow's browser and
// returns the login page, its URL (the card steps' base) and CSRF token.
func (f *fixture) loginPage(fl *flow, acr string) (page, action, csrf string) {
	f.t.Helper()
	uri := f.push(fl, url.Values{"acr_values": {acr}})
	resp, page := get(f.t, fl.browser, f.issuer+pathAuthorize+"?client_id="+f.client.ID+"&request_uri="+url.QueryEscape(uri))
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("login page at %s: %d\n%s", acr, resp.StatusCode, page)
	}
	return page, resp.Request.URL.String(), csrfOf(f.t, page)
}

// postJSON posts body to a JSON step as card.js does, with the CSRF
// header unless csrf is empty, and returns the status and the JSON answer
// (nil if the answer is not JSON).
func postJSON(t *testing.T, b *http.Client, u, csrf string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var answer map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &answer); err != nil {
			t.Fatalf("POST %s: %d with a malformed JSON answer %q", u, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, answer
}

// challenge asks for a card challenge and returns its nonce.
func (f *fixture) challenge(fl *flow, action, csrf string) string {
	f.t.Helper()
	status, answer := postJSON(f.t, fl.browser, action+"/card/challenge", csrf, []byte("{}"))
	nonce, _ := answer["nonce"].(string)
	if status != http.StatusOK || nonce == "" {
		f.t.Fatalf("card challenge: %d %v, want 200 and a nonce", status, answer)
	}
	return nonce
}

// token has card sign nonce for origin, as the Web eID application does.
func token(t *testing.T, card *webeidtest.Card, origin, nonce string) []byte {
	t.Helper()
	b, err := card.Token(origin, nonce)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cardEvent returns the last authn event of the card method.
func (f *fixture) cardEvent() map[string]any {
	f.t.Helper()
	var last map[string]any
	for line := range strings.Lines(f.events.String()) {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil && ev["event"] == "authn" && ev["method"] == "sc" {
			last = ev
		}
	}
	if last == nil {
		f.t.Fatalf("no authn event of method sc in:\n%s", f.events.String())
	}
	return last
}

// TestCardLogin: a valid, registered card logs in at eidas3, and at a
// lower level too; the id_token says eidas3 with the smart card methods.
func TestCardLogin(t *testing.T) {
	f := newCardFixture(t)
	card := f.issueCard(f.pki, webeidtest.CardOptions{}, true)
	for _, acr := range []string{"eidas3", "eidas1"} {
		t.Run("acr="+acr, func(t *testing.T) {
			fl := &flow{browser: f.newBrowser()}
			page, action, csrf := f.loginPage(fl, acr)
			if !strings.Contains(page, `id="card"`) || !strings.Contains(page, "/static/card.js") {
				t.Fatalf("the login page at %s does not offer the card:\n%s", acr, page)
			}
			nonce := f.challenge(fl, action, csrf)
			status, answer := postJSON(t, fl.browser, action+"/card", csrf, token(t, card, f.issuer, nonce))
			redirect, _ := answer["redirect"].(string)
			if status != http.StatusOK || redirect != action+"/consent" {
				t.Fatalf("card step: %d %v, want 200 and the consent page", status, answer)
			}
			resp, consentPage := get(t, fl.browser, redirect)
			q := f.consent(fl, resp, consentPage)
			status, tok := f.exchange(fl, q.Get("code"))
			if status != http.StatusOK {
				t.Fatalf("code exchange: %d %v", status, tok)
			}
			id := f.idToken(tok["id_token"].(string))
			if id["acr"] != "eidas3" {
				t.Errorf("id_token acr = %v, want eidas3", id["acr"])
			}
			var amr []string
			for _, m := range id["amr"].([]any) {
				amr = append(amr, m.(string))
			}
			if !slices.Equal(amr, []string{"sc", "pin", "mfa"}) {
				t.Errorf("id_token amr = %v, want [sc pin mfa]", amr)
			}
			ev := f.cardEvent()
			if ev["result"] != "ok" || ev["acr"] != "eidas3" || ev["subject"] != f.reg.Ref(f.resident.NationalNumber) {
				t.Errorf("card event %v: want result ok, acr eidas3 and the resident's reference", ev)
			}
		})
	}
	if s := f.events.String(); strings.Contains(s, f.resident.NationalNumber) || strings.Contains(s, "TESTEUR") {
		t.Errorf("the events carry the national number or the name:\n%s", s)
	}
}

// TestCardOnlyAtEidas3: an eidas3 request cannot be satisfied by the
// password: the page does not offer it, and a post to it is refused.
func TestCardOnlyAtEidas3(t *testing.T) {
	f := newCardFixture(t)
	fl := &flow{browser: f.newBrowser()}
	page, action, csrf := f.loginPage(fl, "eidas3")
	if strings.Contains(page, `name="password"`) {
		t.Fatalf("the eidas3 login page offers the password:\n%s", page)
	}
	resp, _ := postForm(t, fl.browser, action+"/password", url.Values{"csrf": {csrf}, "username": {f.resident.NationalNumber}, "password": {f.password}})
	if resp.StatusCode != http.StatusUnauthorized || strings.HasSuffix(resp.Request.URL.Path, "/consent") {
		t.Fatalf("the right password posted at eidas3: %d at %s, want 401 on the login page", resp.StatusCode, resp.Request.URL.Path)
	}
	resp, _ = get(t, fl.browser, action+"/consent")
	if strings.HasSuffix(resp.Request.URL.Path, "/consent") {
		t.Fatalf("the consent page is reachable after the password at eidas3")
	}
}

// TestCardRefusals: each check of the card step refuses with its message
// and its reason in the event, and the login stays where it was.
func TestCardRefusals(t *testing.T) {
	f := newCardFixture(t)
	other := webeidtest.NewPKI(t)
	past := time.Now().AddDate(-3, 0, 0)
	for _, c := range []struct {
		name    string
		card    func() *webeidtest.Card // a card, registered or not
		origin  string                  // the origin the card signs; "": the issuer's
		down    bool                    // OCSP and CRL unreachable
		status  int
		message string
		reason  string
	}{
		{name: "card=unregistered", card: func() *webeidtest.Card { return f.issueCard(f.pki, webeidtest.CardOptions{}, false) },
			status: 401, message: "n'est associée à aucun compte", reason: "unregistered"},
		{name: "card=revoked-in-register", card: func() *webeidtest.Card {
			c := f.issueCard(f.pki, webeidtest.CardOptions{}, true)
			if _, err := f.reg.RevokeCard(context.Background(), identity.CardFingerprint(c.Cert.Raw)); err != nil {
				t.Fatal(err)
			}
			return c
		}, status: 401, message: "Cette carte a été révoquée.", reason: "revoked-register"},
		{name: "card=revoked-by-ocsp", card: func() *webeidtest.Card {
			c := f.issueCard(f.pki, webeidtest.CardOptions{}, true)
			f.pki.Server.Revoke(c.Cert.SerialNumber)
			return c
		}, status: 401, message: "Cette carte a été révoquée.", reason: "revoked-ca"},
		{name: "revocation=down", card: func() *webeidtest.Card { return f.issueCard(f.pki, webeidtest.CardOptions{}, true) },
			down: true, status: 503, message: "La vérification de la carte est momentanément impossible.", reason: "revocation-unavailable"},
		{name: "card=expired", card: func() *webeidtest.Card {
			return f.issueCard(f.pki, webeidtest.CardOptions{NotBefore: past, NotAfter: past.AddDate(1, 0, 0)}, true)
		}, status: 401, message: "Cette carte a expiré.", reason: "expired"},
		{name: "ca=other", card: func() *webeidtest.Card { return f.issueCard(other, webeidtest.CardOptions{}, true) },
			status: 401, message: "autorité reconnue", reason: "untrusted"},
		{name: "origin=other", card: func() *webeidtest.Card { return f.issueCard(f.pki, webeidtest.CardOptions{}, true) },
			origin: "https://rp.example", status: 401, message: "n'a pas pu être vérifiée", reason: "signature"},
		{name: "subject=other-person", card: func() *webeidtest.Card {
			return f.issueCard(f.pki, webeidtest.CardOptions{Number: "9999999999"}, true)
		}, status: 401, message: "n'a pas pu être vérifiée", reason: "subject"},
	} {
		t.Run(c.name, func(t *testing.T) {
			card := c.card()
			origin := c.origin
			if origin == "" {
				origin = f.issuer
			}
			if c.down {
				f.pki.Server.SetOCSPDown(true)
				f.pki.Server.SetCRLDown(true)
				defer f.pki.Server.SetOCSPDown(false)
				defer f.pki.Server.SetCRLDown(false)
			}
			fl := &flow{browser: f.newBrowser()}
			_, action, csrf := f.loginPage(fl, "eidas3")
			nonce := f.challenge(fl, action, csrf)
			status, answer := postJSON(t, fl.browser, action+"/card", csrf, token(t, card, origin, nonce))
			msg, _ := answer["error"].(string)
			if status != c.status || !strings.Contains(msg, c.message) {
				t.Fatalf("card step: %d %v, want %d and a message with %q", status, answer, c.status, c.message)
			}
			if ev := f.cardEvent(); ev["result"] != "failed" || ev["reason"] != c.reason {
				t.Errorf("card event %v: want result failed, reason %s", ev, c.reason)
			}
			resp, _ := get(t, fl.browser, action+"/consent")
			if strings.HasSuffix(resp.Request.URL.Path, "/consent") {
				t.Errorf("the consent page is reachable after a refused card")
			}
		})
	}
	if n := f.pki.Server.CRLRequests(); n == 0 {
		t.Errorf("the CRL was never asked for: revocation=down did not test the fallback")
	}
}

// TestCardChallenge: a challenge serves once, in its own interaction only.
func TestCardChallenge(t *testing.T) {
	f := newCardFixture(t)
	card := f.issueCard(f.pki, webeidtest.CardOptions{}, true)

	t.Run("replay=same-token", func(t *testing.T) {
		fl := &flow{browser: f.newBrowser()}
		_, action, csrf := f.loginPage(fl, "eidas3")
		tok := token(t, card, f.issuer, f.challenge(fl, action, csrf))
		if status, answer := postJSON(t, fl.browser, action+"/card", csrf, tok); status != http.StatusOK {
			t.Fatalf("first use: %d %v, want 200", status, answer)
		}
		if status, answer := postJSON(t, fl.browser, action+"/card", csrf, tok); status != http.StatusBadRequest {
			t.Fatalf("the same token again: %d %v, want 400 (challenge spent)", status, answer)
		}
		if ev := f.cardEvent(); ev["reason"] != "nonce" {
			t.Errorf("card event %v: want reason nonce", ev)
		}
		// A new challenge does not revive the old token either.
		f.challenge(fl, action, csrf)
		if status, answer := postJSON(t, fl.browser, action+"/card", csrf, tok); status != http.StatusUnauthorized {
			t.Fatalf("the old token after a new challenge: %d %v, want 401", status, answer)
		}
	})

	t.Run("replay=after-failure", func(t *testing.T) {
		fl := &flow{browser: f.newBrowser()}
		_, action, csrf := f.loginPage(fl, "eidas3")
		nonce := f.challenge(fl, action, csrf)
		if status, _ := postJSON(t, fl.browser, action+"/card", csrf, []byte(`{"format":"web-eid:1.0"}`)); status != http.StatusBadRequest {
			t.Fatalf("a malformed token: %d, want 400", status)
		}
		if status, answer := postJSON(t, fl.browser, action+"/card", csrf, token(t, card, f.issuer, nonce)); status != http.StatusBadRequest {
			t.Fatalf("a good token for a challenge a failed attempt spent: %d %v, want 400", status, answer)
		}
	})

	t.Run("nonce=other-interaction", func(t *testing.T) {
		a, b := &flow{browser: f.newBrowser()}, &flow{browser: f.newBrowser()}
		_, actionA, csrfA := f.loginPage(a, "eidas3")
		_, actionB, csrfB := f.loginPage(b, "eidas3")
		nonceA := f.challenge(a, actionA, csrfA)
		f.challenge(b, actionB, csrfB)
		tokA := token(t, card, f.issuer, nonceA)
		if status, answer := postJSON(t, b.browser, actionB+"/card", csrfB, tokA); status != http.StatusUnauthorized {
			t.Fatalf("A's token posted in B's login: %d %v, want 401", status, answer)
		}
		if ev := f.cardEvent(); ev["reason"] != "signature" {
			t.Errorf("card event %v: want reason signature", ev)
		}
		if status, answer := postJSON(t, a.browser, actionA+"/card", csrfA, tokA); status != http.StatusOK {
			t.Fatalf("A's token in A's login: %d %v, want 200", status, answer)
		}
	})

	t.Run("csrf=missing", func(t *testing.T) {
		fl := &flow{browser: f.newBrowser()}
		_, action, csrf := f.loginPage(fl, "eidas3")
		for _, step := range []string{"/card/challenge", "/card"} {
			for _, header := range []string{"", "forged"} {
				if status, _ := postJSON(t, fl.browser, action+step, header, []byte("{}")); status != http.StatusForbidden {
					t.Errorf("POST %s with X-CSRF-Token %q: %d, want 403", step, header, status)
				}
			}
		}
		nonce := f.challenge(fl, action, csrf)
		if status, _ := postJSON(t, fl.browser, action+"/card", "", token(t, card, f.issuer, nonce)); status != http.StatusForbidden {
			t.Errorf("a good token without the CSRF header: %d, want 403", status)
		}
	})
}

// TestCardOff: without a validator, the page does not offer the card and
// its steps answer 404.
func TestCardOff(t *testing.T) {
	f := newFixture(t)
	fl := &flow{browser: f.newBrowser()}
	page, action, csrf := f.loginPage(fl, "eidas1")
	if strings.Contains(page, `id="card"`) || strings.Contains(page, "card.js") {
		t.Fatalf("the login page offers the card while it is off:\n%s", page)
	}
	if status, answer := postJSON(t, fl.browser, action+"/card/challenge", csrf, []byte("{}")); status != http.StatusNotFound || answer["error"] == nil {
		t.Fatalf("card challenge while off: %d %v, want 404 with an error", status, answer)
	}
}

func TestWebOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://id.example":         "https://id.example",
		"https://ID.Example:443/op":  "https://id.example",
		"https://id.example:8443":    "https://id.example:8443",
		"http://127.0.0.1:9100":      "http://127.0.0.1:9100",
		"http://localhost:80/issuer": "http://localhost",
		"http://[::1]:9100/identity": "http://[::1]:9100",
	} {
		u, _ := url.Parse(in)
		if got := webOrigin(u); got != want {
			t.Errorf("webOrigin(%s) = %s, want %s", in, got, want)
		}
	}
}
