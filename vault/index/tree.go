package index

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/coffre-cloud/coffre/meta"
)

// ErrIntegrity is returned, wrapped, when a node of the tree fails
// authentication (its record was altered, swapped with another, or moved
// from another tree), does not decode, is missing, or does not fit where
// its parent puts it. The store was tampered with or damaged; the error
// says which node, never which names.
var ErrIntegrity = errors.New("index: node fails authentication or decoding")

// DefaultMaxNodeBytes is the split threshold used when Tree.MaxNodeBytes is
// zero or negative.
const DefaultMaxNodeBytes = 16 << 10

// rootID is the node id of the root, which never changes.
const rootID = 0

// Tree is an ordered map from string keys (S3 object keys: 1 to MaxKeyLen
// bytes) to small values (at most MaxValueLen bytes), stored as sealed nodes
// of a B+-tree in a meta store.
//
// A Tree is only configuration: every operation runs in the transaction it
// is given, and keeps nothing once it returns, so one Tree may be used by
// many transactions at once. Operations that change the tree need an Update
// transaction; Get and Scan also work in a View. When Put or Delete fails,
// the tree may be half changed in the transaction: return the error from
// the Update's function, so that nothing is committed.
type Tree struct {
	// Prefix is the tree's own key prefix in the store: its nodes are
	// the records Prefix + 8-byte node id, and Drop deletes every record
	// under Prefix. No other record may start with it, and no other
	// tree's prefix may start with it.
	Prefix []byte
	// AEAD seals every node, with a fresh random nonce per write and the
	// node's record key as additional data, so that a node cannot be
	// altered, swapped with another node or moved to another tree. Each
	// change of the tree seals at least one node: see doc.go for the
	// limit on the number of seals per key.
	AEAD cipher.AEAD
	// MaxNodeBytes is the largest encoded node, before padding and
	// sealing: a node that grows beyond it is split (DefaultMaxNodeBytes
	// when zero or negative). Each Put or Delete rewrites a leaf, so it
	// trades bytes written per change against nodes read per listing
	// (see doc.go). Below about 2.2 KiB, a node may not have room for two
	// of the longest keys: a leaf of one key, or an internal node of two
	// children, may then exceed it, and the tree gets deep; small values
	// are for tests.
	MaxNodeBytes int
	// Cache, when set, keeps the nodes this Tree reads and writes
	// decoded, for reads of the same sealed records (see NodeCache).
	Cache *NodeCache

	// rand, when set, replaces crypto/rand for node ids and nonces, so
	// that fuzzing sees the same execution for the same input.
	rand io.Reader
}

func (t *Tree) check() error {
	switch {
	case len(t.Prefix) == 0:
		return errors.New("index: Tree.Prefix is empty (want the tree's own prefix, e.g. x/<bucket id>/)")
	case t.AEAD == nil:
		return errors.New("index: Tree.AEAD is nil")
	}
	return nil
}

func (t *Tree) maxBytes() int {
	if t.MaxNodeBytes <= 0 {
		return DefaultMaxNodeBytes
	}
	return t.MaxNodeBytes
}

// nodeKey returns the record key of node id, which is also the additional
// data of its sealed value.
func (t *Tree) nodeKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64(slices.Clip(t.Prefix), id)
}

func (t *Tree) integrity(id uint64, format string, args ...any) error {
	return fmt.Errorf("%w: tree %q, node %016x: %s", ErrIntegrity, t.Prefix, id, fmt.Sprintf(format, args...))
}

// read returns node id, or nil if its record does not exist.
func (t *Tree) read(tx meta.Tx, id uint64) (*node, error) {
	key := t.nodeKey(id)
	v, err := tx.Get(key)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("index: read node %016x: %w", id, err)
	}
	if t.Cache != nil {
		if n := t.Cache.get(t.AEAD, key, v); n != nil {
			return n, nil
		}
	}
	ns := t.AEAD.NonceSize()
	if len(v) < ns+t.AEAD.Overhead() {
		return nil, t.integrity(id, "sealed node of %d bytes is truncated", len(v))
	}
	plain, err := t.AEAD.Open(nil, v[:ns], v[ns:], key)
	if err != nil {
		return nil, t.integrity(id, "does not authenticate")
	}
	n, err := decodeNode(plain)
	if err != nil {
		return nil, t.integrity(id, "%v", err)
	}
	n.id = id
	if t.Cache != nil {
		t.Cache.put(t.AEAD, key, v, n)
	}
	return n, nil
}

