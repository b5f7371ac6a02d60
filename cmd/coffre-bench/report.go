package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Targets of issue 8, checked by the report.
const (
	largeVsRaw   = 0.7 // large objects: at least this share of the raw disk
	largeVsPeer  = 1.0 // and at least as fast as the peer
	smallVsPeer  = 1.0 // small objects: at least as many ops/s as the peer
	flatMemSlack = 64 * mib
)

// stringsFlag is a repeatable flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ", ") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// reportCmd turns the JSON lines of one run (Coffre, a peer and the raw disk)
// into the Markdown of BENCHMARKS.md: one table per scenario group with the
// ratios, and the targets marked met or not met.
type reportCmd struct {
	stdout, stderr io.Writer
}

func (c *reportCmd) Run(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	fl.SetOutput(c.stderr)
	jsonPath := fl.String("json", "", "JSON lines written by the s3 and raw commands of one run")
	coffre := fl.String("coffre", "coffre", "target name of Coffre in the results")
	peer := fl.String("peer", "", "target name of the peer server (default: the target that is neither -coffre nor -raw)")
	raw := fl.String("raw", "raw", "target name of the raw disk")
	ceiling := fl.String("ceiling", "ceiling", "target name of the null server (coffre-bench null -md5)")
	title := fl.String("title", "Benchmarks", "title of the document")
	var meta, notes, preamble stringsFlag
	fl.Var(&meta, "meta", "KEY=VALUE line of the machine and versions section (repeatable, in order)")
	fl.Var(&notes, "note", "a paragraph of the method section (repeatable)")
	fl.Var(&preamble, "preamble", "a paragraph under the title (repeatable)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *jsonPath == "" {
		return fmt.Errorf("%w: -json is required", errUsage)
	}
	results, err := readResults(*jsonPath)
	if err != nil {
		return err
	}
	if *peer == "" {
		for _, r := range results {
			if r.Target != *coffre && r.Target != *raw && r.Target != *ceiling {
				*peer = r.Target
				break
			}
		}
	}
	rep := &report{results: results, coffre: *coffre, peer: *peer, raw: *raw, ceiling: *ceiling}
	w := bufio.NewWriter(c.stdout)
	fmt.Fprintf(w, "# %s\n\n", *title)
	for _, p := range preamble {
		fmt.Fprintf(w, "%s\n\n", p)
	}
	if len(meta) > 0 {
		fmt.Fprintf(w, "## Machine and versions\n\n")
		for _, m := range meta {
			k, v, _ := strings.Cut(m, "=")
			fmt.Fprintf(w, "- %s: %s\n", k, v)
		}
		fmt.Fprintln(w)
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "## Method\n\n")
		for _, n := range notes {
			fmt.Fprintf(w, "%s\n\n", n)
		}
	}
	rep.targets(w)
	rep.tables(w)
	rep.errors(w)
	fmt.Fprintf(w, "## Raw results\n\nOne JSON line per scenario and target, as `coffre-bench` wrote them (`cpu_s` and `peak_rss` are the server's, from /proc).\n\n<details><summary>%d lines</summary>\n\n```json\n", len(results))
	for _, r := range results {
		b, _ := json.Marshal(r)
		fmt.Fprintf(w, "%s\n", b)
	}
	fmt.Fprintf(w, "```\n\n</details>\n")
	return w.Flush()
}

func readResults(path string) ([]Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []Result
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		rs = append(rs, r)
	}
	return rs, sc.Err()
}

// report compares the results of Coffre with those of the peer and the raw
// disk.
type report struct {
	results           []Result
	coffre, peer, raw string
	ceiling           string // the null server's target name
}

