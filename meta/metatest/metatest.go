package metatest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/meta"
)

// Opts tells Run and Bench how to get stores of the implementation under
// test.
type Opts struct {
	// New returns a new, empty store. The suite closes it (or what Reopen
	// turned it into) when the test or benchmark ends; New must not
	// register its own Close.
	New func(tb testing.TB) meta.Store

	// Reopen, when set, closes old and opens the same store again, as a
	// restarted process would; the durability checks use it and are skipped
	// when it is nil.
	Reopen func(tb testing.TB, old meta.Store) meta.Store
}

// Run runs the conformance suite against stores made by o.New. Besides what
// the meta package documents, it holds a store to what the vault relies on
// and meta.go does not spell out yet:
//   - the empty key is a key like any other, and a nil value reads back as
//     an empty one;
//   - Put keeps no reference to its arguments, and the caller may modify
//     what Get returns;
//   - a panic in fn rolls the transaction back and reaches the caller;
//   - a context done before or during fn makes View and Update return an
//     error that wraps ctx.Err(), and Update then commits nothing.
func Run(t *testing.T, o Opts) {
	if o.New == nil {
		t.Fatal("metatest: Opts.New is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, *harness)
	}{
		{"GetMissing", testGetMissing},
		{"PutGetDelete", testPutGetDelete},
		{"BinaryKeysAndValues", testBinary},
		{"CallerOwnsSlices", testCallerOwnsSlices},
		{"ScanOrder", testScanOrder},
		{"ScanBounds", testScanBounds},
		{"ScanStop", testScanStop},
		{"ScanError", testScanError},
		{"ScanOwnWrites", testScanOwnWrites},
		{"ScanNested", testScanNested},
		{"SlicesValidUntilTxEnd", testSlicesValidUntilTxEnd},
		{"ScanMany", testScanMany},
		{"PrefixEnd", testPrefixEnd},
		{"PrefixScan", testPrefixScan},
		{"UpdateRollback", testUpdateRollback},
		{"ConcurrentRollbacks", testConcurrentRollbacks},
		{"ViewIsReadOnly", testViewReadOnly},
		{"ConcurrentIncrements", testConcurrentIncrements},
		{"BankTransfers", testBankTransfers},
		{"ViewSnapshot", testViewSnapshot},
		{"Durability", testDurability},
		{"ContextCanceled", testContextCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newHarness(t, o))
		})
	}
}

// harness holds the store of one test and closes it when the test ends,
// whatever Reopen did to it in between.
type harness struct {
	o Opts
	s meta.Store
}

