// Package torture_test is Coffre's reliability torture suite (`make
// torture`). Two randomized tests drive many concurrent S3 clients against a
// model of what they were told, and count every disagreement as a violation:
//
//   - TestCrashTorture runs puts (single and multipart), overwrites, copies,
//     deletes, aborted uploads, reads and listings against a real `coffre
//     serve`, and kills it with SIGKILL at random points, restarting it on
//     the same data directory. Every acknowledged write must read back
//     exactly (until superseded), every acknowledged delete must stay, an
//     operation cut by a kill may or may not have happened (but once a read
//     has settled it, it stays settled), listings show only objects that
//     read back, and at the end the offer holds no blob that nothing
//     references.
//   - TestFaultTorture runs the same workload through the S3 handler in
//     this process, over a backend that fails, stalls, truncates and
//     corrupts (faultStore): every answer must be a clean S3 error or the
//     right bytes, never a panic, never a hang, never wrong bytes behind a
//     200 and a full Content-Length.
//
// bugs_test.go holds the smallest reproductions of the violations these
// tests found; they fail until Coffre is fixed.
//
// Plain `go test` (and `make test`) runs a short variant of both, about half
// a minute; -short skips them. TORTURE=1 (or -torture) runs the long one,
// sized by TORTURE_TIME; TORTURE_SEED (or -torture.seed) replays the random
// choices of a run: the operations each client picks, their keys and sizes,
// the kill times and the faults (what the clients observe still depends on
// scheduling). With TORTURE_REPORT_DIR set, each test writes its figures
// there for scripts/torture.sh.
package torture_test

import (
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	flagLong = flag.Bool("torture", false, "run the long torture tests (as TORTURE=1 does)")
	flagTime = flag.Duration("torture.time", 0, "time budget of the long run (default TORTURE_TIME, else 5m)")
	flagSeed = flag.String("torture.seed", "", "seed to replay (default TORTURE_SEED, else random)")
)

// defaultBudget is the time the long run spends in the two randomized tests
// together when TORTURE_TIME is not set.
const defaultBudget = 5 * time.Minute

// settings are the size and seed of one run of a torture test.
type settings struct {
	long   bool
	budget time.Duration // of this test, final checks included
	seed   uint64
}

// settingsFor reads the flags and environment. share is the part of the
// long budget this test takes; short is its budget in the short variant.
func settingsFor(t *testing.T, share float64, short time.Duration) settings {
	t.Helper()
	if testing.Short() {
		t.Skip("torture test: skipped with -short")
	}
	s := settings{long: *flagLong || os.Getenv("TORTURE") == "1", budget: short}
	if s.long {
		total := defaultBudget
		switch v := os.Getenv("TORTURE_TIME"); {
		case *flagTime > 0:
			total = *flagTime
		case v != "":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				t.Fatalf("TORTURE_TIME=%q: want a positive duration such as 5m (%v)", v, err)
			}
			total = d
		}
		s.budget = time.Duration(float64(total) * share)
	}
	seed := *flagSeed
	if seed == "" {
		seed = os.Getenv("TORTURE_SEED")
	}
	if seed == "" {
		s.seed = rand.Uint64()
	} else {
		var err error
		if s.seed, err = strconv.ParseUint(seed, 0, 64); err != nil {
			t.Fatalf("seed %q: %v", seed, err)
		}
	}
	mode := "short variant (TORTURE=1 for the long one)"
	if s.long {
		mode = "long run"
	}
	t.Logf("%s, budget %v, seed %#x: TORTURE_SEED=%#x replays it", mode, s.budget, s.seed, s.seed)
	return s
}

// counters are named event counts, safe for concurrent use.
type counters struct {
	mu sync.Mutex
	n  map[string]int64
}

func (c *counters) add(name string, d int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = make(map[string]int64)
	}
	c.n[name] += d
}

func (c *counters) get(name string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

// sum adds up the counters whose names start with prefix.
func (c *counters) sum(prefix string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s int64
	for k, v := range c.n {
		if strings.HasPrefix(k, prefix) {
			s += v
		}
	}
	return s
}

// lines returns "name value" lines, sorted by name.
func (c *counters) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, k := range slices.Sorted(maps.Keys(c.n)) {
		out = append(out, fmt.Sprintf("%s %d", k, c.n[k]))
	}
	return out
}

// writeReport logs the counters and, when TORTURE_REPORT_DIR is set, writes
// them to name.txt there, one "name value" line each, after the header
// lines.
func writeReport(t *testing.T, name string, header []string, c *counters) {
	t.Helper()
	lines := append(header, c.lines()...)
	t.Logf("%s report:\n  %s", name, strings.Join(lines, "\n  "))
	dir := os.Getenv("TORTURE_REPORT_DIR")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("report: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Errorf("report: %v", err)
	}
}
