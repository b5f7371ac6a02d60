package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is the outcome of one scenario against one target: one JSON line of
// the output, and one row of the human table. Value in Unit is the headline
// figure; the other fields say how it was obtained. Throughputs are in
// decimal megabytes (10⁶ bytes) per second, sizes in bytes.
type Result struct {
	Target   string  `json:"target"`   // what was measured: coffre, versitygw, raw...
	Scenario string  `json:"scenario"` // e.g. put-64MiB, get-4KiB, ttfb-1GiB, list-walk
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"` // MB/s, ops/s, keys/s, ms, bytes
	Size     int64   `json:"size,omitempty"`
	Ops      int64   `json:"ops"`
	Bytes    int64   `json:"bytes,omitempty"`
	Seconds  float64 `json:"seconds"`
	Workers  int     `json:"workers,omitempty"`
	// P50Ms and P99Ms are latencies of single operations: time to first byte
	// for the ttfb scenarios, whole requests for the small-object ones.
	P50Ms float64 `json:"p50_ms,omitempty"`
	P99Ms float64 `json:"p99_ms,omitempty"`
	// ClientCPU is the CPU time (user+system) of the load generator itself,
	// which shares the machine with the server.
	ClientCPU float64 `json:"client_cpu_s"`
	// The Server fields describe the server process given by -pid: its CPU
	// time over the scenario (ServerCPU = ServerUserCPU + ServerSysCPU, from
	// utime and stime), its RSS when the scenario started, and its peak
	// resident set (VmHWM, reset at the start of the scenario: it is never
	// below ServerStartRSS).
	ServerCPU      float64 `json:"server_cpu_s,omitempty"`
	ServerUserCPU  float64 `json:"server_user_cpu_s,omitempty"`
	ServerSysCPU   float64 `json:"server_sys_cpu_s,omitempty"`
	ServerStartRSS int64   `json:"server_start_rss,omitempty"`
	ServerPeakRSS  int64   `json:"server_peak_rss,omitempty"`
	Errors         int64   `json:"errors"`
	FirstError     string  `json:"first_error,omitempty"`
	Note           string  `json:"note,omitempty"`
	Time           string  `json:"time"`
}

// emitter writes each result as a JSON line as soon as it is known, and keeps
// them for the table printed at the end.
type emitter struct {
	json    io.Writer // nil: no JSON output
	results []Result
}

func (e *emitter) emit(r Result) error {
	r.Time = time.Now().UTC().Format(time.RFC3339)
	r.Value = round(r.Value)
	r.P50Ms, r.P99Ms = round(r.P50Ms), round(r.P99Ms)
	r.Seconds, r.ClientCPU = round(r.Seconds), round(r.ClientCPU)
	r.ServerCPU, r.ServerUserCPU, r.ServerSysCPU = round(r.ServerCPU), round(r.ServerUserCPU), round(r.ServerSysCPU)
	e.results = append(e.results, r)
	if e.json == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = e.json.Write(append(b, '\n'))
	return err
}

// failed returns the number of results that saw errors.
func (e *emitter) failed() int {
	n := 0
	for _, r := range e.results {
		if r.Errors > 0 {
			n++
		}
	}
	return n
}

// table writes the results for people: one row per scenario.
func (e *emitter) table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tscenario\tvalue\tunit\tops\tseconds\tp50 ms\tp99 ms\tclient cpu s\tserver cpu s\tserver peak MiB\terrors\t")
	for _, r := range e.results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.2f\t%s\t%s\t%.2f\t%s\t%s\t%d\t\n",
			r.Target, r.Scenario, fmtNum(r.Value), r.Unit, r.Ops, r.Seconds,
			fmtOpt(r.P50Ms), fmtOpt(r.P99Ms), r.ClientCPU, fmtOpt(r.ServerCPU),
			fmtOpt(float64(r.ServerPeakRSS)/mib), r.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range e.results {
		if r.FirstError != "" {
			fmt.Fprintf(w, "%s %s: %d errors; first: %s\n", r.Target, r.Scenario, r.Errors, r.FirstError)
		}
	}
	return nil
}

func round(f float64) float64 {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	// Four significant digits are more than the noise allows.
	mag := math.Pow(10, 3-math.Floor(math.Log10(math.Abs(f))))
	return math.Round(f*mag) / mag
}

func fmtNum(f float64) string {
	switch {
	case f >= 100:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case f >= 10:
		return strconv.FormatFloat(f, 'f', 1, 64)
	default:
		return strconv.FormatFloat(f, 'f', 3, 64)
	}
}

func fmtOpt(f float64) string {
	if f == 0 {
		return "-"
	}
	return fmtNum(f)
}

// percentile returns the p-th percentile (0 < p ≤ 100) of ds by the
// nearest-rank method, in milliseconds.
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i]) / float64(time.Millisecond)
}

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// sizeName writes a size the way scenarios are named: 4KiB, 64MiB, 1GiB.
func sizeName(n int64) string {
	switch {
	case n >= gib && n%gib == 0:
		return strconv.FormatInt(n/gib, 10) + "GiB"
	case n >= mib && n%mib == 0:
		return strconv.FormatInt(n/mib, 10) + "MiB"
	case n >= kib && n%kib == 0:
		return strconv.FormatInt(n/kib, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// parseSize reads a size written as bytes or with a binary suffix: 4096,
// 4KiB, 64MiB, 1GiB (K, M, G and KB, MB, GB are read as binary units too).
func parseSize(s string) (int64, error) {
	t, mult := cutUnit(strings.TrimSpace(s))
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a non-negative integer with an optional unit (4096, 4KiB, 64MiB, 1GiB)", s)
	}
	return n * mult, nil
}

// cutUnit splits a size into its number and the multiplier of its unit.
func cutUnit(s string) (string, int64) {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{
		{"GiB", gib}, {"GB", gib}, {"G", gib},
		{"MiB", mib}, {"MB", mib}, {"M", mib},
		{"KiB", kib}, {"KB", kib}, {"K", kib},
		{"B", 1},
	} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			return rest, u.mult
		}
	}
	return s, 1
}

// parseSizes reads a comma-separated list of sizes.
func parseSizes(s string) ([]int64, error) {
	var sizes []int64
	for f := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		n, err := parseSize(f)
		if err != nil {
			return nil, err
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}
