package op

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/coffre-cloud/coffre/identity"
)

// Passkeys (WebAuthn, go-webauthn) are a second factor of eidas2, after the
// password. The page's script (ui/static/passkey.js) runs each ceremony in
// two JSON requests, both carrying the interaction's CSRF token in the
// X-CSRF-Token header (login.go checks it):
//
//	POST /login/{id}/passkey/options             {}             → {"publicKey": assertion options}
//	POST /login/{id}/passkey                     the assertion  → {"redirect": consent page URL}
//	POST /login/{id}/passkey/register/options    {"code": "…"}  → {"publicKey": creation options}
//	POST /login/{id}/passkey/register            the attestation → {"redirect": consent page URL}
//
// A refusal is {"error": "the message, in the page's language"} with a 4xx
// status (503 when the register does not answer); counted failures lock
// the account and the source like wrong passwords.
//
// Enrollment needs the activation code an operator sent the resident out
// of band (identity.Register.NewActivationCode): password and activation
// code are the two factors of that login, which ends at eidas2 with the new
// passkey (amr pwd, hwk, mfa); the code is then spent.

// passkeyTTL bounds a ceremony: the options' timeout (300 s with user
// verification, go-webauthn's default) and a little more.
const passkeyTTL = 6 * time.Minute

// newWebAuthn returns the relying party of the issuer: its host without the
// port is the RP ID, and its origin the only origin accepted. The RP ID
// must be a domain: with an IP address (http://127.0.0.1:port) browsers
// refuse WebAuthn, and so does go-webauthn.
func newWebAuthn(iss *url.URL) (*webauthn.WebAuthn, error) {
	return webauthn.New(&webauthn.Config{
		RPID:          iss.Hostname(),
		RPDisplayName: "Identité numérique",
		RPOrigins:     []string{iss.Scheme + "://" + iss.Host},
	})
}

// ceremony is the WebAuthn ceremony under way in an interaction, kept
// (JSON) in interaction.webauthn; each is used once.
type ceremony struct {
	Register bool                 `json:"register,omitempty"`
	Session  webauthn.SessionData `json:"session"`
	Expires  time.Time            `json:"exp"`
	// Activation is the hash of the activation code checked for this
	// enrollment, spent when it succeeds.
	Activation []byte `json:"activation,omitempty"`
}

// passkeyUser is a resident as go-webauthn sees them.
type passkeyUser struct {
	res   *identity.Resident
	creds []webauthn.Credential // those that may log in
	all   []webauthn.Credential // with those disabled as cloned
}

func (u *passkeyUser) WebAuthnID() []byte { return u.res.WebAuthnID }

// WebAuthnName is what the authenticator shows to tell accounts apart: the
// resident's name, not their national number, which a synced passkey
// manager would otherwise copy to its cloud.
func (u *passkeyUser) WebAuthnName() string {
	return strings.TrimSpace(u.res.GivenName + " " + u.res.FamilyName)
}
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.WebAuthnName() }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// passkeyUserOf decodes a resident's passkeys. Those flagged as cloned are
// left out: they no longer log anyone in.
func (p *Provider) passkeyUserOf(res *identity.Resident) *passkeyUser {
	u := &passkeyUser{res: res}
	for _, raw := range res.Passkeys {
		var c webauthn.Credential
		if err := json.Unmarshal(raw, &c); err != nil {
			p.log.Error("identity: a stored passkey does not decode; it is ignored", "subject", p.reg.Ref(res.NationalNumber), "err", err)
			continue
		}
		u.all = append(u.all, c)
		if !c.Authenticator.CloneWarning {
			u.creds = append(u.creds, c)
		}
	}
	return u
}

// passkeyView tells the second-factor page which passkey sections to show:
// the login with a passkey, and the enrollment with an activation code.
func (p *Provider) passkeyView(res *identity.Resident) (login, enroll bool) {
	if p.webauthn == nil {
		return false, false
	}
	return len(p.passkeyUserOf(res).creds) > 0, res.ActivationPending(p.now())
}