// find returns the result of a scenario for a target. When the scenario
// ran more than once (bench.sh runs rounds, and the raw disk before and
// after the servers), it returns the best: other work on a shared machine
// only ever slows a run down, so the best run is the one it disturbed
// least. The server's idle RSS is the first one, taken before any work.
func (r *report) find(target, scenario string) (Result, bool) {
	all := r.all(target, scenario)
	if len(all) == 0 {
		return Result{}, false
	}
	best := all[0]
	if scenario == "idle-rss" {
		return best, true
	}
	for _, x := range all[1:] {
		if better(x, best) {
			best = x
		}
	}
	return best, true
}

// better reports whether a is a better run of a scenario than b: fewer
// errors, then a higher throughput or a lower latency.
func better(a, b Result) bool {
	if a.Errors != b.Errors {
		return a.Errors < b.Errors
	}
	if a.Unit == "ms" {
		return a.Value < b.Value
	}
	return a.Value > b.Value
}

// all returns every result of a scenario for a target, in the order they
// ran.
func (r *report) all(target, scenario string) []Result {
	var xs []Result
	for _, x := range r.results {
		if x.Target == target && x.Scenario == scenario {
			xs = append(xs, x)
		}
	}
	return xs
}

// rounds lists the figure of every run of a scenario when there was more
// than one.
func (r *report) rounds(target, scenario string, value func(Result) float64) string {
	all := r.all(target, scenario)
	if len(all) < 2 {
		return ""
	}
	var vs []string
	for _, x := range all {
		vs = append(vs, fmtNum(value(x)))
	}
	return strings.Join(vs, " · ")
}

// scenarios returns the scenarios Coffre ran (else the peer), in the order
// they ran, that match keep.
func (r *report) scenarios(keep func(Result) bool) []Result {
	var out []Result
	seen := make(map[string]bool)
	for _, who := range []string{r.coffre, r.peer} {
		for _, x := range r.results {
			if x.Target == who && !seen[x.Scenario] && keep(x) {
				seen[x.Scenario] = true
				out = append(out, x)
			}
		}
	}
	return out
}

// row is one line of a table: a figure of a scenario for each target.
type row struct {
	label    string
	scenario string // Coffre's and the peer's
	raw      string // the raw disk's scenario, "" for none
	value    func(Result) float64
	unit     string
	lower    bool // lower is better (latencies)
	cpu      bool // show the servers' CPU time and peak RSS
}

func value(x Result) float64 { return x.Value }
func p50(x Result) float64   { return x.P50Ms }
func p99(x Result) float64   { return x.P99Ms }

func isLarge(x Result) bool {
	return (strings.HasPrefix(x.Scenario, "put-") || strings.HasPrefix(x.Scenario, "get-")) && x.Unit == "MB/s"
}

func isSmall(x Result) bool {
	return (strings.HasPrefix(x.Scenario, "put-") || strings.HasPrefix(x.Scenario, "get-")) && x.Unit == "ops/s"
}

