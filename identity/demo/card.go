package demo

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/webeid"
	"github.com/coffre-cloud/coffre/keys"
)

// The demo ID cards. DEMO ONLY: they stand in for the national PKI, the
// residents' ID cards and their card readers, so that the eidas3 login of
// the embedded default can be tried in a browser without a real card.
//
// The demo PKI is a root CA and an issuing CA whose private keys are
// signing keys of the site's key store (RootKeyName, IssuingKeyName): they
// never leave it, and sign certificates and CRLs through crypto.Signer.
// Their certificates are kept in CardsConfig.Dir (root.pem, issuing.pem;
// public, mode 0644). Each demo resident has one card: a P-256 key in the
// key store (CardKeyName) and a certificate of the issuing CA, registered
// in the identity register among the resident's cards, as an import of the
// population register would. All of it is made on first start and found
// again at the next: same CA, same cards, same revocations (the register's,
// which `coffre identity card revoke` sets). A certificate that no longer
// fits its key (a key store started afresh) is issued again; a card within
// 30 days of its end is renewed with the same key; a revoked card stays
// revoked (start on a fresh data directory for new cards).
//
// What differs from a real card, and why this is a demo only: the card's
// key is in the server's key store, and the server signs with it for
// anyone who knows the PIN, which is CardPIN for every card and printed in
// the README. A real card never lets its key out of the chip and signs
// only for whoever holds it and knows its PIN. The demo CA is trusted only
// by a provider that `coffre serve` starts in demo mode without
// --identity-card-roots.
//
// Revocation: the issuing CA publishes a CRL at <issuer>/demo/ca.crl
// (CRLURL, the cards' CRL distribution point; no OCSP address, so the
// validator goes straight to the CRL), listing the demo cards the register
// has revoked. It lives 10 minutes and is signed again when the register's
// revocations change, at most once a minute otherwise.

// CardPIN is the authentication PIN of every demo card.
const CardPIN = "1234"

// Names of the demo PKI's keys in the site's key store.
const (
	RootKeyName    = "identity-demo-ca-root"
	IssuingKeyName = "identity-demo-ca-issuing"
	cardKeyPrefix  = "identity-demo-card-"
)

// CardKeyName returns the key store name of a demo resident's card key.
func CardKeyName(nationalNumber string) string {
	return cardKeyPrefix + strings.ToLower(nationalNumber)
}

// cardCountry is the country of the demo cards' national numbers: the
// provider's default (op.Config.CardCountry).
const cardCountry = "MC"

// Lifetimes of the demo PKI.
const (
	rootYears    = 20
	issuingYears = 10
	cardYears    = 2
	// caRenewBefore: a CA certificate this close to its end is issued
	// again at start; cardRenewBefore likewise for a card.
	caRenewBefore   = 365 * 24 * time.Hour
	cardRenewBefore = 30 * 24 * time.Hour
	// crlLifetime is a CRL's nextUpdate - thisUpdate: how long a validator
	// may keep it. crlReuse is how long the same CRL is served while the
	// revocations do not change.
	crlLifetime = 10 * time.Minute
	crlReuse    = time.Minute
)

// Attribute types of card subjects (X.520).
var (
	oidGivenName    = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSurname      = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}
)

// CardsConfig is what OpenCards needs.
type CardsConfig struct {
	Register *identity.Register
	// Keys holds the CA keys and the cards' keys.
	Keys keys.Store
	// Dir keeps the CA certificates (root.pem, issuing.pem); made if
	// missing.
	Dir string
	// Issuer is the provider's issuer: the CRL is at Issuer/demo/ca.crl,
	// and the cards sign only for the issuer's origin.
	Issuer string
	Logger *slog.Logger
	Now    func() time.Time
}

