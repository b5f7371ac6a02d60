package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/backend"
)

// Opts describes the store under test.
type Opts struct {
	// New returns an empty store. Run calls it once per subtest, and the
	// benchmarks once per benchmark, so that listings start from an empty
	// namespace; New releases what it opens through tb.Cleanup.
	//
	// It takes a testing.TB (not a *testing.T) so that the same Opts serve
	// Run and the Bench helpers.
	New func(tb testing.TB) backend.Store
}

// Run checks that the store returned by o.New behaves as backend.Store
// documents. Each check is a subtest that starts from a fresh store.
func Run(t *testing.T, o Opts) {
	if o.New == nil {
		t.Fatal("backendtest.Opts.New is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Opts)
	}{
		{"PutGet", testPutGet},
		{"Replace", testReplace},
		{"Range", testRange},
		{"Stat", testStat},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"SizeMismatch", testSizeMismatch},
		{"ReaderError", testReaderError},
		{"Cancel", testCancel},
		{"InvalidName", testInvalidName},
		{"ValidName", testValidName},
		{"List", testList},
		{"ListRandom", testListRandom},
		{"Concurrent", testConcurrent},
		{"EarlyClose", testEarlyClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, o) })
	}
}

// blobName is what vault names look like: a fan-out directory and an opaque id.
const blobName = "obj/3f/3fa9c0de5b1e4d2a8f7c6b5a49382716"

// testPutGet round-trips the sizes around the boundaries a store is likely to
// have (empty, one byte, a page, a buffer plus an odd tail, a multi-buffer
// stream), with the size declared and unknown.
func testPutGet(t *testing.T, o Opts) {
	sizes := []int64{0, 1, 4 << 10, 1<<20 + 7, 8 << 20}
	for i, size := range sizes {
		for _, declared := range []string{"exact", "unknown"} {
			t.Run(fmt.Sprintf("size=%d/declared=%s", size, declared), func(t *testing.T) {
				s := o.New(t)
				seed := uint64(100 + i)
				arg := size
				if declared == "unknown" {
					arg = -1
				}
				if err := s.Put(t.Context(), blobName, newStream(seed, size, 10007), arg); err != nil {
					t.Fatalf("Put(%d bytes, size=%d) = %v", size, arg, err)
				}
				info, err := s.Stat(t.Context(), blobName)
				if err != nil {
					t.Fatalf("Stat after Put = %v", err)
				}
				if info.Size != size {
					t.Errorf("Stat.Size = %d, want %d", info.Size, size)
				}
				rc, err := s.Get(t.Context(), blobName, 0, -1)
				if err != nil {
					t.Fatalf("Get after Put = %v", err)
				}
				defer rc.Close()
				if err := sameStream(rc, seed, size); err != nil {
					t.Fatalf("Get after Put: %v", err)
				}
			})
		}
	}
}

// testReplace checks that Put on an existing name replaces the whole blob,
// whether the new one is shorter, empty or longer.
func testReplace(t *testing.T, o Opts) {
	s := o.New(t)
	for i, n := range []int{1000, 10, 0, 300 << 10, 1} {
		b := content(uint64(200+i), n)
		put(t, s, blobName, b)
		checkBlob(t, s, blobName, b)
	}
}

