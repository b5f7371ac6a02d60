package sqlite

import "bytes"

// readCache holds values that the committer read from SQLite or committed,
// and keys it found absent, so that the fns of later batches read them from
// memory: every small PUT reads the root and a leaf of its bucket's name
// index, the tenant's usage and its key's records, and a Get through the
// driver costs tens of microseconds on the one goroutine that every Update
// waits for. It is exact because the committer is the only writer: it adds
// a batch's writes once the batch has committed, and empties itself when
// SQLite reports that another connection changed the database (PRAGMA
// data_version), another process writing to the file included.
type readCache struct {
	m     map[string]write // del: known absent
	bytes int              // sum of the keys' and values' lengths
	max   int              // bytes kept at most; 0 disables the cache
}

// maxCachedValue bounds the values the cache keeps: larger ones would push
// out many small hot ones.
const maxCachedValue = 64 << 10

func newReadCache(max int) *readCache {
	return &readCache{m: make(map[string]write), max: max}
}

// get returns the cached value of key (a copy) or its known absence.
func (c *readCache) get(key []byte) (write, bool) {
	w, ok := c.m[string(key)]
	if ok && !w.del {
		w.v = bytes.Clone(w.v)
	}
	return w, ok
}

// add records what SQLite holds for key; v is copied.
func (c *readCache) add(key []byte, v []byte, found bool) {
	if c.max == 0 || len(v) > maxCachedValue {
		return
	}
	w := write{del: !found}
	if found {
		w.v = bytes.Clone(nonNil(v))
	}
	c.set(string(key), w)
}

func (c *readCache) set(k string, w write) {
	if old, ok := c.m[k]; ok {
		c.bytes -= len(k) + len(old.v)
	}
	c.m[k] = w
	c.bytes += len(k) + len(w.v)
	if c.bytes > c.max {
		// Drop entries in the map's random order down to 3/4 of max:
		// amortized O(1), and hot keys come back on their next read.
		for k, w := range c.m {
			delete(c.m, k)
			c.bytes -= len(k) + len(w.v)
			if c.bytes <= c.max*3/4 {
				break
			}
		}
	}
}

// apply records the writes of a committed batch. The overlay's values
// become the cache's: the batch no longer uses them.
func (c *readCache) apply(o *overlay) {
	if c.max == 0 {
		return
	}
	for k, w := range o.m {
		if len(w.v) > maxCachedValue {
			if old, ok := c.m[k]; ok {
				delete(c.m, k)
				c.bytes -= len(k) + len(old.v)
			}
			continue
		}
		c.set(k, w)
	}
}

func (c *readCache) clear() {
	clear(c.m)
	c.bytes = 0
}
