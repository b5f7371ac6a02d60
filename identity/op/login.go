package op

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/totp"
)

// login serves the pages of an interaction: /login/{id}[/{step}].
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	id, step, _ := strings.Cut(r.URL.Path, "/")
	ia, ok := p.interactionOf(r, id)
	if !ok {
		lang := p.lang(w, r, nil)
		p.render(w, r, http.StatusBadRequest, messagePage, &view{Lang: lang, Title: t(lang, "error.title"), Message: t(lang, "login.expired")}, "")
		return
	}
	if r.Method == http.MethodPost {
		// Forms carry the CSRF token in a field; the JSON steps of the
		// passkey and card ceremonies (fetch from the page's script) in
		// the X-CSRF-Token header.
		token := r.Header.Get("X-CSRF-Token")
		var err error
		if mt, _, _ := parseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			err = parseForm(w, r)
			token = r.PostForm.Get("csrf")
		}
		if err != nil || subtle.ConstantTimeCompare([]byte(token), []byte(ia.csrf)) != 1 {
			lang := p.lang(w, r, ia)
			p.event("authn", "client", ia.req.client.ID, "result", "refused", "reason", "csrf", "source", source(r))
			if err == nil && r.PostForm == nil {
				// A JSON step: its script reads a JSON error.
				writeJSON(w, http.StatusForbidden, map[string]string{"error": t(lang, "login.expired")})
				return
			}
			p.render(w, r, http.StatusForbidden, messagePage, &view{Lang: lang, Title: t(lang, "error.title"), Message: t(lang, "login.expired")}, "")
			return
		}
	}
	switch {
	case step == "" && r.Method == http.MethodGet:
		p.loginPage(w, r, ia, "", "")
	case step == "password" && r.Method == http.MethodPost:
		p.passwordStep(w, r, ia)
	case step == "second" && r.Method == http.MethodGet:
		p.secondPage(w, r, ia, "")
	case step == "totp" && r.Method == http.MethodPost:
		p.totpStep(w, r, ia)
	case step == "passkey/options" && r.Method == http.MethodPost:
		p.passkeyOptions(w, r, ia)
	case step == "passkey" && r.Method == http.MethodPost:
		p.passkeyStep(w, r, ia)
	case step == "passkey/register/options" && r.Method == http.MethodPost:
		p.passkeyRegisterOptions(w, r, ia)
	case step == "passkey/register" && r.Method == http.MethodPost:
		p.passkeyRegister(w, r, ia)
	case step == "card/challenge" && r.Method == http.MethodPost:
		p.cardChallenge(w, r, ia)
	case step == "card" && r.Method == http.MethodPost:
		p.cardStep(w, r, ia)
	case step == "consent" && r.Method == http.MethodGet:
		p.consentPage(w, r, ia)
	case step == "consent" && r.Method == http.MethodPost:
		p.consentStep(w, r, ia)
	case step == "cancel" && r.Method == http.MethodPost:
		p.interactions.delete(ia.id)
		p.event("authn", "client", ia.req.client.ID, "result", "cancelled", "source", source(r))
		p.redirectError(w, r, ia.req, "access_denied", "the resident cancelled the login")
	default:
		p.errorPage(w, r, http.StatusNotFound, "not_found", "")
	}
}

func (p *Provider) action(ia *interaction) string { return p.url(pathLogin + ia.id) }

// loginPage shows the first factors that can reach the level asked.
func (p *Provider) loginPage(w http.ResponseWriter, r *http.Request, ia *interaction, errMsg, username string) {
	lang := p.lang(w, r, ia)
	status := http.StatusOK
	if errMsg != "" {
		status = http.StatusUnauthorized
	}
	p.render(w, r, status, loginPage, &view{
		Lang: lang, Title: t(lang, "login.title"), Error: errMsg,
		Action: p.action(ia), CSRF: ia.csrf, Client: ia.req.client.Name, LevelName: acrLevels[ia.req.level],
		Username: username, Password: ia.req.level < 2, Card: p.cfg.Card != nil,
	}, origin(ia.req.redirectURI))
}

