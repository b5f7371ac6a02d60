package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	rdebug "runtime/debug"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/coffre-cloud/coffre/s3api"
	"github.com/coffre-cloud/coffre/vault"
)

type serveCmd struct {
	stdout, stderr io.Writer
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, opts))
		}
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func (c *serveCmd) Run(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(c.stderr)
	sf := addSiteFlags(fl)
	addr := fl.String("s3-addr", "", "address of the S3 API (default: the site's s3_address, 127.0.0.1:9000 for the first site)")
	var domains stringList
	fl.Var(&domains, "s3-domain", "base domain for virtual-hosted-style requests (repeatable; default localhost)")
	uploadExpiry := fl.Duration("upload-expiry", 7*24*time.Hour, "abort multipart uploads unfinished after this long")
	debug := fl.Bool("debug", false, "log every request")
	var kf keyFlags
	fl.StringVar(&kf.pkcs11Module, "pkcs11-module", "", "PKCS#11 library of the HSM holding the root keys (PIN in COFFRE_PKCS11_PIN or COFFRE_PKCS11_PIN_FILE); default: the built-in keyring")
	fl.StringVar(&kf.pkcs11Token, "pkcs11-token", "coffre", "label of the HSM token")
	gcInterval := fl.Duration("gc-interval", time.Minute, "how often the janitor removes garbage and expired uploads")
	gcGrace := fl.Duration("gc-grace", time.Minute, "how long replaced or deleted bytes stay readable by GETs already under way")
	metricsOn := fl.Bool("metrics", false, "serve Prometheus metrics at /metrics on the S3 port, without authentication")
	inlineMax := fl.Int64("inline-max", vault.DefaultInlineMax, "keep objects of up to this many bytes, encrypted, in the metadata store rather than as blobs on the bucket's offer (0: never)")
	idf := addIdentityFlags(fl)
	pprofAddr := fl.String("pprof", "", "serve Go's profiler (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6060")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fl.Arg(0))
	}
	tuneGC(os.Getenv)
	if len(domains) == 0 {
		domains = stringList{"localhost"}
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := newLogger(c.stderr, level)

	cfg, site, err := sf.load()
	if err != nil {
		return err
	}
	data := cfg.Data
	if *addr == "" {
		*addr = site.S3Address
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	st, err := openSite(ctx, cfg, site, log, siteOpts{uploadExpiry: *uploadExpiry, inlineMax: *inlineMax}, kf, c.stdout)
	if err != nil {
		return err
	}
	defer st.Close()
	id, secret, fresh, err := ensureRoot(ctx, st.vault, data)
	if err != nil {
		return err
	}
	if fresh {
		fmt.Fprintf(c.stdout, "Root credentials (printed once; also in %s/root-credentials, mode 0600):\n  AWS_ACCESS_KEY_ID=%s\n  AWS_SECRET_ACCESS_KEY=%s\n", data, id, secret)
	}

	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr, log); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening for S3: %w", err)
	}
	srv := &http.Server{
		ReadHeaderTimeout: 15 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	ids, err := startIdentity(ctx, idf, st, sf.config == "", log)
	if err != nil {
		ln.Close()
		return err
	}
	s3c := s3api.Config{Vault: st.vault, Logger: log, Domains: domains, Metrics: *metricsOn}
	idAttr := slog.String("identity", "off")
	if ids != nil {
		idAttr = slog.String("identity", ids.issuer)
		// STS AssumeRoleWithWebIdentity on the S3 port, for the agents.
		s3c.WebIdentity = newWebIdentity(ids)
	}
	srv.Handler = s3api.New(s3c)
	log.Info("coffre serving", "site", st.name, "s3", "http://"+ln.Addr().String(), idAttr, "data", data, "offers", strings.Join(site.Offers, ","), "root_access_key", id)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		return st.vault.Run(gctx, vault.JanitorConfig{Interval: *gcInterval, Grace: *gcGrace})
	})
	g.Go(func() error {
		// Without the admin socket the site still serves; key administration
		// then waits for a restart (e.g. a data path too long for a socket).
		var ida *identityAdmin
		if ids != nil {
			ida = &identityAdmin{reg: ids.reg, prov: ids.prov}
		}
		if err := serveAdmin(gctx, st.dir, st.vault, ida); err != nil {
			log.Warn("admin socket unavailable: coffre keys and coffre tenant shred cannot reach this server", "err", err)
		}
		return nil
	})
	if ids != nil {
		g.Go(func() error { return ids.serve(idf) })
	}
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if ids != nil {
			ids.srv.Shutdown(sctx)
		}
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}

// servePprof serves the profiler on a loopback address only: profiles show
// names and timings that are nobody else's business.
// serveGCPercent is the garbage collector's target (GOGC) of coffre serve:
// the heap may grow to 4 times what is live (Go's default is 2) before a
// collection. Small PUTs allocate quickly (records, index nodes, request
// state), and with the default the collector took a tenth of the server's
// CPU. Measured on 4 KiB PUTs from 8 clients, six pairs of runs: 0.99 to
// 1.35 x the PUTs per second (1.12 x the median), 0.73 to 0.99 x the CPU
// per PUT, for a peak RSS of 137 to 147 MiB instead of 94 to 98.
const serveGCPercent = 300

// tuneGC sets serveGCPercent, unless the operator chose with GOGC.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		rdebug.SetGCPercent(serveGCPercent)
	}
}

func servePprof(addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--pprof %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--pprof %q: the profiler listens on a loopback address only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("profiler serving", "pprof", "http://"+ln.Addr().String()+"/debug/pprof/")
	go http.Serve(ln, mux)
	return nil
}
