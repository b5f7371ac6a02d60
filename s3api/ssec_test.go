package s3api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func ssecKey(fill byte) (key, keyMD5 string) {
	k := bytes.Repeat([]byte{fill}, 32)
	sum := md5.Sum(k)
	return base64.StdEncoding.EncodeToString(k), base64.StdEncoding.EncodeToString(sum[:])
}

// TestSSEC: with a customer-provided key, reads need the same key; a wrong
// or missing key is refused, and copies and multipart uploads carry it.
func TestSSEC(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := context.Background()
	createBucket(t, c, "ssec")
	k1, m1 := ssecKey(1)
	k2, m2 := ssecKey(2)
	body := payload(200<<10, 9)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ssec"), Key: aws.String("doc"), Body: bytes.NewReader(body),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k1), SSECustomerKeyMD5: aws.String(m1)})
	if err != nil {
		t.Fatalf("PutObject with SSE-C: %v", err)
	}
	if got := aws.ToString(put.SSECustomerKeyMD5); got != m1 {
		t.Fatalf("PutObject SSECustomerKeyMD5 = %q, want %q", got, m1)
	}
	got, out := getObject(t, c, &s3.GetObjectInput{Bucket: aws.String("ssec"), Key: aws.String("doc"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k1), SSECustomerKeyMD5: aws.String(m1)})
	if !bytes.Equal(got, body) || aws.ToString(out.SSECustomerKeyMD5) != m1 {
		t.Fatalf("GET with the key: %d bytes (equal %v), key MD5 %q", len(got), bytes.Equal(got, body), aws.ToString(out.SSECustomerKeyMD5))
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ssec"), Key: aws.String("doc")})
	wantAPIError(t, err, http.StatusBadRequest, "InvalidRequest")
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("ssec"), Key: aws.String("doc")})
	if statusOf(err) != http.StatusBadRequest {
		t.Fatalf("HEAD without the key: %v, want 400", err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ssec"), Key: aws.String("doc"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k2), SSECustomerKeyMD5: aws.String(m2)})
	wantAPIError(t, err, http.StatusForbidden, "AccessDenied")

	// A key for an object stored without one.
	putObject(t, c, "ssec", "plain", []byte("plain"))
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ssec"), Key: aws.String("plain"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k1), SSECustomerKeyMD5: aws.String(m1)})
	wantAPIError(t, err, http.StatusBadRequest, "InvalidRequest")

	// A copy re-encrypted under another customer key.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("ssec"), Key: aws.String("copy"), CopySource: aws.String("ssec/doc"),
		CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: aws.String(k1), CopySourceSSECustomerKeyMD5: aws.String(m1),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k2), SSECustomerKeyMD5: aws.String(m2)})
	if err != nil {
		t.Fatalf("CopyObject between customer keys: %v", err)
	}
	got, _ = getObject(t, c, &s3.GetObjectInput{Bucket: aws.String("ssec"), Key: aws.String("copy"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k2), SSECustomerKeyMD5: aws.String(m2)})
	if !bytes.Equal(got, body) {
		t.Fatal("the copy under the second key does not read back")
	}

	// Multipart: every part with the key of the upload; a part under another key is refused.
	cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("ssec"), Key: aws.String("mp"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k1), SSECustomerKeyMD5: aws.String(m1)})
	if err != nil {
		t.Fatal(err)
	}
	part1 := payload(5<<20, 1)
	up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("ssec"), Key: aws.String("mp"), UploadId: cu.UploadId, PartNumber: aws.Int32(1),
		Body: bytes.NewReader(part1), SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k1), SSECustomerKeyMD5: aws.String(m1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("ssec"), Key: aws.String("mp"), UploadId: cu.UploadId, PartNumber: aws.Int32(2),
		Body: bytes.NewReader([]byte("x")), SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k2), SSECustomerKeyMD5: aws.String(m2)})
	wantAPIError(t, err, http.StatusForbidden, "AccessDenied")
	up2, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("ssec"), Key: aws.String("mp"), UploadId: cu.UploadId, PartNumber: aws.Int32(2),
		Body: bytes.NewReader([]byte("tail")), SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k1), SSECustomerKeyMD5: aws.String(m1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("ssec"), Key: aws.String("mp"), UploadId: cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: up.ETag}, {PartNumber: aws.Int32(2), ETag: up2.ETag}}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ssec"), Key: aws.String("mp"), Range: aws.String("bytes=5242878-5242881"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k1), SSECustomerKeyMD5: aws.String(m1)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if want := string(part1[len(part1)-2:]) + "ta"; string(b) != want {
		t.Fatalf("range across SSE-C parts = %q, want %q", b, want)
	}
}
