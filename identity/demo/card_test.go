package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/password"
	"github.com/coffre-cloud/coffre/identity/webeid"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/meta/sqlite"
)

const testIssuer = "http://127.0.0.1:9100"

// site is what OpenCards opens: a register, its key store, a directory.
type site struct {
	reg  *identity.Register
	keys keys.Store
	dir  string
	now  time.Time // the clock of the Cards opened by open; zero: time.Now
}

// newSite makes a register seeded with the demo residents.
func newSite(t *testing.T) *site {
	t.Helper()
	ctx := context.Background()
	m, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ks := testenv.Keyring(t)
	reg, err := identity.Open(ctx, m, ks)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Seed(ctx, reg, password.Params{Memory: 7168, Time: 1, Threads: 1}); err != nil {
		t.Fatal(err)
	}
	return &site{reg: reg, keys: ks, dir: filepath.Join(t.TempDir(), "identity-demo")}
}

func (s *site) open(t *testing.T) *Cards {
	t.Helper()
	cfg := CardsConfig{Register: s.reg, Keys: s.keys, Dir: s.dir, Issuer: testIssuer}
	if !s.now.IsZero() {
		cfg.Now = func() time.Time { return s.now }
	}
	c, err := OpenCards(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newNonce(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// validate checks a token of the demo reader as the provider does.
func validate(t *testing.T, c *Cards, tok []byte, nonce string) (*x509.Certificate, error) {
	t.Helper()
	v := c.Validator()
	v.Origin = testIssuer
	pt, err := webeid.Parse(tok)
	if err != nil {
		t.Fatalf("the demo token does not parse: %v\n%s", err, tok)
	}
	return v.Validate(context.Background(), pt, nonce)
}

// TestCardsKeptAcrossOpens: a second OpenCards (a restart) finds the same
// CA and the same cards, and registers no other card.
func TestCardsKeptAcrossOpens(t *testing.T) {
	s := newSite(t)
	first := s.open(t)
	if first.Len() != len(Residents) {
		t.Fatalf("%d demo cards, want %d", first.Len(), len(Residents))
	}
	second := s.open(t)
	if !second.Root().Equal(first.Root()) || !second.CA().Equal(first.CA()) {
		t.Errorf("the second open made another CA")
	}
	for i, cd := range second.cards {
		if !cd.cert.Equal(first.cards[i].cert) {
			t.Errorf("card of %s: the second open issued another certificate", cd.nn)
		}
		res, err := s.reg.Resident(context.Background(), cd.nn)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Cards) != 1 {
			t.Errorf("resident %s has %d cards in the register, want 1", cd.nn, len(res.Cards))
		}
	}
}

// TestCardsNotForStrangers: a register whose resident has a demo national
// number but is someone else gets no demo card for them.
func TestCardsNotForStrangers(t *testing.T) {
	s := newSite(t)
	nn := Residents[1].NationalNumber
	err := s.reg.UpdateResident(context.Background(), nn, func(r *identity.Resident) error { r.FamilyName = "Autre"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	c := s.open(t)
	if c.cardOf(nn) != nil || c.Len() != len(Residents)-1 {
		t.Errorf("a resident who is not the demo's got a demo card (%d cards)", c.Len())
	}
}

// TestCardsRenewed: a card within 30 days of its end is renewed at open,
// with the same key; a revoked card stays revoked, and is not renewed.
func TestCardsRenewed(t *testing.T) {
	s := newSite(t)
	old := s.open(t)
	revokedNN := Residents[2].NationalNumber
	if _, err := s.reg.RevokeCard(context.Background(), identity.CardFingerprint(old.cardOf(revokedNN).cert.Raw)); err != nil {
		t.Fatal(err)
	}
	s.now = time.Now().AddDate(cardYears, 0, -10)
	renewed := s.open(t)
	for _, cd := range renewed.cards {
		was := old.cardOf(cd.nn).cert
		switch {
		case cd.nn == revokedNN && !cd.cert.Equal(was):
			t.Errorf("the revoked card of %s was renewed", cd.nn)
		case cd.nn != revokedNN && (cd.cert.Equal(was) || !cd.cert.NotAfter.After(was.NotAfter)):
			t.Errorf("the card of %s, 10 days from its end, was not renewed", cd.nn)
		case !samePublicKey(cd.cert.PublicKey, was.PublicKey):
			t.Errorf("the card of %s changed keys", cd.nn)
		}
	}
}

// TestCardToken: the token of a demo card passes webeid's validation (an
// ES256 signature by a P-256 key over the issuer's origin and the
// challenge, the chain, the CRL) and names the resident; another
// challenge or origin does not verify.
func TestCardToken(t *testing.T) {
	c := newSite(t).open(t)
	cd := c.cards[0]
	nonce := newNonce(t)
	tok, err := c.token(context.Background(), cd, testIssuer, nonce)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := validate(t, c, tok, nonce)
	if err != nil {
		t.Fatalf("the demo token is refused: %v", err)
	}
	if country, nn, err := webeid.NationalNumber(cert); err != nil || country != "MC" || nn != cd.nn {
		t.Errorf("NationalNumber = %q %q %v, want MC %s", country, nn, err, cd.nn)
	}
	if _, err := validate(t, c, tok, newNonce(t)); !errors.Is(err, webeid.ErrSignature) {
		t.Errorf("the token checked against another challenge: %v, want ErrSignature", err)
	}
	other, err := c.token(context.Background(), cd, "https://evil.example", nonce)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := validate(t, c, other, nonce); !errors.Is(err, webeid.ErrSignature) {
		t.Errorf("a token signed for another origin: %v, want ErrSignature", err)
	}
}

// TestCardCRL: the CRL lists what the register revoked, signed by the
// issuing CA; a validator that reads it refuses the revoked card even
// without the register's word.
func TestCardCRL(t *testing.T) {
	s := newSite(t)
	c := s.open(t)
	ctx := context.Background()
	empty, err := c.CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cd := c.cards[1]
	if _, err := s.reg.RevokeCard(ctx, identity.CardFingerprint(cd.cert.Raw)); err != nil {
		t.Fatal(err)
	}
	der, err := c.CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(c.CA()); err != nil {
		t.Errorf("CRL signature: %v", err)
	}
	first, _ := x509.ParseRevocationList(empty)
	if crl.Number.Cmp(first.Number) <= 0 {
		t.Errorf("CRL number %v after %v: want it to grow", crl.Number, first.Number)
	}
	if n := len(crl.RevokedCertificateEntries); n != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(cd.cert.SerialNumber) != 0 {
		t.Fatalf("the CRL lists %d certificates, want the revoked card's alone", n)
	}
	if got := crl.NextUpdate.Sub(crl.ThisUpdate); got != crlLifetime {
		t.Errorf("CRL lifetime %v, want %v", got, crlLifetime)
	}
	nonce := newNonce(t)
	tok, err := c.token(ctx, cd, testIssuer, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := validate(t, c, tok, nonce); !errors.Is(err, webeid.ErrRevoked) {
		t.Errorf("a revoked card: %v, want ErrRevoked from the CRL", err)
	}
	nonce = newNonce(t)
	if tok, err = c.token(ctx, c.cards[0], testIssuer, nonce); err != nil {
		t.Fatal(err)
	}
	if _, err := validate(t, c, tok, nonce); err != nil {
		t.Errorf("a card the CRL does not list: %v", err)
	}
}

// sign posts a sign request to the reader's handler.
func sign(t *testing.T, c *Cards, body any, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	b, _ := json.Marshal(body)
	r := httptest.NewRequest(http.MethodPost, "/card/sign", bytes.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w
}

// TestSignRefusals: what the demo card refuses, and with which code.
func TestSignRefusals(t *testing.T) {
	c := newSite(t).open(t)
	nn := c.cards[0].nn
	good := signRequest{NationalNumber: nn, PIN: CardPIN, Origin: testIssuer, Nonce: newNonce(t)}
	with := func(f func(*signRequest)) signRequest { r := good; f(&r); return r }
	for _, tc := range []struct {
		name   string
		body   any
		header map[string]string
		status int
		code   string
	}{
		{"origin=foreign", with(func(r *signRequest) { r.Origin = "https://evil.example" }), nil, http.StatusForbidden, "origin"},
		{"origin=trailing-slash", with(func(r *signRequest) { r.Origin = testIssuer + "/" }), nil, http.StatusForbidden, "origin"},
		{"header=foreign-origin", good, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden, "origin"},
		{"content-type=form", good, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType, "request"},
		{"nonce=short", with(func(r *signRequest) { r.Nonce = "c2hvcnQ=" }), nil, http.StatusBadRequest, "nonce"},
		{"card=unknown", with(func(r *signRequest) { r.NationalNumber = "999" }), nil, http.StatusNotFound, "card"},
		{"body=extra-field", map[string]string{"nn": nn, "pin": CardPIN, "origin": testIssuer, "nonce": good.Nonce, "key": "x"}, nil, http.StatusBadRequest, "request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := sign(t, c, tc.body, tc.header)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), fmt.Sprintf(`"code":%q`, tc.code)) {
				t.Errorf("%d %s, want %d with code %s", w.Code, w.Body, tc.status, tc.code)
			}
		})
	}
	t.Run("method=GET", func(t *testing.T) {
		w := httptest.NewRecorder()
		c.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/card/sign", nil))
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("GET /card/sign: %d, want 405", w.Code)
		}
	})
	t.Run("ok", func(t *testing.T) {
		w := sign(t, c, good, map[string]string{"Origin": testIssuer})
		if w.Code != http.StatusOK {
			t.Fatalf("%d %s, want 200", w.Code, w.Body)
		}
		if _, err := validate(t, c, w.Body.Bytes(), good.Nonce); err != nil {
			t.Errorf("the token is refused: %v", err)
		}
	})
}

// TestSignPIN: a wrong PIN says how many tries are left; the third in a
// row blocks the card a minute, even for the right PIN; then it works.
func TestSignPIN(t *testing.T) {
	now := time.Now()
	s := newSite(t)
	s.now = now
	c := s.open(t)
	c.now = func() time.Time { return now }
	req := signRequest{NationalNumber: c.cards[0].nn, PIN: "0000", Origin: testIssuer, Nonce: newNonce(t)}
	for _, left := range []int{2, 1} {
		w := sign(t, c, req, nil)
		if want := fmt.Sprintf(`"tries_left":%d`, left); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), want) {
			t.Fatalf("wrong PIN: %d %s, want 401 with %s", w.Code, w.Body, want)
		}
	}
	if w := sign(t, c, req, nil); w.Code != http.StatusLocked {
		t.Fatalf("third wrong PIN: %d %s, want 423", w.Code, w.Body)
	}
	req.PIN = CardPIN
	if w := sign(t, c, req, nil); w.Code != http.StatusLocked || w.Header().Get("Retry-After") == "" {
		t.Fatalf("right PIN while blocked: %d %s, want 423 with Retry-After", w.Code, w.Body)
	}
	if w := sign(t, c, signRequest{NationalNumber: c.cards[1].nn, PIN: CardPIN, Origin: testIssuer, Nonce: req.Nonce}, nil); w.Code != http.StatusOK {
		t.Errorf("another card while the first is blocked: %d, want 200", w.Code)
	}
	now = now.Add(pinBlock)
	if w := sign(t, c, req, nil); w.Code != http.StatusOK {
		t.Errorf("right PIN after the block: %d %s, want 200", w.Code, w.Body)
	}
}

// TestSignRate: a source gets signRate signatures a minute.
func TestSignRate(t *testing.T) {
	c := newSite(t).open(t)
	req := signRequest{NationalNumber: c.cards[0].nn, PIN: CardPIN, Origin: testIssuer, Nonce: newNonce(t)}
	for i := range signRate {
		if w := sign(t, c, req, nil); w.Code != http.StatusOK {
			t.Fatalf("request %d: %d %s, want 200", i+1, w.Code, w.Body)
		}
	}
	if w := sign(t, c, req, nil); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("request %d: %d, want 429 with Retry-After", signRate+1, w.Code)
	}
}
