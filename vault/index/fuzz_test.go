package index

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/meta"
)

var update = flag.Bool("update", false, "rewrite the fuzz seeds in testdata/fuzz")

// FuzzDecodeNode feeds arbitrary bytes to the node decoder, which sees
// only authenticated plaintexts in the tree but must still never panic: it
// either fails, or returns a node that encodes back to the same bytes (the
// encoding is canonical) and holds keys in order within the limits.
func FuzzDecodeNode(f *testing.F) {
	// The seeds are in testdata/fuzz (see TestFuzzSeeds).
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := decodeNode(b)
		if err != nil {
			return
		}
		if enc := n.encode(); !bytes.Equal(enc, b) {
			t.Fatalf("decodeNode accepted bytes that encode differently:\n%x\nencodes as\n%x", b, enc)
		}
		first := 0
		if !n.leaf() {
			first = 1
		}
		for i := first; i < n.count(); i++ {
			if len(n.keys[i]) == 0 || len(n.keys[i]) > MaxKeyLen || i > first && n.keys[i] <= n.keys[i-1] {
				t.Fatalf("key %d of %d bytes, out of order or out of limits", i, len(n.keys[i]))
			}
		}
		for _, v := range n.vals {
			if len(v) > MaxValueLen {
				t.Fatalf("value of %d bytes", len(v))
			}
		}
	})
}

// FuzzTreeOps reads its input as a node size and a list of operations, runs
// them on a tree in an in-memory store and on the model, and checks every
// result, then the whole tree.
func FuzzTreeOps(f *testing.F) {
	f.Fuzz(fuzzOps)
}

var fuzzAEAD = newAEAD("fuzz")

