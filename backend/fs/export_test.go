package fs

import "os"

// WithGroupCommit lets tests and benchmarks run the user-space group commit,
// off by default.
var WithGroupCommit = withGroupCommit

// WithSyncDir replaces the directory fsync, to observe it or make it fail.
var WithSyncDir = withSyncDir

// OnWriteback makes copyBlob call f, instead of starting the writeback, for
// every range it would start, until the test ends.
func OnWriteback(tb interface{ Cleanup(func()) }, f func(off, n int64)) {
	old := startWriteback
	startWriteback = func(_ *os.File, off, n int64) error { f(off, n); return nil }
	tb.Cleanup(func() { startWriteback = old })
}
