package webeid

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
	"golang.org/x/sync/singleflight"
)

// Limits of the revocation checks. They are constants, not knobs: each is
// set well beyond what a national PKI needs and well below what would let
// a misbehaving server hurt the gateway.
const (
	// DefaultMaxAge is how old an OCSP answer (its thisUpdate) may be when
	// Revocation.MaxAge is zero: a revoked card is refused at most this
	// long after the responder learns of it, even if an old "good" answer
	// is replayed to us (requests carry no nonce, see Revocation).
	DefaultMaxAge = 5 * time.Minute

	// clockSkew is how far the responder's clock may run ahead of ours
	// (thisUpdate in the future) or an answer may be past its nextUpdate.
	// Both sides run NTP; a minute is generous.
	clockSkew = time.Minute

	// maxOCSPResponse bounds an OCSP answer: a few hundred bytes, a few
	// KiB with a delegated responder certificate.
	maxOCSPResponse = 64 << 10

	// maxCRL bounds a CRL download. An entry takes about 40 bytes, so 4 MiB
	// lists some 100,000 revoked certificates: more than twice the
	// population of Monaco, and well beyond what its CA will ever revoke.
	maxCRL = 4 << 20

	// maxCachedCRLs bounds the CRL cache (one per issuer and URL; a
	// national PKI has one or two issuing CAs). With maxCRL that bounds
	// its memory to a few tens of MiB at worst.
	maxCachedCRLs = 8

	// ocspTimeout and crlTimeout bound each download, whatever the
	// context allows.
	ocspTimeout = 5 * time.Second
	crlTimeout  = 10 * time.Second

	// maxGETRequest: RFC 5019 section 5 asks for GET when the whole URL is
	// at most 255 bytes (so that HTTP caches can serve the answer), POST
	// otherwise.
	maxGETRequest = 255
)

// defaultClient is the HTTP client when Revocation.HTTP is nil.
var defaultClient = &http.Client{Timeout: 2 * crlTimeout}

// Revocation checks whether a certificate is revoked, OCSP first and the
// CRL when OCSP gives no usable answer, failing closed when neither does.
// Its fields are set once, before use; it is then safe for concurrent use,
// and must not be copied.
//
// An OCSP answer is usable when it parses, answers for this certificate
// and this issuer (serial number and CertID hashes), is signed by the
// issuer itself or by a responder certificate that the issuer signed, that
// has extended key usage id-kp-OCSPSigning and is valid now, and is fresh:
// thisUpdate at most a minute in the future and at most MaxAge old,
// nextUpdate (when present) not passed. A usable answer is final: "good"
// passes, "revoked" is ErrRevoked, and "unknown" is ErrRevoked too, since
// the issuer's own responder not knowing a certificate that chains to the
// issuer means it did not issue it (RFC 6960 section 2.2 lets responders
// say "revoked" for such certificates); the CRL is not asked then, as it
// could only fail to list a certificate it never knew.
//
// Requests carry no nonce: golang.org/x/crypto/ocsp neither writes request
// extensions nor reads the response's, and responders that pre-produce
// answers (RFC 5019) ignore nonces anyway. Replay is bounded by MaxAge
// instead. CertIDs use SHA-1, which RFC 5019 requires every responder to
// accept; it only names the certificate, the answer's signature is what is
// trusted. GET is used when the request fits in 255 bytes, POST otherwise.
//
// A CRL is usable when it is signed by the issuer (which must have key
// usage cRLSign), names the issuer, has a nextUpdate not passed and a
// thisUpdate not in the future, and has no critical extension this code
// does not process (a delta CRL, an issuing distribution point that limits
// its scope, an indirect CRL): only complete CRLs are trusted to say "not
// listed, so not revoked". A usable CRL is kept in memory until its
// nextUpdate, so a CRL-only check costs nothing while OCSP is down; this
// makes revocation take effect only when the CA publishes a new CRL,
// which is the nature of CRLs.
//
// The OCSP and CRL addresses are the certificate's own (authority
// information access, CRL distribution points) unless overridden. They
// come from a certificate that Validate has already chained to the roots
// before it calls Check, so the gateway only ever fetches from addresses
// the national CA wrote; only http and https are followed.
type Revocation struct {
	// HTTP is the client for OCSP and CRL requests; nil means one with a
	// 20-second timeout. Each request is further bounded (5 s for OCSP,
	// 10 s for a CRL) and its body capped (64 KiB, 4 MiB).
	HTTP *http.Client
	// OCSPURL overrides the certificate's OCSP responder address.
	OCSPURL string
	// CRLURL overrides the certificate's CRL distribution point.
	CRLURL string
	// MaxAge is the oldest OCSP answer accepted (age of its thisUpdate);
	// zero means DefaultMaxAge. It does not apply to CRLs, which are good
	// until their nextUpdate.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	crls   map[string]*cachedCRL
	flight singleflight.Group
}

