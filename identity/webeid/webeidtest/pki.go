package webeidtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/webeid"
)

// PKI is a test national PKI: a root CA and an issuing CA (ECDSA P-384,
// keys in memory: only the cards' keys are the point), a revocation server
// for the issuing CA, and the cards it issues.
type PKI struct {
	Root   *x509.Certificate // the national root CA
	CA     *x509.Certificate // the ID card issuing CA, signed by Root
	Server *Server           // OCSP responder and CRL of CA

	caKey *ecdsa.PrivateKey
}

// Attribute types of card subjects (X.520).
var (
	oidGivenName    = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSurname      = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}
)

// NewPKI makes a PKI and starts its revocation server; both go away when
// tb ends. Each PKI has its own keys, so a card of one is untrusted by
// another.
func NewPKI(tb testing.TB) *PKI {
	tb.Helper()
	now := time.Now().Truncate(time.Second)
	p := &PKI{Server: startServer(tb)}
	rootKey := newKey(tb)
	p.Root = certify(tb, &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"MC"}, Organization: []string{"Coffre test"}, CommonName: "Coffre Test National Root CA " + randomSuffix()},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}, nil, &rootKey.PublicKey, rootKey)
	p.caKey = newKey(tb)
	p.CA = certify(tb, &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"MC"}, Organization: []string{"Coffre test"}, CommonName: "Coffre Test ID Card CA " + randomSuffix()},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}, p.Root, &p.caKey.PublicKey, rootKey)

	s := p.Server
	s.ca, s.caKey = p.CA, p.caKey
	s.delegate.key = newKey(tb)
	responder := func(eku []x509.ExtKeyUsage, name string) *x509.Certificate {
		return certify(tb, &x509.Certificate{
			Subject:     pkix.Name{Country: []string{"MC"}, Organization: []string{"Coffre test"}, CommonName: name},
			NotBefore:   now.Add(-time.Hour),
			NotAfter:    now.AddDate(1, 0, 0),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: eku,
		}, p.CA, &s.delegate.key.PublicKey, p.caKey)
	}
	s.delegate.cert = responder([]x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, "Coffre Test OCSP Responder")
	s.delegate.noEKU = responder(nil, "Coffre Test Not An OCSP Responder")
	s.stranger = newKey(tb)
	return p
}

// Roots returns a pool holding the root CA.
func (p *PKI) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Root)
	return pool
}

// Intermediates returns a pool holding the issuing CA.
func (p *PKI) Intermediates() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA)
	return pool
}

// Validator returns a validator trusting this PKI for origin, with a
// fresh Revocation (so an empty CRL cache) that uses the certificates'
// own OCSP and CRL addresses.
func (p *PKI) Validator(origin string) *webeid.Validator {
	return &webeid.Validator{
		Roots:         p.Roots(),
		Intermediates: p.Intermediates(),
		Origin:        origin,
		Revocation:    &webeid.Revocation{},
	}
}

// CardOptions shape a card's certificate. The zero value makes a valid
// authentication certificate for a random resident of Monaco.
type CardOptions struct {
	// Country and Number make the subject serialNumber PNO<Country>-<Number>;
	// defaults "MC" and ten random digits.
	Country, Number string
	// SerialNumber, if set, is the whole subject serialNumber attribute
	// instead (to test other forms).
	SerialNumber string
	// GivenName and Surname default to "JEAN" and "TESTEUR".
	GivenName, Surname string
	// NotBefore and NotAfter default to an hour ago and five years on; set
	// them in the past or the future for expired or not yet valid cards.
	NotBefore, NotAfter time.Time
	// KeyUsage defaults to digitalSignature; ExtKeyUsage to clientAuth.
	KeyUsage    x509.KeyUsage
	ExtKeyUsage []x509.ExtKeyUsage
}

// Card is a test ID card: a SoftHSM2 token of its own holding the
// authentication key pair (EC P-384, generated inside the token, never
// extractable) and the certificate the PKI issued for it.
type Card struct {
	Cert *x509.Certificate
	// Country and Number are the holder's, as written in the subject
	// serialNumber (unless CardOptions.SerialNumber replaced it).
	Country, Number string

	token *cardToken
}

