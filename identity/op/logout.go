package op

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// logoutRequest is a checked RP-initiated logout waiting for the
// resident's confirmation.
type logoutRequest struct {
	redirect, state string
	client          string
	sid             string // the session it ends: the confirmation must come from its browser
}

const logoutTTL = 10 * time.Minute

// logout is the end_session_endpoint (OpenID Connect RP-Initiated Logout
// 1.0). With an id_token_hint of the browser's session it logs out at once;
// otherwise it asks the resident to confirm, so that a third-party page
// cannot log them out.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r, nil)
	if r.Method == http.MethodPost && r.URL.Query().Get("confirm") != "" {
		p.logoutConfirmed(w, r)
		return
	}
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		if err := parseForm(w, r); err != nil {
			p.errorPage(w, r, http.StatusBadRequest, "bad_request", asOAuth(err).Description)
			return
		}
		q = r.PostForm
	} else if r.Method != http.MethodGet {
		p.errorPage(w, r, http.StatusMethodNotAllowed, "bad_method", "")
		return
	}
	var hintClient, hintSID string
	if hint := q.Get("id_token_hint"); hint != "" {
		claims, ok := p.ownIDToken(hint)
		if !ok {
			p.errorPage(w, r, http.StatusBadRequest, "bad_request", "id_token_hint is not an ID token of this provider")
			return
		}
		hintClient, hintSID = claims.Aud, claims.SID
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		clientID = hintClient
	}
	if hintClient != "" && clientID != hintClient {
		p.errorPage(w, r, http.StatusBadRequest, "bad_request", "client_id does not match the id_token_hint's audience")
		return
	}
	lr := &logoutRequest{state: q.Get("state"), client: clientID}
	if target := q.Get("post_logout_redirect_uri"); target != "" {
		if clientID == "" {
			p.errorPage(w, r, http.StatusBadRequest, "bad_request", "post_logout_redirect_uri needs client_id or id_token_hint")
			return
		}
		c, err := p.reg.Client(r.Context(), clientID)
		if err != nil || !slices.Contains(c.PostLogoutRedirectURIs, target) {
			p.errorPage(w, r, http.StatusBadRequest, "bad_request", "post_logout_redirect_uri is not registered for this client")
			return
		}
		lr.redirect = target
	}
	s, hasSession := p.currentSession(r)
	if !hasSession || (hintSID != "" && hintSID == s.id) {
		p.endSession(w, r, lr)
		return
	}
	id := randomToken(24)
	lr.sid = s.id
	if !p.logouts.put(id, lr, p.now().Add(logoutTTL), p.now()) {
		p.errorPage(w, r, http.StatusServiceUnavailable, "busy", "")
		return
	}
	p.render(w, r, http.StatusOK, messagePage, &view{Lang: lang, Title: t(lang, "logout.title"), Message: t(lang, "logout.confirm"),
		Form: &formView{Action: p.url(pathLogout) + "?confirm=" + id, Button: t(lang, "logout.button")}}, origin(lr.redirect))
}

func (p *Provider) logoutConfirmed(w http.ResponseWriter, r *http.Request) {
	lr, exp, ok := p.logouts.take(r.URL.Query().Get("confirm"))
	if s, has := p.currentSession(r); ok && (!has || s.id != lr.sid) {
		ok = false // another browser's confirmation, or a session already ended
	}
	if !ok || p.now().After(exp) {
		lang := p.lang(w, r, nil)
		p.render(w, r, http.StatusBadRequest, messagePage, &view{Lang: lang, Title: t(lang, "error.title"), Message: t(lang, "login.expired")}, "")
		return
	}
	p.endSession(w, r, lr)
}

// endSession ends the browser's session and answers the client.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request, lr *logoutRequest) {
	if s, ok := p.currentSession(r); ok {
		p.sessions.delete(s.id)
		p.event("logout", "subject", p.reg.Ref(s.nn), "client", lr.client, "result", "ok", "source", source(r))
	}
	p.clearCookie(w, cookieSession, "/")
	if lr.redirect != "" {
		v := url.Values{}
		if lr.state != "" {
			v.Set("state", lr.state)
		}
		p.redirectTo(w, r, lr.redirect, v)
		return
	}
	lang := p.lang(w, r, nil)
	p.render(w, r, http.StatusOK, messagePage, &view{Lang: lang, Title: t(lang, "logout.title"), Message: t(lang, "logout.done")}, "")
}

type idTokenClaims struct {
	Iss string `json:"iss"`
	Aud string `json:"aud"`
	Sub string `json:"sub"`
	SID string `json:"sid"`
}

// ownIDToken checks that a token is an ID token this provider signed
// (expired ones included: a hint may be old).
func (p *Provider) ownIDToken(tok string) (*idTokenClaims, bool) {
	if len(tok) > 16384 {
		return nil, false
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, false
	}
	key := p.verifyKey(jws.Signatures[0].Header.KeyID)
	if key == nil {
		return nil, false
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, false
	}
	var c idTokenClaims
	if json.Unmarshal(payload, &c) != nil || c.Iss != p.cfg.Issuer || c.Aud == "" {
		return nil, false
	}
	return &c, true
}
