// Package detstream makes deterministic byte streams for tests and
// benchmarks: size bytes of the AES-256-CTR keystream of a key derived
// from a label and a seed, from any offset. Any range can be made again
// without keeping it, so bodies of any size are written and checked without
// holding them in memory.
package detstream

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Stream is an io.ReadSeeker, which the AWS SDK needs over plain HTTP: it
// reads a body once to hash it, rewinds, then sends it.
type Stream struct {
	block     cipher.Block
	base      int64
	size, pos int64
	ctr       cipher.Stream // positioned at base+pos; nil after a Seek
}

// New returns size bytes of the stream of (label, seed) from byte base of
// that stream on. Different labels give unrelated streams for the same
// seed.
func New(label string, seed uint64, base, size int64) *Stream {
	key := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(label), seed))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	return &Stream{block: block, base: base, size: size}
}

// Read implements io.Reader.
func (s *Stream) Read(p []byte) (int, error) {
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

// Seek implements io.Seeker.
func (s *Stream) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += s.pos
	case io.SeekEnd:
		off += s.size
	default:
		return 0, fmt.Errorf("detstream: bad whence %d", whence)
	}
	if off < 0 {
		return 0, errors.New("detstream: negative position")
	}
	if off != s.pos {
		s.pos, s.ctr = off, nil
	}
	return off, nil
}
