package op

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/webeid"
)

// The ID-card login (eidas3), with Web eID (identity/webeid).
//
// The login page's script (ui/static/card.js) asks for a challenge
// (POST /login/{id}/card/challenge, answered {"nonce": "..."}), hands it to
// the Web eID browser extension, which has the card sign it together with
// the page's origin once the resident typed their PIN, and posts the token
// the extension returns, as it is, to POST /login/{id}/card, answered
// {"redirect": consent page} or {"error": message for the resident}. Both
// are JSON steps: the CSRF token travels in the X-CSRF-Token header, which
// login checks before either runs.
//
// The challenge is kept in the interaction, so bound to this browser and
// this authorization request, and taken from there when the token comes
// back, never from the request: a token made for another interaction's
// challenge does not verify here (a forged login, which the Web eID
// format's specification warns of). Taking it spends it, whatever happens
// next: each challenge gives at most one attempt. An interaction holds at
// most one challenge (a new one spends the previous), so the challenge
// store never holds more than there are interactions.
//
// A card is accepted when webeid.Validator says so (chain to the national
// roots, dates, purpose, signature over the issuer's origin and the
// challenge, revocation by OCSP then CRL, failing closed), when the
// register knows it (by the SHA-256 of its certificate) and has not revoked
// it (coffre identity card revoke), and when the certificate names the
// register's holder: PNO<Config.CardCountry>-<national number>. The last
// check is redundant while the register is right; it stops a card that the
// register ties to the wrong person (an import error) from logging in as
// them.
//
// A card login gives eidas3 and satisfies a request at any level. Its
// methods are "sc" (smart card), "pin" and "mfa" (RFC 8176).
//
// Limits: every refusal counts against the source address (the limiter's
// source block stops both steps), except those that are the provider's
// (revocation status or register unavailable); a refusal also counts
// against the account when the card's holder is known, that is when the
// card's signature verified (webeid checks it before revocation) and the
// register knows the card. The account lock itself does not stop a card
// login: it is there against password guessing, and the card guards its
// own PIN (it blocks after a few wrong ones); letting anyone who knows a
// national number lock its holder out of the strongest login would be a
// denial of service. For the same reason a card login does not lift the
// lock either.

// defaultCardCountry is the country of the register's national numbers
// when Config.CardCountry is empty.
const defaultCardCountry = "MC"

// setupCard checks the card configuration and makes the challenge store.
func (p *Provider) setupCard() error {
	p.cardCountry = p.cfg.CardCountry
	if p.cardCountry == "" {
		p.cardCountry = defaultCardCountry
	}
	if len(p.cardCountry) != 2 || !isUpperASCII(p.cardCountry) {
		return fmt.Errorf("identity: Config.CardCountry %q: want an ISO 3166-1 alpha-2 code in capitals, as card certificates write it (PNOMC-...)", p.cfg.CardCountry)
	}
	v := p.cfg.Card
	if v == nil {
		return nil
	}
	want := webOrigin(p.issuer)
	switch {
	case v.Roots == nil:
		return errors.New("identity: Config.Card.Roots is nil: set it to the national root CAs (card certificates are never checked against the system roots)")
	case v.Revocation == nil:
		return errors.New("identity: Config.Card.Revocation is nil: every card would be refused; set it (OCSP, then CRL)")
	case v.Origin != "" && v.Origin != want:
		return fmt.Errorf("identity: Config.Card.Origin %q is not the issuer's origin %q: the card signs the origin of the login page, which is the issuer's (leave Origin empty)", v.Origin, want)
	}
	c := *v // the caller's validator stays as it was given
	c.Origin = want
	if c.Now == nil && p.cfg.Now != nil {
		c.Now = p.cfg.Now
	}
	p.card = &c
	p.challenges = webeid.NewChallenges(0, 0)
	return nil
}

func isUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// webOrigin returns the origin of a URL as a browser's location.origin
// writes it: scheme://host[:port], host in lower case, no default port.
func webOrigin(u *url.URL) string {
	host := strings.ToLower(u.Host)
	switch {
	case u.Scheme == "https":
		host = strings.TrimSuffix(host, ":443")
	case u.Scheme == "http":
		host = strings.TrimSuffix(host, ":80")
	}
	return u.Scheme + "://" + host
}

// cardAnswer is the body of the card steps' answers: one of its fields.
type cardAnswer struct {
	Nonce    string `json:"nonce,omitempty"`
	Redirect string `json:"redirect,omitempty"`
	Error    string `json:"error,omitempty"`
}

