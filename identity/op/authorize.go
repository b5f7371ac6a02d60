package op

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coffre-cloud/coffre/identity"
)

// interaction is one resident's way through login and consent for one
// authorization request, bound to their browser by a cookie and to its
// forms by a CSRF token.
type interaction struct {
	id       string
	req      *authRequest
	csrf     string
	nn       string    // the resident identified so far ("" before the first factor)
	level    int       // the assurance level reached, index in acrLevels; -1: none
	amr      []string  // RFC 8176 methods used
	authTime time.Time // when the last factor was given
	sso      bool      // the first factor is an existing session's
	// Factor state: the WebAuthn ceremony (passkey.go) and the ID-card
	// challenge (card.go) under way.
	webauthn  []byte
	cardNonce string
}

const (
	cookieInteraction = "coffre_ia"
	cookieSession     = "coffre_sid"
	cookieLang        = "coffre_lang"
)

// authorize is the authorization endpoint: it takes a pushed request (or,
// for a client outside the strict profile, the request's parameters), then
// sends the browser to the login pages.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		p.errorPage(w, r, http.StatusMethodNotAllowed, "bad_method", "")
		return
	}
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		if err := parseForm(w, r); err != nil {
			p.errorPage(w, r, http.StatusBadRequest, "bad_request", asOAuth(err).Description)
			return
		}
		q = r.PostForm
	}
	ar, err := p.resolveRequest(r, q)
	if err != nil {
		// The redirect URI is not trusted yet: the error is shown here,
		// never sent anywhere (no open redirect).
		oe := asOAuth(err)
		p.refusal("authorize", q.Get("client_id"), err, r)
		p.errorPage(w, r, oe.status, "bad_request", oe.Description)
		return
	}
	ia := &interaction{id: randomToken(24), req: ar, csrf: randomToken(24), level: -1}
	// A session stands for the password: it satisfies an eidas1 request
	// silently, and an eidas2 request steps up (the second factor is asked
	// again, never silently: no SSO at eidas2 and above). eidas3 always
	// asks for the card; prompt=login or an exceeded max_age ask for
	// everything.
	if s, ok := p.currentSession(r); ok && ar.level <= 1 && !ar.prompt["login"] &&
		(ar.maxAge < 0 || p.now().Sub(s.authTime) <= time.Duration(ar.maxAge)*time.Second) {
		ia.nn, ia.level, ia.amr, ia.authTime, ia.sso = s.nn, 0, s.amr, s.authTime, true
	}
	if ar.prompt["none"] {
		// Consent is asked at every authorization: prompt=none can never
		// be satisfied without the resident.
		code := "login_required"
		if ia.nn != "" {
			code = "consent_required"
		}
		p.redirectError(w, r, ar, code, "the resident must interact with the provider")
		return
	}
	if !p.interactions.put(ia.id, ia, p.now().Add(interactionTTL), p.now()) {
		p.redirectError(w, r, ar, "temporarily_unavailable", "too many logins under way; try again later")
		return
	}
	p.setCookie(w, cookieInteraction, ia.id, pathLogin, interactionTTL)
	next := ia.id
	switch {
	case ia.nn != "" && ar.level == 0:
		next += "/consent"
	case ia.nn != "":
		next += "/second"
	}
	http.Redirect(w, r, p.url(pathLogin+next), http.StatusSeeOther)
}

// resolveRequest finds the authorization request: pushed (request_uri,
// one-time) or, for a client outside the strict profile, in the query.
func (p *Provider) resolveRequest(r *http.Request, q url.Values) (*authRequest, error) {
	clientID := q.Get("client_id")
	if clientID == "" {
		return nil, invalidRequest("client_id is required")
	}
	if uri := q.Get("request_uri"); uri != "" {
		ar, exp, ok := p.requests.take(uri)
		switch {
		case !ok:
			return nil, errorf(http.StatusBadRequest, "invalid_request_uri", "the request_uri is unknown or was already used; push the request again")
		case p.now().After(exp):
			return nil, errorf(http.StatusBadRequest, "invalid_request_uri", "the request_uri expired; push the request again")
		case ar.client.ID != clientID:
			return nil, errorf(http.StatusBadRequest, "invalid_request_uri", "the request_uri was pushed by another client")
		}
		// The client may have been revoked since.
		c, err := p.reg.Client(r.Context(), clientID)
		if err != nil || c.Revoked {
			return nil, unauthorizedClient("unknown or revoked client")
		}
		return ar, nil
	}
	c, err := p.reg.Client(r.Context(), clientID)
	if errors.Is(err, identity.ErrNotFound) || (err == nil && c.Revoked) {
		return nil, unauthorizedClient("unknown or revoked client")
	}
	if err != nil {
		return nil, err
	}
	if c.Strict {
		return nil, invalidRequest("this client must push its authorization requests (PAR, RFC 9126): request_uri is required")
	}
	return p.checkAuthRequest(c, q)
}

// redirectError sends an error back to the client's (registered, checked)
// redirect URI, with state and iss (RFC 9207).
func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, ar *authRequest, code, desc string) {
	p.event("authorize.error", "client", ar.client.ID, "error", code, "source", source(r))
	v := url.Values{"error": {code}, "error_description": {desc}, "iss": {p.cfg.Issuer}}
	if ar.state != "" {
		v.Set("state", ar.state)
	}
	p.redirectTo(w, r, ar.redirectURI, v)
}

// redirectTo sends the browser to a registered redirect URI with params
// added to its query.
func (p *Provider) redirectTo(w http.ResponseWriter, r *http.Request, target string, params url.Values) {
	u, _ := url.Parse(target) // registered URIs were checked at registration
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// interactionOf returns the interaction of a login page's request, checking
// that this browser started it.
func (p *Provider) interactionOf(r *http.Request, id string) (*interaction, bool) {
	ia, ok := p.interactions.get(id, p.now())
	if !ok {
		return nil, false
	}
	c, err := r.Cookie(cookieInteraction)
	if err != nil || c.Value != id {
		return nil, false
	}
	return ia, true
}

// session is a resident's login in one browser.
type session struct {
	id       string
	nn       string
	level    int
	amr      []string
	authTime time.Time
	clients  []string // the clients that received tokens in this session
}

func (p *Provider) currentSession(r *http.Request) (*session, bool) {
	c, err := r.Cookie(cookieSession)
	if err != nil {
		return nil, false
	}
	return p.sessions.get(c.Value, p.now())
}

// setCookie sets an HttpOnly, SameSite=Lax cookie, Secure unless the
// issuer is plain http on loopback.
func (p *Provider) setCookie(w http.ResponseWriter, name, value, path string, ttl time.Duration) {
	base := strings.TrimSuffix(p.issuer.Path, "/")
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: base + path, MaxAge: int(ttl.Seconds()),
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (p *Provider) clearCookie(w http.ResponseWriter, name, path string) {
	base := strings.TrimSuffix(p.issuer.Path, "/")
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: base + path, MaxAge: -1, HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
}

// appendNew appends the values of add that list lacks, to a copy: the
// lists it extends (an interaction's amr, a session's clients) are shared.
func appendNew(list []string, add ...string) []string {
	out := slices.Clone(list)
	for _, x := range add {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// changeInteraction changes a live interaction: fn changes a copy, which
// replaces it, so that the requests reading the interaction meanwhile
// (the same browser may send several) never see a half-made change.
func (p *Provider) changeInteraction(id string, now time.Time, fn func(*interaction)) bool {
	return p.interactions.update(id, now, func(x **interaction, _ *time.Time) bool {
		c := **x
		fn(&c)
		*x = &c
		return true
	})
}
