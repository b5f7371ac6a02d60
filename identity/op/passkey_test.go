package op

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/coffre-cloud/coffre/identity"
)

// onLocalhost names the issuer http://localhost:port rather than by its IP
// address: WebAuthn needs a domain as the relying party ID, as browsers do.
func onLocalhost(c *Config) {
	c.Issuer = strings.Replace(c.Issuer, "http://127.0.0.1:", "http://localhost:", 1)
}

// softKey is a software authenticator: one P-256 credential (ES256), its
// signature counter, and the origin its "browser" writes in clientData.
type softKey struct {
	t      *testing.T
	key    *ecdsa.PrivateKey
	id     []byte
	count  uint32
	origin string
}

func newSoftKey(t *testing.T, origin string) *softKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &softKey{t: t, key: key, id: id, origin: origin}
}

func pkClientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagAT = 0x40 // attested credential data included
)

func pkAuthData(rpID string, flags byte, count uint32) []byte {
	h := sha256.Sum256([]byte(rpID))
	b := append(h[:], flags)
	return binary.BigEndian.AppendUint32(b, count)
}

// create answers creation options as navigator.credentials.create does,
// with a "none" attestation.
func (k *softKey) create(opts map[string]any) map[string]any {
	k.t.Helper()
	pk := opts["publicKey"].(map[string]any)
	rpID := pk["rp"].(map[string]any)["id"].(string)
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: k.key.X.FillBytes(make([]byte, 32)), -3: k.key.Y.FillBytes(make([]byte, 32))})
	if err != nil {
		k.t.Fatal(err)
	}
	ad := pkAuthData(rpID, flagUP|flagUV|flagAT, k.count)
	ad = append(ad, make([]byte, 16)...) // AAGUID: none
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(k.id)))
	ad = append(append(ad, k.id...), cose...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		k.t.Fatal(err)
	}
	return map[string]any{
		"id": b64(k.id), "rawId": b64(k.id), "type": "public-key", "authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64(pkClientData("webauthn.create", pk["challenge"].(string), k.origin)),
			"attestationObject": b64(att),
			"transports":        []string{"internal"},
		},
		"clientExtensionResults": map[string]any{"credProps": map[string]any{"rk": true}},
	}
}

// getOpts says how get answers: normally with the credential's key, the
// authenticator's origin and the next counter value.
type getOpts struct {
	signer *ecdsa.PrivateKey // nil: the credential's key
	origin string            // "": the authenticator's
	rewind bool              // sign with the counter of the last use (a clone's)
}

// get answers request options as navigator.credentials.get does.
func (k *softKey) get(opts map[string]any, a getOpts) map[string]any {
	k.t.Helper()
	pk := opts["publicKey"].(map[string]any)
	if a.signer == nil {
		a.signer = k.key
	}
	if a.origin == "" {
		a.origin = k.origin
	}
	if !a.rewind {
		k.count++
	}
	ad := pkAuthData(pk["rpId"].(string), flagUP|flagUV, k.count)
	cd := pkClientData("webauthn.get", pk["challenge"].(string), a.origin)
	cdh := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte(nil), ad...), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.signer, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	return map[string]any{
		"id": b64(k.id), "rawId": b64(k.id), "type": "public-key", "authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64(cd),
			"authenticatorData": b64(ad),
			"signature":         b64(sig),
			"userHandle":        pk["_userHandle"],
		},
		"clientExtensionResults": map[string]any{},
	}
}

// passkeyPost posts as the page's script does: a JSON body, the CSRF token in
// X-CSRF-Token ("" sends none).
func passkeyPost(t *testing.T, b *http.Client, u, csrf string, body any) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// toSecond logs in with the password for an eidas2 request and returns the
// second-factor page, the interaction's URL and its CSRF token.
func (f *fixture) toSecond(fl *flow) (page, action, csrf string) {
	f.t.Helper()
	resp, page := f.loginPassword(fl, f.push(fl, url.Values{"acr_values": {"eidas2"}}), f.password)
	if !strings.HasSuffix(resp.Request.URL.Path, "/second") {
		f.t.Fatalf("after the password at eidas2: landed on %s (%d), want the second-factor page", resp.Request.URL, resp.StatusCode)
	}
	return page, strings.TrimSuffix(resp.Request.URL.String(), "/second"), csrfOf(f.t, page)
}