// passkeyStart checks that a passkey step may run now: passkeys are on, the
// password was given in this interaction and no second factor yet, the
// account and the source are not locked. It answers the refusal itself.
func (p *Provider) passkeyStart(w http.ResponseWriter, r *http.Request, ia *interaction, lang string) (account string, ok bool) {
	if p.webauthn == nil {
		writeJSONError(w, http.StatusNotFound, t(lang, "second.passkey.unavailable"))
		return "", false
	}
	if ia.nn == "" || ia.level != 0 {
		writeJSONError(w, http.StatusBadRequest, t(lang, "login.expired"))
		return "", false
	}
	account = p.reg.Ref(ia.nn)
	if blocked, until := p.limits.blocked(account, source(r), p.now()); blocked {
		writeJSONError(w, http.StatusTooManyRequests, fmt.Sprintf(t(lang, "login.locked"), until.UTC().Format("15:04")))
		return "", false
	}
	return account, true
}

// readJSONBody reads a JSON step's body, at most maxForm bytes.
func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, maxForm))
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// putCeremony records the ceremony under way, replacing any earlier one.
func (p *Provider) putCeremony(ia *interaction, c *ceremony) bool {
	b, err := json.Marshal(c)
	if err != nil {
		return false
	}
	return p.changeInteraction(ia.id, p.now(), func(x *interaction) {
		x.webauthn = b
	})
}

// takeCeremony removes and returns the ceremony under way, if it is of the
// kind wanted and not expired: each challenge is answered once.
func (p *Provider) takeCeremony(ia *interaction, register bool) (*ceremony, bool) {
	var b []byte
	now := p.now()
	p.changeInteraction(ia.id, now, func(x *interaction) {
		b, x.webauthn = x.webauthn, nil
	})
	var c ceremony
	if len(b) == 0 || json.Unmarshal(b, &c) != nil || c.Register != register || now.After(c.Expires) {
		return nil, false
	}
	return &c, true
}

// passkeyFailed counts a failed attempt, logs it and answers it.
func (p *Provider) passkeyFailed(w http.ResponseWriter, r *http.Request, ia *interaction, account, method, reason string, status int, msg string) {
	src := source(r)
	p.limits.fail(account, src, p.now())
	p.event("authn", "method", method, "subject", account, "client", ia.req.client.ID, "result", "failed", "reason", reason, "source", src)
	writeJSONError(w, status, msg)
}

// webauthnReason names why go-webauthn refused a response, for the event:
// its own words, which carry no personal data.
func webauthnReason(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	var ue *protocol.ErrorUnknownCredential
	if errors.As(err, &ue) {
		return "unknown credential"
	}
	return "invalid response"
}

