// Package rp is a small OpenID Connect relying party for Coffre's provider,
// speaking its strict profile (FAPI 2.0: PAR, private_key_jwt, DPoP, PKCE;
// encrypted id_token). `coffre serve` runs it as the demo service of the
// README tour, and Go tests drive the provider with it. The independent
// check of the provider is another RP (openid-client, in tests/identity).
package rp

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/coffre-cloud/coffre/identity/jwt"
)

// Client is a relying party: its identity at the provider and its keys.
type Client struct {
	Issuer      string
	ID          string
	RedirectURI string
	// SigKey signs the client assertions (private_key_jwt), EncKey
	// receives the encrypted id_token and userinfo, DPoPKey binds the
	// tokens.
	SigKey, EncKey, DPoPKey *ecdsa.PrivateKey
	HTTP                    *http.Client

	mu    sync.Mutex
	meta  map[string]any
	nonce string // the provider's last DPoP nonce
}

// NewKeys makes a client's three keys (ES256 and ECDH-ES on P-256).
func NewKeys() (sig, enc, dpop *ecdsa.PrivateKey, err error) {
	if sig, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return
	}
	if enc, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return
	}
	dpop, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return
}

// JWKS returns the client's public keys, to register at the provider.
func (c *Client) JWKS() []byte {
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: c.SigKey.Public(), KeyID: "sig", Algorithm: string(jose.ES256), Use: "sig"},
		{Key: c.EncKey.Public(), KeyID: "enc", Algorithm: string(jose.ECDH_ES), Use: "enc"},
	}})
	return b
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Discover reads the provider's discovery document.
func (c *Client) Discover(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.Issuer+"/.well-known/openid-configuration", nil)
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	if m["issuer"] != c.Issuer {
		return fmt.Errorf("discovery: issuer %v, want %s", m["issuer"], c.Issuer)
	}
	c.mu.Lock()
	c.meta = m
	c.mu.Unlock()
	return nil
}

// Endpoint returns an endpoint of the discovery document.
func (c *Client) Endpoint(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, _ := c.meta[name].(string)
	return s
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return b64(b)
}

// Assertion is a fresh private_key_jwt client assertion.
func (c *Client) Assertion() (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: c.SigKey, KeyID: "sig"}}, nil)
	if err != nil {
		return "", err
	}
	now := time.Now()
	b, _ := json.Marshal(map[string]any{"iss": c.ID, "sub": c.ID, "aud": c.Issuer, "jti": random(16), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	jws, err := s.Sign(b)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// Proof is a DPoP proof by key for a request, with the provider's nonce
// and, for a protected resource, the access token's hash.
func Proof(key *ecdsa.PrivateKey, method, uri, nonce, accessToken string) (string, error) {
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		return "", err
	}
	claims := map[string]any{"jti": random(16), "htm": method, "htu": uri, "iat": time.Now().Unix()}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if accessToken != "" {
		h := sha256.Sum256([]byte(accessToken))
		claims["ath"] = b64(h[:])
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// Error is an error answer of the provider.
type Error struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("provider answered %d %s: %s", e.Status, e.Code, e.Description)
}

// PostForm posts a form to an endpoint with client authentication and a
// DPoP proof, retrying once with the nonce the provider asks for, and
// decodes the JSON answer into out.
func (c *Client) PostForm(ctx context.Context, endpoint string, form url.Values, out any) error {
	for attempt := 0; ; attempt++ {
		a, err := c.Assertion()
		if err != nil {
			return err
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", a)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		c.mu.Lock()
		nonce := c.nonce
		c.mu.Unlock()
		proof, err := Proof(c.DPoPKey, http.MethodPost, endpoint, nonce, "")
		if err != nil {
			return err
		}
		req.Header.Set("DPoP", proof)
		resp, err := c.http().Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			c.mu.Lock()
			c.nonce = n
			c.mu.Unlock()
		}
		if resp.StatusCode/100 != 2 {
			e := &Error{Status: resp.StatusCode}
			json.Unmarshal(body, e)
			if e.Code == "use_dpop_nonce" && attempt == 0 {
				continue
			}
			return e
		}
		return json.Unmarshal(body, out)
	}
}

// Auth is one authorization under way: what the client keeps between the
// push and the callback.
type Auth struct {
	RequestURI             string
	Verifier, State, Nonce string
	AuthorizationURL       string
}

// Push pushes an authorization request (PAR) for scope and acr values,
// with extra parameters, and returns the browser's authorization URL.
func (c *Client) Push(ctx context.Context, scope, acr string, extra url.Values) (*Auth, error) {
	a := &Auth{Verifier: random(32), State: random(12), Nonce: random(12)}
	ch := sha256.Sum256([]byte(a.Verifier))
	form := url.Values{
		"client_id": {c.ID}, "redirect_uri": {c.RedirectURI}, "response_type": {"code"}, "scope": {scope},
		"state": {a.State}, "nonce": {a.Nonce}, "code_challenge": {b64(ch[:])}, "code_challenge_method": {"S256"},
	}
	if acr != "" {
		form.Set("acr_values", acr)
	}
	for k, v := range extra {
		form[k] = v
	}
	var out struct {
		RequestURI string `json:"request_uri"`
	}
	if err := c.PostForm(ctx, c.Endpoint("pushed_authorization_request_endpoint"), form, &out); err != nil {
		return nil, err
	}
	a.RequestURI = out.RequestURI
	a.AuthorizationURL = c.Endpoint("authorization_endpoint") + "?" + url.Values{"client_id": {c.ID}, "request_uri": {out.RequestURI}}.Encode()
	return a, nil
}

// Tokens is a token response.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

// Callback checks an authorization response (state, iss) and exchanges its
// code.
func (c *Client) Callback(ctx context.Context, a *Auth, q url.Values) (*Tokens, error) {
	if q.Get("state") != a.State {
		return nil, errors.New("authorization response: state does not match")
	}
	if q.Get("iss") != c.Issuer {
		return nil, fmt.Errorf("authorization response: iss %q, want %s (RFC 9207)", q.Get("iss"), c.Issuer)
	}
	if e := q.Get("error"); e != "" {
		return nil, &Error{Code: e, Description: q.Get("error_description")}
	}
	return c.Exchange(ctx, a, q.Get("code"))
}

// Exchange exchanges a code at the token endpoint.
func (c *Client) Exchange(ctx context.Context, a *Auth, code string) (*Tokens, error) {
	var t Tokens
	err := c.PostForm(ctx, c.Endpoint("token_endpoint"), url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.RedirectURI}, "code_verifier": {a.Verifier},
	}, &t)
	return &t, err
}

