package sigv4

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"hash"
	"io"
)

// incomplete turns the short-body errors of net/http into ErrIncompleteBody.
// The server's body reader returns io.ErrUnexpectedEOF when the connection
// ends before Content-Length bytes.
func incomplete(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the request body terminated unexpectedly", ErrIncompleteBody)
	}
	return err
}

// plainBody is an UNSIGNED-PAYLOAD body: passed through, with short bodies
// reported as ErrIncompleteBody.
type plainBody struct {
	src io.ReadCloser
}

func (b *plainBody) Read(p []byte) (int, error) {
	n, err := b.src.Read(p)
	if err != nil && err != io.EOF {
		err = incomplete(err)
	}
	return n, err
}

func (b *plainBody) Close() error { return b.src.Close() }

// sha256Body hashes the body as it streams and, at its end, compares the
// hash with the signed x-amz-content-sha256.
type sha256Body struct {
	src  io.ReadCloser
	h    hash.Hash
	want [32]byte
	sum  [32]byte
	err  error // sticky, once the end was reached or reading failed
}

func (b *sha256Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.src.Read(p)
	b.h.Write(p[:n])
	switch {
	case err == io.EOF:
		if !hmac.Equal(b.h.Sum(b.sum[:0]), b.want[:]) {
			b.err = ErrXAmzContentSHA256Mismatch
		} else {
			b.err = io.EOF
		}
		if n > 0 && b.err != io.EOF {
			// Report the mismatch with the next call, after these bytes,
			// as io.Reader callers expect.
			return n, nil
		}
		return n, b.err
	case err != nil:
		b.err = incomplete(err)
		if n > 0 {
			return n, nil
		}
		return 0, b.err
	}
	return n, nil
}

func (b *sha256Body) Close() error { return b.src.Close() }