// follow loads the URL of a {"redirect"} answer, as passkey.js does, and
// returns the page.
func (f *fixture) follow(fl *flow, body map[string]any) (*http.Response, string) {
	f.t.Helper()
	u, _ := body["redirect"].(string)
	if !strings.HasPrefix(u, f.issuer+pathLogin) || !strings.HasSuffix(u, "/consent") {
		f.t.Fatalf("answer %v: want a redirect to the consent page", body)
	}
	return get(f.t, fl.browser, u)
}

// enroll runs the enrollment with an activation code up to the consent
// page.
func (f *fixture) enroll(fl *flow, k *softKey, code string) (*http.Response, string) {
	f.t.Helper()
	page, action, csrf := f.toSecond(fl)
	if !strings.Contains(page, `id="enroll"`) {
		f.t.Fatalf("second-factor page with an activation code pending: no enrollment form\n%s", page)
	}
	status, opts := passkeyPost(f.t, fl.browser, action+"/passkey/register/options", csrf, map[string]string{"code": code})
	if status != http.StatusOK {
		f.t.Fatalf("enrollment options: %d %v", status, opts)
	}
	status, body := passkeyPost(f.t, fl.browser, action+"/passkey/register", csrf, k.create(opts))
	if status != http.StatusOK {
		f.t.Fatalf("enrollment: %d %v", status, body)
	}
	return f.follow(fl, body)
}

// passkeyOptions asks for assertion options; the user handle is kept for get.
func (f *fixture) passkeyOptions(fl *flow, action, csrf string) map[string]any {
	f.t.Helper()
	status, opts := passkeyPost(f.t, fl.browser, action+"/passkey/options", csrf, map[string]any{})
	if status != http.StatusOK {
		f.t.Fatalf("passkey options: %d %v", status, opts)
	}
	res, err := f.reg.Resident(context.Background(), f.resident.NationalNumber)
	if err != nil {
		f.t.Fatal(err)
	}
	opts["publicKey"].(map[string]any)["_userHandle"] = b64(res.WebAuthnID)
	return opts
}

