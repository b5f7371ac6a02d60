package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/coffre-cloud/coffre/backend"
)

// ErrPastEnd is what Reads.Open returns, unwrapped, when the blob exists but
// has no byte at the start of the range (HTTP 416).
var ErrPastEnd = errors.New("offset at or past the end")

// Response is the start of the answer to a GET of a blob.
type Response struct {
	Body io.ReadCloser
	// Version identifies the version of the blob the response holds (its
	// ETag, say), which every later response of the same read must hold.
	Version string
	// ContentRange is the Content-Range of a partial response ("bytes
	// FIRST-LAST/SIZE"), or "" for a whole one, whose ContentLength is
	// then the blob's size.
	ContentRange  string
	ContentLength int64
}

// Reads are the ranged reads of a backend's Get: a request for the bytes
// wanted, then, when the response breaks midway, another from where it
// stopped, as long as the blob is the same version and Retry allows.
type Reads struct {
	// Name is the backend's, which starts its errors ("s3", "swift").
	Name string
	// Open sends a GET of the blob name with the Range header rng
	// ("bytes=FIRST-[LAST]", or "" for the whole blob), and retries it as
	// the backend does. version is "" for the first response of a read,
	// then the Version of the first response: Open fails if the blob is no
	// longer that version. A missing blob is backend.ErrNotFound, a blob
	// without a byte at FIRST is ErrPastEnd (both unwrapped); other errors
	// are explained already (see Err).
	Open func(ctx context.Context, name, rng, version string) (Response, error)
	// Stat checks that the blob exists, for reads of zero bytes, which no
	// Range can ask for.
	Stat func(ctx context.Context, name string) (backend.Info, error)
	// Resumable reports whether a read of a response's body failed in a way
	// that another request may get past (a connection cut, reset, timed
	// out).
	Resumable func(error) bool
	// Retry bounds the resumptions of one read, and the waits before them.
	Retry Backoff
	// Err turns the failure of a body's read into the error to return: the
	// context's when it ended the read, what to check when access is
	// refused.
	Err func(ctx context.Context, err error) error
}

// Get returns the bytes of the blob name from off, at most length of them
// (all to the end when length < 0), as backend.Store's Get does: an offset
// at or past the end yields an empty reader, a missing blob is
// backend.ErrNotFound.
func (g *Reads) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if !backend.ValidName(name) {
		return nil, fmt.Errorf("%s: get %q: %w", g.Name, name, backend.ErrInvalidName)
	}
	if off < 0 {
		return nil, fmt.Errorf("%s: get %q: negative offset %d", g.Name, name, off)
	}
	if length == 0 {
		// No Range can ask for zero bytes; the blob must still exist.
		if _, err := g.Stat(ctx, name); err != nil {
			return nil, err
		}
		return http.NoBody, nil
	}
	end := int64(-1) // exclusive; -1: to the end of the blob
	if length > 0 && length <= math.MaxInt64-off {
		end = off + length
	}
	r := &reader{g: g, ctx: ctx, name: name, pos: off, end: end}
	switch err := r.open(); {
	case err == ErrPastEnd:
		return http.NoBody, nil
	case err == backend.ErrNotFound:
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%s: get %q: %w", g.Name, name, err)
	}
	return r, nil
}

// reader reads a blob over one or more responses.
type reader struct {
	g    *Reads
	ctx  context.Context
	name string

	body io.ReadCloser // the current response's
	pos  int64         // offset of the next byte
	end  int64         // offset after the last byte wanted, or -1
	size int64         // the blob's size, from the first response
	// version identifies the blob read, so that a resumed transfer never
	// splices two versions of it.
	version string
	resumes int
	err     error // sticky
}

// open starts a response at r.pos.
func (r *reader) open() error {
	rng := ""
	if r.pos > 0 || r.end >= 0 {
		rng = "bytes=" + strconv.FormatInt(r.pos, 10) + "-"
		if r.end >= 0 {
			rng += strconv.FormatInt(r.end-1, 10)
		}
	}
	resp, err := r.g.Open(r.ctx, r.name, rng, r.version)
	if err != nil {
		return err
	}
	if r.version == "" {
		r.version = resp.Version
	}
	size, skip, err := parseRange(resp.ContentRange, resp.ContentLength, r.pos)
	if err != nil {
		resp.Body.Close()
		return err
	}
	r.size, r.body = size, resp.Body
	if skip > 0 {
		// The server ignored the Range: skip to the offset.
		if _, err := io.CopyN(io.Discard, resp.Body, skip); err != nil {
			resp.Body.Close()
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
		return 0, 0, ErrPastEnd
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
		if r.ctx.Err() != nil || !r.g.Resumable(err) || r.resumes >= r.g.Retry.Retries {
			r.err = fmt.Errorf("%s: get %q at byte %d: %w", r.g.Name, r.name, r.pos, r.g.Err(r.ctx, err))
			return 0, r.err
		}
		// Resume from r.pos.
		r.body.Close()
		r.resumes++
		if !Sleep(r.ctx, r.g.Retry.Wait(r.resumes-1)) {
			r.err = fmt.Errorf("%s: get %q at byte %d: %w", r.g.Name, r.name, r.pos, r.ctx.Err())
			return 0, r.err
		}
		if err := r.open(); err != nil {
			r.body = http.NoBody
			r.err = fmt.Errorf("%s: get %q: resuming at byte %d: %w", r.g.Name, r.name, r.pos, err)
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
	r.err = errors.New(r.g.Name + ": read after Close")
	return err
}
