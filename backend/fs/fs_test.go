package fs_test

import (
	"bytes"
	"errors"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/backendtest"
	"github.com/coffre-cloud/coffre/backend/fs"
)

// newStore opens a store in a fresh directory, closed at the end of the test.
func newStore(tb testing.TB, opts ...fs.Option) *fs.Store {
	tb.Helper()
	return openStore(tb, tb.TempDir(), opts...)
}

func openStore(tb testing.TB, dir string, opts ...fs.Option) *fs.Store {
	tb.Helper()
	s, err := fs.Open(dir, opts...)
	if err != nil {
		tb.Fatalf("Open(%s) = %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close = %v", err)
		}
	})
	return s
}

// TestConformance runs the backend suite on both durability designs: each
// operation sealing its own commit (the default), and user-space group
// commit.
func TestConformance(t *testing.T) {
	for _, gc := range []bool{true, false} {
		t.Run("groupcommit="+map[bool]string{true: "on", false: "off"}[gc], func(t *testing.T) {
			backendtest.Run(t, backendtest.Opts{
				New: func(tb testing.TB) backend.Store { return newStore(tb, fs.WithGroupCommit(gc)) },
			})
		})
	}
}

func put(t *testing.T, s *fs.Store, name, data string) {
	t.Helper()
	if err := s.Put(t.Context(), name, strings.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q) = %v", name, err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// TestLayout pins the on-disk layout that operators and the doc rely on.
// TestWriteback checks that a large Put starts writing its blob to the disk
// every 8 MiB, before the fsync that ends it, and a small one leaves it all
// to that fsync.
func TestWriteback(t *testing.T) {
	s := newStore(t)
	var ranges [][2]int64
	fs.OnWriteback(t, func(off, n int64) { ranges = append(ranges, [2]int64{off, n}) })
	const mib = 1 << 20
	for _, c := range []struct {
		size int64
		want [][2]int64
	}{
		{1 * mib, nil},
		{20 * mib, [][2]int64{{0, 8 * mib}, {8 * mib, 8 * mib}}},
	} {
		ranges = nil
		if err := s.Put(t.Context(), "obj/big", bytes.NewReader(make([]byte, c.size)), c.size); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ranges, c.want) {
			t.Errorf("Put of %d MiB started writeback of %v, want %v", c.size/mib, ranges, c.want)
		}
	}
}

func TestLayout(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	put(t, s, "obj/3f/3fa9", "blob")
	put(t, s, "a", "a")
	put(t, s, "a/b", "ab")
	for path, want := range map[string]string{
		"obj/3f/3fa9+": "blob",
		"a+":           "a",
		"a/b+":         "ab",
	} {
		got, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			t.Errorf("blob file %s: %v", path, err)
			continue
		}
		if string(got) != want {
			t.Errorf("blob file %s = %q, want %q", path, got, want)
		}
	}
	for _, path := range []string{"+tmp", "+lock"} {
		if !exists(filepath.Join(dir, path)) {
			t.Errorf("%s is missing", path)
		}
	}
	if des, _ := os.ReadDir(filepath.Join(dir, "+tmp")); len(des) != 0 {
		t.Errorf("+tmp holds %d entries after Puts returned, want 0", len(des))
	}
}

