package index

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coffre-cloud/coffre/meta"
)

// model is the oracle: a map and its keys in order. It does not depend on
// the order of map iteration, for the fuzzer's sake (see memStore).
type model struct {
	m    map[string][]byte
	keys []string // sorted
}

func newModel() *model { return &model{m: map[string][]byte{}} }

func (m *model) put(k string, v []byte) {
	if i, found := slices.BinarySearch(m.keys, k); !found {
		m.keys = slices.Insert(m.keys, i, k)
	}
	m.m[k] = v
}

func (m *model) del(k string) {
	if i, found := slices.BinarySearch(m.keys, k); found {
		m.keys = slices.Delete(m.keys, i, i+1)
		delete(m.m, k)
	}
}

// overlay is the model as an Update sees it: the committed model plus the
// batch's changes, which reach the model only once the Update commits
// (Update may run its function more than once).
type overlay struct {
	base  *model
	w     map[string][]byte // nil value: deleted
	order []string          // keys of w in the order of their first change
}

func newOverlay(m *model) *overlay { return &overlay{base: m, w: map[string][]byte{}} }

func (o *overlay) set(k string, v []byte) {
	if _, ok := o.w[k]; !ok {
		o.order = append(o.order, k)
	}
	o.w[k] = v
}

func (o *overlay) get(k string) ([]byte, bool) {
	if v, ok := o.w[k]; ok {
		return v, v != nil
	}
	v, ok := o.base.m[k]
	return v, ok
}

func (o *overlay) commit() {
	for _, k := range o.order {
		if v := o.w[k]; v == nil {
			o.base.del(k)
		} else {
			o.base.put(k, v)
		}
	}
}

type opKind int

const (
	opPut opKind = iota
	opDelete
	opGet
)

func (k opKind) String() string { return [...]string{"put", "delete", "get"}[k] }

type op struct {
	kind opKind
	key  string
	val  []byte
}

// Key material: shared prefixes (some long enough to fill a node alone),
// '/', multi-byte UTF-8 up to U+10FFFF (f4 8f bf bf), and raw 0xff bytes,
// which S3 forbids but the tree must order like any other.
var (
	keyPrefixes = []string{
		"", "a", "a/", "a/b/", "a/b/c/", "photos/2026/05/", "logs/", "é/日本語/",
		"\U0010FFFF/", "\uFFFF\uFFFF/", "ÿ", "zzz", "\xff\xfe", "a/b/c/d/e/f/g/",
		strings.Repeat("deep/", 60),
		strings.Repeat("x", 1000),
	}
	keyRunes = []rune("abcdefghijklmnopqrstuvwxyz0123456789/._- ~éÿ日本\uFFFF\U0010FFFF")
)

// gen makes random keys and operations.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

// key returns a random key of 1 to MaxKeyLen bytes.
func (g *gen) key() string {
	var b strings.Builder
	b.WriteString(keyPrefixes[g.r.IntN(len(keyPrefixes))])
	n := g.r.IntN(12)
	if g.r.IntN(20) == 0 {
		n = g.r.IntN(MaxKeyLen)
	}
	for range n {
		b.WriteRune(keyRunes[g.r.IntN(len(keyRunes))])
	}
	k := b.String()
	for len(k) > MaxKeyLen {
		_, size := utf8.DecodeLastRuneInString(k)
		k = k[:len(k)-size]
	}
	if k == "" {
		k = "k"
	}
	return k
}

func (g *gen) val() []byte {
	v := make([]byte, g.r.IntN(MaxValueLen+1))
	for i := range v {
		v[i] = byte(g.r.Uint32())
	}
	return v
}

// existing returns a key of the model, or a new one when it is empty.
func (g *gen) existing(m *model) string {
	if len(m.keys) == 0 {
		return g.key()
	}
	return m.keys[g.r.IntN(len(m.keys))]
}

// ops returns n random operations on keys of m and new keys. deleteHeavy
// makes the tree shrink.
func (g *gen) ops(m *model, n int, deleteHeavy bool) []op {
	ops := make([]op, n)
	for i := range ops {
		p := g.r.IntN(100)
		switch {
		case deleteHeavy && p < 70, !deleteHeavy && p < 15:
			ops[i] = op{kind: opDelete, key: g.existing(m)}
		case p < 75:
			ops[i] = op{kind: opPut, key: g.key(), val: g.val()}
		case p < 85:
			ops[i] = op{kind: opPut, key: g.existing(m), val: g.val()}
		case p < 90:
			ops[i] = op{kind: opDelete, key: g.key()}
		default:
			ops[i] = op{kind: opGet, key: g.existing(m)}
		}
	}
	return ops
}