// cachedCRL is what is kept of a verified CRL: the revoked serial numbers.
type cachedCRL struct {
	nextUpdate time.Time
	revoked    map[string]revokedEntry // key: serial number in hexadecimal (Text(16), sign included)
}

type revokedEntry struct {
	at     time.Time
	reason int
}

// Check returns nil if cert, issued by issuer, is not revoked; ErrRevoked
// if it is (or if its issuer's OCSP responder does not know it); and
// ErrRevocationUnavailable if neither OCSP nor the CRL gave a usable
// answer. issuer must be the CA certificate that signed cert, as found by
// chain verification.
func (r *Revocation) Check(ctx context.Context, cert, issuer *x509.Certificate) error {
	if cert == nil || issuer == nil || !bytes.Equal(cert.RawIssuer, issuer.RawSubject) {
		return fmt.Errorf("webeid: revocation check needs the certificate and the CA certificate that issued it: %w", ErrRevocationUnavailable)
	}
	ocspErr := r.checkOCSP(ctx, cert, issuer)
	if ocspErr == nil || errors.Is(ocspErr, ErrRevoked) {
		return ocspErr
	}
	crlErr := r.checkCRL(ctx, cert, issuer)
	if crlErr == nil || errors.Is(crlErr, ErrRevoked) {
		return crlErr
	}
	return fmt.Errorf("webeid: revocation status of certificate %s unknown: OCSP: %v; CRL: %v: %w",
		describe(cert), ocspErr, crlErr, ErrRevocationUnavailable)
}

func (r *Revocation) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Revocation) client() *http.Client {
	if r.HTTP != nil {
		return r.HTTP
	}
	return defaultClient
}

// pickURL returns override if set, else the first http or https address
// of the certificate's.
func pickURL(override string, fromCert []string) (string, error) {
	if override != "" {
		return override, checkHTTPURL(override)
	}
	for _, u := range fromCert {
		if checkHTTPURL(u) == nil {
			return u, nil
		}
	}
	if len(fromCert) == 0 {
		return "", errors.New("the certificate names none and none is configured")
	}
	return "", fmt.Errorf("no http or https address among %q", fromCert)
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("address %q is not an http or https URL", s)
	}
	return nil
}

