// Package backend defines the storage interface that every offer's engine
// implements (fs, s3, swift). A backend stores opaque blobs under names that
// Coffre chooses; it never sees an S3 bucket or key, and from the keys issue on
// it only ever sees ciphertext.
//
// Implementations live in subpackages (backend/fs, ...). Each one runs the
// conformance suite in backend/backendtest against the real thing.
package backend

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned, unwrapped, by Get and Stat when no blob has the name.
var ErrNotFound = errors.New("backend: blob not found")

// ErrInvalidName is returned (possibly wrapped) by every method given a name
// that does not satisfy ValidName.
var ErrInvalidName = errors.New("backend: invalid blob name")

// Info describes a stored blob.
type Info struct {
	Name    string
	Size    int64
	ModTime time.Time // when the blob was written; the vault's sweep relies on it
}

// Store is a flat namespace of immutable blobs.
//
// Names are chosen by Coffre, never by clients: see ValidName. Blobs are
// written once and read many times; Put on an existing name replaces it
// atomically.
type Store interface {
	// Put stores the bytes of r under name. size is the exact number of
	// bytes r yields, or -1 when unknown; when size >= 0 and r yields a
	// different number of bytes, Put fails and stores nothing.
	//
	// Put is atomic and durable: when it returns nil the blob survives a
	// crash of the process or the machine; when it returns an error, or the
	// process dies during the call, no blob (and no partial blob) is visible
	// under name, and the previous blob under name, if any, is intact.
	// An error of r is returned wrapped (errors.Is finds it), as is
	// ctx.Err() on cancellation; a reader shorter than size gives an error
	// wrapping io.ErrUnexpectedEOF.
	Put(ctx context.Context, name string, r io.Reader, size int64) error

	// Get returns the bytes of the blob from offset off, at most length of
	// them, or all of them to the end when length < 0. An offset at or past
	// the end yields an empty reader. The caller closes the reader.
	// A missing blob is ErrNotFound.
	Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)

	// Stat describes the blob, or returns ErrNotFound.
	Stat(ctx context.Context, name string) (Info, error)

	// Delete removes the blob, durably when it returns nil. Deleting a
	// missing blob is not an error (S3's rule).
	Delete(ctx context.Context, name string) error

	// List calls fn for every blob whose name starts with prefix, in
	// lexical order of names. A non-nil error from fn stops the listing
	// and is returned. The listing is not a snapshot: blobs written or
	// deleted meanwhile may or may not appear.
	List(ctx context.Context, prefix string, fn func(Info) error) error
}

// ValidName reports whether name can be used as a blob name: 1 to 512 bytes
// of [A-Za-z0-9._-] in segments separated by single '/', with no segment
// empty, "." or "..". Every backend accepts every valid name.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > 512 {
		return false
	}
	seg := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '/' {
			s := name[seg:i]
			if s == "" || s == "." || s == ".." {
				return false
			}
			seg = i + 1
			continue
		}
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