// Cards is the demo PKI and the demo residents' cards. It serves the demo
// card reader (ServeHTTP) and its signatures, and the CRL. Safe for
// concurrent use.
type Cards struct {
	reg    *identity.Register
	issuer string
	origin string // the issuer's origin, as location.origin writes it
	log    *slog.Logger
	now    func() time.Time

	root, ca *x509.Certificate
	caKey    crypto.Signer
	cards    []*card // in the order of Residents

	mu        sync.Mutex
	crl       []byte
	crlKey    string // the revoked serial numbers it lists
	crlAt     time.Time
	crlNumber int64
	pins      map[string]*pinState // by national number
	sources   map[string]*window   // sign requests, by source address
}

// card is one demo resident's card.
type card struct {
	nn, given, family string
	cert              *x509.Certificate
	key               crypto.Signer
}

// OpenCards finds the demo PKI and the demo residents' cards in the key
// store, Dir and the register, making what is missing (see above). A demo
// resident is given a card only if the register holds them as Residents
// describes them (names and birth date): never a real resident who
// happens to have a demo national number. Call it after Seed.
func OpenCards(ctx context.Context, cfg CardsConfig) (*Cards, error) {
	if cfg.Register == nil || cfg.Keys == nil || cfg.Dir == "" {
		return nil, errors.New("demo cards: the register, the key store and a directory are required")
	}
	iss, err := url.Parse(cfg.Issuer)
	if err != nil || iss.Host == "" || (iss.Scheme != "http" && iss.Scheme != "https") {
		return nil, fmt.Errorf("demo cards: issuer %q is not an http or https URL", cfg.Issuer)
	}
	c := &Cards{
		reg: cfg.Register, issuer: strings.TrimSuffix(cfg.Issuer, "/"), origin: webOrigin(iss),
		log: cfg.Logger, now: cfg.Now,
		pins: map[string]*pinState{}, sources: map[string]*window{},
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("demo cards: %w", err)
	}
	rootKey, err := signingKey(ctx, cfg.Keys, RootKeyName)
	if err != nil {
		return nil, err
	}
	if c.caKey, err = signingKey(ctx, cfg.Keys, IssuingKeyName); err != nil {
		return nil, err
	}
	now := c.now().UTC().Truncate(time.Second)
	c.root, err = c.caCert(filepath.Join(cfg.Dir, "root.pem"), rootKey, nil, rootKey, &x509.Certificate{
		Subject:    pkix.Name{Country: []string{cardCountry}, Organization: []string{"Coffre demo (not a real authority)"}, CommonName: "Coffre Demo National Root CA"},
		NotBefore:  now.Add(-time.Hour),
		NotAfter:   now.AddDate(rootYears, 0, 0),
		KeyUsage:   x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		MaxPathLen: 1,
	})
	if err != nil {
		return nil, err
	}
	c.ca, err = c.caCert(filepath.Join(cfg.Dir, "issuing.pem"), c.caKey, c.root, rootKey, &x509.Certificate{
		Subject:        pkix.Name{Country: []string{cardCountry}, Organization: []string{"Coffre demo (not a real authority)"}, CommonName: "Coffre Demo ID Card CA"},
		NotBefore:      now.Add(-time.Hour),
		NotAfter:       now.AddDate(issuingYears, 0, 0),
		KeyUsage:       x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		MaxPathLenZero: true,
	})
	if err != nil {
		return nil, err
	}
	for _, d := range Residents {
		cd, err := c.openCard(ctx, cfg.Keys, d.Resident)
		if err != nil {
			return nil, fmt.Errorf("demo card of resident %s: %w", d.NationalNumber, err)
		}
		if cd != nil {
			c.cards = append(c.cards, cd)
		}
	}
	return c, nil
}

// signingKey returns the named signing key of the key store, making it
// when it does not exist.
func signingKey(ctx context.Context, ks keys.Store, name string) (crypto.Signer, error) {
	s, err := ks.Signer(ctx, name)
	if errors.Is(err, keys.ErrNoSuchKey) {
		if _, err = ks.CreateSigningKey(ctx, name); err != nil {
			return nil, fmt.Errorf("demo cards: creating key %s in the key store: %w", name, err)
		}
		s, err = ks.Signer(ctx, name)
	}
	if err != nil {
		return nil, fmt.Errorf("demo cards: key %s of the key store: %w", name, err)
	}
	return s, nil
}

