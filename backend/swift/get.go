package swift

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	ncw "github.com/ncw/swift/v2"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/internal/remote"
)

// Get returns the bytes of the blob from off, at most length of them (all
// to the end when length < 0). The request is retried on transient errors
// until the response starts; a transfer that fails midway resumes where it
// stopped, with a Range request, as long as the object is still the same
// version (same ETag and timestamp) and retries remain.
func (s *Store) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	return s.reads.Get(ctx, name, off, length)
}

// getObject is the remote.Reads.Open of Get: a GET of rng, retried on
// transient failures. The version of an object is its ETag and timestamp;
// a response of another version than the one given fails. A blob without a
// byte at the offset is answered 416.
func (s *Store) getObject(ctx context.Context, name, rng, version string) (remote.Response, error) {
	h := ncw.Headers{}
	if rng != "" {
		h["Range"] = rng
	}
	var (
		f    *ncw.ObjectOpenFile
		resp ncw.Headers
	)
	err := s.retry.do(ctx, s.conn, func() error {
		var err error
		f, resp, err = s.conn.ObjectOpen(ctx, s.container, name, false, h)
		return err
	})
	switch {
	case errors.Is(err, ncw.ObjectNotFound):
		return remote.Response{}, backend.ErrNotFound
	case status(err) == http.StatusRequestedRangeNotSatisfiable:
		return remote.Response{}, remote.ErrPastEnd
	case err != nil:
		return remote.Response{}, s.opError(ctx, err)
	}
	got := resp["Etag"] + "/" + resp["X-Timestamp"]
	if version != "" && got != version {
		f.Close()
		return remote.Response{}, fmt.Errorf("the blob changed while it was read (version %s, then %s)", version, got)
	}
	out := remote.Response{Body: f, Version: got, ContentRange: resp["Content-Range"]}
	if out.ContentRange == "" {
		// A whole response: its length is the blob's size.
		n, err := strconv.ParseInt(resp["Content-Length"], 10, 64)
		if err != nil {
			f.Close()
			return remote.Response{}, fmt.Errorf("response without Content-Length: %q", resp["Content-Length"])
		}
		out.ContentLength = n
	}
	return out, nil
}
