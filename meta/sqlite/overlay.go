package sqlite

import (
	"bytes"
	"slices"
)

// A write is a Put (del false) or a Delete of one key, not yet in SQLite.
type write struct {
	v   []byte
	del bool
}

// overlay holds the writes of Updates that SQLite has not seen yet, by key.
// The committer keeps one for the batch it is running (the writes of the
// calls whose fn succeeded) and each call has its own, for its fn's writes:
// a call that fails drops its overlay, one that succeeds merges it into the
// batch's, and the batch's overlay goes to SQLite in one pass, in key order,
// just before the COMMIT.
//
// This replaces a SAVEPOINT per call: SQLite copies every page a savepoint
// modifies into a statement journal so that it can roll back, and writes a
// page of the b-tree for every Put. Through the overlay a call costs no
// statement but its reads, and a key written by several calls of a batch
// (the leaf of a bucket's name index, a usage counter) reaches SQLite once.
type overlay struct {
	m      map[string]write
	sorted []string // keys of m in order, when !dirty
	dirty  bool
}

func newOverlay() *overlay { return &overlay{m: make(map[string]write)} }

func (o *overlay) put(key, value []byte) {
	o.m[string(key)] = write{v: bytes.Clone(nonNil(value))}
	o.dirty = true
}

func (o *overlay) del(key []byte) {
	o.m[string(key)] = write{del: true}
	o.dirty = true
}

func (o *overlay) get(key []byte) (write, bool) {
	w, ok := o.m[string(key)]
	return w, ok
}

// merge moves the writes of from into o, which wins over o's own.
func (o *overlay) merge(from *overlay) {
	for k, w := range from.m {
		o.m[k] = w
	}
	if len(from.m) > 0 {
		o.dirty = true
	}
}

func (o *overlay) reset() {
	clear(o.m)
	o.sorted, o.dirty = o.sorted[:0], false
}

// detach gives up o's writes (to the read cache, which keeps their values)
// and leaves o empty.
func (o *overlay) detach() {
	o.m = make(map[string]write, len(o.m))
	o.sorted, o.dirty = o.sorted[:0], false
}

// keys returns the keys of o in ascending order; the slice is o's until its
// next change.
func (o *overlay) keys() []string {
	if o.dirty {
		o.sorted = o.sorted[:0]
		for k := range o.m {
			o.sorted = append(o.sorted, k)
		}
		slices.Sort(o.sorted)
		o.dirty = false
	}
	return o.sorted
}

// inRange returns the keys of o with start <= k < end (end nil: no bound),
// in order.
func (o *overlay) inRange(start, end []byte) []string {
	ks := o.keys()
	i, _ := slices.BinarySearch(ks, string(start))
	j := len(ks)
	if end != nil {
		j, _ = slices.BinarySearch(ks, string(end))
	}
	if j < i {
		j = i
	}
	return ks[i:j]
}

// rangeWrites returns the writes of a call (own) over those of its batch in
// [start, end), in key order: what Scan merges with SQLite's rows.
func rangeWrites(own, batch *overlay, start, end []byte) ([]string, []write) {
	a, b := own.inRange(start, end), batch.inRange(start, end)
	if len(a) == 0 && len(b) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || (len(a) > 0 && a[0] < b[0]):
			keys, a = append(keys, a[0]), a[1:]
		case len(a) == 0 || b[0] < a[0]:
			keys, b = append(keys, b[0]), b[1:]
		default: // the same key in both: own wins
			keys, a, b = append(keys, a[0]), a[1:], b[1:]
		}
	}
	ws := make([]write, len(keys))
	for i, k := range keys {
		w, ok := own.m[k]
		if !ok {
			w = batch.m[k]
		}
		ws[i] = w
	}
	return keys, ws
}

// cmpKey compares an overlay key with a row's key, bytewise.
func cmpKey(k string, row []byte) int {
	switch {
	case k < string(row): // no copy: the compiler compares in place
		return -1
	case k == string(row):
		return 0
	}
	return 1
}
