package identity_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/internal/testenv"
)

// rssMiB reads a process's resident set from /proc.
func rssMiB(tb testing.TB, pid int) float64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Skip("no /proc on this system: resident memory is measured on Linux")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	tb.Fatal("no VmRSS in /proc status")
	return 0
}

// BenchmarkIdleRSS reports the resident memory of a whole `coffre serve`
// (S3 API and identity provider, demo register loaded) once idle after
// start, and after one login through the demo service: the provider's
// idle memory is at most this.
func BenchmarkIdleRSS(b *testing.B) {
	srv := testenv.StartCoffre(b, testenv.Opts{})
	time.Sleep(2 * time.Second)
	b.ReportMetric(rssMiB(b, srv.PID()), "idle-MiB")
	for range b.N {
		resp, err := browser().Get(srv.Issuer + "/demo/login?acr=eidas1")
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	time.Sleep(time.Second)
	b.ReportMetric(rssMiB(b, srv.PID()), "after-MiB")
}
