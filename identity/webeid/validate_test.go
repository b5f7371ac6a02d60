package webeid_test

import (
	"context"
	"crypto/x509"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/webeid"
	"github.com/coffre-cloud/coffre/identity/webeid/webeidtest"
)

func TestValidCard(t *testing.T) {
	pki := webeidtest.NewPKI(t)
	card := pki.IssueCard(t, webeidtest.CardOptions{Number: "1234567890", GivenName: "GRACE", Surname: "KELLY"})
	challenges := webeid.NewChallenges(time.Minute, 10)
	nonce, err := challenges.New()
	if err != nil {
		t.Fatal(err)
	}
	b := token(t, card, origin, nonce)

	// What the provider does: spend the challenge kept in the session, then
	// check the token against it.
	if err := challenges.Consume(nonce); err != nil {
		t.Fatalf("Consume(fresh challenge) = %v", err)
	}
	cert, err := check(t.Context(), pki.Validator(origin), b, nonce)
	if err != nil {
		t.Fatalf("Validate(valid card) = %v", err)
	}
	if !cert.Equal(card.Cert) {
		t.Fatalf("Validate returned certificate %q, want the card's %q", cert.Subject, card.Cert.Subject)
	}
	country, number, err := webeid.NationalNumber(cert)
	if err != nil {
		t.Fatalf("NationalNumber = %v", err)
	}
	if country != "MC" || number != "1234567890" {
		t.Fatalf("NationalNumber = %q, %q; want MC, 1234567890", country, number)
	}
	if get, post := pki.Server.OCSPRequests(); get != 1 || post != 0 {
		t.Fatalf("OCSP requests: %d GET, %d POST; want 1 GET (a short request goes by GET, RFC 5019)", get, post)
	}
	if n := pki.Server.CRLRequests(); n != 0 {
		t.Fatalf("CRL fetched %d times while OCSP answered, want 0", n)
	}
}

func TestRevocation(t *testing.T) {
	pki := webeidtest.NewPKI(t)
	good := pki.IssueCard(t, webeidtest.CardOptions{})
	revoked := pki.IssueCard(t, webeidtest.CardOptions{})
	pki.Server.Revoke(revoked.Cert.SerialNumber)
	nonce := newNonce(t)
	goodToken, revokedToken := token(t, good, origin, nonce), token(t, revoked, origin, nonce)

	for _, tc := range []struct {
		name             string
		ocspDown         bool
		crlDown          bool
		signer           webeidtest.OCSPSigner
		ocspAge          time.Duration
		good, revoked    error // the kinds expected for each card
		crlFetchesAtMost int
	}{
		{name: "ocsp=up", good: nil, revoked: webeid.ErrRevoked},
		{name: "ocsp=delegated", signer: webeidtest.SignedByResponder, good: nil, revoked: webeid.ErrRevoked},
		{name: "ocsp=down", ocspDown: true, good: nil, revoked: webeid.ErrRevoked, crlFetchesAtMost: 1},
		{name: "ocsp=down/crl=down", ocspDown: true, crlDown: true, good: webeid.ErrRevocationUnavailable, revoked: webeid.ErrRevocationUnavailable, crlFetchesAtMost: 2},
		// A "good" answer signed by a key the CA never certified is not
		// believed: the CRL decides, or nothing does.
		{name: "ocsp=forged", signer: webeidtest.SignedByStranger, good: nil, revoked: webeid.ErrRevoked, crlFetchesAtMost: 1},
		{name: "ocsp=forged/crl=down", signer: webeidtest.SignedByStranger, crlDown: true, good: webeid.ErrRevocationUnavailable, revoked: webeid.ErrRevocationUnavailable, crlFetchesAtMost: 2},
		{name: "ocsp=delegated-without-eku/crl=down", signer: webeidtest.SignedByResponderWithoutEKU, crlDown: true, good: webeid.ErrRevocationUnavailable, revoked: webeid.ErrRevocationUnavailable, crlFetchesAtMost: 2},
		{name: "ocsp=stale", ocspAge: 10 * time.Minute, good: nil, revoked: webeid.ErrRevoked, crlFetchesAtMost: 1},
		{name: "ocsp=stale/crl=down", ocspAge: 10 * time.Minute, crlDown: true, good: webeid.ErrRevocationUnavailable, revoked: webeid.ErrRevocationUnavailable, crlFetchesAtMost: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := pki.Server
			s.SetOCSPDown(tc.ocspDown)
			s.SetCRLDown(tc.crlDown)
			s.SetOCSPSigner(tc.signer)
			s.SetOCSPAge(tc.ocspAge)
			before := s.CRLRequests()
			v := pki.Validator(origin) // a fresh Revocation: empty CRL cache
			_, err := check(t.Context(), v, goodToken, nonce)
			wantKind(t, "good card", err, tc.good)
			_, err = check(t.Context(), v, revokedToken, nonce)
			wantKind(t, "revoked card", err, tc.revoked)
			if n := s.CRLRequests() - before; n > tc.crlFetchesAtMost {
				t.Fatalf("CRL fetched %d times for two checks, want at most %d (cached until nextUpdate)", n, tc.crlFetchesAtMost)
			}
		})
	}
}