// write seals n and stores it under its id.
func (t *Tree) write(tx meta.Tx, n *node) error {
	plain := n.encode()
	key := t.nodeKey(n.id)
	ns := t.AEAD.NonceSize()
	v := make([]byte, ns, ns+len(plain)+t.AEAD.Overhead())
	t.random(v)
	v = t.AEAD.Seal(v, v, plain, key)
	if err := tx.Put(key, v); err != nil {
		return fmt.Errorf("index: write node %016x: %w", n.id, err)
	}
	if t.Cache != nil {
		t.Cache.put(t.AEAD, key, v, n)
	}
	return nil
}

// random fills b with random bytes.
func (t *Tree) random(b []byte) {
	if t.rand == nil {
		rand.Read(b) // never fails, says crypto/rand
		return
	}
	if _, err := io.ReadFull(t.rand, b); err != nil {
		panic(err)
	}
}

func (t *Tree) remove(tx meta.Tx, id uint64) error {
	key := t.nodeKey(id)
	if err := tx.Delete(key); err != nil {
		return fmt.Errorf("index: delete node %016x: %w", id, err)
	}
	if t.Cache != nil {
		t.Cache.drop(key)
	}
	return nil
}

// writeNew gives n a fresh random id, one that no record uses, and writes
// it. Writing at once, rather than after the other new nodes of a split,
// lets the check see the ids taken a moment ago.
func (t *Tree) writeNew(tx meta.Tx, n *node) error {
	for {
		var b [idLen]byte
		t.random(b[:])
		id := binary.BigEndian.Uint64(b[:])
		if id == rootID {
			continue
		}
		_, err := tx.Get(t.nodeKey(id))
		if errors.Is(err, meta.ErrNotFound) {
			n.id = id
			return t.write(tx, n)
		}
		if err != nil {
			return fmt.Errorf("index: new node: %w", err)
		}
	}
}

// frame is a node on the path from the root to a leaf, with the bounds its
// parent gives its keys: lo <= key, and key < hi when hasHi.
type frame struct {
	n     *node
	i     int // in an internal node: the index of the next node on the path
	lo    string
	hi    string
	hasHi bool
}

// readRoot returns the frame of the root; an empty leaf when the tree has
// no root record (it is empty).
func (t *Tree) readRoot(tx meta.Tx) (frame, error) {
	n, err := t.read(tx, rootID)
	if err != nil {
		return frame{}, err
	}
	if n == nil {
		n = &node{id: rootID}
	}
	return frame{n: n}, nil
}

// readChild returns the frame of child i of f's node, checking that the
// child is where its parent says: one level down, not empty, and with keys
// inside the range the parent gives it. Authentication binds a node to its
// id, not to its place or version: these checks turn a node restored from
// an older state of the tree into an error when it no longer fits.
func (t *Tree) readChild(tx meta.Tx, f *frame, i int) (frame, error) {
	p := f.n
	id := p.kids[i]
	c := frame{lo: f.lo, hi: f.hi, hasHi: f.hasHi}
	if i > 0 {
		c.lo = p.keys[i]
	}
	if i+1 < p.count() {
		c.hi, c.hasHi = p.keys[i+1], true
	}
	n, err := t.read(tx, id)
	if err != nil {
		return frame{}, err
	}
	if n == nil {
		return frame{}, t.integrity(id, "missing, though node %016x refers to it", p.id)
	}
	first, last := 0, n.count()-1
	if !n.leaf() {
		first = 1 // keys[0] is not a key
	}
	switch {
	case n.level != p.level-1:
		return frame{}, t.integrity(id, "at level %d under a node of level %d", n.level, p.level)
	case n.count() == 0:
		return frame{}, t.integrity(id, "empty node below the root")
	case first <= last && n.keys[first] < c.lo, first <= last && n.keys[first] == c.lo && !n.leaf():
		return frame{}, t.integrity(id, "keys below the range of its parent's entry")
	case first <= last && c.hasHi && n.keys[last] >= c.hi:
		return frame{}, t.integrity(id, "keys above the range of its parent's entry")
	}
	c.n = n
	return c, nil
}

// path reads the nodes from the root down to the leaf whose range holds
// key.
func (t *Tree) path(tx meta.Tx, key string) ([]frame, error) {
	f, err := t.readRoot(tx)
	if err != nil {
		return nil, err
	}
	fs := []frame{f}
	for {
		f := &fs[len(fs)-1]
		if f.n.leaf() {
			return fs, nil
		}
		f.i = f.n.child(key)
		c, err := t.readChild(tx, f, f.i)
		if err != nil {
			return nil, err
		}
		fs = append(fs, c)
	}
}