func (r *report) tables(w io.Writer) {
	fmt.Fprintf(w, "## Results\n\nEach figure is the best of its runs (rounds of the servers, the raw disk before and after them: other work on the machine only ever slows a run down); the last columns give every run, in order, to show the noise. Ratios are Coffre's figure over the other's: above 1 Coffre is faster for throughputs, slower for latencies (ms). CPU is the server process's time over the scenario, in user space plus in the kernel on its behalf (system calls: writes, fsyncs, network); the CPU cost divides it by the work done. The load generator's own CPU time is in the raw results.\n\n")
	var large []row
	for _, x := range r.scenarios(isLarge) {
		large = append(large, row{label: x.Scenario, scenario: x.Scenario, raw: x.Scenario, value: value, unit: x.Unit, cpu: true})
		if _, ok := r.find(r.raw, x.Scenario+"-cold"); ok {
			large = append(large, row{label: x.Scenario + " vs a cold disk read", scenario: x.Scenario, raw: x.Scenario + "-cold", value: value, unit: x.Unit})
		}
	}
	r.table(w, "Large objects: one stream, MB/s", large)

	var small []row
	for _, x := range r.scenarios(isSmall) {
		small = append(small,
			row{label: fmt.Sprintf("%s (%d clients)", x.Scenario, x.Workers), scenario: x.Scenario, value: value, unit: x.Unit, cpu: true},
			row{label: x.Scenario + " latency p50", scenario: x.Scenario, value: p50, unit: "ms", lower: true},
			row{label: x.Scenario + " latency p99", scenario: x.Scenario, value: p99, unit: "ms", lower: true})
	}
	r.table(w, "Small objects: concurrent clients", small)

	var ttfb []row
	for _, x := range r.scenarios(func(x Result) bool { return strings.HasPrefix(x.Scenario, "ttfb-") }) {
		ttfb = append(ttfb,
			row{label: x.Scenario + " p50", scenario: x.Scenario, value: p50, unit: "ms", lower: true},
			row{label: x.Scenario + " p99", scenario: x.Scenario, value: p99, unit: "ms", lower: true})
	}
	r.table(w, "Time to first byte of a GET", ttfb)

	var list []row
	for _, x := range r.scenarios(func(x Result) bool { return strings.HasPrefix(x.Scenario, "list-") }) {
		label := x.Scenario
		if x.Workers > 0 {
			label = fmt.Sprintf("%s (%d keys, %d clients)", x.Scenario, x.Ops, x.Workers)
		}
		list = append(list, row{label: label, scenario: x.Scenario, value: value, unit: x.Unit, cpu: true})
		if x.Scenario == "list-walk" {
			list = append(list,
				row{label: "list-walk page p50", scenario: x.Scenario, value: p50, unit: "ms", lower: true},
				row{label: "list-walk page p99", scenario: x.Scenario, value: p99, unit: "ms", lower: true})
		}
	}
	r.table(w, "Listing: ListObjectsV2 over a large bucket", list)

	var mp []row
	for _, x := range r.scenarios(func(x Result) bool { return strings.HasPrefix(x.Scenario, "multipart-") }) {
		mp = append(mp, row{label: fmt.Sprintf("%s (%s)", x.Scenario, x.Note), scenario: x.Scenario, raw: x.Scenario, value: value, unit: x.Unit, cpu: true})
	}
	r.table(w, "Multipart uploads", mp)

	r.memory(w)
}

// memory writes the servers' resident set at the start of each scenario and
// its peak during it, in the first round (on a server that has done nothing
// else yet), and the highest peak of any round.
func (r *report) memory(w io.Writer) {
	xs := r.scenarios(func(x Result) bool { return x.ServerPeakRSS > 0 })
	if len(xs) == 0 {
		return
	}
	fmt.Fprintf(w, "### Server memory\n\n")
	fmt.Fprintf(w, "Resident set (MiB) of each server when the scenario started and its peak (VmHWM) during it, in the first round, then the highest peak of all rounds.\n\n")
	fmt.Fprintf(w, "| scenario | Coffre at start | Coffre peak | Coffre peak, all rounds | %s at start | %s peak | %s peak, all rounds |\n| --- | --: | --: | --: | --: | --: | --: |\n", r.peer, r.peer, r.peer)
	cells := func(target, scenario string) (atStart, peak, highest string) {
		all := r.all(target, scenario)
		if len(all) == 0 {
			return "—", "—", "—"
		}
		first := all[0]
		var top int64
		for _, x := range all {
			top = max(top, x.ServerPeakRSS)
		}
		if scenario == "idle-rss" {
			// Idle only once: later rounds start on a server that has
			// worked.
			first.ServerStartRSS, top = first.ServerPeakRSS, 0
		}
		mb := func(n int64) string {
			if n == 0 {
				return "—"
			}
			return fmtNum(float64(n) / mib)
		}
		return mb(first.ServerStartRSS), mb(first.ServerPeakRSS), mb(top)
	}
	for _, x := range xs {
		label := x.Scenario
		if x.Scenario == "idle-rss" {
			label = "after warm-up (idle)"
		}
		cs, cp, ct := cells(r.coffre, x.Scenario)
		ps, pp, pt := cells(r.peer, x.Scenario)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", label, cs, cp, ct, ps, pp, pt)
	}
	fmt.Fprintln(w)
}