// apply runs o on the tree and on the overlay, and checks the results that
// the operation returns.
func apply(tx meta.Tx, tr *Tree, ov *overlay, o op) error {
	switch o.kind {
	case opPut:
		if err := tr.Put(tx, o.key, o.val); err != nil {
			return fmt.Errorf("Put: %w", err)
		}
		v := slices.Clone(o.val)
		if v == nil {
			v = []byte{}
		}
		ov.set(o.key, v)
	case opDelete:
		existed, err := tr.Delete(tx, o.key)
		if err != nil {
			return fmt.Errorf("Delete: %w", err)
		}
		if _, want := ov.get(o.key); existed != want {
			return fmt.Errorf("Delete of a key of %d bytes = %v, want %v", len(o.key), existed, want)
		}
		ov.set(o.key, nil)
	case opGet:
		v, ok, err := tr.Get(tx, o.key)
		if err != nil {
			return fmt.Errorf("Get: %w", err)
		}
		want, wantOK := ov.get(o.key)
		if ok != wantOK || string(v) != string(want) {
			return fmt.Errorf("Get of a key of %d bytes = %x, %v; want %x, %v", len(o.key), v, ok, want, wantOK)
		}
	}
	return nil
}

type entry struct {
	key string
	val string
}

// scanN returns up to n entries of the tree from from (n < 0: all).
func scanN(tx meta.Tx, tr *Tree, from string, n int) ([]entry, error) {
	var got []entry
	if n == 0 {
		return nil, nil
	}
	err := tr.Scan(tx, from, func(k string, v []byte) (bool, error) {
		got = append(got, entry{k, string(v)})
		return len(got) != n, nil
	})
	return got, err
}

// expect returns up to n entries of the model from from (n < 0: all).
func (m *model) expect(sorted []string, from string, n int) []entry {
	var want []entry
	i, _ := slices.BinarySearch(sorted, from)
	for ; i < len(sorted) && len(want) != n; i++ {
		want = append(want, entry{sorted[i], string(m.m[sorted[i]])})
	}
	return want
}

func diffEntries(got, want []entry) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("entry %d: got key %.40q val %x, want key %.40q val %x", i, got[i].key, got[i].val, want[i].key, want[i].val)
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("got %d entries, want %d", len(got), len(want))
	}
	return ""
}

// verify compares the whole tree with the model: a full Scan, Scans from
// random points that stop early, Gets of present and absent keys, and the
// invariants of checkTree.
func verify(tx meta.Tx, tr *Tree, m *model, g *gen) (treeStats, error) {
	sorted := m.keys
	got, err := scanN(tx, tr, "", -1)
	if err != nil {
		return treeStats{}, fmt.Errorf("Scan from \"\": %w", err)
	}
	if d := diffEntries(got, m.expect(sorted, "", -1)); d != "" {
		return treeStats{}, fmt.Errorf("Scan from \"\": %s", d)
	}
	for range 20 {
		var from string
		switch k := g.existing(m); g.r.IntN(6) {
		case 0:
			from = k
		case 1:
			from = k + "\x00"
		case 2:
			from = k[:len(k)/2]
		case 3:
			from = g.key()
		case 4:
			from = []string{"", "\xff", "\xff\xff\xff", "\U0010FFFF\U0010FFFF", "a/b/c/"}[g.r.IntN(5)]
		default:
			from = k[:max(0, len(k)-1)] + "\xff"
		}
		n := 1 + g.r.IntN(40)
		got, err := scanN(tx, tr, from, n)
		if err != nil {
			return treeStats{}, fmt.Errorf("Scan from a point: %w", err)
		}
		if d := diffEntries(got, m.expect(sorted, from, n)); d != "" {
			return treeStats{}, fmt.Errorf("Scan of %d from %.40q: %s", n, from, d)
		}
	}
	ov := newOverlay(m)
	for range 50 {
		for _, k := range []string{g.existing(m), g.key()} {
			if err := apply(tx, tr, ov, op{kind: opGet, key: k}); err != nil {
				return treeStats{}, err
			}
		}
	}
	st, err := checkTree(tx, tr)
	if err != nil {
		return st, fmt.Errorf("invariants: %w", err)
	}
	if st.keys != len(m.m) {
		return st, fmt.Errorf("tree holds %d keys, model %d", st.keys, len(m.m))
	}
	return st, nil
}

var errRollback = errors.New("rolled back on purpose")

type modelConfig struct {
	ops      int    // committed random operations
	batch    int    // operations per Update
	maxBytes int    // MaxNodeBytes
	every    int    // verify after this many operations
	seed     uint64 // of the operations
	cache    int    // bytes of a NodeCache shared by the trees (0: none)
}

