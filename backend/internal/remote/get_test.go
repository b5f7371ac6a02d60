package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/backend"
)

// fakeBlobs serves one blob, "b", whose responses are cut after cut bytes
// (when cut > 0) for the first cuts of them. With replaced, the blob is
// another version once its first response has started.
type fakeBlobs struct {
	data     []byte
	version  string
	cut      int
	cuts     int
	replaced bool
	opens    int
}

func (f *fakeBlobs) reads(retries int) *Reads {
	return &Reads{
		Name: "fake",
		Open: f.open,
		Stat: func(_ context.Context, name string) (backend.Info, error) {
			if name != "b" {
				return backend.Info{}, backend.ErrNotFound
			}
			return backend.Info{Name: name, Size: int64(len(f.data))}, nil
		},
		Resumable: func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) },
		Retry:     Backoff{Retries: retries, Base: 1, Max: 1},
		Err:       func(_ context.Context, err error) error { return err },
	}
}

func (f *fakeBlobs) open(_ context.Context, name, rng, version string) (Response, error) {
	f.opens++
	if name != "b" {
		return Response{}, backend.ErrNotFound
	}
	if version != "" && (version != f.version || f.replaced) {
		return Response{}, fmt.Errorf("the blob changed while it was read")
	}
	size := int64(len(f.data))
	if rng == "" {
		return Response{Body: f.body(f.data), Version: f.version, ContentLength: size}, nil
	}
	first, last, _ := strings.Cut(strings.TrimPrefix(rng, "bytes="), "-")
	start, _ := strconv.ParseInt(first, 10, 64)
	end := size - 1
	if last != "" {
		end, _ = strconv.ParseInt(last, 10, 64)
		end = min(end, size-1)
	}
	if start >= size {
		return Response{}, ErrPastEnd
	}
	cr := fmt.Sprintf("bytes %d-%d/%d", start, end, size)
	return Response{Body: f.body(f.data[start : end+1]), Version: f.version, ContentRange: cr}, nil
}

func (f *fakeBlobs) body(b []byte) io.ReadCloser {
	if f.cut > 0 && f.cuts > 0 && len(b) > f.cut {
		f.cuts--
		b = b[:f.cut] // the connection breaks: EOF before the end
	}
	return io.NopCloser(bytes.NewReader(b))
}

func TestGet(t *testing.T) {
	data := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	size := int64(len(data))
	for _, tt := range []struct {
		name        string
		off, length int64
		cuts        int
	}{
		{"range=whole", 0, -1, 0},
		{"range=whole/cuts=3", 0, -1, 3},
		{"range=middle/cuts=2", 5, 20, 2},
		{"range=tail/cuts=1", 30, -1, 1},
		{"range=past", size, -1, 0},
		{"range=empty", 3, 0, 0},
		{"range=long", 10, size, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeBlobs{data: data, version: "v1", cut: 4, cuts: tt.cuts}
			rc, err := f.reads(3).Get(t.Context(), "b", tt.off, tt.length)
			if err != nil {
				t.Fatalf("Get = %v", err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			want := data[min(tt.off, size):]
			if tt.length >= 0 && tt.length < int64(len(want)) {
				want = want[:tt.length]
			}
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("read %q, %v; want %q", got, err, want)
			}
		})
	}
}

func TestGetFails(t *testing.T) {
	t.Run("blob=missing", func(t *testing.T) {
		f := &fakeBlobs{data: []byte("abc"), version: "v1"}
		if _, err := f.reads(3).Get(t.Context(), "nope", 0, -1); err != backend.ErrNotFound {
			t.Errorf("Get = %v, want backend.ErrNotFound", err)
		}
	})
	t.Run("resumes=spent", func(t *testing.T) {
		f := &fakeBlobs{data: []byte("0123456789abcdef"), version: "v1", cut: 2, cuts: 10}
		if err := readAll(t, f.reads(2)); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("read = %v, want io.ErrUnexpectedEOF", err)
		}
		if got, want := f.opens, 3; got != want {
			t.Errorf("%d responses, want %d (1 + 2 resumptions)", got, want)
		}
	})
	t.Run("version=changed", func(t *testing.T) {
		f := &fakeBlobs{data: []byte("0123456789abcdef"), version: "v1", cut: 2, cuts: 1, replaced: true}
		if err := readAll(t, f.reads(3)); err == nil || !strings.Contains(err.Error(), "changed") {
			t.Errorf("read = %v, want an error saying the blob changed", err)
		}
	})
}

// readAll reads the blob "b" whole through g, and returns the error of the
// read (not of the Get, which must succeed).
func readAll(t *testing.T, g *Reads) error {
	t.Helper()
	rc, err := g.Get(t.Context(), "b", 0, -1)
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	defer rc.Close()
	_, err = io.ReadAll(rc)
	return err
}

func TestBackoffWait(t *testing.T) {
	b := Backoff{Base: 100, Max: 1000}
	for n, hi := range []int64{100, 200, 400, 800, 1000, 1000} {
		for range 20 {
			if d := int64(b.Wait(n)); d < hi/2 || d >= hi {
				t.Fatalf("Wait(%d) = %d, want in [%d, %d)", n, d, hi/2, hi)
			}
		}
	}
	if d := b.Wait(100); d < 500 || d >= 1000 {
		t.Errorf("Wait(100) = %d, want bounded by Max", d)
	}
}
