package checksum

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"net/http"
)

// Reader computes the checksums a Spec asks for while its caller reads, and
// checks them when the underlying reader ends.
type Reader struct {
	r       io.Reader
	spec    Spec
	trailer func() http.Header
	h       hash.Hash // nil when no algorithm
	md5     hash.Hash // nil without Content-MD5
	sum     [64]byte  // digest of h, then scratch for decoding
	sumLen  int
	done    bool
	err     error // sticky: io.EOF after a clean end, or the failure
}

// NewReader returns a Reader of r that verifies s. At the end of r it
// compares the body with s.ContentMD5 (ErrBadDigest on mismatch) and with
// the checksum value (ErrChecksumMismatch): s.Expected, or when s.InTrailer
// the x-amz-checksum-<alg> entry of trailer(), called only then (sigv4's
// Result.Trailer fits). On mismatch, Read returns the error instead of
// io.EOF, and keeps returning it. Reads do not allocate.
func NewReader(r io.Reader, s Spec, trailer func() http.Header) *Reader {
	cr := &Reader{r: r, spec: s, trailer: trailer, h: s.Algorithm.New()}
	if s.ContentMD5 != "" {
		cr.md5 = md5.New()
	}
	return cr
}

// Read implements io.Reader.
func (cr *Reader) Read(p []byte) (int, error) {
	if cr.err != nil {
		return 0, cr.err
	}
	n, err := cr.r.Read(p)
	if n > 0 {
		if cr.h != nil {
			cr.h.Write(p[:n])
		}
		if cr.md5 != nil {
			cr.md5.Write(p[:n])
		}
	}
	switch {
	case err == io.EOF:
		cr.err = cr.finish()
		if cr.err != io.EOF && n > 0 {
			return n, nil // report the failure with the next call, after these bytes
		}
		return n, cr.err
	case err != nil:
		cr.err = err
	}
	return n, err
}

// finish checks the digests at the end of the body; it returns io.EOF when
// they match.
func (cr *Reader) finish() error {
	cr.done = true
	if cr.h != nil {
		cr.sumLen = len(cr.h.Sum(cr.sum[:0]))
	}
	if cr.md5 != nil {
		var got, want [md5.Size]byte
		cr.md5.Sum(got[:0])
		if !decodeDigest(cr.sum[cr.sumLen:], cr.spec.ContentMD5, md5.Size) {
			return fmt.Errorf("%w (got %q)", ErrInvalidDigest, truncate(cr.spec.ContentMD5, 60))
		}
		copy(want[:], cr.sum[cr.sumLen:])
		if got != want {
			return ErrBadDigest
		}
	}
	if cr.h == nil {
		return io.EOF
	}
	a := cr.spec.Algorithm
	expected := cr.spec.Expected
	where := "header"
	if cr.spec.InTrailer {
		where = "trailing header"
		var t http.Header
		if cr.trailer != nil {
			t = cr.trailer()
		}
		expected = t.Get(a.HeaderName())
		if expected == "" {
			return fmt.Errorf("%w: trailer %s, declared in x-amz-trailer, is missing", ErrInvalidRequest, a.HeaderName())
		}
	}
	if expected == "" {
		return io.EOF // computed for the record, nothing to compare with
	}
	var want [64]byte
	if !decodeDigest(want[:], expected, a.Size()) {
		return fmt.Errorf("%w: value for %s %s is invalid", ErrInvalidRequest, a.HeaderName(), where)
	}
	if !bytes.Equal(want[:a.Size()], cr.sum[:cr.sumLen]) {
		return fmt.Errorf("%w: the %s you specified did not match the calculated checksum", ErrChecksumMismatch, a.HeaderName())
	}
	return io.EOF
}

// Sum returns the algorithm and the base64 checksum computed over the whole
// body, once Read has returned io.EOF (or a mismatch); before that the value
// is "". The algorithm is "" when the Spec asked for none.
func (cr *Reader) Sum() (Algorithm, string) {
	if cr.h == nil {
		return "", ""
	}
	if !cr.done {
		return cr.spec.Algorithm, ""
	}
	return cr.spec.Algorithm, base64.StdEncoding.EncodeToString(cr.sum[:cr.sumLen])
}
