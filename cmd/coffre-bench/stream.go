package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// stream is size bytes of the deterministic stream of a seed, from byte base
// of that stream on: the AES-256-CTR keystream under a key derived from the
// seed (tests/durability uses the same construction). Any range of it can be
// made again without keeping it, so bodies of any size are sent and checked
// without holding them in memory, at a few GB/s (AES-NI). It is an
// io.ReadSeeker, which the SDK needs over plain HTTP when it signs the
// payload: it reads the body once to hash it, rewinds, then sends it.
type stream struct {
	block     cipher.Block
	base      int64
	size, pos int64
	ctr       cipher.Stream // positioned at base+pos; nil after a Seek
}

func newStream(seed uint64, base, size int64) *stream {
	key := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("coffre bench stream"), seed))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	return &stream{block: block, base: base, size: size}
}

// seedOf derives a stream seed from an object key, so that every object has
// its own bytes and a GET can check them from the key alone.
func seedOf(key string) uint64 {
	h := sha256.Sum256([]byte(key))
	return binary.BigEndian.Uint64(h[:8])
}

func (s *stream) Read(p []byte) (int, error) {
	if s.pos >= s.size {
		return 0, io.EOF
	}
	if rem := s.size - s.pos; int64(len(p)) > rem {
		p = p[:rem]
	}
	if s.ctr == nil {
		at := s.base + s.pos
		var iv [aes.BlockSize]byte
		binary.BigEndian.PutUint64(iv[8:], uint64(at/aes.BlockSize))
		s.ctr = cipher.NewCTR(s.block, iv[:])
		var skip [aes.BlockSize]byte
		s.ctr.XORKeyStream(skip[:at%aes.BlockSize], skip[:at%aes.BlockSize])
	}
	clear(p)
	s.ctr.XORKeyStream(p, p)
	s.pos += int64(len(p))
	return len(p), nil
}

func (s *stream) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += s.pos
	case io.SeekEnd:
		off += s.size
	default:
		return 0, fmt.Errorf("stream: bad whence %d", whence)
	}
	if off < 0 {
		return 0, errors.New("stream: negative position")
	}
	if off != s.pos {
		s.pos, s.ctr = off, nil
	}
	return off, nil
}

// errMismatch reports a body whose bytes are not those that were written.
var errMismatch = errors.New("body differs from the bytes written")

// verifier reads a body and compares it, chunk by chunk, with the stream it
// should be: a GET is checked while it streams, in constant memory, and a
// wrong, short or long body is an error. Comparing with the regenerated
// stream costs about what hashing the body would, without computing the
// expected digest of every object beforehand.
type verifier struct {
	want     *stream
	buf, exp []byte
}

func newVerifier(bufSize int) *verifier {
	return &verifier{buf: make([]byte, bufSize), exp: make([]byte, bufSize)}
}

// check reads r to its end and returns how many bytes it read and whether
// they were size bytes of seed's stream.
func (v *verifier) check(r io.Reader, seed uint64, size int64) (int64, error) {
	v.want = newStream(seed, 0, size)
	var n int64
	for {
		m, err := r.Read(v.buf)
		if m > 0 {
			if n+int64(m) > size {
				return n + int64(m), fmt.Errorf("%w: longer than %d bytes", errMismatch, size)
			}
			if _, err := io.ReadFull(v.want, v.exp[:m]); err != nil {
				return n, err
			}
			if !bytes.Equal(v.buf[:m], v.exp[:m]) {
				return n, fmt.Errorf("%w: at byte %d or after", errMismatch, n)
			}
			n += int64(m)
		}
		if err == io.EOF {
			if n != size {
				return n, fmt.Errorf("%w: %d bytes, want %d", errMismatch, n, size)
			}
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
