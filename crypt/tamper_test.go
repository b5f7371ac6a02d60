package crypt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// decryptAll opens blob with every reader and checks the rules that hold for
// any blob: a reader either returns exactly want (when ok) or fails with
// ErrIntegrity, and whatever it released is a prefix of the genuine
// plaintext (never a wrong byte). It returns the sequential reader's error.
func decryptAll(t *testing.T, blob, dek, ad, genuine []byte, size int64) error {
	t.Helper()
	isPrefix := func(got []byte) bool { return len(got) <= len(genuine) && bytes.Equal(got, genuine[:len(got)]) }

	got, seqErr := openSeq(blob, dek, ad)
	if seqErr != nil && !errors.Is(seqErr, ErrIntegrity) {
		t.Fatalf("Reader: %v, want ErrIntegrity", seqErr)
	}
	if !isPrefix(got) {
		t.Fatalf("Reader released %d bytes that are not a prefix of the plaintext", len(got))
	}
	if seqErr == nil && !bytes.Equal(got, genuine) {
		t.Fatalf("Reader: success with %d bytes, want %d", len(got), len(genuine))
	}

	// WriteTo, with the same verdict.
	if r, err := NewReader(bytes.NewReader(blob), dek, ad); err == nil {
		var b bytes.Buffer
		_, err := r.WriteTo(&b)
		if !isPrefix(b.Bytes()) || (err == nil) != (seqErr == nil) {
			t.Fatalf("WriteTo: %v (prefix %v), Read gave %v", err, isPrefix(b.Bytes()), seqErr)
		}
	}

	// ReaderAt with the blob's own size (as if the metadata agreed with the
	// blob), which must reach Reader's verdict, and with the genuine size,
	// which never looks past it (appended bytes go unread).
	for _, cs := range []int64{int64(len(blob)), CiphertextSize(size)} {
		ra, err := NewReaderAt(bytes.NewReader(blob), cs, dek, ad)
		if err != nil {
			if !errors.Is(err, ErrIntegrity) {
				t.Fatalf("NewReaderAt: %v, want ErrIntegrity", err)
			}
			continue
		}
		p := make([]byte, ra.Size()+1)
		n, err := ra.ReadAt(p, 0)
		if err != io.EOF && !errors.Is(err, ErrIntegrity) {
			t.Fatalf("ReadAt: %v, want ErrIntegrity", err)
		}
		if !isPrefix(p[:n]) {
			t.Fatalf("ReadAt released %d bytes that are not a prefix of the plaintext", n)
		}
		if cs == int64(len(blob)) && (err == io.EOF) != (seqErr == nil) {
			t.Fatalf("ReaderAt (cipher size %d) says %v, Reader says %v", cs, err, seqErr)
		}
	}

	// The whole stream as a range, header from the blob.
	if r, err := NewRangeReader(bytes.NewReader(blob), dek, ad, nil, 0, size, size); err == nil {
		got, err := io.ReadAll(r)
		if !isPrefix(got) || (err != nil && !errors.Is(err, ErrIntegrity)) {
			t.Fatalf("RangeReader: %v (prefix %v)", err, isPrefix(got))
		}
		if err == nil && !bytes.Equal(got, genuine) {
			t.Fatalf("RangeReader: success with %d bytes, want %d", len(got), len(genuine))
		}
	}
	return seqErr
}

func mustFail(t *testing.T, what string, want failure, blob, dek, ad, genuine []byte, size int64) {
	t.Helper()
	err := decryptAll(t, blob, dek, ad, genuine, size)
	if err == nil {
		t.Fatalf("%s: decrypted", what)
	}
	if want != 0 && failureOf(err) != want {
		t.Fatalf("%s: %v (a %v failure), want a %v failure", what, err, failureOf(err), want)
	}
}

var tamperSizes = []int{0, 1, 100, ChunkSize - 1, ChunkSize, ChunkSize + 1, 2*ChunkSize + k}

// TestTamperBitFlips flips bits everywhere in the header and around every
// chunk boundary and tag (every bit of the smaller blobs).
func TestTamperBitFlips(t *testing.T) {
	for _, size := range tamperSizes {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			pt := testPlaintext(size, 7)
			blob := seal(t, testDEK, testAD, pt, testSalt("flip"))
			var positions []int
			if len(blob) <= 256 {
				for i := range blob {
					positions = append(positions, i)
				}
			} else {
				for i := range HeaderSize {
					positions = append(positions, i)
				}
				for c := int64(0); c < chunkCount(int64(size)); c++ {
					start := int(cipherOff(uint64(c)))
					end := min(start+encChunkSize, len(blob))
					for _, d := range []int{0, 1, 2, 15, 16, 17, (end - start) / 2} {
						positions = append(positions, start+d)
					}
					for d := 1; d <= TagSize+1; d++ { // the tag and the byte before it
						positions = append(positions, end-d)
					}
				}
			}
			for _, pos := range positions {
				if pos >= len(blob) {
					continue
				}
				for bit := range 8 {
					if len(blob) > 256 && bit%3 != 0 && pos >= HeaderSize {
						continue
					}
					b := bytes.Clone(blob)
					b[pos] ^= 1 << bit
					want := failPayload
					if pos < HeaderSize {
						want = failHeader
					}
					mustFail(t, fmt.Sprintf("bit %d of byte %d", bit, pos), want, b, testDEK, testAD, pt, int64(size))
				}
			}
		})
	}
}

