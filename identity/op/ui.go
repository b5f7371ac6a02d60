package op

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed ui/*.html ui/static/*
var uiFS embed.FS

// messages are the pages' words, French first (the residents' language),
// English available.
var messages = map[string]map[string]string{
	"fr": {
		"brand":                 "Identité numérique de l'État",
		"language":              "Langue",
		"footer":                "Service public d'identité numérique. Vos données ne sont transmises qu'avec votre accord.",
		"cancel":                "Annuler et revenir au service",
		"eidas1":                "faible (mot de passe)",
		"eidas2":                "substantiel (mot de passe et second facteur)",
		"eidas3":                "élevé (carte d'identité)",
		"login.title":           "Connexion",
		"login.intro":           "Connectez-vous pour accéder au service",
		"login.level":           "Niveau de sécurité demandé par le service :",
		"login.password.title":  "Avec votre mot de passe",
		"login.username":        "Numéro national d'identification",
		"login.password":        "Mot de passe",
		"login.submit":          "Se connecter",
		"login.card.title":      "Avec votre carte d'identité",
		"login.card.help":       "Insérez votre carte dans le lecteur. L'extension Web eID vous demandera votre code PIN d'authentification.",
		"login.card.submit":     "Se connecter avec la carte",
		"login.card.standin":    "Démonstration : un lecteur de carte de démonstration remplace ici l'extension Web eID et votre carte. Il s'ouvre quand vous cliquez sur le bouton.",
		"login.bad":             "Numéro national ou mot de passe incorrect.",
		"login.locked":          "Trop de tentatives. Par sécurité, la connexion est bloquée jusqu'à %s (heure UTC).",
		"login.expired":         "Cette demande de connexion a expiré ou n'a pas été ouverte dans ce navigateur. Revenez au service pour recommencer.",
		"second.title":          "Second facteur",
		"second.intro":          "Le service demande une vérification supplémentaire.",
		"second.totp.title":     "Code de votre application d'authentification",
		"second.totp.code":      "Code à 6 chiffres",
		"second.totp.submit":    "Valider le code",
		"second.totp.bad":       "Code incorrect ou déjà utilisé.",
		"second.passkey.title":  "Clé d'accès (passkey)",
		"second.passkey.submit": "Utiliser ma clé d'accès",
		"second.passkey.bad":    "La clé d'accès n'a pas été reconnue.",
		"second.none":           "Aucun second facteur n'est enregistré pour votre compte. Connectez-vous avec votre carte d'identité, ou ajoutez un second facteur depuis votre espace.",
		"consent.title":         "Partage de vos données",
		"consent.intro":         "souhaite recevoir les informations suivantes vous concernant :",
		"consent.caption":       "Données transmises au service",
		"consent.data":          "Donnée",
		"consent.value":         "Valeur",
		"consent.nodata":        "Le service ne reçoit qu'un identifiant propre à lui, qui ne permet pas de vous reconnaître auprès d'autres services.",
		"consent.level":         "Niveau de sécurité atteint :",
		"consent.allow":         "Autoriser",
		"consent.deny":          "Refuser",
		"claim.given_name":      "Prénoms",
		"claim.family_name":     "Nom de naissance",
		"claim.birthdate":       "Date de naissance",
		"claim.gender":          "Sexe",
		"claim.birthplace":      "Lieu de naissance",
		"claim.birthcountry":    "Pays de naissance",
		"claim.email":           "Adresse électronique",
		"claim.phone_number":    "Numéro de téléphone",
		"gender.female":         "féminin",
		"gender.male":           "masculin",
		"error.title":           "Demande impossible",
		"error.bad_request":     "Le service vous a envoyé une demande de connexion invalide.",
		"error.bad_method":      "Méthode non prise en charge.",
		"error.not_found":       "Page introuvable.",
		"error.busy":            "Le service d'identité est momentanément indisponible. Réessayez dans quelques instants.",
		"error.technical":       "Détail technique :",
		"logout.title":          "Déconnexion",
		"logout.confirm":        "Voulez-vous vous déconnecter de l'identité numérique ?",
		"logout.button":         "Se déconnecter",
		"logout.done":           "Vous êtes déconnecté.",
		"home.title":            "Identité numérique",
		"home.intro":            "Ce fournisseur d'identité permet aux résidents de se connecter aux services publics et privés, avec leur carte d'identité comme moyen le plus sûr.",
		"home.discovery":        "Configuration OpenID Connect",

		// The ID-card login (card.go, static/card.js).
		"card.off":         "La connexion par carte d'identité n'est pas proposée ici.",
		"card.wait":        "Suivez les instructions de l'application Web eID : carte dans le lecteur, puis code PIN d'authentification.",
		"card.checking":    "Vérification de la carte…",
		"card.noext":       "L'extension Web eID n'est pas installée ou n'est pas activée dans ce navigateur. Installez-la depuis web-eid.eu, puis rechargez cette page.",
		"card.noapp":       "L'application Web eID n'est pas installée ou ne répond pas. Installez-la depuis web-eid.eu, puis réessayez.",
		"card.cancelled":   "Connexion par carte annulée.",
		"card.timeout":     "Le délai est dépassé. Réessayez.",
		"card.insecure":    "La connexion par carte n'est possible que sur une page sécurisée (https).",
		"card.update":      "Mettez à jour l'extension et l'application Web eID, puis réessayez.",
		"card.failed":      "La carte n'a pas pu être lue. Vérifiez qu'elle est bien insérée dans le lecteur, puis réessayez.",
		"card.revoked":     "Cette carte a été révoquée.",
		"card.expired":     "Cette carte a expiré.",
		"card.unavailable": "La vérification de la carte est momentanément impossible.",
		"card.unknown":     "Cette carte n'est associée à aucun compte. Adressez-vous au service qui l'a délivrée.",
		"card.untrusted":   "Cette carte n'a pas été émise par une autorité reconnue.",
		"card.bad":         "La carte n'a pas pu être vérifiée. Réessayez.",
		"card.retry":       "La demande de connexion par carte a expiré ou a déjà servi. Réessayez.",

		// The passkey steps (passkey.go, static/passkey.js).
		"second.passkey.help":        "Votre navigateur vous demandera de déverrouiller votre clé d'accès : empreinte, visage, code de l'appareil ou clé de sécurité.",
		"second.passkey.wait":        "Suivez les instructions de votre navigateur…",
		"second.passkey.cancelled":   "L'opération a été annulée ou le délai est dépassé. Vous pouvez réessayer.",
		"second.passkey.failed":      "La vérification n'a pas abouti. Réessayez dans quelques instants.",
		"second.passkey.unsupported": "Votre navigateur ne permet pas d'utiliser une clé d'accès ici : JavaScript et WebAuthn sont nécessaires. Utilisez un navigateur récent, ou un autre moyen de connexion.",
		"second.passkey.unavailable": "Les clés d'accès ne sont pas disponibles sur ce service d'identité.",
		"second.passkey.none":        "Aucune clé d'accès utilisable n'est enregistrée pour votre compte.",
		"second.passkey.retry":       "Cette vérification a expiré ou a déjà servi. Cliquez à nouveau sur le bouton pour recommencer.",
		"second.passkey.clone":       "Cette clé d'accès est bloquée par sécurité : elle semble avoir été copiée. Contactez le service d'identité pour en enregistrer une nouvelle.",
		"second.enroll.title":        "Activer une clé d'accès",
		"second.enroll.intro":        "Vous avez reçu un code d'activation par courrier. Saisissez-le, puis créez une clé d'accès sur cet appareil : elle sera votre second facteur lors de vos prochaines connexions.",
		"second.enroll.code":         "Code d'activation (10 caractères, par exemple 7KQ2M-XW9DA)",
		"second.enroll.submit":       "Créer ma clé d'accès",
		"second.enroll.bad":          "Code d'activation incorrect, expiré ou déjà utilisé.",
		"second.enroll.failed":       "La clé d'accès n'a pas pu être enregistrée. Réessayez.",
	},
	"en": {
		"brand":                 "State digital identity",
		"language":              "Language",
		"footer":                "Public digital identity service. Your data is shared only with your consent.",
		"cancel":                "Cancel and return to the service",
		"eidas1":                "low (password)",
		"eidas2":                "substantial (password and second factor)",
		"eidas3":                "high (identity card)",
		"login.title":           "Log in",
		"login.intro":           "Log in to access the service",
		"login.level":           "Security level the service asks for:",
		"login.password.title":  "With your password",
		"login.username":        "National identification number",
		"login.password":        "Password",
		"login.submit":          "Log in",
		"login.card.title":      "With your identity card",
		"login.card.help":       "Insert your card in the reader. The Web eID extension will ask for your authentication PIN.",
		"login.card.submit":     "Log in with the card",
		"login.card.standin":    "Demo: a demo card reader stands in here for the Web eID extension and your card. It opens when you click the button.",
		"login.bad":             "Wrong national number or password.",
		"login.locked":          "Too many attempts. For your security, logging in is blocked until %s (UTC).",
		"login.expired":         "This login request expired or was not opened in this browser. Go back to the service to start again.",
		"second.title":          "Second factor",
		"second.intro":          "The service asks for an additional check.",
		"second.totp.title":     "Code from your authenticator app",
		"second.totp.code":      "6-digit code",
		"second.totp.submit":    "Check the code",
		"second.totp.bad":       "Wrong or already used code.",
		"second.passkey.title":  "Passkey",
		"second.passkey.submit": "Use my passkey",
		"second.passkey.bad":    "The passkey was not recognised.",
		"second.none":           "No second factor is registered for your account. Log in with your identity card, or add a second factor from your account.",
		"consent.title":         "Sharing your data",
		"consent.intro":         "would like to receive the following information about you:",
		"consent.caption":       "Data sent to the service",
		"consent.data":          "Data",
		"consent.value":         "Value",
		"consent.nodata":        "The service only receives an identifier of its own, which other services cannot link to you.",
		"consent.level":         "Security level reached:",
		"consent.allow":         "Allow",
		"consent.deny":          "Deny",
		"claim.given_name":      "Given names",
		"claim.family_name":     "Family name",
		"claim.birthdate":       "Date of birth",
		"claim.gender":          "Gender",
		"claim.birthplace":      "Place of birth",
		"claim.birthcountry":    "Country of birth",
		"claim.email":           "Email address",
		"claim.phone_number":    "Phone number",
		"gender.female":         "female",
		"gender.male":           "male",
		"error.title":           "Request refused",
		"error.bad_request":     "The service sent you an invalid login request.",
		"error.bad_method":      "Method not supported.",
		"error.not_found":       "Page not found.",
		"error.busy":            "The identity service is briefly unavailable. Try again in a moment.",
		"error.technical":       "Technical detail:",
		"logout.title":          "Log out",
		"logout.confirm":        "Do you want to log out of the digital identity?",
		"logout.button":         "Log out",
		"logout.done":           "You are logged out.",
		"home.title":            "Digital identity",
		"home.intro":            "This identity provider lets residents log in to public and private services, with their identity card as the strongest means.",
		"home.discovery":        "OpenID Connect configuration",

		// The ID-card login (card.go, static/card.js).
		"card.off":         "Identity card login is not offered here.",
		"card.wait":        "Follow the Web eID application: card in the reader, then your authentication PIN.",
		"card.checking":    "Checking the card…",
		"card.noext":       "The Web eID extension is not installed or not enabled in this browser. Install it from web-eid.eu, then reload this page.",
		"card.noapp":       "The Web eID application is not installed or does not answer. Install it from web-eid.eu, then try again.",
		"card.cancelled":   "Card login cancelled.",
		"card.timeout":     "Time is up. Try again.",
		"card.insecure":    "Card login works only on a secure page (https).",
		"card.update":      "Update the Web eID extension and application, then try again.",
		"card.failed":      "The card could not be read. Check that it is in the reader, then try again.",
		"card.revoked":     "This card has been revoked.",
		"card.expired":     "This card has expired.",
		"card.unavailable": "The card cannot be checked right now.",
		"card.unknown":     "This card is not linked to any account. Contact the office that issued it.",
		"card.untrusted":   "This card was not issued by a recognised authority.",
		"card.bad":         "The card could not be verified. Try again.",
		"card.retry":       "The card login request expired or was already used. Try again.",

		// The passkey steps (passkey.go, static/passkey.js).
		"second.passkey.help":        "Your browser will ask you to unlock your passkey: fingerprint, face, device PIN or security key.",
		"second.passkey.wait":        "Follow your browser's instructions…",
		"second.passkey.cancelled":   "The operation was cancelled or timed out. You can try again.",
		"second.passkey.failed":      "The check did not go through. Try again in a moment.",
		"second.passkey.unsupported": "Your browser cannot use a passkey here: JavaScript and WebAuthn are needed. Use a recent browser, or another way to log in.",
		"second.passkey.unavailable": "Passkeys are not available on this identity service.",
		"second.passkey.none":        "No usable passkey is registered for your account.",
		"second.passkey.retry":       "This check expired or was already used. Click the button again to start over.",
		"second.passkey.clone":       "This passkey is blocked for your security: it seems to have been copied. Contact the identity service to register a new one.",
		"second.enroll.title":        "Activate a passkey",
		"second.enroll.intro":        "You received an activation code by post. Enter it, then create a passkey on this device: it will be your second factor at your next logins.",
		"second.enroll.code":         "Activation code (10 characters, for example 7KQ2M-XW9DA)",
		"second.enroll.submit":       "Create my passkey",
		"second.enroll.bad":          "Wrong, expired or already used activation code.",
		"second.enroll.failed":       "The passkey could not be registered. Try again.",
	},
}

// t returns a message in a language, falling back to French, then to the
// key itself (visible in tests, never empty).
func t(lang, key string) string {
	if m, ok := messages[lang][key]; ok {
		return m
	}
	if m, ok := messages["fr"][key]; ok {
		return m
	}
	return key
}

var pages = template.Must(template.New("").Funcs(template.FuncMap{"t": t}).ParseFS(uiFS, "ui/layout.html"))

// page returns the template set of one page body.
func page(name string) *template.Template {
	return template.Must(template.Must(pages.Clone()).ParseFS(uiFS, "ui/"+name+".html"))
}

var (
	loginPage   = page("login")
	secondPage  = page("second")
	consentPage = page("consent")
	messagePage = page("message")
)

// view is what every page's layout needs; Data carries the page's own.
type view struct {
	Lang, Title, Error string
	Base               string // the issuer's path
	SelfFR, SelfEN     string
	Action             string // the interaction's URL
	CSRF               string
	Client             string
	LevelName          string
	Username           string
	Password, Card     bool
	CardReader         string // Config.CardReaderScript, on pages that offer the card
	TOTP, Passkey      bool
	Enroll             bool // an activation code is pending: offer to enroll a passkey
	Claims             []claimView
	Message            string
	Links              []linkView
	Form               *formView
}

type claimView struct{ Label, Value string }
type linkView struct{ URL, Text string }
type formView struct {
	Action, Button string
	Hidden         map[string]string
}

// lang picks the page language: ?lang=, then the cookie, then the
// client's ui_locales, then French.
func (p *Provider) lang(w http.ResponseWriter, r *http.Request, ia *interaction) string {
	if l := r.URL.Query().Get("lang"); l == "fr" || l == "en" {
		p.setCookie(w, cookieLang, l, "/", 365*24*time.Hour)
		return l
	}
	if c, err := r.Cookie(cookieLang); err == nil && (c.Value == "fr" || c.Value == "en") {
		return c.Value
	}
	if ia != nil && ia.req.locale != "" {
		return ia.req.locale
	}
	return "fr"
}

// render writes a page with its security headers. formTarget is the origin
// a form of the page may end up redirecting to (the client's), which
// Chromium checks against form-action.
func (p *Provider) render(w http.ResponseWriter, r *http.Request, status int, tpl *template.Template, v *view, formTarget string) {
	v.Base = strings.TrimSuffix(p.issuer.Path, "/")
	if v.Card {
		v.CardReader = p.cfg.CardReaderScript
	}
	self := *r.URL
	q := self.Query()
	q.Del("lang")
	q.Set("lang", "fr")
	self.RawQuery = q.Encode()
	v.SelfFR = self.RequestURI()
	q.Set("lang", "en")
	self.RawQuery = q.Encode()
	v.SelfEN = self.RequestURI()
	var buf bytes.Buffer
	if err := tpl.ExecuteTemplate(&buf, "layout", v); err != nil {
		p.log.Error("identity: page template", "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// origin returns the scheme://host of a URL, for CSP.
func origin(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// errorPage shows an error the provider cannot send to a client.
func (p *Provider) errorPage(w http.ResponseWriter, r *http.Request, status int, kind, detail string) {
	lang := p.lang(w, r, nil)
	v := &view{Lang: lang, Title: t(lang, "error.title"), Message: t(lang, "error."+kind)}
	if detail != "" {
		v.Error = t(lang, "error.technical") + " " + detail
	}
	p.render(w, r, status, messagePage, v, "")
}

func (p *Provider) home(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r, nil)
	p.render(w, r, http.StatusOK, messagePage, &view{Lang: lang, Title: t(lang, "home.title"), Message: t(lang, "home.intro"),
		Links: []linkView{{URL: p.url(pathDiscovery), Text: t(lang, "home.discovery")}}}, "")
}

func staticHandler() http.Handler {
	sub, _ := fs.Sub(uiFS, "ui/static")
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}