// TestOpenRemovesLeftovers checks that Open removes what a crashed process
// left in the temp directory, and says so.
func TestOpenRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	s, err := fs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "kept", "k")
	s.Close()

	tmp := filepath.Join(dir, "+tmp")
	if err := os.WriteFile(filepath.Join(tmp, "1"), []byte("half an upload"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(tmp, "sub", "dir"), 0o700); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	s = openStore(t, dir, fs.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if des, err := os.ReadDir(tmp); err != nil || len(des) != 0 {
		t.Errorf("+tmp after Open = %d entries, %v; want empty", len(des), err)
	}
	if !strings.Contains(logs.String(), "entries=2") {
		t.Errorf("Open logged %q, want a line saying it removed 2 entries", logs.String())
	}
	var names []string
	s.List(t.Context(), "", func(info backend.Info) error {
		names = append(names, info.Name)
		return nil
	})
	if !slices.Equal(names, []string{"kept"}) {
		t.Errorf("List after Open = %q, want [kept]", names)
	}
}

// TestOpenLocked checks that two stores never share a directory.
func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := fs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s2, err := fs.Open(dir); err == nil {
		s2.Close()
		t.Fatal("second Open of an open directory succeeded, want an error")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := fs.Open(dir)
	if err != nil {
		t.Fatalf("Open after Close = %v", err)
	}
	s2.Close()
}

func TestClosed(t *testing.T) {
	s, err := fs.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "a", strings.NewReader("a"), 1); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Put after Close = %v, want fs.ErrClosed", err)
	}
	if err := s.Delete(t.Context(), "a"); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Delete after Close = %v, want fs.ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

// TestDeletePrunesDirectories checks that Delete removes the directories it
// empties, and only those.
func TestDeletePrunesDirectories(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	put(t, s, "a/b/c/d", "d")
	put(t, s, "a/x", "x")
	if err := s.Delete(t.Context(), "a/b/c/d"); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(dir, "a", "b")) {
		t.Error("a/b still exists after its last blob was deleted")
	}
	if !exists(filepath.Join(dir, "a")) {
		t.Error("a was removed although a/x is in it")
	}
	if err := s.Delete(t.Context(), "a/x"); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(dir, "a")) {
		t.Error("a still exists after its last blob was deleted")
	}
	if !exists(dir) || !exists(filepath.Join(dir, "+tmp")) {
		t.Error("Delete removed the root or +tmp")
	}
}

