package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/minio/minio-go/v7/pkg/signer"
)

// sha256Hasher adapts crypto/sha256 to the md5simd.Hasher minio-go's signer
// wants.
type sha256Hasher struct{ hash.Hash }

func (sha256Hasher) Close() {}

// minioStreamingRequest returns a server-side request whose body minio-go's
// signer encoded: signed chunks (trailer "" or a CRC32C trailer name), or
// unsigned chunks with a trailer when unsigned is set.
func minioStreamingRequest(t testing.TB, data []byte, withTrailer, unsigned bool) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://s3.example.com/bucket/key", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if withTrailer {
		req.Trailer = http.Header{"x-amz-checksum-crc32c": {crcBase64(crc32.MakeTable(crc32.Castagnoli), data)}}
	}
	var signed *http.Request
	if unsigned {
		// SignV4Trailer signs at time.Now and encodes the body.
		req.Header.Set("X-Amz-Content-Sha256", streamingUnsignedPayloadTrailer)
		signed = signer.SignV4Trailer(*req, testAccessKey, testSecret, "", testRegion, req.Trailer)
	} else {
		signed = signer.StreamingSignV4(req, testAccessKey, testSecret, "", testRegion, int64(len(data)), testTime, sha256Hasher{sha256.New()})
	}
	body, err := io.ReadAll(signed.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPut, "/bucket/key", bytes.NewReader(body))
	r.Host = "s3.example.com"
	r.Header = signed.Header.Clone()
	return r
}

// TestChunkedBoundaries decodes minio-go encoded bodies of sizes around the
// chunk boundaries, with the network delivering bytes in odd pieces and the
// caller reading with odd buffer sizes.
func TestChunkedBoundaries(t *testing.T) {
	sizes := []int{0, 1, 8191, 8192, 65535, 65536, 65537, 2*65536 + 4321}
	sources := map[string]func(io.Reader) io.Reader{
		"whole":   func(r io.Reader) io.Reader { return r },
		"onebyte": iotest.OneByteReader,
		"half":    iotest.HalfReader,
		"dataerr": iotest.DataErrReader,
	}
	steps := []int{1, 7, 8192, 1 << 20}
	for _, variant := range []string{"signed", "signed-trailer"} {
		for _, size := range sizes {
			data := randomBytes(size, uint64(size)+1)
			base := minioStreamingRequest(t, data, variant == "signed-trailer", false)
			raw, _ := io.ReadAll(base.Body)
			for srcName, wrap := range sources {
				for _, step := range steps {
					if (srcName == "onebyte" || step == 1) && size > 70000 {
						continue // slow and adds nothing over the 64 KiB+1 case
					}
					t.Run(fmt.Sprintf("variant=%s/size=%d/src=%s/step=%d", variant, size, srcName, step), func(t *testing.T) {
						r := base.Clone(base.Context())
						r.Body = io.NopCloser(wrap(bytes.NewReader(raw)))
						v := testVerifier()
						v.Now = fixedClock(testTime)
						res, err := v.Verify(r)
						if err != nil {
							t.Fatalf("Verify: %v", err)
						}
						got, err := readInSteps(res.Body, step)
						if err != nil {
							t.Fatalf("reading Body: %v", err)
						}
						if !bytes.Equal(got, data) {
							t.Fatalf("decoded %d bytes, want %d", len(got), len(data))
						}
						if variant == "signed-trailer" && size > 0 {
							if got, want := res.Trailer().Get("X-Amz-Checksum-Crc32c"), crcBase64(crc32.MakeTable(crc32.Castagnoli), data); got != want {
								t.Fatalf("trailer = %q, want %q", got, want)
							}
						}
					})
				}
			}
		}
	}
}

