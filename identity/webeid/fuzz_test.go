package webeid_test

import (
	"bytes"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/identity/webeid"
	"github.com/coffre-cloud/coffre/identity/webeid/webeidtest"
)

// kinds are the error kinds; every error the package returns wraps one.
var kinds = []error{
	webeid.ErrFormat, webeid.ErrSignature, webeid.ErrUntrusted, webeid.ErrCertExpired,
	webeid.ErrCertPurpose, webeid.ErrRevoked, webeid.ErrRevocationUnavailable, webeid.ErrNonce,
}

func hasKind(err error) bool {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// FuzzParse: Parse never panics, fails only with ErrFormat, and what it
// accepts has every field set and survives a round trip.
func FuzzParse(f *testing.F) {
	cert := selfSigned(f, pkix.Name{CommonName: "fuzz"})
	valid := webeidtest.TokenJSON(cert, "ES384", bytes.Repeat([]byte{1}, 96))
	f.Add(valid)
	f.Add(webeidtest.TokenJSON(cert, "RS256", bytes.Repeat([]byte{2}, 256)))
	f.Add(bytes.Replace(valid, []byte(`"web-eid:1.0"`), []byte(`"web-eid:1.1","unverifiedSigningCertificates":[{"certificate":"","supportedSignatureAlgorithms":[{"cryptoAlgorithm":"ECC"}]}]`), 1))
	f.Add(bytes.Replace(valid, []byte(`"format"`), []byte(`"format":"web-eid:1.0","format"`), 1))
	f.Add([]byte(`{"unverifiedCertificate":"","algorithm":"ES384","signature":"","format":"web-eid:1.0"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"a":[[[[[[[[{"b":null}]]]]]]]]}`))
	f.Add([]byte("{\"format\":\"web-eid:1.0\xff\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := webeid.Parse(data)
		if err != nil {
			if !errors.Is(err, webeid.ErrFormat) {
				t.Fatalf("Parse error %v is not ErrFormat", err)
			}
			return
		}
		if len(data) > webeid.MaxTokenSize {
			t.Fatalf("Parse accepted %d bytes, more than MaxTokenSize", len(data))
		}
		if tok.Certificate == nil || len(tok.Signature) == 0 || !strings.HasPrefix(tok.Format, "web-eid:1.") {
			t.Fatalf("Parse accepted a token with missing fields: %+v", tok)
		}
		again, err := webeid.Parse(webeidtest.TokenJSON(tok.Certificate, tok.Algorithm, tok.Signature))
		if err != nil || !again.Certificate.Equal(tok.Certificate) || again.Algorithm != tok.Algorithm || !bytes.Equal(again.Signature, tok.Signature) {
			t.Fatalf("round trip of %+v: %+v, %v", tok, again, err)
		}
	})
}

// FuzzValidate: with one fixed PKI, card and challenge, Validate never
// panics, every error has a kind, and the only tokens it accepts carry
// that card's certificate with algorithm ES384 (the seed's shape: no
// fiddling with the bytes turns a token into another valid identity).
func FuzzValidate(f *testing.F) {
	pki := webeidtest.NewPKI(f)
	card := pki.IssueCard(f, webeidtest.CardOptions{})
	other := pki.IssueCard(f, webeidtest.CardOptions{})
	nonce := newNonce(f)
	valid := token(f, card, origin, nonce)
	f.Add(valid)
	f.Add(token(f, card, "https://elsewhere.example", nonce))
	f.Add(token(f, other, origin, newNonce(f)))
	sig, err := other.SignChallenge("ES384", origin, nonce)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(webeidtest.TokenJSON(card.Cert, "ES384", sig))
	f.Add(bytes.Replace(valid, []byte(`"ES384"`), []byte(`"ES256"`), 1))
	f.Add(bytes.Replace(valid, []byte(`"web-eid:1.0"`), []byte(`"web-eid:1.9","extra":{}`), 1))
	f.Add([]byte(`{}`))
	v := pki.Validator(origin)
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := webeid.Parse(data)
		if err != nil {
			return
		}
		cert, err := v.Validate(t.Context(), tok, nonce)
		if err != nil {
			if !hasKind(err) {
				t.Fatalf("Validate error %v has no kind", err)
			}
			return
		}
		if !cert.Equal(card.Cert) || tok.Algorithm != "ES384" {
			t.Fatalf("Validate accepted certificate %x with algorithm %s; only the card's, with ES384, can be", cert.SerialNumber, tok.Algorithm)
		}
	})
}
