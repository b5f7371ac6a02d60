package op

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/clientauth"
	"github.com/coffre-cloud/coffre/identity/dpop"
	"github.com/coffre-cloud/coffre/identity/jwt"
	"github.com/coffre-cloud/coffre/identity/replay"
)

// authRequest is a checked authorization request: pushed (PAR) or, for
// clients outside the strict profile, given at the authorization endpoint.
type authRequest struct {
	client        *identity.Client
	redirectURI   string
	scopes        []string
	claims        []string // released by the scopes
	state, nonce  string
	codeChallenge string
	level         int // index in acrLevels of the lowest level the client accepts
	prompt        map[string]bool
	maxAge        int // -1: none
	locale        string
	dpopJKT       string
}

var (
	pkceRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	tokenRE = regexp.MustCompile(`^[\x20-\x7e]{1,512}$`)
)

// par is the pushed authorization request endpoint (RFC 9126).
func (p *Provider) par(w http.ResponseWriter, r *http.Request) {
	p.dpopNonceHeader(w)
	if err := parseForm(w, r); err != nil {
		writeError(w, err)
		return
	}
	f := r.PostForm
	// The DPoP proof is checked first: a proof without the server's nonce
	// is answered use_dpop_nonce before the client assertion (one-time) is
	// spent, so that the client can retry with the same assertion.
	var proof *dpop.Proof
	if r.Header.Get("DPoP") != "" {
		var err error
		if proof, err = p.dpop.Verify(r.Header, http.MethodPost, p.url(pathPAR), ""); err != nil {
			p.writeDPoPError(w, err)
			return
		}
	}
	c, err := p.authenticateClient(r.Context(), f)
	if err != nil {
		p.refusal("par", "", err, r)
		writeError(w, err)
		return
	}
	if f.Get("request_uri") != "" {
		writeError(w, invalidRequest("request_uri is not allowed in a pushed authorization request"))
		return
	}
	if f.Get("request") != "" {
		writeError(w, errorf(http.StatusBadRequest, "request_not_supported", "request objects are not supported; push the parameters themselves"))
		return
	}
	ar, err := p.checkAuthRequest(c, f)
	if err != nil {
		p.refusal("par", c.ID, err, r)
		writeError(w, err)
		return
	}
	// DPoP at the PAR endpoint (RFC 9449 §10.1) binds the code to the key.
	if proof != nil {
		if ar.dpopJKT != "" && ar.dpopJKT != proof.JKT {
			writeError(w, errorf(http.StatusBadRequest, "invalid_dpop_proof", "dpop_jkt does not match the DPoP proof's key"))
			return
		}
		ar.dpopJKT = proof.JKT
	}
	uri := requestURIScheme + randomToken(32)
	if !p.requests.put(uri, ar, p.now().Add(requestURITTL), p.now()) {
		writeError(w, serverBusy("too many pending authorization requests; try again later"))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": uri, "expires_in": int(requestURITTL.Seconds())})
}

// checkAuthRequest checks the parameters of an authorization request for a
// client whose redirect URI is not yet known to be valid.
func (p *Provider) checkAuthRequest(c *identity.Client, f url.Values) (*authRequest, error) {
	ar := &authRequest{client: c, maxAge: -1, prompt: map[string]bool{}}
	if id := f.Get("client_id"); id != "" && id != c.ID {
		return nil, invalidRequest("client_id does not match the authenticated client")
	}
	ar.redirectURI = f.Get("redirect_uri")
	if ar.redirectURI == "" {
		return nil, invalidRequest("redirect_uri is required")
	}
	if !slices.Contains(c.RedirectURIs, ar.redirectURI) {
		return nil, invalidRequest("redirect_uri is not registered for this client")
	}
	if rt := f.Get("response_type"); rt != "code" {
		return nil, errorf(http.StatusBadRequest, "unsupported_response_type", "response_type must be code")
	}
	if rm := f.Get("response_mode"); rm != "" && rm != "query" {
		return nil, invalidRequest("response_mode must be query")
	}
	ar.scopes = strings.Fields(f.Get("scope"))
	if !slices.Contains(ar.scopes, "openid") {
		return nil, invalidScope("scope must include openid")
	}
	for _, s := range ar.scopes {
		if s == "openid" || s == "offline_access" {
			continue
		}
		cl, ok := claimScopes[s]
		if !ok {
			return nil, invalidScope("unknown scope %q", s)
		}
		if len(c.Scopes) > 0 && !slices.Contains(c.Scopes, s) {
			return nil, invalidScope("scope %q is not allowed for this client", s)
		}
		for _, x := range cl {
			if !slices.Contains(ar.claims, x) {
				ar.claims = append(ar.claims, x)
			}
		}
	}
	for _, k := range []string{"state", "nonce"} {
		if v := f.Get(k); v != "" && !tokenRE.MatchString(v) {
			return nil, invalidRequest("%s: 1 to 512 printable ASCII characters", k)
		}
	}
	ar.state, ar.nonce = f.Get("state"), f.Get("nonce")
	if m := f.Get("code_challenge_method"); m != "S256" {
		return nil, invalidRequest("code_challenge_method must be S256 (PKCE is required)")
	}
	ar.codeChallenge = f.Get("code_challenge")
	if !pkceRE.MatchString(ar.codeChallenge) {
		return nil, invalidRequest("code_challenge must be the base64url SHA-256 of the code verifier (43 characters)")
	}
	if v := f.Get("acr_values"); v != "" {
		ar.level = -1
		for _, a := range strings.Fields(v) {
			i := slices.Index(acrLevels, a)
			if i < 0 {
				continue // unknown values are ignored (OIDC Core §3.1.2.1: voluntary claim)
			}
			if ar.level < 0 || i < ar.level {
				ar.level = i
			}
		}
		if ar.level < 0 || ar.level >= len(p.acrSupported()) {
			return nil, invalidRequest("acr_values: none of %q is supported here (%s)", v, strings.Join(p.acrSupported(), ", "))
		}
	}
	for _, pr := range strings.Fields(f.Get("prompt")) {
		switch pr {
		case "none", "login", "consent", "select_account":
			ar.prompt[pr] = true
		default:
			return nil, invalidRequest("unknown prompt %q", pr)
		}
	}
	if ar.prompt["none"] && len(ar.prompt) > 1 {
		return nil, invalidRequest("prompt none cannot be combined with other values")
	}
	if v := f.Get("max_age"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, invalidRequest("max_age must be a non-negative integer")
		}
		ar.maxAge = n
	}
	for _, l := range strings.Fields(f.Get("ui_locales")) {
		if l = strings.ToLower(l); strings.HasPrefix(l, "fr") || strings.HasPrefix(l, "en") {
			ar.locale = l[:2]
			break
		}
	}
	if v := f.Get("dpop_jkt"); v != "" {
		if !pkceRE.MatchString(v) {
			return nil, invalidRequest("dpop_jkt must be a base64url SHA-256 JWK thumbprint")
		}
		ar.dpopJKT = v
	}
	return ar, nil
}

