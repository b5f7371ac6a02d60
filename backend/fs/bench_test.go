package fs_test

import (
	"testing"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/backendtest"
	"github.com/coffre-cloud/coffre/backend/fs"
)

func benchOpts(opts ...fs.Option) backendtest.Opts {
	return backendtest.Opts{New: func(tb testing.TB) backend.Store { return newStore(tb, opts...) }}
}

// BenchmarkPut measures sequential Puts of 4 KiB, 1 MiB and 64 MiB.
func BenchmarkPut(b *testing.B) { backendtest.BenchPut(b, benchOpts()) }

// BenchmarkGet measures whole-blob Gets of 4 KiB, 1 MiB and 64 MiB.
func BenchmarkGet(b *testing.B) { backendtest.BenchGet(b, benchOpts()) }

// BenchmarkPutConcurrent measures 4 KiB Puts from 1, 4 and 16 goroutines,
// with each Put sealing its own commit (the default) and with user-space
// group commit. The machine's other disk load moves the figures a lot: compare
// runs interleaved with -count and benchstat.
func BenchmarkPutConcurrent(b *testing.B) {
	b.Run("groupcommit=off", func(b *testing.B) {
		backendtest.BenchPutConcurrent(b, benchOpts(fs.WithGroupCommit(false)))
	})
	b.Run("groupcommit=on", func(b *testing.B) {
		backendtest.BenchPutConcurrent(b, benchOpts(fs.WithGroupCommit(true)))
	})
}
