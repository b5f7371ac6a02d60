package torture_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffre-cloud/coffre/backend/fs"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/meta/sqlite"
	"github.com/coffre-cloud/coffre/s3api"
	"github.com/coffre-cloud/coffre/vault"
)

const (
	faultClients = 6
	// faultShare is the part of TORTURE_TIME the fault test takes.
	faultShare = 0.25
	// faultShort is the budget of the short variant.
	faultShort = 12 * time.Second
	// faultOpTimeout bounds one operation: injected latencies add at most
	// 40 ms per backend call, so an operation that takes longer hangs.
	faultOpTimeout = 30 * time.Second
)

// TestFaultTorture runs the random workload through the S3 handler in this
// process, over a file-system backend wrapped in a faultStore, with the
// janitor running. Every answer must be a clean S3 error (checked by the
// inspector) or right: GETs return the bytes written or fail in a way the
// client sees (an error status, or a body cut short of its
// Content-Length), and never blame the client for the backend's failure.
// Then faults stop and every key is read once more: everything must read
// back, except objects whose bytes were corrupted at rest, which must fail
// their integrity check.
func TestFaultTorture(t *testing.T) {
	s := settingsFor(t, faultShare, faultShort)
	start := time.Now()
	stats := &counters{}
	w := newWorkload(t, s.seed, faultClients, stats)
	w.faulty, w.opTimeout, w.maxSingle, w.maxParts = true, faultOpTimeout, 1536*kib, 2
	site := newFaultSite(t, s.seed, defaultRates, w)
	w.client = site.client

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	if _, err := site.client(0).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(w.bucket)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", w.bucket, err)
	}
	cancel()

	site.faults.on.Store(true)
	clients := w.run(faultClients)
	t.Cleanup(func() { w.gate.stop(); clients.Wait() }) // after a t.Fatal too
	time.Sleep(s.budget - min(s.budget/4, 20*time.Second))
	w.gate.stop()
	clients.Wait()
	site.faults.on.Store(false)

	// Faults off: every key reads back, or fails its integrity check.
	failuresBefore := stats.get("outcome.get.error") + stats.get("outcome.get.body_cut_short")
	integrityBefore := stats.get("integrity.answered_500") + stats.get("integrity.failed_mid_stream")
	ctx, cancel = context.WithTimeout(context.Background(), sweepTimeout)
	w.sweep(ctx, site.client(0), 0)
	cancel()
	failures := stats.get("outcome.get.error") + stats.get("outcome.get.body_cut_short") - failuresBefore
	integrity := stats.get("integrity.answered_500") + stats.get("integrity.failed_mid_stream") - integrityBefore
	stats.add("final_sweep.read_failures", failures)
	stats.add("final_sweep.integrity_failures", integrity)
	if failures > integrity {
		w.violate("unexplained_failure", "with faults off, %d GETs of the final sweep failed, only %d of them on stored data that failed its integrity check", failures, integrity)
	}
	if n := site.log.panics.Load(); n > 0 {
		w.violate("panic", "the S3 handler recovered %d panics: %s", n, site.log.lastPanic())
	}

	nAcked, nAmbiguous, nLanded, nVoid := w.m.outcomes()
	stats.add("writes.acknowledged", int64(nAcked))
	stats.add("writes.failed_or_ambiguous", int64(nAmbiguous))
	stats.add("writes.failed_seen_landed", int64(nLanded))
	stats.add("writes.failed_seen_void", int64(nVoid))
	stats.add("faults", stats.sum("faults."))
	stats.add("violations", stats.sum("violations."))
	writeReport(t, "faults", []string{
		fmt.Sprintf("seed %#x", s.seed),
		fmt.Sprintf("budget %v", s.budget),
		fmt.Sprintf("elapsed %v", time.Since(start).Round(time.Second)),
		fmt.Sprintf("clients %d", faultClients),
		fmt.Sprintf("keys %d", len(w.keys)),
	}, stats)
	if stats.get("faults") == 0 {
		t.Errorf("no fault was injected")
	}
}

// faultSite is a Coffre site in the test process: SQLite metadata, a
// file-system backend behind a faultStore, a vault with its janitor, and
// the S3 handler served over TLS (where the SDK sends aws-chunked bodies
// with checksum trailers) and plain HTTP (where it signs the payload's
// SHA-256), as s3api's own tests build it.
type faultSite struct {
	faults *faultStore
	log    *logWatch
	s3tls  *s3.Client
	s3http *s3.Client
}

func newFaultSite(t *testing.T, seed uint64, rates faultRates, w *workload) *faultSite {
	t.Helper()
	dir := t.TempDir()
	m, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	st, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatalf("fs.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	site := &faultSite{faults: newFaultStore(st, seed, rates, w.stats), log: &logWatch{stats: w.stats}}
	log := slog.New(site.log)
	v := vault.New(vault.Config{
		Meta: m, Backend: site.faults, Keys: testenv.Keyring(t),
		InlineMax: vault.DefaultInlineMax, Region: "us-east-1", Logger: log,
	})
	t.Cleanup(v.Close)
	ctx := context.Background()
	if _, err := v.CreateTenant(ctx, "torture"); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	key, err := v.CreateAccessKey(ctx, "torture")
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	jctx, stop := context.WithCancel(ctx)
	var janitor sync.WaitGroup
	janitor.Go(func() {
		v.Run(jctx, vault.JanitorConfig{Interval: 500 * time.Millisecond, Grace: 500 * time.Millisecond})
	})
	t.Cleanup(func() { stop(); janitor.Wait() })

	h := s3api.New(s3api.Config{Vault: v, Domains: []string{"localhost"}, Logger: log})
	tlsSrv := httptest.NewTLSServer(h)
	t.Cleanup(tlsSrv.Close)
	plainSrv := httptest.NewServer(h)
	t.Cleanup(plainSrv.Close)
	newClient := func(url string, tr http.RoundTripper) *s3.Client {
		return s3.New(s3.Options{
			Region:                     "us-east-1",
			BaseEndpoint:               aws.String(url),
			UsePathStyle:               true,
			Credentials:                credentials.NewStaticCredentialsProvider(key.ID, key.Secret, ""),
			Retryer:                    aws.NopRetryer{},
			RetryMaxAttempts:           1,
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
			HTTPClient:                 &http.Client{Transport: &inspector{next: tr, w: w}},
		})
	}
	site.s3tls = newClient(tlsSrv.URL, tlsSrv.Client().Transport)
	site.s3http = newClient(plainSrv.URL, plainSrv.Client().Transport)
	return site
}

// client returns the SDK client of client id: over TLS for even ids, plain
// HTTP for odd ones.
func (s *faultSite) client(id int) *s3.Client {
	if id%2 == 0 {
		return s.s3tls
	}
	return s.s3http
}

// logWatch is the site's slog handler: it counts the panics the S3 handler
// recovers and the integrity failures it reports after the status line
// (the connection is then cut).
type logWatch struct {
	stats  *counters
	panics atomic.Int64
	mu     sync.Mutex
	last   string
}

func (l *logWatch) Enabled(context.Context, slog.Level) bool { return true }

func (l *logWatch) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	line := b.String()
	switch {
	case strings.Contains(r.Message, "panic"):
		l.panics.Add(1)
		l.mu.Lock()
		l.last = line
		l.mu.Unlock()
	case strings.Contains(r.Message, "mid-stream") && strings.Contains(line, "integrity check"):
		l.stats.add("integrity.failed_mid_stream", 1)
	}
	return nil
}

func (l *logWatch) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logWatch) WithGroup(string) slog.Handler      { return l }

func (l *logWatch) lastPanic() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}