// IssueCard makes a card: a new token and key pair, and a certificate for
// its public key with the holder's names and national number, the
// revocation server's OCSP and CRL addresses. The token goes away when tb
// ends.
func (p *PKI) IssueCard(tb testing.TB, opts CardOptions) *Card {
	tb.Helper()
	now := time.Now().Truncate(time.Second)
	c := &Card{Country: opts.Country, Number: opts.Number}
	if c.Country == "" {
		c.Country = "MC"
	}
	if c.Number == "" {
		n, _ := rand.Int(rand.Reader, big.NewInt(9_000_000_000))
		c.Number = n.Add(n, big.NewInt(1_000_000_000)).String()
	}
	sn := opts.SerialNumber
	if sn == "" {
		sn = "PNO" + c.Country + "-" + c.Number
	}
	given, surname := opts.GivenName, opts.Surname
	if given == "" {
		given = "JEAN"
	}
	if surname == "" {
		surname = "TESTEUR"
	}
	notBefore, notAfter := opts.NotBefore, opts.NotAfter
	if notBefore.IsZero() {
		notBefore = now.Add(-time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = now.AddDate(5, 0, 0)
	}
	ku, eku := opts.KeyUsage, opts.ExtKeyUsage
	if ku == 0 {
		ku = x509.KeyUsageDigitalSignature
	}
	if eku == nil {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	var pub *ecdsa.PublicKey
	c.token, pub = newCardToken(tb)
	c.Cert = certify(tb, &x509.Certificate{
		Subject: pkix.Name{
			Country:    []string{"MC"},
			CommonName: surname + "," + given + "," + c.Number,
			ExtraNames: []pkix.AttributeTypeAndValue{
				{Type: oidSurname, Value: surname},
				{Type: oidGivenName, Value: given},
				{Type: oidSerialNumber, Value: sn},
			},
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              ku,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		OCSPServer:            []string{p.Server.OCSPURL()},
		CRLDistributionPoints: []string{p.Server.CRLURL()},
	}, p.CA, pub, p.caKey)
	p.Server.issue(c.Cert.SerialNumber)
	return c
}

// Sign has the card sign digest as it is (CKM_ECDSA: the card does not
// hash) and returns r||s.
func (c *Card) Sign(digest []byte) ([]byte, error) { return c.token.sign(digest) }

// hashes are the hashes of the Web eID algorithms, by their last three
// characters.
var hashes = map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}

// SignChallenge does what the Web eID application does to authenticate:
// with H the hash of algorithm (ES384: SHA-384), it computes
// H(H(origin) || H(nonce)) over the UTF-8 bytes of origin and of the
// base64 nonce string, and has the card sign that (CKM_ECDSA, r||s). The
// algorithm only picks the hash: the card always signs with its P-384 key,
// so any other than ES384 makes a token that must be refused.
func (c *Card) SignChallenge(algorithm, origin, nonce string) ([]byte, error) {
	h, ok := hashes[algorithm[max(0, len(algorithm)-3):]]
	if !ok {
		return nil, fmt.Errorf("webeidtest: no hash for algorithm %q", algorithm)
	}
	sum := func(b []byte) []byte { d := h.New(); d.Write(b); return d.Sum(nil) }
	return c.Sign(sum(append(sum([]byte(origin)), sum([]byte(nonce))...)))
}

// Token returns the Web eID authentication token the card makes for
// origin and nonce, as the Web eID application returns it to the page.
func (c *Card) Token(origin, nonce string) ([]byte, error) {
	sig, err := c.SignChallenge("ES384", origin, nonce)
	if err != nil {
		return nil, err
	}
	return TokenJSON(c.Cert, "ES384", sig), nil
}

// AppVersion is the appVersion of the tokens TokenJSON makes.
const AppVersion = "https://web-eid.eu/web-eid-app/releases/2.5.0+coffre-test"

// TokenJSON returns a web-eid:1.0 token with these fields, for tokens put
// together by hand (another card's signature, another algorithm).
func TokenJSON(cert *x509.Certificate, algorithm string, signature []byte) []byte {
	b, err := json.Marshal(struct {
		UnverifiedCertificate string `json:"unverifiedCertificate"`
		Algorithm             string `json:"algorithm"`
		Signature             string `json:"signature"`
		Format                string `json:"format"`
		AppVersion            string `json:"appVersion"`
	}{
		base64.StdEncoding.EncodeToString(cert.Raw),
		algorithm,
		base64.StdEncoding.EncodeToString(signature),
		"web-eid:1.0",
		AppVersion,
	})
	if err != nil {
		panic(err) // strings only
	}
	return b
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// certify signs tmpl (self-signed when parent is nil) with a random
// serial number and returns the parsed certificate.
func certify(tb testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	tb.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		tb.Fatal(err)
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1))
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		tb.Fatalf("webeidtest: certify %s: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return strings.ToUpper(fmt.Sprintf("%x", b))
}
