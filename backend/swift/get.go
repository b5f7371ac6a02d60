package swift

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	ncw "github.com/ncw/swift/v2"

	"github.com/coffre-cloud/coffre/backend"
)

// Get returns the bytes of the blob from off, at most length of them (all
// to the end when length < 0). The request is retried on transient errors
// until the response starts; a transfer that fails midway resumes where it
// stopped, with a Range request, as long as the object is still the same
// version (same ETag and timestamp) and retries remain.
func (s *Store) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if !backend.ValidName(name) {
		return nil, fmt.Errorf("swift: get %q: %w", name, backend.ErrInvalidName)
	}
	if off < 0 {
		return nil, fmt.Errorf("swift: get %q: negative offset %d", name, off)
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
		return nil, fmt.Errorf("swift: get %q: %w", name, err)
	}
	return r, nil
}

// errPastEnd is what open returns when the blob exists but has no byte at
// the offset (Swift answers 416).
var errPastEnd = errors.New("offset at or past the end")

// reader reads a blob over one or more responses.
type reader struct {
	s    *Store
	ctx  context.Context
	name string

	body io.ReadCloser // the current response's
	pos  int64         // offset of the next byte
	end  int64         // offset after the last byte wanted, or -1
	size int64         // the blob's size, from the first response
	// version identifies the object read, so that a resumed transfer
	// never splices two versions of the blob.
	version string
	resumes int
	err     error // sticky
}

// open starts a response at r.pos, retrying transient failures.
func (r *reader) open() error {
	h := ncw.Headers{}
	if r.pos > 0 || r.end >= 0 {
		rng := "bytes=" + strconv.FormatInt(r.pos, 10) + "-"
		if r.end >= 0 {
			rng += strconv.FormatInt(r.end-1, 10)
		}
		h["Range"] = rng
	}
	var (
		f    *ncw.ObjectOpenFile
		resp ncw.Headers
	)
	err := r.s.retry.do(r.ctx, r.s.conn, func() error {
		var err error
		f, resp, err = r.s.conn.ObjectOpen(r.ctx, r.s.container, r.name, false, h)
		return err
	})
	switch {
	case errors.Is(err, ncw.ObjectNotFound):
		return backend.ErrNotFound
	case status(err) == http.StatusRequestedRangeNotSatisfiable:
		return errPastEnd
	case err != nil:
		return r.s.opError(r.ctx, err)
	}
	version := resp["Etag"] + "/" + resp["X-Timestamp"]
	if r.version == "" {
		r.version = version
	} else if version != r.version {
		f.Close()
		return fmt.Errorf("the blob changed while it was read (version %s, then %s)", r.version, version)
	}
	size, skip, err := parseRange(resp, r.pos)
	if err != nil {
		f.Close()
		return err
	}
	r.size = size
	r.body = f
	if skip > 0 {
		// The server ignored the Range: skip to the offset.
		if _, err := io.CopyN(io.Discard, f, skip); err != nil {
			f.Close()
			return fmt.Errorf("skipping to offset %d: %w", r.pos, err)
		}
	}
	return nil
}

// parseRange returns the blob's size, from Content-Range for a partial
// response or Content-Length for a whole one, and how many bytes of the
// response come before pos (0 unless the server ignored the Range).
func parseRange(h ncw.Headers, pos int64) (size, skip int64, err error) {
	if cr := h["Content-Range"]; cr != "" {
		// bytes FIRST-LAST/SIZE
		rng, total, ok := strings.Cut(strings.TrimPrefix(cr, "bytes "), "/")
		first, _, ok2 := strings.Cut(rng, "-")
		size, err1 := strconv.ParseInt(total, 10, 64)
		start, err2 := strconv.ParseInt(first, 10, 64)
		if !ok || !ok2 || err1 != nil || err2 != nil || start != pos {
			return 0, 0, fmt.Errorf("unexpected Content-Range %q for offset %d", cr, pos)
		}
		return size, 0, nil
	}
	size, err = strconv.ParseInt(h["Content-Length"], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("response without Content-Length: %q", h["Content-Length"])
	}
	if pos >= size {
		return 0, 0, errPastEnd
	}
	return size, pos, nil
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
		if r.ctx.Err() != nil || !transient(err) || r.resumes >= r.s.retry.retries {
			r.err = fmt.Errorf("swift: get %q at byte %d: %w", r.name, r.pos, r.s.opError(r.ctx, err))
			return 0, r.err
		}
		// Resume from r.pos.
		r.body.Close()
		r.resumes++
		if !sleep(r.ctx, r.s.retry.backoff(r.resumes-1)) {
			r.err = fmt.Errorf("swift: get %q at byte %d: %w", r.name, r.pos, r.ctx.Err())
			return 0, r.err
		}
		if err := r.open(); err != nil {
			r.body = http.NoBody
			r.err = fmt.Errorf("swift: get %q: resuming at byte %d: %w", r.name, r.pos, err)
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
	r.err = errors.New("swift: read after Close")
	return err
}