// testRange checks Get's offset and length against the same slice of the
// blob, including the edges that are easy to get wrong.
func testRange(t *testing.T, o Opts) {
	s := o.New(t)
	const size = 1000
	b := content(300, size)
	put(t, s, blobName, b)
	put(t, s, "obj/00/empty", nil)

	tests := []struct {
		off, length int64
		want        []byte
	}{
		{0, -1, b},
		{0, size, b},
		{0, 1, b[:1]},
		{0, 0, nil},
		{500, 100, b[500:600]},
		{500, -1, b[500:]},
		{500, 0, nil},
		{size - 1, 1, b[size-1:]},
		{size - 1, -1, b[size-1:]},
		{990, 100, b[990:]},            // length past the end
		{0, 1 << 40, b},                // length far past the end
		{size, -1, nil},                // offset at the end
		{size, 10, nil},                // offset at the end
		{size + 1, -1, nil},            // offset past the end
		{1 << 40, 10, nil},             // offset far past the end
		{size - 1, 1<<63 - 1, b[999:]}, // no overflow in off+length
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("off=%d/length=%d", tt.off, tt.length), func(t *testing.T) {
			got := get(t, s, blobName, tt.off, tt.length)
			if !bytes.Equal(got, tt.want) {
				t.Errorf("Get(off=%d, length=%d): %s", tt.off, tt.length, describe(got, tt.want))
			}
		})
	}
	t.Run("blob=empty", func(t *testing.T) {
		for _, r := range [][2]int64{{0, -1}, {0, 10}, {5, -1}} {
			if got := get(t, s, "obj/00/empty", r[0], r[1]); len(got) != 0 {
				t.Errorf("Get(empty blob, off=%d, length=%d) = %d bytes, want 0", r[0], r[1], len(got))
			}
		}
	})
	t.Run("readers=concurrent", func(t *testing.T) {
		// Readers of one blob must not share a position.
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				off, n := int64(i*100), int64(150)
				got, err := read(t.Context(), s, blobName, off, n)
				if err != nil {
					t.Errorf("concurrent Get(off=%d, length=%d) = %v", off, n, err)
					return
				}
				want := b[off:min(off+n, size)]
				if !bytes.Equal(got, want) {
					t.Errorf("concurrent Get(off=%d, length=%d): %s", off, n, describe(got, want))
				}
			})
		}
		wg.Wait()
	})
}

// testStat checks the Info of a blob; ModTime matters because the vault's
// sweeper only removes orphans older than its own start.
func testStat(t *testing.T, o Opts) {
	s := o.New(t)
	start := time.Now()
	put(t, s, blobName, content(400, 4097))
	info, err := s.Stat(t.Context(), blobName)
	if err != nil {
		t.Fatalf("Stat = %v", err)
	}
	if info.Name != blobName {
		t.Errorf("Stat.Name = %q, want %q", info.Name, blobName)
	}
	if info.Size != 4097 {
		t.Errorf("Stat.Size = %d, want 4097", info.Size)
	}
	// An hour either way tolerates the clock of a remote store.
	if info.ModTime.Before(start.Add(-time.Hour)) || info.ModTime.After(time.Now().Add(time.Hour)) {
		t.Errorf("Stat.ModTime = %v, want about %v", info.ModTime, start)
	}
}