// table writes one table: a row per figure, a column per target, the ratios,
// the servers' CPU time, and every run of each figure.
func (r *report) table(w io.Writer, title string, rows []row) {
	if len(rows) == 0 {
		return
	}
	header := []string{"scenario", "unit", "Coffre", r.peer, "raw disk", "Coffre/" + r.peer, "Coffre/raw",
		"Coffre CPU s (user + sys)", r.peer + " CPU s", "CPU cost Coffre / " + r.peer,
		"Coffre, each round", r.peer + ", each round", "raw, each run"}
	var cells [][]string
	lower := false
	for _, row := range rows {
		c, cok := r.find(r.coffre, row.scenario)
		p, pok := r.find(r.peer, row.scenario)
		var rw Result
		rok := false
		if row.raw != "" {
			rw, rok = r.find(r.raw, row.raw)
		}
		cell := func(x Result, ok bool) string {
			if !ok || row.value(x) == 0 {
				return ""
			}
			return fmtNum(row.value(x))
		}
		ratio := func(x Result, ok bool) string {
			if !cok || !ok || row.value(c) == 0 || row.value(x) == 0 {
				return ""
			}
			return fmt.Sprintf("%.2f", row.value(c)/row.value(x))
		}
		unit := row.unit
		if row.lower {
			unit += " ↓"
			lower = true
		}
		cpuC, cpuP, cost := "", "", ""
		if row.cpu {
			if cok && c.ServerCPU > 0 {
				cpuC = fmtSec(c.ServerCPU)
				if c.ServerUserCPU+c.ServerSysCPU > 0 {
					cpuC += " = " + fmtSec(c.ServerUserCPU) + " + " + fmtSec(c.ServerSysCPU)
				}
			}
			if pok && p.ServerCPU > 0 {
				cpuP = fmtSec(p.ServerCPU)
			}
			cost = cpuCost(c, cok, p, pok)
		}
		rawRuns := ""
		if row.raw != "" {
			rawRuns = r.rounds(r.raw, row.raw, row.value)
		}
		cells = append(cells, []string{row.label, unit, cell(c, cok), cell(p, pok), cell(rw, rok), ratio(p, pok), ratio(rw, rok), cpuC, cpuP, cost,
			r.rounds(r.coffre, row.scenario, row.value), r.rounds(r.peer, row.scenario, row.value), rawRuns})
	}
	// Drop the columns no row fills (the raw disk has no small objects).
	var keep []int
	for i := range header {
		for _, line := range cells {
			if line[i] != "" {
				keep = append(keep, i)
				break
			}
		}
	}
	pick := func(line []string, blank string) string {
		var out []string
		for _, i := range keep {
			if line[i] == "" {
				out = append(out, blank)
			} else {
				out = append(out, line[i])
			}
		}
		return "| " + strings.Join(out, " | ") + " |"
	}
	fmt.Fprintf(w, "### %s\n\n%s\n", title, pick(header, ""))
	align := make([]string, len(header))
	for i := range align {
		align[i] = "--:"
	}
	align[0], align[1] = "---", "---"
	fmt.Fprintln(w, pick(align, ""))
	for _, line := range cells {
		fmt.Fprintln(w, pick(line, "—"))
	}
	if lower {
		fmt.Fprintf(w, "\n↓: lower is better.\n")
	}
	fmt.Fprintln(w)
}

