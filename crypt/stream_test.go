package crypt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/iotest"
)

const k = 4099 // an odd remainder for 2·ChunkSize+k

// boundarySizes are the plaintext sizes every path is tested on.
var boundarySizes = []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 2*ChunkSize + k, 5<<20 + 3}

var writeStepSizes = []int{1, 7, 4096, ChunkSize, ChunkSize + 1, -1} // -1: the whole plaintext in one Write

var readStepSizes = []int{1, 7, 4096, ChunkSize - 1, ChunkSize, ChunkSize + 1, encChunkSize + 1, -1}

func TestSizes(t *testing.T) {
	for _, tc := range []struct{ plain, cipher int64 }{
		{0, HeaderSize + TagSize},
		{1, HeaderSize + 1 + TagSize},
		{ChunkSize - 1, HeaderSize + ChunkSize - 1 + TagSize},
		{ChunkSize, HeaderSize + ChunkSize + TagSize},
		{ChunkSize + 1, HeaderSize + ChunkSize + 1 + 2*TagSize},
		{2 * ChunkSize, HeaderSize + 2*ChunkSize + 2*TagSize},
		{MaxPlaintextSize, HeaderSize + MaxPlaintextSize + MaxPlaintextSize/ChunkSize*TagSize},
	} {
		if got := CiphertextSize(tc.plain); got != tc.cipher {
			t.Errorf("CiphertextSize(%d) = %d, want %d", tc.plain, got, tc.cipher)
		}
		if got, err := PlaintextSize(tc.cipher); err != nil || got != tc.plain {
			t.Errorf("PlaintextSize(%d) = %d, %v, want %d", tc.cipher, got, err, tc.plain)
		}
	}
	// Every blob size up to a few chunks is either the image of exactly one
	// plaintext size or impossible.
	seen := map[int64]bool{}
	for p := int64(0); p <= 3*ChunkSize+2; p++ {
		seen[CiphertextSize(p)] = true
	}
	for c := int64(0); c <= CiphertextSize(3*ChunkSize+2); c++ {
		p, err := PlaintextSize(c)
		switch {
		case seen[c] && (err != nil || CiphertextSize(p) != c):
			t.Fatalf("PlaintextSize(%d) = %d, %v; want the inverse of CiphertextSize", c, p, err)
		case !seen[c] && !errors.Is(err, ErrIntegrity):
			t.Fatalf("PlaintextSize(%d) = %d, %v; want ErrIntegrity for an impossible size", c, p, err)
		}
	}
	for _, bad := range []int64{-1, MaxPlaintextSize + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("CiphertextSize(%d) did not panic", bad)
				}
			}()
			CiphertextSize(bad)
		}()
	}
}