// testMissing checks that a missing blob is reported by the one unwrapped
// sentinel, including names that are a prefix or an extension of stored ones
// (a directory, or a path below a file, in a file-system layout).
func testMissing(t *testing.T, o Opts) {
	s := o.New(t)
	put(t, s, "p/q", []byte("q"))
	put(t, s, "deleted", []byte("d"))
	if err := s.Delete(t.Context(), "deleted"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	for _, name := range []string{"never", "no/such/dir/x", "p", "p/q/r", "p/q.x", "p/qq", "deleted"} {
		checkMissing(t, s, name)
	}
}

// testDelete checks S3's rule (deleting a missing blob is fine) and that a
// Delete touches nothing but its blob, whatever names surround it.
func testDelete(t *testing.T, o Opts) {
	s := o.New(t)
	ctx := t.Context()
	for _, name := range []string{"missing", "no/such/dir/x"} {
		if err := s.Delete(ctx, name); err != nil {
			t.Errorf("Delete(%q) of a missing blob = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"a", "a/b", "a/b/c"} {
		put(t, s, name, []byte(name))
	}
	for range 2 {
		if err := s.Delete(ctx, "a/b"); err != nil {
			t.Fatalf("Delete(a/b) = %v", err)
		}
	}
	checkMissing(t, s, "a/b")
	checkBlob(t, s, "a", []byte("a"))
	checkBlob(t, s, "a/b/c", []byte("a/b/c"))
	checkList(t, s, "", []string{"a", "a/b/c"})

	// Deleting the last blob of a directory, then writing beside it: a
	// file-system store that removes empty directories must recreate them.
	for _, name := range []string{"a/b/c", "a"} {
		if err := s.Delete(ctx, name); err != nil {
			t.Fatalf("Delete(%q) = %v", name, err)
		}
	}
	checkList(t, s, "", nil)
	put(t, s, "a/b/d", []byte("d"))
	checkBlob(t, s, "a/b/d", []byte("d"))
	checkList(t, s, "", []string{"a/b/d"})
}

// testSizeMismatch checks that a reader yielding fewer or more bytes than
// declared stores nothing, and leaves an existing blob as it was.
func testSizeMismatch(t *testing.T, o Opts) {
	tests := []struct{ declared, actual int64 }{
		{100, 50},
		{100, 150},
		{0, 1},
		{1, 0},
		{4096, 4095},
		{1 << 20, 1<<20 + 1},
		{1 << 20, 1<<20 - 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("declared=%d/actual=%d", tt.declared, tt.actual), func(t *testing.T) {
			s := o.New(t)
			ctx := t.Context()
			if err := s.Put(ctx, "fresh", newStream(1, tt.actual, 10007), tt.declared); err == nil {
				t.Errorf("Put(fresh) with %d bytes for size %d = nil, want an error", tt.actual, tt.declared)
			}
			checkMissing(t, s, "fresh")

			prev := content(2, 777)
			put(t, s, "existing", prev)
			if err := s.Put(ctx, "existing", newStream(1, tt.actual, 10007), tt.declared); err == nil {
				t.Errorf("Put(existing) with %d bytes for size %d = nil, want an error", tt.actual, tt.declared)
			}
			checkBlob(t, s, "existing", prev)
			checkList(t, s, "", []string{"existing"})
		})
	}
}

// testReaderError checks that a reader failing at the start or midway stores
// nothing, leaves an existing blob intact, and that Put's error wraps the
// reader's so the vault can tell a client's failure from the store's.
func testReaderError(t *testing.T, o Opts) {
	for _, at := range []int64{0, 100 << 10, 3 << 20} {
		for _, size := range []int64{-1, 4 << 20} {
			t.Run(fmt.Sprintf("at=%d/size=%d", at, size), func(t *testing.T) {
				s := o.New(t)
				ctx := t.Context()
				err := s.Put(ctx, "fresh", newFailingReader(3, at), size)
				if !errors.Is(err, errBoom) {
					t.Errorf("Put(fresh) with a reader failing at byte %d = %v, want an error wrapping the reader's", at, err)
				}
				checkMissing(t, s, "fresh")

				prev := content(4, 999)
				put(t, s, "existing", prev)
				err = s.Put(ctx, "existing", newFailingReader(3, at), size)
				if !errors.Is(err, errBoom) {
					t.Errorf("Put(existing) with a reader failing at byte %d = %v, want an error wrapping the reader's", at, err)
				}
				checkBlob(t, s, "existing", prev)
				checkList(t, s, "", []string{"existing"})
			})
		}
	}
}

// testCancel checks that a context cancelled before or during a Put makes it
// fail with the context's error and store nothing.
func testCancel(t *testing.T, o Opts) {
	t.Run("when=before", func(t *testing.T) {
		s := o.New(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.Put(ctx, "fresh", bytes.NewReader(content(5, 100)), 100)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Put with a cancelled context = %v, want context.Canceled", err)
		}
		checkMissing(t, s, "fresh")
	})
	t.Run("when=during", func(t *testing.T) {
		s := o.New(t)
		prev := content(6, 1234)
		put(t, s, "existing", prev)
		for _, name := range []string{"fresh", "existing"} {
			ctx, cancel := context.WithCancel(t.Context())
			const size = 8 << 20
			// The reader keeps yielding bytes after the cancel: the store
			// must notice the context, not the end of the body.
			r := &hookReader{r: newStream(7, size, 64<<10), after: 1 << 20, hook: cancel}
			err := s.Put(ctx, name, r, size)
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Put(%q) cancelled after 1 MiB of 8 = %v, want context.Canceled", name, err)
			}
		}
		checkMissing(t, s, "fresh")
		checkBlob(t, s, "existing", prev)
		checkList(t, s, "", []string{"existing"})
	})
}

// invalidNames are rejected by backend.ValidName. Some are chosen to collide
// with what a file-system layout might reserve for itself.
var invalidNames = []string{
	"", ".", "..", "/", "a//b", "/a", "a/", "a/./b", "a/../b", "../a", "a/..",
	"a b", " a", "a\tb", "a\nb", "a\x00b", "a\\b", "a:b", "a*", "a?b",
	"é", "caf\u00e9", "\xff", "a+", "+tmp", "a~", "a%2Fb", "a;b",
	strings.Repeat("a", 513),
}

// testInvalidName checks that every operation rejects an invalid name with
// backend.ErrInvalidName, and that nothing gets stored.
func testInvalidName(t *testing.T, o Opts) {
	s := o.New(t)
	ctx := t.Context()
	for _, name := range invalidNames {
		if backend.ValidName(name) {
			t.Fatalf("backend.ValidName(%q) = true; the suite expects it invalid", name)
		}
		if err := s.Put(ctx, name, strings.NewReader("x"), 1); !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("Put(%q) = %v, want backend.ErrInvalidName", name, err)
		}
		if rc, err := s.Get(ctx, name, 0, -1); !errors.Is(err, backend.ErrInvalidName) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Get(%q) = %v, want backend.ErrInvalidName", name, err)
		}
		if _, err := s.Stat(ctx, name); !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("Stat(%q) = %v, want backend.ErrInvalidName", name, err)
		}
		if err := s.Delete(ctx, name); !errors.Is(err, backend.ErrInvalidName) {
			t.Errorf("Delete(%q) = %v, want backend.ErrInvalidName", name, err)
		}
	}
	checkList(t, s, "", nil)
}

