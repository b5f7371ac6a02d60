// Package meta defines the metadata store: an ordered, transactional
// key-value store in which the vault keeps tenants, access keys, buckets,
// object versions and multipart uploads (and, later, identity records), each
// kind under its own key prefix.
//
// A small interface keeps every implementation (meta/sqlite embedded,
// meta/postgres at scale) obviously correct; the typed model on top of it
// lives once, in the vault. Every implementation passes meta/metatest.
package meta

import (
	"context"
	"errors"
)

// ErrNotFound is returned, unwrapped, by Tx.Get when the key is absent.
var ErrNotFound = errors.New("meta: key not found")

// ErrClosed is returned by View and Update after Close.
var ErrClosed = errors.New("meta: store closed")

// ErrConflict is returned by Update when the transaction could not commit
// because of a concurrent one and was not retried; callers may retry.
var ErrConflict = errors.New("meta: transaction conflict")

// Store is an ordered key-value store with serializable transactions.
type Store interface {
	// View runs fn in a read-only transaction. It sees a consistent
	// snapshot of the store.
	View(ctx context.Context, fn func(Tx) error) error

	// Update runs fn in a read-write transaction and commits it when fn
	// returns nil; when fn returns an error, nothing it wrote is kept.
	// Transactions are serializable. A committed Update is durable: it
	// survives a crash of the process or the machine.
	//
	// Update may run fn more than once (to retry after a conflict), so fn
	// must have no effect outside the transaction other than idempotent
	// ones.
	Update(ctx context.Context, fn func(Tx) error) error

	// Close waits for the transactions in flight, then releases the
	// store's resources. Later calls return ErrClosed.
	Close() error
}

// Tx is a transaction, for one goroutine at a time. It must not be used after
// the function it was passed to returns, and that function must not start
// another Update on the same store (a single-writer store would deadlock).
// A context done before or during the function makes View and Update return
// an error wrapping ctx.Err(), and Update then commits nothing; a panic in
// the function rolls back and propagates. The empty key is valid; Put keeps
// no reference to its arguments. Keys and values are arbitrary bytes; the slices passed to fn by
// Scan and returned by Get are only valid until the transaction ends unless
// the documentation of the implementation says otherwise, so callers copy
// what they keep.
type Tx interface {
	// Get returns the value of key, or ErrNotFound.
	Get(key []byte) ([]byte, error)

	// Put sets key to value. It fails in a read-only transaction.
	Put(key, value []byte) error

	// Delete removes key; a missing key is not an error. It fails in a
	// read-only transaction.
	Delete(key []byte) error

	// Scan calls fn for every key k with start <= k < end in ascending
	// byte order (end nil means no upper bound), until fn returns false
	// or an error. Writes made earlier in the same transaction are
	// visible. fn must not write through the transaction.
	Scan(start, end []byte, fn func(key, value []byte) (more bool, err error)) error
}

// PrefixEnd returns the smallest key greater than every key that has the
// given prefix, or nil when there is none (the prefix is all 0xff bytes).
// Scan(prefix, PrefixEnd(prefix), fn) visits exactly the keys with prefix.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
