package vault

import (
	"context"
	"io"
	"testing"

	"github.com/coffre-cloud/coffre/crypt"
)

// UseNullCipher makes the vault store payloads in clear until the test or
// benchmark ends: the end-to-end benchmarks compare against it to show what
// encryption costs. The null stream has crypt's layout (a real header, then
// chunks of crypt.ChunkSize bytes each followed by crypt.TagSize zero bytes),
// so that the backend moves the same bytes and the vault the same ranges;
// only the sealing and opening are gone. Tests that use it must not run in
// parallel with others.
func UseNullCipher(tb testing.TB) {
	tb.Helper()
	w, r := newPayloadWriter, newPayloadReader
	newPayloadWriter, newPayloadReader = newNullWriter, newNullReader
	tb.Cleanup(func() { newPayloadWriter, newPayloadReader = w, r })
}

const (
	nullHdr   = crypt.HeaderSize
	nullChunk = crypt.ChunkSize
	nullTag   = crypt.TagSize
)

// nullWriter writes crypt's layout without encrypting, from one buffer
// (header, chunk, tag) and with one Write per chunk, as crypt.Writer does.
type nullWriter struct {
	dst     io.Writer
	buf     []byte // header, then a chunk of plaintext, then room for a tag
	pending int    // plaintext bytes at buf[nullHdr:]
	started bool
	closed  bool
}

func newNullWriter(dst io.Writer, dek, ad []byte) (payloadWriter, error) {
	// A real header, so that reads pass crypt.CheckHeader.
	cw, err := crypt.NewWriter(io.Discard, dek, ad)
	if err != nil {
		return nil, err
	}
	w := &nullWriter{dst: dst, buf: make([]byte, nullHdr+nullChunk+nullTag)}
	copy(w.buf, cw.Header())
	return w, nil
}

func (w *nullWriter) Header() []byte { return append([]byte(nil), w.buf[:nullHdr]...) }

// flush writes the n pending bytes as a chunk with a zero tag.
func (w *nullWriter) flush(n int) error {
	clear(w.buf[nullHdr+n : nullHdr+n+nullTag])
	start := nullHdr
	if !w.started {
		start, w.started = 0, true
	}
	_, err := w.dst.Write(w.buf[start : nullHdr+n+nullTag])
	return err
}

func (w *nullWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if w.pending == nullChunk { // full, and more follows: not final
			if err := w.flush(nullChunk); err != nil {
				return total - len(p), err
			}
			w.pending = 0
		}
		k := copy(w.buf[nullHdr+w.pending:nullHdr+nullChunk], p)
		w.pending += k
		p = p[k:]
	}
	return total, nil
}

// ReadFrom reads straight into the chunk buffer, one byte past each full
// chunk, as crypt.Writer.ReadFrom does (io.Copy in writeBlob uses it).
func (w *nullWriter) ReadFrom(src io.Reader) (int64, error) {
	var total int64
	for {
		m, err := src.Read(w.buf[nullHdr+w.pending : nullHdr+nullChunk+1])
		w.pending += m
		total += int64(m)
		if w.pending == nullChunk+1 {
			next := w.buf[nullHdr+nullChunk]
			if err := w.flush(nullChunk); err != nil {
				return total, err
			}
			w.buf[nullHdr] = next
			w.pending = 1
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (w *nullWriter) Close() error {
	if w.closed {
		return io.ErrClosedPipe
	}
	w.closed = true
	return w.flush(w.pending)
}

// nullReader reads plaintext bytes [off, off+n) of a null stream of size
// bytes from src, which starts at the chunk holding off (crypt.CipherRange).
type nullReader struct {
	src    io.Reader
	size   int64
	i      int64 // next chunk
	skip   int
	remain int64
	buf    []byte
	plain  []byte
}

func newNullReader(src io.Reader, dek, ad, header []byte, off, n, size int64) (io.Reader, error) {
	end := min(off+n, size)
	if n <= 0 || off >= size {
		end = off
	}
	return &nullReader{src: src, size: size, i: off / nullChunk, skip: int(off % nullChunk), remain: end - off,
		buf: make([]byte, nullChunk+nullTag)}, nil
}

func (r *nullReader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.remain <= 0 {
			return 0, io.EOF
		}
		plen := int(min(nullChunk, r.size-r.i*nullChunk))
		if _, err := io.ReadFull(r.src, r.buf[:plen+nullTag]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		pt := r.buf[r.skip:plen]
		r.skip = 0
		if int64(len(pt)) > r.remain {
			pt = pt[:r.remain]
		}
		r.remain -= int64(len(pt))
		r.i++
		r.plain = pt
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// Account runs the usage accounting the janitor runs every interval.
func Account(v *Vault, ctx context.Context) error { return v.account(ctx) }