// validNames are accepted by backend.ValidName and must all be stored. They
// include names a layout might reserve (".tmp", "lock") and the longest name.
var validNames = []string{
	".a", "a.", "...", "-", "_", "A", "Z9", "a/...", ".tmp", ".tmp/x", "tmp",
	"lock", "a-", "a_/b.", "0/0/0/0/0/0/0/0",
	strings.Repeat(strings.Repeat("x", 63)+"/", 8)[:511] + "y",
}

// testValidName checks that every valid name can be stored, read and listed.
func testValidName(t *testing.T, o Opts) {
	s := o.New(t)
	for _, name := range validNames {
		if !backend.ValidName(name) {
			t.Fatalf("backend.ValidName(%q) = false; the suite expects it valid", name)
		}
		put(t, s, name, []byte(name))
	}
	for _, name := range validNames {
		checkBlob(t, s, name, []byte(name))
	}
	want := slices.Clone(validNames)
	slices.Sort(want)
	checkList(t, s, "", want)
}

// listNames are ordered by bytes ('-' < '.' < '/' < '0' < 'A' < '_' < 'a'), which a
// directory-by-directory walk does not give.
var listNames = []string{
	"a", "a.b", "a/b", "a-b", "a/b/c", "ab", "a/b.c", "a/b/c/d", "a0", "a/b-c",
	"a/b0", "b", "b/a", ".a", "_", "A", "a_b", "a/b/c.d", "a/b/c-d/e", "a-b/c",
}