// TestTamperTruncation cuts blobs at every chunk boundary and inside chunks.
func TestTamperTruncation(t *testing.T) {
	for _, size := range tamperSizes {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			pt := testPlaintext(size, 8)
			blob := seal(t, testDEK, testAD, pt, testSalt("cut"))
			cuts := map[int]failure{0: failTruncated, 1: failTruncated, HeaderSize - 1: failTruncated, HeaderSize: failTruncated, HeaderSize + 1: failTruncated}
			for c := int64(1); c < chunkCount(int64(size)); c++ {
				at := int(cipherOff(uint64(c)))
				cuts[at] = failTruncated // right after a non-final chunk: it fails as final
				cuts[at-1], cuts[at+1], cuts[at+TagSize] = 0, failTruncated, failTruncated
				cuts[at-encChunkSize/2] = 0
			}
			cuts[len(blob)-1] = 0
			for cut, want := range cuts {
				if cut >= len(blob) || cut < 0 {
					continue
				}
				mustFail(t, fmt.Sprintf("cut at %d of %d", cut, len(blob)), want, blob[:cut], testDEK, testAD, pt, int64(size))
			}
			if len(blob) <= 300 {
				for cut := range len(blob) {
					mustFail(t, fmt.Sprintf("cut at %d", cut), 0, blob[:cut], testDEK, testAD, pt, int64(size))
				}
			}
		})
	}
}

