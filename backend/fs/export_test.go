package fs

// WithGroupCommit lets tests and benchmarks run the user-space group commit,
// off by default.
var WithGroupCommit = withGroupCommit

// WithSyncDir replaces the directory fsync, to observe it or make it fail.
var WithSyncDir = withSyncDir
