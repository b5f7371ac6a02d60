// Package backendtest is the conformance suite of backend.Store. Every
// implementation (backend/fs, backend/s3, backend/swift) and every decorator
// that wraps a store (encryption, replication, fault injection) calls Run
// against the real thing, so that the vault can rely on one behaviour whatever
// is underneath: exact round trips, ranged reads, an unwrapped
// backend.ErrNotFound, atomic replacement, nothing stored by a failed or
// cancelled Put, names validated the same way, and listings in bytewise order.
//
// The suite lives in a non-test file so that other packages can import it, as
// perkeep's storagetest and x/mod's sumdb/storage test do. The Bench helpers
// give every implementation comparable figures for the PUT and GET sizes that
// matter to Coffre (4 KiB, 1 MiB, 64 MiB) and for concurrent small PUTs, where
// durability costs the most.
package backendtest
