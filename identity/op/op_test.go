package op

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/jwt"
	"github.com/coffre-cloud/coffre/identity/password"
	"github.com/coffre-cloud/coffre/identity/rp"
	"github.com/coffre-cloud/coffre/identity/totp"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/meta/sqlite"
)

// fixture is a provider on a loopback test server with one resident and
// one strict client whose keys the test holds.
type fixture struct {
	t        *testing.T
	p        *Provider
	reg      *identity.Register
	srv      *httptest.Server
	issuer   string
	client   *identity.Client
	sigKey   *ecdsa.PrivateKey // the RP's private_key_jwt key
	encKey   *ecdsa.PrivateKey // the RP's id_token encryption key
	dpopKey  *ecdsa.PrivateKey
	resident *identity.Resident
	password string
	events   *strings.Builder
}

const testRedirect = "https://rp.example/cb"

// newFixture starts the provider; opts change its configuration (a card
// validator, for the card tests) before it is built.
func newFixture(t *testing.T, opts ...func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	m, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ks := testenv.Keyring(t)
	reg, err := identity.Open(ctx, m, ks)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	events := &strings.Builder{}
	lim, err := password.NewLimiter(2, password.Params{Memory: 7168, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Issuer: issuer, Register: reg, Keys: ks, PasswordLimiter: lim,
		Logger: slog.New(slog.NewJSONHandler(&syncWriter{b: events}, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p.Handler()
	srv.Start()
	t.Cleanup(srv.Close)

	f := &fixture{t: t, p: p, reg: reg, srv: srv, issuer: cfg.Issuer, events: events, password: "correct horse battery staple"}
	f.sigKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.encKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.dpopKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: f.sigKey.Public(), KeyID: "sig", Algorithm: "ES256", Use: "sig"},
		{Key: f.encKey.Public(), KeyID: "enc", Algorithm: "ECDH-ES", Use: "enc"},
	}}
	jwks, _ := json.Marshal(set)
	f.client = &identity.Client{ID: "rp-test", Name: "Service de test", RedirectURIs: []string{testRedirect},
		PostLogoutRedirectURIs: []string{"https://rp.example/bye"}, JWKS: jwks, Strict: true,
		IDTokenEncAlg: "ECDH-ES", IDTokenEncEnc: "A256GCM"}
	if err := reg.PutClient(ctx, f.client); err != nil {
		t.Fatal(err)
	}
	hash, err := password.Hash(f.password, password.Params{Memory: 7168, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	f.resident = &identity.Resident{NationalNumber: "1234567890", GivenName: "Louise Marie", FamilyName: "Gastaud",
		Birthdate: "1990-04-12", Gender: "female", Birthplace: "MC-98000", Birthcountry: "MC", Email: "louise@example.mc", PasswordHash: hash}
	if _, err := reg.PutResident(ctx, f.resident); err != nil {
		t.Fatal(err)
	}
	return f
}

type syncWriter struct{ b *strings.Builder }

func (w *syncWriter) Write(p []byte) (int, error) { return w.b.Write(p) }

// assertion is a private_key_jwt client assertion, made as identity/rp
// makes them.
func (f *fixture) assertion() string {
	c := &rp.Client{Issuer: f.issuer, ID: f.client.ID, SigKey: f.sigKey}
	a, err := c.Assertion()
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

// proof is a DPoP proof by key for method and uri.
func (f *fixture) proof(key *ecdsa.PrivateKey, method, uri, nonce, accessToken string) string {
	p, err := rp.Proof(key, method, uri, nonce, accessToken)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// post sends a form with a DPoP proof by key (nil: none), retrying once
// with the nonce the server asks for.
func (f *fixture) post(path string, form url.Values, key *ecdsa.PrivateKey) (int, map[string]any) {
	f.t.Helper()
	nonce := ""
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, f.issuer+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if key != nil {
			req.Header.Set("DPoP", f.proof(key, http.MethodPost, f.issuer+path, nonce, ""))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			f.t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadRequest && body["error"] == "use_dpop_nonce" && nonce == "" {
			nonce = resp.Header.Get("DPoP-Nonce")
			continue
		}
		return resp.StatusCode, body
	}
	panic("unreachable")
}

// login runs PAR, the browser steps and consent for a level, and returns
// the authorization response's query.
type flow struct {
	verifier, state, nonce string
	browser                *http.Client
}

func (f *fixture) newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if "http://"+req.URL.Host != f.issuer {
			return http.ErrUseLastResponse // stop at the client's redirect URI
		}
		return nil
	}}
}

func (f *fixture) push(fl *flow, extra url.Values) string {
	f.t.Helper()
	fl.verifier, fl.state, fl.nonce = randomToken(32), randomToken(8), randomToken(8)
	ch := sha256.Sum256([]byte(fl.verifier))
	form := url.Values{
		"client_id": {f.client.ID}, "redirect_uri": {testRedirect}, "response_type": {"code"},
		"scope": {"openid identite_pivot email"}, "state": {fl.state}, "nonce": {fl.nonce},
		"code_challenge": {b64(ch[:])}, "code_challenge_method": {"S256"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {f.assertion()},
	}
	for k, v := range extra {
		form[k] = v
	}
	status, body := f.post(pathPAR, form, f.dpopKey)
	if status != http.StatusCreated {
		f.t.Fatalf("PAR: %d %v", status, body)
	}
	return body["request_uri"].(string)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches a page in the browser and returns its body and final URL.
func get(t *testing.T, b *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func postForm(t *testing.T, b *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := b.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// loginPassword goes through the login page with the password and returns
// the consent page's response.
func (f *fixture) loginPassword(fl *flow, requestURI, pw string) (*http.Response, string) {
	f.t.Helper()
	resp, page := get(f.t, fl.browser, f.issuer+pathAuthorize+"?client_id="+f.client.ID+"&request_uri="+url.QueryEscape(requestURI))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `lang="fr"`) {
		f.t.Fatalf("login page: %d\n%s", resp.StatusCode, page)
	}
	action := resp.Request.URL.String()
	return postForm(f.t, fl.browser, action+"/password", url.Values{"csrf": {csrfOf(f.t, page)}, "username": {f.resident.NationalNumber}, "password": {pw}})
}

// consent allows on the consent page and returns the redirect's query.
func (f *fixture) consent(fl *flow, resp *http.Response, page string) url.Values {
	f.t.Helper()
	if !strings.Contains(page, "Partage de vos données") {
		f.t.Fatalf("not the consent page: %d\n%s", resp.StatusCode, page)
	}
	resp, _ = postForm(f.t, fl.browser, resp.Request.URL.String(), url.Values{"csrf": {csrfOf(f.t, page)}, "decision": {"allow"}})
	if resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("consent: status %d, want a redirect", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testRedirect {
		f.t.Fatalf("redirected to %s, want %s", got, testRedirect)
	}
	return loc.Query()
}

func (f *fixture) exchange(fl *flow, code string) (int, map[string]any) {
	return f.post(pathToken, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {fl.verifier},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {f.assertion()},
	}, f.dpopKey)
}

// idToken decrypts and verifies an id_token as the RP does.
func (f *fixture) idToken(tok string) map[string]any {
	f.t.Helper()
	inner, err := jwt.Decrypt(tok, f.encKey)
	if err != nil {
		f.t.Fatalf("decrypting the id_token: %v", err)
	}
	resp, err := http.Get(f.issuer + pathJWKS)
	if err != nil {
		f.t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	payload, _, err := jwt.Verify(inner, &set, jose.ES256)
	if err != nil {
		f.t.Fatalf("verifying the id_token: %v", err)
	}
	var c map[string]any
	json.Unmarshal(payload, &c)
	return c
}

func (f *fixture) userinfo(at string, key *ecdsa.PrivateKey) (int, map[string]any, http.Header) {
	nonce := ""
	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, f.issuer+pathUserinfo, nil)
		req.Header.Set("Authorization", "DPoP "+at)
		req.Header.Set("DPoP", f.proof(key, http.MethodGet, f.issuer+pathUserinfo, nonce, at))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			f.t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && body["error"] == "use_dpop_nonce" && nonce == "" {
			nonce = resp.Header.Get("DPoP-Nonce")
			continue
		}
		return resp.StatusCode, body, resp.Header
	}
	panic("unreachable")
}

// TestCodeFlowEidas1 is the whole FAPI 2.0 flow at eidas1: PAR with
// private_key_jwt and DPoP, login, consent, code exchange, id_token
// decrypted and verified, userinfo, refresh with rotation, and the replays
// that revoke.
func TestCodeFlowEidas1(t *testing.T) {
	f := newFixture(t)
	fl := &flow{browser: f.newBrowser()}
	uri := f.push(fl, url.Values{"acr_values": {"eidas1"}})
	resp, page := f.loginPassword(fl, uri, f.password)
	q := f.consent(fl, resp, page)
	if q.Get("state") != fl.state || q.Get("iss") != f.issuer || q.Get("code") == "" {
		t.Fatalf("authorization response %v: want code, state %s, iss %s", q, fl.state, f.issuer)
	}
	status, tok := f.exchange(fl, q.Get("code"))
	if status != http.StatusOK {
		t.Fatalf("code exchange: %d %v", status, tok)
	}
	if tok["token_type"] != "DPoP" {
		t.Errorf("token_type %v, want DPoP", tok["token_type"])
	}
	id := f.idToken(tok["id_token"].(string))
	for k, want := range map[string]any{"iss": f.issuer, "aud": f.client.ID, "acr": "eidas1", "nonce": fl.nonce} {
		if id[k] != want {
			t.Errorf("id_token %s = %v, want %v", k, id[k], want)
		}
	}
	sub, _ := id["sub"].(string)
	if sub == "" || strings.Contains(sub, f.resident.NationalNumber) {
		t.Errorf("sub %q: want a pairwise identifier, not the national number", sub)
	}

	at := tok["access_token"].(string)
	status, ui, _ := f.userinfo(at, f.dpopKey)
	if status != http.StatusOK {
		t.Fatalf("userinfo: %d %v", status, ui)
	}
	for k, want := range map[string]any{"sub": sub, "given_name": "Louise Marie", "family_name": "Gastaud", "birthdate": "1990-04-12", "gender": "female", "birthcountry": "MC", "email": "louise@example.mc"} {
		if ui[k] != want {
			t.Errorf("userinfo %s = %v, want %v", k, ui[k], want)
		}
	}
	if _, ok := ui["phone_number"]; ok {
		t.Errorf("userinfo has phone_number, which the resident never gave")
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if status, body, _ := f.userinfo(at, other); status != http.StatusUnauthorized {
		t.Errorf("userinfo with a proof by another key: %d %v, want 401", status, body)
	}

	refresh := func(rt string) (int, map[string]any) {
		return f.post(pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {f.assertion()}}, f.dpopKey)
	}
	rt1 := tok["refresh_token"].(string)
	status, tok2 := refresh(rt1)
	if status != http.StatusOK || tok2["refresh_token"] == rt1 {
		t.Fatalf("refresh: %d %v: want new tokens and a rotated refresh token", status, tok2)
	}
	if status, _, _ := f.userinfo(tok2["access_token"].(string), f.dpopKey); status != http.StatusOK {
		t.Fatalf("userinfo with the refreshed access token: %d", status)
	}
	// The old refresh token again: a replay, which revokes the grant.
	if status, body := refresh(rt1); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("replayed refresh token: %d %v, want 400 invalid_grant", status, body)
	}
	if status, body := refresh(tok2["refresh_token"].(string)); status != http.StatusBadRequest {
		t.Fatalf("refresh after the replay: %d %v, want 400 (grant revoked)", status, body)
	}
	if status, _, _ := f.userinfo(tok2["access_token"].(string), f.dpopKey); status != http.StatusUnauthorized {
		t.Fatalf("userinfo after the grant was revoked: %d, want 401", status)
	}
	// The code again: refused.
	if status, body := f.exchange(fl, q.Get("code")); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("replayed code: %d %v, want 400 invalid_grant", status, body)
	}
	for _, ev := range []string{`"event":"authn"`, `"event":"consent"`, `"event":"token.issue"`, `"event":"userinfo"`, `"event":"token.replay"`} {
		if !strings.Contains(f.events.String(), ev) {
			t.Errorf("no %s event logged", ev)
		}
	}
	if strings.Contains(f.events.String(), f.resident.NationalNumber) || strings.Contains(f.events.String(), "Gastaud") {
		t.Errorf("the events carry personal data:\n%s", f.events.String())
	}
}

// TestCodeReplayRevokes: a code used twice revokes the tokens of its first
// use.
func TestCodeReplayRevokes(t *testing.T) {
	f := newFixture(t)
	fl := &flow{browser: f.newBrowser()}
	resp, page := f.loginPassword(fl, f.push(fl, nil), f.password)
	q := f.consent(fl, resp, page)
	status, tok := f.exchange(fl, q.Get("code"))
	if status != http.StatusOK {
		t.Fatalf("code exchange: %d %v", status, tok)
	}
	if status, body := f.exchange(fl, q.Get("code")); status != http.StatusBadRequest {
		t.Fatalf("second exchange: %d %v, want 400", status, body)
	}
	if status, _, _ := f.userinfo(tok["access_token"].(string), f.dpopKey); status != http.StatusUnauthorized {
		t.Fatalf("userinfo with the first exchange's token after the replay: %d, want 401", status)
	}
}

// TestEidas2TOTP: eidas2 asks for the password then a TOTP code, and the
// id_token says eidas2; an eidas1 session does not satisfy it silently.
func TestEidas2TOTP(t *testing.T) {
	f := newFixture(t)
	secret, _ := totp.NewSecret()
	if err := f.reg.UpdateResident(context.Background(), f.resident.NationalNumber, func(r *identity.Resident) error {
		r.TOTPSecret = secret
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fl := &flow{browser: f.newBrowser()}
	resp, page := f.loginPassword(fl, f.push(fl, url.Values{"acr_values": {"eidas2"}}), f.password)
	if !strings.Contains(page, `name="code"`) {
		t.Fatalf("after the password at eidas2: want the second-factor page, got %d\n%s", resp.StatusCode, page)
	}
	action := strings.TrimSuffix(resp.Request.URL.String(), "/second")
	resp2, page2 := postForm(t, fl.browser, action+"/totp", url.Values{"csrf": {csrfOf(t, page)}, "code": {"000000"}})
	if resp2.StatusCode != http.StatusUnauthorized || !strings.Contains(page2, "Code incorrect") {
		t.Fatalf("wrong TOTP code: %d, want 401 with a message", resp2.StatusCode)
	}
	resp, page = postForm(t, fl.browser, action+"/totp", url.Values{"csrf": {csrfOf(t, page2)}, "code": {totp.Generate(secret, time.Now())}})
	q := f.consent(fl, resp, page)
	status, tok := f.exchange(fl, q.Get("code"))
	if status != http.StatusOK {
		t.Fatalf("code exchange: %d %v", status, tok)
	}
	id := f.idToken(tok["id_token"].(string))
	if id["acr"] != "eidas2" {
		t.Errorf("acr %v, want eidas2", id["acr"])
	}
	amr, _ := json.Marshal(id["amr"])
	if !strings.Contains(string(amr), "otp") || !strings.Contains(string(amr), "pwd") {
		t.Errorf("amr %s, want pwd and otp", amr)
	}

	// Step-up: the browser has a session now. Another eidas2 request asks
	// for the second factor again (no silent SSO at eidas2), not the
	// password.
	uri := f.push(fl, url.Values{"acr_values": {"eidas2"}})
	resp, page = get(t, fl.browser, f.issuer+pathAuthorize+"?client_id="+f.client.ID+"&request_uri="+url.QueryEscape(uri))
	if !strings.HasSuffix(resp.Request.URL.Path, "/second") || !strings.Contains(page, `name="code"`) || strings.Contains(page, `name="password"`) {
		t.Fatalf("eidas2 with a session: landed on %s, want the second-factor page only", resp.Request.URL.Path)
	}
	// The code of this 30 s step was used: the next one is accepted.
	action = strings.TrimSuffix(resp.Request.URL.String(), "/second")
	resp, page = postForm(t, fl.browser, action+"/totp", url.Values{"csrf": {csrfOf(t, page)}, "code": {totp.Generate(secret, time.Now().Add(30*time.Second))}})
	if !strings.Contains(page, "Partage de vos données") {
		t.Fatalf("step-up with the next TOTP code: %d, want consent", resp.StatusCode)
	}
}

// TestSilentSSOOnlyAtEidas1: a second eidas1 authorization in the same
// browser goes straight to consent; prompt=login asks again.
func TestSilentSSOOnlyAtEidas1(t *testing.T) {
	f := newFixture(t)
	fl := &flow{browser: f.newBrowser()}
	resp, page := f.loginPassword(fl, f.push(fl, nil), f.password)
	f.consent(fl, resp, page)
	uri := f.push(fl, nil)
	resp, page = get(t, fl.browser, f.issuer+pathAuthorize+"?client_id="+f.client.ID+"&request_uri="+url.QueryEscape(uri))
	if !strings.HasSuffix(resp.Request.URL.Path, "/consent") {
		t.Fatalf("second eidas1 authorization: landed on %s, want the consent page", resp.Request.URL.Path)
	}
	f.consent(fl, resp, page)
	uri = f.push(fl, url.Values{"prompt": {"login"}})
	resp, _ = get(t, fl.browser, f.issuer+pathAuthorize+"?client_id="+f.client.ID+"&request_uri="+url.QueryEscape(uri))
	if strings.HasSuffix(resp.Request.URL.Path, "/consent") {
		t.Fatalf("prompt=login went to consent without a login")
	}
}

// TestLoginFailuresLock: five wrong passwords lock the account, with a
// clear message, even for the right password.
func TestLoginFailuresLock(t *testing.T) {
	f := newFixture(t)
	fl := &flow{browser: f.newBrowser()}
	uri := f.push(fl, nil)
	resp, page := get(t, fl.browser, f.issuer+pathAuthorize+"?client_id="+f.client.ID+"&request_uri="+url.QueryEscape(uri))
	action := resp.Request.URL.String()
	for i := range accountFailures {
		resp, page = postForm(t, fl.browser, action+"/password", url.Values{"csrf": {csrfOf(t, page)}, "username": {f.resident.NationalNumber}, "password": {"wrong password " + string(rune('a'+i))}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "incorrect") {
			t.Fatalf("wrong password %d: %d", i, resp.StatusCode)
		}
	}
	resp, page = postForm(t, fl.browser, action+"/password", url.Values{"csrf": {csrfOf(t, page)}, "username": {f.resident.NationalNumber}, "password": {f.password}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "Trop de tentatives") {
		t.Fatalf("right password on a locked account: %d, want 401 and the lock message\n%s", resp.StatusCode, page)
	}
}

// TestCSRF: a login form posted without the page's token is refused.
func TestCSRF(t *testing.T) {
	f := newFixture(t)
	fl := &flow{browser: f.newBrowser()}
	uri := f.push(fl, nil)
	resp, _ := get(t, fl.browser, f.issuer+pathAuthorize+"?client_id="+f.client.ID+"&request_uri="+url.QueryEscape(uri))
	resp, _ = postForm(t, fl.browser, resp.Request.URL.String()+"/password", url.Values{"csrf": {"forged"}, "username": {f.resident.NationalNumber}, "password": {f.password}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forged CSRF token: %d, want 403", resp.StatusCode)
	}
	// Another browser (no interaction cookie) cannot use the page either.
	resp, _ = get(t, f.newBrowser(), resp.Request.URL.String())
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the login page in another browser: %d, want 400", resp.StatusCode)
	}
}

// TestRefusals: the protocol errors of PAR, authorize and token, each in
// its own form, never a redirect to an unregistered URI.
func TestRefusals(t *testing.T) {
	f := newFixture(t)
	fl := &flow{browser: f.newBrowser()}
	base := func() url.Values {
		ch := sha256.Sum256([]byte(randomToken(32)))
		return url.Values{"client_id": {f.client.ID}, "redirect_uri": {testRedirect}, "response_type": {"code"},
			"scope": {"openid"}, "code_challenge": {b64(ch[:])}, "code_challenge_method": {"S256"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {f.assertion()}}
	}
	for _, c := range []struct {
		name   string
		change func(url.Values)
		status int
		code   string
	}{
		{"redirect_uri=unregistered", func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }, 400, "invalid_request"},
		{"pkce=plain", func(v url.Values) { v.Set("code_challenge_method", "plain") }, 400, "invalid_request"},
		{"pkce=missing", func(v url.Values) { v.Del("code_challenge") }, 400, "invalid_request"},
		{"scope=no-openid", func(v url.Values) { v.Set("scope", "email") }, 400, "invalid_scope"},
		{"response_type=token", func(v url.Values) { v.Set("response_type", "token") }, 400, "unsupported_response_type"},
		{"acr=unknown", func(v url.Values) { v.Set("acr_values", "loa4") }, 400, "invalid_request"},
		{"auth=none", func(v url.Values) { v.Del("client_assertion") }, 401, "invalid_client"},
		{"auth=secret", func(v url.Values) { v.Set("client_secret", "x") }, 401, "invalid_client"},
		{"auth=replayed", func(v url.Values) { v.Set("client_assertion", "eyJhbGciOiJub25lIn0.e30.") }, 401, "invalid_client"},
		{"request=object", func(v url.Values) { v.Set("request", "eyJ") }, 400, "request_not_supported"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := base()
			c.change(v)
			status, body := f.post(pathPAR, v, f.dpopKey)
			if status != c.status || body["error"] != c.code {
				t.Fatalf("PAR: %d %v, want %d %s", status, body, c.status, c.code)
			}
		})
	}
	t.Run("assertion=reused", func(t *testing.T) {
		v := base()
		if status, body := f.post(pathPAR, v, nil); status != http.StatusCreated {
			t.Fatalf("first PAR: %d %v", status, body)
		}
		if status, body := f.post(pathPAR, v, nil); status != http.StatusUnauthorized {
			t.Fatalf("PAR with the same client assertion: %d %v, want 401", status, body)
		}
	})
	t.Run("authorize=without-par", func(t *testing.T) {
		resp, page := get(t, fl.browser, f.issuer+pathAuthorize+"?client_id="+f.client.ID+"&redirect_uri="+url.QueryEscape(testRedirect)+"&response_type=code&scope=openid")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "PAR") {
			t.Fatalf("authorize without PAR for a strict client: %d, want 400 and a page saying PAR", resp.StatusCode)
		}
	})
	t.Run("authorize=request_uri-reused", func(t *testing.T) {
		uri := f.push(fl, nil)
		get(t, fl.browser, f.issuer+pathAuthorize+"?client_id="+f.client.ID+"&request_uri="+url.QueryEscape(uri))
		resp, _ := get(t, fl.browser, f.issuer+pathAuthorize+"?client_id="+f.client.ID+"&request_uri="+url.QueryEscape(uri))
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("request_uri used twice: %d, want 400", resp.StatusCode)
		}
	})
	t.Run("token=no-dpop", func(t *testing.T) {
		status, body := f.post(pathToken, url.Values{"grant_type": {"authorization_code"}, "code": {"x"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {f.assertion()}}, nil)
		if status != http.StatusBadRequest || body["error"] != "invalid_dpop_proof" {
			t.Fatalf("token without DPoP for a strict client: %d %v", status, body)
		}
	})
	t.Run("token=grant-type", func(t *testing.T) {
		status, body := f.post(pathToken, url.Values{"grant_type": {"password"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {f.assertion()}}, f.dpopKey)
		if status != http.StatusBadRequest || body["error"] != "unsupported_grant_type" {
			t.Fatalf("grant_type=password: %d %v", status, body)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		uri := f.push(fl, nil)
		resp, page := get(t, fl.browser, f.issuer+pathAuthorize+"?client_id="+f.client.ID+"&request_uri="+url.QueryEscape(uri))
		resp, _ = postForm(t, fl.browser, resp.Request.URL.String()+"/cancel", url.Values{"csrf": {csrfOf(t, page)}})
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "access_denied" || loc.Query().Get("iss") != f.issuer {
			t.Fatalf("cancel: %d %s, want a redirect with error=access_denied and iss", resp.StatusCode, loc)
		}
	})
}

// TestDiscoveryAndKeys: the discovery document, and rotation: the old key
// stays in the JWKS and tokens it signed still verify.
func TestDiscoveryAndKeys(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Get(f.issuer + pathDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if d["issuer"] != f.issuer || d["require_pushed_authorization_requests"] != true || d["authorization_response_iss_parameter_supported"] != true {
		t.Fatalf("discovery: %v", d)
	}
	old := f.p.current
	kid, err := f.p.RotateSigningKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if kid == old {
		t.Fatal("rotation kept the same key")
	}
	var set jose.JSONWebKeySet
	resp, _ = http.Get(f.issuer + pathJWKS)
	json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if len(set.Key(old)) != 1 || len(set.Key(kid)) != 1 {
		t.Fatalf("JWKS after rotation has %d keys; want the old %s and the new %s", len(set.Keys), old, kid)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatal("the JWKS publishes a private key")
		}
	}
}

// TestLogoutConfirmation: without an id_token_hint the provider asks the
// resident to confirm; a confirmation from another browser is refused;
// once confirmed, the session is over and the client's post-logout URI
// gets its state.
func TestLogoutConfirmation(t *testing.T) {
	f := newFixture(t)
	fl := &flow{browser: f.newBrowser()}
	resp, page := f.loginPassword(fl, f.push(fl, nil), f.password)
	f.consent(fl, resp, page)
	u := f.issuer + pathLogout + "?" + url.Values{"client_id": {f.client.ID}, "post_logout_redirect_uri": {"https://rp.example/bye"}, "state": {"s1"}}.Encode()
	resp, page = get(t, fl.browser, u)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="confirm"`) {
		t.Fatalf("logout without a hint: %d, want a confirmation page\n%s", resp.StatusCode, page)
	}
	action := regexp.MustCompile(`action="([^"]+)"`).FindStringSubmatch(page)[1]
	action = strings.ReplaceAll(action, "&amp;", "&")
	if resp, _ := postForm(t, f.newBrowser(), action, url.Values{}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("confirmation from another browser: %d, want 400", resp.StatusCode)
	}
	// The refused confirmation spent the one-time ID: ask again.
	_, page = get(t, fl.browser, u)
	action = strings.ReplaceAll(regexp.MustCompile(`action="([^"]+)"`).FindStringSubmatch(page)[1], "&amp;", "&")
	resp, _ = postForm(t, fl.browser, action, url.Values{})
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Host != "rp.example" || loc.Query().Get("state") != "s1" {
		t.Fatalf("confirmed logout: %d %s, want a redirect to the post-logout URI with the state", resp.StatusCode, loc)
	}
	resp, _ = get(t, fl.browser, f.issuer+pathAuthorize+"?client_id="+f.client.ID+"&request_uri="+url.QueryEscape(f.push(fl, nil)))
	if strings.HasSuffix(resp.Request.URL.Path, "/consent") {
		t.Fatal("after logout, an eidas1 request went straight to consent: the session survived")
	}
	if resp, _ := get(t, fl.browser, f.issuer+pathLogout+"?post_logout_redirect_uri="+url.QueryEscape("https://evil.example/")+"&client_id="+f.client.ID); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("logout to an unregistered URI: %d, want 400 (no open redirect)", resp.StatusCode)
	}
}
