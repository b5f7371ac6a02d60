package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/internal/testenv"
)

// TestSmoke runs every scenario with tiny sizes against a real `coffre
// serve`, then the raw disk and the report, and checks that the figures are
// sane: every scenario reported, no errors, throughputs and rates above
// zero, latencies below a second.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: drives a real coffre serve (runs without -short)")
	}
	srv := testenv.StartCoffre(t, testenv.Opts{})
	dir := t.TempDir()
	results := filepath.Join(dir, "results.jsonl")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	args := []string{"s3", "-quick",
		"-endpoint", srv.Endpoint, "-access-key", srv.AccessKey, "-secret-key", srv.SecretKey,
		"-target", "coffre", "-pid", strconv.Itoa(srv.PID()), "-json", results,
		"-large-sizes", "1MiB,6MiB", "-large-volume", "0", "-small-duration", "300ms",
		"-ttfb-samples", "20", "-ttfb-large-samples", "3",
		"-list-keys", "300", "-list-page", "100", "-list-concurrency", "16",
		"-multipart-size", "12MiB", "-part-size", "5MiB", "-timeout", "90s",
	}
	runOK(t, ctx, args...)
	null := httptest.NewServer(newNullServer(true))
	defer null.Close()
	runOK(t, ctx, "s3", "-quick", "-endpoint", null.URL, "-access-key", "x", "-secret-key", "y",
		"-target", "ceiling", "-json", results, "-scenarios", "large,multipart",
		"-large-sizes", "1MiB,6MiB", "-large-volume", "0", "-multipart-size", "12MiB", "-part-size", "5MiB")
	runOK(t, ctx, "raw", "-quick", "-dir", dir, "-json", results,
		"-large-sizes", "1MiB,6MiB", "-large-volume", "0", "-multipart-size", "12MiB")

	rs, err := readResults(results)
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]Result)
	for _, r := range rs {
		got[r.Target+" "+r.Scenario] = r
	}
	for _, c := range []struct {
		key     string
		unit    string
		atLeast float64 // on Value
	}{
		{"coffre idle-rss", "MiB", 1},
		{"coffre put-1MiB", "MB/s", 1},
		{"coffre get-1MiB", "MB/s", 1},
		{"coffre put-6MiB", "MB/s", 1},
		{"coffre get-6MiB", "MB/s", 1},
		{"coffre put-4KiB", "ops/s", 10},
		{"coffre get-4KiB", "ops/s", 10},
		{"coffre ttfb-4KiB", "ms", 0.001},
		{"coffre ttfb-1MiB", "ms", 0.001},
		{"coffre ttfb-6MiB", "ms", 0.001},
		{"coffre list-create", "ops/s", 10},
		{"coffre list-walk", "keys/s", 100},
		{"coffre multipart-12MiB", "MB/s", 1},
		{"ceiling put-6MiB", "MB/s", 1},
		{"ceiling get-6MiB", "MB/s", 1},
		{"ceiling multipart-12MiB", "MB/s", 1},
		{"raw put-6MiB", "MB/s", 1},
		{"raw get-6MiB", "MB/s", 1},
		{"raw get-6MiB-cold", "MB/s", 1},
		{"raw multipart-12MiB", "MB/s", 1},
	} {
		r, ok := got[c.key]
		if !ok {
			t.Errorf("no result for %s", c.key)
			continue
		}
		if r.Errors != 0 {
			t.Errorf("%s: %d errors, first: %s", c.key, r.Errors, r.FirstError)
		}
		if r.Unit != c.unit {
			t.Errorf("%s: unit %q, want %q", c.key, r.Unit, c.unit)
		}
		if r.Value < c.atLeast {
			t.Errorf("%s: %v %s, want at least %v", c.key, r.Value, r.Unit, c.atLeast)
		}
		if r.Unit == "ms" && r.P99Ms > 1000 {
			t.Errorf("%s: p99 %v ms, want less than a second", c.key, r.P99Ms)
		}
		if r.Target == "coffre" && r.Scenario != "idle-rss" && r.ServerPeakRSS == 0 {
			t.Errorf("%s: no peak RSS of the server (from /proc/%d/status)", c.key, srv.PID())
		}
	}
	if r := got["coffre list-walk"]; r.Ops != 2*300 {
		t.Errorf("list-walk listed %d keys in 2 walks, want %d", r.Ops, 2*300)
	}

	var md bytes.Buffer
	if code := run(ctx, []string{"report", "-json", results, "-peer", "coffre"}, &md, io.Discard); code != 0 {
		t.Fatalf("coffre-bench report: exit status %d", code)
	}
	for _, want := range []string{"## Targets (issue 8)", "| put-6MiB | MB/s |", "memory flat with object size", "| scenario | ceiling | raw disk |", "| multipart-12MiB | "} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
}