func TestOCSPUnknownCertificate(t *testing.T) {
	// A certificate the CA's responder never heard of (status unknown) is
	// refused outright, as not issued by the CA, whatever the CRL says.
	// Check does not verify the chain (Validate does, before), so a copy
	// of a card certificate with another serial number stands for one.
	pki := webeidtest.NewPKI(t)
	card := pki.IssueCard(t, webeidtest.CardOptions{})
	ghost := *card.Cert
	ghost.SerialNumber = big.NewInt(42)
	err := new(webeid.Revocation).Check(t.Context(), &ghost, pki.CA)
	wantKind(t, "Check(unknown certificate)", err, webeid.ErrRevoked)
	if !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("error %q does not say the status was unknown", err)
	}
	if n := pki.Server.CRLRequests(); n != 0 {
		t.Fatalf("CRL fetched %d times after a signed unknown, want 0", n)
	}
}

func TestRevocationSources(t *testing.T) {
	pki := webeidtest.NewPKI(t)
	other := webeidtest.NewPKI(t)
	card := pki.IssueCard(t, webeidtest.CardOptions{})
	for _, tc := range []struct {
		name string
		r    *webeid.Revocation
		want error
	}{
		// Another CA's responder does not answer for ours (unauthorized),
		// another CA's CRL is not signed by ours.
		{"ocsp=other-ca/crl=down", &webeid.Revocation{OCSPURL: other.Server.OCSPURL(), CRLURL: pki.Server.URL + "/nowhere"}, webeid.ErrRevocationUnavailable},
		{"ocsp=down/crl=other-ca", &webeid.Revocation{OCSPURL: pki.Server.URL + "/nowhere", CRLURL: other.Server.CRLURL()}, webeid.ErrRevocationUnavailable},
		{"ocsp=not-http", &webeid.Revocation{OCSPURL: "ldap://ldap.example/cn=ca", CRLURL: "file:///etc/passwd"}, webeid.ErrRevocationUnavailable},
		// A responder URL too long for GET (RFC 5019: 255 bytes) gets a POST.
		{"ocsp=post", &webeid.Revocation{OCSPURL: pki.Server.OCSPURL() + "/" + strings.Repeat("p", 300)}, nil},
		{"ocsp=down/crl=override", &webeid.Revocation{OCSPURL: pki.Server.URL + "/nowhere", CRLURL: pki.Server.CRLURL()}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, post := pki.Server.OCSPRequests()
			err := tc.r.Check(t.Context(), card.Cert, pki.CA)
			wantKind(t, "Check", err, tc.want)
			if _, post2 := pki.Server.OCSPRequests(); tc.name == "ocsp=post" && post2 != post+1 {
				t.Fatalf("OCSP POST requests went from %d to %d, want one more", post, post2)
			}
		})
	}
}