// Get returns the value of key. The caller owns val. It reads one node per
// level of the tree.
func (t *Tree) Get(tx meta.Tx, key string) (val []byte, ok bool, err error) {
	if err := t.check(); err != nil {
		return nil, false, err
	}
	fs, err := t.path(tx, key)
	if err != nil {
		return nil, false, err
	}
	leaf := fs[len(fs)-1].n
	j, ok := leaf.find(key)
	if !ok {
		return nil, false, nil
	}
	return slices.Clone(leaf.vals[j]), true, nil
}

// Put sets key to val, inserting it or replacing its value. key is 1 to
// MaxKeyLen bytes, val at most MaxValueLen; the tree does not check that key
// is UTF-8. Put keeps no reference to val.
//
// It reads one node per level and writes the leaf; a leaf that outgrows
// MaxNodeBytes is split, which writes its parent too, and so on up to the
// root. Replacing a value with an equal one writes nothing.
func (t *Tree) Put(tx meta.Tx, key string, val []byte) error {
	if err := t.check(); err != nil {
		return err
	}
	if len(key) == 0 || len(key) > MaxKeyLen {
		return fmt.Errorf("index: put: key of %d bytes (want 1 to %d)", len(key), MaxKeyLen)
	}
	if len(val) > MaxValueLen {
		return fmt.Errorf("index: put: value of %d bytes (want at most %d)", len(val), MaxValueLen)
	}
	fs, err := t.path(tx, key)
	if err != nil {
		return err
	}
	leaf := fs[len(fs)-1].n
	j, ok := leaf.find(key)
	val = slices.Clone(val)
	if val == nil {
		val = []byte{}
	}
	if ok {
		if string(leaf.vals[j]) == string(val) {
			return nil
		}
		leaf.vals[j] = val
	} else {
		leaf.insert(j, key, val)
	}
	return t.commit(tx, fs, false, !ok && j == leaf.count()-1)
}

// Delete removes key and reports whether it was there.
//
// It reads one node per level and writes the leaf. A node left empty is
// removed from its parent; a node left below a quarter of MaxNodeBytes is
// merged with a sibling (or shares its entries with it, when both together
// are too large), which reads the sibling and writes both and the parent.
func (t *Tree) Delete(tx meta.Tx, key string) (existed bool, err error) {
	if err := t.check(); err != nil {
		return false, err
	}
	fs, err := t.path(tx, key)
	if err != nil {
		return false, err
	}
	leaf := fs[len(fs)-1].n
	j, ok := leaf.find(key)
	if !ok {
		return false, nil
	}
	leaf.remove(j)
	return true, t.commit(tx, fs, true, false)
}

// commit writes the nodes of fs, from its leaf up, after a change to the
// leaf, restoring the invariants on the way: an empty node leaves its
// parent, a node over MaxNodeBytes is split, and after a removal (shrank) a
// node under a quarter of MaxNodeBytes is merged with a sibling. It stops at
// the first node whose parent it does not change.
func (t *Tree) commit(tx meta.Tx, fs []frame, shrank, appended bool) error {
	max := t.maxBytes()
	for l := len(fs) - 1; l > 0; l-- {
		n, p := fs[l].n, &fs[l-1]
		switch {
		case n.count() == 0:
			if err := t.remove(tx, n.id); err != nil {
				return err
			}
			p.n.remove(p.i)
			shrank, appended = true, false

		case n.size() > max && n.splittable():
			pieces := split(n, max, appended)
			if err := t.writePieces(tx, pieces, n.id); err != nil {
				return err
			}
			appended = p.i == p.n.count()-1
			p.n.replace(p.i, 1, pieces)
			shrank = false

		case shrank && n.size() < max/4 && p.n.count() > 1:
			changed, err := t.rebalance(tx, p, n)
			if err != nil || !changed {
				return err
			}
			appended = false

		default:
			return t.write(tx, n)
		}
	}
	return t.commitRoot(tx, fs[0].n, appended)
}

// writePieces writes the pieces of a split or merge: the first ones under
// the ids given, the others under new ids.
func (t *Tree) writePieces(tx meta.Tx, pieces []piece, ids ...uint64) error {
	for j, p := range pieces {
		if j < len(ids) {
			p.n.id = ids[j]
			if err := t.write(tx, p.n); err != nil {
				return err
			}
			continue
		}
		if err := t.writeNew(tx, p.n); err != nil {
			return err
		}
	}
	return nil
}

