package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/coffre-cloud/coffre/meta"
)

// marker is put in object names; it must never reach the store in clear.
const marker = "SECRET-NAME-7c1e9a"

// markerKeys returns n keys that hold the marker, at the start, in the
// middle and at the end, with shared prefixes, so that the marker is also in
// separators.
func markerKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		switch i % 4 {
		case 0:
			keys[i] = fmt.Sprintf("%s/%05d", marker, i)
		case 1:
			keys[i] = fmt.Sprintf("docs/%s-%05d.pdf", marker, i)
		case 2:
			keys[i] = fmt.Sprintf("a/b/%05d/%s", i, marker)
		default:
			keys[i] = fmt.Sprintf("%s%s/%05d", strings.Repeat("p", 200), marker, i)
		}
	}
	return keys
}

// putAll puts keys into tr, 50 per Update, with their index as value.
func putAll(tb testing.TB, s meta.Store, tr *Tree, keys []string) {
	tb.Helper()
	for len(keys) > 0 {
		n := min(len(keys), 50)
		err := s.Update(ctx, func(tx meta.Tx) error {
			for i, k := range keys[:n] {
				if err := tr.Put(tx, k, binary.BigEndian.AppendUint32(nil, uint32(i))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		keys = keys[n:]
	}
}

// TestSecrecy stores names that hold a marker, in trees with small and
// default nodes, and looks for the marker in every key and value of the
// store, and then in the bytes of the SQLite files.
func TestSecrecy(t *testing.T) {
	for _, st := range stores {
		t.Run("store="+st.name, func(t *testing.T) {
			var s meta.Store
			var dir string
			if st.name == "sqlite" {
				s, dir = openSQLite(t)
			} else {
				s = st.open(t)
			}
			keys := markerKeys(2000)
			for _, size := range []int{256, 0} {
				tr := &Tree{Prefix: fmt.Appendf(nil, "x/%d/", size), AEAD: newAEAD("secrecy"), MaxNodeBytes: size}
				putAll(t, s, tr, keys)
				// Deletions rewrite and merge nodes: the marker must
				// not surface there either.
				err := s.Update(ctx, func(tx meta.Tx) error {
					for _, k := range keys[:500] {
						if _, err := tr.Delete(tx, k); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			var n int
			err := s.View(ctx, func(tx meta.Tx) error {
				recs, err := records(tx, nil)
				n = len(recs)
				for k, v := range recs {
					if strings.Contains(k, marker) || bytes.Contains(v, []byte(marker)) {
						t.Errorf("record %x holds the marker", k)
					}
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if n < 10 {
				t.Fatalf("the store holds %d records, want many nodes", n)
			}
			if dir == "" {
				return
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if found := filesWith(t, dir, marker); len(found) != 0 {
				t.Errorf("the marker is in the bytes of %v", found)
			}
		})
	}
}

// TestSecrecyControl shows that the file search of TestSecrecy would find a
// name stored in clear.
func TestSecrecyControl(t *testing.T) {
	s, dir := openSQLite(t)
	err := s.Update(ctx, func(tx meta.Tx) error {
		return tx.Put([]byte("o/plain"), []byte("an object named "+marker))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if found := filesWith(t, dir, marker); len(found) == 0 {
		t.Fatal("a marker stored in clear is in no file: the search of TestSecrecy proves nothing")
	}
}

// filesWith returns the files under dir that contain s.
func filesWith(tb testing.TB, dir, s string) []string {
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if bytes.Contains(b, []byte(s)) {
			found = append(found, filepath.Base(path))
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return found
}

// nodeIDs returns the ids of the nodes of tr by level.
func nodeIDs(tx meta.Tx, tr *Tree) (map[int][]uint64, error) {
	recs, err := records(tx, tr.Prefix)
	if err != nil {
		return nil, err
	}
	levels := map[int][]uint64{}
	for k := range recs {
		id := binary.BigEndian.Uint64([]byte(k[len(tr.Prefix):]))
		n, err := tr.read(tx, id)
		if err != nil {
			return nil, err
		}
		levels[n.level] = append(levels[n.level], id)
	}
	return levels, nil
}

// TestTamper alters the sealed nodes of a tree the way someone with write
// access to the store but not the key could: every alteration must make
// reading the tree fail with ErrIntegrity, and the errors must name no key.
func TestTamper(t *testing.T) {
	// A tamper function changes the records of tr (whose node ids by
	// level are ids), perhaps with those of other (other's are oids).
	type tamper func(tx meta.Tx, tr, other *Tree, ids, oids map[int][]uint64) error
	swap := func(tx meta.Tx, tr *Tree, a, b uint64) error {
		va, err := tx.Get(tr.nodeKey(a))
		if err != nil {
			return err
		}
		va = bytes.Clone(va)
		vb, err := tx.Get(tr.nodeKey(b))
		if err != nil {
			return err
		}
		if err := tx.Put(tr.nodeKey(a), vb); err != nil {
			return err
		}
		return tx.Put(tr.nodeKey(b), va)
	}
	// copyNode puts the value of node id of src at node to of dst.
	copyNode := func(tx meta.Tx, src *Tree, id uint64, dst *Tree, to uint64) error {
		v, err := tx.Get(src.nodeKey(id))
		if err != nil {
			return err
		}
		return tx.Put(dst.nodeKey(to), v)
	}
	// edit changes the value of a leaf.
	edit := func(fn func(v []byte) []byte) tamper {
		return func(tx meta.Tx, tr, _ *Tree, ids, _ map[int][]uint64) error {
			v, err := tx.Get(tr.nodeKey(ids[0][0]))
			if err != nil {
				return err
			}
			return tx.Put(tr.nodeKey(ids[0][0]), fn(bytes.Clone(v)))
		}
	}
	flip := func(at func(n int) int) tamper {
		return edit(func(v []byte) []byte { v[at(len(v))] ^= 0x01; return v })
	}
	cases := []struct {
		name string
		fn   tamper
	}{
		{"swap-two-leaves", func(tx meta.Tx, tr, _ *Tree, ids, _ map[int][]uint64) error {
			return swap(tx, tr, ids[0][0], ids[0][1])
		}},
		{"swap-root-and-leaf", func(tx meta.Tx, tr, _ *Tree, ids, _ map[int][]uint64) error {
			return swap(tx, tr, rootID, ids[0][0])
		}},
		{"swap-leaf-and-internal", func(tx meta.Tx, tr, _ *Tree, ids, _ map[int][]uint64) error {
			return swap(tx, tr, ids[0][0], ids[1][0])
		}},
		{"copy-leaf-over-leaf", func(tx meta.Tx, tr, _ *Tree, ids, _ map[int][]uint64) error {
			return copyNode(tx, tr, ids[0][0], tr, ids[0][1])
		}},
		{"flip-nonce-byte", flip(func(int) int { return 3 })},
		{"flip-ciphertext-byte", flip(func(n int) int { return n / 2 })},
		{"flip-tag-byte", flip(func(n int) int { return n - 1 })},
		{"truncate", edit(func(v []byte) []byte { return v[:20] })},
		{"empty-value", edit(func([]byte) []byte { return nil })},
		{"delete-leaf", func(tx meta.Tx, tr, _ *Tree, ids, _ map[int][]uint64) error {
			return tx.Delete(tr.nodeKey(ids[0][0]))
		}},
		{"move-root-from-other-tree", func(tx meta.Tx, tr, other *Tree, _, _ map[int][]uint64) error {
			return copyNode(tx, other, rootID, tr, rootID)
		}},
		{"move-leaf-from-other-tree", func(tx meta.Tx, tr, other *Tree, ids, oids map[int][]uint64) error {
			return copyNode(tx, other, oids[0][0], tr, ids[0][0])
		}},
	}
	for _, st := range stores {
		for _, c := range cases {
			for _, cached := range []bool{false, true} {
				t.Run(fmt.Sprintf("store=%s/tamper=%s/cached=%v", st.name, c.name, cached), func(t *testing.T) {
					s := st.open(t)
					aead := newAEAD("tamper") // one key for both trees: only the prefix tells them apart
					tr := &Tree{Prefix: []byte("x/b1/"), AEAD: aead, MaxNodeBytes: 256}
					other := &Tree{Prefix: []byte("x/b2/"), AEAD: aead, MaxNodeBytes: 256}
					if cached {
						// Holds every node of both trees, read before
						// the tampering and after.
						tr.Cache = NewNodeCache(1 << 20)
						other.Cache = tr.Cache
					}
					keys := markerKeys(300)
					putAll(t, s, tr, keys)
					putAll(t, s, other, keys)
					var ids, oids map[int][]uint64
					err := s.View(ctx, func(tx meta.Tx) error {
						var err error
						if ids, err = nodeIDs(tx, tr); err != nil {
							return err
						}
						oids, err = nodeIDs(tx, other)
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
					if len(ids[0]) < 2 || len(ids[1]) < 1 {
						t.Fatalf("tree too small to tamper with: %d leaves, %d nodes at level 1", len(ids[0]), len(ids[1]))
					}
					err = s.Update(ctx, func(tx meta.Tx) error { return c.fn(tx, tr, other, ids, oids) })
					if err != nil {
						t.Fatal(err)
					}
					err = s.View(ctx, func(tx meta.Tx) error {
						return tr.Scan(tx, "", func(string, []byte) (bool, error) { return true, nil })
					})
					if !errors.Is(err, ErrIntegrity) {
						t.Fatalf("Scan of the altered tree = %v, want %v", err, ErrIntegrity)
					}
					if strings.Contains(err.Error(), marker) {
						t.Errorf("error %q names a key", err)
					}
					// Every key whose path crosses the altered node fails
					// the same way in Get, Put and Delete; the others work.
					var failed int
					err = s.Update(ctx, func(tx meta.Tx) error {
						failed = 0
						for _, k := range keys {
							_, _, gerr := tr.Get(tx, k)
							perr := tr.Put(tx, k, []byte("new"))
							_, derr := tr.Delete(tx, k)
							for _, err := range []error{gerr, perr, derr} {
								if err != nil && !errors.Is(err, ErrIntegrity) {
									return fmt.Errorf("operation on the altered tree: %w, want nil or %w", err, ErrIntegrity)
								}
								if err != nil && strings.Contains(err.Error(), marker) {
									return fmt.Errorf("error %q names a key", err)
								}
							}
							if gerr != nil {
								failed++
								if perr == nil || derr == nil {
									return fmt.Errorf("Get fails with %w, Put with %v, Delete with %v: want all to fail", gerr, perr, derr)
								}
							}
						}
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					if failed == 0 {
						t.Error("no Get failed on the altered tree")
					}
					// The other tree is intact, and the altered one can be
					// dropped without reading it.
					err = s.Update(ctx, func(tx meta.Tx) error {
						if _, err := checkTree(tx, other); err != nil {
							return fmt.Errorf("other tree: %w", err)
						}
						if err := tr.Drop(tx); err != nil {
							return err
						}
						recs, err := records(tx, tr.Prefix)
						if len(recs) != 0 {
							return fmt.Errorf("%d records left after Drop", len(recs))
						}
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

// TestDrop checks that Drop removes every record of the tree, whatever its
// key, and only those; the tree is then empty and usable.
func TestDrop(t *testing.T) {
	s := newMemStore()
	tr := &Tree{Prefix: []byte("x/b1/"), AEAD: newAEAD("drop"), MaxNodeBytes: 256}
	next := &Tree{Prefix: []byte("x/b10/"), AEAD: tr.AEAD, MaxNodeBytes: 256} // starts with "x/b1"
	keys := markerKeys(3000)
	putAll(t, s, tr, keys)
	putAll(t, s, next, keys[:100])
	err := s.Update(ctx, func(tx meta.Tx) error {
		if err := tx.Put([]byte("x/b1/unrelated-but-under-the-prefix"), []byte("v")); err != nil {
			return err
		}
		wrongKey := &Tree{Prefix: tr.Prefix, AEAD: newAEAD("shredded")}
		return wrongKey.Drop(tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx meta.Tx) error {
		if recs, err := records(tx, tr.Prefix); err != nil || len(recs) != 0 {
			return fmt.Errorf("after Drop: %d records under the prefix, %v", len(recs), err)
		}
		got, err := scanN(tx, tr, "", -1)
		if err != nil || len(got) != 0 {
			return fmt.Errorf("Scan after Drop = %d entries, %v; want none", len(got), err)
		}
		st, err := checkTree(tx, next)
		if err != nil || st.keys != 100 {
			return fmt.Errorf("neighbouring tree after Drop: %d keys, %v; want 100", st.keys, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, s, tr, keys[:10])
	err = s.View(ctx, func(tx meta.Tx) error {
		st, err := checkTree(tx, tr)
		if err != nil || st.keys != 10 {
			return fmt.Errorf("tree refilled after Drop: %d keys, %v; want 10", st.keys, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConcurrent uses one Tree from many goroutines at once, writers and
// readers, on SQLite (run with -race): the Tree is only configuration.
func TestConcurrent(t *testing.T) {
	s, _ := openSQLite(t)
	tr := &Tree{Prefix: []byte("x/c/"), AEAD: newAEAD("concurrent"), MaxNodeBytes: 512}
	const writers, updates, puts = 4, 20, 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for w := range writers {
		wg.Go(func() {
			for u := range updates {
				err := s.Update(ctx, func(tx meta.Tx) error {
					for p := range puts {
						if err := tr.Put(tx, fmt.Sprintf("w%d/%03d/%02d", w, u, p), []byte{byte(w)}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for range updates {
				err := s.View(ctx, func(tx meta.Tx) error {
					// A snapshot: whole Updates, so a multiple of puts.
					got, err := scanN(tx, tr, "", -1)
					if err == nil && len(got)%puts != 0 {
						err = fmt.Errorf("a View sees %d keys, not a multiple of %d", len(got), puts)
					}
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	err := s.View(ctx, func(tx meta.Tx) error {
		st, err := checkTree(tx, tr)
		if err == nil && st.keys != writers*updates*puts {
			err = fmt.Errorf("tree holds %d keys, want %d", st.keys, writers*updates*puts)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
