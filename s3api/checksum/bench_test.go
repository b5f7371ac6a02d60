package checksum

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkChecksumReader reads 16 MiB through a Reader in 64 KiB reads,
// per algorithm, and with Content-MD5 alone.
func BenchmarkChecksumReader(b *testing.B) {
	data := make([]byte, 16<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	buf := make([]byte, 64<<10)
	run := func(b *testing.B, s Spec) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		src := bytes.NewReader(data)
		for b.Loop() {
			src.Reset(data)
			r := NewReader(src, s, nil)
			if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{r}, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, a := range Algorithms() {
		b.Run("alg="+string(a), func(b *testing.B) { run(b, Spec{Algorithm: a}) })
	}
	b.Run("alg=MD5", func(b *testing.B) {
		h := digestMD5(data)
		run(b, Spec{ContentMD5: h})
	})
}