func TestCertificateChecks(t *testing.T) {
	pki := webeidtest.NewPKI(t)
	other := webeidtest.NewPKI(t)
	now := time.Now()
	for _, tc := range []struct {
		name string
		pki  *webeidtest.PKI
		opts webeidtest.CardOptions
		want error
	}{
		{"cert=expired", pki, webeidtest.CardOptions{NotBefore: now.AddDate(-5, 0, 0), NotAfter: now.Add(-time.Hour)}, webeid.ErrCertExpired},
		{"cert=not-yet-valid", pki, webeidtest.CardOptions{NotBefore: now.Add(time.Hour), NotAfter: now.AddDate(5, 0, 0)}, webeid.ErrCertExpired},
		{"cert=other-ca", other, webeidtest.CardOptions{}, webeid.ErrUntrusted},
		{"cert=signing-not-auth", pki, webeidtest.CardOptions{KeyUsage: x509.KeyUsageContentCommitment}, webeid.ErrCertPurpose},
		{"cert=eku-email-only", pki, webeidtest.CardOptions{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}, webeid.ErrCertPurpose},
		// No extended key usage at all means any purpose (Luxembourg's cards).
		{"cert=no-eku", pki, webeidtest.CardOptions{ExtKeyUsage: []x509.ExtKeyUsage{}}, nil},
		{"cert=eku-client-and-email", pki, webeidtest.CardOptions{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageClientAuth}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			card := tc.pki.IssueCard(t, tc.opts)
			nonce := newNonce(t)
			_, err := check(t.Context(), pki.Validator(origin), token(t, card, origin, nonce), nonce)
			wantKind(t, "Validate", err, tc.want)
		})
	}
}

func TestSignatureChecks(t *testing.T) {
	pki := webeidtest.NewPKI(t)
	a := pki.IssueCard(t, webeidtest.CardOptions{})
	b := pki.IssueCard(t, webeidtest.CardOptions{})
	nonce := newNonce(t)
	sign := func(card *webeidtest.Card, alg, origin, nonce string) []byte {
		sig, err := card.SignChallenge(alg, origin, nonce)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	for _, tc := range []struct {
		name  string
		token []byte
		nonce string
		want  error
	}{
		{"token=valid", webeidtest.TokenJSON(a.Cert, "ES384", sign(a, "ES384", origin, nonce)), nonce, nil},
		{"origin=other", webeidtest.TokenJSON(a.Cert, "ES384", sign(a, "ES384", "https://id.coffre.test.evil.example", nonce)), nonce, webeid.ErrSignature},
		{"origin=trailing-slash", webeidtest.TokenJSON(a.Cert, "ES384", sign(a, "ES384", origin+"/", nonce)), nonce, webeid.ErrSignature},
		{"nonce=other", webeidtest.TokenJSON(a.Cert, "ES384", sign(a, "ES384", origin, nonce)), newNonce(t), webeid.ErrSignature},
		{"key=other-card", webeidtest.TokenJSON(a.Cert, "ES384", sign(b, "ES384", origin, nonce)), nonce, webeid.ErrSignature},
		// The algorithm must fit the key: ES384 is P-384 with SHA-384.
		{"alg=ES256", webeidtest.TokenJSON(a.Cert, "ES256", sign(a, "ES256", origin, nonce)), nonce, webeid.ErrSignature},
		{"alg=ES512", webeidtest.TokenJSON(a.Cert, "ES512", sign(a, "ES512", origin, nonce)), nonce, webeid.ErrSignature},
		{"alg=RS384", webeidtest.TokenJSON(a.Cert, "RS384", sign(a, "ES384", origin, nonce)), nonce, webeid.ErrSignature},
		{"alg=PS384", webeidtest.TokenJSON(a.Cert, "PS384", sign(a, "ES384", origin, nonce)), nonce, webeid.ErrSignature},
		{"signature=truncated", webeidtest.TokenJSON(a.Cert, "ES384", sign(a, "ES384", origin, nonce)[:95]), nonce, webeid.ErrSignature},
		{"signature=asn1", webeidtest.TokenJSON(a.Cert, "ES384", asn1Signature(sign(a, "ES384", origin, nonce))), nonce, webeid.ErrSignature},
		{"nonce=short", webeidtest.TokenJSON(a.Cert, "ES384", sign(a, "ES384", origin, "c2hvcnQ=")), "c2hvcnQ=", webeid.ErrNonce},
		{"nonce=not-base64", webeidtest.TokenJSON(a.Cert, "ES384", sign(a, "ES384", origin, strings.Repeat("!", 44))), strings.Repeat("!", 44), webeid.ErrNonce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := check(t.Context(), pki.Validator(origin), tc.token, tc.nonce)
			wantKind(t, "Validate", err, tc.want)
		})
	}
}

