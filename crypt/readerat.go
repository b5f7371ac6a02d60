package crypt

import (
	"errors"
	"fmt"
	"io"
)

// ReaderAt decrypts any range of a stream whose blob is reachable through an
// io.ReaderAt, reading and authenticating only the chunks the range touches.
// It is safe for concurrent use, as io.ReaderAt requires.
type ReaderAt struct {
	s   *stream
	src io.ReaderAt
	l   layout
}

// NewReaderAt reads and checks the header of the blob of cipherSize bytes in
// src. cipherSize is trusted to lay out the chunks (it should come from the
// object's metadata, not from the storage provider): a wrong size makes the
// chunk it misplaces fail, and a read that includes the final chunk proves
// it. An impossible size, or a header not written with dek, is ErrIntegrity.
func NewReaderAt(src io.ReaderAt, cipherSize int64, dek, ad []byte) (*ReaderAt, error) {
	if len(dek) != KeySize {
		return nil, errKeySize
	}
	size, err := PlaintextSize(cipherSize)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, HeaderSize)
	if n, err := src.ReadAt(hdr, 0); n < HeaderSize {
		if err == nil || err == io.EOF {
			return nil, &integrityError{kind: failTruncated, chunk: -1,
				msg: fmt.Sprintf("the blob ends after %d bytes, inside the %d-byte header", n, HeaderSize)}
		}
		return nil, fmt.Errorf("crypt: reading header: %w", err)
	}
	s, err := newStream(dek, ad, hdr, false)
	if err != nil {
		return nil, err
	}
	r := &ReaderAt{s: s, src: src, l: newLayout(size)}
	if size == 0 {
		// No read will ever touch the only chunk: check it now, so that an
		// empty stream is authenticated like any other.
		if _, err := r.readAt(nil, 0); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Size returns the plaintext size of the stream.
func (r *ReaderAt) Size() int64 { return r.l.size }

// ReadAt reads plaintext bytes [off, off+len(p)) into p. Following
// io.ReaderAt, it returns io.EOF when the range goes past the end. On an
// integrity failure it returns the bytes of the chunks before the failing
// one, which did authenticate, and an ErrIntegrity naming the chunk; the rest
// of p is scratch.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("crypt: ReadAt: negative offset")
	}
	if off >= r.l.size {
		return 0, io.EOF
	}
	n, err := r.readAt(p, off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// readAt opens the chunks that hold [off, off+len(p)) ∩ the stream, or the
// first chunk when p is empty.
func (r *ReaderAt) readAt(p []byte, off int64) (int, error) {
	end := r.l.size
	if int64(len(p)) < end-off {
		end = off + int64(len(p))
	}
	b := chunkPool.Get().(*chunkBuf)
	defer chunkPool.Put(b)
	var spare *plainBuf
	defer func() {
		if spare != nil {
			plainPool.Put(spare)
		}
	}()

	n := 0
	for i := uint64(off / ChunkSize); int64(i)*ChunkSize < end || i == r.l.final && r.l.size == 0; i++ {
		final, size := i == r.l.final, r.l.plainLen(i)
		ct := b.b[:size+TagSize]
		if m, err := r.src.ReadAt(ct, cipherOff(i)); m < len(ct) {
			if err == nil || err == io.EOF {
				return n, chunkError(failTruncated, i, "the blob ends %d bytes into the chunk, which has %d", m, len(ct))
			}
			return n, fmt.Errorf("crypt: reading chunk %d: %w", i, err)
		}
		start := int64(i) * ChunkSize
		lo, hi := max(off, start)-start, min(end, start+int64(size))-start
		whole := lo == 0 && hi == int64(size) && size > 0
		var dst []byte
		switch {
		case whole:
			dst = p[n:]
		case final && len(ct) == encChunkSize:
			if spare == nil {
				spare = plainPool.Get().(*plainBuf)
			}
			dst = spare[:]
		default:
			dst = ct
		}
		pt, err := r.s.open(dst, &b.nonce, ct, i, final)
		if err != nil {
			return n, err
		}
		if !whole {
			copy(p[n:], pt[lo:hi])
		}
		n += int(hi - lo)
	}
	return n, nil
}
