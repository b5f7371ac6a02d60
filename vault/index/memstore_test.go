package index

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/coffre-cloud/coffre/meta"
)

// memStore is a meta.Store in a map, for fast tests: Updates run one at a
// time and commit their writes only when fn returns nil; Views share a read
// lock. It keeps the rules of meta.Tx that the tree could break: Get returns
// meta.ErrNotFound unwrapped, no writes in a View or inside a Scan, no use
// of a Tx after its function returned.
//
// Nothing depends on the order of map iteration, so that the same calls run
// the same code: the fuzzer's coverage guidance needs it.
type memStore struct {
	mu   sync.RWMutex
	m    map[string][]byte
	keys []string // of m, sorted
}

var _ meta.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{m: map[string][]byte{}} }

func (s *memStore) View(ctx context.Context, fn func(meta.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	tx := &memTx{s: s}
	defer func() { tx.done = true }()
	return fn(tx)
}

func (s *memStore) Update(ctx context.Context, fn func(meta.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := &memTx{s: s, writes: map[string][]byte{}}
	defer func() { tx.done = true }()
	if err := fn(tx); err != nil {
		return err
	}
	for _, k := range tx.order {
		v := tx.writes[k]
		i, found := slices.BinarySearch(s.keys, k)
		switch {
		case v == nil && found:
			s.keys = slices.Delete(s.keys, i, i+1)
			delete(s.m, k)
		case v != nil && !found:
			s.keys = slices.Insert(s.keys, i, k)
			fallthrough
		case v != nil:
			s.m[k] = v
		}
	}
	return nil
}

func (s *memStore) Close() error { return nil }

// memTx is a transaction of memStore. writes (nil in a View) holds the
// values written, nil for a deleted key; order the keys written, in the
// order of their first write.
type memTx struct {
	s        *memStore
	writes   map[string][]byte
	order    []string
	scanning int
	done     bool
}

var (
	errMemReadOnly = errors.New("memstore: write in a View")
	errMemInScan   = errors.New("memstore: write inside a Scan")
	errMemDone     = errors.New("memstore: transaction used after its function returned")
)

func (tx *memTx) Get(key []byte) ([]byte, error) {
	if tx.done {
		return nil, errMemDone
	}
	v, ok := tx.writes[string(key)]
	if !ok {
		v, ok = tx.s.m[string(key)]
	}
	if !ok || v == nil {
		return nil, meta.ErrNotFound
	}
	return slices.Clone(v), nil
}

func (tx *memTx) write(key, value []byte) error {
	switch {
	case tx.done:
		return errMemDone
	case tx.writes == nil:
		return errMemReadOnly
	case tx.scanning > 0:
		return errMemInScan
	}
	if _, ok := tx.writes[string(key)]; !ok {
		tx.order = append(tx.order, string(key))
	}
	tx.writes[string(key)] = value
	return nil
}

func (tx *memTx) Put(key, value []byte) error {
	return tx.write(key, append([]byte{}, value...))
}

func (tx *memTx) Delete(key []byte) error { return tx.write(key, nil) }

func (tx *memTx) Scan(start, end []byte, fn func(key, value []byte) (bool, error)) error {
	if tx.done {
		return errMemDone
	}
	in := func(k string) bool {
		return k >= string(start) && (end == nil || k < string(end))
	}
	// The committed keys in range that the transaction did not write,
	// and the ones it wrote, merged.
	var keys, written []string
	i, _ := slices.BinarySearch(tx.s.keys, string(start))
	for ; i < len(tx.s.keys) && in(tx.s.keys[i]); i++ {
		if _, ok := tx.writes[tx.s.keys[i]]; !ok {
			keys = append(keys, tx.s.keys[i])
		}
	}
	for _, k := range tx.order {
		if tx.writes[k] != nil && in(k) {
			written = append(written, k)
		}
	}
	slices.Sort(written)
	keys = append(keys, written...)
	slices.Sort(keys) // two sorted runs
	tx.scanning++
	defer func() { tx.scanning-- }()
	for _, k := range keys {
		v, err := tx.Get([]byte(k))
		if err != nil {
			return err
		}
		if more, err := fn([]byte(k), v); err != nil || !more {
			return err
		}
	}
	return nil
}

// countTx counts the calls made through a meta.Tx.
type countTx struct {
	meta.Tx
	gets, puts, dels int
	putBytes         int
}

func (c *countTx) Get(key []byte) ([]byte, error) {
	c.gets++
	return c.Tx.Get(key)
}

func (c *countTx) Put(key, value []byte) error {
	c.puts++
	c.putBytes += len(value)
	return c.Tx.Put(key, value)
}

func (c *countTx) Delete(key []byte) error {
	c.dels++
	return c.Tx.Delete(key)
}

// records returns every record of the store under prefix (nil: all).
func records(tx meta.Tx, prefix []byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	var end []byte
	if prefix != nil {
		end = meta.PrefixEnd(prefix)
	}
	err := tx.Scan(prefix, end, func(k, v []byte) (bool, error) {
		if !bytes.HasPrefix(k, prefix) {
			return false, errors.New("Scan returned a key outside its range")
		}
		out[string(k)] = slices.Clone(v)
		return true, nil
	})
	return out, err
}