// fuzzOps is the body of FuzzTreeOps.
func fuzzOps(t *testing.T, data []byte) {
	if len(data) == 0 {
		return
	}
	// Node ids and nonces from a fixed seed: the same input runs the
	// same code, as coverage guidance requires.
	tr := &Tree{Prefix: []byte("x/"), AEAD: fuzzAEAD, MaxNodeBytes: 16 + 8*int(data[0]), rand: rand.NewChaCha8([32]byte{})}
	s := newMemStore()
	m := newModel()
	var batch []op
	flush := func() {
		var ov *overlay
		err := s.Update(ctx, func(tx meta.Tx) error {
			ov = newOverlay(m)
			for _, o := range batch {
				if err := apply(tx, tr, ov, o); err != nil {
					return fmt.Errorf("%v of a key of %d bytes: %w", o.kind, len(o.key), err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ov.commit()
		batch = batch[:0]
	}
	for _, o := range parseOps(data[1:]) {
		if o.scan == 0 {
			if batch = append(batch, o.op); len(batch) == 16 {
				flush()
			}
			continue
		}
		flush()
		err := s.View(ctx, func(tx meta.Tx) error {
			got, err := scanN(tx, tr, o.key, o.scan)
			if err != nil {
				return err
			}
			if d := diffEntries(got, m.expect(m.keys, o.key, o.scan)); d != "" {
				return fmt.Errorf("Scan of %d from a key of %d bytes: %s", o.scan, len(o.key), d)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	flush()
	err := s.View(ctx, func(tx meta.Tx) error {
		got, err := scanN(tx, tr, "", -1)
		if err != nil {
			return err
		}
		if d := diffEntries(got, m.expect(m.keys, "", -1)); d != "" {
			return fmt.Errorf("Scan of the whole tree: %s", d)
		}
		_, err = checkTree(tx, tr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// fuzzOp is an operation decoded from fuzz input; scan > 0 makes it a Scan
// of that many entries from key.
type fuzzOp struct {
	op
	scan int
}

// fuzzFragments are what fuzzed keys are made of: few, so that keys repeat
// and share prefixes, some long enough to fill a small node alone.
var fuzzFragments = []string{
	"a", "b", "/", "é", "\U0010FFFF", "\xff", "0", "1", "zz", "a/b/",
	strings.Repeat("L", 120), strings.Repeat("M", 600),
}

// parseOps decodes fuzz input into at most 400 operations. Each starts with
// a byte c: c%4 is the kind (put, delete, get, scan), 1+(c>>2)%4 the number
// of key fragments that follow, one byte each; a put then takes a byte
// whose value modulo 65 is the value's length; a scan reads 1+c>>4 entries.
func parseOps(data []byte) []fuzzOp {
	var ops []fuzzOp
	for len(data) > 0 && len(ops) < 400 {
		c := data[0]
		data = data[1:]
		var key strings.Builder
		for range 1 + (c>>2)%4 {
			if len(data) == 0 {
				break
			}
			key.WriteString(fuzzFragments[int(data[0])%len(fuzzFragments)])
			data = data[1:]
		}
		k := key.String()
		if k == "" {
			k = "k"
		}
		k = k[:min(len(k), MaxKeyLen)]
		o := fuzzOp{op: op{key: k}}
		switch c % 4 {
		case 0:
			o.kind = opPut
			n := 0
			if len(data) > 0 {
				n = int(data[0]) % (MaxValueLen + 1)
				data = data[1:]
			}
			o.val = bytes.Repeat([]byte{c}, n)
		case 1:
			o.kind = opDelete
		case 2:
			o.kind = opGet
		case 3:
			o.kind = opGet
			o.scan = 1 + int(c>>4)
		}
		ops = append(ops, o)
	}
	return ops
}

type seed struct {
	name string
	data []byte
}

// decodeSeeds are plaintexts of nodes of every kind.
func decodeSeeds() []seed {
	var seeds []seed
	for _, g := range goldenNodes {
		seeds = append(seeds, seed{g.name, g.enc})
	}
	long := &node{level: 2, keys: []string{"", strings.Repeat("s", MaxKeyLen)}, kids: []uint64{7, 1 << 63}}
	full := &node{}
	for i := range 40 {
		full.keys = append(full.keys, fmt.Sprintf("photos/2026/%02d/IMG_%04d.jpg", i/10, i))
		full.vals = append(full.vals, bytes.Repeat([]byte{byte(i)}, i%(MaxValueLen+1)))
	}
	utf := &node{keys: []string{"é/日本", "é/日本語", "\U0010FFFF", "\U0010FFFF\xff"}, vals: [][]byte{{}, {1}, make([]byte, MaxValueLen), {2}}}
	return append(seeds,
		seed{"internal-longest-separator", long.encode()},
		seed{"leaf-shared-prefixes", full.encode()},
		seed{"leaf-utf8", utf.encode()},
	)
}

// opsBytes encodes operations for FuzzTreeOps: a put of each key (made of
// fragments by index) with a value of vlen bytes, or a delete, get or scan.
func opsBytes(kind byte, frags []byte, vlen byte) []byte {
	c := kind | byte(len(frags)-1)<<2
	b := append([]byte{c}, frags...)
	if kind == 0 {
		b = append(b, vlen)
	}
	return b
}

// treeOpsSeeds are operation lists that grow a tree in order, shrink it,
// and use the longest keys.
func treeOpsSeeds() []seed {
	var asc, mixed, long []byte
	asc = append(asc, 0) // the smallest nodes
	for i := range 60 {
		asc = append(asc, opsBytes(0, []byte{byte(6 + i/10), byte(6 + i%10)}, byte(i))...)
	}
	asc = append(asc, opsBytes(3|0xf0, []byte{0}, 0)...)
	mixed = append(mixed, 8)
	for i := range 80 {
		mixed = append(mixed, opsBytes(byte(i%4), []byte{byte(i % 7), byte(i % 5), byte(i % 3)}, byte(i))...)
	}
	for i := range 40 {
		mixed = append(mixed, opsBytes(1, []byte{byte(i % 7), byte(i % 5), byte(i % 3)}, 0)...)
	}
	long = append(long, 255)
	for i := range 30 {
		long = append(long, opsBytes(0, []byte{11, 10, byte(i % 12), byte(i / 12)}, 64)...)
	}
	for i := range 30 {
		long = append(long, opsBytes(byte(1+i%3), []byte{11, 10, byte(i % 12), byte(i / 12)}, 0)...)
	}
	return []seed{{"ascending", asc}, {"mixed", mixed}, {"long-keys", long}}
}

func seedFile(data []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data)
}

// TestFuzzSeeds checks that testdata/fuzz holds the seeds that
// decodeSeeds and treeOpsSeeds make (rewrite them with -update), so that
// the fuzz targets never start from an empty corpus unnoticed. The fuzzer
// also keeps its failing inputs there, as regression tests.
func TestFuzzSeeds(t *testing.T) {
	for target, seeds := range map[string][]seed{
		"FuzzDecodeNode": decodeSeeds(),
		"FuzzTreeOps":    treeOpsSeeds(),
	} {
		dir := filepath.Join("testdata", "fuzz", target)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range seeds {
			path := filepath.Join(dir, s.name)
			if *update {
				if err := os.WriteFile(path, seedFile(s.data), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, seedFile(s.data)) {
				t.Errorf("%s is missing or stale (rewrite with go test -run TestFuzzSeeds -update): %v", path, err)
			}
		}
		entries, _ := os.ReadDir(dir)
		if !slices.ContainsFunc(entries, func(e os.DirEntry) bool { return !e.IsDir() }) {
			t.Errorf("%s holds no seed", dir)
		}
	}
}
