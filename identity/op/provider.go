package op

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/clientauth"
	"github.com/coffre-cloud/coffre/identity/dpop"
	"github.com/coffre-cloud/coffre/identity/jwt"
	"github.com/coffre-cloud/coffre/identity/password"
	"github.com/coffre-cloud/coffre/identity/replay"
	"github.com/coffre-cloud/coffre/identity/webeid"
	"github.com/coffre-cloud/coffre/keys"
)

// Lifetimes. Codes live at most 60 s (FAPI 2.0); access tokens are short,
// refresh tokens rotate at each use.
const (
	requestURITTL    = 90 * time.Second
	codeTTL          = 60 * time.Second
	interactionTTL   = 15 * time.Minute
	defaultATTTL     = 5 * time.Minute
	defaultIDTTL     = 5 * time.Minute
	defaultRTTTL     = 30 * 24 * time.Hour
	defaultSession   = 8 * time.Hour
	keyRetention     = time.Hour // a retired key stays published this long after the longest token lifetime
	requestURIScheme = "urn:ietf:params:oauth:request_uri:"
)

// Config is what a Provider is built from.
type Config struct {
	// Issuer is the provider's identifier and base URL, e.g.
	// http://127.0.0.1:9100 (plain http on loopback only).
	Issuer   string
	Register *identity.Register
	// Keys holds the token-signing keys and the pairwise-subject key.
	Keys keys.Store
	// Card checks ID-card logins (eidas3); nil: no card login, and the
	// login page does not offer it. Its Origin must be the issuer's origin
	// (scheme://host[:port], as the browser shows it) or empty, which New
	// reads as the issuer's: the card signs the origin of the page it logs
	// in from, and that page is the provider's.
	Card *webeid.Validator
	// CardReaderScript is the URL of a script that stands in for the Web
	// eID browser extension on the login page: the page loads it just
	// before card.js, whose window.postMessage protocol it must answer as
	// the extension does (ui/static/card.js describes it). "" in
	// production, where the resident's own extension, application and
	// card reader answer. Only the demo of the embedded default sets it
	// (identity/demo: a demo card reader for demo cards, which must never
	// be trusted outside a demo). It needs Card, and must be on the
	// issuer's origin: the page's CSP allows scripts from 'self' only.
	CardReaderScript string
	// CardCountry is the country (ISO 3166-1 alpha-2) of the national
	// numbers in the register: a card certificate must name its holder as
	// PNO<CardCountry>-<the register's national number>. Empty: "MC".
	CardCountry string
	// Logger receives the structured events (authentication, consent,
	// issuance, refusals) and operational messages.
	Logger *slog.Logger
	Now    func() time.Time
	// Lifetimes; zero: the defaults above.
	AccessTokenTTL, IDTokenTTL, RefreshTokenTTL, SessionTTL time.Duration
	// PasswordLimiter bounds concurrent argon2id work; nil: 2 at a time
	// with password.DefaultParams.
	PasswordLimiter *password.Limiter
	// DPoPNonces makes DPoP proofs carry a server nonce (use_dpop_nonce);
	// nil: a fresh nonce source with a 5-minute lifetime.
	DPoPNonces *dpop.Nonces
	// HTTPClient fetches clients' jwks_uri; nil: a client with a 10 s
	// timeout.
	HTTPClient *http.Client
}

// Provider serves the OpenID Connect endpoints.
type Provider struct {
	cfg      Config
	issuer   *url.URL
	secure   bool // cookies Secure: the issuer is https
	reg      *identity.Register
	log      *slog.Logger
	now      func() time.Time
	atTTL    time.Duration
	idTTL    time.Duration
	rtTTL    time.Duration
	sessTTL  time.Duration
	pw       *password.Limiter
	dpop     *dpop.Verifier
	nonces   *dpop.Nonces
	clientAV *clientauth.Verifier
	keySets  *jwt.KeySetSource
	limits   *limiter

	// The ID-card login (card.go): nil card when it is off.
	card        *webeid.Validator
	challenges  *webeid.Challenges
	cardCountry string

	// webauthn is the relying party of the passkey steps (passkey.go); nil
	// when the issuer's host is an IP address, which WebAuthn refuses.
	webauthn *webauthn.WebAuthn

	requests     *ttlMap[*authRequest]
	interactions *ttlMap[*interaction]
	codes        *ttlMap[*codeEntry]
	sessions     *ttlMap[*session]
	logouts      *ttlMap[*logoutRequest]

	keysMu  sync.RWMutex
	signer  *jwt.Signer
	current string // kid of signer
	public  []publishedKey
	pubJWKS []byte
	keysAt  time.Time
}

