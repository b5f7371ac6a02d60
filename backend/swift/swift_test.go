package swift_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/backendtest"
	"github.com/coffre-cloud/coffre/backend/swift"
	"github.com/coffre-cloud/coffre/internal/testenv"
)

var containers atomic.Int64

// config returns the configuration of a fresh container of the binary's
// Swift.
func config(tb testing.TB) swift.Config {
	tb.Helper()
	sw := testenv.Swift(tb)
	return swift.Config{
		AuthURL:   sw.AuthURL,
		User:      sw.User,
		Key:       sw.Key,
		Container: fmt.Sprintf("coffre-test-%d", containers.Add(1)),
	}
}

func open(tb testing.TB, cfg swift.Config) *swift.Store {
	tb.Helper()
	s, err := swift.Open(tb.Context(), cfg)
	if err != nil {
		tb.Fatalf("Open = %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the suite on each way Put writes: buffered (the
// defaults: every blob of the suite fits in the buffer), streamed (no
// buffer: sizes known, one object each; unknown sizes become large
// objects), and segmented (1 MiB segments: every blob above 1 MiB, and
// every blob of unknown size, is a static large object).
func TestConformance(t *testing.T) {
	for _, tt := range []struct {
		name   string
		config func(*swift.Config)
	}{
		{"put=buffered", func(*swift.Config) {}},
		{"put=streamed", func(c *swift.Config) { c.BufferSize = -1 }},
		{"put=segmented", func(c *swift.Config) { c.BufferSize = -1; c.SegmentSize = 1 << 20 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // with each other only: tests that stop the proxy run apart
			backendtest.Run(t, backendtest.Opts{
				New: func(tb testing.TB) backend.Store {
					c := config(tb)
					tt.config(&c)
					return open(tb, c)
				},
			})
		})
	}
}
