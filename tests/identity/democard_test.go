package identity_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/demo"
	"github.com/coffre-cloud/coffre/internal/testenv"
)

// The demo ID cards of `coffre serve`'s embedded default (identity/demo):
// a demo PKI in the site's key store, one card per demo resident, a demo
// card reader that stands in for the Web eID extension. These tests play
// the browser's part in Go: the login page's card.js (challenge, token,
// card step) and the demo card reader's (POST /demo/card/sign); democard.mjs
// runs the same login in Chromium.

var (
	dataCSRFRE   = regexp.MustCompile(`data-csrf="([^"]+)"`)
	dataActionRE = regexp.MustCompile(`id="card" type="button" data-action="([^"]+)"`)
)

// cardLogin is a login under way at eidas3 in a browser without
// JavaScript: the login page's card button gives the card steps' URL and
// CSRF token.
type cardLogin struct {
	b            *http.Client
	action, csrf string // action: .../login/{id}/card
}

// startCardLogin opens the demo service's eidas3 login and checks that the
// provider's login page offers the card, with the demo card reader loaded
// before card.js, and not the password.
func startCardLogin(t *testing.T, srv *testenv.Server) *cardLogin {
	t.Helper()
	b := browser()
	resp, page := fetch(t, b, http.MethodGet, srv.Issuer+"/demo/login?acr=eidas3", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="card"`) {
		t.Fatalf("demo login at eidas3: %d, want the provider's login page with the card\n%s", resp.StatusCode, page)
	}
	if strings.Contains(page, `name="password"`) {
		t.Fatalf("the eidas3 login page offers the password:\n%s", page)
	}
	reader := strings.Index(page, `<script src="`+srv.Issuer+`/demo/card-reader.js"></script>`)
	cardJS := strings.Index(page, `<script src="/static/card.js"></script>`)
	if reader < 0 || cardJS < 0 || reader > cardJS {
		t.Fatalf("the login page does not load the demo card reader (%s/demo/card-reader.js) before card.js:\n%s", srv.Issuer, page)
	}
	m, a := dataCSRFRE.FindStringSubmatch(page), dataActionRE.FindStringSubmatch(page)
	if m == nil || a == nil {
		t.Fatalf("no data-csrf or data-action on the card button:\n%s", page)
	}
	return &cardLogin{b: b, action: html.UnescapeString(a[1]), csrf: html.UnescapeString(m[1])}
}

// postJSON posts body as JSON with extra headers and returns the status
// and the raw answer.
func postJSON(t *testing.T, c *http.Client, u string, body any, header http.Header) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// challenge asks for a card challenge, as card.js does.
func (l *cardLogin) challenge(t *testing.T) string {
	t.Helper()
	status, raw := postJSON(t, l.b, l.action+"/challenge", struct{}{}, http.Header{"X-Csrf-Token": {l.csrf}})
	var answer struct{ Nonce string }
	json.Unmarshal(raw, &answer)
	if status != http.StatusOK || answer.Nonce == "" {
		t.Fatalf("card challenge: %d %s, want 200 and a nonce", status, raw)
	}
	return answer.Nonce
}

// signRequest is the body of POST /demo/card/sign.
type signRequest struct {
	NN     string `json:"nn"`
	PIN    string `json:"pin"`
	Origin string `json:"origin"`
	Nonce  string `json:"nonce"`
}

// demoSign asks the demo card reader's card to sign, as card-reader.js
// does, and returns the status and the answer.
func demoSign(t *testing.T, c *http.Client, srv *testenv.Server, req signRequest) (int, []byte) {
	t.Helper()
	return postJSON(t, c, srv.Issuer+"/demo/card/sign", req, http.Header{"Origin": {srv.Issuer}})
}

// token signs the login's challenge with the demo card of nn and the
// demo PIN.
func (l *cardLogin) token(t *testing.T, srv *testenv.Server, nn string) []byte {
	t.Helper()
	nonce := l.challenge(t)
	status, tok := demoSign(t, l.b, srv, signRequest{NN: nn, PIN: demo.CardPIN, Origin: srv.Issuer, Nonce: nonce})
	if status != http.StatusOK {
		t.Fatalf("demo card sign: %d %s, want 200 and a Web eID token", status, tok)
	}
	return tok
}

// cardStep posts a token to the card step, as card.js does, and returns
// the status and the answer (redirect or error).
func (l *cardLogin) cardStep(t *testing.T, tok []byte) (int, map[string]string) {
	t.Helper()
	status, raw := postJSON(t, l.b, l.action, json.RawMessage(tok), http.Header{"X-Csrf-Token": {l.csrf}})
	var answer map[string]string
	if err := json.Unmarshal(raw, &answer); err != nil {
		t.Fatalf("card step: %d with a malformed answer %q", status, raw)
	}
	return status, answer
}

// loginWithDemoCard logs nn in at eidas3 with their demo card, through
// the demo service, and returns the demo service's page.
func loginWithDemoCard(t *testing.T, srv *testenv.Server, nn string) string {
	t.Helper()
	l := startCardLogin(t, srv)
	status, answer := l.cardStep(t, l.token(t, srv, nn))
	if status != http.StatusOK || !strings.HasSuffix(answer["redirect"], "/consent") {
		t.Fatalf("card step: %d %v, want 200 and the consent page", status, answer)
	}
	_, page := fetch(t, l.b, http.MethodGet, answer["redirect"], nil)
	resp, page := fetch(t, l.b, http.MethodPost, answer["redirect"], url.Values{"csrf": {csrf(t, page)}, "decision": {"allow"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<span id="acr">eidas3</span>`) {
		t.Fatalf("demo callback: %d, want the service's page at eidas3\n%s", resp.StatusCode, page)
	}
	return page
}

