package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffre-cloud/coffre/backend/internal/remotetest"
	"github.com/coffre-cloud/coffre/backend/s3"
	"github.com/coffre-cloud/coffre/internal/testenv"
)

// raw is an S3 client of the binary's Swift, to look at a bucket the way
// an operator would, under the store's feet.
func raw(t *testing.T) *awss3.Client {
	sw := testenv.Swift(t)
	return awss3.New(awss3.Options{
		BaseEndpoint:               aws.String(sw.S3Endpoint),
		Region:                     sw.S3Region,
		Credentials:                credentials.NewStaticCredentialsProvider(sw.S3AccessKey, sw.S3SecretKey, ""),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// rawKeys lists the bucket's keys with the raw client.
func rawKeys(t *testing.T, bucket string) []string {
	t.Helper()
	out, err := raw(t).ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatalf("raw listing of %s: %v", bucket, err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	return keys
}

// uploads lists the multipart uploads in progress in the bucket.
func uploads(t *testing.T, bucket string) []string {
	t.Helper()
	out, err := raw(t).ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatalf("listing the multipart uploads of %s: %v", bucket, err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, *u.Key)
	}
	return keys
}

func TestOpenCreatesBucket(t *testing.T) {
	cfg := config(t)
	if _, err := raw(t).HeadBucket(t.Context(), &awss3.HeadBucketInput{Bucket: &cfg.Bucket}); err == nil {
		t.Fatalf("bucket %s exists before Open", cfg.Bucket)
	}
	s := open(t, cfg)
	if _, err := raw(t).HeadBucket(t.Context(), &awss3.HeadBucketInput{Bucket: &cfg.Bucket}); err != nil {
		t.Fatalf("bucket %s after Open: %v", cfg.Bucket, err)
	}
	remotetest.Put(t, s, "a", []byte("a"))
	if got := remotetest.Get(t, open(t, cfg), "a", 0, -1); string(got) != "a" {
		t.Fatalf("Get through a second Open = %q, want %q", got, "a")
	}
}

func TestOpenErrors(t *testing.T) {
	closed := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	fast := func(tb testing.TB) s3.Config {
		c := config(tb)
		c.Retries, c.RetryBase, c.RetryMax = 2, 10*time.Millisecond, 20*time.Millisecond
		return c
	}
	remotetest.OpenErrors(t, fast, s3.Open, s3.ErrAuth, []remotetest.OpenError[s3.Config]{
		{Name: "secret=wrong", Change: func(c *s3.Config) { c.SecretKey = "wrong" }, Auth: true, Contains: []string{"test:tester", "secret_key"}},
		{Name: "key=unknown", Change: func(c *s3.Config) { c.AccessKey = "test:nobody" }, Auth: true, Contains: []string{"test:nobody", "check"}},
		{Name: "server=down", Change: func(c *s3.Config) { c.Endpoint = closed }, Contains: []string{"connection refused"}},
		{Name: "bucket=invalid", Change: func(c *s3.Config) { c.Bucket = "a" }, Contains: []string{"bucket \"a\""}},
		{Name: "part=small", Change: func(c *s3.Config) { c.PartSize = 1 << 20 }, Contains: []string{"part_size"}},
	})
}

// TestMultipart writes 20 MiB blobs in 5 MiB parts, of known and unknown
// size, reads ranges across the parts' boundaries, and checks that failed
// uploads (reader error, reader too long or too short) leave no object
// and no upload behind.
func TestMultipart(t *testing.T) {
	const size = 20<<20 + 3
	const part = 5 << 20
	data := remotetest.Random(t, size)
	cfg := config(t)
	cfg.PartSize = part
	cfg.Concurrency = 3
	s := open(t, cfg)
	for _, given := range []int64{size, -1} {
		t.Run(fmt.Sprintf("size=%d", given), func(t *testing.T) {
			name := "obj/20/big"
			if err := s.Put(t.Context(), name, struct{ io.Reader }{bytes.NewReader(data)}, given); err != nil {
				t.Fatalf("Put(20 MiB, size=%d) = %v", given, err)
			}
			out, err := raw(t).HeadObject(t.Context(), &awss3.HeadObjectInput{Bucket: &cfg.Bucket, Key: &name})
			if err != nil {
				t.Fatal(err)
			}
			if etag := aws.ToString(out.ETag); !strings.HasSuffix(etag, `-5"`) {
				t.Errorf("ETag %s, want the ETag of a 5-part upload", etag)
			}
			remotetest.CheckRanges(t, s, name, data, [][2]int64{{part - 1, 2}, {part, 1}, {3*part + 5, part + 17}, {size - 1, -1}, {size - 10, 100}, {size, -1}})
			if err := s.Delete(t.Context(), name); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("failures", func(t *testing.T) {
		prev := remotetest.Random(t, 100)
		remotetest.Put(t, s, "existing", prev)
		for _, tt := range []struct {
			name string
			r    io.Reader
			size int64
		}{
			{"reader=fails", io.MultiReader(bytes.NewReader(data[:12<<20]), failing{}), size},
			{"reader=long", bytes.NewReader(data), size - 1},
			{"reader=short", bytes.NewReader(data[:size-1]), size},
			{"reader=fails/size=unknown", io.MultiReader(bytes.NewReader(data[:12<<20]), failing{}), -1},
		} {
			for _, name := range []string{"fresh", "existing"} {
				if err := s.Put(t.Context(), name, tt.r, tt.size); err == nil {
					t.Errorf("%s: Put(%q) = nil, want an error", tt.name, name)
				}
				if r, ok := tt.r.(*bytes.Reader); ok {
					r.Seek(0, io.SeekStart)
				}
			}
		}
		remotetest.CheckMissing(t, s, "fresh")
		if got := remotetest.Get(t, s, "existing", 0, -1); !bytes.Equal(got, prev) {
			t.Errorf("existing blob changed by failed Puts: %d bytes", len(got))
		}
		if u := uploads(t, cfg.Bucket); len(u) != 0 {
			t.Errorf("multipart uploads left behind: %q", u)
		}
	})
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("reader failed on purpose") }

// TestListPages lists across pages of three keys, in a bucket shared with
// another prefix and holding keys that are not blob names.
func TestListPages(t *testing.T) {
	cfg := config(t)
	cfg.ListPageSize = 3
	cfg.Prefix = "site-a/"
	s := open(t, cfg)
	other := cfg
	other.Prefix = "site-b/"
	remotetest.Put(t, open(t, other), "p/00", []byte("other"))
	remotetest.ListPages(t, s, nil, func() {
		for _, key := range []string{"site-a/p/not a blob", "site-a/p//x", "site-a", "p/00"} {
			if _, err := raw(t).PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &cfg.Bucket, Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
				t.Fatal(err)
			}
		}
	})
	if got := rawKeys(t, cfg.Bucket); !slices.Contains(got, "site-a/p/00") || !slices.Contains(got, "site-b/p/00") {
		t.Errorf("keys in the bucket %q, want the prefixes in them", got)
	}
}

// TestProxyDown stops the Swift proxy (and with it the S3 API) under
// operations: each fails, and nothing partial becomes visible.
func TestProxyDown(t *testing.T) {
	sw := testenv.Swift(t)
	cfg := config(t)
	cfg.Retries, cfg.RetryBase, cfg.RetryMax = 2, 10*time.Millisecond, 50*time.Millisecond
	cfg.PartSize = 5 << 20
	s := open(t, cfg)
	prev := remotetest.Random(t, 1000)
	remotetest.Put(t, s, "existing", prev)
	data := remotetest.Random(t, 20<<20)

	t.Run("op=put/path=multipart", func(t *testing.T) { remotetest.StoppedPut(t, sw, s, data, 11<<20, prev) })
	t.Run("ops=all", func(t *testing.T) { remotetest.Down(t, sw, s, s3.Open, cfg, prev) })
	t.Run("op=get/resume", func(t *testing.T) {
		cfg := cfg
		cfg.Retries, cfg.RetryBase, cfg.RetryMax = 12, 100*time.Millisecond, time.Second
		remotetest.ReadAcrossRestart(t, sw, open(t, cfg), "big", data)
	})
}

// TestRetries checks the SDK's retryer as configured (transient statuses
// retried, bounded, others not) and the resumption of cut responses.
func TestRetries(t *testing.T) {
	f := remotetest.NewFront(t, testenv.Swift(t).S3Endpoint, remotetest.FrontOpts{})
	cfg := config(t)
	cfg.Endpoint = f.URL
	cfg.RetryBase, cfg.RetryMax = 10*time.Millisecond, 40*time.Millisecond
	cfg.PartSize = 5 << 20
	s := open(t, cfg)
	data := remotetest.Random(t, 12<<20)

	t.Run("status=503", func(t *testing.T) {
		for _, size := range []int{10, 12 << 20} { // PutObject, multipart
			remotetest.Retried(t, f, s, data[:size], 500)
		}
	})
	t.Run("status=400", func(t *testing.T) { remotetest.NotRetried(t, f, s) })
	t.Run("status=always503", func(t *testing.T) { remotetest.RetriesBounded(t, f, s) })
	// 1 MiB, 1 MiB, 1 MiB, then the rest in one response.
	t.Run("get=cut", func(t *testing.T) { remotetest.CutResponses(t, f, s, data, 4) })
}

// TestContext checks that a Get's reader stops with its context, and that
// a multipart Put cancelled midway aborts its upload.
func TestContext(t *testing.T) {
	cfg := config(t)
	cfg.PartSize = 5 << 20
	s := open(t, cfg)
	data := remotetest.Random(t, 12<<20)
	remotetest.Put(t, s, "x", data)
	remotetest.CancelledRead(t, s, "x")

	ctx, cancel := context.WithCancel(t.Context())
	r := &remotetest.HookReader{R: bytes.NewReader(data), After: 7 << 20, Hook: cancel}
	if err := s.Put(ctx, "y", r, int64(len(data))); !errors.Is(err, context.Canceled) {
		t.Errorf("Put cancelled after 7 MiB of 12 = %v, want context.Canceled", err)
	}
	remotetest.CheckMissing(t, s, "y")
	if u := uploads(t, cfg.Bucket); len(u) != 0 {
		t.Errorf("multipart uploads left behind: %q", u)
	}
}
