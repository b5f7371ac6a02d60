package crypt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// FuzzReader decrypts arbitrary blobs under the test key and context (seeded
// with the small vectors that use them, in testdata/fuzz/FuzzReader; the
// multi-chunk ones are left out because the fuzzer minimizes a 64 KiB input
// for a minute, and FuzzTamper covers multi-chunk streams). Every reader
// must either fail with ErrIntegrity or succeed; the readers must agree; what
// they release before failing must agree; and a blob that decrypts must be
// exactly what the Writer produces for that plaintext and salt (there is one
// valid blob per plaintext, salt, key and context).
func FuzzReader(f *testing.F) {
	f.Add(seal(f, testDEK, testAD, []byte("seed"), testSalt("fuzz")))
	f.Add(seal(f, testDEK, testAD, nil, testSalt("fuzz")))
	f.Fuzz(func(t *testing.T, blob []byte) {
		got, err := openSeq(blob, testDEK, testAD)
		if err != nil && !errors.Is(err, ErrIntegrity) {
			t.Fatalf("Reader: %v, want ErrIntegrity", err)
		}
		if err == nil {
			again := seal(t, testDEK, testAD, got, blob[headerPrefixSize:headerPrefixSize+saltSize])
			if !bytes.Equal(again, blob) {
				t.Fatalf("a %d-byte blob decrypted but is not what the Writer makes", len(blob))
			}
		}
		seqOK := err == nil

		ra, err := NewReaderAt(bytes.NewReader(blob), int64(len(blob)), testDEK, testAD)
		if err != nil {
			if !errors.Is(err, ErrIntegrity) || seqOK {
				t.Fatalf("NewReaderAt: %v; Reader succeeded: %v", err, seqOK)
			}
		} else {
			p := make([]byte, ra.Size())
			n, err := ra.ReadAt(p, 0)
			if err != nil && !errors.Is(err, ErrIntegrity) && err != io.EOF {
				t.Fatalf("ReadAt: %v", err)
			}
			if (err == nil || err == io.EOF) != seqOK {
				t.Fatalf("ReadAt: %v; Reader succeeded: %v", err, seqOK)
			}
			if m := min(n, len(got)); !bytes.Equal(p[:m], got[:m]) {
				t.Fatal("ReaderAt and Reader released different bytes")
			}
			if ra.Size() > 2 {
				off := ra.Size() / 3
				q := make([]byte, ra.Size()/2)
				n, err := ra.ReadAt(q, off)
				if err != nil && !errors.Is(err, ErrIntegrity) {
					t.Fatalf("ReadAt(off %d): %v", off, err)
				}
				if seqOK && (err != nil || !bytes.Equal(q[:n], got[off:off+int64(n)])) {
					t.Fatalf("ReadAt(off %d) of a valid blob: %v", off, err)
				}
			}
		}

		if size, err := PlaintextSize(int64(len(blob))); err == nil {
			r, err := NewRangeReader(bytes.NewReader(blob), testDEK, testAD, nil, size/2, size, size)
			if err == nil {
				var out []byte
				out, err = io.ReadAll(r)
				if seqOK && !bytes.Equal(out, got[size/2:]) {
					t.Fatal("RangeReader of a valid blob returned other bytes")
				}
			}
			if err != nil && (!errors.Is(err, ErrIntegrity) || seqOK) {
				t.Fatalf("RangeReader: %v; Reader succeeded: %v", err, seqOK)
			}
		} else if seqOK {
			t.Fatalf("a blob that decrypts has an impossible size: %v", err)
		}
	})
}

type roundTripSeed struct {
	data               []byte
	size, wstep, rstep uint32
	ad                 []byte
}

var roundTripSeeds = []roundTripSeed{
	{nil, 0, 0, 0, nil},
	{[]byte("x"), 1, 0, 0, []byte("ad")},
	{[]byte("abc"), ChunkSize - 1, 4095, 6, testAD},
	{[]byte("abcd"), ChunkSize, ChunkSize - 1, ChunkSize - 1, testAD},
	{[]byte("abcde"), ChunkSize + 1, ChunkSize, ChunkSize, nil},
	{[]byte("0123456789"), 2*ChunkSize + k, 6, encChunkSize, testAD},
}

