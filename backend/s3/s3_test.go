package s3_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/coffre-cloud/coffre/backend/internal/remotetest"
	"github.com/coffre-cloud/coffre/backend/s3"
	"github.com/coffre-cloud/coffre/internal/testenv"
)

var buckets atomic.Int64

// config returns the configuration of a fresh bucket of the binary's
// Swift, through its S3 API.
func config(tb testing.TB) s3.Config {
	tb.Helper()
	sw := testenv.Swift(tb)
	return s3.Config{
		Endpoint:  sw.S3Endpoint,
		Region:    sw.S3Region,
		Bucket:    fmt.Sprintf("coffre-test-%d", buckets.Add(1)),
		AccessKey: sw.S3AccessKey,
		SecretKey: sw.S3SecretKey,
		PathStyle: true,
	}
}

func open(tb testing.TB, cfg s3.Config) *s3.Store {
	tb.Helper()
	return remotetest.Open(tb, s3.Open, cfg)
}

// TestConformance runs the suite with whole-object Puts (the defaults:
// every blob of the suite but the largest fits in a part) and with
// multipart uploads of 5 MiB parts (S3's least), with a key prefix.
func TestConformance(t *testing.T) {
	remotetest.Conformance(t, config, open, []remotetest.Variant[s3.Config]{
		{Name: "put=default"},
		{Name: "put=multipart/prefix=yes", Change: func(c *s3.Config) { c.PartSize = 5 << 20; c.Prefix = "coffre/"; c.ListPageSize = 7 }},
	})
}