// checkOCSP returns nil (good), an ErrRevoked error (revoked or unknown),
// or another error saying why no usable answer came.
func (r *Revocation) checkOCSP(ctx context.Context, cert, issuer *x509.Certificate) error {
	responder, err := pickURL(r.OCSPURL, cert.OCSPServer)
	if err != nil {
		return fmt.Errorf("no OCSP responder: %v", err)
	}
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return fmt.Errorf("build OCSP request: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, ocspTimeout)
	defer cancel()
	var hreq *http.Request
	get := strings.TrimSuffix(responder, "/") + "/" + url.PathEscape(base64.StdEncoding.EncodeToString(req))
	if u, _ := url.Parse(responder); len(get) <= maxGETRequest && u.RawQuery == "" && u.Fragment == "" {
		hreq, err = http.NewRequestWithContext(ctx, http.MethodGet, get, nil)
	} else {
		hreq, err = http.NewRequestWithContext(ctx, http.MethodPost, responder, bytes.NewReader(req))
		if hreq != nil {
			hreq.Header.Set("Content-Type", "application/ocsp-request")
		}
	}
	if err != nil {
		return fmt.Errorf("OCSP request to %s: %v", responder, err)
	}
	hreq.Header.Set("Accept", "application/ocsp-response")
	body, err := r.fetch(hreq, maxOCSPResponse)
	if err != nil {
		return fmt.Errorf("OCSP responder %s: %v", responder, err)
	}
	resp, err := ocsp.ParseResponseForCert(body, cert, issuer)
	if err != nil {
		return fmt.Errorf("OCSP responder %s: unusable answer (bad signature, error status or malformed): %v", responder, err)
	}
	if err := checkCertID(body, cert, issuer); err != nil {
		return fmt.Errorf("OCSP responder %s: %v", responder, err)
	}
	now := r.now()
	if rc := resp.Certificate; rc != nil {
		// ParseResponseForCert checked that the issuer signed rc and rc
		// signed the answer; what rc may do is ours to check.
		if !hasEKU(rc, x509.ExtKeyUsageOCSPSigning) {
			return fmt.Errorf("OCSP responder %s: answer signed by %q, which lacks extended key usage OCSPSigning", responder, rc.Subject.String())
		}
		if now.Before(rc.NotBefore) || now.After(rc.NotAfter) {
			return fmt.Errorf("OCSP responder %s: responder certificate %q is not valid now", responder, rc.Subject.String())
		}
	}
	maxAge := r.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	switch {
	case resp.ThisUpdate.After(now.Add(clockSkew)):
		return fmt.Errorf("OCSP responder %s: answer dated %s, in the future (now %s)", responder, resp.ThisUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case resp.ThisUpdate.Before(now.Add(-maxAge)):
		return fmt.Errorf("OCSP responder %s: answer dated %s, older than %v", responder, resp.ThisUpdate.UTC().Format(time.RFC3339), maxAge)
	case !resp.NextUpdate.IsZero() && now.After(resp.NextUpdate.Add(clockSkew)):
		return fmt.Errorf("OCSP responder %s: answer expired at %s", responder, resp.NextUpdate.UTC().Format(time.RFC3339))
	}
	switch resp.Status {
	case ocsp.Good:
		return nil
	case ocsp.Revoked:
		return fmt.Errorf("webeid: certificate %s revoked on %s (%s), says OCSP responder %s: %w",
			describe(cert), resp.RevokedAt.UTC().Format(time.RFC3339), reasonText(resp.RevocationReason), responder, ErrRevoked)
	default:
		return fmt.Errorf("webeid: OCSP responder %s of its issuer does not know certificate %s (status unknown), refused as not issued: %w",
			responder, describe(cert), ErrRevoked)
	}
}

// checkCertID checks that the answer x/crypto/ocsp picked (the first
// single response with cert's serial number) is about cert's issuer too:
// ParseResponseForCert matches the serial number only.
func checkCertID(der []byte, cert, issuer *x509.Certificate) error {
	bad := errors.New("malformed answer")
	in := cryptobyte.String(der)
	var resp, rbytes, basicDER, basic, tbs, responderID, singles cryptobyte.String
	var responderTag cbasn1.Tag
	if !in.ReadASN1(&resp, cbasn1.SEQUENCE) ||
		!resp.SkipASN1(cbasn1.ENUM) ||
		!resp.ReadASN1(&rbytes, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!rbytes.ReadASN1(&rbytes, cbasn1.SEQUENCE) ||
		!rbytes.SkipASN1(cbasn1.OBJECT_IDENTIFIER) ||
		!rbytes.ReadASN1(&basicDER, cbasn1.OCTET_STRING) ||
		!basicDER.ReadASN1(&basic, cbasn1.SEQUENCE) ||
		!basic.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!tbs.ReadAnyASN1(&responderID, &responderTag) ||
		responderTag != cbasn1.Tag(1).Constructed().ContextSpecific() && responderTag != cbasn1.Tag(2).Constructed().ContextSpecific() ||
		!tbs.SkipASN1(cbasn1.GeneralizedTime) ||
		!tbs.ReadASN1(&singles, cbasn1.SEQUENCE) {
		return bad
	}
	for !singles.Empty() {
		var single, id, alg cryptobyte.String
		var oid asn1.ObjectIdentifier
		var nameHash, keyHash []byte
		serial := new(big.Int)
		if !singles.ReadASN1(&single, cbasn1.SEQUENCE) ||
			!single.ReadASN1(&id, cbasn1.SEQUENCE) ||
			!id.ReadASN1(&alg, cbasn1.SEQUENCE) ||
			!alg.ReadASN1ObjectIdentifier(&oid) ||
			!id.ReadASN1Bytes(&nameHash, cbasn1.OCTET_STRING) ||
			!id.ReadASN1Bytes(&keyHash, cbasn1.OCTET_STRING) ||
			!id.ReadASN1Integer(serial) {
			return bad
		}
		if serial.Cmp(cert.SerialNumber) != 0 {
			continue
		}
		h, ok := certIDHashes[oid.String()]
		if !ok {
			return fmt.Errorf("answer uses unsupported CertID hash %s", oid)
		}
		wantName, wantKey, err := issuerHashes(h, issuer)
		if err != nil {
			return err
		}
		if !bytes.Equal(nameHash, wantName) || !bytes.Equal(keyHash, wantKey) {
			return errors.New("answer is about a certificate of another issuer with the same serial number")
		}
		return nil
	}
	return errors.New("answer is not about this certificate")
}

var certIDHashes = map[string]crypto.Hash{
	"1.3.14.3.2.26":          crypto.SHA1,
	"2.16.840.1.101.3.4.2.1": crypto.SHA256,
	"2.16.840.1.101.3.4.2.2": crypto.SHA384,
	"2.16.840.1.101.3.4.2.3": crypto.SHA512,
}

// issuerHashes returns the CertID hashes of issuer: of its subject name,
// and of its public key (the subjectPublicKey bits, RFC 6960 section 4.1.1).
func issuerHashes(h crypto.Hash, issuer *x509.Certificate) (name, key []byte, err error) {
	spki := cryptobyte.String(issuer.RawSubjectPublicKeyInfo)
	var bits []byte
	if !spki.ReadASN1(&spki, cbasn1.SEQUENCE) || !spki.SkipASN1(cbasn1.SEQUENCE) || !spki.ReadASN1BitStringAsBytes(&bits) {
		return nil, nil, errors.New("issuer public key malformed")
	}
	hn := h.New()
	hn.Write(issuer.RawSubject)
	hk := h.New()
	hk.Write(bits)
	return hn.Sum(nil), hk.Sum(nil), nil
}

func hasEKU(cert *x509.Certificate, want x509.ExtKeyUsage) bool {
	for _, u := range cert.ExtKeyUsage {
		if u == want {
			return true
		}
	}
	return false
}

// fetch does req and returns the body of a 200 answer, at most limit bytes.
func (r *Revocation) fetch(req *http.Request, limit int64) ([]byte, error) {
	resp, err := r.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("unreachable: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("answer larger than %d bytes", limit)
	}
	return body, nil
}

// checkCRL returns nil (not listed in a usable CRL), an ErrRevoked error,
// or another error saying why no usable CRL was had.
func (r *Revocation) checkCRL(ctx context.Context, cert, issuer *x509.Certificate) error {
	where, err := pickURL(r.CRLURL, cert.CRLDistributionPoints)
	if err != nil {
		return fmt.Errorf("no CRL: %v", err)
	}
	issuerID := sha256.Sum256(issuer.Raw)
	key := string(issuerID[:]) + where
	now := r.now()

	r.mu.Lock()
	c := r.crls[key]
	r.mu.Unlock()
	if c == nil || !now.Before(c.nextUpdate) {
		ch := r.flight.DoChan(key, func() (any, error) {
			// Shared by every caller waiting for this CRL: it must not die
			// with the first caller's context.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), crlTimeout)
			defer cancel()
			c, err := r.fetchCRL(fctx, where, issuer)
			if err != nil {
				return nil, err
			}
			r.store(key, c)
			return c, nil
		})
		select {
		case res := <-ch:
			if res.Err != nil {
				return fmt.Errorf("CRL %s: %v", where, res.Err)
			}
			c = res.Val.(*cachedCRL)
		case <-ctx.Done():
			return fmt.Errorf("CRL %s: %v", where, ctx.Err())
		}
	}
	if e, ok := c.revoked[cert.SerialNumber.Text(16)]; ok {
		return fmt.Errorf("webeid: certificate %s revoked on %s (%s), says CRL %s: %w",
			describe(cert), e.at.UTC().Format(time.RFC3339), reasonText(e.reason), where, ErrRevoked)
	}
	return nil
}

// crlExtensionsUnderstood are the CRL extensions whose meaning does not
// change how the list is read (x509 parses both).
var crlExtensionsUnderstood = map[string]bool{
	"2.5.29.35": true, // authority key identifier
	"2.5.29.20": true, // CRL number
}

func (r *Revocation) fetchCRL(ctx context.Context, where string, issuer *x509.Certificate) (*cachedCRL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return nil, err
	}
	body, err := r.fetch(req, maxCRL)
	if err != nil {
		return nil, err
	}
	crl, err := x509.ParseRevocationList(body)
	if err != nil {
		return nil, fmt.Errorf("malformed: %v", err)
	}
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return nil, fmt.Errorf("issued by %q, not by %q", crl.Issuer.String(), issuer.Subject.String())
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("signature does not verify against %q: %v", issuer.Subject.String(), err)
	}
	for _, ext := range crl.Extensions {
		if ext.Critical && !crlExtensionsUnderstood[ext.Id.String()] {
			return nil, fmt.Errorf("critical extension %s not supported (only complete CRLs are used)", ext.Id)
		}
	}
	now := r.now()
	switch {
	case crl.NextUpdate.IsZero():
		return nil, errors.New("no nextUpdate: cannot tell whether it is current")
	case !now.Before(crl.NextUpdate):
		return nil, fmt.Errorf("out of date since %s", crl.NextUpdate.UTC().Format(time.RFC3339))
	case crl.ThisUpdate.After(now.Add(clockSkew)):
		return nil, fmt.Errorf("dated %s, in the future", crl.ThisUpdate.UTC().Format(time.RFC3339))
	}
	c := &cachedCRL{nextUpdate: crl.NextUpdate, revoked: make(map[string]revokedEntry, len(crl.RevokedCertificateEntries))}
	for _, e := range crl.RevokedCertificateEntries {
		for _, ext := range e.Extensions {
			if ext.Critical {
				return nil, fmt.Errorf("entry for serial %x has critical extension %s (an indirect CRL?), not supported", e.SerialNumber, ext.Id)
			}
		}
		if e.SerialNumber != nil {
			c.revoked[e.SerialNumber.Text(16)] = revokedEntry{at: e.RevocationTime, reason: e.ReasonCode}
		}
	}
	return c, nil
}

// store caches c under key, making room by dropping expired CRLs, then
// the one that expires first.
func (r *Revocation) store(key string, c *cachedCRL) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.crls == nil {
		r.crls = map[string]*cachedCRL{}
	}
	now := r.now()
	for len(r.crls) >= maxCachedCRLs {
		first := ""
		for k, old := range r.crls {
			if !now.Before(old.nextUpdate) {
				first = k
				break
			}
			if first == "" || old.nextUpdate.Before(r.crls[first].nextUpdate) {
				first = k
			}
		}
		delete(r.crls, first)
	}
	r.crls[key] = c
}

// reasonText names an RFC 5280 revocation reason.
func reasonText(reason int) string {
	switch reason {
	case ocsp.Unspecified:
		return "no reason given"
	case ocsp.KeyCompromise:
		return "key compromised"
	case ocsp.CACompromise:
		return "CA compromised"
	case ocsp.AffiliationChanged:
		return "affiliation changed"
	case ocsp.Superseded:
		return "superseded"
	case ocsp.CessationOfOperation:
		return "cessation of operation"
	case ocsp.CertificateHold:
		return "suspended (certificate hold)"
	case ocsp.PrivilegeWithdrawn:
		return "privilege withdrawn"
	default:
		return fmt.Sprintf("reason %d", reason)
	}
}
