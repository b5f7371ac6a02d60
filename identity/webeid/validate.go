package webeid

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Validator checks Web eID authentication tokens against the national
// PKI. Its fields are set once, before use; it is then safe for concurrent
// use.
type Validator struct {
	// Roots are the trusted root CAs. Required: a nil pool is refused, never
	// replaced by the system roots.
	Roots *x509.CertPool
	// Intermediates are the issuing CAs that link card certificates to
	// Roots.
	Intermediates *x509.CertPool
	// Origin is this site's origin as the browser's location.origin gives
	// it, which the card signed: scheme "://" host [":" port], lower case,
	// without the default port, path or trailing slash
	// ("https://id.example"). It must be https, except http on a loopback
	// host for local runs; the Web eID application itself refuses any
	// origin but https (and wss), so http works only with test clients.
	Origin string
	// Revocation checks the card certificate's revocation status. Required:
	// a nil Revocation refuses every token with ErrRevocationUnavailable.
	Revocation *Revocation
	// Now is the clock for certificate validity; nil means time.Now.
	Now func() time.Time
}

// Nonce length bounds, from the Web eID application, which refuses
// challenges shorter than 44 characters (256 bits in base64) or longer
// than 128.
const (
	minNonceLen = 44
	maxNonceLen = 128
)

// Validate checks tok as the answer to the challenge nonce and returns the
// card certificate on success. The nonce must come from the caller's
// record of what it issued to this browser session, never from the
// request; spending it (Challenges.Consume) is the caller's job, best done
// before Validate so that a failed attempt spends it too.
//
// The checks, in order, each failing with its own error kind:
//
//   - the token's fields and the nonce's shape (ErrFormat, ErrNonce);
//   - the certificate's validity period at Now (ErrCertExpired);
//   - its purpose: key usage digitalSignature, extended key usage
//     clientAuth when the extension is present (its absence means any
//     purpose, as for Luxembourg's cards), not a CA (ErrCertPurpose);
//   - its chain to Roots through Intermediates (ErrUntrusted);
//   - the signature over hash(origin) || hash(nonce) (ErrSignature);
//   - its revocation status, OCSP then CRL, failing closed (ErrRevoked,
//     ErrRevocationUnavailable).
//
// The signature is checked before revocation, unlike in the Web eID
// architecture document's list, so that no request leaves for the
// responder on behalf of someone who does not hold the card: a forged
// token costs one local verification, and does not learn whether a
// certificate (public, in directories) is revoked.
func (v *Validator) Validate(ctx context.Context, tok *Token, nonce string) (*x509.Certificate, error) {
	if v.Roots == nil {
		return nil, errors.New("webeid: Validator.Roots is nil: set it to the national root CAs")
	}
	if err := checkOrigin(v.Origin); err != nil {
		return nil, err
	}
	if tok == nil || tok.Certificate == nil || len(tok.Signature) == 0 {
		return nil, fmt.Errorf("webeid: token has no certificate or no signature: %w", ErrFormat)
	}
	hash, ok := algorithms[tok.Algorithm]
	if !ok {
		return nil, fmt.Errorf("webeid: token algorithm %.20q is not supported: %w", tok.Algorithm, ErrFormat)
	}
	if err := checkNonce(nonce); err != nil {
		return nil, err
	}
	cert := tok.Certificate
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	if err := checkValidity(cert, now); err != nil {
		return nil, err
	}
	if err := checkPurpose(cert); err != nil {
		return nil, err
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         v.Roots,
		Intermediates: v.Intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, chainError(cert, err)
	}
	if len(chains[0]) < 2 {
		return nil, fmt.Errorf("webeid: certificate %s is itself a trusted root, not a card certificate: %w", describe(cert), ErrUntrusted)
	}
	if err := verifySignature(cert, tok.Algorithm, hash, tok.Signature, v.Origin, nonce); err != nil {
		return nil, err
	}
	if v.Revocation == nil {
		return nil, fmt.Errorf("webeid: no revocation checker configured (Validator.Revocation is nil), certificate %s refused: %w", describe(cert), ErrRevocationUnavailable)
	}
	if err := v.Revocation.Check(ctx, cert, chains[0][1]); err != nil {
		return nil, err
	}
	return cert, nil
}

