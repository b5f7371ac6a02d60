package crypt

import (
	"fmt"
	"io"
)

// Reader decrypts a payload stream, or a range of one, in order. It returns
// plaintext only from chunks that have authenticated, and an error of kind
// ErrIntegrity, naming the chunk, at the first one that does not: the caller
// must then treat everything it read as void (a GET aborts its response).
//
// io.Copy uses WriteTo, which decrypts in place and writes each chunk from
// the reader's buffer; Read decrypts straight into p when p holds a whole
// chunk. A Reader is not safe for concurrent use. It needs no Close: its
// buffer goes back to a pool when the stream ends or fails.
type Reader struct {
	s   *stream
	src io.Reader
	buf *chunkBuf // nil until the first chunk and after the end

	i uint64 // index of the next chunk to open

	// Sized mode (NewRangeReader): the layout is known, so each chunk is read
	// with its exact size and the final one is known by index.
	sized bool
	l     layout
	stop  uint64 // last chunk to open

	// Sequential mode (NewReader): a chunk is final when the blob ends after
	// it, which is learnt by reading one byte past it.
	ahead     bool
	aheadByte byte

	spare  *plainBuf // a full-size final chunk is opened here, never in place
	skip   int       // plaintext bytes to drop from the next chunk
	remain int64     // plaintext bytes still to return; -1 means all
	plain  []byte    // authenticated plaintext not yet returned
	err    error     // sticky; io.EOF once the range or stream is done
}

// NewReader reads and checks the stream header from src and returns a Reader
// of the whole stream. A header that is malformed or was not written with
// dek fails here, before any chunk is read; the associated data ad is checked
// by the first chunk. Errors from src other than an early end are returned
// wrapped, not as ErrIntegrity.
//
// NewReader needs no size: the final chunk is the one after which src ends.
// When the size is known (it is, from the object's metadata), NewRangeReader
// over the whole stream reads chunk-aligned and has no look-ahead.
func NewReader(src io.Reader, dek, ad []byte) (*Reader, error) {
	if len(dek) != KeySize {
		return nil, errKeySize
	}
	hdr, err := readHeader(src)
	if err != nil {
		return nil, err
	}
	s, err := newStream(dek, ad, hdr, false)
	if err != nil {
		return nil, err
	}
	return &Reader{s: s, src: src, remain: -1}, nil
}

func readHeader(src io.Reader) ([]byte, error) {
	hdr := make([]byte, HeaderSize)
	n, err := io.ReadFull(src, hdr)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return nil, &integrityError{kind: failTruncated, chunk: -1,
			msg: fmt.Sprintf("the blob ends after %d bytes, inside the %d-byte header", n, HeaderSize)}
	case err != nil:
		return nil, fmt.Errorf("crypt: reading header: %w", err)
	}
	return hdr, nil
}

// NewRangeReader returns a Reader of plaintext bytes [off, off+n) of a
// stream of plainSize bytes, clipped to the stream, that reads from src only
// the chunks CipherRange names. A ranged GET over a backend is then:
//
//	cOff, cLen := crypt.CipherRange(off, n, size)
//	body := backend GET of blob bytes [cOff, cOff+cLen)
//	r, err := crypt.NewRangeReader(body, dek, ad, header, off, n, size)
//
// header is the stream's header (Writer.Header, kept in the object's
// metadata), which makes the ranged GET one backend request. With a nil
// header, src must instead start at byte 0 of the blob: the header is read
// from it and the bytes up to cOff are skipped (one request for ranges near
// the start; otherwise fetch [0, HeaderSize) and the range separately).
//
// Only the chunks of the range are authenticated, each for its position and
// for being final or not, so a range that excludes the final chunk does not
// prove plainSize. src may hold more than the range; the rest is not read.
func NewRangeReader(src io.Reader, dek, ad []byte, header []byte, off, n, plainSize int64) (*Reader, error) {
	if off < 0 || n < 0 || plainSize < 0 || plainSize > MaxPlaintextSize {
		return nil, fmt.Errorf("crypt: invalid range: offset %d, length %d of a %d-byte stream", off, n, plainSize)
	}
	if len(dek) != KeySize {
		return nil, errKeySize
	}
	cOff, cLen := CipherRange(off, n, plainSize)
	if header == nil {
		if cLen == 0 {
			return &Reader{err: io.EOF}, nil
		}
		h, err := readHeader(src)
		if err != nil {
			return nil, err
		}
		header = h
		if k, err := io.CopyN(io.Discard, src, cOff-HeaderSize); err != nil {
			if err == io.EOF {
				return nil, chunkError(failTruncated, uint64(off/ChunkSize), "the blob ends %d bytes before the chunk", cOff-HeaderSize-k)
			}
			return nil, fmt.Errorf("crypt: skipping to chunk %d: %w", off/ChunkSize, err)
		}
	}
	s, err := newStream(dek, ad, header, false)
	if err != nil {
		return nil, err
	}
	if cLen == 0 {
		return &Reader{s: s, err: io.EOF}, nil
	}
	end := plainSize
	if n < plainSize-off {
		end = off + n
	}
	return &Reader{
		s: s, src: src,
		sized: true, l: newLayout(plainSize),
		i: uint64(off / ChunkSize), stop: uint64((end - 1) / ChunkSize),
		skip: int(off % ChunkSize), remain: end - off,
	}, nil
}

