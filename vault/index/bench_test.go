package index

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/coffre-cloud/coffre/meta"
)

// The benchmarks run on meta/sqlite (so each Update pays an fsync) with
// DefaultMaxNodeBytes and names shaped like a photo library:
// photos/000042/IMG_00042017.jpg (31 bytes), with 9-byte values.
const benchKeys = 100_000

func benchKey(i int) string { return fmt.Sprintf("photos/%06d/IMG_%08d.jpg", i/1000, i) }

func benchVal(i int) []byte {
	return []byte{1, 0, 0, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i), 0}
}

// benchPuts puts the keys of order, 100 per Update.
func benchPuts(b *testing.B, s meta.Store, tr *Tree, order []int) {
	for len(order) > 0 {
		n := min(len(order), 100)
		err := s.Update(ctx, func(tx meta.Tx) error {
			for _, i := range order[:n] {
				if err := tr.Put(tx, benchKey(i), benchVal(i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		order = order[n:]
	}
}

func benchOrder(random bool) []int {
	order := make([]int, benchKeys)
	for i := range order {
		order[i] = i
	}
	if random {
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	return order
}

// reportShape reports the depth, node count and stored bytes per key of
// tr.
func reportShape(b *testing.B, s meta.Store, tr *Tree) {
	var st treeStats
	err := s.View(ctx, func(tx meta.Tx) (err error) { st, err = checkTree(tx, tr); return err })
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.depth), "depth")
	b.ReportMetric(float64(st.nodes), "nodes")
	b.ReportMetric(float64(st.bytes)/float64(st.keys), "B/key")
}

// filled returns a store holding a tree of benchKeys keys put in random
// order, with nodes of max bytes.
func filled(b *testing.B, max int) (meta.Store, *Tree) {
	s, _ := openSQLite(b)
	tr := &Tree{Prefix: []byte("x/bench/"), AEAD: newAEAD("bench"), MaxNodeBytes: max}
	benchPuts(b, s, tr, benchOrder(true))
	return s, tr
}

// benchSizes runs fn for the default node size and a smaller one.
func benchSizes(b *testing.B, fn func(b *testing.B, max int)) {
	for _, max := range []int{DefaultMaxNodeBytes, 4 << 10} {
		b.Run(fmt.Sprintf("max=%dKiB", max>>10), func(b *testing.B) { fn(b, max) })
	}
}

// BenchmarkPut fills a tree with 100,000 keys per iteration, in ascending
// and in random order, 100 Puts per Update, with the default node size and
// a smaller one (each Put rewrites a leaf: the smaller the node, the fewer
// bytes written per Put, the deeper the tree).
func BenchmarkPut(b *testing.B) {
	for _, max := range []int{DefaultMaxNodeBytes, 4 << 10} {
		for _, random := range []bool{false, true} {
			name := fmt.Sprintf("max=%dKiB/order=ascending", max>>10)
			if random {
				name = fmt.Sprintf("max=%dKiB/order=random", max>>10)
			}
			b.Run(name, func(b *testing.B) {
				s, _ := openSQLite(b)
				order := benchOrder(random)
				var tr *Tree
				n := 0
				for b.Loop() {
					n++
					tr = &Tree{Prefix: fmt.Appendf(nil, "x/%d/", n), AEAD: newAEAD("bench"), MaxNodeBytes: max}
					benchPuts(b, s, tr, order)
				}
				b.ReportMetric(float64(benchKeys*b.N)/b.Elapsed().Seconds(), "puts/s")
				reportShape(b, s, tr)
			})
		}
	}
}

// BenchmarkDelete empties a tree of 100,000 keys in random order, 100
// Deletes per Update.
func BenchmarkDelete(b *testing.B) {
	s, _ := openSQLite(b)
	order := benchOrder(true)
	n := 0
	for b.Loop() {
		b.StopTimer()
		n++
		tr := &Tree{Prefix: fmt.Appendf(nil, "x/%d/", n), AEAD: newAEAD("bench")}
		benchPuts(b, s, tr, order)
		b.StartTimer()
		for o := order; len(o) > 0; o = o[min(len(o), 100):] {
			err := s.Update(ctx, func(tx meta.Tx) error {
				for _, i := range o[:min(len(o), 100)] {
					if ok, err := tr.Delete(tx, benchKey(i)); err != nil || !ok {
						return fmt.Errorf("Delete = %v, %v", ok, err)
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(benchKeys*b.N)/b.Elapsed().Seconds(), "deletes/s")
}

// BenchmarkGet reads random keys of a tree of 100,000, one View each (as a
// HEAD request would), and reports the node reads per Get.
func BenchmarkGet(b *testing.B) {
	benchSizes(b, func(b *testing.B, max int) {
		s, tr := filled(b, max)
		r := rand.New(rand.NewPCG(3, 4))
		var reads int
		for b.Loop() {
			i := r.IntN(benchKeys)
			err := s.View(ctx, func(tx meta.Tx) error {
				c := &countTx{Tx: tx}
				v, ok, err := tr.Get(c, benchKey(i))
				if err == nil && (!ok || string(v) != string(benchVal(i))) {
					err = fmt.Errorf("Get = %x, %v", v, ok)
				}
				reads += c.gets
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
		b.ReportMetric(float64(reads)/float64(b.N), "reads/get")
		reportShape(b, s, tr)
	})
}

// BenchmarkScan reads the 100,000 keys of a tree in order, in one View.
func BenchmarkScan(b *testing.B) {
	benchSizes(b, func(b *testing.B, max int) {
		s, tr := filled(b, max)
		var reads int
		for b.Loop() {
			err := s.View(ctx, func(tx meta.Tx) error {
				c := &countTx{Tx: tx}
				n := 0
				err := tr.Scan(c, "", func(string, []byte) (bool, error) { n++; return true, nil })
				if err == nil && n != benchKeys {
					err = fmt.Errorf("Scan saw %d keys, want %d", n, benchKeys)
				}
				reads += c.gets
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(benchKeys*b.N)/b.Elapsed().Seconds(), "keys/s")
		b.ReportMetric(float64(reads)/float64(b.N), "reads/scan")
	})
}

// BenchmarkScanPage reads a page of 1,000 keys from a random key, in its
// own View: a ListObjectsV2 call without delimiter.
func BenchmarkScanPage(b *testing.B) {
	benchSizes(b, func(b *testing.B, max int) {
		s, tr := filled(b, max)
		r := rand.New(rand.NewPCG(5, 6))
		for b.Loop() {
			from := benchKey(r.IntN(benchKeys - 1000))
			err := s.View(ctx, func(tx meta.Tx) error {
				n := 0
				return tr.Scan(tx, from, func(string, []byte) (bool, error) { n++; return n < 1000, nil })
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
	})
}
