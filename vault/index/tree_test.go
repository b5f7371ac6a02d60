package index

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/meta"
	"golang.org/x/crypto/chacha20poly1305"
)

func TestInvalidArguments(t *testing.T) {
	s := newMemStore()
	tr := &Tree{Prefix: []byte("x/"), AEAD: newAEAD("args")}
	err := s.Update(ctx, func(tx meta.Tx) error {
		for _, tt := range []struct {
			key   string
			val   []byte
			valid bool
		}{
			{"", nil, false},
			{strings.Repeat("k", MaxKeyLen+1), nil, false},
			{"k", make([]byte, MaxValueLen+1), false},
			{strings.Repeat("k", MaxKeyLen), make([]byte, MaxValueLen), true},
			{"\x00", nil, true}, // S3 forbids it, the tree does not care
		} {
			if err := tr.Put(tx, tt.key, tt.val); (err == nil) != tt.valid {
				t.Errorf("Put of a %d-byte key and %d-byte value = %v, want valid %v", len(tt.key), len(tt.val), err, tt.valid)
			}
		}
		if v, ok, err := tr.Get(tx, ""); ok || err != nil {
			t.Errorf("Get(\"\") = %x, %v, %v; want absent", v, ok, err)
		}
		if ok, err := tr.Delete(tx, ""); ok || err != nil {
			t.Errorf("Delete(\"\") = %v, %v; want false, nil", ok, err)
		}
		for _, bad := range []*Tree{{AEAD: tr.AEAD}, {Prefix: []byte("x/")}} {
			if err := bad.Put(tx, "k", nil); err == nil {
				t.Errorf("Put in a Tree with prefix %q and AEAD %v succeeded, want an error", bad.Prefix, bad.AEAD)
			}
			if _, _, err := bad.Get(tx, "k"); err == nil {
				t.Error("Get in an invalid Tree succeeded")
			}
			if err := bad.Drop(tx); err == nil {
				t.Error("Drop of an invalid Tree succeeded")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestScanStops(t *testing.T) {
	s := newMemStore()
	tr := &Tree{Prefix: []byte("x/"), AEAD: newAEAD("scan"), MaxNodeBytes: 128}
	keys := make([]string, 500)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%03d", i)
	}
	putAll(t, s, tr, keys)
	errStop := errors.New("stop")
	err := s.View(ctx, func(tx meta.Tx) error {
		var n int
		err := tr.Scan(tx, "k100", func(k string, _ []byte) (bool, error) {
			if n++; n == 250 {
				return false, errStop
			}
			return true, nil
		})
		if err != errStop || n != 250 {
			return fmt.Errorf("Scan whose fn fails at the 250th key = %v after %d keys, want %v (unwrapped) after 250", err, n, errStop)
		}
		n = 0
		err = tr.Scan(tx, "k4995", func(k string, _ []byte) (bool, error) { n++; return true, nil })
		if err != nil || n != 0 {
			return fmt.Errorf("Scan past the last key = %v after %d keys, want nil after 0", err, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCosts pins what each operation reads and writes, in node records.
func TestCosts(t *testing.T) {
	s := newMemStore()
	tr := &Tree{Prefix: []byte("x/"), AEAD: newAEAD("costs"), MaxNodeBytes: 1024}
	keys := make([]string, 5000)
	for i := range keys {
		keys[i] = fmt.Sprintf("dir%02d/file-%06d", i%37, i)
	}
	putAll(t, s, tr, keys)
	var st treeStats
	err := s.View(ctx, func(tx meta.Tx) (err error) { st, err = checkTree(tx, tr); return err })
	if err != nil {
		t.Fatal(err)
	}
	if st.depth < 3 {
		t.Fatalf("tree of depth %d, want at least 3", st.depth)
	}
	tests := []struct {
		name       string
		fn         func(tx meta.Tx) error
		gets, puts int // -1: at most depth
	}{
		{"get", func(tx meta.Tx) error { _, _, err := tr.Get(tx, keys[77]); return err }, st.depth, 0},
		{"get-absent", func(tx meta.Tx) error { _, _, err := tr.Get(tx, "dir05/nothing"); return err }, st.depth, 0},
		{"replace", func(tx meta.Tx) error { return tr.Put(tx, keys[77], []byte{9, 9, 9, 9}) }, st.depth, 1},
		{"replace-equal", func(tx meta.Tx) error { return tr.Put(tx, keys[77], []byte{9, 9, 9, 9}) }, st.depth, 0},
		{"delete-absent", func(tx meta.Tx) error { _, err := tr.Delete(tx, "dir05/nothing"); return err }, st.depth, 0},
		{"scan-all", func(tx meta.Tx) error { _, err := scanN(tx, tr, "", -1); return err }, st.nodes, 0},
		{"scan-20", func(tx meta.Tx) error { _, err := scanN(tx, tr, keys[1234], 20); return err }, -1, 0},
	}
	for _, tt := range tests {
		c := &countTx{}
		err := s.Update(ctx, func(tx meta.Tx) error { c.Tx = tx; return tt.fn(c) })
		if err != nil {
			t.Fatal(err)
		}
		if tt.gets == -1 {
			// Up to the leaf, then at most one more leaf and the
			// internal nodes between.
			if c.gets > 2*st.depth-1 {
				t.Errorf("%s: %d node reads, want at most %d", tt.name, c.gets, 2*st.depth-1)
			}
		} else if c.gets != tt.gets {
			t.Errorf("%s: %d node reads, want %d", tt.name, c.gets, tt.gets)
		}
		if c.puts+c.dels != tt.puts {
			t.Errorf("%s: %d node writes, want %d", tt.name, c.puts+c.dels, tt.puts)
		}
	}
}

// TestFill checks that nodes filled in ascending key order stay full (the
// append split), and that random order leaves them at least half full on
// average.
func TestFill(t *testing.T) {
	const n, max = 5000, 1024
	for _, order := range []string{"ascending", "random"} {
		t.Run("order="+order, func(t *testing.T) {
			keys := make([]string, n)
			for i := range keys {
				keys[i] = fmt.Sprintf("logs/2026/%08d.json", i)
			}
			if order == "random" {
				rand.New(rand.NewPCG(1, 1)).Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			}
			s := newMemStore()
			tr := &Tree{Prefix: []byte("x/"), AEAD: newAEAD("fill"), MaxNodeBytes: max}
			putAll(t, s, tr, keys)
			err := s.View(ctx, func(tx meta.Tx) error {
				ids, err := nodeIDs(tx, tr)
				if err != nil {
					return err
				}
				var total, count, under int
				for _, id := range ids[0] {
					n, err := tr.read(tx, id)
					if err != nil {
						return err
					}
					total += n.size()
					count++
					if n.size() < max*9/10 {
						under++
					}
				}
				fill := float64(total) / float64(count*max)
				t.Logf("%d leaves, %.0f%% full on average, %d under 90%%", count, 100*fill, under)
				switch {
				case order == "ascending" && under > 1:
					return fmt.Errorf("%d leaves under 90%% full, want only the last", under)
				case fill < 0.5:
					return fmt.Errorf("leaves %.0f%% full on average, want at least 50%%", 100*fill)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestXChaCha runs the model with XChaCha20-Poly1305, whose 24-byte random
// nonces lift the limit on seals per key that AES-GCM has: the tree takes
// the nonce size from the AEAD.
func TestXChaCha(t *testing.T) {
	aead, err := chacha20poly1305.NewX(make([]byte, chacha20poly1305.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	s := newMemStore()
	tr := &Tree{Prefix: []byte("x/"), AEAD: aead, MaxNodeBytes: 512}
	keys := markerKeys(1000)
	putAll(t, s, tr, keys)
	err = s.View(ctx, func(tx meta.Tx) error {
		st, err := checkTree(tx, tr)
		if err == nil && st.keys != len(keys) {
			err = fmt.Errorf("tree holds %d keys, want %d", st.keys, len(keys))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSmallerMaxNodeBytes opens a tree built with large nodes with a smaller
// MaxNodeBytes, as a release that lowers it does: every operation works on
// the large nodes, and each node is split to the new size when it is next
// written.
func TestSmallerMaxNodeBytes(t *testing.T) {
	for _, st := range stores {
		t.Run("store="+st.name, func(t *testing.T) {
			s := st.open(t)
			big := &Tree{Prefix: []byte("x/"), AEAD: newAEAD("shrink"), MaxNodeBytes: 8 << 10, Cache: NewNodeCache(1 << 20)}
			keys := markerKeys(3000)
			putAll(t, s, big, keys)
			small := &Tree{Prefix: big.Prefix, AEAD: big.AEAD, MaxNodeBytes: 3840, Cache: big.Cache}
			var before treeStats
			err := s.Update(ctx, func(tx meta.Tx) error {
				var err error
				if before, err = checkTree(tx, big); err != nil {
					return err
				}
				// Read, replace and delete through the large nodes.
				for i, k := range keys {
					v, ok, err := small.Get(tx, k)
					if err != nil || !ok || len(v) != 4 {
						return fmt.Errorf("Get %q = %x, %v, %v", k, v, ok, err)
					}
					if i%3 == 0 {
						if _, err := small.Delete(tx, k); err != nil {
							return err
						}
					} else if err := small.Put(tx, k, []byte("new value")); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			err = s.View(ctx, func(tx meta.Tx) error {
				after, err := checkTree(tx, small) // every node now fits 3840 bytes
				if err != nil {
					return err
				}
				if after.nodes <= before.nodes {
					t.Errorf("%d nodes of at most 3840 bytes, %d of 8 KiB before: want more", after.nodes, before.nodes)
				}
				n := 0
				err = small.Scan(tx, "", func(k string, v []byte) (bool, error) {
					if string(v) != "new value" {
						return false, fmt.Errorf("%q = %q after the rewrite", k, v)
					}
					n++
					return true, nil
				})
				if want := len(keys) - (len(keys)+2)/3; err == nil && n != want {
					t.Errorf("Scan found %d keys, want %d", n, want)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
