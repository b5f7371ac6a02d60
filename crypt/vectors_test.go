package crypt

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata/vectors and the fuzz seeds derived from them")

const vectorDir = "testdata/vectors"

// A vector is one file of testdata/vectors, in the format of docs/format.md
// ("Test vectors"); spec_test.go parses it independently.
type vector struct {
	name    string
	expect  string // success, or the failure: header, payload, truncation
	comment string
	dek, ad []byte
	plain   []byte // success only
	blob    []byte
}

func (v *vector) marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "expect: %s\n", v.expect)
	fmt.Fprintf(&b, "comment: %s\n", v.comment)
	fmt.Fprintf(&b, "dek: %x\n", v.dek)
	fmt.Fprintf(&b, "ad: %x\n", v.ad)
	if v.expect == "success" {
		sum := sha256.Sum256(v.plain)
		fmt.Fprintf(&b, "plaintext-size: %d\n", len(v.plain))
		fmt.Fprintf(&b, "plaintext-sha256: %x\n", sum)
		if len(v.plain) <= 64 {
			fmt.Fprintf(&b, "plaintext: %x\n", v.plain)
		}
	}
	fmt.Fprintf(&b, "ciphertext-size: %d\n\n", len(v.blob))
	enc := base64.StdEncoding.EncodeToString(v.blob)
	for len(enc) > 64 {
		b.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	b.WriteString(enc + "\n")
	return b.Bytes()
}

