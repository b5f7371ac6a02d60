package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/demo"
	"github.com/coffre-cloud/coffre/identity/op"
	"github.com/coffre-cloud/coffre/identity/password"
	"github.com/coffre-cloud/coffre/identity/webeid"
)

// identityFlags are serve's flags of the identity provider.
type identityFlags struct {
	addr, issuer    string
	tlsCert, tlsKey string
	demo            string // auto, on, off
	// The ID-card login (eidas3): off without roots.
	cardRoots, cardIntermediates string
	cardOCSP, cardCRL            string
}

func addIdentityFlags(fl *flag.FlagSet) *identityFlags {
	f := &identityFlags{}
	fl.StringVar(&f.addr, "identity-addr", "127.0.0.1:9100", "address of the OpenID Connect provider (\"off\": none)")
	fl.StringVar(&f.issuer, "identity-issuer", "", "issuer URL of the provider (default: http://ADDR on loopback, https://ADDR otherwise)")
	fl.StringVar(&f.tlsCert, "identity-tls-cert", "", "TLS certificate (PEM) of the provider; required off loopback")
	fl.StringVar(&f.tlsKey, "identity-tls-key", "", "TLS private key (PEM) of the provider")
	fl.StringVar(&f.demo, "identity-demo", "auto", "demo register, demo service and demo ID cards (with a demo card reader in the login page; not with --identity-card-roots): on, off, or auto (on with the embedded configuration, off with --config)")
	fl.StringVar(&f.cardRoots, "identity-card-roots", "", "national root CA certificates (PEM) of the ID cards: turns on the eidas3 login with the card (Web eID) and turns off the demo ID cards; without it the login page offers the card only in demo mode (demo cards)")
	fl.StringVar(&f.cardIntermediates, "identity-card-intermediates", "", "certificates (PEM) of the CAs that issue the ID cards under the roots")
	fl.StringVar(&f.cardOCSP, "identity-card-ocsp", "", "OCSP responder for the ID cards (default: the one each card certificate names)")
	fl.StringVar(&f.cardCRL, "identity-card-crl", "", "CRL address for the ID cards, used when OCSP does not answer (default: the one each card certificate names)")
	return f
}

// identityServer is the running provider.
type identityServer struct {
	srv    *http.Server
	ln     net.Listener
	tls    bool
	issuer string
	reg    *identity.Register
	prov   *op.Provider
}

