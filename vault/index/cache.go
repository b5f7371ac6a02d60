package index

import (
	"bytes"
	"crypto/cipher"
	"slices"
	"sync"
)

// NodeCache keeps decoded nodes, so that a read of a node whose sealed
// record has not changed since it was last read or written skips opening
// and decoding it: the leaf that a run of Puts keeps changing, and the
// nodes above it. An entry is used only for the exact sealed bytes it was
// made from, by a Tree with the same AEAD: a record changed by another
// writer, rolled back with its transaction or restored from an older state
// misses, and is opened (and authenticated) as without a cache. It holds
// object names in clear, as the nodes a Tree reads do while it uses them;
// entries live until evicted, and a Tree reaches them only with the AEAD
// that sealed them.
//
// One NodeCache may serve many Trees, and is safe for concurrent use.
type NodeCache struct {
	mu    sync.Mutex
	max   int // bytes of sealed records
	bytes int
	m     map[string]cachedNode
}

type cachedNode struct {
	aead   cipher.AEAD
	sealed []byte
	n      *node
}

// NewNodeCache returns a cache that holds nodes of up to maxBytes of
// sealed records in all (their decoded form takes about as much again).
func NewNodeCache(maxBytes int) *NodeCache {
	return &NodeCache{max: maxBytes, m: make(map[string]cachedNode)}
}

// get returns a copy of the node decoded from sealed under key, or nil.
func (c *NodeCache) get(aead cipher.AEAD, key, sealed []byte) *node {
	c.mu.Lock()
	e, ok := c.m[string(key)]
	c.mu.Unlock()
	if !ok || e.aead != aead || !bytes.Equal(e.sealed, sealed) {
		return nil
	}
	return e.n.clone()
}

// put records that sealed, stored under key, holds n. It keeps copies of
// both.
func (c *NodeCache) put(aead cipher.AEAD, key, sealed []byte, n *node) {
	size := len(sealed)
	if size > c.max {
		return
	}
	e := cachedNode{aead: aead, sealed: slices.Clone(sealed), n: n.clone()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[string(key)]; ok {
		delete(c.m, string(key))
		c.bytes -= len(old.sealed)
	}
	// Evict entries in map order, which is random, until n fits.
	for k, old := range c.m {
		if c.bytes+size <= c.max {
			break
		}
		delete(c.m, k)
		c.bytes -= len(old.sealed)
	}
	c.m[string(key)] = e
	c.bytes += size
}

// drop forgets the node under key.
func (c *NodeCache) drop(key []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[string(key)]; ok {
		delete(c.m, string(key))
		c.bytes -= len(old.sealed)
	}
}

// clone returns a copy of n that shares its keys and values, which nothing
// modifies in place, but not the slices that hold them, which Put and
// Delete change. Like decodeNode, it leaves room for one more entry.
func (n *node) clone() *node {
	c := *n
	c.keys = append(make([]string, 0, len(n.keys)+1), n.keys...)
	if n.vals != nil {
		c.vals = append(make([][]byte, 0, len(n.vals)+1), n.vals...)
	}
	if n.kids != nil {
		c.kids = append(make([]uint64, 0, len(n.kids)+1), n.kids...)
	}
	return &c
}
