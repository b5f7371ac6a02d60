package webeidtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSPSigner says who signs the test responder's answers.
type OCSPSigner int

const (
	// SignedByCA: the issuing CA's own key, no certificate embedded.
	SignedByCA OCSPSigner = iota
	// SignedByResponder: a delegated responder certificate issued by the
	// CA with extended key usage id-kp-OCSPSigning, embedded in the answer.
	SignedByResponder
	// SignedByResponderWithoutEKU: a certificate issued by the CA but
	// without id-kp-OCSPSigning, embedded: clients must refuse it.
	SignedByResponderWithoutEKU
	// SignedByStranger: a key the CA never certified, with the CA's name as
	// responder ID; the answer always says "good". Clients must refuse it.
	SignedByStranger
)

// Server is the test PKI's revocation server, on 127.0.0.1: an OCSP
// responder (RFC 6960, GET and POST, built with golang.org/x/crypto/ocsp)
// at URL+"/ocsp" and the issuing CA's CRL at URL+"/crl". Its switches are
// safe to flip while tests run.
type Server struct {
	// URL is the server's base address, http://127.0.0.1:port.
	URL string

	ca       *x509.Certificate
	caKey    *ecdsa.PrivateKey
	delegate struct {
		cert, noEKU *x509.Certificate
		key         *ecdsa.PrivateKey
	}
	stranger *ecdsa.PrivateKey

	mu        sync.Mutex
	issued    map[string]bool
	revoked   map[string]revokedCert
	ocspDown  bool
	crlDown   bool
	signer    OCSPSigner
	ocspAge   time.Duration
	crlNumber int64

	ocspGets, ocspPosts, crls atomic.Int64
}

type revokedCert struct {
	at     time.Time
	reason int
}