// startIdentity opens the register and builds the provider's server; nil
// when the provider is off.
func startIdentity(ctx context.Context, f *identityFlags, st *site, embedded bool, log *slog.Logger) (*identityServer, error) {
	if f.addr == "off" {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(f.addr)
	if err != nil {
		return nil, fmt.Errorf("--identity-addr %q: %w", f.addr, err)
	}
	loopback := identity.IsLoopbackHost(host)
	useTLS := f.tlsCert != "" || f.tlsKey != ""
	if useTLS && (f.tlsCert == "" || f.tlsKey == "") {
		return nil, errors.New("--identity-tls-cert and --identity-tls-key go together")
	}
	if !loopback && !useTLS {
		return nil, fmt.Errorf("--identity-addr %s is not a loopback address: the provider needs TLS there (--identity-tls-cert, --identity-tls-key)", f.addr)
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return nil, fmt.Errorf("listening for the identity provider: %w", err)
	}
	issuer := f.issuer
	if issuer == "" {
		scheme := "http"
		if useTLS {
			scheme = "https"
		}
		issuer = scheme + "://" + ln.Addr().String()
	}
	issuer = strings.TrimSuffix(issuer, "/")
	reg, err := identity.Open(ctx, st.meta, st.keys)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("opening the identity register: %w", err)
	}
	st.vault.OnRootRotation(reg.RewrapRoot)
	params := password.DefaultParams()
	lim, err := password.NewLimiter(2, params)
	if err != nil {
		ln.Close()
		return nil, err
	}
	card, err := cardValidator(f)
	if err != nil {
		ln.Close()
		return nil, err
	}
	demoOn := f.demo == "on" || (f.demo == "auto" && embedded)
	residentsAdded := 0
	var cards *demo.Cards // the demo ID cards: demo mode without --identity-card-roots
	if demoOn {
		if residentsAdded, err = demo.Seed(ctx, reg, params); err != nil {
			ln.Close()
			return nil, fmt.Errorf("demo register: %w", err)
		}
		if card == nil {
			cards, err = demo.OpenCards(ctx, demo.CardsConfig{Register: reg, Keys: st.keys, Dir: filepath.Join(st.dir, "identity-demo"), Issuer: issuer, Logger: log})
			if err != nil {
				ln.Close()
				return nil, fmt.Errorf("demo ID cards: %w", err)
			}
			card = cards.Validator()
		}
	}
	if card != nil && cards == nil && !strings.HasPrefix(issuer, "https://") {
		log.Warn("identity: the Web eID application signs only for https pages: the ID-card login needs an https issuer (only test clients can use it over http)", "issuer", issuer)
	}
	pc := op.Config{Issuer: issuer, Register: reg, Keys: st.keys, Logger: log, PasswordLimiter: lim, Card: card}
	if cards != nil {
		// DEMO ONLY: the login page loads the demo card reader, which
		// stands in for the Web eID extension and signs with the demo
		// cards' keys.
		pc.CardReaderScript = cards.ReaderScript()
	}
	p, err := op.New(ctx, pc)
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", p.Handler())
	if demoOn {
		svc, err := demo.NewService(ctx, reg, issuer, cards)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("demo service: %w", err)
		}
		mux.Handle("/demo/", http.StripPrefix("/demo", svc))
		log.Info("identity demo", "service", issuer+"/demo/", "residents_added", residentsAdded)
		if cards != nil {
			log.Info("identity demo ID cards (a stand-in for real cards: trusted in demo mode only)", "cards", cards.Len(), "pin", demo.CardPIN,
				"reader", cards.ReaderScript(), "crl", cards.CRLURL(), "ca", issuer+"/demo/ca.pem")
		}
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return &identityServer{srv: srv, ln: ln, tls: useTLS, issuer: issuer, reg: reg, prov: p}, nil
}

// serve serves until the server is shut down.
func (s *identityServer) serve(f *identityFlags) error {
	var err error
	if s.tls {
		err = s.srv.ServeTLS(s.ln, f.tlsCert, f.tlsKey)
	} else {
		err = s.srv.Serve(s.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// cardValidator builds the ID-card validator of the flags; nil when
// --identity-card-roots is not set. Its origin is left to the provider,
// which uses the issuer's.
func cardValidator(f *identityFlags) (*webeid.Validator, error) {
	if f.cardRoots == "" {
		if f.cardIntermediates != "" || f.cardOCSP != "" || f.cardCRL != "" {
			return nil, errors.New("--identity-card-intermediates, --identity-card-ocsp and --identity-card-crl need --identity-card-roots (the national root CAs)")
		}
		return nil, nil
	}
	roots, err := readCertPool(f.cardRoots)
	if err != nil {
		return nil, fmt.Errorf("--identity-card-roots: %w", err)
	}
	intermediates := x509.NewCertPool()
	if f.cardIntermediates != "" {
		if intermediates, err = readCertPool(f.cardIntermediates); err != nil {
			return nil, fmt.Errorf("--identity-card-intermediates: %w", err)
		}
	}
	for _, u := range []struct{ flag, url string }{{"--identity-card-ocsp", f.cardOCSP}, {"--identity-card-crl", f.cardCRL}} {
		if u.url == "" {
			continue
		}
		if pu, err := url.Parse(u.url); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, fmt.Errorf("%s %q: want an http or https URL", u.flag, u.url)
		}
	}
	return &webeid.Validator{
		Roots:         roots,
		Intermediates: intermediates,
		Revocation:    &webeid.Revocation{OCSPURL: f.cardOCSP, CRLURL: f.cardCRL},
	}, nil
}

// readCertPool reads a PEM file of CA certificates.
func readCertPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, n+1, err)
		}
		if !cert.IsCA {
			return nil, fmt.Errorf("%s: certificate %d (%s) is not a CA certificate", path, n+1, cert.Subject)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", path)
	}
	return pool, nil
}

// readCertificate reads a certificate file, PEM or DER, and returns its DER.
func readCertificate(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(b); block != nil {
		b = block.Bytes
	}
	if _, err := x509.ParseCertificate(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}