func (f *fixture) activationCode() string {
	f.t.Helper()
	code, err := f.reg.NewActivationCode(context.Background(), f.resident.NationalNumber, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return code
}

// acrAMR exchanges a code and returns the id_token's acr and amr.
func (f *fixture) acrAMR(fl *flow, q url.Values) (string, string) {
	f.t.Helper()
	status, tok := f.exchange(fl, q.Get("code"))
	if status != http.StatusOK {
		f.t.Fatalf("code exchange: %d %v", status, tok)
	}
	id := f.idToken(tok["id_token"].(string))
	amr, _ := json.Marshal(id["amr"])
	acr, _ := id["acr"].(string)
	return acr, string(amr)
}

var activationRE = regexp.MustCompile(`^[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}$`)

// TestPasskeyEnrollAndLogin: a resident with an activation code enrolls a
// passkey after the password (eidas2: pwd, hwk, mfa), the code is spent,
// and the next eidas2 login takes the passkey.
func TestPasskeyEnrollAndLogin(t *testing.T) {
	f := newFixture(t, onLocalhost)
	k := newSoftKey(t, f.issuer)
	code := f.activationCode()
	if !activationRE.MatchString(code) {
		t.Fatalf("activation code %q: want two groups of 5 symbols without 0, 1, I, O", code)
	}

	fl := &flow{browser: f.newBrowser()}
	page, action, csrf := f.toSecond(fl)
	for _, want := range []string{`id="enroll"`, `action="` + action + `/passkey/register/options"`,
		`data-action="` + action + `/passkey/register"`, `data-csrf="` + csrf + `"`, `/static/passkey.js"`, "Activer une clé d&#39;accès"} {
		if !strings.Contains(page, want) {
			t.Errorf("second-factor page: no %s", want)
		}
	}
	if strings.Contains(page, `id="passkey"`) {
		t.Errorf("second-factor page offers a passkey login before any passkey is enrolled")
	}
	// The resident types the code in lower case, with a space.
	typed := strings.ToLower(strings.Replace(code, "-", " ", 1))
	status, opts := passkeyPost(t, fl.browser, action+"/passkey/register/options", csrf, map[string]string{"code": typed})
	if status != http.StatusOK {
		t.Fatalf("enrollment options: %d %v", status, opts)
	}
	pk := opts["publicKey"].(map[string]any)
	sel, _ := pk["authenticatorSelection"].(map[string]any)
	if rp, _ := pk["rp"].(map[string]any); rp["id"] != "localhost" || rp["name"] != "Identité numérique" {
		t.Errorf("rp %v, want localhost, Identité numérique", rp)
	}
	if sel["userVerification"] != "required" || sel["residentKey"] != "preferred" {
		t.Errorf("authenticatorSelection %v, want userVerification required, residentKey preferred", sel)
	}
	status, body := passkeyPost(t, fl.browser, action+"/passkey/register", csrf, k.create(opts))
	if status != http.StatusOK {
		t.Fatalf("enrollment: %d %v", status, body)
	}
	resp, page := f.follow(fl, body)
	acr, amr := f.acrAMR(fl, f.consent(fl, resp, page))
	if acr != "eidas2" || amr != `["pwd","hwk","mfa"]` {
		t.Errorf("after enrolling: acr %s amr %s, want eidas2 [pwd hwk mfa]", acr, amr)
	}
	res, err := f.reg.Resident(context.Background(), f.resident.NationalNumber)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Passkeys) != 1 || res.Activation != nil || !res.ActivationExpires.IsZero() {
		t.Fatalf("after enrolling: %d passkeys, activation %x until %v; want 1 passkey and the code spent", len(res.Passkeys), res.Activation, res.ActivationExpires)
	}

	t.Run("login", func(t *testing.T) {
		fl := &flow{browser: f.newBrowser()}
		page, action, csrf := f.toSecond(fl)
		if !strings.Contains(page, `id="passkey" type="button" data-action="`+action+`/passkey" data-csrf="`+csrf+`"`) || strings.Contains(page, `id="enroll"`) {
			t.Fatalf("second-factor page: want the passkey button and no enrollment\n%s", page)
		}
		opts := f.passkeyOptions(fl, action, csrf)
		pk := opts["publicKey"].(map[string]any)
		allow, _ := json.Marshal(pk["allowCredentials"])
		if pk["userVerification"] != "required" || pk["rpId"] != "localhost" || !strings.Contains(string(allow), b64(k.id)) {
			t.Fatalf("assertion options %v: want rpId localhost, userVerification required, the credential allowed", pk)
		}
		status, body := passkeyPost(t, fl.browser, action+"/passkey", csrf, k.get(opts, getOpts{}))
		if status != http.StatusOK {
			t.Fatalf("passkey login: %d %v", status, body)
		}
		resp, page = f.follow(fl, body)
		acr, amr := f.acrAMR(fl, f.consent(fl, resp, page))
		if acr != "eidas2" || amr != `["pwd","hwk","mfa"]` {
			t.Errorf("passkey login: acr %s amr %s, want eidas2 [pwd hwk mfa]", acr, amr)
		}
		res, _ := f.reg.Resident(context.Background(), f.resident.NationalNumber)
		var c webauthn.Credential
		json.Unmarshal(res.Passkeys[0], &c)
		if c.Authenticator.SignCount != k.count || c.Authenticator.CloneWarning {
			t.Errorf("stored counter %d (clone warning %v), want %d", c.Authenticator.SignCount, c.Authenticator.CloneWarning, k.count)
		}
	})

	t.Run("code=spent", func(t *testing.T) {
		fl := &flow{browser: f.newBrowser()}
		_, action, csrf := f.toSecond(fl)
		status, body := passkeyPost(t, fl.browser, action+"/passkey/register/options", csrf, map[string]string{"code": code})
		if status != http.StatusUnauthorized || !strings.Contains(body["error"].(string), "déjà utilisé") {
			t.Fatalf("the activation code a second time: %d %v, want 401 and a message", status, body)
		}
	})

	events := f.events.String()
	for _, want := range []string{`"event":"passkey.enroll"`, `"method":"hwk"`} {
		if !strings.Contains(events, want) {
			t.Errorf("no %s in the events", want)
		}
	}
	if strings.Contains(events, f.resident.NationalNumber) || strings.Contains(events, "Gastaud") || strings.Contains(events, code) {
		t.Errorf("the events carry personal data or the code:\n%s", events)
	}
}