// FuzzRoundTrip seals size bytes (data repeated) in writes of wstep bytes,
// then reads them back in reads of rstep bytes, and through ReaderAt and
// RangeReader at offsets derived from the steps.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range roundTripSeeds {
		f.Add(s.data, s.size, s.wstep, s.rstep, s.ad)
	}
	f.Fuzz(func(t *testing.T, data []byte, size, wstep, rstep uint32, ad []byte) {
		n := int(size % (3*ChunkSize + 2))
		pt := make([]byte, n)
		if len(data) > 0 {
			for i := 0; i < n; i += copy(pt[i:], data) {
			}
		}
		ws, rs := int(wstep%(ChunkSize+2))+1, int(rstep%(encChunkSize+2))+1

		var b bytes.Buffer
		w, err := NewWriter(&b, testDEK, ad)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeSteps(w, pt, ws); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		blob := b.Bytes()
		if got := int64(len(blob)); got != CiphertextSize(int64(n)) {
			t.Fatalf("blob of %d bytes, CiphertextSize(%d) = %d", got, n, CiphertextSize(int64(n)))
		}
		if p, err := PlaintextSize(int64(len(blob))); err != nil || p != int64(n) {
			t.Fatalf("PlaintextSize(%d) = %d, %v, want %d", len(blob), p, err, n)
		}

		r, err := NewReader(bytes.NewReader(blob), testDEK, ad)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readSteps(r, rs)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("read step %d: %v (equal %v)", rs, err, bytes.Equal(got, pt))
		}

		ra, err := NewReaderAt(bytes.NewReader(blob), int64(len(blob)), testDEK, ad)
		if err != nil {
			t.Fatal(err)
		}
		off := int64(wstep) % int64(n+1)
		checkReadAt(t, ra, pt, off, rs)

		cOff, cLen := CipherRange(off, int64(rs), int64(n))
		rr, err := NewRangeReader(bytes.NewReader(blob[cOff:cOff+cLen]), testDEK, ad, w.Header(), off, int64(rs), int64(n))
		if err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(rr)
		if want := pt[off:min(off+int64(rs), int64(n))]; err != nil || !bytes.Equal(got, want) {
			t.Fatalf("RangeReader(off %d, n %d): %v (equal %v)", off, rs, err, bytes.Equal(got, want))
		}
	})
}

// FuzzTamper applies a list of edits to a genuine stream of up to four
// chunks, described by a small input: every edited blob that differs from
// the genuine one must fail with ErrIntegrity, and no reader may release a
// byte that is not the genuine plaintext's.
//
// Each edit is 6 bytes: an operation, a 32-bit position and an argument.
func FuzzTamper(f *testing.F) {
	for _, s := range tamperSeeds {
		f.Add(s.size, s.edits)
	}
	f.Fuzz(func(t *testing.T, size uint32, edits []byte) {
		n := int(size % (4*ChunkSize + 2))
		pt, genuine := tamperStream(t, n)
		blob := applyEdits(genuine, edits)
		if bytes.Equal(blob, genuine) {
			if err := decryptAll(t, blob, testDEK, testAD, pt, int64(n)); err != nil {
				t.Fatalf("the genuine stream failed: %v", err)
			}
			return
		}
		if err := decryptAll(t, blob, testDEK, testAD, pt, int64(n)); err == nil {
			t.Fatalf("an edited blob (%d bytes, %d genuine) decrypted", len(blob), len(genuine))
		}
	})
}

// tamperStreams caches the genuine streams of FuzzTamper: the fuzzer mostly
// mutates the edits, and sealing 256 KiB per run would make minimizing an
// input take longer than a fuzzing session.
var tamperStreams = map[int][2][]byte{}

func tamperStream(t *testing.T, n int) (pt, blob []byte) {
	if s, ok := tamperStreams[n]; ok {
		return s[0], s[1]
	}
	if len(tamperStreams) >= 64 {
		clear(tamperStreams)
	}
	pt = testPlaintext(n, uint64(n))
	blob = seal(t, testDEK, testAD, pt, testSalt("tamper"))
	tamperStreams[n] = [2][]byte{pt, blob}
	return pt, blob
}

func applyEdits(genuine, edits []byte) []byte {
	b := bytes.Clone(genuine)
	for ; len(edits) >= 6 && len(b) > 0; edits = edits[6:] {
		op, pos, arg := edits[0]%6, int(binary.BigEndian.Uint32(edits[1:5])), int(edits[5])
		chunks := int((len(b) - HeaderSize + encChunkSize - 1) / encChunkSize)
		chunk := func(i int) []byte { // chunk i of the current blob, by position
			s := min(int(cipherOff(uint64(i))), len(b))
			return bytes.Clone(b[s:min(s+encChunkSize, len(b))])
		}
		switch op {
		case 0: // flip a bit
			b[pos%len(b)] ^= 1 << (arg % 8)
		case 1: // cut
			b = b[:pos%len(b)]
		case 2: // insert a byte
			p := pos % (len(b) + 1)
			b = append(b[:p], append([]byte{byte(arg)}, b[p:]...)...)
		case 3: // delete up to 255 bytes
			p := pos % len(b)
			b = append(b[:p], b[min(p+arg+1, len(b)):]...)
		case 4: // swap two chunks
			if chunks < 2 {
				continue
			}
			i, j := pos%chunks, arg%chunks
			if i == j {
				continue
			}
			ci, cj := chunk(i), chunk(j)
			if i > j {
				i, j, ci, cj = j, i, cj, ci
			}
			si, sj := int(cipherOff(uint64(i))), int(cipherOff(uint64(j)))
			b = bytes.Join([][]byte{b[:si], cj, b[si+len(ci) : sj], ci, b[sj+len(cj):]}, nil)
		case 5: // duplicate a chunk at the end
			if chunks > 0 {
				b = append(b, chunk(pos%chunks)...)
			}
		}
	}
	return b
}

type tamperSeed struct {
	size  uint32
	edits []byte
}

var tamperSeeds = []tamperSeed{
	{0, nil},
	{ChunkSize, []byte{0, 0, 0, 0, 100, 3}},
	{ChunkSize + 1, []byte{1, 0, 1, 0, 88, 0}},
	{2*ChunkSize + k, []byte{4, 0, 0, 0, 0, 1}},
	{3 * ChunkSize, []byte{5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 10, 7}},
	{4 * ChunkSize, []byte{3, 0, 2, 0, 80, 40}},
}
