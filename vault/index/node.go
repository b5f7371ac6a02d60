package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The limits of what the tree stores. They bound the size of an entry, so
// that a node of MaxNodeBytes holds a known minimum of them.
const (
	// MaxKeyLen is the longest key, in bytes: the S3 limit on object keys.
	MaxKeyLen = 1024
	// MaxValueLen is the longest value, in bytes.
	MaxValueLen = 128
)

const (
	formatVersion = 1
	// padTo is the granularity of an encoded node's length: zeros pad the
	// plaintext to a multiple of it before sealing, so that a node's size
	// says less about the lengths of the names in it (see doc.go).
	padTo = 256
	// maxLevel bounds the height of the tree. A tree of 16 KiB nodes holds
	// more keys than fit on any disk in 6 levels; only a tiny MaxNodeBytes
	// with huge keys could approach it.
	maxLevel = 48
	idLen    = 8
)

// node is a decoded node. In a leaf (level 0), keys[i] maps to vals[i]. In
// an internal node (level > 0), kids[i] is the id of a child one level down
// whose keys are >= keys[i] and < keys[i+1]; keys[0] is always "" and not
// stored, since the first child's lower bound is the node's own.
//
// Decoded keys are substrings of one string per node, and values subslices
// of the node's fresh plaintext: both may be handed to callers.
type node struct {
	id    uint64
	level int
	keys  []string
	vals  [][]byte
	kids  []uint64
}

func (n *node) leaf() bool { return n.level == 0 }
func (n *node) count() int { return len(n.keys) }

// splittable reports whether splitting n can make its pieces smaller. A
// leaf of one entry cannot be split; nor is an internal node of two
// children: its pieces would each hold one child, and the parent that
// received them would hold the same separator and be as large as n was.
// Requiring three children makes every split leave the parent with fewer
// children than the node it split, so that splits up to the root end.
func (n *node) splittable() bool {
	if n.leaf() {
		return n.count() >= 2
	}
	return n.count() >= 3
}

// find returns the position of key in a leaf, or where it would be
// inserted, and whether it is there.
func (n *node) find(key string) (int, bool) {
	return slices.BinarySearch(n.keys, key)
}

// child returns the index of the child of an internal node whose range
// holds key.
func (n *node) child(key string) int {
	// The number of separators (keys[1:]) <= key.
	i, found := slices.BinarySearch(n.keys[1:], key)
	if found {
		i++
	}
	return i
}

