package sigv4

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
)

// These tests run real S3 clients against a server whose handler calls
// Verify and reads Body to the end: the signatures, chunk framings and
// trailers are those the SDKs put on the wire, not our idea of them.

func realTimeVerifier() *Verifier {
	return &Verifier{Lookup: staticLookup(map[string]string{testAccessKey: testSecret})}
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func crcBase64(tab *crc32.Table, b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(b, tab))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func newMinio(t *testing.T, srv *verifyServer, trailing bool) *minio.Client {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(srv.URL, "http://"), &minio.Options{
		Creds:           miniocreds.NewStaticV4(testAccessKey, testSecret, ""),
		Region:          testRegion,
		TrailingHeaders: trailing,
		Transport:       srv.Client().Transport,
		MaxRetries:      1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Sizes around the 64 KiB chunk minio-go uses, and the 8 KiB minimum chunk.
var streamingSizes = []int{0, 1, 8191, 8192, 65535, 65536, 65537, 3*65536 + 17}

func TestMinioPutObject(t *testing.T) {
	srv := newVerifyServer(t, realTimeVerifier(), false)
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	tests := []struct {
		name        string
		trailing    bool
		opts        minio.PutObjectOptions
		wantPayload string
		wantTrailer string // trailer name carrying a CRC32C, "" for none
	}{
		{name: "signed-chunks", wantPayload: streamingPayload},
		{name: "signed-chunks-trailer", trailing: true, opts: minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C}, wantPayload: streamingPayloadTrailer, wantTrailer: "X-Amz-Checksum-Crc32c"},
		{name: "unsigned-trailer", trailing: true, opts: minio.PutObjectOptions{DisableContentSha256: true, Checksum: minio.ChecksumCRC32C}, wantPayload: streamingUnsignedPayloadTrailer, wantTrailer: "X-Amz-Checksum-Crc32c"},
		{name: "metadata", opts: minio.PutObjectOptions{ContentType: "text/plain", UserMetadata: map[string]string{"Owner": "Alice  and   Bob"}, StorageClass: "STANDARD"}, wantPayload: streamingPayload},
	}
	for _, tc := range tests {
		for _, size := range streamingSizes {
			if tc.wantTrailer != "" && size == 0 {
				continue // minio-go sends no trailer for an empty object
			}
			t.Run(fmt.Sprintf("mode=%s/size=%d", tc.name, size), func(t *testing.T) {
				c := newMinio(t, srv, tc.trailing)
				data := randomBytes(size, uint64(size))
				_, err := c.PutObject(context.Background(), "bucket", "dir/key with spaces+é.bin", bytes.NewReader(data), int64(size), tc.opts)
				outs := srv.take()
				if len(outs) != 1 {
					t.Fatalf("server saw %d requests, want 1 (client error: %v)", len(outs), err)
				}
				o := outs[0]
				if k := o.kind(); k != "ok" {
					t.Fatalf("outcome %s (verify: %v, body: %v)", k, o.verifyErr, o.bodyErr)
				}
				if err != nil {
					t.Fatalf("PutObject: %v", err)
				}
				if got := o.header.Get("X-Amz-Content-Sha256"); size > 0 && got != tc.wantPayload {
					t.Fatalf("x-amz-content-sha256 = %s, want %s", got, tc.wantPayload)
				}
				if !bytes.Equal(o.body, data) {
					t.Fatalf("decoded body differs: %d bytes, want %d", len(o.body), len(data))
				}
				if o.res.DecodedLength != int64(size) {
					t.Fatalf("DecodedLength = %d, want %d", o.res.DecodedLength, size)
				}
				if strings.Contains(o.res.ContentEncoding, "aws-chunked") {
					t.Fatalf("ContentEncoding = %q still lists aws-chunked", o.res.ContentEncoding)
				}
				if tc.wantTrailer != "" {
					if got, want := o.trailer.Get(tc.wantTrailer), crcBase64(castagnoli, data); got != want {
						t.Fatalf("trailer %s = %q, want %q (trailers %v)", tc.wantTrailer, got, want, o.trailer)
					}
				}
			})
		}
	}
}

func TestMinioOtherCalls(t *testing.T) {
	srv := newVerifyServer(t, realTimeVerifier(), false)
	c := newMinio(t, srv, false)
	ctx := context.Background()
	key := "photos/2026/été à Paris (1)!.jpg"

	obj, err := c.GetObject(ctx, "bucket", key, minio.GetObjectOptions{})
	if err == nil {
		_, err = io.ReadAll(obj)
	}
	checkOutcomes(t, srv, "GetObject", err)

	_, err = c.StatObject(ctx, "bucket", key, minio.StatObjectOptions{})
	checkOutcomes(t, srv, "StatObject", err)

	for obj := range c.ListObjects(ctx, "bucket", minio.ListObjectsOptions{Prefix: "photos/été ", Recursive: true, StartAfter: "a+b"}) {
		err = obj.Err
	}
	checkOutcomes(t, srv, "ListObjects", err)

	u, err := c.PresignedGetObject(ctx, "bucket", key, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Get(u.String())
	if err == nil {
		resp.Body.Close()
	}
	checkOutcomes(t, srv, "PresignedGetObject", err)

	u, err = c.PresignedPutObject(ctx, "bucket", key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, u.String(), strings.NewReader("presigned body"))
	resp, err = srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
	}
	outs := checkOutcomes(t, srv, "PresignedPutObject", err)
	if got := string(outs[0].body); got != "presigned body" {
		t.Fatalf("presigned PUT body = %q", got)
	}
}

// checkOutcomes fails unless every request the server saw since the last
// call verified and the client call succeeded.
func checkOutcomes(t *testing.T, srv *verifyServer, call string, clientErr error) []outcome {
	t.Helper()
	outs := srv.take()
	if len(outs) == 0 {
		t.Fatalf("%s: server saw no request (client error: %v)", call, clientErr)
	}
	for _, o := range outs {
		if k := o.kind(); k != "ok" {
			t.Fatalf("%s: outcome %s (verify: %v, body: %v)", call, k, o.verifyErr, o.bodyErr)
		}
	}
	if clientErr != nil {
		t.Fatalf("%s: %v", call, clientErr)
	}
	return outs
}

func newS3Client(srv *verifyServer) *s3.Client {
	return s3.New(s3.Options{
		Region:           testRegion,
		Credentials:      awscreds.NewStaticCredentialsProvider(testAccessKey, testSecret, ""),
		BaseEndpoint:     aws.String(srv.URL),
		UsePathStyle:     true,
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
		// What config.LoadDefaultConfig sets: checksums on every upload.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
	})
}

func TestAWSSDKPutObject(t *testing.T) {
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	tests := []struct {
		name        string
		tls         bool
		alg         s3types.ChecksumAlgorithm
		wantPayload string // "" for a hex SHA-256
		wantName    string
		wantValue   func([]byte) string
	}{
		// Over HTTPS the SDK streams the body as aws-chunked with the
		// checksum in a trailer; over HTTP it signs the SHA-256 and sends
		// the checksum as a header.
		{name: "https-crc32-trailer", tls: true, wantPayload: streamingUnsignedPayloadTrailer, wantName: "X-Amz-Checksum-Crc32", wantValue: func(b []byte) string { return crcBase64(crc32.IEEETable, b) }},
		{name: "https-crc32c-trailer", tls: true, alg: s3types.ChecksumAlgorithmCrc32c, wantPayload: streamingUnsignedPayloadTrailer, wantName: "X-Amz-Checksum-Crc32c", wantValue: func(b []byte) string { return crcBase64(castagnoli, b) }},
		{name: "http-sha256", wantName: "X-Amz-Checksum-Crc32", wantValue: func(b []byte) string { return crcBase64(crc32.IEEETable, b) }},
	}
	for _, tc := range tests {
		srv := newVerifyServer(t, realTimeVerifier(), tc.tls)
		client := newS3Client(srv)
		for _, size := range []int{0, 1, 65536, 200000} {
			t.Run(fmt.Sprintf("mode=%s/size=%d", tc.name, size), func(t *testing.T) {
				data := randomBytes(size, uint64(size)+7)
				_, err := client.PutObject(context.Background(), &s3.PutObjectInput{
					Bucket:            aws.String("bucket"),
					Key:               aws.String("a/b c/ü+&=.txt"),
					Body:              bytes.NewReader(data),
					ChecksumAlgorithm: tc.alg,
					ContentType:       aws.String("application/octet-stream"),
					Metadata:          map[string]string{"purpose": "test"},
				})
				o := checkOutcomes(t, srv, "PutObject", err)[0]
				payload := o.header.Get("X-Amz-Content-Sha256")
				wantPayload := tc.wantPayload
				if size == 0 && wantPayload != "" {
					// Nothing to stream: the SDK sends the checksum as a header.
					wantPayload = unsignedPayload
				}
				if wantPayload != "" && payload != wantPayload {
					t.Fatalf("x-amz-content-sha256 = %s, want %s", payload, wantPayload)
				}
				if wantPayload == "" && payload != hexSHA256(data) {
					t.Fatalf("x-amz-content-sha256 = %s, want the hex SHA-256", payload)
				}
				if !bytes.Equal(o.body, data) {
					t.Fatalf("decoded body differs: %d bytes, want %d", len(o.body), len(data))
				}
				got := o.header.Get(tc.wantName)
				if wantPayload == streamingUnsignedPayloadTrailer {
					got = o.trailer.Get(tc.wantName)
				}
				if want := tc.wantValue(data); got != want {
					t.Fatalf("%s = %q, want %q (trailers %v)", tc.wantName, got, want, o.trailer)
				}
			})
		}
	}
}

func TestAWSSDKOtherCalls(t *testing.T) {
	srv := newVerifyServer(t, realTimeVerifier(), true)
	client := newS3Client(srv)
	ctx := context.Background()
	key := aws.String("dir/sub dir/naïve+key=1&2.txt")

	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: key, Range: aws.String("bytes=0-4")})
	if err == nil {
		io.Copy(io.Discard, out.Body)
		out.Body.Close()
	}
	checkOutcomes(t, srv, "GetObject", err)

	_, err = client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bucket"), Prefix: aws.String("dir/sub dir/"), Delimiter: aws.String("/"), StartAfter: aws.String("a~b*c")})
	checkOutcomes(t, srv, "ListObjectsV2", err)

	presign := s3.NewPresignClient(client)
	get, err := presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: key, ResponseContentDisposition: aws.String(`attachment; filename="x y.txt"`)}, s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(get.Method, get.URL, nil)
	for k, v := range get.SignedHeader {
		if k != "Host" {
			req.Header[k] = v
		}
	}
	resp, err := srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
	}
	checkOutcomes(t, srv, "PresignGetObject", err)

	put, err := presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: key, ContentType: aws.String("text/plain")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(put.Method, put.URL, strings.NewReader("from a browser"))
	for k, v := range put.SignedHeader {
		if k != "Host" {
			req.Header[k] = v
		}
	}
	resp, err = srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
	}
	o := checkOutcomes(t, srv, "PresignPutObject", err)[0]
	if !o.res.Presigned || string(o.body) != "from a browser" {
		t.Fatalf("presigned PUT: Presigned=%v body=%q", o.res.Presigned, o.body)
	}
}