// TestPasskeyActivationRefusals: a wrong code is refused and counted like
// a wrong password (the account locks), an expired one is refused, and the
// enrollment form posted without its script says so.
func TestPasskeyActivationRefusals(t *testing.T) {
	t.Run("code=wrong", func(t *testing.T) {
		f := newFixture(t, onLocalhost)
		code := f.activationCode()
		fl := &flow{browser: f.newBrowser()}
		_, action, csrf := f.toSecond(fl)
		for i := range accountFailures {
			status, body := passkeyPost(t, fl.browser, action+"/passkey/register/options", csrf, map[string]string{"code": "22222-2222" + string(rune('2'+i))})
			if status != http.StatusUnauthorized || !strings.Contains(body["error"].(string), "incorrect") {
				t.Fatalf("wrong code %d: %d %v, want 401 and a message", i, status, body)
			}
		}
		status, body := passkeyPost(t, fl.browser, action+"/passkey/register/options", csrf, map[string]string{"code": code})
		if status != http.StatusTooManyRequests || !strings.Contains(body["error"].(string), "Trop de tentatives") {
			t.Fatalf("right code after %d wrong ones: %d %v, want 429 (locked)", accountFailures, status, body)
		}
		if !strings.Contains(f.events.String(), `"method":"activation"`) {
			t.Errorf("no event for the wrong codes")
		}
	})
	t.Run("code=expired", func(t *testing.T) {
		f := newFixture(t, onLocalhost)
		code := f.activationCode()
		err := f.reg.UpdateResident(context.Background(), f.resident.NationalNumber, func(r *identity.Resident) error {
			r.ActivationExpires = time.Now().Add(-time.Minute)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		fl := &flow{browser: f.newBrowser()}
		page, action, csrf := f.toSecond(fl)
		if strings.Contains(page, `id="enroll"`) {
			t.Errorf("second-factor page offers enrollment with an expired code")
		}
		status, body := passkeyPost(t, fl.browser, action+"/passkey/register/options", csrf, map[string]string{"code": code})
		if status != http.StatusUnauthorized || !strings.Contains(body["error"].(string), "expiré") {
			t.Fatalf("expired code: %d %v, want 401 and a message", status, body)
		}
	})
	t.Run("script=none", func(t *testing.T) {
		f := newFixture(t, onLocalhost)
		code := f.activationCode()
		fl := &flow{browser: f.newBrowser()}
		_, action, csrf := f.toSecond(fl)
		resp, page := postForm(t, fl.browser, action+"/passkey/register/options", url.Values{"csrf": {csrf}, "activation_code": {code}})
		if resp.StatusCode/100 != 4 || !strings.Contains(page, "JavaScript") {
			t.Fatalf("enrollment form without its script: %d, want a 4xx page saying JavaScript is needed\n%s", resp.StatusCode, page)
		}
	})
}

// TestPasskeyAssertionRefusals: assertions signed by another key, for
// another origin, without the CSRF header, replayed, or with a counter
// that went backwards (a cloned authenticator, which disables the
// passkey) are refused.
func TestPasskeyAssertionRefusals(t *testing.T) {
	f := newFixture(t, onLocalhost)
	k := newSoftKey(t, f.issuer)
	fl := &flow{browser: f.newBrowser()}
	f.enroll(fl, k, f.activationCode())

	fl = &flow{browser: f.newBrowser()}
	_, action, csrf := f.toSecond(fl)
	refused := func(t *testing.T, a getOpts, wantStatus int, wantMsg string) {
		t.Helper()
		status, body := passkeyPost(t, fl.browser, action+"/passkey", csrf, k.get(f.passkeyOptions(fl, action, csrf), a))
		if msg, _ := body["error"].(string); status != wantStatus || !strings.Contains(msg, wantMsg) {
			t.Fatalf("%d %v, want %d and %q", status, body, wantStatus, wantMsg)
		}
	}
	t.Run("key=other", func(t *testing.T) {
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		refused(t, getOpts{signer: other}, http.StatusUnauthorized, "n'a pas été reconnue")
	})
	t.Run("origin=other", func(t *testing.T) {
		refused(t, getOpts{origin: "http://localhost.evil.example"}, http.StatusUnauthorized, "n'a pas été reconnue")
	})
	t.Run("csrf=missing", func(t *testing.T) {
		opts := f.passkeyOptions(fl, action, csrf)
		status, _ := passkeyPost(t, fl.browser, action+"/passkey", "", k.get(opts, getOpts{}))
		if status != http.StatusForbidden {
			t.Fatalf("assertion without X-CSRF-Token: %d, want 403", status)
		}
		if status, _ := passkeyPost(t, fl.browser, action+"/passkey/options", "forged", map[string]any{}); status != http.StatusForbidden {
			t.Fatalf("options with a forged X-CSRF-Token: %d, want 403", status)
		}
	})
	t.Run("challenge=replayed", func(t *testing.T) {
		answer := k.get(f.passkeyOptions(fl, action, csrf), getOpts{})
		status, body := passkeyPost(t, fl.browser, action+"/passkey", csrf, answer)
		if status != http.StatusOK {
			t.Fatalf("first use: %d %v", status, body)
		}
		// The interaction is at eidas2 now; a new one for the replay.
		fl2 := &flow{browser: fl.browser}
		_, action2, csrf2 := f.toSecond(fl2)
		if status, body := passkeyPost(t, fl.browser, action2+"/passkey", csrf2, answer); status != http.StatusBadRequest {
			t.Fatalf("the same assertion in another interaction: %d %v, want 400", status, body)
		}
		f.passkeyOptions(fl, action2, csrf2)
		if status, body := passkeyPost(t, fl.browser, action2+"/passkey", csrf2, answer); status != http.StatusUnauthorized {
			t.Fatalf("an old assertion against a new challenge: %d %v, want 401", status, body)
		}
		action, csrf = action2, csrf2
	})
	t.Run("counter=backwards", func(t *testing.T) {
		refused(t, getOpts{rewind: true}, http.StatusUnauthorized, "copiée")
		// The passkey is disabled: even its next counter value is refused.
		status, body := passkeyPost(t, fl.browser, action+"/passkey/options", csrf, map[string]any{})
		if status != http.StatusBadRequest {
			t.Fatalf("options after the clone was detected: %d %v, want 400 (no usable passkey)", status, body)
		}
		page, _, _ := f.toSecond(&flow{browser: f.newBrowser()})
		if strings.Contains(page, `id="passkey"`) {
			t.Errorf("the second-factor page still offers the cloned passkey")
		}
	})
	if !strings.Contains(f.events.String(), `"result":"failed"`) {
		t.Errorf("no failed authn events")
	}
}

// TestPasskeysOffOnIPIssuer: with an issuer named by an IP address (no RP
// ID possible), passkeys are off: not offered, and the steps say so.
func TestPasskeysOffOnIPIssuer(t *testing.T) {
	f := newFixture(t)
	if f.p.webauthn != nil {
		t.Fatalf("issuer %s: passkeys on, want off", f.issuer)
	}
	f.activationCode()
	fl := &flow{browser: f.newBrowser()}
	page, action, csrf := f.toSecond(fl)
	if strings.Contains(page, `id="enroll"`) || strings.Contains(page, "passkey.js") {
		t.Errorf("second-factor page offers passkeys on an IP issuer")
	}
	status, body := passkeyPost(t, fl.browser, action+"/passkey/options", csrf, map[string]any{})
	if status != http.StatusNotFound || body["error"] == nil {
		t.Fatalf("passkey options on an IP issuer: %d %v, want 404 with a message", status, body)
	}
}

// TestActivationCode: codes are fresh, replace the previous one, survive a
// new import of the resident, and compare in any case and grouping.
func TestActivationCode(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c1, c2 := f.activationCode(), f.activationCode()
	if c1 == c2 {
		t.Fatalf("two activation codes are equal: %s", c1)
	}
	if _, err := f.reg.PutResident(ctx, &identity.Resident{NationalNumber: f.resident.NationalNumber, GivenName: "Louise", FamilyName: "Gastaud", Birthdate: "1990-04-12", Gender: "female"}); err != nil {
		t.Fatal(err)
	}
	res, err := f.reg.Resident(ctx, f.resident.NationalNumber)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for code, want := range map[string]bool{c1: false, c2: true, strings.ToLower(c2): true, strings.ReplaceAll(c2, "-", " "): true, "": false} {
		if got := res.CheckActivationCode(code, now); got != want {
			t.Errorf("CheckActivationCode(%q) = %v, want %v", code, got, want)
		}
	}
	if res.CheckActivationCode(c2, now.Add(identity.ActivationTTL+time.Second)) {
		t.Errorf("the code is still valid after %v", identity.ActivationTTL)
	}
	if _, err := f.reg.NewActivationCode(ctx, "nobody", 0); err == nil {
		t.Errorf("an activation code for an unknown resident: no error")
	}
}

// TestPasskeyBodyBound: a JSON step's body is bounded.
func TestPasskeyBodyBound(t *testing.T) {
	f := newFixture(t, onLocalhost)
	fl := &flow{browser: f.newBrowser()}
	f.activationCode()
	_, action, csrf := f.toSecond(fl)
	req, _ := http.NewRequest(http.MethodPost, action+"/passkey/register/options", io.MultiReader(strings.NewReader(`{"code":"`), bytes.NewReader(bytes.Repeat([]byte("A"), maxForm)), strings.NewReader(`"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err := fl.browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a body over %d bytes: %d, want 400", maxForm, resp.StatusCode)
	}
}
