package checksum_test

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/s3api/checksum"
	"github.com/coffre-cloud/coffre/s3api/sigv4"
)

// TestWithSigV4 composes the two packages as the S3 layer does: sigv4
// decodes and authenticates the aws-chunked body, checksum verifies the
// x-amz-checksum-crc32c trailer it carries. The request is the S3 API
// reference's signed-trailer example.
func TestWithSigV4(t *testing.T) {
	for _, tc := range []struct {
		name, trailerValue, want string
	}{
		{"aws-example", "sOO8/Q==", "ok"},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			var body bytes.Buffer
			body.WriteString("10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n")
			body.WriteString(strings.Repeat("a", 65536) + "\r\n")
			body.WriteString("400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n")
			body.WriteString(strings.Repeat("a", 1024) + "\r\n")
			body.WriteString("0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n")
			body.WriteString("x-amz-checksum-crc32c:" + tc.trailerValue + "\r\n")
			body.WriteString("x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n")
			r := httptest.NewRequest("PUT", "/examplebucket/chunkObject.txt", &body)
			r.Host = "s3.amazonaws.com"
			for k, v := range map[string]string{
				"X-Amz-Date":                   "20130524T000000Z",
				"X-Amz-Storage-Class":          "REDUCED_REDUNDANCY",
				"X-Amz-Content-Sha256":         "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
				"Content-Encoding":             "aws-chunked",
				"X-Amz-Decoded-Content-Length": "66560",
				"X-Amz-Trailer":                "x-amz-checksum-crc32c",
				"Authorization":                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
			} {
				r.Header.Set(k, v)
			}
			v := &sigv4.Verifier{
				Lookup: func(context.Context, string) (string, error) { return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", nil },
				Now:    func() time.Time { return time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC) },
			}
			res, err := v.Verify(r)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := checksum.FromRequest(r.Header)
			if err != nil {
				t.Fatal(err)
			}
			if spec.Algorithm != checksum.CRC32C || !spec.InTrailer {
				t.Fatalf("Spec = %+v, want CRC32C in the trailer", spec)
			}
			cr := checksum.NewReader(res.Body, spec, res.Trailer)
			n, err := io.Copy(io.Discard, cr)
			if err != nil || n != 66560 {
				t.Fatalf("read %d bytes: %v", n, err)
			}
			if alg, sum := cr.Sum(); alg != checksum.CRC32C || sum != "sOO8/Q==" {
				t.Fatalf("Sum() = %s %s", alg, sum)
			}
			if res.ContentEncoding != "" {
				t.Fatalf("ContentEncoding = %q, want aws-chunked removed", res.ContentEncoding)
			}
		})
	}
}
