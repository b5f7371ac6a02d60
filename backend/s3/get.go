package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffre-cloud/coffre/backend"
)

// Get returns the bytes of the blob from off, at most length of them (all
// to the end when length < 0), with a ranged GetObject. The SDK retries
// the request until the response starts; a transfer that breaks midway
// resumes where it stopped, with a Range and If-Match on the ETag, so that
// a blob replaced meanwhile fails the read rather than splice versions.
func (s *Store) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if !backend.ValidName(name) {
		return nil, fmt.Errorf("s3: get %q: %w", name, backend.ErrInvalidName)
	}
	if off < 0 {
		return nil, fmt.Errorf("s3: get %q: negative offset %d", name, off)
	}
	if length == 0 {
		// No Range can ask for zero bytes; the blob must still exist.
		if _, err := s.Stat(ctx, name); err != nil {
			return nil, err
		}
		return http.NoBody, nil
	}
	end := int64(-1) // exclusive; -1: to the end of the blob
	if length > 0 && length <= math.MaxInt64-off {
		end = off + length
	}
	r := &reader{s: s, ctx: ctx, name: name, pos: off, end: end}
	switch err := r.open(); {
	case err == errPastEnd:
		return http.NoBody, nil
	case err == backend.ErrNotFound:
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("s3: get %q: %w", name, err)
	}
	return r, nil
}

// errPastEnd is what open returns when the blob exists but has no byte at
// the offset (S3 answers 416 InvalidRange).
var errPastEnd = errors.New("offset at or past the end")

// reader reads a blob over one or more responses.
type reader struct {
	s    *Store
	ctx  context.Context
	name string

	body    io.ReadCloser // the current response's
	pos     int64         // offset of the next byte
	end     int64         // offset after the last byte wanted, or -1
	size    int64         // the blob's size, from the first response
	etag    string        // the version read: later responses must match it
	resumes int
	err     error // sticky
}

func (r *reader) open() error {
	in := &s3.GetObjectInput{Bucket: &r.s.bucket, Key: r.s.key(r.name)}
	if r.pos > 0 || r.end >= 0 {
		rng := "bytes=" + strconv.FormatInt(r.pos, 10) + "-"
		if r.end >= 0 {
			rng += strconv.FormatInt(r.end-1, 10)
		}
		in.Range = &rng
	}
	if r.etag != "" {
		in.IfMatch = &r.etag
	}
	out, err := r.s.client.GetObject(r.ctx, in)
	switch {
	case notFound(err):
		return backend.ErrNotFound
	case httpStatus(err) == http.StatusRequestedRangeNotSatisfiable || errorCode(err) == "InvalidRange":
		return errPastEnd
	case httpStatus(err) == http.StatusPreconditionFailed:
		return fmt.Errorf("the blob changed while it was read (ETag %s no longer matches)", r.etag)
	case err != nil:
		return r.s.opError(r.ctx, err)
	}
	if r.etag == "" {
		r.etag = aws.ToString(out.ETag)
	}
	size, skip, err := parseRange(aws.ToString(out.ContentRange), aws.ToInt64(out.ContentLength), r.pos)
	if err != nil {
		out.Body.Close()
		return err
	}
	r.size, r.body = size, out.Body
	if skip > 0 {
		// The server ignored the Range: skip to the offset.
		if _, err := io.CopyN(io.Discard, out.Body, skip); err != nil {
			out.Body.Close()
			return fmt.Errorf("skipping to offset %d: %w", r.pos, err)
		}
	}
	return nil
}

// parseRange returns the blob's size, from Content-Range for a partial
// response or Content-Length for a whole one, and how many bytes of the
// response come before pos (0 unless the server ignored the Range).
func parseRange(contentRange string, contentLength, pos int64) (size, skip int64, err error) {
	if contentRange != "" {
		// bytes FIRST-LAST/SIZE
		rng, total, ok := strings.Cut(strings.TrimPrefix(contentRange, "bytes "), "/")
		first, _, ok2 := strings.Cut(rng, "-")
		size, err1 := strconv.ParseInt(total, 10, 64)
		start, err2 := strconv.ParseInt(first, 10, 64)
		if !ok || !ok2 || err1 != nil || err2 != nil || start != pos {
			return 0, 0, fmt.Errorf("unexpected Content-Range %q for offset %d", contentRange, pos)
		}
		return size, 0, nil
	}
	if pos >= contentLength {
		return 0, 0, errPastEnd
	}
	return contentLength, pos, nil
}

// stop is the offset after the last byte this reader returns.
func (r *reader) stop() int64 {
	if r.end >= 0 && r.end < r.size {
		return r.end
	}
	return r.size
}

func (r *reader) Read(p []byte) (int, error) {
	for {
		if r.err != nil {
			return 0, r.err
		}
		left := r.stop() - r.pos
		if left <= 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
		n, err := r.body.Read(p)
		r.pos += int64(n)
		if n > 0 || err == nil {
			// Report the bytes; an error shows again at the next Read.
			return n, nil
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // before stop: the response was cut
		}
		if r.ctx.Err() != nil || !brokenTransfer(err) || r.resumes >= r.s.retries {
			r.err = fmt.Errorf("s3: get %q at byte %d: %w", r.name, r.pos, r.s.opError(r.ctx, err))
			return 0, r.err
		}
		r.body.Close()
		r.resumes++
		if !sleep(r.ctx, backoff(r.s.retryBase, r.s.retryMax, r.resumes-1)) {
			r.err = fmt.Errorf("s3: get %q at byte %d: %w", r.name, r.pos, r.ctx.Err())
			return 0, r.err
		}
		if err := r.open(); err != nil {
			r.body = http.NoBody
			r.err = fmt.Errorf("s3: get %q: resuming at byte %d: %w", r.name, r.pos, err)
			return 0, r.err
		}
	}
}

func (r *reader) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	r.err = errors.New("s3: read after Close")
	return err
}

// brokenTransfer reports whether a read of a response body failed because
// the connection did (cut, reset, timed out), which another request may
// get past.
func brokenTransfer(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// backoff is the wait before retry n (0-based): base·2ⁿ bounded by max, of
// which the upper half is random.
func backoff(base, max time.Duration, n int) time.Duration {
	d := max
	if n < 30 && base<<n < max {
		d = base << n
	}
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
