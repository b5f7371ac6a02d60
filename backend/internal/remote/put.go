package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// errTooLong is wrapped by Put's error when the reader has more bytes than
// the size given.
var errTooLong = errors.New("the reader yields more bytes than the size given")

// ReadExact reads exactly size bytes of r and checks that r ends there.
func ReadExact(ctx context.Context, r io.Reader, size int64) ([]byte, error) {
	b := make([]byte, size)
	cr := ContextReader(ctx, r)
	n, err := io.ReadFull(cr, b)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return nil, fmt.Errorf("the reader ended after %d bytes of %d: %w", n, size, io.ErrUnexpectedEOF)
	case err != nil:
		return nil, fmt.Errorf("reading the blob: %w", err)
	}
	if err := ExpectEOF(cr); err != nil {
		return nil, err
	}
	return b, nil
}

// ExpectEOF checks that r has no more bytes: a Put calls it before it lets
// the server have the last bytes of a blob, so that a reader longer than
// the size given fails the Put before anything is stored.
func ExpectEOF(r io.Reader) error {
	var one [1]byte
	for range 100 {
		n, err := r.Read(one[:])
		if n > 0 {
			return errTooLong
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the blob: %w", err)
		}
	}
	return fmt.Errorf("reading the blob: %w", io.ErrNoProgress)
}

// ContextReader returns a reader of r that fails once ctx has ended, so that
// a cancelled Put stops reading a reader that would go on.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return ctxReader{ctx, r}
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