// authenticateClient checks a private_key_jwt client assertion (the only
// client authentication the provider accepts) and returns the client.
func (p *Provider) authenticateClient(ctx context.Context, f url.Values) (*identity.Client, error) {
	if f.Get("client_secret") != "" {
		return nil, invalidClient("client secrets are not accepted: authenticate with private_key_jwt")
	}
	typ, assertion := f.Get("client_assertion_type"), f.Get("client_assertion")
	if typ != clientauth.AssertionType || assertion == "" {
		return nil, invalidClient("client authentication is required: private_key_jwt (client_assertion_type %s)", clientauth.AssertionType)
	}
	id := f.Get("client_id")
	if id == "" {
		var err error
		if id, err = clientauth.UnverifiedIssuer(assertion); err != nil {
			return nil, invalidClient("client assertion: %v", err)
		}
	}
	c, err := p.reg.Client(ctx, id)
	if errors.Is(err, identity.ErrNotFound) || (err == nil && c.Revoked) {
		return nil, invalidClient("unknown or revoked client")
	}
	if err != nil {
		return nil, err
	}
	set, err := p.clientKeys(ctx, c)
	if err != nil {
		return nil, invalidClient("the client's keys cannot be read: %v", err)
	}
	if err := p.clientAV.Verify(assertion, c.ID, set); err != nil {
		if errors.Is(err, replay.ErrFull) {
			return nil, serverBusy("too many client authentications in flight; try again later")
		}
		return nil, invalidClient("client assertion refused: %v", err)
	}
	return c, nil
}

// clientKeys returns a client's public keys: inline, or from its jwks_uri
// (cached).
func (p *Provider) clientKeys(ctx context.Context, c *identity.Client) (*jose.JSONWebKeySet, error) {
	if c.JWKSURI != "" {
		return p.keySets.Get(ctx, c.JWKSURI)
	}
	return jwt.ParseKeySet(c.JWKS)
}

// dpopNonceHeader gives the client the current DPoP nonce on every answer
// of the endpoints that take proofs.
func (p *Provider) dpopNonceHeader(w http.ResponseWriter) {
	w.Header().Set("DPoP-Nonce", p.nonces.Current())
}

// writeDPoPError answers a refused DPoP proof at the PAR or token endpoint.
func (p *Provider) writeDPoPError(w http.ResponseWriter, err error) {
	if errors.Is(err, replay.ErrFull) {
		writeError(w, serverBusy("too many DPoP proofs in flight; try again later"))
		return
	}
	code := "invalid_dpop_proof"
	if errors.Is(err, dpop.ErrUseNonce) {
		code = "use_dpop_nonce"
	}
	writeError(w, errorf(http.StatusBadRequest, code, "%v", err))
}

// refusal logs a refused request as an event.
func (p *Provider) refusal(endpoint, client string, err error, r *http.Request) {
	oe := asOAuth(err)
	p.event("refusal", "endpoint", endpoint, "client", client, "error", oe.Code, "reason", oe.Description, "source", source(r))
}