// cardRefusal is why a card step refuses: the status, the reason of the
// event (which check failed) and the message key.
type cardRefusal struct {
	status      int
	reason, key string
}

// webeidRefusals maps the kinds of webeid's errors to what the resident is
// told. ErrRevocationUnavailable is the provider's failure, not theirs:
// 503, which the limiter does not count.
var webeidRefusals = []struct {
	kind error
	cardRefusal
}{
	{webeid.ErrFormat, cardRefusal{http.StatusBadRequest, "format", "card.bad"}},
	{webeid.ErrNonce, cardRefusal{http.StatusBadRequest, "nonce", "card.retry"}},
	{webeid.ErrCertExpired, cardRefusal{http.StatusUnauthorized, "expired", "card.expired"}},
	{webeid.ErrCertPurpose, cardRefusal{http.StatusUnauthorized, "purpose", "card.bad"}},
	{webeid.ErrUntrusted, cardRefusal{http.StatusUnauthorized, "untrusted", "card.untrusted"}},
	{webeid.ErrSignature, cardRefusal{http.StatusUnauthorized, "signature", "card.bad"}},
	{webeid.ErrRevoked, cardRefusal{http.StatusUnauthorized, "revoked-ca", "card.revoked"}},
	{webeid.ErrRevocationUnavailable, cardRefusal{http.StatusServiceUnavailable, "revocation-unavailable", "card.unavailable"}},
}

// refusalOf returns the refusal of a webeid error; an error of no known
// kind is the provider's (a configuration webeid refuses): 503.
func refusalOf(err error) cardRefusal {
	for _, r := range webeidRefusals {
		if errors.Is(err, r.kind) {
			return r.cardRefusal
		}
	}
	return cardRefusal{http.StatusServiceUnavailable, "error", "error.busy"}
}

// cardOff answers a card step when the card login is off.
func (p *Provider) cardOff(w http.ResponseWriter, lang string) {
	writeJSON(w, http.StatusNotFound, cardAnswer{Error: t(lang, "card.off")})
}

// cardLocked answers a card step from a blocked source, true if it did.
func (p *Provider) cardLocked(w http.ResponseWriter, r *http.Request, ia *interaction, lang string) bool {
	src := source(r)
	blocked, until := p.limits.blocked("", src, p.now())
	if !blocked {
		return false
	}
	p.event("authn", "method", "sc", "subject", "", "client", ia.req.client.ID, "result", "locked", "reason", "source-blocked", "source", src)
	w.Header().Set("Retry-After", fmt.Sprint(max(1, int(until.Sub(p.now()).Seconds()))))
	writeJSON(w, http.StatusTooManyRequests, cardAnswer{Error: fmt.Sprintf(t(lang, "login.locked"), until.UTC().Format("15:04"))})
	return true
}

// cardChallenge issues a challenge for the card to sign and keeps it in
// the interaction: POST /login/{id}/card/challenge → {"nonce": "..."}.
func (p *Provider) cardChallenge(w http.ResponseWriter, r *http.Request, ia *interaction) {
	lang := p.lang(w, r, ia)
	if p.card == nil {
		p.cardOff(w, lang)
		return
	}
	if p.cardLocked(w, r, ia, lang) {
		return
	}
	nonce, err := p.challenges.New()
	if err != nil {
		p.log.Error("identity: card challenge", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, cardAnswer{Error: t(lang, "error.busy")})
		return
	}
	var previous string
	ok := p.changeInteraction(ia.id, p.now(), func(x *interaction) {
		previous, x.cardNonce = x.cardNonce, nonce
	})
	if previous != "" {
		p.challenges.Consume(previous) // one challenge per interaction
	}
	if !ok {
		p.challenges.Consume(nonce)
		writeJSON(w, http.StatusBadRequest, cardAnswer{Error: t(lang, "login.expired")})
		return
	}
	writeJSON(w, http.StatusOK, cardAnswer{Nonce: nonce})
}

