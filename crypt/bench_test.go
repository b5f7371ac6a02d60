package crypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"io"
	"testing"
)

// The stream benchmarks are read against BenchmarkRawGCM, which seals and
// opens the same 64 KiB chunks with cipher.AEAD into preallocated buffers:
// the cost of AES-256-GCM itself, without a format. The Read* variants of the
// raw benchmark add the copy from an io.Reader that any streaming
// implementation pays when its input is a reader (an HTTP body, a file).

const benchSize = 64 << 20

var benchPlain = testPlaintext(benchSize, 42)

func BenchmarkSeal64MiB(b *testing.B) {
	b.Run("Write", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			w, _ := NewWriter(io.Discard, testDEK, testAD)
			w.Write(benchPlain)
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Write1MiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			w, _ := NewWriter(io.Discard, testDEK, testAD)
			for p := benchPlain; len(p) > 0; p = p[1<<20:] {
				w.Write(p[:1<<20])
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadFrom", func(b *testing.B) {
		b.SetBytes(benchSize)
		src := bytes.NewReader(benchPlain)
		for b.Loop() {
			src.Reset(benchPlain)
			w, _ := NewWriter(io.Discard, testDEK, testAD)
			if _, err := io.Copy(w, onlyReader{src}); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkOpen64MiB(b *testing.B) {
	blob := seal(b, testDEK, testAD, benchPlain, testSalt("bench"))
	src := bytes.NewReader(blob)
	b.Run("WriteTo", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			src.Reset(blob)
			r, err := NewReader(src, testDEK, testAD)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Read1MiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		p := make([]byte, 1<<20)
		for b.Loop() {
			src.Reset(blob)
			r, _ := NewReader(src, testDEK, testAD)
			for {
				if _, err := r.Read(p); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("Range", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			src.Reset(blob)
			r, err := NewRangeReader(src, testDEK, testAD, nil, 0, benchSize, benchSize)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadAt1MiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		ra, _ := NewReaderAt(src, int64(len(blob)), testDEK, testAD)
		p := make([]byte, 1<<20)
		for b.Loop() {
			for off := int64(0); off < benchSize; off += int64(len(p)) {
				if _, err := ra.ReadAt(p, off); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

func BenchmarkRawGCM(b *testing.B) {
	block, _ := aes.NewCipher(testDEK)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	const chunks = benchSize / ChunkSize
	sealed := make([]byte, chunks*encChunkSize)
	for i := range chunks {
		aead.Seal(sealed[i*encChunkSize:i*encChunkSize], nonce, benchPlain[i*ChunkSize:(i+1)*ChunkSize], nil)
	}
	out := make([]byte, encChunkSize)
	b.Run("Seal", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			for i := range chunks {
				aead.Seal(out[:0], nonce, benchPlain[i*ChunkSize:(i+1)*ChunkSize], nil)
			}
		}
	})
	b.Run("Open", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			for i := range chunks {
				if _, err := aead.Open(out[:0], nonce, sealed[i*encChunkSize:(i+1)*encChunkSize], nil); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("ReadSeal", func(b *testing.B) {
		b.SetBytes(benchSize)
		src := bytes.NewReader(benchPlain)
		for b.Loop() {
			src.Reset(benchPlain)
			for range chunks {
				io.ReadFull(src, out[:ChunkSize])
				aead.Seal(out[:0], nonce, out[:ChunkSize], nil)
			}
		}
	})
	b.Run("ReadOpen", func(b *testing.B) {
		b.SetBytes(benchSize)
		src := bytes.NewReader(sealed)
		for b.Loop() {
			src.Reset(sealed)
			for range chunks {
				io.ReadFull(src, out)
				if _, err := aead.Open(out[:0], nonce, out, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkSmall measures the per-object cost (key derivation, AES key
// schedule, buffers) on a 4 KiB object, the size of small-PUT benchmarks.
func BenchmarkSmall(b *testing.B) {
	pt := benchPlain[:4096]
	blob := seal(b, testDEK, testAD, pt, testSalt("small"))
	b.Run("Seal4KiB", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		b.ReportAllocs()
		for b.Loop() {
			w, _ := NewWriter(io.Discard, testDEK, testAD)
			w.Write(pt)
			w.Close()
		}
	})
	b.Run("Open4KiB", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		b.ReportAllocs()
		src := bytes.NewReader(blob)
		for b.Loop() {
			src.Reset(blob)
			r, _ := NewReader(src, testDEK, testAD)
			io.Copy(io.Discard, r)
		}
	})
}