// parseVector reads a vector file into its fields (the success plaintext is
// given by size and digest, and by value when short).
func parseVector(t testing.TB, path string) (v vector, size int64, digest []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v.name = filepath.Base(path)
	head, body, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		t.Fatalf("%s: no blank line before the ciphertext", path)
	}
	size = -1
	for line := range strings.Lines(string(head)) {
		key, val, ok := strings.Cut(strings.TrimSuffix(line, "\n"), ": ")
		if !ok {
			t.Fatalf("%s: bad line %q", path, line)
		}
		switch key {
		case "expect":
			v.expect = val
		case "comment":
			v.comment = val
		case "dek":
			v.dek = mustHex(t, val)
		case "ad":
			v.ad = mustHex(t, val)
		case "plaintext-size":
			size, _ = strconv.ParseInt(val, 10, 64)
		case "plaintext-sha256":
			digest = mustHex(t, val)
		case "plaintext":
			v.plain = mustHex(t, val)
		case "ciphertext-size":
		default:
			t.Fatalf("%s: unknown field %q", path, key)
		}
	}
	v.blob, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(body), "\n", ""))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v, size, digest
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// generateVectors builds the vectors. Salts are derived from the vector
// names (never do this outside tests); tampered vectors are edits of
// genuine ones, and two are sealed chunk by chunk to make streams that a
// Writer never produces.
func generateVectors(t *testing.T) []vector {
	sealWith := func(name string, pt []byte, ad []byte) []byte {
		return seal(t, testDEK, ad, pt, testSalt("vector "+name))
	}
	hello := []byte("Coffre keeps this sentence confidential.")
	helloBlob := sealWith("hello", hello, testAD)
	full := testPlaintext(ChunkSize, 1)
	fullBlob := sealWith("one_full_chunk", full, testAD)
	two := testPlaintext(ChunkSize+1, 2)
	twoBlob := sealWith("two_chunks", two, testAD)
	twoBlobB := sealWith("two_chunks_b", two, testAD)
	edit := func(blob []byte, f func(b []byte)) []byte { b := bytes.Clone(blob); f(b); return b }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	// raw seals chunks one by one with chosen final flags.
	raw := func(name string, chunks [][]byte, finals []bool) []byte {
		var hdr bytes.Buffer
		w, err := newWriter(&hdr, testDEK, testAD, testSalt("vector "+name))
		if err != nil {
			t.Fatal(err)
		}
		out := w.Header()
		var nonce [nonceSize]byte
		for i, c := range chunks {
			out = append(out, w.s.seal(make([]byte, 0, len(c)+TagSize), &nonce, c, uint64(i), finals[i])...)
		}
		return out
	}
	otherKey := bytes.Clone(testDEK)
	otherKey[0] ^= 0xff
	otherAD := []byte(strings.Replace(string(testAD), "version=1", "version=2", 1))

	ok := func(name, comment string, pt, ad, blob []byte) vector {
		return vector{name: name, expect: "success", comment: comment, dek: testDEK, ad: ad, plain: pt, blob: blob}
	}
	bad := func(name string, expect failure, comment string, blob []byte) vector {
		return vector{name: name, expect: expect.String(), comment: comment, dek: testDEK, ad: testAD, blob: blob}
	}
	vs := []vector{
		ok("empty", "the empty plaintext: a header and one empty final chunk (a tag)", nil, testAD, sealWith("empty", nil, testAD)),
		ok("hello", "a short plaintext in one final chunk; the worked example of docs/format.md", hello, testAD, helloBlob),
		ok("empty_ad", "a short plaintext with empty associated data", hello, nil, sealWith("empty_ad", hello, nil)),
		ok("one_full_chunk", "exactly ChunkSize bytes: a single final chunk that is full", full, testAD, fullBlob),
		ok("two_chunks", "ChunkSize+1 bytes: a full non-final chunk, then a final chunk of one byte", two, testAD, twoBlob),

		bad("header_bad_magic", failHeader, "hello with the first magic byte changed", edit(helloBlob, func(b []byte) { b[0] = 'C' })),
		bad("header_bad_version", failHeader, "hello with format version 2", edit(helloBlob, func(b []byte) { b[6] = 2 })),
		bad("header_bad_chunk_size", failHeader, "hello with a chunk size of 2^20", edit(helloBlob, func(b []byte) { b[7] = 20 })),
		bad("header_salt_altered", failHeader, "hello with a salt bit flipped: the commitment no longer matches", edit(helloBlob, func(b []byte) { b[8+31] ^= 0x01 })),
		bad("header_commitment_altered", failHeader, "hello with a commitment bit flipped", edit(helloBlob, func(b []byte) { b[71] ^= 0x80 })),
		func() vector {
			v := bad("header_wrong_key", failHeader, "hello, given a data key other than the one it was sealed with", helloBlob)
			v.dek = otherKey
			return v
		}(),

		func() vector {
			v := bad("payload_wrong_ad", failPayload, "hello, given the associated data of another version", helloBlob)
			v.ad = otherAD
			return v
		}(),
		bad("payload_ciphertext_altered", failPayload, "hello with a ciphertext bit flipped", edit(helloBlob, func(b []byte) { b[HeaderSize] ^= 0x01 })),
		bad("payload_tag_altered", failPayload, "hello with a tag bit flipped", edit(helloBlob, func(b []byte) { b[len(b)-1] ^= 0x01 })),
		bad("payload_cut_inside_final_chunk", failPayload, "hello without its last byte: a cut inside a chunk is not told apart from tampering", helloBlob[:len(helloBlob)-1]),
		bad("payload_final_flag_clear", failPayload, "hello's chunk sealed (with the key) as a non-final chunk: the stream has no final chunk",
			raw("payload_final_flag_clear", [][]byte{hello}, []bool{false})),
		bad("payload_chunks_swapped", failPayload, "two_chunks with its two chunks in the opposite order",
			cat(twoBlob[:HeaderSize], twoBlob[cipherOff(1):], twoBlob[HeaderSize:cipherOff(1)])),
		bad("payload_chunk_appended", failPayload, "one_full_chunk followed by the final chunk of two_chunks: its final chunk is no longer last",
			cat(fullBlob, twoBlob[cipherOff(1):])),
		bad("payload_streams_spliced", failPayload, "header and chunk 0 of two_chunks, then chunk 1 of a stream with the same DEK, AD and plaintext but another salt",
			cat(twoBlob[:cipherOff(1)], twoBlobB[cipherOff(1):])),

		bad("truncation_in_header", failTruncated, "the first 40 bytes of hello", helloBlob[:40]),
		bad("truncation_no_chunk", failTruncated, "the header of hello alone", helloBlob[:HeaderSize]),
		bad("truncation_after_chunk", failTruncated, "two_chunks without its final chunk: chunk 0 authenticates only as non-final", twoBlob[:cipherOff(1)]),
		bad("truncation_short_final_chunk", failTruncated, "two_chunks cut 10 bytes into its final chunk, shorter than a tag", twoBlob[:cipherOff(1)+10]),
		bad("truncation_empty_final_chunk", failTruncated, "a full chunk then an empty final chunk, both sealed with the key: only chunk 0 may be empty, so this size is rejected",
			raw("truncation_empty_final_chunk", [][]byte{full, nil}, []bool{false, true})),
	}
	return vs
}