// checkOrigin makes sure origin is in the exact form location.origin
// gives, since the card signed those bytes: a configuration that differs
// in case, port or a trailing slash would refuse every login.
func checkOrigin(origin string) error {
	u, err := url.Parse(origin)
	bad := func(why string) error {
		return fmt.Errorf("webeid: Validator.Origin %q %s: set it to scheme://host[:port] exactly as the browser's location.origin shows it", origin, why)
	}
	switch {
	case err != nil:
		return bad("is not a URL")
	case len(origin) > 255:
		return bad("is longer than the 255 characters the Web eID application accepts")
	case u.Scheme+"://"+u.Host != origin || u.Host == "" || u.User != nil:
		return bad("has a path, query, user or is not in canonical form")
	case strings.ToLower(origin) != origin:
		return bad("has upper case letters")
	case u.Scheme == "https" && u.Port() == "443", u.Scheme == "http" && u.Port() == "80":
		return bad("names the default port")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	default:
		return bad("must be https (http only on a loopback host)")
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkNonce checks the challenge's shape: standard base64 of at least 256
// bits, within the Web eID application's length bounds.
func checkNonce(nonce string) error {
	if len(nonce) < minNonceLen || len(nonce) > maxNonceLen {
		return fmt.Errorf("webeid: challenge of %d characters (want %d to %d): %w", len(nonce), minNonceLen, maxNonceLen, ErrNonce)
	}
	if b, err := base64.StdEncoding.DecodeString(nonce); err != nil || len(b) < 32 || strings.ContainsAny(nonce, "\r\n") {
		return fmt.Errorf("webeid: challenge is not base64 of at least 256 bits: %w", ErrNonce)
	}
	return nil
}

func checkValidity(cert *x509.Certificate, now time.Time) error {
	switch {
	case now.Before(cert.NotBefore):
		return fmt.Errorf("webeid: certificate %s is valid only from %s (now %s): %w",
			describe(cert), cert.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrCertExpired)
	case now.After(cert.NotAfter):
		return fmt.Errorf("webeid: certificate %s expired on %s (now %s): %w",
			describe(cert), cert.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrCertExpired)
	}
	return nil
}

// checkPurpose applies the Web eID validators' rule: key usage
// digitalSignature required; extended key usage, when present, must
// include clientAuth.
func checkPurpose(cert *x509.Certificate) error {
	if cert.IsCA {
		return fmt.Errorf("webeid: certificate %s is a CA certificate: %w", describe(cert), ErrCertPurpose)
	}
	if cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("webeid: certificate %s lacks key usage digitalSignature (it is not an authentication certificate; a card's signing certificate has nonRepudiation): %w", describe(cert), ErrCertPurpose)
	}
	if len(cert.ExtKeyUsage) == 0 && len(cert.UnknownExtKeyUsage) == 0 {
		return nil
	}
	for _, u := range cert.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth {
			return nil
		}
	}
	return fmt.Errorf("webeid: certificate %s has extended key usages without clientAuth: %w", describe(cert), ErrCertPurpose)
}

// chainError maps x509's verification errors to the package's kinds.
func chainError(cert *x509.Certificate, err error) error {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		switch inv.Reason {
		case x509.Expired:
			return fmt.Errorf("webeid: certificate %s: a CA certificate of its chain is expired or not yet valid: %v: %w", describe(cert), err, ErrCertExpired)
		case x509.IncompatibleUsage:
			return fmt.Errorf("webeid: certificate %s: its chain does not allow client authentication: %v: %w", describe(cert), err, ErrCertPurpose)
		}
	}
	return fmt.Errorf("webeid: certificate %s does not chain to a trusted root: %v: %w", describe(cert), err, ErrUntrusted)
}

// signedDigest returns what the card signs. The Web eID format signs
// hash(origin) || hash(nonce), hash being the algorithm's hash, over the
// UTF-8 bytes of the origin and of the base64 challenge string itself (not
// its decoded bytes); the signature algorithm then hashes that
// concatenation again, so the card is given
// hash(hash(origin) || hash(nonce)) (web-eid-app createSignature).
func signedDigest(hash crypto.Hash, origin, nonce string) []byte {
	h := hash.New()
	h.Write([]byte(origin))
	signed := h.Sum(nil)
	h.Reset()
	h.Write([]byte(nonce))
	signed = h.Sum(signed)
	h.Reset()
	h.Write(signed)
	return h.Sum(nil)
}

// ecdsaCurves pairs each ES algorithm with its curve, as JWA does (RFC 7518
// section 3.4) and as the Web eID application picks the algorithm from the
// key size.
var ecdsaCurves = map[string]string{"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}

func verifySignature(cert *x509.Certificate, alg string, hash crypto.Hash, sig []byte, origin, nonce string) error {
	digest := signedDigest(hash, origin, nonce)
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		curve := pub.Curve.Params().Name
		if want, ok := ecdsaCurves[alg]; !ok || want != curve {
			return fmt.Errorf("webeid: token algorithm %s does not fit the certificate's ECDSA %s key: %w", alg, curve, ErrSignature)
		}
		// r||s, each left-padded to the size of the curve's order (RFC 7518
		// section 3.4), as the card returns it.
		n := (pub.Curve.Params().N.BitLen() + 7) / 8
		if len(sig) != 2*n {
			return fmt.Errorf("webeid: ECDSA %s signature of %d bytes, want r||s of %d: %w", curve, len(sig), 2*n, ErrSignature)
		}
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1BigInt(new(big.Int).SetBytes(sig[:n]))
			b.AddASN1BigInt(new(big.Int).SetBytes(sig[n:]))
		})
		der, err := b.Bytes()
		if err != nil || !ecdsa.VerifyASN1(pub, digest, der) {
			return fmt.Errorf("webeid: signature by certificate %s does not verify for origin %s and this challenge: %w", describe(cert), origin, ErrSignature)
		}
	case *rsa.PublicKey:
		var err error
		switch alg[:2] {
		case "RS":
			err = rsa.VerifyPKCS1v15(pub, hash, digest, sig)
		case "PS":
			// JWA PS*: salt as long as the hash (RFC 7518 section 3.5).
			err = rsa.VerifyPSS(pub, hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		default:
			return fmt.Errorf("webeid: token algorithm %s does not fit the certificate's RSA key: %w", alg, ErrSignature)
		}
		if err != nil {
			return fmt.Errorf("webeid: signature by certificate %s does not verify for origin %s and this challenge: %w", describe(cert), origin, ErrSignature)
		}
	default:
		return fmt.Errorf("webeid: certificate %s holds a %T key, not ECDSA or RSA: %w", describe(cert), cert.PublicKey, ErrSignature)
	}
	return nil
}

// describe names a certificate in messages by its serial number and
// issuer, which is enough for an operator to find the card, and keeps the
// holder's name and national number (in the subject) out of logs.
func describe(cert *x509.Certificate) string {
	return fmt.Sprintf("serial %x issued by %q", cert.SerialNumber, cert.Issuer.CommonName)
}