// runOK runs coffre-bench with args and fails the test if it does not exit 0.
func runOK(t *testing.T, ctx context.Context, args ...string) {
	t.Helper()
	var out, errs bytes.Buffer
	if code := run(ctx, args, &out, &errs); code != 0 {
		t.Fatalf("coffre-bench %s: exit status %d\n%s\n%s", strings.Join(args, " "), code, errs.String(), out.String())
	}
	t.Logf("coffre-bench %s:\n%s", args[0], out.String())
}

// TestVerifier checks that a GET is refused unless its body is exactly the
// bytes written: same bytes, same length.
func TestVerifier(t *testing.T) {
	const size = 100_000
	good := make([]byte, size)
	if _, err := io.ReadFull(newStream(7, 0, size), good); err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[size-1] ^= 1
	for _, c := range []struct {
		name string
		body []byte
		ok   bool
	}{
		{"body=same", good, true},
		{"body=last-byte-flipped", flipped, false},
		{"body=short", good[:size-1], false},
		{"body=long", append(bytes.Clone(good), 0), false},
		{"body=other-seed", mustRead(t, newStream(8, 0, size)), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			// One-byte reads and odd buffer sizes must not matter.
			for _, r := range []io.Reader{bytes.NewReader(c.body), &oneByte{bytes.NewReader(c.body)}} {
				_, err := newVerifier(1000).check(r, 7, size)
				if got := err == nil; got != c.ok {
					t.Fatalf("check: err = %v, want ok=%v", err, c.ok)
				}
				if err != nil && !errors.Is(err, errMismatch) {
					t.Fatalf("check: err = %v, want errMismatch", err)
				}
			}
		})
	}
}

// TestStreamSeek checks that a stream read from any offset gives the same
// bytes as reading it whole: multipart parts are streams from an offset.
func TestStreamSeek(t *testing.T) {
	const size = 10_000
	whole := mustRead(t, newStream(3, 0, size))
	for _, off := range []int64{0, 1, 15, 16, 17, 4095, 9999} {
		part := mustRead(t, newStream(3, off, size-off))
		if !bytes.Equal(part, whole[off:]) {
			t.Errorf("stream from offset %d differs from the whole stream's bytes from there", off)
		}
		s := newStream(3, 0, size)
		mustRead(t, io.LimitReader(s, 100))
		if _, err := s.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, s); !bytes.Equal(got, whole[off:]) {
			t.Errorf("stream after Seek(%d) differs from the whole stream's bytes from there", off)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		name string
	}{
		{"4096", 4096, "4KiB"},
		{"4KiB", 4 * kib, "4KiB"},
		{"64MiB", 64 * mib, "64MiB"},
		{"1GiB", gib, "1GiB"},
		{"256M", 256 * mib, "256MiB"},
		{"1000", 1000, "1000B"},
	} {
		got, err := parseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v, want %d", c.in, got, err, c.want)
		}
		if name := sizeName(got); name != c.name {
			t.Errorf("sizeName(%d) = %q, want %q", got, name, c.name)
		}
	}
	for _, bad := range []string{"", "MiB", "-1", "1.5GiB", "12 apples"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded, want an error", bad)
		}
	}
}

type oneByte struct{ r io.Reader }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

func mustRead(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
