package demo

import (
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"
)

// The demo card reader (DEMO ONLY): what the browser needs to log in with
// a demo card, under the demo service (<issuer>/demo):
//
//	GET  /card-reader.js   the script that stands in for the Web eID
//	                       extension (op.Config.CardReaderScript names it)
//	GET  /card-reader.css  its panel's style
//	GET  /card/list        the demo cards, JSON ([]CardInfo)
//	POST /card/sign        {nn, pin, origin, nonce} → the Web eID token
//	GET  /ca.crl           the demo issuing CA's CRL (DER)
//	GET  /ca.pem           the demo root and issuing CA certificates
//
// POST /card/sign is the card: it checks the PIN, then signs. It signs
// only for the issuer's origin (the provider's login page is the only page
// a demo card logs in from), takes JSON only (a cross-site form cannot
// post it; a cross-site script would need CORS, which is not offered),
// refuses a request whose Origin header is another site's, and answers at
// most signRate requests a minute to each source address. Like a card, it
// blocks a card's PIN after pinTries wrong ones in a row; unlike a card,
// for pinBlock only (a real card waits for its PUK).

//go:embed cardreader.js
var readerJS []byte

//go:embed cardreader.css
var readerCSS []byte

// Limits of the sign endpoint.
const (
	pinTries    = 3
	pinBlock    = time.Minute
	signRate    = 30 // requests a minute per source address
	maxSignBody = 4 << 10
	maxSources  = 10_000 // beyond, the counts start again: a loose limit
)

// signRequest is the body of POST /card/sign.
type signRequest struct {
	NationalNumber string `json:"nn"`
	PIN            string `json:"pin"`
	Origin         string `json:"origin"`
	Nonce          string `json:"nonce"`
}

// signRefusal is the answer of a refused POST /card/sign: a code the
// reader's script turns into words, and the English of it for anyone else.
type signRefusal struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	TriesLeft *int   `json:"tries_left,omitempty"`
}

type pinState struct {
	wrong        int
	blockedUntil time.Time
}

type window struct {
	start time.Time
	n     int
}

// handles reports whether ServeHTTP answers path (under the demo base).
func (c *Cards) handles(path string) bool {
	switch path {
	case "/card-reader.js", "/card-reader.css", "/card/list", "/card/sign", "/ca.crl", "/ca.pem":
		return true
	}
	return false
}

// ServeHTTP serves the card reader's endpoints, paths relative to the demo
// service's base.
func (c *Cards) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path == "/card/sign" {
		c.sign(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/card-reader.js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(readerJS)
	case "/card-reader.css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Write(readerCSS)
	case "/card/list":
		list, err := c.List(r.Context())
		if err != nil {
			c.log.Error("demo cards: listing the cards", "err", err)
			http.Error(w, "the register is unavailable", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, http.StatusOK, list)
	case "/ca.crl":
		crl, err := c.CRL(r.Context())
		if err != nil {
			c.log.Error("demo cards: the CRL", "err", err)
			http.Error(w, "the CRL is unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(crl)
	case "/ca.pem":
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.root.Raw}))
		w.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.ca.Raw}))
	}
}

// sign is the demo card: POST /card/sign.
func (c *Cards) sign(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, code, msg string) {
		writeJSON(w, status, signRefusal{Error: msg, Code: code})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		refuse(http.StatusMethodNotAllowed, "method", "POST only")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		refuse(http.StatusUnsupportedMediaType, "request", "the body must be JSON (Content-Type: application/json)")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != c.origin {
		refuse(http.StatusForbidden, "origin", fmt.Sprintf("requests from %s are refused: the demo cards sign for the provider's own pages only", o))
		return
	}
	if until, ok := c.allow(source(r)); !ok {
		w.Header().Set("Retry-After", fmt.Sprint(max(1, int(until.Sub(c.now()).Seconds()+1))))
		refuse(http.StatusTooManyRequests, "rate", fmt.Sprintf("more than %d signatures a minute from this address; try again later", signRate))
		return
	}
	var req signRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSignBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		refuse(http.StatusBadRequest, "request", "the body is not a JSON object {nn, pin, origin, nonce}")
		return
	}
	if req.Origin != c.origin {
		// The card signs the origin of the page that asks; the demo cards
		// log in to this provider only.
		refuse(http.StatusForbidden, "origin", fmt.Sprintf("origin %.100q: the demo cards sign for %s only", req.Origin, c.origin))
		return
	}
	if !nonceShape(req.Nonce) {
		refuse(http.StatusBadRequest, "nonce", "nonce: want the challenge the provider issued (base64 of at least 32 bytes, 44 to 128 characters)")
		return
	}
	cd := c.cardOf(req.NationalNumber)
	if cd == nil {
		refuse(http.StatusNotFound, "card", "no demo card of this national number")
		return
	}
	left, until := c.checkPIN(cd.nn, req.PIN)
	switch {
	case !until.IsZero():
		w.Header().Set("Retry-After", fmt.Sprint(max(1, int(until.Sub(c.now()).Seconds()+1))))
		refuse(http.StatusLocked, "pin-blocked", fmt.Sprintf("the card's PIN is blocked after %d wrong ones, until %s", pinTries, until.UTC().Format(time.RFC3339)))
		return
	case left >= 0:
		writeJSON(w, http.StatusUnauthorized, signRefusal{Error: "wrong PIN", Code: "pin", TriesLeft: &left})
		return
	}
	tok, err := c.token(r.Context(), cd, req.Origin, req.Nonce)
	if err != nil {
		c.log.Error("demo cards: signing", "err", err)
		refuse(http.StatusServiceUnavailable, "unavailable", "the key store does not sign now; try again later")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(tok)
}

// nonceShape reports whether s looks like a Web eID challenge, as the
// Web eID application checks it before the card signs.
func nonceShape(s string) bool {
	if len(s) < 44 || len(s) > 128 {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && len(b) >= 32
}

// checkPIN checks a PIN typed for a card: left is -1 when it is right,
// else the tries left before the PIN blocks; until is non-zero while the
// PIN is blocked.
func (c *Cards) checkPIN(nn, pin string) (left int, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	st := c.pins[nn]
	if st == nil {
		st = &pinState{}
		c.pins[nn] = st
	}
	if now.Before(st.blockedUntil) {
		return 0, st.blockedUntil
	}
	if subtle.ConstantTimeCompare([]byte(pin), []byte(CardPIN)) == 1 {
		st.wrong = 0
		return -1, time.Time{}
	}
	st.wrong++
	if st.wrong >= pinTries {
		st.wrong, st.blockedUntil = 0, now.Add(pinBlock)
		return 0, st.blockedUntil
	}
	return pinTries - st.wrong, time.Time{}
}

// allow counts a sign request from src: false, with the end of the
// window, when src made signRate already in the current minute.
func (c *Cards) allow(src string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.sources) >= maxSources {
		clear(c.sources)
	}
	win := c.sources[src]
	if win == nil || now.Sub(win.start) >= time.Minute {
		win = &window{start: now}
		c.sources[src] = win
	}
	if win.n >= signRate {
		return win.start.Add(time.Minute), false
	}
	win.n++
	return time.Time{}, true
}

// source is the request's source address (no proxy in front of the demo).
func source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return strings.ToLower(host)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
