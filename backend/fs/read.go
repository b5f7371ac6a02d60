package fs

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/coffre-cloud/coffre/backend"
)

// Get implements backend.Store.
func (s *Store) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if !backend.ValidName(name) {
		return nil, fmt.Errorf("fs: get %q: %w", name, backend.ErrInvalidName)
	}
	if off < 0 {
		return nil, fmt.Errorf("fs: get %q: negative offset %d", name, off)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fs: get %q: %w", name, err)
	}
	f, err := os.Open(s.path(name))
	if err != nil {
		if notFound(err) {
			return nil, backend.ErrNotFound
		}
		return nil, fmt.Errorf("fs: get %q: %w", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fs: get %q: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, backend.ErrNotFound
	}
	n := max(fi.Size()-off, 0)
	if length >= 0 && length < n {
		n = length
	}
	if n == 0 {
		f.Close()
		return emptyReader{}, nil
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("fs: get %q: %w", name, err)
		}
	}
	return &reader{lr: io.LimitedReader{R: f, N: n}, f: f}, nil
}

// reader reads a range of a blob file. It keeps the *os.File visible to
// io.Copy's fast paths (see WriteTo).
type reader struct {
	lr io.LimitedReader
	f  *os.File
}

func (r *reader) Read(p []byte) (int, error) { return r.lr.Read(p) }

// WriteTo hands an *io.LimitedReader of the file to the destination's
// ReadFrom: that is the shape net.TCPConn turns into sendfile and os.File
// into copy_file_range, so the bytes never enter user space.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	if rf, ok := w.(io.ReaderFrom); ok {
		return rf.ReadFrom(&r.lr)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	return io.CopyBuffer(w, &r.lr, *bp)
}

func (r *reader) Close() error { return r.f.Close() }

// emptyReader is the body of a range that holds no byte.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error)         { return 0, io.EOF }
func (emptyReader) WriteTo(io.Writer) (int64, error) { return 0, nil }
func (emptyReader) Close() error                     { return nil }

// Stat implements backend.Store.
func (s *Store) Stat(ctx context.Context, name string) (backend.Info, error) {
	if !backend.ValidName(name) {
		return backend.Info{}, fmt.Errorf("fs: stat %q: %w", name, backend.ErrInvalidName)
	}
	fi, err := os.Stat(s.path(name))
	if err != nil {
		if notFound(err) {
			return backend.Info{}, backend.ErrNotFound
		}
		return backend.Info{}, fmt.Errorf("fs: stat %q: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return backend.Info{}, backend.ErrNotFound
	}
	return backend.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}