// demoCards returns the demo card reader's list of cards.
func demoCards(t *testing.T, srv *testenv.Server) []demo.CardInfo {
	t.Helper()
	resp, body := fetch(t, http.DefaultClient, http.MethodGet, srv.Issuer+"/demo/card/list", nil)
	var cards []demo.CardInfo
	if err := json.Unmarshal([]byte(body), &cards); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET /demo/card/list: %d %q (%v), want the demo cards", resp.StatusCode, body, err)
	}
	return cards
}

// demoCA returns the demo root and issuing CA certificates.
func demoCA(t *testing.T, srv *testenv.Server) (root, ca *x509.Certificate) {
	t.Helper()
	resp, body := fetch(t, http.DefaultClient, http.MethodGet, srv.Issuer+"/demo/ca.pem", nil)
	var certs []*x509.Certificate
	for rest := []byte(body); ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, cert)
	}
	if resp.StatusCode != http.StatusOK || len(certs) != 2 {
		t.Fatalf("GET /demo/ca.pem: %d with %d certificates, want the root and the issuing CA", resp.StatusCode, len(certs))
	}
	return certs[0], certs[1]
}

// tokenCert returns the card certificate of a Web eID token.
func tokenCert(t *testing.T, tok []byte) *x509.Certificate {
	t.Helper()
	var fields struct {
		UnverifiedCertificate, Algorithm string
	}
	if err := json.Unmarshal(tok, &fields); err != nil {
		t.Fatal(err)
	}
	der, err := base64.StdEncoding.DecodeString(fields.UnverifiedCertificate)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if fields.Algorithm != "ES256" {
		t.Errorf("token algorithm %q, want ES256 (a P-256 card key)", fields.Algorithm)
	}
	return cert
}

