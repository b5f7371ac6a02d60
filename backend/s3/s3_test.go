package s3_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/backendtest"
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
	s, err := s3.Open(tb.Context(), cfg)
	if err != nil {
		tb.Fatalf("Open = %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the suite with whole-object Puts (the defaults:
// every blob of the suite but the largest fits in a part) and with
// multipart uploads of 5 MiB parts (S3's least), with a key prefix.
func TestConformance(t *testing.T) {
	for _, tt := range []struct {
		name   string
		config func(*s3.Config)
	}{
		{"put=default", func(*s3.Config) {}},
		{"put=multipart/prefix=yes", func(c *s3.Config) { c.PartSize = 5 << 20; c.Prefix = "coffre/"; c.ListPageSize = 7 }},
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
