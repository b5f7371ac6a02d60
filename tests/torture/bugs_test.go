package torture_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The tests below reproduce, in their smallest form, the violations that
// TestFaultTorture found (kind client_error_for_server_fault). Each fails
// until Coffre is fixed: a backend that fails is the server's fault, to be
// answered with a 5xx that clients retry (README: "an offer that is down
// fails writes with ServiceUnavailable"), never with 400 IncompleteBody,
// which tells the client that it sent fewer bytes than its Content-Length
// and which SDKs do not retry.

// TestBackendWriteFailureIsServerError writes 1 MiB (above the inline
// maximum, so it goes to the backend) while the backend's Put fails, before
// reading the body or partway through it. vault.bodyError checks "fewer
// bytes read than declared" before "the backend failed", and the body is
// always short of its end when the backend stops reading it.
func TestBackendWriteFailureIsServerError(t *testing.T) {
	const size = 1 << 20
	for _, tc := range []struct {
		name  string
		rates faultRates
	}{
		{"fault=put-fails-before-reading", faultRates{putError: 1}},
		{"fault=put-fails-partway", faultRates{putShortFail: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site, c := newBugSite(t, tc.rates)
			ctx := t.Context()
			site.faults.on.Store(true)
			_, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("bug"), Key: aws.String("k"),
				Body: newStream(1, 0, size), ContentLength: aws.Int64(size),
			})
			wantServerError(t, "PutObject", err)

			site.faults.on.Store(false)
			cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bug"), Key: aws.String("mp")})
			if err != nil {
				t.Fatalf("CreateMultipartUpload: %v", err)
			}
			site.faults.on.Store(true)
			_, err = c.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: aws.String("bug"), Key: aws.String("mp"), UploadId: cu.UploadId, PartNumber: aws.Int32(1),
				Body: newStream(2, 0, size), ContentLength: aws.Int64(size),
			})
			wantServerError(t, "UploadPart", err)
		})
	}
}

// TestBackendReadCutIsServerError reads a 20 KiB object (on the backend,
// and read whole before the status line is sent) whose backend stream
// breaks with an error wrapping io.ErrUnexpectedEOF, which is what
// backend/s3 and backend/swift return when a response is cut and resuming
// fails (backend/internal/remote). s3api's toAPIError maps every error that
// wraps io.ErrUnexpectedEOF to IncompleteBody, a fault of the request body:
// GetObject and CopyObject (which reads its source) answer 400.
func TestBackendReadCutIsServerError(t *testing.T) {
	const size = 20 << 10
	site, c := newBugSite(t, faultRates{getCut: 1})
	ctx := t.Context()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("bug"), Key: aws.String("k"),
		Body: newStream(1, 0, size), ContentLength: aws.Int64(size),
	}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	site.faults.on.Store(true)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bug"), Key: aws.String("k")})
	if err == nil {
		out.Body.Close()
		t.Fatalf("GetObject succeeded although every backend read breaks (faults injected: %v)", site.faults.stats.lines())
	}
	wantServerError(t, "GetObject", err)
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bug"), Key: aws.String("copy"), CopySource: aws.String("bug/k")})
	wantServerError(t, "CopyObject", err)
}

// newBugSite is a fault site with a bucket "bug", its faults off, and a
// plain-HTTP client.
func newBugSite(t *testing.T, rates faultRates) (*faultSite, *s3.Client) {
	t.Helper()
	w := newWorkload(t, 1, 1, &counters{}) // for the inspector: clean errors only
	site := newFaultSite(t, 1, rates, w)
	c := site.client(1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bug")}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	return site, c
}

func wantServerError(t *testing.T, op string, err error) {
	t.Helper()
	switch status := statusOf(err); {
	case err == nil:
		t.Errorf("%s succeeded; want a 5xx, the backend failed", op)
	case status < 500:
		t.Errorf("%s answered %d %s; want a 5xx (503 ServiceUnavailable): the backend failed, not the request (%v)", op, status, codeOf(err), err)
	}
}
