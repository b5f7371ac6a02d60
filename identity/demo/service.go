package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/rp"
)

// ClientID is the demo service's client at the provider.
const ClientID = "demo"

// Service is the demo relying party, served under Base on the provider's
// own address (a real service would be elsewhere; the protocol is the
// same).
type Service struct {
	rp    *rp.Client
	base  string // e.g. http://127.0.0.1:9100/demo
	cards *Cards // nil: no demo cards
	mu    sync.Mutex
	auths map[string]*rp.Auth // by the browser's demo cookie
}

// NewService registers the demo client (with fresh keys at each start: it
// keeps no secret on disk) and returns the service. With cards (nil: none),
// it also serves the demo card reader, its signatures and the demo CA's
// CRL (cardreader.go).
func NewService(ctx context.Context, reg *identity.Register, issuer string, cards *Cards) (*Service, error) {
	sig, enc, dp, err := rp.NewKeys()
	if err != nil {
		return nil, err
	}
	base := issuer + "/demo"
	c := &rp.Client{Issuer: issuer, ID: ClientID, RedirectURI: base + "/callback", SigKey: sig, EncKey: enc, DPoPKey: dp,
		HTTP: &http.Client{Timeout: 15 * time.Second}}
	err = reg.PutClient(ctx, &identity.Client{
		ID: ClientID, Name: "Service de démonstration", RedirectURIs: []string{c.RedirectURI},
		PostLogoutRedirectURIs: []string{base + "/"}, JWKS: c.JWKS(), Strict: true,
		IDTokenEncAlg: "ECDH-ES", IDTokenEncEnc: "A256GCM", UserinfoSigned: true, UserinfoEncAlg: "ECDH-ES", UserinfoEncEnc: "A256GCM",
	})
	if err != nil {
		return nil, err
	}
	return &Service{rp: c, base: base, cards: cards, auths: make(map[string]*rp.Auth)}, nil
}

const cookieName = "coffre_demo"

// ServeHTTP serves the demo pages; mount it with http.StripPrefix(base).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Cache-Control", "no-store")
	if s.cards != nil && s.cards.handles(r.URL.Path) {
		s.cards.ServeHTTP(w, r)
		return
	}
	switch r.URL.Path {
	case "/", "":
		s.page(w, http.StatusOK, pageData{})
	case "/login":
		s.login(w, r)
	case "/callback":
		s.callback(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Service) login(w http.ResponseWriter, r *http.Request) {
	acr := r.URL.Query().Get("acr")
	if !slices.Contains([]string{"eidas1", "eidas2", "eidas3"}, acr) {
		acr = "eidas1"
	}
	ctx := r.Context()
	if s.rp.Endpoint("authorization_endpoint") == "" {
		if err := s.rp.Discover(ctx); err != nil {
			s.page(w, http.StatusBadGateway, pageData{Error: err.Error()})
			return
		}
	}
	a, err := s.rp.Push(ctx, "openid identite_pivot email phone", acr, url.Values{"ui_locales": {"fr"}})
	if err != nil {
		s.page(w, http.StatusBadGateway, pageData{Error: err.Error()})
		return
	}
	s.mu.Lock()
	if len(s.auths) > 10000 {
		clear(s.auths)
	}
	s.auths[a.State] = a
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: a.State, Path: "/demo/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 900})
	http.Redirect(w, r, a.AuthorizationURL, http.StatusSeeOther)
}

func (s *Service) callback(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(cookieName)
	s.mu.Lock()
	var a *rp.Auth
	if err == nil {
		a = s.auths[c.Value]
		delete(s.auths, c.Value)
	}
	s.mu.Unlock()
	if a == nil {
		s.page(w, http.StatusBadRequest, pageData{Error: "Aucune connexion en cours dans ce navigateur."})
		return
	}
	ctx := r.Context()
	tok, err := s.rp.Callback(ctx, a, r.URL.Query())
	if err != nil {
		s.page(w, http.StatusOK, pageData{Error: err.Error()})
		return
	}
	claims, hint, err := s.rp.IDToken(ctx, tok.IDToken, a)
	if err != nil {
		s.page(w, http.StatusBadGateway, pageData{Error: err.Error()})
		return
	}
	info, err := s.rp.Userinfo(ctx, tok.AccessToken)
	if err != nil {
		s.page(w, http.StatusBadGateway, pageData{Error: err.Error()})
		return
	}
	idj, _ := json.MarshalIndent(claims, "", "  ")
	uj, _ := json.MarshalIndent(info, "", "  ")
	logout := s.rp.Endpoint("end_session_endpoint") + "?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {s.base + "/"}, "client_id": {ClientID}}.Encode()
	s.page(w, http.StatusOK, pageData{ACR: fmt.Sprint(claims["acr"]), IDToken: string(idj), Userinfo: string(uj), Logout: logout})
}

type pageData struct {
	Error, ACR, IDToken, Userinfo, Logout string
	CardPIN                               string // the demo cards' PIN; empty: no demo cards
}

var tpl = template.Must(template.New("demo").Parse(`<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Service de démonstration</title>
<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;line-height:1.5}a.button{display:inline-block;margin:.3rem .5rem .3rem 0;padding:.5rem 1rem;background:#000091;color:#fff;border-radius:4px;text-decoration:none}pre{background:#f4f4f4;padding:1rem;overflow:auto}.error{color:#b60000}</style></head>
<body><main>
<h1>Service de démonstration</h1>
<p>Un service public fictif qui utilise l'identité numérique. Choisissez le niveau de sécurité demandé :</p>
<p><a class="button" id="login-eidas1" href="login?acr=eidas1">Se connecter (eidas1 : mot de passe)</a>
<a class="button" id="login-eidas2" href="login?acr=eidas2">Se connecter (eidas2 : second facteur)</a>
<a class="button" id="login-eidas3" href="login?acr=eidas3">Se connecter (eidas3 : carte d'identité)</a></p>
{{if .CardPIN}}<p id="demo-cards">Au niveau eidas3, un <strong>lecteur de carte de démonstration</strong> remplace l'extension Web eID et la carte : choisissez une carte de démonstration et saisissez le code PIN <strong>{{.CardPIN}}</strong>. Ces cartes sont fictives, et le service signe à leur place : rien de tel n'existe hors de la démonstration.</p>{{end}}
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{if .ACR}}<h2>Connecté au niveau <span id="acr">{{.ACR}}</span></h2>
<h3>Jeton d'identité (déchiffré et vérifié)</h3><pre id="id-token">{{.IDToken}}</pre>
<h3>Informations reçues (userinfo)</h3><pre id="userinfo">{{.Userinfo}}</pre>
<p><a id="logout" href="{{.Logout}}">Se déconnecter</a></p>{{end}}
</main></body></html>`))

func (s *Service) page(w http.ResponseWriter, status int, d pageData) {
	if s.cards != nil {
		d.CardPIN = CardPIN
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	tpl.Execute(w, d)
}
