package s3_test

import (
	"testing"

	"github.com/coffre-cloud/coffre/backend/backendtest"
	"github.com/coffre-cloud/coffre/backend/internal/remotetest"
)

func benchOpts() backendtest.Opts { return remotetest.Opts(config, open, nil) }

// BenchmarkPut measures sequential Puts of 4 KiB, 1 MiB and 64 MiB (a
// multipart upload of 8 parts) through Swift's S3 API (Python, on loopback,
// sharing the two cores).
func BenchmarkPut(b *testing.B) { backendtest.BenchPut(b, benchOpts()) }

// BenchmarkGet measures whole-blob Gets of 4 KiB, 1 MiB and 64 MiB.
func BenchmarkGet(b *testing.B) { backendtest.BenchGet(b, benchOpts()) }

// BenchmarkPutConcurrent measures 4 KiB Puts from 1, 4 and 16 goroutines.
func BenchmarkPutConcurrent(b *testing.B) { backendtest.BenchPutConcurrent(b, benchOpts()) }
