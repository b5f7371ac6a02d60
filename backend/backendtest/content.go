package backendtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
)

// content returns n deterministic pseudo-random bytes for seed. Random bytes
// (rather than a repeated pattern) make a misplaced range or a mix of two
// writers visible at the first differing byte.
func content(seed uint64, n int) []byte {
	b := make([]byte, n)
	newGen(seed).Read(b)
	return b
}

func newGen(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// streamReader yields n bytes of seed's stream, generated on the fly, in
// reads of at most step bytes. It has no WriterTo, Len or Seek, so the store
// sees what an HTTP request body looks like: a plain stream of uneven reads.
type streamReader struct {
	g    *rand.ChaCha8
	left int64
	step int
}

func newStream(seed uint64, n int64, step int) *streamReader {
	return &streamReader{g: newGen(seed), left: n, step: step}
}

func (r *streamReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if len(p) > r.step {
		p = p[:r.step]
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	r.g.Read(p)
	r.left -= int64(len(p))
	return len(p), nil
}

// sameStream reads got to its end and reports how it differs from the n
// bytes of seed's stream, or nil when it is identical. It compares chunk by
// chunk, so multi-megabyte blobs are checked without holding them in memory.
func sameStream(got io.Reader, seed uint64, n int64) error {
	want := newStream(seed, n, 1<<20)
	bg := make([]byte, 64<<10)
	bw := make([]byte, 64<<10)
	var off int64
	for {
		m, err := io.ReadFull(got, bg)
		if m > 0 {
			k, _ := io.ReadFull(want, bw[:m])
			if err := diff(bg[:m], bw[:k], off); err != nil {
				return err
			}
			if k < m {
				return fmt.Errorf("blob is longer than the %d bytes written", n)
			}
			off += int64(m)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading at byte %d: %w", off, err)
		}
	}
	if off != n {
		return fmt.Errorf("blob is %d bytes, want %d", off, n)
	}
	return nil
}

// diff reports the first byte where got and want differ, with off the
// position of got[0] in the blob.
func diff(got, want []byte, off int64) error {
	n := min(len(got), len(want))
	for i := range n {
		if got[i] != want[i] {
			return fmt.Errorf("byte %d is %#02x, want %#02x", off+int64(i), got[i], want[i])
		}
	}
	return nil
}

// describe says how got differs from want in one line, for failure messages.
func describe(got, want []byte) string {
	if err := diff(got, want, 0); err != nil {
		return err.Error()
	}
	if len(got) != len(want) {
		return fmt.Sprintf("got %d bytes, want %d (same leading bytes)", len(got), len(want))
	}
	return "identical"
}

// errBoom is the error of failingReader, so that the suite can check that a
// store reports the reader's own error.
var errBoom = errors.New("backendtest: reader failed on purpose")

// failingReader yields n bytes, then fails with errBoom.
type failingReader struct {
	r io.Reader
}

func newFailingReader(seed uint64, n int64) *failingReader {
	return &failingReader{r: newStream(seed, n, 32<<10)}
}

func (r *failingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err == io.EOF {
		return n, errBoom
	}
	return n, err
}

// hookReader calls hook once after at least after bytes were read, then keeps
// reading from r: it lets a test cancel a context in the middle of a Put.
type hookReader struct {
	r     io.Reader
	after int64
	n     int64
	hook  func()
}

func (r *hookReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	if r.hook != nil && r.n >= r.after {
		r.hook()
		r.hook = nil
	}
	return n, err
}
