package backendtest

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
)

// benchSizes are the object sizes the S3 benchmarks of DESIGN.md use.
var benchSizes = []struct {
	name string
	size int
}{
	{"4KiB", 4 << 10},
	{"1MiB", 1 << 20},
	{"64MiB", 64 << 20},
}

// Bench runs BenchPut, BenchGet and BenchPutConcurrent as sub-benchmarks.
func Bench(b *testing.B, o Opts) {
	b.Run("Put", func(b *testing.B) { BenchPut(b, o) })
	b.Run("Get", func(b *testing.B) { BenchGet(b, o) })
	b.Run("PutConcurrent", func(b *testing.B) { BenchPutConcurrent(b, o) })
}

// BenchPut measures sequential Puts of 4 KiB, 1 MiB and 64 MiB, reporting
// bytes/s (through b.SetBytes) and ops/s. Small blobs get fresh names, as the
// vault's do; blobs of 64 MiB replace one of four names, so that a run does
// not fill the disk.
func BenchPut(b *testing.B, o Opts) {
	for _, bs := range benchSizes {
		b.Run("size="+bs.name, func(b *testing.B) { benchPut(b, o, bs.size, 1) })
	}
}

// BenchPutConcurrent measures 4 KiB Puts issued by 1, 4 and 16 goroutines:
// the case where per-blob durability costs the most, and where a store can
// share it between concurrent writes.
func BenchPutConcurrent(b *testing.B, o Opts) {
	for _, c := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("size=4KiB/conc=%d", c), func(b *testing.B) { benchPut(b, o, 4<<10, c) })
	}
}

// BenchGet measures whole-blob Gets of 4 KiB, 1 MiB and 64 MiB, read through
// Read with a 256 KiB buffer as the vault's decrypting reader does.
func BenchGet(b *testing.B, o Opts) {
	for _, bs := range benchSizes {
		b.Run("size="+bs.name, func(b *testing.B) { benchGet(b, o, bs.size) })
	}
}

// benchName spreads names over the 256 fan-out directories the vault uses.
func benchName(i int64, size int) string {
	if size >= 16<<20 {
		i %= 4
	}
	h := uint64(i+1) * 0x9e3779b97f4a7c15
	return fmt.Sprintf("obj/%02x/%016x%016x", h>>56, h, uint64(i))
}

func benchPut(b *testing.B, o Opts, size, conc int) {
	s := o.New(b)
	data := content(1, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	b.ResetTimer()
	for range conc {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				err := s.Put(b.Context(), benchName(i, size), bytes.NewReader(data), int64(size))
				if err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if first != nil {
		b.Fatalf("Put = %v", first)
	}
	reportOps(b)
}

func benchGet(b *testing.B, o Opts, size int) {
	s := o.New(b)
	const blobs = 16
	for i := range int64(blobs) {
		if err := s.Put(b.Context(), benchName(i, 0), bytes.NewReader(content(uint64(i), size)), int64(size)); err != nil {
			b.Fatalf("Put = %v", err)
		}
	}
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		rc, err := s.Get(b.Context(), benchName(int64(i%blobs), 0), 0, -1)
		if err != nil {
			b.Fatalf("Get = %v", err)
		}
		n, err := drain(rc, buf)
		rc.Close()
		if err != nil || n != int64(size) {
			b.Fatalf("reading Get = %d bytes, %v; want %d bytes", n, err, size)
		}
	}
	b.StopTimer()
	reportOps(b)
}

// drain reads r to its end with Read only, so that the figure is the one a
// consumer that transforms the bytes sees (no WriterTo shortcut).
func drain(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func reportOps(b *testing.B) {
	if sec := b.Elapsed().Seconds(); sec > 0 {
		b.ReportMetric(float64(b.N)/sec, "ops/s")
	}
}
