package op

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/dpop"
	"github.com/coffre-cloud/coffre/identity/jwt"
	"github.com/coffre-cloud/coffre/identity/password"
)

// codeEntry is an authorization code's grant-to-be. After its use it stays
// as a tombstone until it expires: a second use is a replay, which revokes
// what the first issued.
type codeEntry struct {
	mu       sync.Mutex
	req      *authRequest
	nn, sub  string
	acr      string
	amr      []string
	authTime time.Time
	sid      string
	used     bool
	grantID  string
}

// pairwiseSub is the client's subject for a resident: a keyed hash of the
// sector and the national number under a key of the key store, stable per
// sector, unlinkable across sectors.
func (p *Provider) pairwiseSub(ctx context.Context, c *identity.Client, nn string) (string, error) {
	mac, err := p.cfg.Keys.MAC(ctx, pairwiseKey, []byte("coffre pairwise sub v1\x00"+c.SectorID()+"\x00"+nn))
	if err != nil {
		return "", err
	}
	return b64(mac), nil
}

// pairwiseKey names the MAC key of pairwise subjects in the key store.
const pairwiseKey = "identity-pairwise"

// token is the token endpoint.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	p.dpopNonceHeader(w)
	if err := parseForm(w, r); err != nil {
		writeError(w, err)
		return
	}
	f := r.PostForm
	// The proof first, as at the PAR endpoint: a use_dpop_nonce answer
	// must not spend the client assertion.
	var proof *dpop.Proof
	if r.Header.Get("DPoP") != "" {
		var err error
		if proof, err = p.dpop.Verify(r.Header, http.MethodPost, p.url(pathToken), ""); err != nil {
			p.refusal("token", f.Get("client_id"), err, r)
			p.writeDPoPError(w, err)
			return
		}
	}
	c, err := p.authenticateClient(r.Context(), f)
	if err != nil {
		p.refusal("token", f.Get("client_id"), err, r)
		writeError(w, err)
		return
	}
	if proof == nil && c.Strict {
		err := errorf(http.StatusBadRequest, "invalid_dpop_proof", "this client's tokens are DPoP-bound: a DPoP proof is required")
		p.refusal("token", c.ID, err, r)
		writeError(w, err)
		return
	}
	var resp map[string]any
	switch gt := f.Get("grant_type"); gt {
	case "authorization_code":
		resp, err = p.codeGrant(r, c, proof)
	case "refresh_token":
		resp, err = p.refreshGrant(r, c, proof)
	case "":
		err = invalidRequest("grant_type is required")
	default:
		err = errorf(http.StatusBadRequest, "unsupported_grant_type", "grant_type %q is not supported (authorization_code, refresh_token)", gt)
	}
	if err != nil {
		p.refusal("token", c.ID, err, r)
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (p *Provider) codeGrant(r *http.Request, c *identity.Client, proof *dpop.Proof) (map[string]any, error) {
	f := r.PostForm
	code := f.Get("code")
	ce, ok := p.codes.get(code, p.now())
	if !ok {
		return nil, invalidGrant("the authorization code is unknown, expired or already used")
	}
	ce.mu.Lock()
	defer ce.mu.Unlock()
	if ce.used {
		// RFC 6749 §4.1.2: a code used twice revokes the tokens it gave.
		if ce.grantID != "" {
			p.revokeGrant(r.Context(), ce.grantID, "authorization code replayed")
		}
		p.event("token.replay", "client", c.ID, "grant", ce.grantID, "source", source(r))
		return nil, invalidGrant("the authorization code was already used; the tokens it gave are revoked")
	}
	ar := ce.req
	if ar.client.ID != c.ID {
		return nil, invalidGrant("the authorization code was issued to another client")
	}
	if f.Get("redirect_uri") != ar.redirectURI {
		return nil, invalidGrant("redirect_uri does not match the authorization request")
	}
	verifier := f.Get("code_verifier")
	if len(verifier) < 43 || len(verifier) > 128 {
		return nil, invalidGrant("code_verifier is required (PKCE, 43 to 128 characters)")
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(b64(sum[:])), []byte(ar.codeChallenge)) != 1 {
		return nil, invalidGrant("code_verifier does not match the code_challenge")
	}
	jkt := ""
	if proof != nil {
		jkt = proof.JKT
	}
	if ar.dpopJKT != "" && ar.dpopJKT != jkt {
		return nil, invalidGrant("the DPoP key is not the one the authorization request was bound to")
	}
	now := p.now()
	g := &identity.Grant{
		ClientID: c.ID, NationalNumber: ce.nn, Sub: ce.sub, Scopes: ar.scopes, Claims: ar.claims,
		ACR: ce.acr, AMR: ce.amr, AuthTime: ce.authTime, SessionID: ce.sid, JKT: jkt,
		Expires: now.Add(p.rtTTL),
	}
	g.ID = identity.NewID()
	rt, h := newRefreshToken(g.ID)
	g.RefreshHash, g.RefreshExpires = h, g.Expires
	// Sign first: when the key store does not answer, nothing is stored
	// and the code stays usable for a retry. A concurrent second use waits
	// on ce.mu, then finds the code spent.
	resp, err := p.issue(g, c, ar.nonce, proof != nil)
	if err != nil {
		return nil, err
	}
	if err := p.reg.PutGrant(r.Context(), g); err != nil {
		return nil, err
	}
	ce.used, ce.grantID = true, g.ID
	resp["refresh_token"] = rt
	p.event("token.issue", "grant_type", "authorization_code", "subject", p.reg.Ref(ce.nn), "client", c.ID, "acr", g.ACR, "grant", g.ID, "dpop", jkt != "", "result", "ok", "source", source(r))
	return resp, nil
}

func (p *Provider) refreshGrant(r *http.Request, c *identity.Client, proof *dpop.Proof) (map[string]any, error) {
	rt := r.PostForm.Get("refresh_token")
	gid, _, ok := strings.Cut(rt, ".")
	if !ok || len(gid) != 32 {
		return nil, invalidGrant("malformed refresh token")
	}
	h := sha256.Sum256([]byte(rt))
	now := p.now()
	var newRT string
	var g identity.Grant
	var replayed bool
	err := p.reg.UpdateGrant(r.Context(), gid, func(s *identity.Grant) error {
		switch {
		case s.ClientID != c.ID:
			return invalidGrant("the refresh token was issued to another client")
		case s.Revoked:
			return invalidGrant("the grant was revoked (%s)", s.RevokedReason)
		case subtle.ConstantTimeCompare(h[:], s.PrevRefreshHash) == 1:
			// A rotated-out token came back: someone else holds a copy.
			s.Revoked, s.RevokedReason = true, "refresh token replayed"
			replayed = true
			return nil
		case subtle.ConstantTimeCompare(h[:], s.RefreshHash) != 1:
			return invalidGrant("unknown refresh token")
		case now.After(s.RefreshExpires):
			return invalidGrant("the refresh token expired; log in again")
		}
		if s.JKT != "" {
			if proof == nil || proof.JKT != s.JKT {
				return invalidGrant("the refresh token is bound to another DPoP key")
			}
		}
		newRT, s.RefreshHash = newRefreshToken(s.ID)
		s.PrevRefreshHash = h[:]
		s.RefreshExpires = now.Add(p.rtTTL)
		s.Expires = s.RefreshExpires
		g = *s
		return nil
	})
	if errors.Is(err, identity.ErrNotFound) {
		return nil, invalidGrant("unknown refresh token")
	}
	if err != nil {
		return nil, err
	}
	if replayed {
		p.event("token.replay", "grant_type", "refresh_token", "client", c.ID, "grant", gid, "source", source(r))
		return nil, invalidGrant("the refresh token was already used; the grant is revoked")
	}
	resp, err := p.issue(&g, c, "", proof != nil)
	if err != nil {
		return nil, err
	}
	delete(resp, "id_token")
	resp["refresh_token"] = newRT
	p.event("token.issue", "grant_type", "refresh_token", "subject", p.reg.Ref(g.NationalNumber), "client", c.ID, "acr", g.ACR, "grant", g.ID, "result", "ok", "source", source(r))
	return resp, nil
}

// newRefreshToken returns a refresh token of a grant and its hash.
func newRefreshToken(grantID string) (string, []byte) {
	rt := grantID + "." + randomToken(32)
	h := sha256.Sum256([]byte(rt))
	return rt, h[:]
}

// accessClaims are the claims of an access token (RFC 9068).
type accessClaims struct {
	Iss      string         `json:"iss"`
	Sub      string         `json:"sub"`
	Aud      string         `json:"aud"`
	ClientID string         `json:"client_id"`
	Exp      int64          `json:"exp"`
	Iat      int64          `json:"iat"`
	Jti      string         `json:"jti"`
	Scope    string         `json:"scope"`
	ACR      string         `json:"acr"`
	AuthTime int64          `json:"auth_time"`
	Grant    string         `json:"gid"`
	Cnf      map[string]any `json:"cnf,omitempty"`
}

// issue signs the access token and the id_token of a grant.
func (p *Provider) issue(g *identity.Grant, c *identity.Client, nonce string, dpopBound bool) (map[string]any, error) {
	now := p.now()
	ac := accessClaims{
		Iss: p.cfg.Issuer, Sub: g.Sub, Aud: p.cfg.Issuer, ClientID: c.ID,
		Exp: now.Add(p.atTTL).Unix(), Iat: now.Unix(), Jti: randomToken(16),
		Scope: strings.Join(g.Scopes, " "), ACR: g.ACR, AuthTime: g.AuthTime.Unix(), Grant: g.ID,
	}
	tokenType := "Bearer"
	if g.JKT != "" {
		ac.Cnf = map[string]any{"jkt": g.JKT}
		tokenType = "DPoP"
	}
	at, err := p.sign(ac, "at+jwt")
	if err != nil {
		return nil, err
	}
	ath := sha256.Sum256([]byte(at))
	id := map[string]any{
		"iss": p.cfg.Issuer, "sub": g.Sub, "aud": c.ID, "exp": now.Add(p.idTTL).Unix(), "iat": now.Unix(),
		"auth_time": g.AuthTime.Unix(), "acr": g.ACR, "amr": g.AMR, "at_hash": b64(ath[:16]), "jti": randomToken(16),
	}
	if nonce != "" {
		id["nonce"] = nonce
	}
	if g.SessionID != "" {
		id["sid"] = g.SessionID
	}
	idt, err := p.sign(id, "JWT")
	if err != nil {
		return nil, err
	}
	if c.IDTokenEncAlg != "" {
		if idt, err = p.encryptFor(c, idt, c.IDTokenEncAlg, c.IDTokenEncEnc); err != nil {
			return nil, err
		}
	}
	resp := map[string]any{
		"access_token": at, "token_type": tokenType, "expires_in": int(p.atTTL.Seconds()),
		"id_token": idt, "scope": ac.Scope,
	}
	return resp, nil
}

// encryptFor encrypts a signed token to the client's key for alg.
func (p *Provider) encryptFor(c *identity.Client, token, alg, enc string) (string, error) {
	set, err := p.clientKeys(context.Background(), c)
	if err != nil {
		return "", serverBusy("the client's encryption keys cannot be read: %v", err)
	}
	k, err := jwt.ChooseEncKey(set, jose.KeyAlgorithm(alg))
	if err != nil {
		return "", invalidClient("the client has no key for %s: %v", alg, err)
	}
	out, err := jwt.Encrypt(token, k, jose.KeyAlgorithm(alg), jose.ContentEncryption(enc))
	if err != nil {
		return "", serverBusy("encrypting the token failed: %v", err)
	}
	return out, nil
}

// revokeGrant revokes a grant: its refresh token stops working at once, its
// access tokens at userinfo.
func (p *Provider) revokeGrant(ctx context.Context, id, reason string) {
	err := p.reg.UpdateGrant(ctx, id, func(g *identity.Grant) error {
		g.Revoked, g.RevokedReason = true, reason
		return nil
	})
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		p.log.Error("identity: revoking a grant", "grant", id, "err", err)
	}
	p.event("grant.revoke", "grant", id, "reason", reason)
}

