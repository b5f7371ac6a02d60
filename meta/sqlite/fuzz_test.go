package sqlite

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"slices"
	"testing"

	"github.com/coffre-cloud/coffre/meta"
)

// FuzzKeyOrder stores fuzzed keys and checks Get, and Scan's order and
// bounds, against bytes.Compare: SQLite must compare the BLOBs as raw bytes
// whatever they hold (0x00, 0xff, one a prefix of another, invalid UTF-8).
func FuzzKeyOrder(f *testing.F) {
	f.Add([]byte("a"), []byte("a\x00"), []byte("a\xff"), []byte("a"))
	f.Add([]byte(""), []byte("\x00"), []byte("\xff\xff"), []byte("\x00\x00"))
	f.Add([]byte("\x7f"), []byte("\x80"), []byte("\xc3\xa9"), []byte("\x80"))
	f.Add([]byte("B"), []byte("a"), []byte("b"), []byte("Z"))
	s, err := Open(filepath.Join(f.TempDir(), "meta.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	var iteration uint64
	f.Fuzz(func(t *testing.T, k1, k2, k3, start []byte) {
		// Each iteration works under a prefix of its own in the shared
		// store; the prefix adds the same bytes to every key, which
		// changes no comparison between them.
		iteration++
		prefix := binary.BigEndian.AppendUint64([]byte("fuzz/"), iteration)
		key := func(k []byte) []byte { return append(slices.Clip(prefix), k...) }
		suffixes := [][]byte{k1, k2, k3}
		err := s.Update(ctx, func(tx meta.Tx) error {
			for i, k := range suffixes {
				if err := tx.Put(key(k), []byte{byte(i)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The oracle: distinct suffixes in bytewise order; a later Put of
		// an equal key wins.
		want := map[string]byte{}
		for i, k := range suffixes {
			want[string(k)] = byte(i)
		}
		var sorted [][]byte
		for k := range want {
			sorted = append(sorted, []byte(k))
		}
		slices.SortFunc(sorted, bytes.Compare)

		err = s.View(ctx, func(tx meta.Tx) error {
			for k, v := range want {
				got, err := tx.Get(key([]byte(k)))
				if err != nil || len(got) != 1 || got[0] != v {
					t.Errorf("Get(%q) = %v, %v; want [%d]", k, got, err, v)
				}
			}
			for _, from := range [][]byte{nil, start} {
				var got [][]byte
				err := tx.Scan(key(from), meta.PrefixEnd(prefix), func(k, v []byte) (bool, error) {
					got = append(got, bytes.Clone(k[len(prefix):]))
					return true, nil
				})
				if err != nil {
					return err
				}
				var w [][]byte
				for _, k := range sorted {
					if bytes.Compare(k, from) >= 0 {
						w = append(w, k)
					}
				}
				if !slices.EqualFunc(got, w, bytes.Equal) {
					t.Errorf("Scan from %q visited %q, want %q", from, got, w)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