// next reads the ciphertext of chunk r.i into the buffer.
func (r *Reader) next() (ct []byte, final bool, err error) {
	if r.buf == nil {
		r.buf = chunkPool.Get().(*chunkBuf)
	}
	b := r.buf.b[:encChunkSize+1]
	if r.sized {
		final = r.i == r.l.final
		size := TagSize + r.l.plainLen(r.i)
		m, err := io.ReadFull(r.src, b[:size])
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return nil, false, chunkError(failTruncated, r.i, "the ciphertext ends %d bytes into the chunk, which has %d", m, size)
		case err != nil:
			return nil, false, fmt.Errorf("crypt: reading chunk %d: %w", r.i, err)
		}
		return b[:size], final, nil
	}
	n := 0
	if r.ahead {
		b[0] = r.aheadByte
		n = 1
	}
	for empty := 0; n < len(b); {
		m, err := r.src.Read(b[n:])
		n += m
		switch {
		case err == io.EOF:
			r.ahead = false
			return b[:n], true, nil
		case err != nil:
			return nil, false, fmt.Errorf("crypt: reading chunk %d: %w", r.i, err)
		case m > 0:
			empty = 0
		default:
			if empty++; empty == 100 {
				return nil, false, fmt.Errorf("crypt: reading chunk %d: %w", r.i, io.ErrNoProgress)
			}
		}
	}
	r.ahead, r.aheadByte = true, b[encChunkSize]
	return b[:encChunkSize], false, nil
}

// advance opens the next chunk and returns the plaintext it contributes to
// the range. The chunk is opened into p when it all goes there (direct),
// else in the buffer.
func (r *Reader) advance(p []byte) (pt []byte, direct bool, err error) {
	ct, final, err := r.next()
	if err != nil {
		return nil, false, err
	}
	size := len(ct) - TagSize
	var dst []byte
	switch {
	case size > 0 && len(p) >= size && r.skip == 0 && (r.remain < 0 || r.remain >= int64(size)):
		dst, direct = p, true
	case final && len(ct) == encChunkSize:
		if r.spare == nil {
			r.spare = plainPool.Get().(*plainBuf)
		}
		dst = r.spare[:]
	default:
		dst = ct
	}
	pt, err = r.s.open(dst, &r.buf.nonce, ct, r.i, final)
	if err != nil {
		return nil, false, err
	}
	r.i++
	if final || (r.sized && r.i > r.stop) {
		r.err = io.EOF
	}
	pt = pt[r.skip:]
	r.skip = 0
	if r.remain >= 0 {
		if int64(len(pt)) > r.remain {
			pt = pt[:r.remain]
		}
		if r.remain -= int64(len(pt)); r.remain == 0 {
			r.err = io.EOF
		}
	}
	return pt, direct, nil
}

// Read reads plaintext into p.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			r.release()
			return 0, r.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		pt, direct, err := r.advance(p)
		if err != nil {
			r.fail(err)
			return 0, err
		}
		if direct {
			return len(pt), nil
		}
		r.plain = pt
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// WriteTo writes the plaintext to w, each chunk from where it was decrypted.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.plain) > 0 {
			n, err := w.Write(r.plain)
			total += int64(n)
			r.plain = r.plain[n:]
			if err == nil && len(r.plain) > 0 {
				err = io.ErrShortWrite
			}
			if err != nil {
				return total, err
			}
		}
		if r.err != nil {
			r.release()
			if r.err == io.EOF {
				return total, nil
			}
			return total, r.err
		}
		pt, _, err := r.advance(nil)
		if err != nil {
			r.fail(err)
			return total, err
		}
		r.plain = pt
	}
}

func (r *Reader) fail(err error) {
	r.err, r.plain = err, nil
	r.release()
}

// release returns the buffers once nothing refers to them.
func (r *Reader) release() {
	if len(r.plain) > 0 {
		return
	}
	if r.buf != nil {
		chunkPool.Put(r.buf)
		r.buf = nil
	}
	if r.spare != nil {
		plainPool.Put(r.spare)
		r.spare = nil
	}
}
