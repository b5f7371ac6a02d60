// Package remote holds what the backends of network object stores
// (backend/s3, backend/swift) do alike, whatever the protocol: ranged reads
// that resume a broken response where it stopped without splicing two
// versions of a blob, exponential backoff between attempts, the exact
// reading of a Put's body, which must end where its size says before the
// server is handed its last bytes, and the HTTP transport a store owns
// when its Config gives none.
//
// Each backend keeps what its protocol decides: which requests are sent,
// which failures are transient, how errors are explained. It lends those to
// this package as functions, so that the loops around them are written once.
package remote