// TestDemoCard logs demo residents in at eidas3 with their demo ID cards
// through the demo service of `coffre serve` on its embedded defaults, as
// the README tour does in a browser; checks what the demo card is (its
// certificate) and what it refuses (a wrong PIN, another origin); then
// restarts the server: the CA and the cards are the same, and the login
// still works.
func TestDemoCard(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real coffre serve (runs without -short)")
	}
	srv := testenv.StartCoffre(t, testenv.Opts{})
	louise := demo.Residents[0]
	root, ca := demoCA(t, srv)
	cards := demoCards(t, srv)
	if len(cards) != len(demo.Residents) {
		t.Fatalf("%d demo cards, want one per demo resident (%d)", len(cards), len(demo.Residents))
	}

	t.Run("login", func(t *testing.T) {
		page := html.UnescapeString(loginWithDemoCard(t, srv, louise.NationalNumber))
		for _, want := range []string{`"sc"`, `"pin"`, louise.GivenName} {
			if !strings.Contains(page, want) {
				t.Errorf("the demo service's page lacks %s (amr sc and pin, the resident's given name):\n%s", want, page)
			}
		}
	})

	t.Run("certificate", func(t *testing.T) {
		l := startCardLogin(t, srv)
		cert := tokenCert(t, l.token(t, srv, louise.NationalNumber))
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(root)
		inter.AddCert(ca)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("the card certificate does not chain to the demo CA for clientAuth: %v", err)
		}
		pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			t.Errorf("card key %T, want ECDSA P-256", cert.PublicKey)
		}
		var sn []string
		for _, n := range cert.Subject.Names {
			if n.Type.String() == "2.5.4.5" {
				sn = append(sn, n.Value.(string))
			}
		}
		if want := []string{"PNOMC-" + louise.NationalNumber}; !slices.Equal(sn, want) {
			t.Errorf("subject serialNumber %v, want %v", sn, want)
		}
		if cert.KeyUsage != x509.KeyUsageDigitalSignature || !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
			t.Errorf("key usage %v, extended %v: want digitalSignature and clientAuth", cert.KeyUsage, cert.ExtKeyUsage)
		}
		if life := cert.NotAfter.Sub(cert.NotBefore); life < 2*365*24*time.Hour || life > 2*366*24*time.Hour+time.Hour {
			t.Errorf("validity %v, want 2 years", life)
		}
		if want := []string{srv.Issuer + "/demo/ca.crl"}; !slices.Equal(cert.CRLDistributionPoints, want) || len(cert.OCSPServer) != 0 {
			t.Errorf("CRL distribution points %v, OCSP %v: want %v and no OCSP", cert.CRLDistributionPoints, cert.OCSPServer, want)
		}
		if fp := identity.CardFingerprint(cert.Raw); fp != cards[0].Fingerprint {
			t.Errorf("the token's certificate has fingerprint %s, the reader lists %s", fp, cards[0].Fingerprint)
		}
	})

	t.Run("pin=wrong", func(t *testing.T) {
		l := startCardLogin(t, srv)
		nonce := l.challenge(t)
		status, raw := demoSign(t, l.b, srv, signRequest{NN: louise.NationalNumber, PIN: "0000", Origin: srv.Issuer, Nonce: nonce})
		var answer struct {
			Code      string
			TriesLeft int `json:"tries_left"`
			Signature string
		}
		json.Unmarshal(raw, &answer)
		if status != http.StatusUnauthorized || answer.Code != "pin" || answer.TriesLeft != 2 || answer.Signature != "" {
			t.Fatalf("a wrong PIN: %d %s, want 401, code pin, 2 tries left and no token", status, raw)
		}
		// The right PIN then works on the same challenge, and resets the
		// count of wrong ones.
		status, tok := demoSign(t, l.b, srv, signRequest{NN: louise.NationalNumber, PIN: demo.CardPIN, Origin: srv.Issuer, Nonce: nonce})
		if status != http.StatusOK {
			t.Fatalf("the right PIN after a wrong one: %d %s, want 200", status, tok)
		}
		if status, answer := l.cardStep(t, tok); status != http.StatusOK {
			t.Fatalf("card step: %d %v, want 200", status, answer)
		}
	})

	t.Run("origin=foreign", func(t *testing.T) {
		l := startCardLogin(t, srv)
		nonce := l.challenge(t)
		status, raw := demoSign(t, l.b, srv, signRequest{NN: louise.NationalNumber, PIN: demo.CardPIN, Origin: "https://evil.example", Nonce: nonce})
		if status != http.StatusForbidden || !strings.Contains(string(raw), `"code":"origin"`) {
			t.Errorf("signing for another origin: %d %s, want 403 code origin", status, raw)
		}
		status, raw = postJSON(t, l.b, srv.Issuer+"/demo/card/sign", signRequest{NN: louise.NationalNumber, PIN: demo.CardPIN, Origin: srv.Issuer, Nonce: nonce},
			http.Header{"Origin": {"https://evil.example"}})
		if status != http.StatusForbidden || !strings.Contains(string(raw), `"code":"origin"`) {
			t.Errorf("a request from another site's page: %d %s, want 403 code origin", status, raw)
		}
	})

	t.Run("restart", func(t *testing.T) {
		srv.Restart(t)
		root2, ca2 := demoCA(t, srv)
		if !root2.Equal(root) || !ca2.Equal(ca) {
			t.Errorf("after a restart the demo CA certificates changed")
		}
		if after := demoCards(t, srv); !slices.Equal(after, cards) {
			t.Errorf("after a restart the demo cards are\n%+v\nwant\n%+v", after, cards)
		}
		loginWithDemoCard(t, srv, louise.NationalNumber)
	})
}