// caCert returns the CA certificate kept in file if it still fits: key's
// public key, signed by parent (itself when parent is nil), a CA, valid
// for at least another year. Otherwise it issues tmpl for key, signed by
// parentKey, and keeps it in file.
func (c *Cards) caCert(file string, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer, tmpl *x509.Certificate) (*x509.Certificate, error) {
	if b, err := os.ReadFile(file); err == nil {
		if block, _ := pem.Decode(b); block != nil && block.Type == "CERTIFICATE" {
			if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
				signer := parent
				if signer == nil {
					signer = cert
				}
				if cert.IsCA && samePublicKey(cert.PublicKey, key.Public()) && cert.CheckSignatureFrom(signer) == nil &&
					c.now().Add(caRenewBefore).Before(cert.NotAfter) {
					return cert, nil
				}
			}
		}
		c.log.Warn("demo cards: the CA certificate kept does not fit its key or is near its end: issuing a new one", "file", file)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("demo cards: %w", err)
	}
	tmpl.BasicConstraintsValid, tmpl.IsCA = true, true
	cert, err := certify(tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	if err := writeFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})); err != nil {
		return nil, fmt.Errorf("demo cards: keeping the CA certificate: %w", err)
	}
	return cert, nil
}

// openCard returns a demo resident's card, issuing it (or a renewal) when
// the register has none usable; nil when the register does not hold this
// demo resident.
func (c *Cards) openCard(ctx context.Context, ks keys.Store, d identity.Resident) (*card, error) {
	res, err := c.reg.Resident(ctx, d.NationalNumber)
	if errors.Is(err, identity.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if res.GivenName != d.GivenName || res.FamilyName != d.FamilyName || res.Birthdate != d.Birthdate {
		c.log.Warn("demo cards: the register's resident with a demo national number is not the demo's: no demo card for them", "subject", c.reg.Ref(d.NationalNumber))
		return nil, nil
	}
	key, err := signingKey(ctx, ks, CardKeyName(d.NationalNumber))
	if err != nil {
		return nil, err
	}
	cd := &card{nn: d.NationalNumber, given: d.GivenName, family: d.FamilyName, key: key}
	var revoked bool
	for _, rc := range res.Cards {
		cert, err := x509.ParseCertificate(rc.Certificate)
		if err != nil || !c.issued(cert) || !samePublicKey(cert.PublicKey, key.Public()) {
			continue
		}
		if cd.cert == nil || cert.NotAfter.After(cd.cert.NotAfter) {
			cd.cert, revoked = cert, rc.Revoked
		}
	}
	if cd.cert != nil && (revoked || c.now().Add(cardRenewBefore).Before(cd.cert.NotAfter)) {
		return cd, nil
	}
	now := c.now().UTC().Truncate(time.Second)
	given, family := strings.ToUpper(d.GivenName), strings.ToUpper(d.FamilyName)
	if cd.cert, err = certify(&x509.Certificate{
		Subject: pkix.Name{
			Country:    []string{cardCountry},
			CommonName: family + "," + given + "," + d.NationalNumber,
			ExtraNames: []pkix.AttributeTypeAndValue{
				{Type: oidSurname, Value: family},
				{Type: oidGivenName, Value: given},
				{Type: oidSerialNumber, Value: "PNO" + cardCountry + "-" + d.NationalNumber},
			},
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(cardYears, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		CRLDistributionPoints: []string{c.CRLURL()},
	}, c.ca, key.Public(), c.caKey); err != nil {
		return nil, err
	}
	err = c.reg.UpdateResident(ctx, d.NationalNumber, func(r *identity.Resident) error {
		r.Cards = append(r.Cards, identity.Card{Certificate: cd.cert.Raw, Fingerprint: identity.CardFingerprint(cd.cert.Raw)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cd, nil
}

// issued reports whether the demo issuing CA signed cert.
func (c *Cards) issued(cert *x509.Certificate) bool {
	return bytes.Equal(cert.RawIssuer, c.ca.RawSubject) && cert.CheckSignatureFrom(c.ca) == nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// certify signs tmpl (self-signed when parent is nil) with a random
// serial number and returns the parsed certificate.
func certify(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1))
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("demo cards: certifying %s: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// writeFile replaces file with b, atomically.
func writeFile(file string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(file), ".tmp-"+filepath.Base(file)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), file)
}

// webOrigin returns the origin of a URL as a browser's location.origin
// writes it: scheme://host[:port], host in lower case, no default port.
func webOrigin(u *url.URL) string {
	host := strings.ToLower(u.Host)
	switch u.Scheme {
	case "https":
		host = strings.TrimSuffix(host, ":443")
	case "http":
		host = strings.TrimSuffix(host, ":80")
	}
	return u.Scheme + "://" + host
}

// CRLURL is the demo CA's CRL: the cards' CRL distribution point.
func (c *Cards) CRLURL() string { return c.issuer + "/demo/ca.crl" }

// ReaderScript is the URL of the demo card reader's script, for
// op.Config.CardReaderScript.
func (c *Cards) ReaderScript() string { return c.issuer + "/demo/card-reader.js" }

// Len returns how many demo cards there are.
func (c *Cards) Len() int { return len(c.cards) }

// Root returns the demo root CA's certificate.
func (c *Cards) Root() *x509.Certificate { return c.root }

// CA returns the demo issuing CA's certificate, which signs the cards and
// the CRL.
func (c *Cards) CA() *x509.Certificate { return c.ca }

// Validator returns a card validator that trusts the demo PKI alone, for
// op.Config.Card. Its revocation checks read the demo CRL in process (the
// bytes GET /demo/ca.crl serves), so they do not depend on how the
// network reaches the issuer's address (a proxy, a name the server itself
// cannot resolve, a TLS certificate it does not trust).
func (c *Cards) Validator() *webeid.Validator {
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(c.root)
	intermediates.AddCert(c.ca)
	return &webeid.Validator{
		Roots:         roots,
		Intermediates: intermediates,
		Revocation: &webeid.Revocation{
			CRLURL: c.CRLURL(),
			HTTP:   &http.Client{Transport: crlTransport{c}, Timeout: 10 * time.Second},
		},
	}
}

// crlTransport answers GET requests for the demo CRL from Cards.CRL, and
// refuses any other.
type crlTransport struct{ c *Cards }

func (t crlTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	if r.Method != http.MethodGet || r.URL.String() != t.c.CRLURL() {
		return nil, fmt.Errorf("demo cards: only the demo CRL (%s) is read, not %s %s", t.c.CRLURL(), r.Method, r.URL)
	}
	crl, err := t.c.CRL(r.Context())
	if err != nil {
		return nil, err
	}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/pkix-crl"}},
		Body:          io.NopCloser(bytes.NewReader(crl)),
		ContentLength: int64(len(crl)),
		Request:       r,
	}, nil
}

// CRL returns the demo issuing CA's current CRL (DER), listing the demo
// cards that the register revoked.
func (c *Cards) CRL(ctx context.Context) ([]byte, error) {
	entries, err := c.revoked(ctx)
	if err != nil {
		return nil, err
	}
	var key strings.Builder
	for _, e := range entries {
		key.WriteString(e.SerialNumber.Text(16) + " ")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.crl != nil && c.crlKey == key.String() && now.Sub(c.crlAt) < crlReuse {
		return c.crl, nil
	}
	// CRL numbers only grow (RFC 5280 section 5.2.3), across restarts too.
	c.crlNumber = max(c.crlNumber+1, now.UnixMilli())
	this := now.UTC().Truncate(time.Second)
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(c.crlNumber),
		ThisUpdate:                this,
		NextUpdate:                this.Add(crlLifetime),
		RevokedCertificateEntries: entries,
	}, c.ca, c.caKey)
	if err != nil {
		return nil, fmt.Errorf("demo cards: signing the CRL: %w", err)
	}
	c.crl, c.crlKey, c.crlAt = der, key.String(), now
	return der, nil
}

// revoked returns the CRL entries of the demo cards the register revoked,
// by serial number.
func (c *Cards) revoked(ctx context.Context) ([]x509.RevocationListEntry, error) {
	var entries []x509.RevocationListEntry
	for _, cd := range c.cards {
		res, err := c.reg.Resident(ctx, cd.nn)
		if errors.Is(err, identity.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, rc := range res.Cards {
			if !rc.Revoked {
				continue
			}
			cert, err := x509.ParseCertificate(rc.Certificate)
			if err != nil || !c.issued(cert) {
				continue
			}
			at := rc.RevokedAt
			if at.IsZero() {
				at = c.now()
			}
			entries = append(entries, x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: at.UTC().Truncate(time.Second)})
		}
	}
	slices.SortFunc(entries, func(a, b x509.RevocationListEntry) int { return a.SerialNumber.Cmp(b.SerialNumber) })
	return entries, nil
}

// CardInfo describes a demo card, as the card reader lists them.
type CardInfo struct {
	NationalNumber string `json:"nn"`
	GivenName      string `json:"given_name"`
	FamilyName     string `json:"family_name"`
	// SerialNumber is the certificate subject's serialNumber,
	// PNOMC-<national number>.
	SerialNumber string `json:"serial_number"`
	// Fingerprint names the card in the register (coffre identity card
	// revoke --fingerprint).
	Fingerprint string    `json:"fingerprint"`
	NotAfter    time.Time `json:"not_after"`
	Revoked     bool      `json:"revoked"`
}

// List returns the demo cards, with the register's word on revocation.
func (c *Cards) List(ctx context.Context) ([]CardInfo, error) {
	var out []CardInfo
	for _, cd := range c.cards {
		fp := identity.CardFingerprint(cd.cert.Raw)
		info := CardInfo{NationalNumber: cd.nn, GivenName: cd.given, FamilyName: cd.family,
			SerialNumber: "PNO" + cardCountry + "-" + cd.nn, Fingerprint: fp, NotAfter: cd.cert.NotAfter.UTC()}
		switch _, rc, err := c.reg.ResidentByCard(ctx, fp); {
		case err == nil:
			info.Revoked = rc.Revoked
		case !errors.Is(err, identity.ErrNotFound):
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// cardOf returns the card of a national number, nil if none.
func (c *Cards) cardOf(nn string) *card {
	for _, cd := range c.cards {
		if cd.nn == nn {
			return cd
		}
	}
	return nil
}

// token has the card sign the challenge nonce for origin as the Web eID
// application has a card sign (identity/webeid's doc, "What the card
// signs"): ES256, the key store's signer given SHA-256(SHA-256(origin) ||
// SHA-256(nonce)), the DER signature turned into r||s. It returns the Web
// eID authentication token, as the extension hands it to the page.
func (c *Cards) token(ctx context.Context, cd *card, origin, nonce string) ([]byte, error) {
	sum := func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
	digest := sum(append(sum([]byte(origin)), sum([]byte(nonce))...))
	der, err := cd.key.Sign(rand.Reader, digest, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("demo cards: the key store did not sign: %w", err)
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) > 0 || sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
		return nil, errors.New("demo cards: the key store's signature is not an ECDSA P-256 signature")
	}
	rs := make([]byte, 64)
	sig.R.FillBytes(rs[:32])
	sig.S.FillBytes(rs[32:])
	return json.Marshal(struct {
		UnverifiedCertificate string `json:"unverifiedCertificate"`
		Algorithm             string `json:"algorithm"`
		Signature             string `json:"signature"`
		Format                string `json:"format"`
		AppVersion            string `json:"appVersion"`
	}{
		UnverifiedCertificate: base64.StdEncoding.EncodeToString(cd.cert.Raw),
		Algorithm:             "ES256",
		Signature:             base64.StdEncoding.EncodeToString(rs),
		Format:                "web-eid:1.0",
		AppVersion:            c.ReaderScript(),
	})
}