// TestBoundaries runs every write path and every read path over the boundary
// sizes. The writer is deterministic given a salt, so each write path must
// produce the reference blob byte for byte, and each read path decrypts that
// blob: every (write step, read step) pair is thereby covered.
func TestBoundaries(t *testing.T) {
	for _, size := range boundarySizes {
		if testing.Short() && size > 3*ChunkSize {
			continue
		}
		pt := testPlaintext(size, uint64(size))
		salt := testSalt("boundary")
		ref := seal(t, testDEK, testAD, pt, salt)
		if got, want := int64(len(ref)), CiphertextSize(int64(size)); got != want {
			t.Fatalf("size=%d: blob is %d bytes, CiphertextSize says %d", size, got, want)
		}

		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			for _, step := range writeStepSizes {
				if step < 0 {
					step = max(size, 1)
				}
				var b bytes.Buffer
				w, _ := newWriter(&b, testDEK, testAD, salt)
				if err := writeSteps(w, pt, step); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b.Bytes(), ref) {
					t.Errorf("write step=%d: blob differs from the reference", step)
				}
			}
			for name, src := range map[string]func() io.Reader{
				"ReadFrom":            func() io.Reader { return onlyReader{bytes.NewReader(pt)} },
				"ReadFrom/half":       func() io.Reader { return iotest.HalfReader(bytes.NewReader(pt)) },
				"ReadFrom/dataerr":    func() io.Reader { return iotest.DataErrReader(bytes.NewReader(pt)) },
				"ReadFrom/one-byte":   func() io.Reader { return iotest.OneByteReader(bytes.NewReader(pt)) },
				"ReadFrom/then-Write": func() io.Reader { return io.LimitReader(bytes.NewReader(pt), int64(size/2)) },
			} {
				var b bytes.Buffer
				w, _ := newWriter(&b, testDEK, testAD, salt)
				n, err := io.Copy(w, src())
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if name == "ReadFrom/then-Write" {
					if _, err := w.Write(pt[n:]); err != nil {
						t.Fatal(err)
					}
				} else if n != int64(size) {
					t.Fatalf("%s: copied %d bytes, want %d", name, n, size)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b.Bytes(), ref) {
					t.Errorf("%s: blob differs from the reference", name)
				}
			}

			// Sequential reads, with several sources.
			for _, step := range readStepSizes {
				if step < 0 {
					step = size + 1
				}
				for name, src := range map[string]io.Reader{
					"plain":    bytes.NewReader(ref),
					"one-byte": iotest.OneByteReader(bytes.NewReader(ref)),
					"half":     iotest.HalfReader(bytes.NewReader(ref)),
					"dataerr":  iotest.DataErrReader(bytes.NewReader(ref)),
				} {
					if name == "one-byte" && size > 3*ChunkSize && step < ChunkSize {
						continue // covered at the smaller sizes; slow here
					}
					r, err := NewReader(src, testDEK, testAD)
					if err != nil {
						t.Fatal(err)
					}
					got, err := readSteps(r, step)
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("read step=%d src=%s: %d bytes, err %v, equal %v", step, name, len(got), err, bytes.Equal(got, pt))
					}
				}
			}
			r, _ := NewReader(onlyReader{bytes.NewReader(ref)}, testDEK, testAD)
			var got bytes.Buffer
			if _, err := io.Copy(onlyWriter{&got}, r); err != nil || !bytes.Equal(got.Bytes(), pt) {
				t.Fatalf("WriteTo: err %v, equal %v", err, bytes.Equal(got.Bytes(), pt))
			}
			if size <= 3*ChunkSize {
				r, _ := NewReader(bytes.NewReader(ref), testDEK, testAD)
				if err := iotest.TestReader(r, pt); err != nil {
					t.Fatalf("iotest.TestReader(Reader): %v", err)
				}
			}

			// Random access.
			ra, err := NewReaderAt(bytes.NewReader(ref), int64(len(ref)), testDEK, testAD)
			if err != nil {
				t.Fatal(err)
			}
			if ra.Size() != int64(size) {
				t.Fatalf("ReaderAt.Size() = %d, want %d", ra.Size(), size)
			}
			if size <= ChunkSize+1 { // it reads byte by byte: a chunk decryption each
				if err := iotest.TestReader(io.NewSectionReader(ra, 0, ra.Size()), pt); err != nil {
					t.Fatalf("iotest.TestReader(ReaderAt): %v", err)
				}
			}
			rng := rand.New(rand.NewPCG(uint64(size), 1))
			for range 300 {
				off := rng.Int64N(int64(size) + 2)
				n := rng.IntN(3*ChunkSize + 1)
				if rng.IntN(4) == 0 {
					n = rng.IntN(64)
				}
				checkReadAt(t, ra, pt, off, n)
			}
			for _, off := range boundaryOffsets(size) {
				for _, n := range boundaryOffsets(size) {
					checkReadAt(t, ra, pt, off, int(n))
				}
			}

			// Ranges over a backend.
			hdr := ref[:HeaderSize]
			for _, off := range boundaryOffsets(size) {
				for _, n := range boundaryOffsets(size) {
					checkRange(t, ref, hdr, pt, off, n)
				}
			}
		})
	}
}

// boundaryOffsets lists offsets and lengths around every chunk edge.
func boundaryOffsets(size int) []int64 {
	set := map[int64]bool{0: true, 1: true, int64(size): true, int64(size) + 1: true}
	if size > 0 {
		set[int64(size-1)] = true
	}
	for e := int64(ChunkSize); e <= int64(size)+ChunkSize && e <= 3*ChunkSize; e += ChunkSize {
		set[e-1], set[e], set[e+1] = true, true, true
	}
	var out []int64
	for o := range set {
		out = append(out, o)
	}
	return out
}