// TestListSkipsForeign checks that entries the store did not write (a
// mount's lost+found, an operator's notes) are not taken for blobs.
func TestListSkipsForeign(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	put(t, s, "obj/3f/blob", "b")
	for _, d := range []string{"lost+found", "dir+", "obj/3f/sub dir"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"README", "bad name+", "lost+found/x+", "obj/3f/notes.txt", "obj/é+"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("foreign"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	if err := s.List(t.Context(), "", func(info backend.Info) error {
		names = append(names, info.Name)
		return nil
	}); err != nil {
		t.Fatalf("List = %v", err)
	}
	if !slices.Equal(names, []string{"obj/3f/blob"}) {
		t.Errorf("List = %q, want only [obj/3f/blob]", names)
	}
	for _, name := range []string{"README", "dir", "obj/3f/notes.txt"} {
		if _, err := s.Stat(t.Context(), name); err != backend.ErrNotFound {
			t.Errorf("Stat(%q) of a foreign entry = %v, want backend.ErrNotFound", name, err)
		}
	}
}

// TestLongSegment checks the one valid name this backend cannot hold: a last
// segment beyond NAME_MAX less the mark.
func TestLongSegment(t *testing.T) {
	s := newStore(t)
	ok := "d/" + strings.Repeat("x", 254)
	put(t, s, ok, "fits")
	long := "d/" + strings.Repeat("x", 255)
	err := s.Put(t.Context(), long, strings.NewReader("x"), 1)
	if err == nil || errors.Is(err, backend.ErrInvalidName) {
		t.Errorf("Put of a 255-byte segment = %v, want an error other than ErrInvalidName", err)
	}
	if _, err := s.Stat(t.Context(), long); err != backend.ErrNotFound {
		t.Errorf("Stat of a 255-byte segment = %v, want backend.ErrNotFound", err)
	}
	if _, err := s.Stat(t.Context(), "d/"+strings.Repeat("x", 300)+"/y"); err != backend.ErrNotFound {
		t.Errorf("Stat below a 300-byte segment = %v, want backend.ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), long); err != nil {
		t.Errorf("Delete of a 255-byte segment = %v, want nil", err)
	}
}

// TestPutFromFile checks the kernel-copy path taken when the reader is an
// *os.File, with the same size rules as any reader.
func TestPutFromFile(t *testing.T) {
	s := newStore(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB: two chunks
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		skip, size int64
		ok         bool
	}{
		{"exact", 0, int64(len(data)), true},
		{"unknown", 0, -1, true},
		{"offset", 5, int64(len(data)) - 5, true},
		{"short", 0, int64(len(data)) + 1, false},
		{"long", 0, int64(len(data)) - 1, false},
	}
	for _, tt := range tests {
		t.Run("case="+tt.name, func(t *testing.T) {
			f, err := os.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Seek(tt.skip, io.SeekStart)
			err = s.Put(t.Context(), "f/"+tt.name, f, tt.size)
			if (err == nil) != tt.ok {
				t.Fatalf("Put from a file = %v, want success %v", err, tt.ok)
			}
			rc, err := s.Get(t.Context(), "f/"+tt.name, 0, -1)
			if !tt.ok {
				if err != backend.ErrNotFound {
					t.Errorf("Get after a failed Put = %v, want backend.ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, _ := io.ReadAll(rc)
			if !bytes.Equal(got, data[tt.skip:]) {
				t.Errorf("blob stored from a file is %d bytes, want %d bytes of the file", len(got), len(data)-int(tt.skip))
			}
		})
	}
}

// TestGetWriteTo checks the ranges that Get's reader copies through each of
// io.Copy's paths: sendfile to TCP, copy_file_range to a file, ReadFrom of a
// buffer, and a plain writer.
func TestGetWriteTo(t *testing.T) {
	s := newStore(t)
	data := make([]byte, 3<<20+11)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := s.Put(t.Context(), "blob", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	const off, n = 1<<20 + 3, 1<<20 + 5
	want := data[off : off+n]

	get := func(t *testing.T) io.ReadCloser {
		rc, err := s.Get(t.Context(), "blob", off, n)
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	t.Run("dst=tcp", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var wg sync.WaitGroup
		var copyErr error
		wg.Go(func() {
			c, err := ln.Accept()
			if err != nil {
				copyErr = err
				return
			}
			defer c.Close()
			rc := get(t)
			defer rc.Close()
			_, copyErr = io.Copy(c, rc)
		})
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		c.Close()
		wg.Wait()
		if err != nil || copyErr != nil {
			t.Fatalf("copy over TCP: read %v, write %v", err, copyErr)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("copy over TCP gave %d bytes, want the %d of the range", len(got), len(want))
		}
	})
	t.Run("dst=file", func(t *testing.T) {
		f, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rc := get(t)
		defer rc.Close()
		if _, err := io.Copy(f, rc); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(f.Name())
		if !bytes.Equal(got, want) {
			t.Errorf("copy to a file gave %d bytes, want the %d of the range", len(got), len(want))
		}
	})
	t.Run("dst=buffer", func(t *testing.T) {
		var buf bytes.Buffer
		rc := get(t)
		defer rc.Close()
		if _, err := io.Copy(&buf, rc); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("copy to a buffer gave %d bytes, want the %d of the range", buf.Len(), len(want))
		}
	})
	t.Run("dst=writer", func(t *testing.T) {
		var buf bytes.Buffer
		rc := get(t)
		defer rc.Close()
		if _, err := io.Copy(struct{ io.Writer }{&buf}, rc); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("copy to a plain writer gave %d bytes, want the %d of the range", buf.Len(), len(want))
		}
	})
}

// syncLog records the directory fsyncs of a store, relative to its root.
type syncLog struct {
	root string
	mu   sync.Mutex
	dirs []string
	fail string // a directory whose fsync fails
}

func (l *syncLog) sync(dir string) error {
	rel, err := filepath.Rel(l.root, dir)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dirs = append(l.dirs, filepath.ToSlash(rel))
	if rel == l.fail {
		return errors.New("injected fsync failure")
	}
	return nil
}

func (l *syncLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.dirs
	l.dirs = nil
	slices.Sort(d)
	return d
}

// TestDirectorySyncs checks which directories Put and Delete fsync: the
// blob's own always; a directory's parent when the directory is new, once.
// A process crash cannot show a missing fsync (the page cache survives it),
// so this is where durability is tested.
func TestDirectorySyncs(t *testing.T) {
	for _, gc := range []bool{true, false} {
		t.Run("groupcommit="+map[bool]string{true: "on", false: "off"}[gc], func(t *testing.T) {
			dir := t.TempDir()
			root, _ := filepath.Abs(dir)
			l := &syncLog{root: root}
			s := openStore(t, dir, fs.WithGroupCommit(gc), fs.WithSyncDir(l.sync))
			l.take() // Open's own
			steps := []struct {
				op, name string
				want     []string
			}{
				{"put", "a/b/c", []string{".", "a", "a/b"}}, // a/b/c+ in a/b, b in a, a in root
				{"put", "a/b/d", []string{"a/b"}},
				{"put", "a/b/d", []string{"a/b"}}, // replace
				{"put", "top", []string{"."}},
				{"delete", "a/b/c", []string{"a/b"}},
				{"delete", "a/b/c", nil}, // missing: nothing changes
				{"delete", "a/b/d", []string{"a/b"}},
				{"put", "a/b/e", []string{".", "a", "a/b"}}, // a and a/b were pruned
				{"put", "a/f", []string{"a"}},
			}
			for _, st := range steps {
				var err error
				if st.op == "put" {
					err = s.Put(t.Context(), st.name, strings.NewReader("x"), 1)
				} else {
					err = s.Delete(t.Context(), st.name)
				}
				if err != nil {
					t.Fatalf("%s %s = %v", st.op, st.name, err)
				}
				if got := l.take(); !slices.Equal(got, st.want) {
					t.Errorf("%s %s fsynced %q, want %q", st.op, st.name, got, st.want)
				}
			}

			l.fail = "a/b"
			if err := s.Put(t.Context(), "a/b/g", strings.NewReader("x"), 1); err == nil {
				t.Error("Put with a failing directory fsync = nil, want the error")
			}
			l.fail = "."
			if err := s.Put(t.Context(), "n/new", strings.NewReader("x"), 1); err == nil {
				t.Error("Put with a failing fsync of a new directory's parent = nil, want the error")
			}
			l.fail = ""
			l.take()
			// The failed sync of the root must not have marked n durable.
			if err := s.Put(t.Context(), "n/new2", strings.NewReader("x"), 1); err != nil {
				t.Fatal(err)
			}
			if got, want := l.take(), []string{".", "n"}; !slices.Equal(got, want) {
				t.Errorf("Put after a failed parent fsync fsynced %q, want %q", got, want)
			}
		})
	}
}

// TestDirectoryVanishes checks that Put recreates a directory removed under
// it, as Delete's pruning may do.
func TestDirectoryVanishes(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	put(t, s, "v/w/x", "1")
	if err := s.Delete(t.Context(), "v/w/x"); err != nil {
		t.Fatal(err)
	}
	// Removed behind the store's back: its memory of durable directories
	// is stale, but rename's ENOENT still says to recreate.
	put(t, s, "v/w/y", "2")
	if err := os.RemoveAll(filepath.Join(dir, "v")); err != nil {
		t.Fatal(err)
	}
	put(t, s, "v/w/z", "3")
	if _, err := s.Stat(t.Context(), "v/w/z"); err != nil {
		t.Errorf("Stat after the directory was recreated = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "v", "w", "z+")); errors.Is(err, iofs.ErrNotExist) {
		t.Error("blob file missing after Put into a vanished directory")
	}
}