// asn1Signature re-encodes r||s as an ASN.1 SEQUENCE, the form Go and
// OpenSSL use and the Web eID format does not.
func asn1Signature(rs []byte) []byte {
	n := len(rs) / 2
	enc := func(x []byte) []byte {
		for len(x) > 1 && x[0] == 0 {
			x = x[1:]
		}
		if x[0]&0x80 != 0 {
			x = append([]byte{0}, x...)
		}
		return append([]byte{0x02, byte(len(x))}, x...)
	}
	body := append(enc(rs[:n]), enc(rs[n:])...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

func TestValidatorConfig(t *testing.T) {
	pki := webeidtest.NewPKI(t)
	card := pki.IssueCard(t, webeidtest.CardOptions{})
	nonce := newNonce(t)
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"https://id.coffre.test", true},
		{"https://id.coffre.test:8443", true},
		{"http://127.0.0.1:9100", true},
		{"http://localhost:9100", true},
		{"http://[::1]:9100", true},
		{"http://id.coffre.test", false}, // http only on loopback
		{"https://id.coffre.test/", false},
		{"https://id.coffre.test/login", false},
		{"https://ID.coffre.test", false},
		{"https://id.coffre.test:443", false},
		{"https://id.coffre.test?x", false},
		{"https://user@id.coffre.test", false},
		{"id.coffre.test", false},
		{"", false},
	} {
		t.Run("origin="+tc.origin, func(t *testing.T) {
			v := pki.Validator(tc.origin)
			_, err := check(t.Context(), v, token(t, card, tc.origin, nonce), nonce)
			if tc.ok && err != nil {
				t.Fatalf("Validate with origin %q = %v, want success", tc.origin, err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "Validator.Origin")) {
				t.Fatalf("Validate with origin %q = %v, want a configuration error naming Validator.Origin", tc.origin, err)
			}
		})
	}
	t.Run("roots=nil", func(t *testing.T) {
		v := pki.Validator(origin)
		v.Roots = nil
		if _, err := check(t.Context(), v, token(t, card, origin, nonce), nonce); err == nil || !strings.Contains(err.Error(), "Roots") {
			t.Fatalf("Validate with nil Roots = %v, want a configuration error (never the system roots)", err)
		}
	})
	t.Run("revocation=nil", func(t *testing.T) {
		v := pki.Validator(origin)
		v.Revocation = nil
		_, err := check(t.Context(), v, token(t, card, origin, nonce), nonce)
		wantKind(t, "Validate without Revocation", err, webeid.ErrRevocationUnavailable)
	})
	t.Run("token=nil", func(t *testing.T) {
		_, err := pki.Validator(origin).Validate(t.Context(), nil, nonce)
		wantKind(t, "Validate(nil)", err, webeid.ErrFormat)
	})
	t.Run("now=later", func(t *testing.T) {
		v := pki.Validator(origin)
		v.Now = func() time.Time { return card.Cert.NotAfter.Add(time.Second) }
		_, err := check(t.Context(), v, token(t, card, origin, nonce), nonce)
		wantKind(t, "Validate after NotAfter", err, webeid.ErrCertExpired)
	})
}

func TestValidateConcurrent(t *testing.T) {
	// Many logins at once while OCSP is down: one CRL serves them all.
	pki := webeidtest.NewPKI(t)
	card := pki.IssueCard(t, webeidtest.CardOptions{})
	nonce := newNonce(t)
	b := token(t, card, origin, nonce)
	pki.Server.SetOCSPDown(true)
	v := pki.Validator(origin)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := check(context.Background(), v, b, nonce)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Validate = %v", err)
		}
	}
	if n := pki.Server.CRLRequests(); n < 1 || n > 16 {
		t.Fatalf("CRL fetched %d times", n)
	}
	t.Logf("16 concurrent validations fetched the CRL %d time(s)", pki.Server.CRLRequests())
}

// BenchmarkValidate measures Validate on a valid token (Parse apart): the
// certificate checks, chain and signature verification (P-384), and the
// revocation check. With revocation=ocsp each call makes a fresh OCSP
// round trip to the loopback responder (answers are not cached: each
// login asks); with revocation=crl-cached OCSP is down and the CRL comes
// from memory, which is the cost of the checks alone.
func BenchmarkValidate(b *testing.B) {
	pki := webeidtest.NewPKI(b)
	card := pki.IssueCard(b, webeidtest.CardOptions{})
	nonce := newNonce(b)
	tok, err := webeid.Parse(token(b, card, origin, nonce))
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"ocsp", "crl-cached"} {
		b.Run("revocation="+name, func(b *testing.B) {
			pki.Server.SetOCSPDown(name != "ocsp")
			v := pki.Validator(origin)
			if _, err := v.Validate(b.Context(), tok, nonce); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Validate(b.Context(), tok, nonce); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
