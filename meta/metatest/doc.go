// Package metatest is the conformance suite of meta.Store. Every
// implementation (meta/sqlite, meta/postgres) and every decorator of a store
// runs Run against the real thing, so that the vault, which builds its whole
// typed model on top of meta.Store, can rely on one behaviour whatever is
// underneath: bytewise key order, an unwrapped meta.ErrNotFound, Update
// atomicity and serializability, snapshot reads, durability, and context
// cancellation that commits nothing.
//
// The suite lives in a non-test file so that other packages can import it,
// as perkeep's storagetest and x/mod's sumdb/storage test do. Bench gives the
// same implementations comparable figures for the operations on the S3 hot
// path: point reads, small updates alone and concurrent, and listings.
package metatest