func startServer(tb testing.TB) *Server {
	s := &Server{issued: map[string]bool{}, revoked: map[string]revokedCert{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/ocsp", s.serveOCSP)
	mux.HandleFunc("/ocsp/", s.serveOCSP)
	mux.HandleFunc("GET /crl", s.serveCRL)
	hs := httptest.NewServer(mux)
	tb.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// OCSPURL is the responder address written in card certificates.
func (s *Server) OCSPURL() string { return s.URL + "/ocsp" }

// CRLURL is the CRL distribution point written in card certificates.
func (s *Server) CRLURL() string { return s.URL + "/crl" }

// Revoke marks the certificate with this serial number revoked (key
// compromise), for OCSP and in the CRL from now on.
func (s *Server) Revoke(serial *big.Int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[string(serial.Bytes())] = revokedCert{at: time.Now().Add(-time.Second).Truncate(time.Second), reason: ocsp.KeyCompromise}
}

// SetOCSPDown makes the responder answer HTTP 503 (down) or work (up).
func (s *Server) SetOCSPDown(down bool) { s.mu.Lock(); s.ocspDown = down; s.mu.Unlock() }

// SetCRLDown makes the CRL endpoint answer HTTP 503 (down) or work (up).
func (s *Server) SetCRLDown(down bool) { s.mu.Lock(); s.crlDown = down; s.mu.Unlock() }

// SetOCSPSigner picks who signs OCSP answers from now on.
func (s *Server) SetOCSPSigner(who OCSPSigner) { s.mu.Lock(); s.signer = who; s.mu.Unlock() }

// SetOCSPAge backdates OCSP answers: thisUpdate is now minus age (zero by
// default), nextUpdate an hour after thisUpdate.
func (s *Server) SetOCSPAge(age time.Duration) { s.mu.Lock(); s.ocspAge = age; s.mu.Unlock() }

// OCSPRequests returns how many OCSP requests came by GET and by POST.
func (s *Server) OCSPRequests() (get, post int) {
	return int(s.ocspGets.Load()), int(s.ocspPosts.Load())
}

// CRLRequests returns how many times the CRL was fetched.
func (s *Server) CRLRequests() int { return int(s.crls.Load()) }

func (s *Server) issue(serial *big.Int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issued[string(serial.Bytes())] = true
}

func (s *Server) serveOCSP(w http.ResponseWriter, r *http.Request) {
	var der []byte
	switch r.Method {
	case http.MethodGet:
		s.ocspGets.Add(1)
		enc, ok := strings.CutPrefix(r.URL.EscapedPath(), "/ocsp/")
		if !ok {
			http.Error(w, "GET /ocsp/{base64 request}", http.StatusBadRequest)
			return
		}
		b64, err := url.PathUnescape(enc)
		if err == nil {
			der, err = base64.StdEncoding.DecodeString(b64)
		}
		if err != nil {
			w.Write(ocsp.MalformedRequestErrorResponse)
			return
		}
	case http.MethodPost:
		s.ocspPosts.Add(1)
		var err error
		if der, err = io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10)); err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
	default:
		http.Error(w, "GET or POST", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	down, who, age := s.ocspDown, s.signer, s.ocspAge
	s.mu.Unlock()
	if down {
		http.Error(w, "OCSP responder down (test switch)", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	req, err := ocsp.ParseRequest(der)
	if err != nil {
		w.Write(ocsp.MalformedRequestErrorResponse)
		return
	}
	if !s.forThisCA(req) {
		w.Write(ocsp.UnauthorizedErrorResponse)
		return
	}
	thisUpdate := time.Now().Add(-age).Truncate(time.Second)
	tmpl := ocsp.Response{
		SerialNumber: req.SerialNumber,
		ThisUpdate:   thisUpdate,
		NextUpdate:   thisUpdate.Add(time.Hour),
		IssuerHash:   req.HashAlgorithm,
	}
	serial := req.SerialNumber.Bytes()
	s.mu.Lock()
	rev, isRevoked := s.revoked[string(serial)]
	isIssued := s.issued[string(serial)]
	s.mu.Unlock()
	switch {
	case who == SignedByStranger:
		tmpl.Status = ocsp.Good
	case isRevoked:
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, rev.at, rev.reason
	case isIssued:
		tmpl.Status = ocsp.Good
	default:
		tmpl.Status = ocsp.Unknown
	}
	responder, signer := s.ca, crypto.Signer(s.caKey)
	switch who {
	case SignedByResponder:
		responder, signer = s.delegate.cert, s.delegate.key
		tmpl.Certificate = responder
	case SignedByResponderWithoutEKU:
		responder, signer = s.delegate.noEKU, s.delegate.key
		tmpl.Certificate = responder
	case SignedByStranger:
		signer = s.stranger
	}
	resp, err := ocsp.CreateResponse(s.ca, responder, tmpl, signer)
	if err != nil {
		w.Write(ocsp.InternalErrorErrorResponse)
		return
	}
	w.Write(resp)
}

// forThisCA reports whether the request names the test CA as issuer.
func (s *Server) forThisCA(req *ocsp.Request) bool {
	// Build the CertID this CA would have, with the request's hash, and
	// compare: x/crypto/ocsp computes it the RFC 6960 way.
	probe := &x509.Certificate{SerialNumber: req.SerialNumber}
	der, err := ocsp.CreateRequest(probe, s.ca, &ocsp.RequestOptions{Hash: req.HashAlgorithm})
	if err != nil {
		return false
	}
	want, err := ocsp.ParseRequest(der)
	return err == nil && bytes.Equal(want.IssuerNameHash, req.IssuerNameHash) && bytes.Equal(want.IssuerKeyHash, req.IssuerKeyHash)
}

func (s *Server) serveCRL(w http.ResponseWriter, r *http.Request) {
	s.crls.Add(1)
	s.mu.Lock()
	if s.crlDown {
		s.mu.Unlock()
		http.Error(w, "CRL endpoint down (test switch)", http.StatusServiceUnavailable)
		return
	}
	s.crlNumber++
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(s.crlNumber),
		ThisUpdate: now.Add(-time.Minute),
		NextUpdate: now.Add(time.Hour),
	}
	for serial, rev := range s.revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber:   new(big.Int).SetBytes([]byte(serial)),
			RevocationTime: rev.at,
			ReasonCode:     rev.reason,
		})
	}
	s.mu.Unlock()
	crl, err := x509.CreateRevocationList(rand.Reader, tmpl, s.ca, s.caKey)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Write(crl)
}
