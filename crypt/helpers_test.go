package crypt

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// The key and context of most tests and vectors.
var (
	testDEK = []byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f" +
		"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f")
	testAD = []byte("tenant=ministry-x\x00bucket=reports\x00key=2024/annual.pdf\x00version=1")
)

// testSalt is a deterministic salt for name; production salts are random.
func testSalt(name string) []byte {
	s := sha256.Sum256([]byte("coffre test salt " + name))
	return s[:]
}

// testPlaintext returns n deterministic pseudo-random bytes.
func testPlaintext(n int, seed uint64) []byte {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	p := make([]byte, n)
	rand.NewChaCha8(s).Read(p)
	return p
}

// seal encrypts pt in one Write with a fixed salt.
func seal(t testing.TB, dek, ad, pt, salt []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := newWriter(&b, dek, ad, salt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pt); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// openSeq decrypts blob with the sequential Reader and returns what it
// released, with the error that stopped it (nil at a clean end).
func openSeq(blob, dek, ad []byte) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(blob), dek, ad)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// failureOf returns the failure class of an ErrIntegrity, or 0.
func failureOf(err error) failure {
	var ie *integrityError
	if errors.As(err, &ie) {
		return ie.kind
	}
	return 0
}

// stepWriter writes p in pieces of step bytes.
func writeSteps(w io.Writer, p []byte, step int) error {
	for len(p) > 0 {
		k := min(step, len(p))
		n, err := w.Write(p[:k])
		if err != nil {
			return err
		}
		if n != k {
			return io.ErrShortWrite
		}
		p = p[k:]
	}
	return nil
}

// readSteps reads r to the end with a buffer of step bytes.
func readSteps(r io.Reader, step int) ([]byte, error) {
	var out []byte
	buf := make([]byte, step)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// onlyReader hides every method but Read (so io.Copy takes ReadFrom/Read
// paths, as with an HTTP body).
type onlyReader struct{ io.Reader }

// onlyWriter hides every method but Write.
type onlyWriter struct{ io.Writer }
