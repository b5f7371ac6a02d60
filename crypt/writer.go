package crypt

import (
	"crypto/rand"
	"errors"
	"io"
)

var errClosed = errors.New("crypt: write to a closed Writer")

// Writer encrypts a payload stream. It holds at most one chunk of plaintext:
// a full chunk is sealed only when the next byte arrives (or, at Close, as
// the final chunk), because whether a chunk is final is part of its nonce.
//
// Each sealed chunk is written to dst with a single Write call, the first
// one preceded by the header in the same call. A Writer is not safe for
// concurrent use.
type Writer struct {
	s   *stream
	dst io.Writer
	hdr []byte // the header, also the first HeaderSize bytes of s.ad

	// buf holds the header then one chunk: plaintext is gathered at
	// buf[HeaderSize:] and sealed in place. The first chunk is written from
	// buf[0:] so that header and chunk 0 leave in one Write.
	buf     *chunkBuf
	pending int    // plaintext bytes at buf[HeaderSize:]
	i       uint64 // index of the next chunk to seal
	started bool   // the header has been written
	err     error  // sticky: a failed write, or errClosed
}

// NewWriter returns a Writer that encrypts to dst under a stream key derived
// from dek and a fresh random salt, and binds every chunk to ad
// (the context of the object: tenant, bucket, key, version or part). The same
// ad must be given to read the stream back. dek must be KeySize bytes and may
// be reused across streams: each stream has its own key.
//
// Nothing is written until the first chunk is sealed or Close is called.
// Close writes the final chunk; it does not close dst.
func NewWriter(dst io.Writer, dek, ad []byte) (*Writer, error) {
	var salt [saltSize]byte
	rand.Read(salt[:]) // never fails (crypto/rand, Go 1.24+)
	return newWriter(dst, dek, ad, salt[:])
}

// newWriter is NewWriter with a given salt. Only tests (vectors) call it
// with anything but fresh randomness: a salt must never be reused with a DEK.
func newWriter(dst io.Writer, dek, ad, salt []byte) (*Writer, error) {
	hdr := make([]byte, HeaderSize)
	copy(hdr, magic)
	hdr[len(magic)] = formatVersion
	hdr[len(magic)+1] = chunkSizeLog2
	copy(hdr[headerPrefixSize:], salt)
	s, err := newStream(dek, ad, hdr, true)
	if err != nil {
		return nil, err
	}
	return &Writer{s: s, dst: dst, hdr: s.ad[:HeaderSize:HeaderSize]}, nil
}

// Header returns the stream's header: the first HeaderSize bytes of the
// blob. It is not secret. Storing it with the object's metadata lets a
// ranged read fetch only the chunks it needs (see NewRangeReader).
func (w *Writer) Header() []byte { return append([]byte(nil), w.hdr...) }

func (w *Writer) chunk() []byte {
	if w.buf == nil {
		w.buf = chunkPool.Get().(*chunkBuf)
		copy(w.buf.b[:], w.hdr)
	}
	return w.buf.b[HeaderSize:]
}

// flush seals plain (either the pending plaintext, in place, or a chunk of
// the caller's slice) as chunk w.i and writes it.
func (w *Writer) flush(plain []byte, final bool) error {
	buf := w.chunk()
	ct := w.s.seal(buf, &w.buf.nonce, plain, w.i, final)
	w.i++
	out := w.buf.b[HeaderSize : HeaderSize+len(ct)]
	if !w.started {
		out = w.buf.b[:HeaderSize+len(ct)]
		w.started = true
	}
	if _, err := w.dst.Write(out); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Write encrypts p. Full chunks of p that are known not to be final are
// sealed straight from p, without a copy; the rest waits in the buffer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	total := len(p)
	buf := w.chunk()
	if w.pending > 0 {
		k := copy(buf[w.pending:ChunkSize], p)
		w.pending += k
		p = p[k:]
		if len(p) == 0 {
			return total, nil
		}
		// The buffer is full and more follows: it is not the final chunk.
		if err := w.flush(buf[:ChunkSize], false); err != nil {
			return 0, err
		}
		w.pending = 0
	}
	for len(p) > ChunkSize {
		if err := w.flush(p[:ChunkSize], false); err != nil {
			return total - len(p), err
		}
		p = p[ChunkSize:]
	}
	w.pending = copy(buf, p)
	return total, nil
}

// ReadFrom encrypts everything src yields until io.EOF, reading straight into
// the chunk buffer (io.Copy uses it). It reads one byte past each full chunk
// to learn that the chunk is not final; that byte lands in the room of the
// tag and is moved to the front once the chunk is written.
func (w *Writer) ReadFrom(src io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	var total int64
	buf := w.chunk()
	for empty := 0; ; {
		m, err := src.Read(buf[w.pending : ChunkSize+1])
		w.pending += m
		total += int64(m)
		if w.pending == ChunkSize+1 {
			next := buf[ChunkSize]
			if err := w.flush(buf[:ChunkSize], false); err != nil {
				return total, err
			}
			buf[0] = next
			w.pending = 1
		}
		switch {
		case err == io.EOF:
			return total, nil
		case err != nil:
			return total, err
		case m > 0:
			empty = 0
		default:
			if empty++; empty == 100 {
				return total, io.ErrNoProgress
			}
		}
	}
}

// Close seals and writes the final chunk (empty if nothing was written) and
// releases the buffer. It does not close dst. Calling Close again, or Write
// after Close, returns an error.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	buf := w.chunk()
	err := w.flush(buf[:w.pending], true)
	w.pending = 0
	chunkPool.Put(w.buf)
	w.buf = nil
	if err == nil {
		w.err = errClosed
	}
	return err
}