// passwordStep checks the resident's password: eidas1, or the first
// factor of eidas2.
func (p *Provider) passwordStep(w http.ResponseWriter, r *http.Request, ia *interaction) {
	lang := p.lang(w, r, ia)
	if ia.req.level >= 2 {
		p.loginPage(w, r, ia, t(lang, "login.bad"), "")
		return
	}
	nn := strings.TrimSpace(r.PostForm.Get("username"))
	pw := r.PostForm.Get("password")
	src := source(r)
	now := p.now()
	account := ""
	if nn != "" {
		account = p.reg.Ref(nn)
	}
	if blocked, until := p.limits.blocked(account, src, now); blocked {
		p.event("authn", "method", "pwd", "subject", account, "client", ia.req.client.ID, "result", "locked", "source", src)
		p.loginPage(w, r, ia, fmt.Sprintf(t(lang, "login.locked"), until.UTC().Format("15:04")), nn)
		return
	}
	res, err := p.reg.Resident(r.Context(), nn)
	ok := false
	switch {
	case err == nil && res.PasswordHash != "":
		ok, _, err = p.pw.Verify(r.Context(), res.PasswordHash, pw)
	case err == nil || errors.Is(err, identity.ErrNotFound):
		// Unknown resident or no password: spend the same work, so that
		// timing does not tell which national numbers exist.
		p.pw.Verify(r.Context(), dummyHash(), pw)
		err = nil
	}
	if err != nil {
		p.log.Error("identity: password check", "err", err)
		p.loginPage(w, r, ia, t(lang, "error.busy"), nn)
		return
	}
	if !ok {
		p.limits.fail(account, src, now)
		p.event("authn", "method", "pwd", "subject", account, "client", ia.req.client.ID, "result", "failed", "source", src)
		p.loginPage(w, r, ia, t(lang, "login.bad"), nn)
		return
	}
	p.limits.succeed(account)
	p.event("authn", "method", "pwd", "subject", account, "client", ia.req.client.ID, "acr", "eidas1", "result", "ok", "source", src)
	p.changeInteraction(ia.id, now, func(x *interaction) {
		x.nn, x.level, x.amr, x.authTime, x.sso = nn, 0, []string{"pwd"}, now, false
	})
	if ia.req.level == 0 {
		http.Redirect(w, r, p.action(ia)+"/consent", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, p.action(ia)+"/second", http.StatusSeeOther)
}

// secondPage offers the second factors the resident has.
func (p *Provider) secondPage(w http.ResponseWriter, r *http.Request, ia *interaction, errMsg string) {
	if ia.nn == "" {
		http.Redirect(w, r, p.action(ia), http.StatusSeeOther)
		return
	}
	lang := p.lang(w, r, ia)
	res, err := p.reg.Resident(r.Context(), ia.nn)
	if err != nil {
		p.errorPage(w, r, http.StatusServiceUnavailable, "busy", "")
		return
	}
	status := http.StatusOK
	if errMsg != "" {
		status = http.StatusUnauthorized
	}
	passkey, enroll := p.passkeyView(res)
	p.render(w, r, status, secondPage, &view{
		Lang: lang, Title: t(lang, "second.title"), Error: errMsg, Action: p.action(ia), CSRF: ia.csrf,
		TOTP: len(res.TOTPSecret) > 0, Passkey: passkey, Enroll: enroll,
	}, origin(ia.req.redirectURI))
}

// totpStep checks a TOTP code after the password: eidas2.
func (p *Provider) totpStep(w http.ResponseWriter, r *http.Request, ia *interaction) {
	lang := p.lang(w, r, ia)
	if ia.nn == "" || ia.level < 0 {
		http.Redirect(w, r, p.action(ia), http.StatusSeeOther)
		return
	}
	src, now := source(r), p.now()
	account := p.reg.Ref(ia.nn)
	if blocked, until := p.limits.blocked(account, src, now); blocked {
		p.secondPage(w, r, ia, fmt.Sprintf(t(lang, "login.locked"), until.UTC().Format("15:04")))
		return
	}
	code := strings.TrimSpace(r.PostForm.Get("code"))
	accepted := false
	err := p.reg.UpdateResident(r.Context(), ia.nn, func(res *identity.Resident) error {
		step, ok := totp.Validate(res.TOTPSecret, code, now, res.TOTPLastStep)
		if !ok {
			return errBadCode
		}
		res.TOTPLastStep = step
		accepted = true
		return nil
	})
	if err != nil && !errors.Is(err, errBadCode) {
		p.log.Error("identity: TOTP check", "err", err)
		p.secondPage(w, r, ia, t(lang, "error.busy"))
		return
	}
	if !accepted {
		p.limits.fail(account, src, now)
		p.event("authn", "method", "otp", "subject", account, "client", ia.req.client.ID, "result", "failed", "source", src)
		p.secondPage(w, r, ia, t(lang, "second.totp.bad"))
		return
	}
	p.limits.succeed(account)
	p.secondFactorDone(w, r, ia, "otp")
}

var errBadCode = errors.New("wrong code")

// secondFactorDone raises the interaction to eidas2 and moves on to
// consent.
func (p *Provider) secondFactorDone(w http.ResponseWriter, r *http.Request, ia *interaction, method string) {
	now := p.now()
	p.event("authn", "method", method, "subject", p.reg.Ref(ia.nn), "client", ia.req.client.ID, "acr", "eidas2", "result", "ok", "source", source(r))
	p.changeInteraction(ia.id, now, func(x *interaction) {
		x.level, x.amr, x.authTime = 1, appendNew(x.amr, method, "mfa"), now
	})
	http.Redirect(w, r, p.action(ia)+"/consent", http.StatusSeeOther)
}

// consentPage shows what the client will receive, with the values.
func (p *Provider) consentPage(w http.ResponseWriter, r *http.Request, ia *interaction) {
	if ia.nn == "" || ia.level < ia.req.level {
		http.Redirect(w, r, p.action(ia), http.StatusSeeOther)
		return
	}
	lang := p.lang(w, r, ia)
	res, err := p.reg.Resident(r.Context(), ia.nn)
	if err != nil {
		p.errorPage(w, r, http.StatusServiceUnavailable, "busy", "")
		return
	}
	var cs []claimView
	for _, c := range ia.req.claims {
		v, ok := claimValue(res, c)
		if !ok {
			continue
		}
		if c == "gender" {
			v = t(lang, "gender."+v.(string))
		}
		cs = append(cs, claimView{Label: t(lang, "claim."+c), Value: fmt.Sprint(v)})
	}
	p.render(w, r, http.StatusOK, consentPage, &view{
		Lang: lang, Title: t(lang, "consent.title"), Action: p.action(ia), CSRF: ia.csrf,
		Client: ia.req.client.Name, Claims: cs, LevelName: acrLevels[ia.level],
	}, origin(ia.req.redirectURI))
}

// consentStep records the resident's decision and answers the client.
func (p *Provider) consentStep(w http.ResponseWriter, r *http.Request, ia *interaction) {
	if ia.nn == "" || ia.level < ia.req.level {
		http.Redirect(w, r, p.action(ia), http.StatusSeeOther)
		return
	}
	// The interaction ends here, whatever the decision: its forms cannot
	// be posted twice.
	p.interactions.delete(ia.id)
	p.clearCookie(w, cookieInteraction, pathLogin)
	subject := p.reg.Ref(ia.nn)
	if r.PostForm.Get("decision") != "allow" {
		p.event("consent", "subject", subject, "client", ia.req.client.ID, "result", "denied", "source", source(r))
		p.redirectError(w, r, ia.req, "access_denied", "the resident refused to share their data")
		return
	}
	sub, err := p.pairwiseSub(r.Context(), ia.req.client, ia.nn)
	if err != nil {
		p.log.Error("identity: pairwise subject", "err", err)
		p.redirectError(w, r, ia.req, "temporarily_unavailable", "the key store does not answer; try again later")
		return
	}
	now := p.now()
	sid := ""
	if s, ok := p.currentSession(r); ok && s.nn == ia.nn && !ia.authTime.After(s.authTime) {
		// The session this login came from: it lives on, and knows one
		// more client. Sessions are shared: change a copy.
		p.sessions.update(s.id, now, func(x **session, exp *time.Time) bool {
			ns := **x
			ns.clients = appendNew(ns.clients, ia.req.client.ID)
			*x, *exp = &ns, now.Add(p.sessTTL)
			return true
		})
		sid = s.id
	} else {
		// A new login (or a login as someone else) opens a new session.
		s := &session{id: randomToken(32), nn: ia.nn, level: ia.level, amr: ia.amr, authTime: ia.authTime, clients: []string{ia.req.client.ID}}
		if !p.sessions.put(s.id, s, now.Add(p.sessTTL), now) {
			p.redirectError(w, r, ia.req, "temporarily_unavailable", "too many sessions; try again later")
			return
		}
		sid = s.id
	}
	p.setCookie(w, cookieSession, sid, "/", p.sessTTL)
	code := randomToken(32)
	ce := &codeEntry{req: ia.req, nn: ia.nn, sub: sub, acr: acrLevels[ia.level], amr: ia.amr, authTime: ia.authTime, sid: sid}
	if !p.codes.put(code, ce, now.Add(codeTTL), now) {
		p.redirectError(w, r, ia.req, "temporarily_unavailable", "too many logins under way; try again later")
		return
	}
	p.event("consent", "subject", subject, "client", ia.req.client.ID, "acr", ce.acr, "claims", strings.Join(ia.req.claims, " "), "result", "allowed", "source", source(r))
	v := url.Values{"code": {code}, "iss": {p.cfg.Issuer}}
	if ia.req.state != "" {
		v.Set("state", ia.req.state)
	}
	p.redirectTo(w, r, ia.req.redirectURI, v)
}

// claimValue returns a resident's claim, and false when the resident has
// none (email and phone are released only when given).
func claimValue(res *identity.Resident, claim string) (any, bool) {
	var v string
	switch claim {
	case "given_name":
		v = res.GivenName
	case "family_name":
		v = res.FamilyName
	case "birthdate":
		v = res.Birthdate
	case "gender":
		v = res.Gender
	case "birthplace":
		v = res.Birthplace
	case "birthcountry":
		v = res.Birthcountry
	case "email":
		v = res.Email
	case "phone_number":
		v = res.Phone
	}
	return v, v != ""
}