// testList checks order, prefix filtering and sizes of List, and that an
// error from fn stops it.
func testList(t *testing.T, o Opts) {
	s := o.New(t)
	for _, name := range listNames {
		put(t, s, name, []byte(name))
	}
	prefixes := []string{
		"", "a", "a/", "a/b", "a/b/", "a/b/c", "a/b/c/", "ab", "a.", "a-", "b",
		"c", "a/b/c/d/e", "/", "a//", "A", ".", "z", "a/b/c-", "a/b/c-d/",
	}
	for _, prefix := range prefixes {
		t.Run(fmt.Sprintf("prefix=%q", prefix), func(t *testing.T) {
			checkList(t, s, prefix, expectList(listNames, prefix))
		})
	}
	t.Run("stop", func(t *testing.T) {
		errStop := errors.New("stop here")
		calls := 0
		err := s.List(t.Context(), "", func(backend.Info) error {
			calls++
			if calls == 3 {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) {
			t.Errorf("List with fn failing at the 3rd blob = %v, want fn's error", err)
		}
		if calls != 3 {
			t.Errorf("List called fn %d times after it failed at the 3rd, want 3", calls)
		}
	})
	t.Run("afterDelete", func(t *testing.T) {
		names := slices.Clone(listNames)
		for _, name := range []string{"a", "a/b/c", "a/b/c-d/e", "b/a"} {
			if err := s.Delete(t.Context(), name); err != nil {
				t.Fatalf("Delete(%q) = %v", name, err)
			}
			names = slices.DeleteFunc(names, func(n string) bool { return n == name })
		}
		checkList(t, s, "", expectList(names, ""))
		checkList(t, s, "a/b", expectList(names, "a/b"))
	})
}

// testListRandom compares List with sorting on random names drawn from an
// alphabet full of separators, against random prefixes.
func testListRandom(t *testing.T, o Opts) {
	s := o.New(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab.-_0Z"
	seen := map[string]bool{}
	var names []string
	for len(names) < 150 {
		var sb strings.Builder
		for i := range 1 + rng.IntN(3) {
			if i > 0 {
				sb.WriteByte('/')
			}
			for range 1 + rng.IntN(3) {
				sb.WriteByte(alphabet[rng.IntN(len(alphabet))])
			}
		}
		name := sb.String()
		if backend.ValidName(name) && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	parallel(t, 8, len(names), func(i int) error {
		return s.Put(t.Context(), names[i], strings.NewReader(names[i]), int64(len(names[i])))
	})
	checkList(t, s, "", expectList(names, ""))
	for range 30 {
		n := names[rng.IntN(len(names))]
		prefix := n[:rng.IntN(len(n)+1)]
		checkList(t, s, prefix, expectList(names, prefix))
	}
}

// testConcurrent checks concurrent Puts of distinct names, of one name (the
// result is one writer's blob, never a mix), and Puts racing Deletes in the
// same directories (which a file-system store may remove when empty).
func testConcurrent(t *testing.T, o Opts) {
	t.Run("names=distinct", func(t *testing.T) {
		s := o.New(t)
		const n = 64
		name := func(i int) string { return fmt.Sprintf("obj/%02x/blob-%d", i%4, i) }
		parallel(t, 16, n, func(i int) error {
			return s.Put(t.Context(), name(i), bytes.NewReader(content(uint64(i), 20<<10+i)), int64(20<<10+i))
		})
		var want []string
		for i := range n {
			checkBlob(t, s, name(i), content(uint64(i), 20<<10+i))
			want = append(want, name(i))
		}
		slices.Sort(want)
		checkList(t, s, "", want)
	})
	t.Run("names=same", func(t *testing.T) {
		s := o.New(t)
		const writers = 16
		// Sizes differ by writer, so the length of the result says whose
		// bytes it must hold.
		size := func(i int) int { return 256<<10 + 37*i }
		for round := range 3 {
			parallel(t, writers, writers, func(i int) error {
				return s.Put(t.Context(), blobName, newStream(uint64(i), int64(size(i)), 16<<10), int64(size(i)))
			})
			got := get(t, s, blobName, 0, -1)
			w := (len(got) - 256<<10) / 37
			if w < 0 || w >= writers || size(w) != len(got) {
				t.Fatalf("round %d: blob is %d bytes, which no writer wrote", round, len(got))
			}
			if want := content(uint64(w), size(w)); !bytes.Equal(got, want) {
				t.Fatalf("round %d: blob has writer %d's length but not its bytes: %s", round, w, describe(got, want))
			}
		}
	})
	t.Run("ops=put,delete", func(t *testing.T) {
		s := o.New(t)
		const workers, rounds = 8, 12
		name := func(w, k int) string { return fmt.Sprintf("r/%d/s/%d-%d", k%2, w, k) }
		parallel(t, workers, workers, func(w int) error {
			for k := range rounds {
				if err := s.Put(t.Context(), name(w, k), strings.NewReader(name(w, k)), int64(len(name(w, k)))); err != nil {
					return err
				}
				if k > 0 {
					if err := s.Delete(t.Context(), name(w, k-1)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		var want []string
		for w := range workers {
			n := name(w, rounds-1)
			checkBlob(t, s, n, []byte(n))
			want = append(want, n)
		}
		slices.Sort(want)
		checkList(t, s, "", want)
	})
}

// testEarlyClose checks that readers closed before their end release what
// they hold, and that the blob stays usable.
func testEarlyClose(t *testing.T, o Opts) {
	s := o.New(t)
	ctx := t.Context()
	b := content(8, 4<<20)
	put(t, s, blobName, b)
	before := openFiles()
	for i := range 100 {
		rc, err := s.Get(ctx, blobName, int64(i), -1)
		if err != nil {
			t.Fatalf("Get = %v", err)
		}
		if i%2 == 0 {
			var one [1]byte
			if _, err := io.ReadFull(rc, one[:]); err != nil {
				t.Fatalf("reading 1 byte = %v", err)
			}
			if one[0] != b[i] {
				t.Fatalf("Get(off=%d) first byte = %#02x, want %#02x", i, one[0], b[i])
			}
		}
		if err := rc.Close(); err != nil {
			t.Errorf("Close of a partly read reader = %v", err)
		}
	}
	if before >= 0 {
		// Remote stores may close connections asynchronously: poll.
		deadline := time.Now().Add(5 * time.Second)
		for {
			after := openFiles()
			if after <= before+10 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("open file descriptors went from %d to %d after 100 Gets closed early", before, after)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	put(t, s, blobName, b[:10])
	checkBlob(t, s, blobName, b[:10])
	if err := s.Delete(ctx, blobName); err != nil {
		t.Fatalf("Delete after early closes = %v", err)
	}
	checkMissing(t, s, blobName)
}

// openFiles counts this process's file descriptors, or returns -1 where
// /proc is not available.
func openFiles() int {
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(des)
}

func put(t testing.TB, s backend.Store, name string, b []byte) {
	t.Helper()
	if err := s.Put(t.Context(), name, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatalf("Put(%q, %d bytes) = %v", name, len(b), err)
	}
}

func get(t testing.TB, s backend.Store, name string, off, length int64) []byte {
	t.Helper()
	b, err := read(t.Context(), s, name, off, length)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// read returns the bytes of Get, for goroutines that cannot call t.Fatal.
func read(ctx context.Context, s backend.Store, name string, off, length int64) ([]byte, error) {
	rc, err := s.Get(ctx, name, off, length)
	if err != nil {
		return nil, fmt.Errorf("Get(%q, off=%d, length=%d) = %w", name, off, length, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("reading Get(%q, off=%d, length=%d) = %w", name, off, length, err)
	}
	return b, nil
}

// checkBlob checks that name holds exactly want, through Get and Stat.
func checkBlob(t testing.TB, s backend.Store, name string, want []byte) {
	t.Helper()
	if got := get(t, s, name, 0, -1); !bytes.Equal(got, want) {
		t.Errorf("Get(%q): %s", name, describe(got, want))
	}
	info, err := s.Stat(t.Context(), name)
	if err != nil {
		t.Fatalf("Stat(%q) = %v", name, err)
	}
	if info.Size != int64(len(want)) {
		t.Errorf("Stat(%q).Size = %d, want %d", name, info.Size, len(want))
	}
}

// checkMissing checks that Get and Stat of name return backend.ErrNotFound
// itself: callers compare with ==, so it must not be wrapped.
func checkMissing(t testing.TB, s backend.Store, name string) {
	t.Helper()
	rc, err := s.Get(t.Context(), name, 0, -1)
	if err != backend.ErrNotFound {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Get(%q) = %v, want backend.ErrNotFound unwrapped", name, err)
	}
	if _, err := s.Stat(t.Context(), name); err != backend.ErrNotFound {
		t.Errorf("Stat(%q) = %v, want backend.ErrNotFound unwrapped", name, err)
	}
}

// checkList checks that List(prefix) yields exactly the names of want, in
// that order, with each blob's size.
func checkList(t testing.TB, s backend.Store, prefix string, want []string) {
	t.Helper()
	var infos []backend.Info
	err := s.List(t.Context(), prefix, func(info backend.Info) error {
		infos = append(infos, info)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q) = %v", prefix, err)
	}
	var got []string
	for _, info := range infos {
		got = append(got, info.Name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List(%q) =\n\t%q\nwant\n\t%q", prefix, got, want)
	}
	// Sizes are checked after the listing: fn must not need to call back
	// into the store.
	for _, info := range infos {
		st, err := s.Stat(t.Context(), info.Name)
		if err != nil {
			t.Fatalf("Stat(%q) of a listed blob = %v", info.Name, err)
		}
		if info.Size != st.Size {
			t.Errorf("List(%q) gives %q size %d, Stat %d", prefix, info.Name, info.Size, st.Size)
		}
		if info.ModTime.IsZero() {
			t.Errorf("List(%q) gives %q a zero ModTime", prefix, info.Name)
		}
	}
}

// expectList is the reference List: the names with prefix, in byte order.
func expectList(names []string, prefix string) []string {
	var want []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			want = append(want, n)
		}
	}
	slices.Sort(want)
	return want
}

// parallel runs fn(0..n-1) on workers goroutines and fails t with the first
// error.
func parallel(t testing.TB, workers, n int, fn func(i int) error) {
	t.Helper()
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("op %d: %w", i, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}