// Refresh uses a refresh token.
func (c *Client) Refresh(ctx context.Context, rt string) (*Tokens, error) {
	var t Tokens
	err := c.PostForm(ctx, c.Endpoint("token_endpoint"), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &t)
	return &t, err
}

// keySet fetches the provider's JWKS.
func (c *Client) keySet(ctx context.Context) (*jose.JSONWebKeySet, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.Endpoint("jwks_uri"), nil)
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, err
	}
	return &set, nil
}

// IDToken decrypts (when encrypted) and verifies an id_token, checks iss,
// aud, exp and the nonce of a, and returns its claims and the signed inner
// token (for id_token_hint).
func (c *Client) IDToken(ctx context.Context, tok string, a *Auth) (map[string]any, string, error) {
	inner := tok
	if strings.Count(tok, ".") == 4 {
		var err error
		if inner, err = jwt.Decrypt(tok, c.EncKey); err != nil {
			return nil, "", fmt.Errorf("id_token: %w", err)
		}
	}
	set, err := c.keySet(ctx)
	if err != nil {
		return nil, "", err
	}
	payload, _, err := jwt.Verify(inner, set, jose.ES256)
	if err != nil {
		return nil, "", fmt.Errorf("id_token: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, "", err
	}
	exp, _ := claims["exp"].(float64)
	switch {
	case claims["iss"] != c.Issuer:
		return nil, "", fmt.Errorf("id_token: iss %v", claims["iss"])
	case claims["aud"] != c.ID:
		return nil, "", fmt.Errorf("id_token: aud %v", claims["aud"])
	case time.Now().After(time.Unix(int64(exp), 0)):
		return nil, "", errors.New("id_token: expired")
	case a != nil && claims["nonce"] != a.Nonce:
		return nil, "", errors.New("id_token: nonce does not match")
	}
	return claims, inner, nil
}

// Userinfo calls the userinfo endpoint with a DPoP-bound access token.
func (c *Client) Userinfo(ctx context.Context, at string) (map[string]any, error) {
	endpoint := c.Endpoint("userinfo_endpoint")
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		nonce := c.nonce
		c.mu.Unlock()
		proof, err := Proof(c.DPoPKey, http.MethodGet, endpoint, nonce, at)
		if err != nil {
			return nil, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
		req.Header.Set("Authorization", "DPoP "+at)
		req.Header.Set("DPoP", proof)
		resp, err := c.http().Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			c.mu.Lock()
			c.nonce = n
			c.mu.Unlock()
		}
		if resp.StatusCode != http.StatusOK {
			e := &Error{Status: resp.StatusCode}
			json.Unmarshal(body, e)
			if e.Code == "use_dpop_nonce" && attempt == 0 {
				continue
			}
			return nil, e
		}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/jwt") {
			claims, _, err := c.IDTokenLike(ctx, string(body))
			return claims, err
		}
		var m map[string]any
		return m, json.Unmarshal(body, &m)
	}
}

// IDTokenLike decrypts and verifies a signed (and maybe encrypted) JWT of
// the provider without the id_token checks (a userinfo response).
func (c *Client) IDTokenLike(ctx context.Context, tok string) (map[string]any, string, error) {
	inner := tok
	if strings.Count(tok, ".") == 4 {
		var err error
		if inner, err = jwt.Decrypt(tok, c.EncKey); err != nil {
			return nil, "", err
		}
	}
	set, err := c.keySet(ctx)
	if err != nil {
		return nil, "", err
	}
	payload, _, err := jwt.Verify(inner, set, jose.ES256)
	if err != nil {
		return nil, "", err
	}
	var claims map[string]any
	return claims, inner, json.Unmarshal(payload, &claims)
}

// Thumbprint is the DPoP key's thumbprint (the jkt tokens are bound to).
func (c *Client) Thumbprint() string {
	tp, _ := (&jose.JSONWebKey{Key: c.DPoPKey.Public()}).Thumbprint(crypto.SHA256)
	return b64(tp)
}