func checkReadAt(t *testing.T, ra *ReaderAt, pt []byte, off int64, n int) {
	t.Helper()
	p := make([]byte, n)
	got, err := ra.ReadAt(p, off)
	var want []byte
	if off < int64(len(pt)) {
		want = pt[off:min(off+int64(n), int64(len(pt)))]
	}
	wantErr := error(nil)
	if len(want) < n || off >= int64(len(pt)) {
		wantErr = io.EOF
	}
	if got != len(want) || !bytes.Equal(p[:got], want) || err != wantErr {
		t.Fatalf("ReadAt(%d bytes, off %d) = %d, %v; want %d, %v (equal %v)", n, off, got, err, len(want), wantErr, bytes.Equal(p[:got], want))
	}
}

func checkRange(t *testing.T, blob, hdr, pt []byte, off, n int64) {
	t.Helper()
	size := int64(len(pt))
	var want []byte
	if off < size {
		want = pt[off:min(off+n, size)]
	}
	cOff, cLen := CipherRange(off, n, size)
	if len(want) == 0 {
		if cLen != 0 {
			t.Fatalf("CipherRange(%d, %d, %d) = %d, %d; want nothing to fetch", off, n, size, cOff, cLen)
		}
	} else {
		first, last := off/ChunkSize, (off+int64(len(want))-1)/ChunkSize
		wantOff := int64(HeaderSize) + first*encChunkSize
		wantEnd := min(int64(HeaderSize)+(last+1)*encChunkSize, int64(len(blob)))
		if cOff != wantOff || cOff+cLen != wantEnd {
			t.Fatalf("CipherRange(%d, %d, %d) = [%d, %d), want [%d, %d)", off, n, size, cOff, cOff+cLen, wantOff, wantEnd)
		}
	}
	for _, mode := range []string{"exact", "trailing", "no-header", "one-byte"} {
		var src io.Reader
		h := hdr
		switch mode {
		case "exact":
			src = bytes.NewReader(blob[cOff : cOff+cLen])
		case "trailing":
			src = bytes.NewReader(blob[cOff:])
		case "no-header":
			src, h = bytes.NewReader(blob), nil
		case "one-byte":
			src = iotest.OneByteReader(bytes.NewReader(blob[cOff : cOff+cLen]))
		}
		r, err := NewRangeReader(src, testDEK, testAD, h, off, n, size)
		if err != nil {
			t.Fatalf("NewRangeReader(off %d, n %d, %s): %v", off, n, mode, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("RangeReader(off %d, n %d, %s): %d bytes, %v; want %d bytes (equal %v)", off, n, mode, len(got), err, len(want), bytes.Equal(got, want))
		}
		if mode == "exact" {
			r, _ := NewRangeReader(bytes.NewReader(blob[cOff:cOff+cLen]), testDEK, testAD, h, off, n, size)
			var b bytes.Buffer
			if _, err := io.Copy(onlyWriter{&b}, r); err != nil || !bytes.Equal(b.Bytes(), want) {
				t.Fatalf("RangeReader.WriteTo(off %d, n %d): %v (equal %v)", off, n, err, bytes.Equal(b.Bytes(), want))
			}
		}
	}
}

// ReaderAt is an io.ReaderAt: concurrent calls are allowed (run with -race).
func TestReaderAtConcurrent(t *testing.T) {
	pt := testPlaintext(5*ChunkSize+k, 3)
	blob := seal(t, testDEK, testAD, pt, testSalt("concurrent"))
	ra, err := NewReaderAt(bytes.NewReader(blob), int64(len(blob)), testDEK, testAD)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for range 50 {
				off, n := rng.Int64N(int64(len(pt))), rng.IntN(2*ChunkSize)
				p := make([]byte, n)
				m, err := ra.ReadAt(p, off)
				if (err != nil && err != io.EOF) || !bytes.Equal(p[:m], pt[off:off+int64(m)]) {
					t.Errorf("ReadAt(%d, %d) = %d, %v", n, off, m, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestWriterAfterClose(t *testing.T) {
	w, _ := NewWriter(io.Discard, testDEK, nil)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after--; f.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriterErrorIsSticky(t *testing.T) {
	w, _ := NewWriter(&failWriter{after: 1}, testDEK, nil)
	pt := make([]byte, 3*ChunkSize)
	if _, err := w.Write(pt); err == nil {
		t.Fatal("Write succeeded past a failing destination")
	}
	if _, err := w.Write(pt[:1]); err == nil {
		t.Error("Write succeeded after a failure")
	}
	if err := w.Close(); err == nil {
		t.Error("Close succeeded after a failure")
	}
}

func TestBadArguments(t *testing.T) {
	if _, err := NewWriter(io.Discard, testDEK[:16], nil); err == nil {
		t.Error("NewWriter accepted a 16-byte key")
	}
	blob := seal(t, testDEK, nil, []byte("x"), testSalt("x"))
	if _, err := NewReader(bytes.NewReader(blob), testDEK[:31], nil); err == nil || errors.Is(err, ErrIntegrity) {
		t.Errorf("NewReader with a short key: %v, want a key size error", err)
	}
	if _, err := NewRangeReader(bytes.NewReader(blob), testDEK, nil, nil, -1, 1, 1); err == nil {
		t.Error("NewRangeReader accepted a negative offset")
	}
	ra, _ := NewReaderAt(bytes.NewReader(blob), int64(len(blob)), testDEK, nil)
	if _, err := ra.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("ReadAt accepted a negative offset")
	}
	if err := CheckHeader(blob[:HeaderSize], testDEK); err != nil {
		t.Errorf("CheckHeader(genuine) = %v", err)
	}
	if err := CheckHeader(blob[:HeaderSize], make([]byte, KeySize)); !errors.Is(err, ErrIntegrity) {
		t.Errorf("CheckHeader(wrong key) = %v, want ErrIntegrity", err)
	}
}

// An I/O error of the source is returned as such, not as tampering.
func TestReaderSourceError(t *testing.T) {
	blob := seal(t, testDEK, testAD, testPlaintext(3*ChunkSize, 1), testSalt("io"))
	boom := errors.New("connection reset")
	src := io.MultiReader(bytes.NewReader(blob[:HeaderSize+ChunkSize]), iotest.ErrReader(boom))
	r, err := NewReader(src, testDEK, testAD)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	if !errors.Is(err, boom) || errors.Is(err, ErrIntegrity) {
		t.Errorf("ReadAll = %v, want the source's error", err)
	}
}

// TestNoPerChunkAllocation checks that, once warm, the cost in allocations
// of a stream does not grow with its length.
func TestNoPerChunkAllocation(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("coverage and the race detector change allocations")
	}
	small, large := testPlaintext(ChunkSize/2, 1), testPlaintext(40*ChunkSize+5, 2)
	blobs := map[int][]byte{}
	for _, p := range [][]byte{small, large} {
		blobs[len(p)] = seal(t, testDEK, testAD, p, testSalt("alloc"))
	}
	measure := func(name string, f func(p []byte)) {
		a, b := testing.AllocsPerRun(20, func() { f(small) }), testing.AllocsPerRun(20, func() { f(large) })
		if a != b {
			t.Errorf("%s: %v allocations for 1 chunk, %v for 41", name, a, b)
		}
	}
	measure("Write", func(p []byte) {
		w, _ := NewWriter(io.Discard, testDEK, testAD)
		w.Write(p)
		w.Close()
	})
	measure("ReadFrom", func(p []byte) {
		w, _ := NewWriter(io.Discard, testDEK, testAD)
		w.ReadFrom(onlyReader{bytes.NewReader(p)})
		w.Close()
	})
	measure("WriteTo", func(p []byte) {
		r, _ := NewReader(bytes.NewReader(blobs[len(p)]), testDEK, testAD)
		r.WriteTo(io.Discard)
	})
	buf := make([]byte, 3*ChunkSize)
	measure("Read", func(p []byte) {
		r, _ := NewReader(bytes.NewReader(blobs[len(p)]), testDEK, testAD)
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
		}
	})
	measure("ReadAt", func(p []byte) {
		blob := blobs[len(p)]
		ra, _ := NewReaderAt(bytes.NewReader(blob), int64(len(blob)), testDEK, testAD)
		for off := int64(0); off < ra.Size(); off += int64(len(buf)) {
			ra.ReadAt(buf, off)
		}
	})
}