type publishedKey struct {
	kid     string
	key     *ecdsa.PublicKey
	retired time.Time
}

// New checks the configuration and builds a provider. It loads (or makes,
// on first start) the signing key from the key store: without it nothing
// can be issued, and New fails.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	iss, err := url.Parse(cfg.Issuer)
	if err != nil || iss.Host == "" || iss.RawQuery != "" || iss.Fragment != "" || strings.HasSuffix(cfg.Issuer, "/") {
		return nil, fmt.Errorf("identity: issuer %q: want an absolute URL without query, fragment or trailing slash", cfg.Issuer)
	}
	switch {
	case iss.Scheme == "https":
	case iss.Scheme == "http" && identity.IsLoopbackHost(iss.Hostname()):
	default:
		return nil, fmt.Errorf("identity: issuer %q: https is required (plain http only on a loopback address)", cfg.Issuer)
	}
	if cfg.Register == nil || cfg.Keys == nil {
		return nil, errors.New("identity: the provider needs the register and the key store")
	}
	p := &Provider{
		cfg: cfg, issuer: iss, secure: iss.Scheme == "https", reg: cfg.Register,
		log: cfg.Logger, now: cfg.Now,
		atTTL: or(cfg.AccessTokenTTL, defaultATTTL), idTTL: or(cfg.IDTokenTTL, defaultIDTTL),
		rtTTL: or(cfg.RefreshTokenTTL, defaultRTTTL), sessTTL: or(cfg.SessionTTL, defaultSession),
		pw: cfg.PasswordLimiter, nonces: cfg.DPoPNonces,
		requests:     newTTLMap[*authRequest](100_000),
		interactions: newTTLMap[*interaction](100_000),
		codes:        newTTLMap[*codeEntry](100_000),
		sessions:     newTTLMap[*session](1_000_000),
		logouts:      newTTLMap[*logoutRequest](100_000),
		limits:       newLimiter(),
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.pw == nil {
		if p.pw, err = password.NewLimiter(2, password.DefaultParams()); err != nil {
			return nil, err
		}
	}
	if p.nonces == nil {
		p.nonces = dpop.NewNonces(5 * time.Minute)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	p.keySets = jwt.NewKeySetSource(hc)
	// Replay sets: a proof's jti is kept about 70 s, an assertion's until
	// its exp (openid-client: 60 s): 300,000 entries each hold ~4,000
	// requests/s, ~40 MB when full; full, they refuse (503) rather than
	// forget.
	p.dpop = &dpop.Verifier{Replay: replay.New(300_000), Nonces: p.nonces, Now: p.now}
	// FAPI 2.0 §5.3.2.1: the issuer identifier is the only audience of a
	// client assertion (endpoint URLs reopen audience injection).
	p.clientAV = &clientauth.Verifier{Audiences: []string{cfg.Issuer}, StrictAudience: true, Replay: replay.New(300_000), Now: p.now}
	if err := p.setupCard(); err != nil {
		return nil, err
	}
	if err := checkCardReaderScript(cfg, iss); err != nil {
		return nil, err
	}
	if wa, err := newWebAuthn(iss); err == nil {
		p.webauthn = wa
	} else {
		p.log.Warn("identity: passkeys are off: WebAuthn needs the issuer's host to be a domain name (use http://localhost:port rather than 127.0.0.1 for local runs)", "issuer", cfg.Issuer, "err", err)
	}
	if err := p.loadKeys(ctx); err != nil {
		return nil, err
	}
	if err := cfg.Keys.CreateMACKey(ctx, pairwiseKey); err != nil && !errors.Is(err, keys.ErrExist) {
		return nil, fmt.Errorf("identity: the pairwise subject key: %w", err)
	}
	return p, nil
}

// checkCardReaderScript checks Config.CardReaderScript: empty, or an
// absolute URL on the issuer's origin, with the card login on.
func checkCardReaderScript(cfg Config, iss *url.URL) error {
	s := cfg.CardReaderScript
	if s == "" {
		return nil
	}
	if cfg.Card == nil {
		return fmt.Errorf("identity: Config.CardReaderScript %q is set but the card login is off (Config.Card is nil)", s)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || webOrigin(u) != webOrigin(iss) {
		return fmt.Errorf("identity: Config.CardReaderScript %q: want an absolute URL on the issuer's origin %s (the login page's CSP allows scripts from 'self' only)", s, webOrigin(iss))
	}
	return nil
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// The endpoints, under the issuer's path.
const (
	pathDiscovery = "/.well-known/openid-configuration"
	pathJWKS      = "/jwks"
	pathPAR       = "/par"
	pathAuthorize = "/authorize"
	pathToken     = "/token"
	pathUserinfo  = "/userinfo"
	pathLogout    = "/logout"
	pathLogin     = "/login/"
	pathStatic    = "/static/"
)

// Handler returns the provider's HTTP handler.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	base := strings.TrimSuffix(p.issuer.Path, "/")
	mux.HandleFunc("GET "+base+pathDiscovery, p.discovery)
	mux.HandleFunc("GET "+base+pathJWKS, p.jwks)
	mux.HandleFunc("POST "+base+pathPAR, p.par)
	mux.HandleFunc(base+pathAuthorize, p.authorize)
	mux.HandleFunc("POST "+base+pathToken, p.token)
	mux.HandleFunc(base+pathUserinfo, p.userinfo)
	mux.HandleFunc(base+pathLogout, p.logout)
	mux.Handle(base+pathLogin, http.StripPrefix(base+pathLogin, http.HandlerFunc(p.login)))
	mux.Handle(base+pathStatic, http.StripPrefix(base+pathStatic, staticHandler()))
	mux.HandleFunc(base+"/{$}", p.home)
	return securityHeaders(mux)
}

// securityHeaders sets what every answer carries; pages set their own CSP.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

func (p *Provider) url(path string) string { return p.cfg.Issuer + path }

var acrLevels = []string{"eidas1", "eidas2", "eidas3"}

// acrSupported returns the levels this provider can reach: eidas3 needs
// the card login.
func (p *Provider) acrSupported() []string {
	if p.card == nil {
		return acrLevels[:2]
	}
	return acrLevels
}

// claimScopes maps each scope to the claims it releases (FranceConnect+
// names one scope per claim; profile, email and phone are OIDC's groups,
// identite_pivot the whole identity pivot).
var claimScopes = map[string][]string{
	"given_name":     {"given_name"},
	"family_name":    {"family_name"},
	"birthdate":      {"birthdate"},
	"gender":         {"gender"},
	"birthplace":     {"birthplace"},
	"birthcountry":   {"birthcountry"},
	"email":          {"email"},
	"phone":          {"phone_number"},
	"profile":        {"given_name", "family_name", "birthdate", "gender"},
	"identite_pivot": {"given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry"},
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	scopes := []string{"openid"}
	for s := range claimScopes {
		scopes = append(scopes, s)
	}
	sortStrings(scopes)
	signing := []string{"ES256", "PS256", "EdDSA"}
	doc := map[string]any{
		"issuer":                                           p.cfg.Issuer,
		"authorization_endpoint":                           p.url(pathAuthorize),
		"pushed_authorization_request_endpoint":            p.url(pathPAR),
		"require_pushed_authorization_requests":            true,
		"token_endpoint":                                   p.url(pathToken),
		"userinfo_endpoint":                                p.url(pathUserinfo),
		"jwks_uri":                                         p.url(pathJWKS),
		"end_session_endpoint":                             p.url(pathLogout),
		"scopes_supported":                                 scopes,
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query"},
		"grant_types_supported":                            []string{"authorization_code", "refresh_token"},
		"subject_types_supported":                          []string{"pairwise"},
		"acr_values_supported":                             acrLevels,
		"claims_supported":                                 []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry", "email", "phone_number"},
		"claims_parameter_supported":                       false,
		"request_parameter_supported":                      false,
		"request_uri_parameter_supported":                  false,
		"code_challenge_methods_supported":                 []string{"S256"},
		"token_endpoint_auth_methods_supported":            []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": signing,
		"dpop_signing_alg_values_supported":                []string{"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"},
		"id_token_signing_alg_values_supported":            []string{"ES256"},
		"id_token_encryption_alg_values_supported":         encAlgs,
		"id_token_encryption_enc_values_supported":         encEncs,
		"userinfo_signing_alg_values_supported":            []string{"ES256"},
		"userinfo_encryption_alg_values_supported":         encAlgs,
		"userinfo_encryption_enc_values_supported":         encEncs,
		"authorization_response_iss_parameter_supported":   true,
		"ui_locales_supported":                             []string{"fr", "en"},
		"service_documentation":                            p.url("/"),
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSONBody(w, doc)
}

// The JWE algorithms the provider encrypts to clients with.
var (
	encAlgs = []string{string(jose.ECDH_ES), string(jose.ECDH_ES_A256KW), string(jose.RSA_OAEP_256)}
	encEncs = []string{string(jose.A256GCM), string(jose.A128GCM)}
)

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.keysMu.RLock()
	body := p.pubJWKS
	p.keysMu.RUnlock()
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(body)
}

// loadKeys reads the signing keys from the register and the key store,
// making the first one when there is none.
func (p *Provider) loadKeys(ctx context.Context) error {
	ks, err := p.reg.SigningKeys(ctx)
	if err != nil {
		return err
	}
	if len(ks) == 0 {
		if _, err := p.RotateSigningKey(ctx); err != nil {
			return err
		}
		return nil
	}
	return p.installKeys(ctx, ks)
}

// RotateSigningKey makes a new signing key in the key store and signs with
// it from now on; the previous keys stay published in the JWKS until every
// token they signed has expired. It returns the new key's kid.
func (p *Provider) RotateSigningKey(ctx context.Context) (string, error) {
	now := p.now().UTC()
	name := fmt.Sprintf("identity-sign-%d", now.UnixNano())
	pub, err := p.cfg.Keys.CreateSigningKey(ctx, name)
	if err != nil {
		return "", fmt.Errorf("identity: creating a signing key in the key store: %w", err)
	}
	kid, err := jwt.Thumbprint(pub)
	if err != nil {
		return "", err
	}
	if err := p.reg.AddSigningKey(ctx, identity.SigningKey{Name: name, KID: kid, Created: now}); err != nil {
		return "", err
	}
	ks, err := p.reg.SigningKeys(ctx)
	if err != nil {
		return "", err
	}
	if err := p.installKeys(ctx, ks); err != nil {
		return "", err
	}
	p.event("keys.rotate", "kid", kid)
	return kid, nil
}

// installKeys makes the current key the signer and publishes the others
// that may still verify live tokens.
func (p *Provider) installKeys(ctx context.Context, ks []identity.SigningKey) error {
	now := p.now()
	longest := max(p.atTTL, p.idTTL) + keyRetention
	var pubs []publishedKey
	var cur *identity.SigningKey
	for i := range ks {
		k := &ks[i]
		if k.Retired.IsZero() {
			cur = k
		} else if now.Sub(k.Retired) > longest {
			continue
		}
		s, err := p.cfg.Keys.Signer(ctx, k.Name)
		if err != nil {
			if k.Retired.IsZero() {
				return fmt.Errorf("identity: signing key %s: %w", k.KID, err)
			}
			continue
		}
		pub, ok := s.Public().(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("identity: signing key %s is not ECDSA", k.KID)
		}
		pubs = append(pubs, publishedKey{kid: k.KID, key: pub, retired: k.Retired})
	}
	if cur == nil {
		return errors.New("identity: no current signing key in the register")
	}
	signer, err := jwt.NewSigner(ctx, p.cfg.Keys, cur.Name, cur.KID)
	if err != nil {
		return fmt.Errorf("identity: signing key %s: %w", cur.KID, err)
	}
	var jwks []jwt.PublicKey
	for _, k := range pubs {
		pk, err := jwt.NewPublicKey(k.kid, k.key)
		if err != nil {
			return err
		}
		jwks = append(jwks, pk)
	}
	body, err := marshalJSON(jwt.PublicJWKS(jwks...))
	if err != nil {
		return err
	}
	p.keysMu.Lock()
	p.signer, p.current, p.public, p.pubJWKS, p.keysAt = signer, cur.KID, pubs, body, now
	p.keysMu.Unlock()
	return nil
}

// verifyKey returns the published key of a kid.
func (p *Provider) verifyKey(kid string) *ecdsa.PublicKey {
	p.keysMu.RLock()
	defer p.keysMu.RUnlock()
	for _, k := range p.public {
		if k.kid == kid {
			return k.key
		}
	}
	return nil
}

// sign signs claims with the current key.
func (p *Provider) sign(claims any, typ string) (string, error) {
	p.keysMu.RLock()
	s := p.signer
	p.keysMu.RUnlock()
	tok, err := s.Sign(claims, typ)
	if err != nil {
		p.log.Error("identity: signing refused by the key store: nothing is issued", "err", err)
		return "", serverBusy("the key store does not sign now; nothing was issued, try again later")
	}
	return tok, nil
}

// event logs one structured event of the identity provider, with the
// fields the audit log records.
func (p *Provider) event(name string, args ...any) {
	p.log.LogAttrs(context.Background(), slog.LevelInfo, "identity event",
		append([]slog.Attr{slog.String("event", name), slog.Time("time", p.now().UTC())}, argsToAttrs(args)...)...)
}

func argsToAttrs(args []any) []slog.Attr {
	var as []slog.Attr
	for i := 0; i+1 < len(args); i += 2 {
		k, _ := args[i].(string)
		as = append(as, slog.Any(k, args[i+1]))
	}
	return as
}
