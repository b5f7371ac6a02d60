package index

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/coffre-cloud/coffre/meta"
	"github.com/coffre-cloud/coffre/meta/sqlite"
)

var ctx = context.Background()

// newAEAD returns AES-256-GCM under a key derived from name, so that tests
// can make trees with the same or different keys.
func newAEAD(name string) cipher.AEAD {
	key := sha256.Sum256([]byte("index test key " + name))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // a 32-byte key cannot fail
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

func openSQLite(tb testing.TB) (*sqlite.Store, string) {
	tb.Helper()
	dir := tb.TempDir()
	s, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, dir
}

// stores are the meta.Store implementations the tests run on.
var stores = []struct {
	name string
	open func(testing.TB) meta.Store
}{
	{"mem", func(testing.TB) meta.Store { return newMemStore() }},
	{"sqlite", func(tb testing.TB) meta.Store { s, _ := openSQLite(tb); return s }},
}

// treeStats describes the shape of a tree.
type treeStats struct {
	depth  int // levels; 0 for an empty tree
	nodes  int
	leaves int
	keys   int
	bytes  int // of the sealed records
}

// checkTree walks the whole tree and checks its invariants, independently of
// the checks the tree makes as it reads:
//   - every node authenticates and decodes, and is reached once;
//   - the root keeps id 0; an empty tree has no root record, an internal
//     root has at least two children;
//   - levels go down by one from parent to child, so all leaves are at one
//     depth;
//   - no node below the root is empty;
//   - keys are strictly ascending, and inside the range that the parent's
//     separators give the node; separators are greater than the node's
//     lower bound;
//   - a node is at most MaxNodeBytes, unless it is a leaf of one entry or
//     an internal node of two children (splitting those cannot help);
//   - the records under the prefix are exactly the nodes reached: no node
//     leaks when the tree shrinks.
func checkTree(tx meta.Tx, tr *Tree) (treeStats, error) {
	var st treeStats
	seen := map[uint64]bool{}
	maxBytes := tr.maxBytes()
	var visit func(id uint64, level int, lo, hi string, hasHi bool, depth int) error
	visit = func(id uint64, level int, lo, hi string, hasHi bool, depth int) error {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("node %016x (depth %d): %s", id, depth, fmt.Sprintf(format, args...))
		}
		if seen[id] {
			return fail("reached twice")
		}
		seen[id] = true
		n, err := tr.read(tx, id)
		if err != nil {
			return err
		}
		if n == nil {
			if id == rootID {
				return nil
			}
			return fail("missing")
		}
		st.nodes++
		st.depth = max(st.depth, depth+1)
		root := id == rootID
		switch {
		case root && n.count() == 0:
			return fail("empty root stored (an empty tree has no records)")
		case root && !n.leaf() && n.count() < 2:
			return fail("internal root with %d child (should have become its child)", n.count())
		case !root && n.level != level:
			return fail("level %d, want %d", n.level, level)
		case !root && n.count() == 0:
			return fail("empty")
		}
		size := n.size()
		if size > maxBytes && (n.leaf() && n.count() > 1 || !n.leaf() && n.count() > 2) {
			return fail("%d bytes with %d entries, over MaxNodeBytes %d", size, n.count(), maxBytes)
		}
		first := 0
		if !n.leaf() {
			first = 1
			if n.keys[0] != "" {
				return fail("internal node with a lower bound stored")
			}
		}
		for i := first; i < n.count(); i++ {
			k := n.keys[i]
			switch {
			case i > first && k <= n.keys[i-1]:
				return fail("key %d not above key %d", i, i-1)
			case k < lo || !n.leaf() && k == lo:
				return fail("key %d below the node's range", i)
			case hasHi && k >= hi:
				return fail("key %d above the node's range", i)
			}
		}
		if n.leaf() {
			st.leaves++
			st.keys += n.count()
			return nil
		}
		for i, kid := range n.kids {
			clo, chi, chasHi := lo, hi, hasHi
			if i > 0 {
				clo = n.keys[i]
			}
			if i+1 < n.count() {
				chi, chasHi = n.keys[i+1], true
			}
			if kid == rootID {
				return fail("child %d has the root's id", i)
			}
			if err := visit(kid, n.level-1, clo, chi, chasHi, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(rootID, -1, "", "", false, 0); err != nil {
		return st, err
	}
	recs, err := records(tx, tr.Prefix)
	if err != nil {
		return st, err
	}
	for k, v := range recs {
		st.bytes += len(v)
		if len(k) != len(tr.Prefix)+idLen {
			return st, fmt.Errorf("record %x under the prefix is not a node key", k)
		}
	}
	if len(recs) != st.nodes {
		return st, fmt.Errorf("%d records under the prefix, %d nodes reachable: leaked nodes", len(recs), st.nodes)
	}
	return st, nil
}
