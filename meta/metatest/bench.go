package metatest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/meta"
)

// benchValue is the size of a typical record of the vault (an object
// version: names, sizes, ETag, wrapped key, placement).
const benchValue = 256

// Bench runs the benchmarks of the operations on the S3 hot path against
// stores made by o.New:
//
//   - Get: one View with one point read, among 10,000 keys (a GET does two).
//   - Update/goroutines=N: one small Put per Update, from N goroutines at
//     once; N=1 is a lone writer, the others show how commits are shared
//     (a PUT does one such Update). They report ops/s.
//   - Scan/keys=1000: one View scanning a prefix of 1,000 keys (a listing
//     page), in the middle of other keys.
func Bench(b *testing.B, o Opts) {
	b.Run("Get", func(b *testing.B) { benchGet(b, o) })
	b.Run("Update", func(b *testing.B) {
		for _, n := range []int{1, 4, 16, 64} {
			b.Run(fmt.Sprintf("goroutines=%d", n), func(b *testing.B) { benchUpdate(b, o, n) })
		}
	})
	b.Run("Scan/keys=1000", func(b *testing.B) { benchScan(b, o) })
}

func benchKey(prefix string, i int) []byte {
	return fmt.Appendf(nil, "%s/%08d", prefix, i)
}

// fill puts n keys prefix/00000000... in Updates of 1,000.
func fill(b *testing.B, s meta.Store, prefix string, n int) {
	b.Helper()
	v := make([]byte, benchValue)
	for i := 0; i < n; i += 1000 {
		err := s.Update(ctx, func(tx meta.Tx) error {
			for j := i; j < min(i+1000, n); j++ {
				if err := tx.Put(benchKey(prefix, j), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("fill: %v", err)
		}
	}
}

func benchGet(b *testing.B, o Opts) {
	h := newHarness(b, o)
	const n = 10000
	fill(b, h.s, "obj", n)
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = benchKey("obj", (i*7919)%n) // not in key order
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := keys[i%n]
		i++
		err := h.s.View(ctx, func(tx meta.Tx) error {
			v, err := tx.Get(k)
			if err == nil && len(v) != benchValue {
				err = fmt.Errorf("Get(%q) = %d bytes, want %d", k, len(v), benchValue)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchUpdate(b *testing.B, o Opts, goroutines int) {
	h := newHarness(b, o)
	v := make([]byte, benchValue)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				k := benchKey("obj", int(i))
				err := h.s.Update(ctx, func(tx meta.Tx) error { return tx.Put(k, v) })
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}

func benchScan(b *testing.B, o Opts) {
	h := newHarness(b, o)
	fill(b, h.s, "a", 2000)
	fill(b, h.s, "list", 1000)
	fill(b, h.s, "z", 2000)
	prefix := []byte("list/")
	end := meta.PrefixEnd(prefix)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		err := h.s.View(ctx, func(tx meta.Tx) error {
			n = 0
			return tx.Scan(prefix, end, func(k, v []byte) (bool, error) {
				n++
				return true, nil
			})
		})
		if err != nil {
			b.Fatal(err)
		}
		if n != 1000 {
			b.Fatalf("Scan visited %d keys, want 1000", n)
		}
	}
}