// cardStep checks the Web eID token the card made for the interaction's
// challenge and, if the card is good and registered, identifies its
// holder at eidas3: POST /login/{id}/card with the token as it came from
// the extension → {"redirect": "..."} or {"error": "..."}.
func (p *Provider) cardStep(w http.ResponseWriter, r *http.Request, ia *interaction) {
	lang := p.lang(w, r, ia)
	if p.card == nil {
		p.cardOff(w, lang)
		return
	}
	if p.cardLocked(w, r, ia, lang) {
		return
	}
	src := source(r)
	// The challenge is spent here, whatever the token: a failed attempt
	// needs a new one.
	var nonce string
	p.changeInteraction(ia.id, p.now(), func(x *interaction) {
		nonce, x.cardNonce = x.cardNonce, ""
	})
	res, account, refusal, detail := p.checkCard(w, r, nonce)
	if refusal != nil {
		if refusal.status != http.StatusServiceUnavailable {
			p.limits.fail(account, src, p.now())
		}
		p.event("authn", "method", "sc", "subject", account, "client", ia.req.client.ID, "result", "failed", "reason", refusal.reason, "source", src)
		if detail != nil {
			// The details name the certificate by serial number and issuer,
			// never by its holder.
			p.log.Warn("identity: card login refused", "reason", refusal.reason, "subject", account, "err", detail)
		}
		writeJSON(w, refusal.status, cardAnswer{Error: t(lang, refusal.key)})
		return
	}
	now := p.now()
	ok := p.changeInteraction(ia.id, now, func(x *interaction) {
		x.nn, x.level, x.amr, x.authTime, x.sso = res.NationalNumber, 2, []string{"sc", "pin", "mfa"}, now, false
	})
	if !ok {
		writeJSON(w, http.StatusBadRequest, cardAnswer{Error: t(lang, "login.expired")})
		return
	}
	p.event("authn", "method", "sc", "subject", account, "client", ia.req.client.ID, "acr", "eidas3", "result", "ok", "source", src)
	writeJSON(w, http.StatusOK, cardAnswer{Redirect: p.action(ia) + "/consent"})
}

// checkCard checks a token against the challenge nonce and returns the
// card's holder, or why it is refused (with the error behind it, for the
// operator's log). account names the holder in events once the card's
// signature verified and the register knows the card, even when it is
// refused.
func (p *Provider) checkCard(w http.ResponseWriter, r *http.Request, nonce string) (res *identity.Resident, account string, refusal *cardRefusal, detail error) {
	refuse := func(c cardRefusal, err error) (*identity.Resident, string, *cardRefusal, error) {
		return nil, account, &c, err
	}
	if nonce == "" {
		return refuse(cardRefusal{http.StatusBadRequest, "nonce", "card.retry"}, nil)
	}
	if err := p.challenges.Consume(nonce); err != nil {
		return refuse(cardRefusal{http.StatusBadRequest, "nonce", "card.retry"}, err)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webeid.MaxTokenSize))
	if err != nil {
		return refuse(cardRefusal{http.StatusBadRequest, "format", "card.bad"}, fmt.Errorf("reading the token: %v", err))
	}
	tok, err := webeid.Parse(body)
	if err != nil {
		return refuse(refusalOf(err), err)
	}
	cert, verr := p.card.Validate(r.Context(), tok, nonce)
	// Validate checks the signature before the revocation status: past it,
	// the token was made by the card, so its holder may be named.
	signed := verr == nil || errors.Is(verr, webeid.ErrRevoked) || errors.Is(verr, webeid.ErrRevocationUnavailable)
	if !signed {
		return refuse(refusalOf(verr), verr)
	}
	holder, card, lerr := p.reg.ResidentByCard(r.Context(), identity.CardFingerprint(tok.Certificate.Raw))
	switch {
	case lerr == nil:
		account = p.reg.Ref(holder.NationalNumber)
	case !errors.Is(lerr, identity.ErrNotFound):
		p.log.Error("identity: card login: the register", "err", lerr)
		return refuse(cardRefusal{http.StatusServiceUnavailable, "register-unavailable", "error.busy"}, nil)
	}
	// The register's word is final, whatever the CA says or whether it
	// answers.
	switch {
	case lerr == nil && card.Revoked:
		return refuse(cardRefusal{http.StatusUnauthorized, "revoked-register", "card.revoked"}, nil)
	case lerr != nil:
		return refuse(cardRefusal{http.StatusUnauthorized, "unregistered", "card.unknown"}, verr)
	case verr != nil:
		return refuse(refusalOf(verr), verr)
	}
	country, number, err := webeid.NationalNumber(cert)
	if err != nil {
		return refuse(cardRefusal{http.StatusUnauthorized, "subject", "card.bad"}, err)
	}
	if country != p.cardCountry || number != holder.NationalNumber {
		// The register ties the card to someone its certificate does not
		// name: an import error, for the operator to fix.
		return refuse(cardRefusal{http.StatusUnauthorized, "subject", "card.bad"},
			fmt.Errorf("the register gives this card (sha256 %s) to resident %s, whom its certificate does not name (country %q, want %q, or another national number)",
				identity.CardFingerprint(cert.Raw), account, country, p.cardCountry))
	}
	return holder, account, nil, nil
}