func newHarness(tb testing.TB, o Opts) *harness {
	h := &harness{o: o, s: o.New(tb)}
	if h.s == nil {
		tb.Fatal("metatest: Opts.New returned a nil store")
	}
	tb.Cleanup(func() {
		if err := h.s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return h
}

func (h *harness) reopen(tb testing.TB) {
	h.s = h.o.Reopen(tb, h.s)
	if h.s == nil {
		tb.Fatal("metatest: Opts.Reopen returned a nil store")
	}
}

type kv struct{ k, v string }

var ctx = context.Background()

// errTest is what test transactions return to ask for a rollback.
var errTest = errors.New("metatest: deliberate error")

func put(tb testing.TB, s meta.Store, pairs ...kv) {
	tb.Helper()
	err := s.Update(ctx, func(tx meta.Tx) error {
		for _, p := range pairs {
			if err := tx.Put([]byte(p.k), []byte(p.v)); err != nil {
				return fmt.Errorf("Put(%q): %w", p.k, err)
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("Update: %v", err)
	}
}

func del(tb testing.TB, s meta.Store, keys ...string) {
	tb.Helper()
	err := s.Update(ctx, func(tx meta.Tx) error {
		for _, k := range keys {
			if err := tx.Delete([]byte(k)); err != nil {
				return fmt.Errorf("Delete(%q): %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("Update: %v", err)
	}
}

// get returns the value of key and whether it exists, failing the test on
// any other error.
func get(tb testing.TB, s meta.Store, key string) (string, bool) {
	tb.Helper()
	var v []byte
	err := s.View(ctx, func(tx meta.Tx) error {
		var err error
		v, err = tx.Get([]byte(key))
		if err == nil {
			v = bytes.Clone(v)
		}
		return err
	})
	if err == meta.ErrNotFound {
		return "", false
	}
	if err != nil {
		tb.Fatalf("Get(%q): %v", key, err)
	}
	return string(v), true
}

func wantValue(tb testing.TB, s meta.Store, key, want string) {
	tb.Helper()
	got, ok := get(tb, s, key)
	if !ok {
		tb.Fatalf("Get(%q) = ErrNotFound, want %q", key, want)
	}
	if got != want {
		tb.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

func wantMissing(tb testing.TB, s meta.Store, key string) {
	tb.Helper()
	if got, ok := get(tb, s, key); ok {
		tb.Fatalf("Get(%q) = %q, want ErrNotFound", key, got)
	}
}

// scan returns the pairs Scan(start, end) visits in a View.
func scan(tb testing.TB, s meta.Store, start, end []byte) []kv {
	tb.Helper()
	var got []kv
	err := s.View(ctx, func(tx meta.Tx) error {
		got = got[:0] // fn may run again
		return tx.Scan(start, end, func(k, v []byte) (bool, error) {
			got = append(got, kv{string(k), string(v)})
			return true, nil
		})
	})
	if err != nil {
		tb.Fatalf("Scan(%q, %q): %v", start, end, err)
	}
	return got
}

func dump(tb testing.TB, s meta.Store) []kv {
	tb.Helper()
	return scan(tb, s, nil, nil)
}

func wantPairs(tb testing.TB, what string, got, want []kv) {
	tb.Helper()
	if !slices.Equal(got, want) {
		tb.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func testGetMissing(t *testing.T, h *harness) {
	put(t, h.s, kv{"present", "1"})
	check := func(tx meta.Tx) error {
		for _, k := range []string{"missing", "presen", "present\x00", ""} {
			if _, err := tx.Get([]byte(k)); err != meta.ErrNotFound {
				t.Errorf("Get(%q) error = %v, want meta.ErrNotFound itself (unwrapped)", k, err)
			}
		}
		return nil
	}
	if err := h.s.View(ctx, check); err != nil {
		t.Fatalf("View: %v", err)
	}
	if err := h.s.Update(ctx, check); err != nil {
		t.Fatalf("Update: %v", err)
	}
	// The same sentinel must come back through View and Update unchanged,
	// so that callers can return it from fn and test it with ==.
	err := h.s.View(ctx, func(tx meta.Tx) error {
		_, err := tx.Get([]byte("missing"))
		return err
	})
	if !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("View returning Get's error = %v, want meta.ErrNotFound", err)
	}
}

func testPutGetDelete(t *testing.T, h *harness) {
	s := h.s
	put(t, s, kv{"k", "v1"})
	wantValue(t, s, "k", "v1")
	put(t, s, kv{"k", "v2"})
	wantValue(t, s, "k", "v2")
	del(t, s, "k")
	wantMissing(t, s, "k")
	del(t, s, "k") // deleting a missing key is not an error
	del(t, s, "never-existed")

	// Within one transaction, each operation sees the ones before it.
	err := s.Update(ctx, func(tx meta.Tx) error {
		if err := tx.Put([]byte("k"), []byte("a")); err != nil {
			return err
		}
		if err := tx.Put([]byte("k"), []byte("b")); err != nil {
			return err
		}
		v, err := tx.Get([]byte("k"))
		if err != nil {
			return err
		}
		if string(v) != "b" {
			return fmt.Errorf("after two Puts in one Update, Get = %q, want %q", v, "b")
		}
		if err := tx.Delete([]byte("k")); err != nil {
			return err
		}
		if _, err := tx.Get([]byte("k")); err != meta.ErrNotFound {
			return fmt.Errorf("after Delete in one Update, Get error = %v, want meta.ErrNotFound", err)
		}
		return tx.Put([]byte("k"), []byte("c"))
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	wantValue(t, s, "k", "c")
}

// largeValue is 1 MiB of deterministic noise that contains every byte value.
func largeValue() []byte {
	r := rand.New(rand.NewChaCha8([32]byte{'m', 'e', 't', 'a'}))
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testBinary(t *testing.T, h *harness) {
	s := h.s
	large := largeValue()
	cases := []struct {
		name       string
		key, value []byte
	}{
		{"zero bytes", []byte("\x00\x00"), []byte("\x00")},
		{"0xff bytes", []byte("\xff"), []byte("\xff\xff")},
		{"mixed", []byte("a\x00b\xffc"), []byte("\x00\x01\xfe\xff")},
		{"invalid UTF-8", []byte("\xc3\x28"), []byte("\xe2\x28\xa1")},
		{"empty value", []byte("empty"), []byte{}},
		{"nil value", []byte("nil"), nil},
		{"empty key", []byte{}, []byte("the empty key")},
		{"1 MiB value", []byte("large"), large},
		{"2 KiB key", bytes.Repeat([]byte{0xff, 0x00, 'k'}, 700), []byte("long key")},
	}
	err := s.Update(ctx, func(tx meta.Tx) error {
		for _, c := range cases {
			if err := tx.Put(c.key, c.value); err != nil {
				return fmt.Errorf("%s: Put: %w", c.name, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	check := func(tx meta.Tx) error {
		for _, c := range cases {
			v, err := tx.Get(c.key)
			if err != nil {
				t.Errorf("%s: Get(%q): %v", c.name, c.key, err)
				continue
			}
			if !bytes.Equal(v, c.value) {
				t.Errorf("%s: Get(%q) = %d bytes, want %d bytes %q", c.name, c.key, len(v), len(c.value), c.value[:min(len(c.value), 16)])
			}
		}
		n := 0
		err := tx.Scan(nil, nil, func(k, v []byte) (bool, error) {
			n++
			return true, nil
		})
		if err != nil {
			return err
		}
		if n != len(cases) {
			t.Errorf("Scan(nil, nil) visited %d keys, want %d", n, len(cases))
		}
		return nil
	}
	if err := s.View(ctx, check); err != nil {
		t.Fatalf("View: %v", err)
	}
	if err := s.Update(ctx, check); err != nil {
		t.Fatalf("Update: %v", err)
	}
	del(t, s, "")
	wantMissing(t, s, "")
}

func testCallerOwnsSlices(t *testing.T, h *harness) {
	s := h.s
	k, v := []byte("key"), []byte("value")
	err := s.Update(ctx, func(tx meta.Tx) error {
		if err := tx.Put(k, v); err != nil {
			return err
		}
		// The store must have copied what it needs before Put returned.
		copy(k, "XXX")
		copy(v, "XXXXX")
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	wantValue(t, s, "key", "value")
	wantMissing(t, s, "XXX")

	// A slice returned by Get belongs to the caller: changing it must not
	// change the store.
	err = s.View(ctx, func(tx meta.Tx) error {
		got, err := tx.Get([]byte("key"))
		if err != nil {
			return err
		}
		copy(got, "YYYYY")
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	wantValue(t, s, "key", "value")
}

// orderKeys are the keys whose order tells a bytewise comparison from a
// collation, a signed-byte comparison, or a comparison that stops at 0x00.
var orderKeys = []string{
	"", "\x00", "\x00\x00", "\x01", "A", "B", "Z", "a", "a\x00", "a\x00\x00",
	"a\x01", "a\x7f", "a\x80", "a\xff", "aa", "ab", "b", "\x7f", "\x80",
	"\xc3\xa9", "\xe2\x82\xac", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff",
}

// putShuffled puts keys in a random order over several transactions, so
// that a store that keeps insertion order cannot pass, and returns them
// sorted as Scan must visit them.
func putShuffled(tb testing.TB, s meta.Store, keys []string) []kv {
	tb.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var pairs []kv
	for _, k := range keys {
		pairs = append(pairs, kv{k, "v:" + k})
	}
	r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	for i := 0; i < len(pairs); i += 7 {
		put(tb, s, pairs[i:min(i+7, len(pairs))]...)
	}
	slices.SortFunc(pairs, func(a, b kv) int { return bytes.Compare([]byte(a.k), []byte(b.k)) })
	return pairs
}

func testScanOrder(t *testing.T, h *harness) {
	want := putShuffled(t, h.s, orderKeys)
	wantPairs(t, "Scan(nil, nil)", dump(t, h.s), want)
	// Spot-check the oracle itself on the cases the brief calls out, so a
	// mistake in bytes.Compare's use above cannot hide one in the store.
	for _, pair := range [][2]string{{"a", "a\x00"}, {"a\x00", "a\xff"}, {"a\xff", "b"}, {"b", "\xff\xff"}, {"Z", "a"}, {"\x7f", "\x80"}} {
		if bytes.Compare([]byte(pair[0]), []byte(pair[1])) >= 0 {
			t.Fatalf("oracle: %q should sort before %q", pair[0], pair[1])
		}
	}
}

func between(pairs []kv, start, end []byte) []kv {
	var out []kv
	for _, p := range pairs {
		if bytes.Compare([]byte(p.k), start) >= 0 && (end == nil || bytes.Compare([]byte(p.k), end) < 0) {
			out = append(out, p)
		}
	}
	return out
}

func testScanBounds(t *testing.T, h *harness) {
	all := putShuffled(t, h.s, orderKeys)
	bounds := []struct{ start, end []byte }{
		{nil, nil},
		{[]byte{}, nil},
		{nil, []byte{}},
		{nil, []byte("\x00")},
		{[]byte("a"), []byte("b")},
		{[]byte("a"), []byte("a\x00")},
		{[]byte("a\x00"), []byte("a\xff")},
		{[]byte("a"), meta.PrefixEnd([]byte("a"))},
		{[]byte("a\x01"), []byte("a\x80")},
		{[]byte("a"), []byte("a")},
		{[]byte("b"), []byte("a")},
		{[]byte("\xff"), nil},
		{[]byte("\xff\xff"), nil},
		{[]byte("\xff\xff\xff\xff"), nil},
		{[]byte("zz"), nil},
		{[]byte("\x00"), []byte("\xff\xff\xff")},
		{[]byte("\x00"), []byte("\xff\xff\xff\x00")},
	}
	for _, b := range bounds {
		t.Run(fmt.Sprintf("start=%q,end=%q", b.start, b.end), func(t *testing.T) {
			want := between(all, b.start, b.end)
			wantPairs(t, fmt.Sprintf("Scan(%q, %q)", b.start, b.end), scan(t, h.s, b.start, b.end), want)
		})
	}
}

func testScanStop(t *testing.T, h *harness) {
	all := putShuffled(t, h.s, orderKeys)
	for _, stopAfter := range []int{1, 3, len(all)} {
		t.Run(fmt.Sprintf("after=%d", stopAfter), func(t *testing.T) {
			var got []kv
			err := h.s.View(ctx, func(tx meta.Tx) error {
				got = got[:0]
				return tx.Scan(nil, nil, func(k, v []byte) (bool, error) {
					got = append(got, kv{string(k), string(v)})
					return len(got) < stopAfter, nil
				})
			})
			if err != nil {
				t.Fatalf("View: %v", err)
			}
			wantPairs(t, "keys visited", got, all[:stopAfter])
		})
	}
}

func testScanError(t *testing.T, h *harness) {
	all := putShuffled(t, h.s, orderKeys)
	visit := func(tx meta.Tx, visited *int) error {
		*visited = 0
		return tx.Scan(nil, nil, func(k, v []byte) (bool, error) {
			*visited++
			if *visited == 2 {
				return true, errTest // more=true must not override the error
			}
			return true, nil
		})
	}
	var visited int
	err := h.s.View(ctx, func(tx meta.Tx) error { return visit(tx, &visited) })
	if !errors.Is(err, errTest) {
		t.Fatalf("View with Scan whose fn fails = %v, want %v", err, errTest)
	}
	if visited != 2 {
		t.Fatalf("Scan called fn %d times after it failed on the 2nd, want 2", visited)
	}
	err = h.s.Update(ctx, func(tx meta.Tx) error {
		if err := tx.Put([]byte("written-before-error"), []byte("x")); err != nil {
			return err
		}
		return visit(tx, &visited)
	})
	if !errors.Is(err, errTest) {
		t.Fatalf("Update with Scan whose fn fails = %v, want %v", err, errTest)
	}
	wantPairs(t, "store after failed Update", dump(t, h.s), all)
}

func testScanOwnWrites(t *testing.T, h *harness) {
	put(t, h.s, kv{"a", "1"}, kv{"b", "2"}, kv{"c", "3"}, kv{"d", "4"})
	want := []kv{{"a", "new"}, {"bb", "5"}, {"c", "3"}, {"e", "6"}}
	err := h.s.Update(ctx, func(tx meta.Tx) error {
		for _, op := range []func() error{
			func() error { return tx.Put([]byte("a"), []byte("new")) },
			func() error { return tx.Delete([]byte("b")) },
			func() error { return tx.Put([]byte("bb"), []byte("5")) },
			func() error { return tx.Delete([]byte("d")) },
			func() error { return tx.Put([]byte("e"), []byte("6")) },
		} {
			if err := op(); err != nil {
				return err
			}
		}
		var got []kv
		err := tx.Scan(nil, nil, func(k, v []byte) (bool, error) {
			got = append(got, kv{string(k), string(v)})
			return true, nil
		})
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("inside the Update, Scan:\n got %q\nwant %q", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	wantPairs(t, "store after Update", dump(t, h.s), want)
}

// testScanNested checks reads from inside a Scan's fn: a Get, and a whole
// second Scan (a join), in both kinds of transaction.
func testScanNested(t *testing.T, h *harness) {
	put(t, h.s, kv{"a", "1"}, kv{"b", "2"}, kv{"c", "3"})
	nested := func(tx meta.Tx) error {
		var got []string
		err := tx.Scan(nil, nil, func(k, v []byte) (bool, error) {
			if _, err := tx.Get(k); err != nil {
				return false, fmt.Errorf("Get(%q) inside Scan: %w", k, err)
			}
			err := tx.Scan(k, nil, func(k2, _ []byte) (bool, error) {
				got = append(got, string(k)+string(k2))
				return true, nil
			})
			return true, err
		})
		if err != nil {
			return err
		}
		if want := []string{"aa", "ab", "ac", "bb", "bc", "cc"}; !slices.Equal(got, want) {
			return fmt.Errorf("nested Scans visited %q, want %q", got, want)
		}
		return nil
	}
	if err := h.s.View(ctx, nested); err != nil {
		t.Fatalf("View: %v", err)
	}
	if err := h.s.Update(ctx, nested); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// testSlicesValidUntilTxEnd holds the store to meta.Tx's promise: slices
// handed out by Get and Scan stay intact until the transaction ends, even
// when the caller keeps them without copying while it goes on reading.
func testSlicesValidUntilTxEnd(t *testing.T, h *harness) {
	var want []kv
	for i := range 300 {
		want = append(want, kv{fmt.Sprintf("k%03d", i), fmt.Sprintf("value %03d %s", i, bytes.Repeat([]byte{byte(i)}, i))})
	}
	put(t, h.s, want...)
	keep := func(tx meta.Tx) error {
		var keys, values [][]byte
		err := tx.Scan(nil, nil, func(k, v []byte) (bool, error) {
			keys, values = append(keys, k), append(values, v)
			return true, nil
		})
		if err != nil {
			return err
		}
		var got []kv
		for i := range keys {
			got = append(got, kv{string(keys[i]), string(values[i])})
		}
		if !slices.Equal(got, want) {
			return errors.New("slices kept from Scan changed before the transaction ended")
		}
		v0, err := tx.Get([]byte(want[0].k))
		if err != nil {
			return err
		}
		for _, p := range want[1:] {
			if _, err := tx.Get([]byte(p.k)); err != nil {
				return err
			}
		}
		if string(v0) != want[0].v {
			return errors.New("a slice returned by Get changed before the transaction ended")
		}
		return nil
	}
	if err := h.s.View(ctx, keep); err != nil {
		t.Fatalf("View: %v", err)
	}
	if err := h.s.Update(ctx, keep); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// testScanMany scans more keys than fit in a page or a buffer, so that an
// implementation that streams rows is exercised past its first batch.
func testScanMany(t *testing.T, h *harness) {
	n := 5000
	if testing.Short() {
		n = 1000
	}
	var want []kv
	for i := range n {
		want = append(want, kv{fmt.Sprintf("obj/%06d", i), fmt.Sprintf("%d", i)})
	}
	for i := 0; i < n; i += 500 {
		put(t, h.s, want[i:min(i+500, n)]...)
	}
	put(t, h.s, kv{"obi", "before"}, kv{"obk", "after"})
	got := scan(t, h.s, []byte("obj/"), meta.PrefixEnd([]byte("obj/")))
	wantPairs(t, "Scan of the prefix obj/", got, want)
}

func testPrefixEnd(t *testing.T, h *harness) {
	cases := []struct {
		prefix string
		want   []byte // nil: no upper bound
	}{
		{"", nil},
		{"a", []byte("b")},
		{"ab", []byte("ac")},
		{"a\xff", []byte("b")},
		{"a\xff\xff", []byte("b")},
		{"\x00", []byte("\x01")},
		{"a\x00\xff", []byte("a\x01")},
		{"\xfe", []byte("\xff")},
		{"\xfe\xff", []byte("\xff")},
		{"\xff", nil},
		{"\xff\xff", nil},
		{"\xff\xff\xff", nil},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("prefix=%q", c.prefix), func(t *testing.T) {
			in := []byte(c.prefix)
			got := meta.PrefixEnd(in)
			if !bytes.Equal(got, c.want) || (got == nil) != (c.want == nil) {
				t.Fatalf("PrefixEnd(%q) = %q (nil=%v), want %q (nil=%v)", c.prefix, got, got == nil, c.want, c.want == nil)
			}
			if string(in) != c.prefix {
				t.Fatalf("PrefixEnd modified its argument: %q, was %q", in, c.prefix)
			}
			if len(got) > 0 && len(in) > 0 && &got[0] == &in[0] {
				t.Fatalf("PrefixEnd(%q) returned a slice sharing memory with its argument", c.prefix)
			}
		})
	}
}

// testPrefixScan checks the promise of PrefixEnd's documentation against a
// store: Scan(p, PrefixEnd(p)) visits exactly the keys with prefix p.
func testPrefixScan(t *testing.T, h *harness) {
	all := putShuffled(t, h.s, orderKeys)
	for _, prefix := range []string{"", "\x00", "a", "a\x00", "a\xff", "\xff", "\xff\xff", "\xff\xff\xff", "zzz"} {
		t.Run(fmt.Sprintf("prefix=%q", prefix), func(t *testing.T) {
			var want []kv
			for _, p := range all {
				if len(p.k) >= len(prefix) && p.k[:len(prefix)] == prefix {
					want = append(want, p)
				}
			}
			p := []byte(prefix)
			wantPairs(t, fmt.Sprintf("Scan(%q, PrefixEnd)", prefix), scan(t, h.s, p, meta.PrefixEnd(p)), want)
		})
	}
}

func testUpdateRollback(t *testing.T, h *harness) {
	put(t, h.s, kv{"a", "1"}, kv{"b", "2"})
	before := dump(t, h.s)
	err := h.s.Update(ctx, func(tx meta.Tx) error {
		if err := tx.Put([]byte("a"), []byte("changed")); err != nil {
			return err
		}
		if err := tx.Put([]byte("new"), []byte("x")); err != nil {
			return err
		}
		if err := tx.Delete([]byte("b")); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errTest)
	})
	if !errors.Is(err, errTest) {
		t.Fatalf("Update whose fn fails = %v, want %v", err, errTest)
	}
	wantPairs(t, "store after a failed Update", dump(t, h.s), before)

	// A panic in fn rolls back too, and reaches the caller.
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Fatal("Update whose fn panics did not panic")
			}
		}()
		_ = h.s.Update(ctx, func(tx meta.Tx) error {
			if err := tx.Put([]byte("a"), []byte("panicked")); err != nil {
				return err
			}
			panic("metatest: deliberate panic")
		})
	}()
	wantPairs(t, "store after an Update that panicked", dump(t, h.s), before)
	// And the store still works.
	put(t, h.s, kv{"c", "3"})
	wantValue(t, h.s, "c", "3")
}

// testConcurrentRollbacks runs failing and succeeding Updates at once: a
// store that shares transactions between callers (group commit) must still
// roll back exactly the failing ones.
func testConcurrentRollbacks(t *testing.T, h *harness) {
	const n = 64
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = h.s.Update(ctx, func(tx meta.Tx) error {
				if err := tx.Put(fmt.Appendf(nil, "rb/%02d", i), []byte("x")); err != nil {
					return err
				}
				if err := tx.Delete([]byte("rb/keep")); err != nil {
					return err
				}
				if i%2 == 1 {
					return errTest
				}
				return tx.Put([]byte("rb/keep"), []byte("kept"))
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		_, ok := get(t, h.s, fmt.Sprintf("rb/%02d", i))
		switch {
		case i%2 == 0 && (err != nil || !ok):
			t.Errorf("Update %d (succeeding) = %v, key present %v; want nil and present", i, err, ok)
		case i%2 == 1 && (!errors.Is(err, errTest) || ok):
			t.Errorf("Update %d (failing) = %v, key present %v; want %v and absent", i, err, ok, errTest)
		}
	}
	// Every succeeding Update ends by putting rb/keep back, and no failing
	// one may leave its Delete behind.
	wantValue(t, h.s, "rb/keep", "kept")
}

func testViewReadOnly(t *testing.T, h *harness) {
	put(t, h.s, kv{"a", "1"})
	before := dump(t, h.s)
	err := h.s.View(ctx, func(tx meta.Tx) error {
		if err := tx.Put([]byte("a"), []byte("changed")); err == nil {
			t.Error("Put in View succeeded, want an error")
		}
		if err := tx.Put([]byte("b"), []byte("new")); err == nil {
			t.Error("Put of a new key in View succeeded, want an error")
		}
		if err := tx.Delete([]byte("a")); err == nil {
			t.Error("Delete in View succeeded, want an error")
		}
		return nil // ignore the failures: nothing may be written anyway
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	wantPairs(t, "store after writes attempted in a View", dump(t, h.s), before)
}

// update runs fn in Update, retrying on meta.ErrConflict as the interface
// allows a store to ask for.
func update(s meta.Store, fn func(meta.Tx) error) error {
	for {
		err := s.Update(ctx, fn)
		if !errors.Is(err, meta.ErrConflict) {
			return err
		}
	}
}

func getUint(tx meta.Tx, key string) (uint64, error) {
	v, err := tx.Get([]byte(key))
	if err == meta.ErrNotFound {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("value of %q is %d bytes, want 8", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func putUint(tx meta.Tx, key string, n uint64) error {
	return tx.Put([]byte(key), binary.BigEndian.AppendUint64(nil, n))
}

func testConcurrentIncrements(t *testing.T, h *harness) {
	goroutines, each := 16, 40
	if testing.Short() {
		goroutines, each = 8, 10
	}
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				err := update(h.s, func(tx meta.Tx) error {
					n, err := getUint(tx, "counter")
					if err != nil {
						return err
					}
					return putUint(tx, "counter", n+1)
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	var got uint64
	err := h.s.View(ctx, func(tx meta.Tx) (err error) {
		got, err = getUint(tx, "counter")
		return err
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if want := uint64(goroutines * each); got != want {
		t.Fatalf("counter = %d after %d concurrent increments, want %d (lost updates)", got, want, want)
	}
}

// testBankTransfers moves money between accounts in concurrent Updates while
// Views add up the balances: every transaction, reading or writing, must see
// the same total, or Updates are not serializable or Views not snapshots.
func testBankTransfers(t *testing.T, h *harness) {
	const accounts, initial = 10, 1000
	writers, transfers, readers := 4, 60, 2
	if testing.Short() {
		transfers = 20
	}
	prefix := []byte("acct/")
	var pairs []kv
	for i := range accounts {
		pairs = append(pairs, kv{fmt.Sprintf("acct/%02d", i), string(binary.BigEndian.AppendUint64(nil, initial))})
	}
	put(t, h.s, pairs...)
	const total = accounts * initial

	sum := func(tx meta.Tx) (uint64, int, error) {
		var s uint64
		n := 0
		err := tx.Scan(prefix, meta.PrefixEnd(prefix), func(k, v []byte) (bool, error) {
			if len(v) != 8 {
				return false, fmt.Errorf("balance of %q is %d bytes", k, len(v))
			}
			s += binary.BigEndian.Uint64(v)
			n++
			return true, nil
		})
		return s, n, err
	}

	var writersWG, readersWG sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		writersWG.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range transfers {
				from, to := r.IntN(accounts), r.IntN(accounts)
				amount := uint64(r.IntN(200))
				err := update(h.s, func(tx meta.Tx) error {
					kf, kt := fmt.Sprintf("acct/%02d", from), fmt.Sprintf("acct/%02d", to)
					bf, err := getUint(tx, kf)
					if err != nil {
						return err
					}
					if bf < amount {
						return nil // insufficient funds: commit nothing
					}
					if err := putUint(tx, kf, bf-amount); err != nil {
						return err
					}
					bt, err := getUint(tx, kt) // after the debit: from == to is a no-op
					if err != nil {
						return err
					}
					if err := putUint(tx, kt, bt+amount); err != nil {
						return err
					}
					if i%5 == 0 {
						s, n, err := sum(tx)
						if err != nil {
							return err
						}
						if s != total || n != accounts {
							return fmt.Errorf("inside an Update: %d accounts hold %d, want %d hold %d", n, s, accounts, total)
						}
					}
					return nil
				})
				if err != nil {
					t.Errorf("transfer: %v", err)
					return
				}
			}
		})
	}
	for range readers {
		readersWG.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := h.s.View(ctx, func(tx meta.Tx) error {
					s, n, err := sum(tx)
					if err != nil {
						return err
					}
					if s != total || n != accounts {
						return fmt.Errorf("in a View, one Scan: %d accounts hold %d, want %d hold %d", n, s, accounts, total)
					}
					// One read per account: only a snapshot keeps the
					// total across statements.
					s = 0
					for i := range accounts {
						b, err := getUint(tx, fmt.Sprintf("acct/%02d", i))
						if err != nil {
							return err
						}
						s += b
					}
					if s != total {
						return fmt.Errorf("in a View, one Get per account: accounts hold %d, want %d", s, total)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	writersWG.Wait()
	close(stop)
	readersWG.Wait()
	err := h.s.View(ctx, func(tx meta.Tx) error {
		s, n, err := sum(tx)
		if err == nil && (s != total || n != accounts) {
			err = fmt.Errorf("after all transfers: %d accounts hold %d, want %d hold %d", n, s, accounts, total)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testViewSnapshot starts an Update while a View is open, after the View has
// read once, and checks that the View goes on seeing the state it started
// with. A store whose Update waits for open Views is allowed: the test then
// gives up waiting for the Update, and the View must still see old values.
func testViewSnapshot(t *testing.T, h *harness) {
	put(t, h.s, kv{"x", "old"}, kv{"y", "old"})
	updated := make(chan error, 1)
	err := h.s.View(ctx, func(tx meta.Tx) error {
		if v, err := tx.Get([]byte("x")); err != nil || string(v) != "old" {
			return fmt.Errorf("first Get(x) = %q, %v; want old", v, err)
		}
		go func() {
			updated <- h.s.Update(ctx, func(tx meta.Tx) error {
				if err := tx.Put([]byte("x"), []byte("new")); err != nil {
					return err
				}
				if err := tx.Delete([]byte("y")); err != nil {
					return err
				}
				return tx.Put([]byte("z"), []byte("new"))
			})
		}()
		select {
		case err := <-updated:
			if err != nil {
				return fmt.Errorf("concurrent Update: %w", err)
			}
			updated <- nil // for the check after the View
		case <-time.After(2 * time.Second):
			t.Log("Update did not finish while a View was open; checking the snapshot anyway")
		}
		for _, k := range []string{"x", "y"} {
			if v, err := tx.Get([]byte(k)); err != nil || string(v) != "old" {
				return fmt.Errorf("Get(%s) after a concurrent Update = %q, %v; want the snapshot's old", k, v, err)
			}
		}
		if _, err := tx.Get([]byte("z")); err != meta.ErrNotFound {
			return fmt.Errorf("Get(z) after a concurrent Update: error %v, want meta.ErrNotFound", err)
		}
		var got []kv
		err := tx.Scan(nil, nil, func(k, v []byte) (bool, error) {
			got = append(got, kv{string(k), string(v)})
			return true, nil
		})
		if err != nil {
			return err
		}
		if want := []kv{{"x", "old"}, {"y", "old"}}; !slices.Equal(got, want) {
			return fmt.Errorf("after a concurrent Update, Scan = %q, want the snapshot's %q", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if err := <-updated; err != nil {
		t.Fatalf("concurrent Update: %v", err)
	}
	wantPairs(t, "store after the Update", dump(t, h.s), []kv{{"x", "new"}, {"z", "new"}})
}

func testDurability(t *testing.T, h *harness) {
	if h.o.Reopen == nil {
		t.Skip("Opts.Reopen is nil")
	}
	var want []kv
	for i := range 50 {
		p := kv{fmt.Sprintf("k%02d", i), fmt.Sprintf("v%d", i)}
		put(t, h.s, p)
		want = append(want, p)
	}
	del(t, h.s, "k10", "k11")
	put(t, h.s, kv{"k12", "overwritten"})
	want = slices.DeleteFunc(want, func(p kv) bool { return p.k == "k10" || p.k == "k11" })
	for i := range want {
		if want[i].k == "k12" {
			want[i].v = "overwritten"
		}
	}
	// An Update that failed before the restart must stay absent after it.
	_ = h.s.Update(ctx, func(tx meta.Tx) error {
		_ = tx.Put([]byte("rolled-back"), []byte("x"))
		return errTest
	})
	for round := range 2 {
		h.reopen(t)
		wantPairs(t, fmt.Sprintf("store after reopen #%d", round+1), dump(t, h.s), want)
	}
	put(t, h.s, kv{"after-reopen", "ok"})
	wantValue(t, h.s, "after-reopen", "ok")
}

func testContextCanceled(t *testing.T, h *harness) {
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()

	t.Run("before=Update", func(t *testing.T) {
		for _, c := range []struct {
			ctx  context.Context
			want error
		}{{canceled, context.Canceled}, {expired, context.DeadlineExceeded}} {
			err := h.s.Update(c.ctx, func(tx meta.Tx) error {
				return tx.Put([]byte("before"), []byte("x"))
			})
			if !errors.Is(err, c.want) {
				t.Errorf("Update with a done context = %v, want %v", err, c.want)
			}
		}
		wantMissing(t, h.s, "before")
	})
	t.Run("before=View", func(t *testing.T) {
		err := h.s.View(canceled, func(tx meta.Tx) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("View with a canceled context = %v, want %v", err, context.Canceled)
		}
	})
	t.Run("within=Update", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		defer cancel()
		err := h.s.Update(c, func(tx meta.Tx) error {
			if err := tx.Put([]byte("within"), []byte("x")); err != nil {
				return err
			}
			cancel()
			// fn ignores whatever the store says from now on and reports
			// success: the store must still not commit.
			_ = tx.Put([]byte("within2"), []byte("x"))
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Update whose context is canceled within fn = %v, want %v", err, context.Canceled)
		}
		wantMissing(t, h.s, "within")
		wantMissing(t, h.s, "within2")
	})
	t.Run("within=View", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		defer cancel()
		err := h.s.View(c, func(tx meta.Tx) error {
			cancel()
			_, _ = tx.Get([]byte("x"))
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("View whose context is canceled within fn = %v, want %v", err, context.Canceled)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		// Cancellations racing with other writers hit only their own
		// transaction: every Update either commits and returns nil or
		// returns an error and leaves no trace.
		const n = 32
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c, cancel := context.WithCancel(ctx)
				defer cancel()
				errs[i] = h.s.Update(c, func(tx meta.Tx) error {
					if err := tx.Put(fmt.Appendf(nil, "race/%02d", i), []byte("x")); err != nil {
						return err
					}
					if i%2 == 1 {
						cancel()
					}
					return nil
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			_, ok := get(t, h.s, fmt.Sprintf("race/%02d", i))
			switch {
			case i%2 == 0 && (err != nil || !ok):
				t.Errorf("Update %d (not canceled) = %v, key present %v; want nil and present", i, err, ok)
			case i%2 == 1 && (err == nil || ok):
				t.Errorf("Update %d (canceled within) = %v, key present %v; want an error and absent", i, err, ok)
			}
		}
	})
}