// passkeyOptions starts a login with one of the resident's passkeys.
func (p *Provider) passkeyOptions(w http.ResponseWriter, r *http.Request, ia *interaction) {
	lang := p.lang(w, r, ia)
	if _, ok := p.passkeyStart(w, r, ia, lang); !ok {
		return
	}
	res, err := p.reg.Resident(r.Context(), ia.nn)
	if err != nil {
		p.log.Error("identity: passkey options", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, t(lang, "error.busy"))
		return
	}
	u := p.passkeyUserOf(res)
	if len(u.creds) == 0 {
		writeJSONError(w, http.StatusBadRequest, t(lang, "second.passkey.none"))
		return
	}
	opts, sd, err := p.webauthn.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		p.log.Error("identity: passkey options", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, t(lang, "error.busy"))
		return
	}
	if !p.putCeremony(ia, &ceremony{Session: *sd, Expires: p.now().Add(passkeyTTL)}) {
		writeJSONError(w, http.StatusBadRequest, t(lang, "login.expired"))
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

// passkeyStep checks the assertion of a passkey: eidas2.
func (p *Provider) passkeyStep(w http.ResponseWriter, r *http.Request, ia *interaction) {
	lang := p.lang(w, r, ia)
	account, ok := p.passkeyStart(w, r, ia, lang)
	if !ok {
		return
	}
	c, ok := p.takeCeremony(ia, false)
	if !ok {
		writeJSONError(w, http.StatusBadRequest, t(lang, "second.passkey.retry"))
		return
	}
	body, err := readJSONBody(w, r)
	if err != nil {
		p.passkeyFailed(w, r, ia, account, "hwk", "body too large", http.StatusBadRequest, t(lang, "second.passkey.bad"))
		return
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		p.passkeyFailed(w, r, ia, account, "hwk", webauthnReason(err), http.StatusBadRequest, t(lang, "second.passkey.bad"))
		return
	}
	res, err := p.reg.Resident(r.Context(), ia.nn)
	if err != nil {
		p.log.Error("identity: passkey check", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, t(lang, "error.busy"))
		return
	}
	cred, err := p.webauthn.ValidateLogin(p.passkeyUserOf(res), c.Session, parsed)
	if err != nil {
		p.passkeyFailed(w, r, ia, account, "hwk", webauthnReason(err), http.StatusUnauthorized, t(lang, "second.passkey.bad"))
		return
	}
	// The signature counter, again in the register's transaction: a counter
	// that did not move forward means two authenticators hold the key. The
	// credential is then disabled for good (the operator gives a new
	// activation code), and this login refused.
	cloned := cred.Authenticator.CloneWarning
	err = p.reg.UpdateResident(r.Context(), ia.nn, func(res *identity.Resident) error {
		for i, raw := range res.Passkeys {
			var stored webauthn.Credential
			if json.Unmarshal(raw, &stored) != nil || !bytes.Equal(stored.ID, cred.ID) {
				continue
			}
			if stored.Authenticator.CloneWarning {
				return errClonedPasskey
			}
			if cloned {
				stored.Authenticator.CloneWarning = true
			} else {
				stored.Authenticator.UpdateCounter(cred.Authenticator.SignCount)
				cloned = stored.Authenticator.CloneWarning
				stored.Flags = cred.Flags
			}
			b, err := json.Marshal(&stored)
			if err != nil {
				return err
			}
			res.Passkeys[i] = b
			return nil
		}
		return errClonedPasskey // removed meanwhile
	})
	switch {
	case err != nil && !errors.Is(err, errClonedPasskey):
		p.log.Error("identity: passkey counter", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, t(lang, "error.busy"))
		return
	case err != nil || cloned:
		p.passkeyFailed(w, r, ia, account, "hwk", "signature counter did not increase (cloned authenticator)", http.StatusUnauthorized, t(lang, "second.passkey.clone"))
		return
	}
	p.limits.succeed(account)
	p.jsonRedirect(w, func(w http.ResponseWriter) { p.secondFactorDone(w, r, ia, "hwk") })
}

var errClonedPasskey = errors.New("passkey disabled: cloned authenticator")

// passkeyRegisterOptions checks an activation code and starts the
// enrollment of a passkey.
func (p *Provider) passkeyRegisterOptions(w http.ResponseWriter, r *http.Request, ia *interaction) {
	lang := p.lang(w, r, ia)
	if mt, _, _ := parseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		// The enrollment form posted without its script: say what is
		// missing rather than send JSON to the page.
		p.secondPage(w, r, ia, t(lang, "second.passkey.unsupported"))
		return
	}
	account, ok := p.passkeyStart(w, r, ia, lang)
	if !ok {
		return
	}
	var in struct {
		Code string `json:"code"`
	}
	body, err := readJSONBody(w, r)
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil || in.Code == "" || len(in.Code) > 64 {
		p.passkeyFailed(w, r, ia, account, "activation", "malformed", http.StatusBadRequest, t(lang, "second.enroll.bad"))
		return
	}
	res, err := p.reg.Resident(r.Context(), ia.nn)
	if err != nil {
		p.log.Error("identity: activation code check", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, t(lang, "error.busy"))
		return
	}
	if !res.CheckActivationCode(in.Code, p.now()) {
		reason := "wrong code"
		if !res.ActivationPending(p.now()) {
			reason = "no code pending or expired"
		}
		p.passkeyFailed(w, r, ia, account, "activation", reason, http.StatusUnauthorized, t(lang, "second.enroll.bad"))
		return
	}
	u := p.passkeyUserOf(res)
	opts, sd, err := p.webauthn.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred),
		webauthn.WithExclusions(webauthn.Credentials(u.all).CredentialDescriptors()),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
	)
	if err != nil {
		p.log.Error("identity: passkey enrollment options", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, t(lang, "error.busy"))
		return
	}
	c := &ceremony{Register: true, Session: *sd, Expires: p.now().Add(passkeyTTL), Activation: res.Activation}
	if !p.putCeremony(ia, c) {
		writeJSONError(w, http.StatusBadRequest, t(lang, "login.expired"))
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

// passkeyRegister checks the new passkey's attestation, stores it, spends
// the activation code and ends the login at eidas2.
func (p *Provider) passkeyRegister(w http.ResponseWriter, r *http.Request, ia *interaction) {
	lang := p.lang(w, r, ia)
	account, ok := p.passkeyStart(w, r, ia, lang)
	if !ok {
		return
	}
	c, ok := p.takeCeremony(ia, true)
	if !ok {
		writeJSONError(w, http.StatusBadRequest, t(lang, "second.passkey.retry"))
		return
	}
	body, err := readJSONBody(w, r)
	if err != nil {
		p.passkeyFailed(w, r, ia, account, "hwk", "body too large", http.StatusBadRequest, t(lang, "second.enroll.failed"))
		return
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		p.passkeyFailed(w, r, ia, account, "hwk", webauthnReason(err), http.StatusBadRequest, t(lang, "second.enroll.failed"))
		return
	}
	res, err := p.reg.Resident(r.Context(), ia.nn)
	if err != nil {
		p.log.Error("identity: passkey enrollment", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, t(lang, "error.busy"))
		return
	}
	cred, err := p.webauthn.CreateCredential(p.passkeyUserOf(res), c.Session, parsed)
	if err != nil {
		p.passkeyFailed(w, r, ia, account, "hwk", webauthnReason(err), http.StatusUnauthorized, t(lang, "second.enroll.failed"))
		return
	}
	stored, err := json.Marshal(cred)
	if err != nil {
		writeJSONError(w, http.StatusServiceUnavailable, t(lang, "error.busy"))
		return
	}
	// The code is spent in the transaction that adds the passkey: two
	// enrollments racing with one code cannot both succeed.
	now := p.now()
	err = p.reg.UpdateResident(r.Context(), ia.nn, func(res *identity.Resident) error {
		if !res.ActivationPending(now) || subtle.ConstantTimeCompare(res.Activation, c.Activation) != 1 {
			return errActivationSpent
		}
		for _, raw := range res.Passkeys {
			var old webauthn.Credential
			if json.Unmarshal(raw, &old) == nil && bytes.Equal(old.ID, cred.ID) {
				return errPasskeyKnown
			}
		}
		res.Passkeys = append(res.Passkeys, stored)
		res.Activation, res.ActivationExpires = nil, time.Time{}
		return nil
	})
	switch {
	case errors.Is(err, errPasskeyKnown):
		p.passkeyFailed(w, r, ia, account, "hwk", "credential already registered", http.StatusBadRequest, t(lang, "second.enroll.failed"))
		return
	case errors.Is(err, errActivationSpent):
		p.passkeyFailed(w, r, ia, account, "activation", "code spent or expired during the enrollment", http.StatusUnauthorized, t(lang, "second.enroll.bad"))
		return
	case err != nil:
		p.log.Error("identity: passkey enrollment", "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, t(lang, "error.busy"))
		return
	}
	p.limits.succeed(account)
	p.event("passkey.enroll", "subject", account, "client", ia.req.client.ID, "result", "ok", "source", source(r))
	p.jsonRedirect(w, func(w http.ResponseWriter) { p.secondFactorDone(w, r, ia, "hwk") })
}

var (
	errActivationSpent = errors.New("activation code spent, replaced or expired")
	errPasskeyKnown    = errors.New("passkey already registered")
)

// jsonRedirect runs a step that ends with a redirect (secondFactorDone) and
// answers {"redirect": URL} instead: fetch would follow a 303 by itself,
// while the page's script must move the whole window. Any other answer
// goes through unchanged.
func (p *Provider) jsonRedirect(w http.ResponseWriter, step func(http.ResponseWriter)) {
	rec := &redirectRecorder{header: http.Header{}}
	step(rec)
	if loc := rec.header.Get("Location"); rec.status >= 300 && rec.status < 400 && loc != "" {
		writeJSON(w, http.StatusOK, map[string]string{"redirect": loc})
		return
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	w.WriteHeader(rec.status)
	w.Write(rec.body.Bytes())
}

// redirectRecorder holds an answer for jsonRedirect.
type redirectRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rr *redirectRecorder) Header() http.Header { return rr.header }
func (rr *redirectRecorder) WriteHeader(status int) {
	if rr.status == 0 {
		rr.status = status
	}
}
func (rr *redirectRecorder) Write(b []byte) (int, error) {
	if rr.status == 0 {
		rr.status = http.StatusOK
	}
	return rr.body.Write(b)
}