// TestTamperChunks rearranges whole chunks: drop, swap, duplicate, append,
// and splices two streams sealed with the same DEK and context.
func TestTamperChunks(t *testing.T) {
	size := 3*ChunkSize + k
	pt := testPlaintext(size, 9)
	a := seal(t, testDEK, testAD, pt, testSalt("a"))
	b := seal(t, testDEK, testAD, pt, testSalt("b")) // same DEK, AD and plaintext
	chunk := func(blob []byte, i int) []byte {
		s := int(cipherOff(uint64(i)))
		return blob[s:min(s+encChunkSize, len(blob))]
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	hdr := a[:HeaderSize]

	for _, tc := range []struct {
		name string
		blob []byte
		want failure
	}{
		{"drop final chunk", cat(hdr, chunk(a, 0), chunk(a, 1), chunk(a, 2)), failTruncated},
		{"drop first chunk", cat(hdr, chunk(a, 1), chunk(a, 2), chunk(a, 3)), failPayload},
		{"drop middle chunk", cat(hdr, chunk(a, 0), chunk(a, 2), chunk(a, 3)), failPayload},
		{"swap chunks 0 and 1", cat(hdr, chunk(a, 1), chunk(a, 0), chunk(a, 2), chunk(a, 3)), failPayload},
		{"swap chunks 1 and 2", cat(hdr, chunk(a, 0), chunk(a, 2), chunk(a, 1), chunk(a, 3)), failPayload},
		{"duplicate chunk 0", cat(hdr, chunk(a, 0), chunk(a, 0), chunk(a, 2), chunk(a, 3)), failPayload},
		{"append a chunk", cat(a, chunk(a, 3)), failPayload},
		{"append a byte", cat(a, []byte{0}), failPayload},
		{"append a full chunk", cat(a, chunk(a, 0)), failPayload},
		{"final chunk moved first", cat(hdr, chunk(a, 3)), failPayload},
		{"header of b, chunks of a", cat(b[:HeaderSize], a[HeaderSize:]), failPayload},
		{"chunk 0 of b in a", cat(hdr, chunk(b, 0), chunk(a, 1), chunk(a, 2), chunk(a, 3)), failPayload},
		{"final chunk of b in a", cat(hdr, chunk(a, 0), chunk(a, 1), chunk(a, 2), chunk(b, 3)), failPayload},
		{"a then b", cat(a, b[HeaderSize:]), failPayload},
		{"a truncated, then b's tail", cat(a[:cipherOff(2)], b[cipherOff(2):]), failPayload},
	} {
		mustFail(t, tc.name, tc.want, tc.blob, testDEK, testAD, pt, int64(size))
	}

	// The empty stream cannot be grafted onto anything either.
	empty := seal(t, testDEK, testAD, nil, testSalt("a"))
	mustFail(t, "empty final chunk after a", failTruncated, cat(a[:cipherOff(1)], empty[HeaderSize:]), testDEK, testAD, pt, int64(size))
}

func TestTamperContext(t *testing.T) {
	for _, size := range []int{0, 1, ChunkSize, 2*ChunkSize + k} {
		pt := testPlaintext(size, 10)
		blob := seal(t, testDEK, testAD, pt, testSalt("ctx"))
		otherAD := bytes.Clone(testAD)
		otherAD[len(otherAD)-1] = '2' // version=2
		wrongKey := bytes.Clone(testDEK)
		wrongKey[31] ^= 1
		for _, tc := range []struct {
			name    string
			dek, ad []byte
			want    failure
		}{
			{"other version", testDEK, otherAD, failPayload},
			{"no associated data", testDEK, nil, failPayload},
			{"associated data extended", testDEK, append(bytes.Clone(testAD), 0), failPayload},
			{"associated data cut", testDEK, testAD[:len(testAD)-1], failPayload},
			{"wrong key", wrongKey, testAD, failHeader},
		} {
			mustFail(t, fmt.Sprintf("size=%d %s", size, tc.name), tc.want, blob, tc.dek, tc.ad, pt, int64(size))
		}
	}
}

// A range read authenticates its own chunks, so tampering anywhere in the
// range fails it, and a blob shorter than the range is a truncation.
func TestTamperRange(t *testing.T) {
	size := int64(3*ChunkSize + k)
	pt := testPlaintext(int(size), 11)
	blob := seal(t, testDEK, testAD, pt, testSalt("range"))
	off, n := int64(ChunkSize+10), int64(ChunkSize)
	cOff, cLen := CipherRange(off, n, size)
	for pos := cOff; pos < cOff+cLen; pos += 4093 {
		b := bytes.Clone(blob)
		b[pos] ^= 0x80
		r, err := NewRangeReader(bytes.NewReader(b[cOff:cOff+cLen]), testDEK, testAD, blob[:HeaderSize], off, n, size)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if !errors.Is(err, ErrIntegrity) || !bytes.Equal(got, pt[off:off+int64(len(got))]) {
			t.Fatalf("flip at %d: %v after %d bytes", pos, err, len(got))
		}
	}
	r, _ := NewRangeReader(bytes.NewReader(blob[cOff:cOff+cLen-1]), testDEK, testAD, blob[:HeaderSize], off, n, size)
	if _, err := io.ReadAll(r); failureOf(err) != failTruncated {
		t.Fatalf("short range: %v, want a truncation", err)
	}
	// A size claim that misplaces the final chunk fails when the range
	// reaches it.
	for _, wrong := range []int64{size - 1, size + 1, size - k, size + ChunkSize} {
		cOff, cLen := CipherRange(0, wrong, wrong)
		end := min(cOff+cLen, int64(len(blob)))
		r, _ := NewRangeReader(bytes.NewReader(blob[cOff:end]), testDEK, testAD, blob[:HeaderSize], 0, wrong, wrong)
		if _, err := io.ReadAll(r); !errors.Is(err, ErrIntegrity) {
			t.Fatalf("claimed size %d of a %d-byte stream: %v, want ErrIntegrity", wrong, size, err)
		}
	}
}

// Errors say where the stream failed, for every reader.
func TestErrorsNameTheChunk(t *testing.T) {
	size := int64(3*ChunkSize + k)
	pt := testPlaintext(int(size), 12)
	blob := seal(t, testDEK, testAD, pt, testSalt("names"))
	flipped := bytes.Clone(blob)
	flipped[cipherOff(2)+100] ^= 1
	cut := blob[:cipherOff(3)]
	header := bytes.Clone(blob)
	header[6] = 9

	for _, tc := range []struct {
		name, want string
		blob       []byte
	}{
		{"flip in chunk 2", "crypt: chunk 2: authentication failed", flipped},
		{"cut after chunk 2", "crypt: chunk 2: the blob ends after this chunk, which is not the final chunk", cut},
		{"version 9", "crypt: header: format version 9, want 1", header},
	} {
		_, err := openSeq(tc.blob, testDEK, testAD)
		if !errors.Is(err, ErrIntegrity) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: Reader: %q, want ErrIntegrity starting %q", tc.name, err, tc.want)
		}
		ra, err := NewReaderAt(bytes.NewReader(tc.blob), int64(len(tc.blob)), testDEK, testAD)
		if err == nil {
			_, err = ra.ReadAt(make([]byte, size), 0)
		}
		if !errors.Is(err, ErrIntegrity) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: ReaderAt: %q, want ErrIntegrity starting %q", tc.name, err, tc.want)
		}
	}
}
