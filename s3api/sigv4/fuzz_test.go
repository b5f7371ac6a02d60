package sigv4

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/; regenerate them with
// COFFRE_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds.

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseAuthorization(s)
		if err != nil {
			if kindOf(err) != "AuthorizationHeaderMalformed" && kindOf(err) != "UnsupportedSignature" {
				t.Fatalf("error %v wraps no expected sentinel", err)
			}
			return
		}
		if a.accessKey == "" || a.scope != a.date+"/"+a.region+"/s3/aws4_request" || a.signedHeaders == "" {
			t.Fatalf("accepted %q with credential %+v, signed headers %q", s, a.credential, a.signedHeaders)
		}
		// A parsed header re-serialised parses to the same value.
		again := fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%x", a.accessKey, a.scope, a.signedHeaders, a.signature)
		b, err := parseAuthorization(again)
		if err != nil || b != a {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", s, b, err, a)
		}
	})
}

// fuzzSigningContext is the signing context the chunked-decoder seeds were
// signed with; derived once, as the key cache would.
var fuzzSigningContext = sync.OnceValue(func() *signingContext {
	var c keyCache
	sc := &signingContext{
		ent:     c.get(testSecret, "20260314", testRegion),
		amzDate: "20260314T150926Z",
		scope:   "20260314/" + testRegion + "/s3/aws4_request",
	}
	decodeHex32(&sc.seed, strings.Repeat("ab", 32))
	return sc
})

func fuzzChunkSigner() *testChunkSigner {
	return newTestChunkSigner(testSecret, "20260314T150926Z", testRegion, strings.Repeat("ab", 32))
}

// decodeForFuzz runs the decoder over body and checks the properties that
// hold for any input: no panic, termination in a number of reads bounded by
// the input, never more bytes than declared, io.EOF only with exactly the
// declared length, errors always wrapping a sentinel.
func decodeForFuzz(t *testing.T, body []byte, mode byte, want uint16, trailer string) {
	modes := []payloadMode{modeStreamingSigned, modeStreamingSignedTrailer, modeStreamingUnsignedTrailer}
	pm := modes[int(mode)%len(modes)]
	var declared []string
	if trailer != "" {
		declared = []string{trailer}
	}
	cr := newChunkedReader(io.NopCloser(bytes.NewReader(body)), pm, int64(want), declared, fuzzSigningContext())
	defer cr.Close()
	buf := make([]byte, 1+int(mode)%4096)
	var decoded int
	for reads := 0; ; reads++ {
		if reads > len(body)+16 {
			t.Fatalf("no end after %d reads of a %d-byte body", reads, len(body))
		}
		n, err := cr.Read(buf)
		decoded += n
		if decoded > int(want) {
			t.Fatalf("decoded %d bytes, more than the declared %d", decoded, want)
		}
		if err == io.EOF {
			if decoded != int(want) {
				t.Fatalf("io.EOF after %d bytes, declared %d", decoded, want)
			}
			if len(cr.Trailer()) > maxTrailers {
				t.Fatalf("%d trailers", len(cr.Trailer()))
			}
			return
		}
		if err != nil {
			if strings.HasPrefix(kindOf(err), "other") || strings.HasPrefix(kindOf(err), "several") {
				t.Fatalf("error %v wraps no single sentinel", err)
			}
			if cr.Trailer() != nil {
				t.Fatal("Trailer() is set after a failure")
			}
			return
		}
	}
}

func FuzzChunkedDecoder(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"), byte(2), uint16(5), "x-amz-checksum-crc32")
	f.Fuzz(decodeForFuzz)
}

// TestWriteFuzzSeeds writes the seed corpora: valid bodies of each variant
// (so the fuzzer starts past the signature checks) and near misses.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("COFFRE_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set COFFRE_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	write := func(fuzz, name string, values ...any) {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, v := range values {
			switch v := v.(type) {
			case string:
				fmt.Fprintf(&b, "string(%q)\n", v)
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", v)
			case byte:
				fmt.Fprintf(&b, "byte(%q)\n", v)
			case uint16:
				fmt.Fprintf(&b, "uint16(%d)\n", v)
			}
		}
		dir := filepath.Join("testdata", "fuzz", fuzz)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	const sig = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
	for name, s := range map[string]string{
		"aws-doc":    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=" + sig,
		"minio-go":   "AWS4-HMAC-SHA256 Credential=minioadmin/20260314/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length,Signature=" + sig,
		"sigv2":      "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=",
		"sigv4a":     "AWS4-ECDSA-P256-SHA256 Credential=AKID/20130524/s3/aws4_request, SignedHeaders=host;x-amz-region-set, Signature=30440220",
		"repeated":   "AWS4-HMAC-SHA256 Credential=A/20130524/r/s3/aws4_request, Credential=B/20130524/r/s3/aws4_request, SignedHeaders=host, Signature=" + sig,
		"bad-scope":  "AWS4-HMAC-SHA256 Credential=A/2013052/r/s3/aws4_request/x, SignedHeaders=host, Signature=" + sig,
		"odd-commas": "AWS4-HMAC-SHA256 ,Credential=A/20130524/r/s3/aws4_request,,SignedHeaders=host;x-amz-date,Signature=" + sig + ",",
	} {
		write("FuzzParseAuthorization", name, s)
	}

	s := fuzzChunkSigner()
	var signed bytes.Buffer
	s.chunk(&signed, bytes.Repeat([]byte("a"), 8192))
	s.chunk(&signed, []byte("tail"))
	s.chunk(&signed, nil)
	signed.WriteString("\r\n")
	write("FuzzChunkedDecoder", "signed", signed.Bytes(), byte(0), uint16(8196), "")

	s = fuzzChunkSigner()
	var signedTrailer bytes.Buffer
	s.chunk(&signedTrailer, []byte("hello"))
	s.chunk(&signedTrailer, nil)
	s.trailer(&signedTrailer, "x-amz-checksum-crc32:NhCmhg==")
	write("FuzzChunkedDecoder", "signed-trailer", signedTrailer.Bytes(), byte(1), uint16(5), "x-amz-checksum-crc32")

	write("FuzzChunkedDecoder", "unsigned-trailer", []byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"), byte(2), uint16(5), "x-amz-checksum-crc32")
	write("FuzzChunkedDecoder", "unsigned-minio-go", []byte("5;x=y\r\nhello\r\n0\r\nx-amz-checksum-crc32c:mnG7TA==\n\r\n\r\n"), byte(2), uint16(5), "x-amz-checksum-crc32c")
	write("FuzzChunkedDecoder", "unsigned-empty", []byte("0\r\n\r\n"), byte(2), uint16(0), "")
	write("FuzzChunkedDecoder", "small-chunks", []byte("3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n"), byte(2), uint16(5), "")
	write("FuzzChunkedDecoder", "truncated", signed.Bytes()[:100], byte(0), uint16(8196), "")
}

// TestFuzzSeedsPresent fails if the seed corpora went missing.
func TestFuzzSeedsPresent(t *testing.T) {
	for _, name := range []string{"FuzzParseAuthorization", "FuzzChunkedDecoder"} {
		entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", name))
		if err != nil || len(entries) == 0 {
			t.Errorf("testdata/fuzz/%s: no seeds (%v)", name, err)
		}
	}
}
