package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/coffre-cloud/coffre/internal/detstream"
)

// stream is size bytes, from byte base on, of the deterministic stream of
// a seed (internal/detstream): bodies are written and checked without being
// held in memory.
type stream = detstream.Stream

func newStream(seed uint64, base, size int64) *stream {
	return detstream.New("coffre bench stream", seed, base, size)
}

// seedOf derives a stream seed from an object key, so that every object has
// its own bytes and a GET can check them from the key alone.
func seedOf(key string) uint64 {
	h := sha256.Sum256([]byte(key))
	return binary.BigEndian.Uint64(h[:8])
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