// cpuCost compares the CPU time the servers spent per unit of work: per GB
// moved, per operation, or per key listed.
func cpuCost(c Result, cok bool, p Result, pok bool) string {
	per := func(x Result) (float64, string) {
		switch {
		case x.Unit == "MB/s" && x.Bytes > 0:
			return x.ServerCPU / (float64(x.Bytes) / 1e9), "s/GB"
		case x.Unit == "ops/s" && x.Ops > 0:
			return x.ServerCPU * 1e3 / float64(x.Ops), "ms/op"
		case x.Unit == "keys/s" && x.Ops > 0:
			return x.ServerCPU * 1e6 / float64(x.Ops), "µs/key"
		}
		return 0, ""
	}
	if !cok || !pok || c.ServerCPU == 0 || p.ServerCPU == 0 {
		return ""
	}
	cv, unit := per(c)
	pv, _ := per(p)
	if unit == "" {
		return ""
	}
	return fmt.Sprintf("%s / %s %s", fmtNum(cv), fmtNum(pv), unit)
}

// fmtSec formats a CPU time in seconds.
func fmtSec(f float64) string {
	if f >= 100 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// targets writes the targets, each marked met or not met from the
// figures of this run.
func (r *report) targets(w io.Writer) {
	fmt.Fprintf(w, "## Targets (issue 8)\n\n")
	fmt.Fprintf(w, "| target | scenario | Coffre | reference | ratio | required | status |\n|---|---|--:|--:|--:|--:|---|\n")
	status := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	compare := func(what, scenario, other, otherScenario string, need float64) {
		c, cok := r.find(r.coffre, scenario)
		o, ook := r.find(other, otherScenario)
		if !cok || !ook || o.Value == 0 {
			fmt.Fprintf(w, "| %s | %s | — | — | — | ≥ %.1f | not measured |\n", what, scenario, need)
			return
		}
		ratio := c.Value / o.Value
		ok := ratio >= need && c.Errors == 0
		st := status(ok)
		// Against the raw disk, say when not even a server that stores
		// nothing gets there on this machine.
		if l, lok := r.find(r.ceiling, scenario); !ok && other == r.raw && lok && l.Value < need*o.Value {
			st += fmt.Sprintf(": out of reach here, the ceiling is %.2f × raw", l.Value/o.Value)
		}
		fmt.Fprintf(w, "| %s | %s | %s %s | %s %s (%s) | %.2f | ≥ %.1f | %s |\n",
			what, scenario, fmtNum(c.Value), c.Unit, fmtNum(o.Value), o.Unit, other, ratio, need, st)
	}
	large := r.scenarios(isLarge)
	large = append(large, r.scenarios(func(x Result) bool { return strings.HasPrefix(x.Scenario, "multipart-") })...)
	for _, x := range large {
		compare("large objects ≥ 0.7 × raw disk", x.Scenario, r.raw, x.Scenario, largeVsRaw)
	}
	for _, x := range large {
		compare("large objects ≥ 1.0 × "+r.peer, x.Scenario, r.peer, x.Scenario, largeVsPeer)
	}
	for _, x := range r.scenarios(isSmall) {
		compare("small objects ≥ 1.0 × "+r.peer, x.Scenario, r.peer, x.Scenario, smallVsPeer)
	}
	r.flatMemory(w, status)
	fmt.Fprintln(w)
	r.ceilingTable(w, large)
	fmt.Fprintf(w, "Large-object GETs are compared with a read of the same files right after they were written (page cache warm), as the servers' GETs are; the tables below also give the ratio to a cold read from the disk. Memory is flat when the server's peak RSS while it moves the largest objects exceeds its peak with the smallest large ones by less than %d MiB.\n\n", flatMemSlack/mib)
}

// ceilingTable compares the raw disk and Coffre with the null server: the
// most one stream gets through the load generator, net/http and loopback on
// this machine when the server only hashes PUT bodies with MD5 (as an S3
// server must for their ETag) and computes GET bodies from memory.
func (r *report) ceilingTable(w io.Writer, large []Result) {
	if !slices.ContainsFunc(r.results, func(x Result) bool { return x.Target == r.ceiling }) {
		return
	}
	fmt.Fprintf(w, "The ceiling: `coffre-bench null -md5`, an S3 endpoint that stores nothing, driven by the same client in the same rounds. Its PUT reads the body and hashes it with MD5 (the ETag every S3 server owes a single PUT); its GET computes the body (the same AES-CTR stream the client checks) without touching a disk. A server that stores what it receives and computes (decrypts) what it sends cannot beat it on this machine; where it is under 0.7 × raw, that target is out of reach here for such a server (a plaintext server may pass the GET ceiling by handing page-cache pages to the socket with sendfile, which a decrypting server cannot do).\n\n")
	fmt.Fprintf(w, "| scenario | ceiling | raw disk | ceiling / raw | Coffre | Coffre / ceiling |\n|---|--:|--:|--:|--:|--:|\n")
	for _, x := range large {
		l, lok := r.find(r.ceiling, x.Scenario)
		if !lok || l.Value == 0 {
			continue
		}
		cell := func(target string) (string, string) {
			v, ok := r.find(target, x.Scenario)
			if !ok || v.Value == 0 {
				return "—", "—"
			}
			return fmtNum(v.Value) + " " + v.Unit, fmt.Sprintf("%.2f", v.Value/l.Value)
		}
		rawV, rawRatio := cell(r.raw)
		if rawRatio != "—" {
			v, _ := r.find(r.raw, x.Scenario)
			rawRatio = fmt.Sprintf("%.2f", l.Value/v.Value)
		}
		cV, cRatio := cell(r.coffre)
		fmt.Fprintf(w, "| %s | %s %s | %s | %s | %s | %s |\n", x.Scenario, fmtNum(l.Value), l.Unit, rawV, rawRatio, cV, cRatio)
	}
	fmt.Fprintln(w)
}

// flatMemory checks that Coffre's peak RSS does not grow with object size:
// the largest objects' peak against the smallest large objects', in the
// first round.
func (r *report) flatMemory(w io.Writer, status func(bool) string) {
	// The first round's figures: later rounds start with whatever the
	// scenarios in between left in the heap.
	var sizes []int64
	peak := make(map[int64]int64)
	seen := make(map[string]bool)
	for _, x := range r.results {
		if x.Target != r.coffre || !isLarge(x) || x.ServerPeakRSS == 0 || seen[x.Scenario] {
			continue
		}
		seen[x.Scenario] = true
		if _, ok := peak[x.Size]; !ok {
			sizes = append(sizes, x.Size)
		}
		peak[x.Size] = max(peak[x.Size], x.ServerPeakRSS)
	}
	if len(sizes) < 2 {
		fmt.Fprintf(w, "| memory flat with object size | — | — | — | — | < +%d MiB | not measured |\n", flatMemSlack/mib)
		return
	}
	slices.Sort(sizes)
	lo, hi := sizes[0], sizes[len(sizes)-1]
	growth := peak[hi] - peak[lo]
	fmt.Fprintf(w, "| memory flat with object size | peak RSS, put+get %s vs %s (round 1) | %.0f MiB | %.0f MiB | %.2f | < +%d MiB | %s |\n",
		sizeName(hi), sizeName(lo), float64(peak[hi])/mib, float64(peak[lo])/mib, float64(peak[hi])/float64(peak[lo]),
		flatMemSlack/mib, status(growth < flatMemSlack))
}

// errors lists the scenarios that failed: their figures do not count.
func (r *report) errors(w io.Writer) {
	var failed []Result
	for _, x := range r.results {
		if x.Errors > 0 {
			failed = append(failed, x)
		}
	}
	if len(failed) == 0 {
		return
	}
	fmt.Fprintf(w, "## Errors\n\n")
	for _, x := range failed {
		fmt.Fprintf(w, "- %s %s: %d errors; first: `%s`\n", x.Target, x.Scenario, x.Errors, x.FirstError)
	}
	fmt.Fprintln(w)
}