// lcp returns the length of the longest common prefix of a and b.
func lcp(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// separator returns the shortest s with a < s <= b, for a < b: the
// shortest prefix of b that sorts after a. Keys of the right node of a
// split are >= s, those of the left < s.
func separator(a, b string) string {
	return b[:lcp(a, b)+1]
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// keyEntryLen is the encoded size of key, compressed against prev, before
// what follows it in the entry.
func keyEntryLen(prev, key string) int {
	s := lcp(prev, key)
	return uvarintLen(uint64(s)) + uvarintLen(uint64(len(key)-s)) + len(key) - s
}

// entryLen is the encoded size of entry i of n, whose key is compressed
// against prev (entry i-1's key, or "" for the first). In an internal node,
// entry 0 is the first child id alone.
func (n *node) entryLen(i int, prev string) int {
	if n.leaf() {
		return keyEntryLen(prev, n.keys[i]) + uvarintLen(uint64(len(n.vals[i]))) + len(n.vals[i])
	}
	if i == 0 {
		return idLen
	}
	return keyEntryLen(prev, n.keys[i]) + idLen
}

// size is the length of n's encoding before padding: what MaxNodeBytes
// bounds.
func (n *node) size() int {
	s := 2 + uvarintLen(uint64(n.count()))
	prev := ""
	for i := range n.keys {
		s += n.entryLen(i, prev)
		prev = n.keys[i]
	}
	return s
}

func roundUp(n, to int) int { return (n + to - 1) / to * to }

func appendKey(b []byte, prev, key string) []byte {
	s := lcp(prev, key)
	b = binary.AppendUvarint(b, uint64(s))
	b = binary.AppendUvarint(b, uint64(len(key)-s))
	return append(b, key[s:]...)
}

// encode returns the plaintext of n (the format is in doc.go).
func (n *node) encode() []byte {
	size := n.size()
	b := make([]byte, 0, roundUp(size, padTo))
	b = append(b, formatVersion, byte(n.level))
	b = binary.AppendUvarint(b, uint64(n.count()))
	prev := ""
	if n.leaf() {
		for i, k := range n.keys {
			b = appendKey(b, prev, k)
			b = binary.AppendUvarint(b, uint64(len(n.vals[i])))
			b = append(b, n.vals[i]...)
			prev = k
		}
	} else {
		b = binary.BigEndian.AppendUint64(b, n.kids[0])
		for i := 1; i < len(n.keys); i++ {
			b = appendKey(b, prev, n.keys[i])
			b = binary.BigEndian.AppendUint64(b, n.kids[i])
			prev = n.keys[i]
		}
	}
	if len(b) != size {
		panic(fmt.Sprintf("index: encoded %d bytes, size said %d", len(b), size))
	}
	return b[:cap(b)] // make zeroed the padding
}

// decoder reads the fields of an encoded node, remembering the first
// failure.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

// uvarint reads a minimally encoded uvarint no greater than limit.
func (d *decoder) uvarint(what string, limit int) int {
	if d.err != nil {
		return 0
	}
	if len(d.b) > 0 && d.b[0] < 0x80 && int(d.b[0]) <= limit {
		// One byte, the common case, without binary.Uvarint.
		x := int(d.b[0])
		d.b = d.b[1:]
		return x
	}
	x, n := binary.Uvarint(d.b)
	switch {
	case n <= 0:
		d.fail("%s: truncated or overlong varint", what)
		return 0
	case n != uvarintLen(x):
		d.fail("%s: varint not minimally encoded", what)
		return 0
	case x > uint64(limit):
		d.fail("%s: %d is over %d", what, x, limit)
		return 0
	}
	d.b = d.b[n:]
	return int(x)
}

// bytes reads n bytes.
func (d *decoder) bytes(what string, n int) []byte {
	if d.err == nil && n <= len(d.b) {
		p := d.b[:n:n]
		d.b = d.b[n:]
		return p
	}
	if d.err == nil {
		d.fail("%s: %d bytes wanted, %d left", what, n, len(d.b))
	}
	return nil
}

func (d *decoder) id() uint64 {
	p := d.bytes("child id", idLen)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

// key reads a key compressed against prev, checks that it sorts after prev
// and that the encoding is canonical (shared is the longest common prefix),
// and returns it, stored in sb.
func (d *decoder) key(sb *strings.Builder, prev string) string {
	shared := d.uvarint("shared prefix", len(prev))
	suffix := d.bytes("key", d.uvarint("key suffix length", MaxKeyLen-shared))
	if d.err != nil {
		return ""
	}
	switch {
	case len(suffix) == 0:
		// The key would be prev or a prefix of it: not after prev.
		d.fail("key not after the previous one")
	case shared < len(prev) && suffix[0] == prev[shared]:
		d.fail("shared prefix not the longest")
	case shared < len(prev) && suffix[0] < prev[shared]:
		d.fail("key not after the previous one")
	}
	// The keys of a node share sb's memory: one allocation, not one per
	// key. Strings taken from sb stay valid as it grows.
	start := sb.Len()
	sb.WriteString(prev[:shared])
	sb.Write(suffix)
	return sb.String()[start:]
}

var errEmptyInternal = errors.New("internal node without children")

// decodeNode parses a plaintext made by encode. It accepts exactly the
// outputs of encode, so that any other input, garbage included, is an
// error: keys strictly increasing and at most MaxKeyLen bytes, values at
// most MaxValueLen, varints minimal, padding all zeros to the next multiple
// of padTo. It never panics, and allocates little more than the keys it
// returns, which are at most MaxKeyLen bytes per 4 bytes of input.
func decodeNode(b []byte) (*node, error) {
	if len(b) < 3 {
		return nil, fmt.Errorf("node of %d bytes is too short", len(b))
	}
	if b[0] != formatVersion {
		return nil, fmt.Errorf("node format version %d, want %d", b[0], formatVersion)
	}
	if b[1] > maxLevel {
		return nil, fmt.Errorf("node level %d is over %d", b[1], maxLevel)
	}
	n := &node{level: int(b[1])}
	d := &decoder{b: b[2:]}
	// Every leaf entry takes at least 4 bytes, every internal one at
	// least 8, which bounds count by the input before anything is
	// allocated.
	count := d.uvarint("entry count", len(d.b)/4)
	if d.err != nil {
		return nil, d.err
	}
	if !n.leaf() && count == 0 {
		return nil, errEmptyInternal
	}
	// One spare slot: a Put inserts at most one entry before the node is
	// written, and growing the slices would copy them all.
	n.keys = make([]string, count, count+1)
	var sb strings.Builder
	sb.Grow(min(2*len(b), count*MaxKeyLen))
	if n.leaf() {
		n.vals = make([][]byte, count, count+1)
		prev := ""
		for i := 0; i < count && d.err == nil; i++ {
			n.keys[i] = d.key(&sb, prev)
			n.vals[i] = d.bytes("value", d.uvarint("value length", MaxValueLen))
			prev = n.keys[i]
		}
	} else {
		n.kids = make([]uint64, count, count+1)
		n.kids[0] = d.id()
		prev := ""
		for i := 1; i < count && d.err == nil; i++ {
			n.keys[i] = d.key(&sb, prev)
			n.kids[i] = d.id()
			prev = n.keys[i]
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	used := len(b) - len(d.b)
	if len(b) != roundUp(used, padTo) {
		return nil, fmt.Errorf("node of %d bytes has %d bytes of content, want padding to %d", len(b), used, roundUp(used, padTo))
	}
	for _, c := range d.b {
		if c != 0 {
			return nil, errors.New("padding is not zeros")
		}
	}
	return n, nil
}

// insert adds key and val at position j of a leaf.
func (n *node) insert(j int, key string, val []byte) {
	n.keys = slices.Insert(n.keys, j, key)
	n.vals = slices.Insert(n.vals, j, val)
}

// remove deletes entry i: a key and its value in a leaf, a child in an
// internal node.
func (n *node) remove(i int) {
	n.keys = slices.Delete(n.keys, i, i+1)
	if n.leaf() {
		n.vals = slices.Delete(n.vals, i, i+1)
		return
	}
	n.kids = slices.Delete(n.kids, i, i+1)
	if i == 0 && len(n.keys) > 0 {
		// The new first child takes over the range of the removed one,
		// which holds no key: its lower bound becomes the node's.
		n.keys[0] = ""
	}
}

// piece is a node made by split, with the lower bound of its keys: for
// every piece but the first, the separator its parent must hold for it.
type piece struct {
	n  *node
	lo string
}

// replace puts pieces in place of the k children of an internal node that
// start at index i. The first piece keeps the lower bound of child i.
func (n *node) replace(i, k int, pieces []piece) {
	keys := make([]string, len(pieces))
	kids := make([]uint64, len(pieces))
	for j, p := range pieces {
		keys[j], kids[j] = p.lo, p.n.id
	}
	keys[0] = n.keys[i]
	n.keys = slices.Replace(n.keys, i, i+k, keys...)
	n.kids = slices.Replace(n.kids, i, i+k, kids...)
}

// split cuts n into pieces, in key order, each of at most max bytes unless
// it cannot be split further. appended says that the change that made n
// too large is at its end, which is how a tree filled in ascending order
// (sequential names, the common case of logs and backups) grows: n is then
// cut before its last entry rather than in halves, so that the nodes left
// behind stay full instead of half empty.
func split(n *node, max int, appended bool) []piece {
	var out []piece
	var cut func(n *node, lo string, appended bool)
	cut = func(n *node, lo string, appended bool) {
		if n.size() <= max || !n.splittable() {
			out = append(out, piece{n, lo})
			return
		}
		l, r, sep := n.cut(n.splitPoint(max, appended))
		cut(l, lo, false)
		cut(r, sep, appended)
	}
	cut(n, "", appended)
	return out
}

// splitPoint returns the index of the entry that starts the right piece of
// a split of n, in [1, count-1]: before the last entry for an append when
// the rest fits, else where the encoded bytes are closest to halves.
func (n *node) splitPoint(max int, appended bool) int {
	c := n.count()
	if appended {
		if l, _, _ := n.cut(c - 1); l.size() <= max {
			return c - 1
		}
	}
	sizes := make([]int, c)
	total, prev := 0, ""
	for i := range c {
		sizes[i] = n.entryLen(i, prev)
		total += sizes[i]
		prev = n.keys[i]
	}
	left := sizes[0]
	for m := 1; m < c; m++ {
		if 2*(left+sizes[m]) > total {
			// Cutting before m leaves less than half on the left,
			// cutting after it more: take the closer to half.
			if m+1 < c && 2*(left+sizes[m])-total < total-2*left {
				return m + 1
			}
			return m
		}
		left += sizes[m]
	}
	return c - 1
}

// cut splits n before entry m into a left and a right node, and returns the
// lower bound of the right one. The nodes share n's arrays; the left one's
// are clipped so that neither can write over the other.
func (n *node) cut(m int) (l, r *node, sep string) {
	l = &node{level: n.level, keys: n.keys[:m:m]}
	r = &node{level: n.level}
	if n.leaf() {
		l.vals = n.vals[:m:m]
		r.keys, r.vals = n.keys[m:], n.vals[m:]
		return l, r, separator(n.keys[m-1], n.keys[m])
	}
	// The separator of child m moves up to the parent; child m becomes
	// the first of the right node.
	l.kids = n.kids[:m:m]
	r.keys = append([]string{""}, n.keys[m+1:]...)
	r.kids = n.kids[m:]
	return l, r, n.keys[m]
}

// combine returns the concatenation of two adjacent nodes of one level; sep
// is the lower bound of r, which an internal node needs as the separator of
// r's first child.
func combine(l, r *node, sep string) *node {
	c := &node{id: l.id, level: l.level, keys: append(slices.Clip(l.keys), r.keys...)}
	if l.leaf() {
		c.vals = append(slices.Clip(l.vals), r.vals...)
		return c
	}
	c.keys[len(l.keys)] = sep
	c.kids = append(slices.Clip(l.kids), r.kids...)
	return c
}