// TestVectors checks every vector with every reader, and re-seals each
// success vector with the salt of its header to reproduce it byte for byte.
func TestVectors(t *testing.T) {
	if *update {
		writeVectors(t)
	}
	paths, err := filepath.Glob(filepath.Join(vectorDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no vectors in %s: they are the specification's test kit (regenerate with go test -run TestVectors -update)", vectorDir)
	}
	expects := map[string]int{}
	for _, path := range paths {
		v, size, digest := parseVector(t, path)
		expects[v.expect]++
		t.Run(v.name, func(t *testing.T) {
			got, err := openSeq(v.blob, v.dek, v.ad)
			if v.expect == "success" {
				if err != nil {
					t.Fatalf("Reader: %v", err)
				}
				sum := sha256.Sum256(got)
				if int64(len(got)) != size || !bytes.Equal(sum[:], digest) || (v.plain != nil && !bytes.Equal(got, v.plain)) {
					t.Fatalf("Reader: %d bytes with SHA-256 %x, want %d bytes with %x", len(got), sum, size, digest)
				}
				if again := seal(t, v.dek, v.ad, got, v.blob[headerPrefixSize:headerPrefixSize+saltSize]); !bytes.Equal(again, v.blob) {
					t.Fatal("sealing the plaintext again with the vector's salt gives another blob")
				}
				decryptAll(t, v.blob, v.dek, v.ad, got, size)
				return
			}
			if failureOf(err).String() != v.expect {
				t.Fatalf("Reader: %v, want a %s failure", err, v.expect)
			}
			// The other readers agree on the failure class.
			if ra, err := NewReaderAt(bytes.NewReader(v.blob), int64(len(v.blob)), v.dek, v.ad); err != nil {
				if failureOf(err).String() != v.expect {
					t.Errorf("NewReaderAt: %v, want a %s failure", err, v.expect)
				}
			} else {
				_, err := ra.ReadAt(make([]byte, ra.Size()), 0)
				if failureOf(err).String() != v.expect {
					t.Errorf("ReaderAt: %v, want a %s failure", err, v.expect)
				}
			}
			if size, err := PlaintextSize(int64(len(v.blob))); err == nil {
				r, err := NewRangeReader(bytes.NewReader(v.blob), v.dek, v.ad, nil, 0, size, size)
				if err == nil {
					_, err = io.ReadAll(r)
				}
				if failureOf(err).String() != v.expect {
					t.Errorf("RangeReader: %v, want a %s failure", err, v.expect)
				}
			}
		})
	}
	for _, e := range []string{"success", "header", "payload", "truncation"} {
		if expects[e] == 0 {
			t.Errorf("no vector expects %s", e)
		}
	}
}

func writeVectors(t *testing.T) {
	// Seeds are overwritten by name, never deleted: testdata/fuzz also keeps
	// the failing inputs the fuzzer saves, as regression tests.
	old, _ := filepath.Glob(filepath.Join(vectorDir, "*.txt"))
	for _, p := range old {
		os.Remove(p)
	}
	if err := os.MkdirAll(vectorDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range generateVectors(t) {
		if err := os.WriteFile(filepath.Join(vectorDir, v.name+".txt"), v.marshal(), 0o644); err != nil {
			t.Fatal(err)
		}
		// Small vectors under the fuzz key and context seed FuzzReader from
		// testdata/fuzz; it adds the larger ones from testdata/vectors.
		if bytes.Equal(v.dek, testDEK) && bytes.Equal(v.ad, testAD) && len(v.blob) <= 4096 {
			writeSeed(t, "FuzzReader", v.name, fmt.Sprintf("[]byte(%q)", v.blob))
		}
	}
	for _, s := range tamperSeeds {
		writeSeed(t, "FuzzTamper", fmt.Sprintf("size-%d", s.size), fmt.Sprintf("uint32(%d)", s.size), fmt.Sprintf("[]byte(%q)", s.edits))
	}
	for _, s := range roundTripSeeds {
		writeSeed(t, "FuzzRoundTrip", fmt.Sprintf("size-%d", s.size),
			fmt.Sprintf("[]byte(%q)", s.data), fmt.Sprintf("uint32(%d)", s.size),
			fmt.Sprintf("uint32(%d)", s.wstep), fmt.Sprintf("uint32(%d)", s.rstep), fmt.Sprintf("[]byte(%q)", s.ad))
	}
}

func writeSeed(t *testing.T, target, name string, args ...string) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	fmt.Fprintln(w, "go test fuzz v1")
	for _, a := range args {
		fmt.Fprintln(w, a)
	}
	w.Flush()
	if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVectorsUpToDate fails when the generator and the files disagree, so
// that neither drifts from the other unnoticed.
func TestVectorsUpToDate(t *testing.T) {
	for _, v := range generateVectors(t) {
		got, err := os.ReadFile(filepath.Join(vectorDir, v.name+".txt"))
		if err != nil || !bytes.Equal(got, v.marshal()) {
			t.Errorf("%s.txt is missing or stale (regenerate with go test -run TestVectors -update): %v", v.name, err)
		}
	}
}
