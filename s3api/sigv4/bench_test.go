package sigv4

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkVerifyHeaderGET measures the common case: a GET signed in the
// Authorization header, as the AWS SDK sends it, with a warm key cache.
func BenchmarkVerifyHeaderGET(b *testing.B) {
	client, _ := http.NewRequest(http.MethodGet, "http://s3.example.com/bucket/photos/2026/img_0042.jpg", nil)
	client.Header.Set("X-Amz-Content-Sha256", emptySHA256Hex)
	client.Header.Set("User-Agent", "aws-sdk-go-v2/1.36.0 os/linux lang/go#1.26 md/GOOS#linux md/GOARCH#amd64 api/s3#1.114.10")
	client.Header.Set("Amz-Sdk-Invocation-Id", "3f6c3e5e-6a66-4b9c-9e43-6bd51c6cbd36")
	client.Header.Set("Accept-Encoding", "identity")
	signHTTP(b, client, testAccessKey, testSecret, "", emptySHA256Hex, testTime)

	r := httptest.NewRequest(http.MethodGet, "/bucket/photos/2026/img_0042.jpg", nil)
	r.Host = "s3.example.com"
	r.Header = client.Header.Clone()
	v := testVerifier()
	if _, err := v.Verify(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPresignedGET is the same GET through a presigned URL.
func BenchmarkVerifyPresignedGET(b *testing.B) {
	client := presignRequest{}.presign(b, "http://s3.example.com")
	r := httptest.NewRequest(http.MethodGet, client.URL.RequestURI(), nil)
	r.Host = "s3.example.com"
	v := testVerifier()
	if _, err := v.Verify(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkChunked(b *testing.B, signed bool) {
	const size, chunk = 64 << 20, 64 << 10
	var body []byte
	var headers http.Header
	if signed {
		sizes := make([]int, size/chunk)
		for i := range sizes {
			sizes[i] = chunk
		}
		r, _ := signedStreamingBody(b, sizes, 'x')
		body, _ = io.ReadAll(r.Body)
		headers = r.Header
	} else {
		var buf bytes.Buffer
		data := bytes.Repeat([]byte{'x'}, chunk)
		for range size / chunk {
			buf.WriteString("10000\r\n")
			buf.Write(data)
			buf.WriteString("\r\n")
		}
		buf.WriteString("0\r\n\r\n")
		body = buf.Bytes()
		headers = http.Header{
			"X-Amz-Content-Sha256":         {streamingUnsignedPayloadTrailer},
			"X-Amz-Decoded-Content-Length": {"67108864"},
		}
	}
	v := testVerifier()
	buf := make([]byte, 256<<10)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPut, "/bucket/key", bytes.NewReader(body))
		r.Host = "s3.example.com"
		r.Header = headers
		res, err := v.Verify(r)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{res.Body}, buf)
		if err != nil || n != size {
			b.Fatalf("decoded %d bytes: %v", n, err)
		}
	}
}

// BenchmarkChunkedDecode decodes 64 MiB of STREAMING-AWS4-HMAC-SHA256-PAYLOAD
// in 64 KiB chunks: one SHA-256 over the data and one HMAC per chunk.
func BenchmarkChunkedDecode(b *testing.B) {
	b.Run("signed", func(b *testing.B) { benchmarkChunked(b, true) })
	b.Run("unsigned", func(b *testing.B) { benchmarkChunked(b, false) })
}

// TestVerifyConcurrent shares one Verifier (key cache, HMAC pools, scratch
// buffers) between goroutines; run it with -race.
func TestVerifyConcurrent(t *testing.T) {
	keys := map[string]string{}
	var reqs []*http.Request
	for i := range 8 {
		ak, secret := "AKID"+string(rune('A'+i)), "secret-"+string(rune('a'+i))
		keys[ak] = secret
		client, _ := http.NewRequest(http.MethodGet, "http://s3.example.com/bucket/k?list-type=2&prefix=p"+string(rune('0'+i)), nil)
		client.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
		signHTTP(t, client, ak, secret, "", unsignedPayload, testTime)
		r := httptest.NewRequest(http.MethodGet, client.URL.RequestURI(), nil)
		r.Host = "s3.example.com"
		r.Header = client.Header
		reqs = append(reqs, r)
	}
	v := &Verifier{Lookup: staticLookup(keys), Now: fixedClock(testTime)}
	errs := make(chan error, 16)
	for g := range 16 {
		go func() {
			var err error
			for i := range 200 {
				if _, err = v.Verify(reqs[(g+i)%len(reqs)]); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