// rebalance merges n, child p.i of p's node, with its right sibling (its
// left one when it is the last child), then splits the result again if it
// is too large. It reports whether p's node changed; when it did not (the
// split gave back the same two nodes), it has written n alone.
func (t *Tree) rebalance(tx meta.Tx, p *frame, n *node) (changed bool, err error) {
	a := p.i // the index of the left node of the pair
	var l, r *node
	if a+1 < p.n.count() {
		f, err := t.readChild(tx, p, a+1)
		if err != nil {
			return false, err
		}
		l, r = n, f.n
	} else {
		a--
		f, err := t.readChild(tx, p, a)
		if err != nil {
			return false, err
		}
		l, r = f.n, n
	}
	pieces := split(combine(l, r, p.n.keys[a+1]), t.maxBytes(), false)
	if len(pieces) == 2 && pieces[0].n.count() == l.count() {
		return false, t.write(tx, n)
	}
	if err := t.writePieces(tx, pieces, l.id, r.id); err != nil {
		return false, err
	}
	if len(pieces) == 1 {
		if err := t.remove(tx, r.id); err != nil {
			return false, err
		}
	}
	p.n.replace(a, 2, pieces)
	return true, nil
}

// commitRoot writes the root after a change: it removes the root record of
// an empty tree, makes a root of a single child that child (the tree loses a
// level), and splits a root that is too large under a new root (the tree
// gains one). The root keeps id 0 throughout.
func (t *Tree) commitRoot(tx meta.Tx, r *node, appended bool) error {
	max := t.maxBytes()
	for {
		switch {
		case r.count() == 0:
			return t.remove(tx, rootID)

		case !r.leaf() && r.count() == 1:
			f, err := t.readChild(tx, &frame{n: r}, 0)
			if err != nil {
				return err
			}
			if err := t.remove(tx, f.n.id); err != nil {
				return err
			}
			r = f.n
			r.id = rootID

		case r.size() > max && r.splittable():
			if r.level == maxLevel {
				return fmt.Errorf("index: tree %q is %d levels deep (MaxNodeBytes %d is too small for its keys)", t.Prefix, maxLevel, max)
			}
			pieces := split(r, max, appended)
			if err := t.writePieces(tx, pieces); err != nil {
				return err
			}
			root := &node{id: rootID, level: r.level + 1, keys: []string{""}, kids: []uint64{r.id}}
			root.replace(0, 1, pieces)
			r, appended = root, false

		default:
			return t.write(tx, r)
		}
	}
}

// Scan calls fn for every key >= from, in ascending byte order, with its
// value, until fn returns false or an error, which Scan returns. fn may keep
// key and val, but must not modify val (a NodeCache shares it). It reads each node at most once: one per level to reach
// from, then one per leaf and the internal nodes between leaves.
//
// fn may use tx for other records, but must not Put or Delete in this tree
// until Scan returns: Scan walks the nodes it has read, so it would miss or
// repeat keys, or fail with ErrIntegrity on a node removed under it. Collect
// the keys, change the tree after.
func (t *Tree) Scan(tx meta.Tx, from string, fn func(key string, val []byte) (more bool, err error)) error {
	if err := t.check(); err != nil {
		return err
	}
	fs, err := t.path(tx, from)
	if err != nil {
		return err
	}
	j, _ := fs[len(fs)-1].n.find(from)
	for {
		leaf := fs[len(fs)-1].n
		for ; j < leaf.count(); j++ {
			if more, err := fn(leaf.keys[j], leaf.vals[j]); err != nil || !more {
				return err
			}
		}
		// Up to the closest node with a child after the path, then down
		// the first children to the next leaf.
		l := len(fs) - 2
		for l >= 0 && fs[l].i+1 >= fs[l].n.count() {
			l--
		}
		if l < 0 {
			return nil
		}
		fs = fs[:l+1]
		fs[l].i++
		for {
			f := &fs[len(fs)-1]
			if f.n.leaf() {
				break
			}
			c, err := t.readChild(tx, f, f.i)
			if err != nil {
				return err
			}
			fs = append(fs, c)
		}
		j = 0
	}
}

// dropBatch is how many records Drop deletes per scan of the store.
const dropBatch = 1024

// Drop deletes the tree: every record under Prefix. It reads no node, so it
// needs no key and works on a tree that is damaged or whose key was
// destroyed.
func (t *Tree) Drop(tx meta.Tx) error {
	if err := t.check(); err != nil {
		return err
	}
	end := meta.PrefixEnd(t.Prefix)
	for {
		// The store forbids writes inside Scan: collect, then delete.
		var keys [][]byte
		err := tx.Scan(t.Prefix, end, func(k, _ []byte) (bool, error) {
			keys = append(keys, slices.Clone(k))
			return len(keys) < dropBatch, nil
		})
		if err != nil {
			return fmt.Errorf("index: drop: %w", err)
		}
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return fmt.Errorf("index: drop: %w", err)
			}
		}
		if len(keys) < dropBatch {
			return nil
		}
	}
}
