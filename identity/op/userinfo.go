package op

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/dpop"
)

// resourceError is a refusal at a protected resource: 401 with a
// WWW-Authenticate challenge of the token's scheme (RFC 6750 §3, RFC 9449
// §7.1), or 403 for a token that is fine but not allowed.
type resourceError struct {
	status      int
	scheme      string // DPoP or Bearer
	code, desc  string
	nonceNeeded bool
}

func (e *resourceError) Error() string { return e.code + ": " + e.desc }

func (p *Provider) writeResourceError(w http.ResponseWriter, e *resourceError) {
	ch := e.scheme + ` error="` + e.code + `", error_description="` + strings.ReplaceAll(e.desc, `"`, "'") + `"`
	if e.scheme == "DPoP" {
		ch += `, algs="ES256 ES384 ES512 PS256 PS384 PS512 EdDSA"`
	}
	w.Header().Set("WWW-Authenticate", ch)
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.desc})
}

// accessToken checks the access token of a request to a protected
// resource of the provider (userinfo; STS uses id_tokens instead), with its
// DPoP proof when the token is bound.
func (p *Provider) accessToken(r *http.Request, htu string) (*accessClaims, error) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if (!strings.EqualFold(scheme, "DPoP") && !strings.EqualFold(scheme, "Bearer")) || tok == "" {
		return nil, &resourceError{status: http.StatusUnauthorized, scheme: "DPoP", code: "invalid_request", desc: "an access token is required in the Authorization header"}
	}
	scheme = map[bool]string{true: "DPoP", false: "Bearer"}[strings.EqualFold(scheme, "DPoP")]
	bad := func(desc string) error {
		return &resourceError{status: http.StatusUnauthorized, scheme: scheme, code: "invalid_token", desc: desc}
	}
	if len(tok) > 8192 {
		return nil, bad("the access token is too long")
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, bad("the access token is not a token of this provider")
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") {
		return nil, bad("the token is not an access token")
	}
	key := p.verifyKey(h.KeyID)
	if key == nil {
		return nil, bad("the access token is signed by an unknown key")
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, bad("the access token's signature does not verify")
	}
	var ac accessClaims
	if err := json.Unmarshal(payload, &ac); err != nil || ac.Iss != p.cfg.Issuer || ac.Grant == "" {
		return nil, bad("the access token is not a token of this provider")
	}
	if p.now().After(time.Unix(ac.Exp, 0)) {
		return nil, bad("the access token expired")
	}
	jkt, _ := ac.Cnf["jkt"].(string)
	switch {
	case jkt != "" && scheme != "DPoP":
		return nil, &resourceError{status: http.StatusUnauthorized, scheme: "DPoP", code: "invalid_token", desc: "the access token is DPoP-bound: use the DPoP scheme with a proof"}
	case jkt == "" && scheme == "DPoP":
		return nil, bad("the access token is not DPoP-bound: use the Bearer scheme")
	case jkt != "":
		proof, err := p.dpop.Verify(r.Header, r.Method, htu, tok)
		if err != nil {
			if errors.Is(err, dpop.ErrUseNonce) {
				return nil, &resourceError{status: http.StatusUnauthorized, scheme: "DPoP", code: "use_dpop_nonce", desc: "a DPoP proof with the server nonce is required", nonceNeeded: true}
			}
			return nil, &resourceError{status: http.StatusUnauthorized, scheme: "DPoP", code: "invalid_dpop_proof", desc: err.Error()}
		}
		if proof.JKT != jkt {
			return nil, &resourceError{status: http.StatusUnauthorized, scheme: "DPoP", code: "invalid_token", desc: "the DPoP proof is signed by another key than the token is bound to"}
		}
	}
	return &ac, nil
}

// userinfo answers the claims the resident consented to, as JSON or, when
// the client registered it, as a signed (and encrypted) JWT.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	p.dpopNonceHeader(w)
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, errorf(http.StatusMethodNotAllowed, "invalid_request", "use GET or POST"))
		return
	}
	ac, err := p.accessToken(r, p.url(pathUserinfo))
	if err != nil {
		var re *resourceError
		if errors.As(err, &re) {
			p.event("refusal", "endpoint", "userinfo", "error", re.code, "reason", re.desc, "source", source(r))
			p.writeResourceError(w, re)
			return
		}
		writeError(w, err)
		return
	}
	g, c, res, err := p.reg.GrantWith(r.Context(), ac.Grant)
	if err == nil && (g.Revoked || c.Revoked) {
		err = identity.ErrNotFound
	}
	if errors.Is(err, identity.ErrNotFound) {
		p.writeResourceError(w, &resourceError{status: http.StatusUnauthorized, scheme: map[bool]string{true: "DPoP", false: "Bearer"}[g != nil && g.JKT != ""], code: "invalid_token", desc: "the grant of this token was revoked"})
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	claims := map[string]any{"sub": g.Sub}
	for _, name := range g.Claims {
		if v, ok := claimValue(res, name); ok {
			claims[name] = v
		}
	}
	p.event("userinfo", "subject", p.reg.Ref(g.NationalNumber), "client", c.ID, "claims", strings.Join(g.Claims, " "), "result", "ok", "source", source(r))
	if !c.UserinfoSigned && c.UserinfoEncAlg == "" {
		writeJSON(w, http.StatusOK, claims)
		return
	}
	claims["iss"], claims["aud"], claims["iat"] = p.cfg.Issuer, c.ID, p.now().Unix()
	out, err := p.sign(claims, "JWT")
	if err == nil && c.UserinfoEncAlg != "" {
		out, err = p.encryptFor(c, out, c.UserinfoEncAlg, c.UserinfoEncEnc)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/jwt")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(out))
}