func readInSteps(r io.Reader, step int) ([]byte, error) {
	var out []byte
	buf := make([]byte, step)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func TestChunkedUnsignedMinio(t *testing.T) {
	for _, size := range []int{1, 65536, 100000} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			data := randomBytes(size, 9)
			r := minioStreamingRequest(t, data, true, true)
			v := testVerifier()
			v.Now = nil
			res, err := v.Verify(r)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got, err := io.ReadAll(res.Body)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("body: %d bytes, err %v; want %d bytes", len(got), err, len(data))
			}
			if got, want := res.Trailer().Get("X-Amz-Checksum-Crc32c"), crcBase64(crc32.MakeTable(crc32.Castagnoli), data); got != want {
				t.Fatalf("trailer = %q, want %q", got, want)
			}
		})
	}
}

// testChunkSigner encodes aws-chunked bodies the way the S3 documentation
// describes, with any chunk sizes. It is checked against the AWS example in
// TestTestChunkSigner before other tests rely on it.
type testChunkSigner struct {
	key     []byte
	amzDate string
	scope   string
	prev    string
}

func newTestChunkSigner(secret, amzDate, region, seed string) *testChunkSigner {
	k := []byte("AWS4" + secret)
	for _, s := range []string{amzDate[:8], region, "s3", "aws4_request"} {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(s))
		k = m.Sum(nil)
	}
	return &testChunkSigner{key: k, amzDate: amzDate, scope: amzDate[:8] + "/" + region + "/s3/aws4_request", prev: seed}
}

func (s *testChunkSigner) sign(alg, last string) string {
	m := hmac.New(sha256.New, s.key)
	io.WriteString(m, alg+"\n"+s.amzDate+"\n"+s.scope+"\n"+s.prev+"\n"+last)
	s.prev = hex.EncodeToString(m.Sum(nil))
	return s.prev
}

// chunk appends one signed chunk (the 0-size one included) to w.
func (s *testChunkSigner) chunk(w io.Writer, data []byte) {
	sig := s.sign("AWS4-HMAC-SHA256-PAYLOAD", emptySHA256Hex+"\n"+hexSHA256(data))
	fmt.Fprintf(w, "%x;chunk-signature=%s\r\n", len(data), sig)
	w.Write(data)
	if len(data) > 0 {
		io.WriteString(w, "\r\n")
	}
}

// trailer appends signed trailers and the final CRLF.
func (s *testChunkSigner) trailer(w io.Writer, lines ...string) {
	canon := ""
	for _, l := range lines {
		canon += l + "\n"
	}
	sig := s.sign("AWS4-HMAC-SHA256-TRAILER", hexSHA256([]byte(canon)))
	for _, l := range lines {
		io.WriteString(w, l+"\r\n")
	}
	io.WriteString(w, "x-amz-trailer-signature:"+sig+"\r\n\r\n")
}

func TestTestChunkSigner(t *testing.T) {
	s := newTestChunkSigner("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524T000000Z", "us-east-1",
		"106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e")
	var b bytes.Buffer
	s.chunk(&b, bytes.Repeat([]byte("a"), 65536))
	s.chunk(&b, bytes.Repeat([]byte("a"), 1024))
	s.chunk(&b, nil)
	s.trailer(&b, "x-amz-checksum-crc32c:sOO8/Q==")
	var want []byte
	for _, vec := range loadVectors(t) {
		if vec.Name == "aws-doc-streaming-trailer" {
			want = joinSegments(vec.Body)
		}
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Fatalf("test signer output differs from the AWS example")
	}
}