// dummyHash is verified against when there is no resident or no password,
// with the same parameters as real hashes.
var dummyHash = sync.OnceValue(func() string {
	h, err := password.Hash("coffre dummy password, never valid", password.DefaultParams())
	if err != nil {
		panic(err)
	}
	return h
})

// IDToken is a checked id_token of this provider.
type IDToken struct {
	Subject, Client, JTI, ACR string
	Expires, AuthTime         time.Time
	// NationalNumber is the resident behind the pairwise subject.
	NationalNumber string
}

// Errors of VerifyIDToken, wrapped with the reason and tested with
// errors.Is. Any other error (the register unavailable) is the provider's,
// not the token's.
var (
	// ErrIDTokenInvalid: not an id_token of this provider (another issuer,
	// a key it does not publish, a bad signature, garbage), or one whose
	// subject the register does not know.
	ErrIDTokenInvalid = errors.New("not an id_token of this provider")
	// ErrIDTokenExpired: an id_token of this provider past its exp.
	ErrIDTokenExpired = errors.New("the id_token expired")
)

// VerifyIDToken checks an id_token this provider issued (its signed form:
// a client that receives encrypted id_tokens decrypts them first): the
// signature by a published key, the issuer and the expiry; it finds the
// resident behind the subject. S3 STS exchanges such tokens for
// credentials (identity/sts).
func (p *Provider) VerifyIDToken(ctx context.Context, tok string) (*IDToken, error) {
	if len(tok) > 16384 {
		return nil, fmt.Errorf("%w: the token is too long", ErrIDTokenInvalid)
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: not a signed JWT (an encrypted id_token must be decrypted first)", ErrIDTokenInvalid)
	}
	key := p.verifyKey(jws.Signatures[0].Header.KeyID)
	if key == nil {
		return nil, fmt.Errorf("%w: signed by a key this provider does not publish", ErrIDTokenInvalid)
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, fmt.Errorf("%w: the signature does not verify", ErrIDTokenInvalid)
	}
	var c struct {
		Iss      string `json:"iss"`
		Sub      string `json:"sub"`
		Aud      string `json:"aud"`
		Exp      int64  `json:"exp"`
		AuthTime int64  `json:"auth_time"`
		ACR      string `json:"acr"`
		JTI      string `json:"jti"`
		AtHash   string `json:"at_hash"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Iss != p.cfg.Issuer || c.Sub == "" || c.Aud == "" || c.AtHash == "" {
		return nil, fmt.Errorf("%w: its claims are not those of an id_token of %s", ErrIDTokenInvalid, p.cfg.Issuer)
	}
	exp := time.Unix(c.Exp, 0)
	if p.now().After(exp) {
		return nil, fmt.Errorf("%w at %s", ErrIDTokenExpired, exp.UTC().Format(time.RFC3339))
	}
	nn, err := p.reg.SubjectOf(ctx, c.Sub)
	if errors.Is(err, identity.ErrNotFound) {
		return nil, fmt.Errorf("%w: the register knows no resident of this subject", ErrIDTokenInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("finding the resident of an id_token: %w", err)
	}
	return &IDToken{Subject: c.Sub, Client: c.Aud, JTI: c.JTI, ACR: c.ACR, Expires: exp, AuthTime: time.Unix(c.AuthTime, 0), NationalNumber: nn}, nil
}