// TestDemoCardRevoked revokes a demo card through the CLI (coffre identity
// card revoke, which reaches the running server by its admin socket): the
// provider refuses it, the demo CA's CRL lists it, and the other demo
// cards still log in.
func TestDemoCardRevoked(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real coffre serve (runs without -short)")
	}
	srv := testenv.StartCoffre(t, testenv.Opts{})
	amelie := demo.Residents[2]
	var fp string
	for _, c := range demoCards(t, srv) {
		if c.NationalNumber == amelie.NationalNumber {
			fp = c.Fingerprint
		}
	}
	if fp == "" {
		t.Fatalf("no demo card of resident %s", amelie.NationalNumber)
	}
	out := coffreCLI(t, srv, "identity", "card", "revoke", "--fingerprint", fp)
	if !strings.Contains(out, "card "+fp+" revoked") {
		t.Fatalf("coffre identity card revoke: %q, want \"card %s revoked\"", out, fp)
	}

	l := startCardLogin(t, srv)
	tok := l.token(t, srv, amelie.NationalNumber)
	status, answer := l.cardStep(t, tok)
	if status != http.StatusUnauthorized || !strings.Contains(answer["error"], "révoquée") {
		t.Fatalf("a revoked card: %d %v, want 401 and \"Cette carte a été révoquée.\"", status, answer)
	}
	for _, c := range demoCards(t, srv) {
		if c.NationalNumber == amelie.NationalNumber && !c.Revoked {
			t.Errorf("the demo card reader lists the revoked card as not revoked")
		}
	}

	_, ca := demoCA(t, srv)
	resp, body := fetch(t, http.DefaultClient, http.MethodGet, srv.Issuer+"/demo/ca.crl", nil)
	crl, err := x509.ParseRevocationList([]byte(body))
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET /demo/ca.crl: %d (%v), want a CRL", resp.StatusCode, err)
	}
	if err := crl.CheckSignatureFrom(ca); err != nil {
		t.Errorf("the CRL is not signed by the demo issuing CA: %v", err)
	}
	if now := time.Now(); crl.ThisUpdate.After(now.Add(time.Minute)) || !crl.NextUpdate.After(now) {
		t.Errorf("CRL thisUpdate %v, nextUpdate %v: not current at %v", crl.ThisUpdate, crl.NextUpdate, now)
	}
	serial := tokenCert(t, tok).SerialNumber
	if !slices.ContainsFunc(crl.RevokedCertificateEntries, func(e x509.RevocationListEntry) bool { return e.SerialNumber.Cmp(serial) == 0 }) {
		t.Errorf("the CRL does not list the revoked card (serial %x): %d entries", serial, len(crl.RevokedCertificateEntries))
	}

	// The others' cards are checked against a CRL with an entry.
	loginWithDemoCard(t, srv, demo.Residents[0].NationalNumber)
}

// demoCardResult is the result line of `node democard.mjs` (js/democard.mjs).
type demoCardResult struct {
	ACR       string   `json:"acr"`
	AMR       []string `json:"amr"`
	GivenName string   `json:"given_name"`
	Pages     []struct {
		Page       string `json:"page"`
		Violations int    `json:"violations"`
	} `json:"pages"`
}

// TestDemoCardBrowser logs a demo resident in at eidas3 in headless
// Chromium with the demo card reader's panel (js/democard.mjs): cancel,
// a wrong PIN, the right one; axe-core finds no violation on the login
// page, with the panel open, and with its wrong-PIN message.
func TestDemoCardBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real coffre serve and headless Chromium (runs without -short)")
	}
	needBrowser(t)
	srv := testenv.StartCoffre(t, testenv.Opts{})
	louise := demo.Residents[0]
	b, err := json.Marshal(map[string]string{"issuer": srv.Issuer, "nn": louise.NationalNumber, "pin": demo.CardPIN})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var res demoCardResult
	out := runNode(t, "democard.mjs", file)
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node democard.mjs: result %q: %v", out, err)
	}
	if res.ACR != "eidas3" || !slices.Contains(res.AMR, "sc") || res.GivenName != louise.GivenName {
		t.Errorf("the demo service received acr %q amr %v given_name %q, want eidas3 with sc for %s", res.ACR, res.AMR, res.GivenName, louise.GivenName)
	}
	var got []string
	for _, p := range res.Pages {
		got = append(got, p.Page)
		if p.Violations != 0 {
			t.Errorf("page %s: %d axe violations, want 0", p.Page, p.Violations)
		}
	}
	if want := []string{"login", "login-card-reader", "login-card-reader-wrong-pin"}; !slices.Equal(got, want) {
		t.Errorf("pages checked = %v, want %v", got, want)
	}
}
