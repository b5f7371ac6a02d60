package remotetest

import (
	"bytes"
	"crypto/rand"
	"io"
	"slices"
	"testing"

	"github.com/coffre-cloud/coffre/backend"
)

// Random returns n random bytes.
func Random(tb testing.TB, n int) []byte {
	tb.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Put stores b under name, or fails the test.
func Put(tb testing.TB, s backend.Store, name string, b []byte) {
	tb.Helper()
	if err := s.Put(tb.Context(), name, bytes.NewReader(b), int64(len(b))); err != nil {
		tb.Fatalf("Put(%q, %d bytes) = %v", name, len(b), err)
	}
}

// Get returns the bytes of s.Get(name, off, length), or fails the test.
func Get(tb testing.TB, s backend.Store, name string, off, length int64) []byte {
	tb.Helper()
	rc, err := s.Get(tb.Context(), name, off, length)
	if err != nil {
		tb.Fatalf("Get(%q, %d, %d) = %v", name, off, length, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("reading Get(%q, %d, %d) = %v", name, off, length, err)
	}
	return b
}

// List returns the names s lists under prefix, or fails the test.
func List(tb testing.TB, s backend.Store, prefix string) []string {
	tb.Helper()
	var names []string
	if err := s.List(tb.Context(), prefix, func(i backend.Info) error {
		names = append(names, i.Name)
		return nil
	}); err != nil {
		tb.Fatalf("List(%q) = %v", prefix, err)
	}
	return names
}

// CheckMissing checks that no blob name is there, to Stat or to List.
func CheckMissing(tb testing.TB, s backend.Store, name string) {
	tb.Helper()
	if _, err := s.Stat(tb.Context(), name); err != backend.ErrNotFound {
		tb.Errorf("Stat(%q) = %v, want ErrNotFound", name, err)
	}
	if names := List(tb, s, ""); slices.Contains(names, name) {
		tb.Errorf("List shows %q", name)
	}
}

// CheckRanges checks that the blob name holds data, whole and in each of
// ranges ({off, length} as Get takes them).
func CheckRanges(tb testing.TB, s backend.Store, name string, data []byte, ranges [][2]int64) {
	tb.Helper()
	if got := Get(tb, s, name, 0, -1); !bytes.Equal(got, data) {
		tb.Fatalf("Get of the whole blob differs (%d bytes, want %d)", len(got), len(data))
	}
	size := int64(len(data))
	for _, r := range ranges {
		want := data[min(r[0], size):]
		if r[1] >= 0 && r[1] < int64(len(want)) {
			want = want[:r[1]]
		}
		if got := Get(tb, s, name, r[0], r[1]); !bytes.Equal(got, want) {
			tb.Errorf("Get(off=%d, length=%d) = %d bytes, want %d (or different bytes)", r[0], r[1], len(got), len(want))
		}
	}
}

// HookReader reads R in reads of at most 64 KiB, and calls Hook once after
// reading at least After bytes: it stops a server, or cancels a context,
// in the middle of a Put.
type HookReader struct {
	R     io.Reader
	After int64
	Hook  func()
	n     int64
}

func (h *HookReader) Read(p []byte) (int, error) {
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	n, err := h.R.Read(p)
	h.n += int64(n)
	if h.Hook != nil && h.n >= h.After {
		h.Hook()
		h.Hook = nil
	}
	return n, err
}