// runModel runs random operations on a tree in s and on a model, in Updates
// of cfg.batch operations, verifying the tree every cfg.every operations.
// Every seventh Update fails on purpose after its operations: the tree must
// be as before. The operations shrink the tree for a while in the middle,
// and at the end every key is deleted: the tree must be left without a
// record.
func runModel(t *testing.T, s meta.Store, cfg modelConfig) {
	tr := &Tree{Prefix: []byte("x/model/"), AEAD: newAEAD("model"), MaxNodeBytes: cfg.maxBytes}
	// A neighbour under a prefix that sorts right after the tree's, to
	// catch a tree reading or dropping records beyond its own.
	other := &Tree{Prefix: []byte("x/model0"), AEAD: tr.AEAD, MaxNodeBytes: cfg.maxBytes}
	if cfg.cache > 0 {
		tr.Cache = NewNodeCache(cfg.cache)
		other.Cache = tr.Cache
	}
	if err := s.Update(ctx, func(tx meta.Tx) error { return other.Put(tx, "neighbour", []byte("n")) }); err != nil {
		t.Fatal(err)
	}
	m := newModel()
	g := newGen(cfg.seed)
	check := func(what string) treeStats {
		t.Helper()
		var st treeStats
		err := s.View(ctx, func(tx meta.Tx) error {
			var err error
			st, err = verify(tx, tr, m, g)
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return st
	}
	run := func(ops []op, rollback bool) {
		t.Helper()
		var ov *overlay
		err := s.Update(ctx, func(tx meta.Tx) error {
			ov = newOverlay(m)
			for _, o := range ops {
				if err := apply(tx, tr, ov, o); err != nil {
					return fmt.Errorf("%v of a key of %d bytes: %w", o.kind, len(o.key), err)
				}
			}
			if rollback {
				return errRollback
			}
			return nil
		})
		if rollback {
			if !errors.Is(err, errRollback) {
				t.Fatalf("Update that fails on purpose = %v, want %v", err, errRollback)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		ov.commit()
	}

	var maxSt treeStats
	done, updates, rollbacks := 0, 0, 0
	for done < cfg.ops {
		shrink := done >= cfg.ops/2 && done < cfg.ops*7/10
		ops := g.ops(m, cfg.batch, shrink)
		updates++
		if updates%7 == 0 {
			run(ops, true)
			rollbacks++
			check(fmt.Sprintf("after an Update rolled back at op %d", done))
			continue
		}
		run(ops, false)
		before := done
		done += len(ops)
		if done/cfg.every != before/cfg.every || done >= cfg.ops {
			st := check(fmt.Sprintf("after %d ops", done))
			if st.depth > maxSt.depth {
				maxSt.depth = st.depth
			}
			if st.nodes > maxSt.nodes {
				maxSt.nodes, maxSt.keys = st.nodes, st.keys
			}
		}
	}
	t.Logf("%d ops in %d Updates (%d rolled back); largest tree: depth %d, %d nodes for %d keys",
		done, updates, rollbacks, maxSt.depth, maxSt.nodes, maxSt.keys)

	// Empty the tree, in random order.
	keys := slices.Clone(m.keys)
	g.r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	for len(keys) > 0 {
		n := min(len(keys), cfg.batch)
		ops := make([]op, n)
		for i, k := range keys[:n] {
			ops[i] = op{kind: opDelete, key: k}
		}
		keys = keys[n:]
		run(ops, false)
	}
	if st := check("after deleting every key"); st.nodes != 0 {
		t.Fatalf("empty tree has %d nodes, want 0", st.nodes)
	}
	err := s.View(ctx, func(tx meta.Tx) error {
		v, ok, err := other.Get(tx, "neighbour")
		if err != nil || !ok || string(v) != "n" {
			return fmt.Errorf("neighbouring tree: Get = %q, %v, %v; want \"n\", true, nil", v, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestModel runs 20,000 random operations against the model on each store,
// with nodes of 256 bytes so that the tree is deep and splits, merges and
// root changes are frequent.
func TestModel(t *testing.T) {
	for _, st := range stores {
		t.Run("store="+st.name, func(t *testing.T) {
			cfg := modelConfig{ops: 20000, batch: 50, maxBytes: 256, every: 500, seed: 1}
			if testing.Short() && st.name != "mem" {
				cfg.ops = 4000
			}
			runModel(t, st.open(t), cfg)
		})
	}
}

// TestModelNodeSizes runs the model on the in-memory store with other node
// sizes: the smallest that makes sense, a middle one, and the default.
func TestModelNodeSizes(t *testing.T) {
	for _, size := range []int{1, 64, 1024, 0} {
		t.Run(fmt.Sprintf("max=%d", size), func(t *testing.T) {
			runModel(t, newMemStore(), modelConfig{ops: 10000, batch: 100, maxBytes: size, every: 1000, seed: uint64(size) + 2})
		})
	}
}

// TestModelCached runs the model with a NodeCache: one large enough for the
// whole tree, and one of a few nodes, which evicts all the time. Every
// seventh Update rolls back: the cache then holds nodes that the store does
// not, which must never be read back.
func TestModelCached(t *testing.T) {
	for _, st := range stores {
		for _, size := range []int{1 << 20, 2 << 10} {
			t.Run(fmt.Sprintf("store=%s/cache=%d", st.name, size), func(t *testing.T) {
				cfg := modelConfig{ops: 10000, batch: 50, maxBytes: 256, every: 500, seed: 7, cache: size}
				if testing.Short() && st.name != "mem" {
					cfg.ops = 2000
				}
				runModel(t, st.open(t), cfg)
			})
		}
	}
}