// signedRequest returns a request with a STREAMING-AWS4-HMAC-SHA256-PAYLOAD
// body holding chunks of the given sizes, filled with fill, signed by
// testChunkSigner; the seed signature is computed by Verify's own code path
// from the SDK-signed headers.
func signedStreamingBody(t testing.TB, sizes []int, fill byte, trailers ...string) (*http.Request, []byte) {
	t.Helper()
	total := 0
	for _, n := range sizes {
		total += n
	}
	mode := streamingPayload
	if len(trailers) > 0 {
		mode = streamingPayloadTrailer
	}
	req, _ := http.NewRequest(http.MethodPut, "http://s3.example.com/bucket/key", nil)
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(total))
	req.Header.Set("Content-Encoding", "aws-chunked")
	for _, tr := range trailers {
		name, _, _ := strings.Cut(tr, ":")
		req.Header.Add("X-Amz-Trailer", name)
	}
	req.Header.Set("X-Amz-Content-Sha256", mode)
	signHTTP(t, req, testAccessKey, testSecret, "", mode, testTime)
	authz := req.Header.Get("Authorization")
	seed := authz[strings.LastIndex(authz, "=")+1:]
	s := newTestChunkSigner(testSecret, testTime.Format(amzDateLayout), testRegion, seed)
	var body bytes.Buffer
	var data []byte
	for _, n := range sizes {
		chunk := bytes.Repeat([]byte{fill}, n)
		data = append(data, chunk...)
		s.chunk(&body, chunk)
	}
	s.chunk(&body, nil)
	if len(trailers) > 0 {
		s.trailer(&body, trailers...)
	} else {
		body.WriteString("\r\n")
	}
	r := httptest.NewRequest(http.MethodPut, "/bucket/key", bytes.NewReader(body.Bytes()))
	r.Host = "s3.example.com"
	r.Header = req.Header.Clone()
	return r, data
}

func TestChunkedSizes(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
		want  string
	}{
		{name: "one-big-chunk", sizes: []int{1 << 20}, want: "ok"},
		{name: "uneven", sizes: []int{8192, 100000, 8192, 1}, want: "ok"},
		{name: "min-then-small", sizes: []int{8192, 8191}, want: "ok"},
		{name: "small-then-more", sizes: []int{8191, 8192}, want: "InvalidChunkSizeError"},
		{name: "small-then-small", sizes: []int{100, 100}, want: "InvalidChunkSizeError"},
		{name: "only-small", sizes: []int{100}, want: "ok"},
		{name: "empty", sizes: nil, want: "ok"},
	}
	for _, tc := range tests {
		t.Run("case="+tc.name, func(t *testing.T) {
			r, data := signedStreamingBody(t, tc.sizes, 'x')
			res, err := testVerifier().Verify(r)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got, err := io.ReadAll(res.Body)
			if k := kindOf(err); k != tc.want {
				t.Fatalf("reading Body: %s, want %s", k, tc.want)
			}
			if tc.want == "ok" && !bytes.Equal(got, data) {
				t.Fatalf("decoded %d bytes, want %d", len(got), len(data))
			}
		})
	}
}

// TestChunkedSignedTrailers covers trailer layouts with testChunkSigner.
func TestChunkedSignedTrailers(t *testing.T) {
	r, _ := signedStreamingBody(t, []int{10}, 'y', "x-amz-checksum-sha256:"+"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
	res, err := testVerifier().Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(res.Body); err != nil {
		t.Fatalf("reading Body: %v", err)
	}
	if got := res.Trailer().Get("X-Amz-Checksum-Sha256"); got != "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" {
		t.Fatalf("trailer = %q", got)
	}
}

// TestChunkedBoundedMemory decodes one 64 MiB signed chunk: the decoder
// must not buffer it.
func TestChunkedBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 64 MiB body")
	}
	r, _ := signedStreamingBody(t, []int{64 << 20}, 'z')
	res, err := testVerifier().Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{res.Body}, buf)
	runtime.ReadMemStats(&after)
	if err != nil || n != 64<<20 {
		t.Fatalf("read %d bytes, err %v", n, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<10 {
		t.Fatalf("decoding a 64 MiB chunk allocated %d bytes, want < 64 KiB", alloc)
	}
}

// TestChunkedCloseEarly: closing before the end makes further reads fail
// rather than report a clean end.
func TestChunkedCloseEarly(t *testing.T) {
	r, _ := signedStreamingBody(t, []int{20000}, 'q')
	res, err := testVerifier().Verify(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := res.Body.Read(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if err := res.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := res.Body.Read(make([]byte, 100)); err == nil || err == io.EOF {
		t.Fatalf("read after Close: %v, want an error", err)
	}
	if res.Trailer() != nil {
		t.Fatal("Trailer() after an early Close is not nil")
	}
}
