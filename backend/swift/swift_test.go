package swift_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/coffre-cloud/coffre/backend/internal/remotetest"
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
	return remotetest.Open(tb, swift.Open, cfg)
}

// TestConformance runs the suite on each way Put writes: buffered (the
// defaults: every blob of the suite fits in the buffer), streamed (no
// buffer: sizes known, one object each; unknown sizes become large
// objects), and segmented (1 MiB segments: every blob above 1 MiB, and
// every blob of unknown size, is a static large object).
func TestConformance(t *testing.T) {
	remotetest.Conformance(t, config, open, []remotetest.Variant[swift.Config]{
		{Name: "put=buffered"},
		{Name: "put=streamed", Change: func(c *swift.Config) { c.BufferSize = -1 }},
		{Name: "put=segmented", Change: func(c *swift.Config) { c.BufferSize = -1; c.SegmentSize = 1 << 20 }},
	})
}
