package s3api_test

// Behaviour of the S3 API as the AWS S3 API Reference documents it, driven
// through aws-sdk-go-v2 against a whole in-process Coffre. Each test names
// the operation it covers; expectations come from the AWS documentation, not
// from Coffre's code.

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"

	"github.com/coffre-cloud/coffre/vault"
)

// TestClientsUseStreamingPayloads checks the premise of the other tests:
// the SDK over TLS sends aws-chunked bodies with a CRC32 trailer, over plain
// HTTP a signed payload hash, and minio-go a signed streaming payload.
func TestClientsUseStreamingPayloads(t *testing.T) {
	s := newStack(t)
	createBucket(t, s.sdk(s.key), "premise")
	tests := []struct {
		name        string
		put         func(t *testing.T, rt http.RoundTripper)
		wantPayload string
		wantTrailer string
	}{
		{"sdk-tls", func(t *testing.T, rt http.RoundTripper) {
			c := s.sdk(s.key, func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: rt} })
			putObject(t, c, "premise", "sdk-tls", payload(100*kiB, 1))
		}, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-checksum-crc32"},
		{"sdk-plain-http", func(t *testing.T, rt http.RoundTripper) {
			c := s.sdk(s.key, s.overHTTP, func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: rt} })
			putObject(t, c, "premise", "sdk-plain", payload(100*kiB, 1))
		}, sha256Hex(payload(100*kiB, 1)), ""},
		{"minio", func(t *testing.T, rt http.RoundTripper) {
			c := s.minioWith(t, s.key, false, rt)
			if _, err := c.PutObject(t.Context(), "premise", "minio", bytes.NewReader(payload(100*kiB, 1)), 100*kiB, minio.PutObjectOptions{}); err != nil {
				t.Fatalf("minio PutObject: %v", err)
			}
		}, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", ""},
		{"minio-trailing", func(t *testing.T, rt http.RoundTripper) {
			c := s.minioWith(t, s.key, true, rt)
			if _, err := c.PutObject(t.Context(), "premise", "minio-t", bytes.NewReader(payload(100*kiB, 1)), 100*kiB, minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C}); err != nil {
				t.Fatalf("minio PutObject: %v", err)
			}
		}, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "x-amz-checksum-crc32c"},
	}
	for _, tt := range tests {
		t.Run("client="+tt.name, func(t *testing.T) {
			base := s.plain.Client().Transport
			if tt.name == "sdk-tls" {
				base = s.tls.Client().Transport
			}
			rec := &recorder{next: base}
			tt.put(t, rec)
			var put *http.Request
			for _, r := range rec.requests() {
				if r.Method == http.MethodPut {
					put = r
				}
			}
			if put == nil {
				t.Fatalf("no PUT request was sent")
			}
			if got := put.Header.Get("X-Amz-Content-Sha256"); got != tt.wantPayload {
				t.Errorf("x-amz-content-sha256 = %q, want %q", got, tt.wantPayload)
			}
			if got := strings.ToLower(put.Header.Get("X-Amz-Trailer")); got != tt.wantTrailer {
				t.Errorf("x-amz-trailer = %q, want %q", got, tt.wantTrailer)
			}
		})
	}
}

// ---- Buckets ----

func TestCreateBucketNames(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	tests := []struct {
		name  string
		valid bool
	}{
		{"abc", true},
		{"my-bucket.2024", true},
		{strings.Repeat("a", 63), true},
		{"ab", false},
		{strings.Repeat("a", 64), false},
		{"Upper", false},
		{"under_score", false},
		{"-leading", false},
		{"trailing-", false},
		{"two..dots", false},
		{"192.168.5.4", false},
		{"xn--punycode", false},
		{"name-s3alias", false},
	}
	for _, tt := range tests {
		t.Run("name="+tt.name, func(t *testing.T) {
			_, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(tt.name)})
			if tt.valid {
				if err != nil {
					t.Fatalf("CreateBucket(%q) = %v, want success", tt.name, err)
				}
				return
			}
			wantAPIError(t, err, http.StatusBadRequest, "InvalidBucketName")
		})
	}
}

func TestCreateBucketTwice(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "twice")
	_, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("twice")})
	wantAPIError(t, err, http.StatusConflict, "BucketAlreadyOwnedByYou")
}

func TestCreateBucketLocationConstraint(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	// us-east-1 is the region of the site: a CreateBucketConfiguration
	// naming another one is refused.
	_, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{
		Bucket:                    aws.String("elsewhere"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest3},
	})
	wantLocationRefused(t, err)
}

// wantLocationRefused accepts both codes S3 uses for a LocationConstraint
// that the endpoint cannot serve: IllegalLocationConstraintException (AWS,
// for a valid region that is not the endpoint's) and
// InvalidLocationConstraint.
func wantLocationRefused(t *testing.T, err error) {
	t.Helper()
	wantAPIError(t, err, http.StatusBadRequest, "")
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() != "IllegalLocationConstraintException" && ae.ErrorCode() != "InvalidLocationConstraint" {
		t.Fatalf("error code = %q, want IllegalLocationConstraintException or InvalidLocationConstraint", ae.ErrorCode())
	}
}

func TestListBuckets(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	names := []string{"zeta", "alpha", "mid.dle"}
	for _, n := range names {
		createBucket(t, c, n)
	}
	out, err := c.ListBuckets(t.Context(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var got []string
	for _, b := range out.Buckets {
		got = append(got, aws.ToString(b.Name))
		if b.CreationDate == nil || time.Since(*b.CreationDate) > time.Hour {
			t.Errorf("bucket %s: CreationDate = %v, want about now", aws.ToString(b.Name), b.CreationDate)
		}
	}
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(got, want) {
		t.Fatalf("ListBuckets = %v, want %v (sorted by name)", got, want)
	}
	if out.Owner == nil || aws.ToString(out.Owner.ID) == "" {
		t.Errorf("ListBuckets Owner = %+v, want an owner with an ID", out.Owner)
	}
}

func TestListBucketsPaging(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	names := []string{"page-a", "page-b", "page-c", "page-d", "page-e"}
	for _, n := range names {
		createBucket(t, c, n)
	}
	var got []string
	p := s3.NewListBucketsPaginator(c, &s3.ListBucketsInput{MaxBuckets: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("ListBuckets max-buckets=2: %v", err)
		}
		if len(out.Buckets) > 2 {
			t.Fatalf("ListBuckets max-buckets=2 returned %d buckets, want at most 2 a page", len(out.Buckets))
		}
		for _, b := range out.Buckets {
			got = append(got, aws.ToString(b.Name))
		}
	}
	if !slices.Equal(got, names) {
		t.Fatalf("paged ListBuckets = %v, want %v", got, names)
	}
}

func TestListBucketsPrefix(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	for _, n := range []string{"abc", "page-b", "page-c", "page-cc", "zzzzzzzzzz"} {
		createBucket(t, c, n)
	}
	out, err := c.ListBuckets(t.Context(), &s3.ListBucketsInput{Prefix: aws.String("page-c")})
	if err != nil {
		t.Fatalf("ListBuckets prefix=page-c: %v", err)
	}
	var got []string
	for _, b := range out.Buckets {
		got = append(got, aws.ToString(b.Name))
	}
	if want := []string{"page-c", "page-cc"}; !slices.Equal(got, want) {
		t.Fatalf("ListBuckets prefix=page-c = %v, want %v", got, want)
	}
}

func TestHeadBucket(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "present")
	tests := []struct {
		bucket string
		status int
	}{
		{"present", http.StatusOK},
		{"absent", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run("bucket="+tt.bucket, func(t *testing.T) {
			_, err := c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(tt.bucket)})
			if tt.status == http.StatusOK {
				if err != nil {
					t.Fatalf("HeadBucket = %v, want 200", err)
				}
				return
			}
			wantAPIError(t, err, tt.status, "")
		})
	}
}

func TestDeleteBucket(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "doomed")
	putObject(t, c, "doomed", "k", []byte("x"))

	_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("doomed")})
	wantAPIError(t, err, http.StatusConflict, "BucketNotEmpty")

	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("doomed"), Key: aws.String("k")}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("doomed")}); err != nil {
		t.Fatalf("DeleteBucket of the emptied bucket = %v, want success", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("doomed")})
	wantAPIError(t, err, http.StatusNotFound, "")
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("doomed")})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchBucket")
}

func TestGetBucketLocation(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "where")
	out, err := c.GetBucketLocation(t.Context(), &s3.GetBucketLocationInput{Bucket: aws.String("where")})
	if err != nil {
		t.Fatalf("GetBucketLocation: %v", err)
	}
	// S3 answers an empty LocationConstraint for us-east-1.
	if got := out.LocationConstraint; got != "" && got != "us-east-1" {
		t.Fatalf("LocationConstraint = %q, want \"\" (us-east-1)", got)
	}
	_, err = c.GetBucketLocation(t.Context(), &s3.GetBucketLocationInput{Bucket: aws.String("nowhere")})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchBucket")
}

func TestBucketVersioning(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "ver")
	out, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("ver")})
	if err != nil {
		t.Fatalf("GetBucketVersioning: %v", err)
	}
	if out.Status != "" {
		t.Fatalf("Status of a new bucket = %q, want none", out.Status)
	}
	for _, st := range []types.BucketVersioningStatus{types.BucketVersioningStatusEnabled, types.BucketVersioningStatusSuspended, types.BucketVersioningStatusEnabled} {
		t.Run("status="+string(st), func(t *testing.T) {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
				Bucket:                  aws.String("ver"),
				VersioningConfiguration: &types.VersioningConfiguration{Status: st},
			})
			if err != nil {
				t.Fatalf("PutBucketVersioning(%s): %v", st, err)
			}
			out, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("ver")})
			if err != nil {
				t.Fatalf("GetBucketVersioning: %v", err)
			}
			if out.Status != st {
				t.Fatalf("Status = %q, want %q", out.Status, st)
			}
		})
	}
}

func TestBucketTagging(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "tagged")
	b := aws.String("tagged")

	_, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchTagSet")

	want := map[string]string{"team": "storage", "cost-centre": "42", "empty": ""}
	var set []types.Tag
	for k, v := range want {
		set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: set}}); err != nil {
		t.Fatalf("PutBucketTagging: %v", err)
	}
	out, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	if err != nil {
		t.Fatalf("GetBucketTagging: %v", err)
	}
	if got := tagMap(out.TagSet); !mapsEqual(got, want) {
		t.Fatalf("GetBucketTagging = %v, want %v", got, want)
	}
	if _, err := c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: b}); err != nil {
		t.Fatalf("DeleteBucketTagging: %v", err)
	}
	_, err = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchTagSet")
}

func tagMap(ts []types.Tag) map[string]string {
	m := make(map[string]string, len(ts))
	for _, t := range ts {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// ---- Objects ----

// clients are the SDK configurations every object test runs with: the
// default (aws-chunked with CRC32 trailers over TLS), checksums only when
// required, and plain HTTP (checksum headers, signed payload hash).
func (s *stack) clients(key vault.AccessKey) []struct {
	name string
	c    *s3.Client
} {
	return []struct {
		name string
		c    *s3.Client
	}{
		{"default", s.sdk(key)},
		{"when-required", s.sdk(key, whenRequired)},
		{"plain-http", s.sdk(key, s.overHTTP)},
	}
}

func TestPutGetObjectSizes(t *testing.T) {
	s := newStack(t)
	createBucket(t, s.sdk(s.key), "sizes")
	sizes := []int{0, 1, 1 * miB, 17 * miB}
	for _, cl := range s.clients(s.key) {
		for _, size := range sizes {
			t.Run(fmt.Sprintf("client=%s/size=%d", cl.name, size), func(t *testing.T) {
				if size > 16*miB && testing.Short() {
					t.Skip("large object skipped in -short mode")
				}
				ctx := t.Context()
				key := fmt.Sprintf("%s/%d", cl.name, size)
				data := payload(size, uint64(size))
				put := putObject(t, cl.c, "sizes", key, data)
				if got, want := aws.ToString(put.ETag), quoted(md5Hex(data)); got != want {
					t.Errorf("PutObject ETag = %s, want %s (the MD5 of the body)", got, want)
				}
				head, err := cl.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sizes"), Key: aws.String(key)})
				if err != nil {
					t.Fatalf("HeadObject: %v", err)
				}
				if got := aws.ToInt64(head.ContentLength); got != int64(size) {
					t.Errorf("HeadObject ContentLength = %d, want %d", got, size)
				}
				if got, want := aws.ToString(head.ETag), quoted(md5Hex(data)); got != want {
					t.Errorf("HeadObject ETag = %s, want %s", got, want)
				}
				got, out := getObject(t, cl.c, &s3.GetObjectInput{Bucket: aws.String("sizes"), Key: aws.String(key)})
				if !bytes.Equal(got, data) {
					t.Fatalf("GetObject body: %d bytes (sha256 %s), want %d bytes (sha256 %s)", len(got), sha256Hex(got), len(data), sha256Hex(data))
				}
				if got, want := aws.ToString(out.ETag), quoted(md5Hex(data)); got != want {
					t.Errorf("GetObject ETag = %s, want %s", got, want)
				}
			})
		}
	}
}

func TestObjectAttributesRoundTrip(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "attrs")
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:             aws.String("attrs"),
		Key:                aws.String("doc.txt"),
		Body:               strings.NewReader("hello"),
		ContentType:        aws.String("text/plain; charset=utf-8"),
		ContentDisposition: aws.String(`attachment; filename="doc.txt"`),
		CacheControl:       aws.String("max-age=60, private"),
		ContentLanguage:    aws.String("fr-FR"),
		Expires:            aws.Time(expires),
		Metadata:           map[string]string{"color": "blue", "project": "coffre sovereign"},
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	check := func(t *testing.T, op string, ct, cd, cc, cl *string, meta map[string]string) {
		t.Helper()
		for _, f := range []struct{ name, got, want string }{
			{"Content-Type", aws.ToString(ct), "text/plain; charset=utf-8"},
			{"Content-Disposition", aws.ToString(cd), `attachment; filename="doc.txt"`},
			{"Cache-Control", aws.ToString(cc), "max-age=60, private"},
			{"Content-Language", aws.ToString(cl), "fr-FR"},
		} {
			if f.got != f.want {
				t.Errorf("%s %s = %q, want %q", op, f.name, f.got, f.want)
			}
		}
		want := map[string]string{"color": "blue", "project": "coffre sovereign"}
		if !mapsEqual(meta, want) {
			t.Errorf("%s Metadata = %v, want %v", op, meta, want)
		}
	}
	t.Run("op=HeadObject", func(t *testing.T) {
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("attrs"), Key: aws.String("doc.txt")})
		if err != nil {
			t.Fatalf("HeadObject: %v", err)
		}
		check(t, "HeadObject", h.ContentType, h.ContentDisposition, h.CacheControl, h.ContentLanguage, h.Metadata)
		if h.ExpiresString == nil || !strings.Contains(*h.ExpiresString, "2030") {
			t.Errorf("HeadObject Expires = %v, want %s", aws.ToString(h.ExpiresString), expires.Format(http.TimeFormat))
		}
	})
	t.Run("op=GetObject", func(t *testing.T) {
		_, g := getObject(t, c, &s3.GetObjectInput{Bucket: aws.String("attrs"), Key: aws.String("doc.txt")})
		check(t, "GetObject", g.ContentType, g.ContentDisposition, g.CacheControl, g.ContentLanguage, g.Metadata)
	})
	t.Run("op=GetObject-response-overrides", func(t *testing.T) {
		_, g := getObject(t, c, &s3.GetObjectInput{
			Bucket:                     aws.String("attrs"),
			Key:                        aws.String("doc.txt"),
			ResponseContentType:        aws.String("application/x-override"),
			ResponseContentDisposition: aws.String("inline"),
		})
		if got := aws.ToString(g.ContentType); got != "application/x-override" {
			t.Errorf("Content-Type with response-content-type = %q, want application/x-override", got)
		}
		if got := aws.ToString(g.ContentDisposition); got != "inline" {
			t.Errorf("Content-Disposition with response-content-disposition = %q, want inline", got)
		}
	})
}

func TestContentEncodingKept(t *testing.T) {
	s := newStack(t)
	createBucket(t, s.sdk(s.key), "enc")
	for _, cl := range s.clients(s.key) {
		t.Run("client="+cl.name, func(t *testing.T) {
			_, err := cl.c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("enc"), Key: aws.String(cl.name), Body: bytes.NewReader(payload(10*kiB, 1)), ContentEncoding: aws.String("gzip")})
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			h, err := cl.c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("enc"), Key: aws.String(cl.name)})
			if err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			// aws-chunked describes the transfer, not the object.
			if got := aws.ToString(h.ContentEncoding); got != "gzip" {
				t.Fatalf("Content-Encoding = %q, want gzip", got)
			}
		})
	}
}

func TestStorageClass(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "classes")
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("classes"), Key: aws.String("ia"), Body: strings.NewReader("x"), StorageClass: types.StorageClassStandardIa})
	if err != nil {
		t.Fatalf("PutObject STANDARD_IA: %v", err)
	}
	putObject(t, c, "classes", "std", []byte("y"))
	h, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("classes"), Key: aws.String("ia")})
	if err != nil {
		t.Fatal(err)
	}
	if h.StorageClass != types.StorageClassStandardIa {
		t.Errorf("HeadObject x-amz-storage-class = %q, want STANDARD_IA", h.StorageClass)
	}
	out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("classes")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]types.ObjectStorageClass{"ia": types.ObjectStorageClassStandardIa, "std": types.ObjectStorageClassStandard}
	for _, o := range out.Contents {
		if o.StorageClass != want[aws.ToString(o.Key)] {
			t.Errorf("ListObjectsV2 %s StorageClass = %q, want %q", aws.ToString(o.Key), o.StorageClass, want[aws.ToString(o.Key)])
		}
	}
	_, err = c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("classes"), Key: aws.String("bad"), Body: strings.NewReader("x"), StorageClass: "PLATINUM"})
	wantAPIError(t, err, http.StatusBadRequest, "InvalidStorageClass")
}

func TestObjectLimits(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "limits")
	t.Run("limit=user-metadata-2KB", func(t *testing.T) {
		_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("limits"), Key: aws.String("meta"), Body: strings.NewReader("x"),
			Metadata: map[string]string{"big": strings.Repeat("m", 2100)}})
		wantAPIError(t, err, http.StatusBadRequest, "MetadataTooLarge")
	})
	t.Run("limit=10-object-tags", func(t *testing.T) {
		var q []string
		for i := range 11 {
			q = append(q, fmt.Sprintf("k%d=v", i))
		}
		_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("limits"), Key: aws.String("tags"), Body: strings.NewReader("x"), Tagging: aws.String(strings.Join(q, "&"))})
		wantAPIError(t, err, http.StatusBadRequest, "")
		putObject(t, c, "limits", "tags", []byte("x"))
		var set []types.Tag
		for i := range 11 {
			set = append(set, types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")})
		}
		_, err = c.PutObjectTagging(t.Context(), &s3.PutObjectTaggingInput{Bucket: aws.String("limits"), Key: aws.String("tags"), Tagging: &types.Tagging{TagSet: set}})
		wantAPIError(t, err, http.StatusBadRequest, "")
	})
	t.Run("limit=key-1025-bytes", func(t *testing.T) {
		_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("limits"), Key: aws.String(strings.Repeat("k", 1025)), Body: strings.NewReader("x")})
		wantAPIError(t, err, http.StatusBadRequest, "KeyTooLongError")
	})
	t.Run("limit=1000-keys-per-delete", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("<Delete>")
		for i := range 1001 {
			fmt.Fprintf(&b, "<Object><Key>k%d</Key></Object>", i)
		}
		b.WriteString("</Delete>")
		body := []byte(b.String())
		resp, rb := s.do(t, s.key, http.MethodPost, "/limits?delete", body, http.Header{"Content-Md5": {md5B64(body)}})
		wantError(t, resp, rb, http.StatusBadRequest, "MalformedXML")
	})
}

func TestPutObjectMissingBucket(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("no-bucket"), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchBucket")
	_, err = c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("no-bucket")})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchBucket")
	_, err = c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String("no-bucket"), Key: aws.String("k")})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchBucket")
}

func TestRangeGet(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "ranges")
	data := payload(100, 7)
	putObject(t, c, "ranges", "obj", data)
	tests := []struct {
		rng          string
		status       int
		body         []byte
		contentRange string
	}{
		{"bytes=0-0", http.StatusPartialContent, data[:1], "bytes 0-0/100"},
		{"bytes=10-", http.StatusPartialContent, data[10:], "bytes 10-99/100"},
		{"bytes=-5", http.StatusPartialContent, data[95:], "bytes 95-99/100"},
		{"bytes=20-29", http.StatusPartialContent, data[20:30], "bytes 20-29/100"},
		{"bytes=90-1000", http.StatusPartialContent, data[90:], "bytes 90-99/100"},
		{"bytes=-500", http.StatusPartialContent, data, "bytes 0-99/100"},
		{"bytes=100-", http.StatusRequestedRangeNotSatisfiable, nil, ""},
		{"bytes=150-160", http.StatusRequestedRangeNotSatisfiable, nil, ""},
	}
	for _, tt := range tests {
		t.Run("range="+tt.rng, func(t *testing.T) {
			out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("ranges"), Key: aws.String("obj"), Range: aws.String(tt.rng)})
			if tt.status == http.StatusRequestedRangeNotSatisfiable {
				wantAPIError(t, err, tt.status, "InvalidRange")
				return
			}
			if err != nil {
				t.Fatalf("GetObject Range %s: %v", tt.rng, err)
			}
			defer out.Body.Close()
			got, err := io.ReadAll(out.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.body) {
				t.Errorf("body = %d bytes %x..., want %d bytes", len(got), got[:min(len(got), 4)], len(tt.body))
			}
			if cr := aws.ToString(out.ContentRange); cr != tt.contentRange {
				t.Errorf("Content-Range = %q, want %q", cr, tt.contentRange)
			}
			if n := aws.ToInt64(out.ContentLength); n != int64(len(tt.body)) {
				t.Errorf("Content-Length = %d, want %d", n, len(tt.body))
			}
		})
	}
	t.Run("range=raw-status-206", func(t *testing.T) {
		resp, _ := s.do(t, s.key, http.MethodGet, "/ranges/obj", nil, http.Header{"Range": {"bytes=0-0"}})
		if resp.StatusCode != http.StatusPartialContent {
			t.Fatalf("status = %d, want 206", resp.StatusCode)
		}
	})
}

func TestConditionalGetHead(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "cond")
	put := putObject(t, c, "cond", "obj", []byte("conditional"))
	etag := aws.ToString(put.ETag)
	head, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("cond"), Key: aws.String("obj")})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	mtime := aws.ToTime(head.LastModified)
	past, future := mtime.Add(-time.Hour), mtime.Add(time.Hour)
	type cond struct {
		ifMatch, ifNoneMatch         string
		ifModifiedSince, ifUnmodSinc *time.Time
	}
	tests := []struct {
		name   string
		c      cond
		status int
	}{
		{"if-match=etag", cond{ifMatch: etag}, 200},
		{"if-match=star", cond{ifMatch: "*"}, 200},
		{"if-match=other", cond{ifMatch: `"0123456789abcdef0123456789abcdef"`}, 412},
		{"if-none-match=etag", cond{ifNoneMatch: etag}, 304},
		{"if-none-match=other", cond{ifNoneMatch: `"0123456789abcdef0123456789abcdef"`}, 200},
		{"if-modified-since=future", cond{ifModifiedSince: &future}, 304},
		{"if-modified-since=past", cond{ifModifiedSince: &past}, 200},
		{"if-unmodified-since=past", cond{ifUnmodSinc: &past}, 412},
		{"if-unmodified-since=future", cond{ifUnmodSinc: &future}, 200},
		// RFC 7232 order, as the S3 docs spell out: If-Match true wins over
		// If-Unmodified-Since false; If-None-Match false gives 304 even if
		// If-Modified-Since is true.
		{"if-match=etag/if-unmodified-since=past", cond{ifMatch: etag, ifUnmodSinc: &past}, 200},
		{"if-none-match=etag/if-modified-since=past", cond{ifNoneMatch: etag, ifModifiedSince: &past}, 304},
		{"if-modified-since=now", cond{ifModifiedSince: &mtime}, 304},
		{"if-unmodified-since=now", cond{ifUnmodSinc: &mtime}, 200},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(fmt.Sprintf("method=%s/%s", method, tt.name), func(t *testing.T) {
				var err error
				if method == "GET" {
					var out *s3.GetObjectOutput
					out, err = c.GetObject(t.Context(), &s3.GetObjectInput{
						Bucket: aws.String("cond"), Key: aws.String("obj"),
						IfMatch: strOrNil(tt.c.ifMatch), IfNoneMatch: strOrNil(tt.c.ifNoneMatch),
						IfModifiedSince: tt.c.ifModifiedSince, IfUnmodifiedSince: tt.c.ifUnmodSinc,
					})
					if err == nil {
						out.Body.Close()
					}
				} else {
					_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{
						Bucket: aws.String("cond"), Key: aws.String("obj"),
						IfMatch: strOrNil(tt.c.ifMatch), IfNoneMatch: strOrNil(tt.c.ifNoneMatch),
						IfModifiedSince: tt.c.ifModifiedSince, IfUnmodifiedSince: tt.c.ifUnmodSinc,
					})
				}
				switch {
				case tt.status == 200 && err != nil:
					t.Fatalf("%s = %v, want 200", method, err)
				case tt.status == 200:
				case method == "GET" && tt.status == 412:
					wantAPIError(t, err, 412, "PreconditionFailed")
				default:
					wantAPIError(t, err, tt.status, "")
				}
			})
		}
	}
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func TestGetMissing(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "exists")
	tests := []struct {
		name, bucket, key string
		status            int
		code              string
	}{
		{"missing-key", "exists", "nope", 404, "NoSuchKey"},
		{"missing-bucket", "no-such-bucket", "nope", 404, "NoSuchBucket"},
	}
	for _, tt := range tests {
		t.Run("case="+tt.name, func(t *testing.T) {
			_, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(tt.bucket), Key: aws.String(tt.key)})
			wantAPIError(t, err, tt.status, tt.code)
			_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(tt.bucket), Key: aws.String(tt.key)})
			wantAPIError(t, err, tt.status, "")
			resp, body := s.do(t, s.key, http.MethodGet, "/"+tt.bucket+"/"+tt.key, nil, nil)
			wantError(t, resp, body, tt.status, tt.code)
		})
	}
}

func TestDeleteMissingObject(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "del")
	if _, err := c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String("del"), Key: aws.String("never-was")}); err != nil {
		t.Fatalf("DeleteObject of a missing key = %v, want success (204)", err)
	}
	resp, body := s.do(t, s.key, http.MethodDelete, "/del/never-was", nil, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE missing key: status %d, want 204; body %q", resp.StatusCode, body)
	}
	_, err := c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k")})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchBucket")
}

func TestDeleteObjects(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		t.Run(fmt.Sprintf("quiet=%v", quiet), func(t *testing.T) {
			s := newStack(t)
			c := s.sdk(s.key)
			ctx := t.Context()
			createBucket(t, c, "multi")
			for _, k := range []string{"a", "b", "c", "d", "e"} {
				putObject(t, c, "multi", k, []byte(k))
			}
			del := []string{"a", "c", "e", "missing"}
			var ids []types.ObjectIdentifier
			for _, k := range del {
				ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
			}
			out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{
				Bucket: aws.String("multi"),
				Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(quiet)},
			})
			if err != nil {
				t.Fatalf("DeleteObjects: %v", err)
			}
			if len(out.Errors) != 0 {
				t.Fatalf("DeleteObjects Errors = %+v, want none (a missing key counts as deleted)", out.Errors)
			}
			var deleted []string
			for _, d := range out.Deleted {
				deleted = append(deleted, aws.ToString(d.Key))
			}
			sort.Strings(deleted)
			want := del
			if quiet {
				want = nil
			}
			sort.Strings(want)
			if !slices.Equal(deleted, want) {
				t.Fatalf("Deleted = %v, want %v", deleted, want)
			}
			if got, want := listKeys(t, c, "multi", ""), []string{"b", "d"}; !slices.Equal(got, want) {
				t.Fatalf("keys left = %v, want %v", got, want)
			}
		})
	}
}

// listKeys lists every key of a bucket under prefix.
func listKeys(tb testing.TB, c *s3.Client, bucket, prefix string) []string {
	tb.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			tb.Fatalf("ListObjectsV2(%s): %v", bucket, err)
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

func TestCopyObject(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "src")
	createBucket(t, c, "dst")
	data := payload(3*kiB, 3)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("src"), Key: aws.String("orig"), Body: bytes.NewReader(data),
		ContentType: aws.String("image/png"), Metadata: map[string]string{"origin": "source"},
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	tests := []struct {
		name      string
		bucket    string
		key       string
		directive types.MetadataDirective
		ct        string
		meta      map[string]string
		wantCT    string
		wantMeta  map[string]string
	}{
		{"directive=COPY", "dst", "copy", types.MetadataDirectiveCopy, "", nil, "image/png", map[string]string{"origin": "source"}},
		{"directive=default", "dst", "copy-default", "", "", nil, "image/png", map[string]string{"origin": "source"}},
		{"directive=REPLACE", "dst", "replaced", types.MetadataDirectiveReplace, "text/plain", map[string]string{"new": "meta"}, "text/plain", map[string]string{"new": "meta"}},
		{"directive=REPLACE/onto-itself", "src", "orig2", types.MetadataDirectiveReplace, "text/csv", map[string]string{"v": "2"}, "text/csv", map[string]string{"v": "2"}},
	}
	// The copy onto itself needs its own source, so that the other cases
	// still see the original attributes.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("orig2"), CopySource: aws.String("src/orig")}); err != nil {
		t.Fatalf("CopyObject src/orig to src/orig2: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			source := "src/orig"
			if tt.bucket == "src" {
				source = "src/" + tt.key
			}
			out, err := c.CopyObject(ctx, &s3.CopyObjectInput{
				Bucket: aws.String(tt.bucket), Key: aws.String(tt.key), CopySource: aws.String(source),
				MetadataDirective: tt.directive, ContentType: strOrNil(tt.ct), Metadata: tt.meta,
			})
			if err != nil {
				t.Fatalf("CopyObject: %v", err)
			}
			if out.CopyObjectResult == nil || aws.ToString(out.CopyObjectResult.ETag) != quoted(md5Hex(data)) {
				t.Errorf("CopyObjectResult = %+v, want ETag %s", out.CopyObjectResult, quoted(md5Hex(data)))
			}
			got, g := getObject(t, c, &s3.GetObjectInput{Bucket: aws.String(tt.bucket), Key: aws.String(tt.key)})
			if !bytes.Equal(got, data) {
				t.Fatalf("copied body differs from the source (%d bytes, want %d)", len(got), len(data))
			}
			if ct := aws.ToString(g.ContentType); ct != tt.wantCT {
				t.Errorf("Content-Type = %q, want %q", ct, tt.wantCT)
			}
			if !mapsEqual(g.Metadata, tt.wantMeta) {
				t.Errorf("Metadata = %v, want %v", g.Metadata, tt.wantMeta)
			}
		})
	}
	t.Run("directive=COPY/onto-itself", func(t *testing.T) {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("orig"), CopySource: aws.String("src/orig")})
		wantAPIError(t, err, http.StatusBadRequest, "InvalidRequest")
	})
	t.Run("condition=copy-source-if-match", func(t *testing.T) {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("cond"), CopySource: aws.String("src/orig"),
			CopySourceIfMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)})
		wantAPIError(t, err, http.StatusPreconditionFailed, "PreconditionFailed")
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("cond"), CopySource: aws.String("src/orig"),
			CopySourceIfMatch: aws.String(quoted(md5Hex(data)))})
		if err != nil {
			t.Fatalf("CopyObject with the matching x-amz-copy-source-if-match: %v", err)
		}
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("cond"), CopySource: aws.String("src/orig"),
			CopySourceIfNoneMatch: aws.String(quoted(md5Hex(data)))})
		wantAPIError(t, err, http.StatusPreconditionFailed, "PreconditionFailed")
	})
	t.Run("source=missing", func(t *testing.T) {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("src/absent")})
		wantAPIError(t, err, http.StatusNotFound, "NoSuchKey")
	})
	t.Run("source=special-key", func(t *testing.T) {
		key := "dir/a b+c%d ü"
		putObject(t, c, "src", key, data)
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("special"), CopySource: aws.String("src/" + url.PathEscape(key))})
		if err != nil {
			t.Fatalf("CopyObject from %q: %v", key, err)
		}
		if got, _ := getObject(t, c, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("special")}); !bytes.Equal(got, data) {
			t.Fatalf("copied body differs from the source")
		}
	})
}

func TestObjectTagging(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "tags")
	b, k := aws.String("tags"), aws.String("obj")
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: k, Body: strings.NewReader("x"), Tagging: aws.String("a=1&b=two%20words")})
	if err != nil {
		t.Fatalf("PutObject with x-amz-tagging: %v", err)
	}
	get := func(t *testing.T) map[string]string {
		t.Helper()
		out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: k})
		if err != nil {
			t.Fatalf("GetObjectTagging: %v", err)
		}
		return tagMap(out.TagSet)
	}
	if got, want := get(t), map[string]string{"a": "1", "b": "two words"}; !mapsEqual(got, want) {
		t.Fatalf("tags from x-amz-tagging = %v, want %v", got, want)
	}
	_, g := getObject(t, c, &s3.GetObjectInput{Bucket: b, Key: k})
	if got := aws.ToInt32(g.TagCount); got != 2 {
		t.Errorf("GetObject x-amz-tagging-count = %d, want 2", got)
	}
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: k, Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("only"), Value: aws.String("this")}}}})
	if err != nil {
		t.Fatalf("PutObjectTagging: %v", err)
	}
	if got, want := get(t), map[string]string{"only": "this"}; !mapsEqual(got, want) {
		t.Fatalf("tags after PutObjectTagging = %v, want %v (a put replaces the set)", got, want)
	}
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: b, Key: k}); err != nil {
		t.Fatalf("DeleteObjectTagging: %v", err)
	}
	if got := get(t); len(got) != 0 {
		t.Fatalf("tags after DeleteObjectTagging = %v, want an empty TagSet", got)
	}
	_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("absent")})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchKey")
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: k, Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("aws:reserved"), Value: aws.String("x")}}}})
	wantAPIError(t, err, http.StatusBadRequest, "InvalidTag")
}

// checksums computes S3's additional checksums independently of the server.
var checksums = map[types.ChecksumAlgorithm]func([]byte) []byte{
	types.ChecksumAlgorithmCrc32: func(b []byte) []byte {
		return binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(b))
	},
	types.ChecksumAlgorithmCrc32c: func(b []byte) []byte {
		return binary.BigEndian.AppendUint32(nil, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	},
	types.ChecksumAlgorithmCrc64nvme: func(b []byte) []byte {
		return binary.BigEndian.AppendUint64(nil, crc64.Checksum(b, crc64.MakeTable(0x9a6c9329ac4bc9b5)))
	},
	types.ChecksumAlgorithmSha1: func(b []byte) []byte {
		s := sha1.Sum(b)
		return s[:]
	},
	types.ChecksumAlgorithmSha256: func(b []byte) []byte {
		s := sha256.Sum256(b)
		return s[:]
	},
}

func checksumB64(alg types.ChecksumAlgorithm, b []byte) string {
	return base64.StdEncoding.EncodeToString(checksums[alg](b))
}

// checksumOf picks the value of alg among the checksum fields of an output.
func checksumOf(alg types.ChecksumAlgorithm, crc32, crc32c, crc64nvme, sha1, sha256 *string) string {
	switch alg {
	case types.ChecksumAlgorithmCrc32:
		return aws.ToString(crc32)
	case types.ChecksumAlgorithmCrc32c:
		return aws.ToString(crc32c)
	case types.ChecksumAlgorithmCrc64nvme:
		return aws.ToString(crc64nvme)
	case types.ChecksumAlgorithmSha1:
		return aws.ToString(sha1)
	case types.ChecksumAlgorithmSha256:
		return aws.ToString(sha256)
	}
	return ""
}

func TestChecksumVectors(t *testing.T) {
	// The independent implementations above, against the published check
	// values of "123456789".
	in := []byte("123456789")
	for alg, want := range map[types.ChecksumAlgorithm]string{
		types.ChecksumAlgorithmCrc32:     "cbf43926",
		types.ChecksumAlgorithmCrc32c:    "e3069283",
		types.ChecksumAlgorithmCrc64nvme: "ae8b14860a799888",
	} {
		if got := fmt.Sprintf("%x", checksums[alg](in)); got != want {
			t.Errorf("%s(123456789) = %s, want %s", alg, got, want)
		}
	}
}

func TestPutObjectChecksums(t *testing.T) {
	s := newStack(t)
	createBucket(t, s.sdk(s.key), "sums")
	algs := []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme}
	for _, cl := range []struct {
		name string
		c    *s3.Client
	}{{"tls-trailer", s.sdk(s.key)}, {"plain-http-header", s.sdk(s.key, s.overHTTP)}} {
		for _, alg := range algs {
			for _, size := range []int{0, 100 * kiB} {
				t.Run(fmt.Sprintf("client=%s/alg=%s/size=%d", cl.name, alg, size), func(t *testing.T) {
					ctx := t.Context()
					key := fmt.Sprintf("%s-%s-%d", cl.name, alg, size)
					data := payload(size, 11)
					want := checksumB64(alg, data)
					put, err := cl.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String(key), Body: bytes.NewReader(data), ChecksumAlgorithm: alg})
					if err != nil {
						t.Fatalf("PutObject with %s: %v", alg, err)
					}
					if got := checksumOf(alg, put.ChecksumCRC32, put.ChecksumCRC32C, put.ChecksumCRC64NVME, put.ChecksumSHA1, put.ChecksumSHA256); got != want {
						t.Errorf("PutObject x-amz-checksum-%s = %q, want %q", strings.ToLower(string(alg)), got, want)
					}
					head, err := cl.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sums"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
					if err != nil {
						t.Fatalf("HeadObject: %v", err)
					}
					if got := checksumOf(alg, head.ChecksumCRC32, head.ChecksumCRC32C, head.ChecksumCRC64NVME, head.ChecksumSHA1, head.ChecksumSHA256); got != want {
						t.Errorf("HeadObject (ChecksumMode ENABLED) x-amz-checksum-%s = %q, want %q", strings.ToLower(string(alg)), got, want)
					}
					_, g := getObject(t, cl.c, &s3.GetObjectInput{Bucket: aws.String("sums"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
					if got := checksumOf(alg, g.ChecksumCRC32, g.ChecksumCRC32C, g.ChecksumCRC64NVME, g.ChecksumSHA1, g.ChecksumSHA256); got != want {
						t.Errorf("GetObject (ChecksumMode ENABLED) x-amz-checksum-%s = %q, want %q", strings.ToLower(string(alg)), got, want)
					}
				})
			}
		}
	}
}

func TestPutObjectWrongChecksum(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "bad")
	data := []byte("the body that was sent")
	other := []byte("another body")
	tests := []struct {
		name string
		in   s3.PutObjectInput
	}{
		{"header=crc32", s3.PutObjectInput{ChecksumCRC32: aws.String(checksumB64(types.ChecksumAlgorithmCrc32, other))}},
		{"header=crc32c", s3.PutObjectInput{ChecksumCRC32C: aws.String(checksumB64(types.ChecksumAlgorithmCrc32c, other))}},
		{"header=sha1", s3.PutObjectInput{ChecksumSHA1: aws.String(checksumB64(types.ChecksumAlgorithmSha1, other))}},
		{"header=sha256", s3.PutObjectInput{ChecksumSHA256: aws.String(checksumB64(types.ChecksumAlgorithmSha256, other))}},
		{"header=content-md5", s3.PutObjectInput{ContentMD5: aws.String(md5B64(other))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Bucket, in.Key, in.Body = aws.String("bad"), aws.String(tt.name), bytes.NewReader(data)
			_, err := c.PutObject(t.Context(), &in)
			wantAPIError(t, err, http.StatusBadRequest, "BadDigest")
			_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("bad"), Key: aws.String(tt.name)})
			wantAPIError(t, err, http.StatusNotFound, "")
		})
	}
	t.Run("trailer=crc32", func(t *testing.T) {
		// An aws-chunked body whose x-amz-checksum-crc32 trailer does not
		// match: what the SDK sends over TLS, with the wrong value.
		req := unsignedTrailerRequest(t, s, http.MethodPut, "/bad/trailer", data, "x-amz-checksum-crc32", checksumB64(types.ChecksumAlgorithmCrc32, other))
		resp, body := send(t, req)
		wantError(t, resp, body, http.StatusBadRequest, "BadDigest")
	})
	t.Run("trailer=crc32/right", func(t *testing.T) {
		req := unsignedTrailerRequest(t, s, http.MethodPut, "/bad/trailer-ok", data, "x-amz-checksum-crc32", checksumB64(types.ChecksumAlgorithmCrc32, data))
		if resp, body := send(t, req); resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT with the right trailer: %d %q, want 200", resp.StatusCode, truncate(body))
		}
	})
	t.Run("op=UploadPart/header=crc32", func(t *testing.T) {
		id := createUpload(t, c, &s3.CreateMultipartUploadInput{Bucket: aws.String("bad"), Key: aws.String("mp"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		_, err := c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: aws.String("bad"), Key: aws.String("mp"), UploadId: aws.String(id), PartNumber: aws.Int32(1),
			Body: bytes.NewReader(data), ChecksumCRC32: aws.String(checksumB64(types.ChecksumAlgorithmCrc32, other))})
		wantAPIError(t, err, http.StatusBadRequest, "BadDigest")
	})
	t.Run("header=content-md5/right", func(t *testing.T) {
		_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("bad"), Key: aws.String("md5-ok"), Body: bytes.NewReader(data), ContentMD5: aws.String(md5B64(data))})
		if err != nil {
			t.Fatalf("PutObject with the right Content-MD5: %v", err)
		}
	})
	t.Run("header=content-md5/not-base64", func(t *testing.T) {
		resp, body := s.do(t, s.key, http.MethodPut, "/bad/md5-invalid", data, http.Header{"Content-Md5": {"not an md5"}})
		wantError(t, resp, body, http.StatusBadRequest, "InvalidDigest")
	})
}

// unsignedTrailerRequest builds a STREAMING-UNSIGNED-PAYLOAD-TRAILER request:
// the headers signed, the body in one aws-chunked chunk, then the trailer.
func unsignedTrailerRequest(tb testing.TB, s *stack, method, target string, data []byte, trailer, value string) *http.Request {
	tb.Helper()
	var body bytes.Buffer
	fmt.Fprintf(&body, "%x\r\n%s\r\n0\r\n%s:%s\r\n\r\n", len(data), data, trailer, value)
	req := httpRequest(tb, method, s.plain.URL+target, body.Bytes())
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	req.Header.Set("X-Amz-Trailer", trailer)
	req.Header.Set("X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: s.key.ID, SecretAccessKey: s.key.Secret}, req,
		"STREAMING-UNSIGNED-PAYLOAD-TRAILER", "s3", region, time.Now())
	if err != nil {
		tb.Fatalf("SignHTTP: %v", err)
	}
	return req
}

func TestConditionalPut(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "cput")
	put := func(body string, ifNoneMatch, ifMatch string) (*s3.PutObjectOutput, error) {
		return c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cput"), Key: aws.String("k"), Body: strings.NewReader(body),
			IfNoneMatch: strOrNil(ifNoneMatch), IfMatch: strOrNil(ifMatch)})
	}
	first, err := put("first", "*", "")
	if err != nil {
		t.Fatalf("PutObject If-None-Match: * on a new key = %v, want success", err)
	}
	_, err = put("second", "*", "")
	wantAPIError(t, err, http.StatusPreconditionFailed, "PreconditionFailed")
	_, err = put("third", "", `"0123456789abcdef0123456789abcdef"`)
	wantAPIError(t, err, http.StatusPreconditionFailed, "PreconditionFailed")
	if _, err := put("fourth", "", aws.ToString(first.ETag)); err != nil {
		t.Fatalf("PutObject If-Match with the current ETag = %v, want success", err)
	}
	if got, _ := getObject(t, c, &s3.GetObjectInput{Bucket: aws.String("cput"), Key: aws.String("k")}); string(got) != "fourth" {
		t.Fatalf("body = %q, want %q (refused writes must not land)", got, "fourth")
	}
	t.Run("latest=delete-marker", func(t *testing.T) {
		createBucket(t, c, "cput-ver")
		enableVersioning(t, c, "cput-ver")
		putObject(t, c, "cput-ver", "k", []byte("v1"))
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("cput-ver"), Key: aws.String("k")}); err != nil {
			t.Fatal(err)
		}
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cput-ver"), Key: aws.String("k"), Body: strings.NewReader("v2"), IfNoneMatch: aws.String("*")})
		if err != nil {
			t.Fatalf("PutObject If-None-Match: * over a delete marker = %v, want success (the key does not exist)", err)
		}
	})
}

func TestSpecialKeys(t *testing.T) {
	s := newStack(t)
	createBucket(t, s.sdk(s.key), "keys")
	keys := []string{"sp ace", "plus+sign", "per%cent", "ünï/cödé", "a/b/c", "q?uestion", "h#ash", "semi;colon", "tilde~", "star*", "dots/../x", "emoji-🙂", "trailing/", "/leading-slash", "double//slash", "eq=amp&", "quote'\"", "<angle>", strings.Repeat("k", 1024)}
	for _, cl := range s.clients(s.key) {
		for i, k := range keys {
			t.Run(fmt.Sprintf("client=%s/key=%s", cl.name, k), func(t *testing.T) {
				data := payload(64, uint64(i))
				putObject(t, cl.c, "keys", k, data)
				got, _ := getObject(t, cl.c, &s3.GetObjectInput{Bucket: aws.String("keys"), Key: aws.String(k)})
				if !bytes.Equal(got, data) {
					t.Fatalf("GetObject(%q) returned other bytes than put", k)
				}
			})
		}
	}
	got := listKeys(t, s.sdk(s.key), "keys", "")
	want := slices.Sorted(slices.Values(keys))
	if !slices.Equal(got, want) {
		t.Fatalf("ListObjectsV2 keys = %q, want %q", got, want)
	}
}

// ---- Listing ----

// listingKeys are 25 keys whose listing with delimiter "/" mixes keys and
// common prefixes.
var listingKeys = []string{
	"a/1", "a/2", "a/3", "a/b/4",
	"b", "b/", "b/x/1", "b/y",
	"c0", "c1", "c2", "c3", "c4",
	"d/e/f/g", "d/e/h",
	"e", "e/f",
	"f-1", "f-2", "f-3",
	"g/", "g//double",
	"h", "i/j", "z",
}

// expectListing computes independently what a listing must return, in
// order: keys, and common prefixes tagged with a trailing "(prefix)".
func expectListing(keys []string, prefix, delim, after string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range slices.Sorted(slices.Values(keys)) {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		entry := k
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				entry = k[:len(prefix)+i+len(delim)] + " (prefix)"
				if k[:len(prefix)+i+len(delim)] <= after {
					continue
				}
			}
		}
		if entry == k && k <= after {
			continue
		}
		if !seen[entry] {
			seen[entry] = true
			out = append(out, entry)
		}
	}
	return out
}

func fillBucket(tb testing.TB, c *s3.Client, bucket string, keys []string) {
	tb.Helper()
	createBucket(tb, c, bucket)
	for _, k := range keys {
		putObject(tb, c, bucket, k, []byte(k))
	}
}

// mergeEntries orders a page's keys and common prefixes as S3 does: in one
// sequence, by name.
func mergeEntries(contents []types.Object, prefixes []types.CommonPrefix) []string {
	type ent struct{ name, label string }
	var es []ent
	for _, o := range contents {
		es = append(es, ent{aws.ToString(o.Key), aws.ToString(o.Key)})
	}
	for _, p := range prefixes {
		es = append(es, ent{aws.ToString(p.Prefix), aws.ToString(p.Prefix) + " (prefix)"})
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].name < es[j].name })
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.label
	}
	return out
}

func TestListObjectsV2Paging(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	fillBucket(t, c, "list", listingKeys)
	tests := []struct {
		prefix, delim, startAfter string
		maxKeys                   int32
	}{
		{"", "/", "", 2},
		{"", "", "", 2},
		{"", "/", "", 1000},
		{"", "/", "", 1},
		{"b", "/", "", 2},
		{"b/", "/", "", 2},
		{"d/", "/", "", 1},
		{"c", "", "", 2},
		{"", "", "c2", 2},
		{"", "/", "b/", 2},
		{"", "/", "c", 3},
		{"", "-", "", 2},
		{"nothing", "/", "", 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("prefix=%s/delimiter=%s/start-after=%s/max-keys=%d", tt.prefix, tt.delim, tt.startAfter, tt.maxKeys), func(t *testing.T) {
			want := expectListing(listingKeys, tt.prefix, tt.delim, tt.startAfter)
			var got []string
			in := &s3.ListObjectsV2Input{Bucket: aws.String("list"), Prefix: strOrNil(tt.prefix), Delimiter: strOrNil(tt.delim),
				StartAfter: strOrNil(tt.startAfter), MaxKeys: aws.Int32(tt.maxKeys)}
			for page := 0; ; page++ {
				if page > 100 {
					t.Fatalf("more than 100 pages: the listing does not end; so far %q", got)
				}
				out, err := c.ListObjectsV2(t.Context(), in)
				if err != nil {
					t.Fatalf("ListObjectsV2 page %d: %v", page, err)
				}
				// The request's parameters are echoed.
				for _, f := range []struct{ name, got, want string }{
					{"Prefix", aws.ToString(out.Prefix), tt.prefix},
					{"Delimiter", aws.ToString(out.Delimiter), tt.delim},
					{"StartAfter", aws.ToString(out.StartAfter), tt.startAfter},
					{"ContinuationToken", aws.ToString(out.ContinuationToken), aws.ToString(in.ContinuationToken)},
					{"MaxKeys", fmt.Sprint(aws.ToInt32(out.MaxKeys)), fmt.Sprint(tt.maxKeys)},
				} {
					if f.got != f.want {
						t.Errorf("page %d %s = %q, want %q", page, f.name, f.got, f.want)
					}
				}
				for _, o := range out.Contents {
					k := aws.ToString(o.Key)
					if aws.ToInt64(o.Size) != int64(len(k)) || aws.ToString(o.ETag) != quoted(md5Hex([]byte(k))) || o.LastModified == nil {
						t.Errorf("entry %s: Size %d ETag %s LastModified %v, want %d %s and a time", k, aws.ToInt64(o.Size), aws.ToString(o.ETag), o.LastModified, len(k), quoted(md5Hex([]byte(k))))
					}
				}
				entries := mergeEntries(out.Contents, out.CommonPrefixes)
				if n := len(entries); n > int(tt.maxKeys) {
					t.Fatalf("page %d has %d entries, want at most max-keys %d", page, n, tt.maxKeys)
				}
				if kc := aws.ToInt32(out.KeyCount); int(kc) != len(entries) {
					t.Errorf("page %d KeyCount = %d, want %d (keys plus common prefixes)", page, kc, len(entries))
				}
				got = append(got, entries...)
				if aws.ToBool(out.IsTruncated) && len(entries) == 0 {
					t.Fatalf("page %d IsTruncated with no entries: S3 says truncated only when more entries follow", page)
				}
				if !aws.ToBool(out.IsTruncated) {
					if out.NextContinuationToken != nil {
						t.Errorf("last page has NextContinuationToken %q, want none", aws.ToString(out.NextContinuationToken))
					}
					break
				}
				if aws.ToString(out.NextContinuationToken) == "" {
					t.Fatalf("page %d IsTruncated without a NextContinuationToken", page)
				}
				in.ContinuationToken = out.NextContinuationToken
			}
			if !slices.Equal(got, want) {
				t.Fatalf("listing =\n%q\nwant (each entry once, in order)\n%q", got, want)
			}
		})
	}
}

func TestListObjectsV1Marker(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	fillBucket(t, c, "listv1", listingKeys)
	tests := []struct {
		prefix, delim string
		maxKeys       int32
	}{
		{"", "", 2},
		{"", "/", 2},
		{"", "/", 3},
		{"b", "/", 1},
		{"", "", 1000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("prefix=%s/delimiter=%s/max-keys=%d", tt.prefix, tt.delim, tt.maxKeys), func(t *testing.T) {
			want := expectListing(listingKeys, tt.prefix, tt.delim, "")
			var got []string
			in := &s3.ListObjectsInput{Bucket: aws.String("listv1"), Prefix: strOrNil(tt.prefix), Delimiter: strOrNil(tt.delim), MaxKeys: aws.Int32(tt.maxKeys)}
			for page := 0; ; page++ {
				if page > 100 {
					t.Fatalf("more than 100 pages: the listing does not end; so far %q", got)
				}
				out, err := c.ListObjects(t.Context(), in)
				if err != nil {
					t.Fatalf("ListObjects page %d: %v", page, err)
				}
				entries := mergeEntries(out.Contents, out.CommonPrefixes)
				if len(entries) > int(tt.maxKeys) {
					t.Fatalf("page %d has %d entries, want at most %d", page, len(entries), tt.maxKeys)
				}
				got = append(got, entries...)
				if aws.ToBool(out.IsTruncated) && len(entries) == 0 {
					t.Fatalf("page %d IsTruncated with no entries", page)
				}
				if !aws.ToBool(out.IsTruncated) {
					break
				}
				// With a delimiter S3 gives NextMarker; without one the
				// client continues from the last key.
				next := aws.ToString(out.NextMarker)
				if tt.delim != "" && next == "" {
					t.Fatalf("page %d IsTruncated with a delimiter but no NextMarker", page)
				}
				if next == "" && len(out.Contents) > 0 {
					next = aws.ToString(out.Contents[len(out.Contents)-1].Key)
				}
				in.Marker = aws.String(next)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("listing =\n%q\nwant (each entry once, in order)\n%q", got, want)
			}
		})
	}
}

// rawListing is a ListBucketResult or ListVersionsResult as it is on the
// wire, so that the encoding of keys can be seen.
type rawListing struct {
	EncodingType   string   `xml:"EncodingType"`
	Prefix         string   `xml:"Prefix"`
	Delimiter      string   `xml:"Delimiter"`
	StartAfter     string   `xml:"StartAfter"`
	Keys           []string `xml:"Contents>Key"`
	Versions       []string `xml:"Version>Key"`
	CommonPrefixes []string `xml:"CommonPrefixes>Prefix"`
}

func TestListEncodingTypeURL(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	keys := []string{"sp ace", "plus+sign", "per%cent", "ünïcödé", "dir ü/inner key", "amp&er=sand", "tab\tkey", "x"}
	fillBucket(t, c, "enc", keys)
	// Clients decode with form decoding (botocore: unquote_plus, where '+'
	// is a space), so an encoded key must hold no space, control or
	// non-ASCII character, and a '+' of the key must be sent as %2B.
	decode := func(t *testing.T, what, s string) string {
		t.Helper()
		for _, r := range s {
			if r <= ' ' || r > 0x7e {
				t.Errorf("%s %q holds %q, which encoding-type=url must escape", what, s, r)
				break
			}
		}
		d, err := url.QueryUnescape(s)
		if err != nil {
			t.Errorf("%s %q is not URL-encoded: %v", what, s, err)
		}
		return d
	}
	tests := []struct {
		name, query string
		prefixes    bool
	}{
		{"list-type=2", "?list-type=2&encoding-type=url", false},
		{"list-type=1", "?encoding-type=url", false},
		{"versions", "?versions&encoding-type=url", false},
		{"list-type=2/delimiter", "?list-type=2&encoding-type=url&delimiter=%2F", true},
	}
	for _, tt := range tests {
		t.Run("api="+tt.name, func(t *testing.T) {
			resp, body := s.do(t, s.key, http.MethodGet, "/enc"+tt.query, nil, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200; body %q", resp.StatusCode, truncate(body))
			}
			var l rawListing
			if err := xml.Unmarshal(body, &l); err != nil {
				t.Fatalf("listing body: %v", err)
			}
			if l.EncodingType != "url" {
				t.Errorf("EncodingType = %q, want url", l.EncodingType)
			}
			raw := append(l.Keys, l.Versions...)
			var got []string
			for _, k := range raw {
				got = append(got, decode(t, "Key", k))
			}
			for _, p := range l.CommonPrefixes {
				got = append(got, decode(t, "Prefix", p))
			}
			sort.Strings(got)
			want := slices.Sorted(slices.Values(keys))
			if tt.prefixes {
				want = expectListing(keys, "", "/", "")
				for i, w := range want {
					want[i] = strings.TrimSuffix(w, " (prefix)")
				}
				sort.Strings(want)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("decoded keys = %q, want %q (raw %q)", got, want, raw)
			}
		})
	}
	t.Run("api=list-type=2/prefix", func(t *testing.T) {
		resp, body := s.do(t, s.key, http.MethodGet, "/enc?list-type=2&encoding-type=url&prefix="+url.QueryEscape("dir ü/"), nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200; body %q", resp.StatusCode, truncate(body))
		}
		var l rawListing
		if err := xml.Unmarshal(body, &l); err != nil {
			t.Fatalf("listing body: %v", err)
		}
		if got := decode(t, "Prefix", l.Prefix); got != "dir ü/" {
			t.Errorf("Prefix decodes to %q, want %q", got, "dir ü/")
		}
		if len(l.Keys) != 1 || decode(t, "Key", l.Keys[0]) != "dir ü/inner key" {
			t.Errorf("Keys = %q, want the encoding of %q", l.Keys, "dir ü/inner key")
		}
	})
	t.Run("api=list-type=2/bad-encoding", func(t *testing.T) {
		resp, body := s.do(t, s.key, http.MethodGet, "/enc?list-type=2&encoding-type=base64", nil, nil)
		wantError(t, resp, body, http.StatusBadRequest, "InvalidArgument")
	})
}

// ---- Versioning ----

func enableVersioning(tb testing.TB, c *s3.Client, bucket string) {
	tb.Helper()
	_, err := c.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{
		Bucket: aws.String(bucket), VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		tb.Fatalf("PutBucketVersioning(%s, Enabled): %v", bucket, err)
	}
}

// version is one entry of ListObjectVersions.
type version struct {
	key, id      string
	latest, mark bool
}

func listVersions(tb testing.TB, c *s3.Client, in *s3.ListObjectVersionsInput) []version {
	tb.Helper()
	out, err := c.ListObjectVersions(context.Background(), in)
	if err != nil {
		tb.Fatalf("ListObjectVersions: %v", err)
	}
	return versionsOf(out)
}

// versionsOf merges Versions and DeleteMarkers in S3's order: by key, then
// newest first. Both lists are in that order; their LastModified decides
// where a marker goes among the versions of its key.
func versionsOf(out *s3.ListObjectVersionsOutput) []version {
	type ent struct {
		v  version
		at time.Time
		i  int
	}
	var es []ent
	for _, v := range out.Versions {
		es = append(es, ent{version{aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToBool(v.IsLatest), false}, aws.ToTime(v.LastModified), len(es)})
	}
	for _, d := range out.DeleteMarkers {
		es = append(es, ent{version{aws.ToString(d.Key), aws.ToString(d.VersionId), aws.ToBool(d.IsLatest), true}, aws.ToTime(d.LastModified), len(es)})
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].v.key != es[j].v.key {
			return es[i].v.key < es[j].v.key
		}
		if es[i].v.latest != es[j].v.latest {
			return es[i].v.latest
		}
		return es[i].at.After(es[j].at)
	})
	vs := make([]version, len(es))
	for i, e := range es {
		vs[i] = e.v
	}
	return vs
}

func TestObjectVersions(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "vers")
	enableVersioning(t, c, "vers")
	b, k := aws.String("vers"), aws.String("doc")
	v1 := putObject(t, c, "vers", "doc", []byte("one"))
	v2 := putObject(t, c, "vers", "doc", []byte("two"))
	id1, id2 := aws.ToString(v1.VersionId), aws.ToString(v2.VersionId)
	if id1 == "" || id2 == "" || id1 == id2 || id1 == "null" {
		t.Fatalf("PutObject version ids %q, %q: want two distinct non-null ids", id1, id2)
	}
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: k})
	if err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) == "" {
		t.Fatalf("DeleteObject: DeleteMarker=%v VersionId=%q, want a delete marker with a version id", aws.ToBool(del.DeleteMarker), aws.ToString(del.VersionId))
	}
	idDM := aws.ToString(del.VersionId)
	putObject(t, c, "vers", "other", []byte("x"))

	t.Run("op=ListObjectVersions", func(t *testing.T) {
		got := listVersions(t, c, &s3.ListObjectVersionsInput{Bucket: b})
		want := []version{
			{"doc", idDM, true, true},
			{"doc", id2, false, false},
			{"doc", id1, false, false},
			{"other", got[len(got)-1].id, true, false},
		}
		if !slices.Equal(got, want) {
			t.Fatalf("versions = %+v, want %+v", got, want)
		}
	})
	t.Run("op=GetObject/latest-is-delete-marker", func(t *testing.T) {
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k})
		wantAPIError(t, err, http.StatusNotFound, "NoSuchKey")
		resp, _ := s.do(t, s.key, http.MethodGet, "/vers/doc", nil, nil)
		if resp.Header.Get("x-amz-delete-marker") != "true" {
			t.Errorf("x-amz-delete-marker = %q, want true", resp.Header.Get("x-amz-delete-marker"))
		}
	})
	t.Run("op=GetObject/by-version-id", func(t *testing.T) {
		for id, want := range map[string]string{id1: "one", id2: "two"} {
			got, out := getObject(t, c, &s3.GetObjectInput{Bucket: b, Key: k, VersionId: aws.String(id)})
			if string(got) != want {
				t.Errorf("GetObject version %s = %q, want %q", id, got, want)
			}
			if aws.ToString(out.VersionId) != id {
				t.Errorf("GetObject version %s: x-amz-version-id = %q", id, aws.ToString(out.VersionId))
			}
		}
	})
	t.Run("op=GetObject/delete-marker-by-version-id", func(t *testing.T) {
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k, VersionId: aws.String(idDM)})
		wantAPIError(t, err, http.StatusMethodNotAllowed, "MethodNotAllowed")
	})
	t.Run("op=GetObject/unknown-version-id", func(t *testing.T) {
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k, VersionId: aws.String("00000000000000000000000000000000")})
		wantAPIError(t, err, http.StatusNotFound, "NoSuchVersion")
	})
	t.Run("op=DeleteObject/version", func(t *testing.T) {
		out, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: k, VersionId: aws.String(id2)})
		if err != nil {
			t.Fatalf("DeleteObject version %s: %v", id2, err)
		}
		if aws.ToString(out.VersionId) != id2 {
			t.Errorf("DeleteObject x-amz-version-id = %q, want %q", aws.ToString(out.VersionId), id2)
		}
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k, VersionId: aws.String(id2)})
		wantAPIError(t, err, http.StatusNotFound, "NoSuchVersion")
		// Removing the delete marker makes the newest remaining version
		// the current one.
		out, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: k, VersionId: aws.String(idDM)})
		if err != nil {
			t.Fatalf("DeleteObject of the delete marker: %v", err)
		}
		if !aws.ToBool(out.DeleteMarker) {
			t.Errorf("DeleteObject of a delete marker: x-amz-delete-marker = false, want true")
		}
		got, _ := getObject(t, c, &s3.GetObjectInput{Bucket: b, Key: k})
		if string(got) != "one" {
			t.Fatalf("GetObject after removing the marker and v2 = %q, want %q", got, "one")
		}
		vs := listVersions(t, c, &s3.ListObjectVersionsInput{Bucket: b, Prefix: k})
		if want := []version{{"doc", id1, true, false}}; !slices.Equal(vs, want) {
			t.Fatalf("versions of doc = %+v, want %+v", vs, want)
		}
	})
}

func TestVersionedDeleteObjectsAndCopy(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "vdel")
	enableVersioning(t, c, "vdel")
	v1 := putObject(t, c, "vdel", "a", []byte("a1"))
	putObject(t, c, "vdel", "a", []byte("a2"))
	putObject(t, c, "vdel", "b", []byte("b1"))

	t.Run("op=CopyObject/from-version", func(t *testing.T) {
		out, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("vdel"), Key: aws.String("a-old"), CopySource: aws.String("vdel/a?versionId=" + aws.ToString(v1.VersionId))})
		if err != nil {
			t.Fatalf("CopyObject of version %s: %v", aws.ToString(v1.VersionId), err)
		}
		if got := aws.ToString(out.CopySourceVersionId); got != aws.ToString(v1.VersionId) {
			t.Errorf("x-amz-copy-source-version-id = %q, want %q", got, aws.ToString(v1.VersionId))
		}
		if got, _ := getObject(t, c, &s3.GetObjectInput{Bucket: aws.String("vdel"), Key: aws.String("a-old")}); string(got) != "a1" {
			t.Fatalf("copy of the old version = %q, want a1", got)
		}
	})
	t.Run("op=DeleteObjects/markers", func(t *testing.T) {
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("vdel"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("b")}}}})
		if err != nil {
			t.Fatalf("DeleteObjects: %v", err)
		}
		if len(out.Deleted) != 1 || !aws.ToBool(out.Deleted[0].DeleteMarker) || aws.ToString(out.Deleted[0].DeleteMarkerVersionId) == "" {
			t.Fatalf("Deleted = %+v, want b with DeleteMarker true and a DeleteMarkerVersionId", out.Deleted)
		}
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vdel"), Key: aws.String("b")})
		wantAPIError(t, err, http.StatusNotFound, "")
		resp, _ := s.do(t, s.key, http.MethodHead, "/vdel/b", nil, nil)
		if got := resp.Header.Get("x-amz-delete-marker"); got != "true" {
			t.Errorf("HEAD of a key whose latest version is a delete marker: x-amz-delete-marker = %q, want true", got)
		}
	})
	t.Run("op=DeleteObjects/version", func(t *testing.T) {
		id := aws.ToString(v1.VersionId)
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("vdel"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("a"), VersionId: aws.String(id)}}}})
		if err != nil {
			t.Fatalf("DeleteObjects: %v", err)
		}
		if len(out.Deleted) != 1 || aws.ToString(out.Deleted[0].VersionId) != id || aws.ToBool(out.Deleted[0].DeleteMarker) {
			t.Fatalf("Deleted = %+v, want a version %s, no marker", out.Deleted, id)
		}
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vdel"), Key: aws.String("a"), VersionId: aws.String(id)})
		wantAPIError(t, err, http.StatusNotFound, "NoSuchVersion")
		if got, _ := getObject(t, c, &s3.GetObjectInput{Bucket: aws.String("vdel"), Key: aws.String("a")}); string(got) != "a2" {
			t.Fatalf("a after deleting its old version = %q, want a2", got)
		}
	})
}

func TestUnversionedBucketNullVersions(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "plain")
	put := putObject(t, c, "plain", "k", []byte("x"))
	if put.VersionId != nil && aws.ToString(put.VersionId) != "null" {
		t.Errorf("PutObject in an unversioned bucket: x-amz-version-id = %q, want none", aws.ToString(put.VersionId))
	}
	vs := listVersions(t, c, &s3.ListObjectVersionsInput{Bucket: aws.String("plain")})
	if want := []version{{"k", "null", true, false}}; !slices.Equal(vs, want) {
		t.Fatalf("ListObjectVersions = %+v, want %+v", vs, want)
	}
	if got, _ := getObject(t, c, &s3.GetObjectInput{Bucket: aws.String("plain"), Key: aws.String("k"), VersionId: aws.String("null")}); string(got) != "x" {
		t.Fatalf("GetObject versionId=null = %q, want x", got)
	}
}

func TestSuspendedVersioningNullVersion(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "susp")
	putObject(t, c, "susp", "k", []byte("before"))
	enableVersioning(t, c, "susp")
	v := putObject(t, c, "susp", "k", []byte("versioned"))
	_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("susp"), VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	if err != nil {
		t.Fatalf("PutBucketVersioning(Suspended): %v", err)
	}
	putObject(t, c, "susp", "k", []byte("after"))
	vs := listVersions(t, c, &s3.ListObjectVersionsInput{Bucket: aws.String("susp")})
	// The write while suspended replaced the null version made before
	// versioning was enabled.
	want := []version{{"k", "null", true, false}, {"k", aws.ToString(v.VersionId), false, false}}
	if !slices.Equal(vs, want) {
		t.Fatalf("versions = %+v, want %+v", vs, want)
	}
	got, _ := getObject(t, c, &s3.GetObjectInput{Bucket: aws.String("susp"), Key: aws.String("k"), VersionId: aws.String("null")})
	if string(got) != "after" {
		t.Fatalf("GetObject versionId=null = %q, want %q", got, "after")
	}
}

func TestListObjectVersionsPaging(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "vpage")
	enableVersioning(t, c, "vpage")
	for _, k := range []string{"a", "b/1", "b/2", "c"} {
		for i := range 3 {
			putObject(t, c, "vpage", k, []byte(fmt.Sprint(k, i)))
		}
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vpage"), Key: aws.String("b/2")}); err != nil {
		t.Fatal(err)
	}
	all := listVersions(t, c, &s3.ListObjectVersionsInput{Bucket: aws.String("vpage")})
	if len(all) != 13 {
		t.Fatalf("%d versions, want 13 (4 keys × 3, and a delete marker)", len(all))
	}
	for _, max := range []int32{1, 2, 5} {
		t.Run(fmt.Sprintf("max-keys=%d", max), func(t *testing.T) {
			var got []version
			in := &s3.ListObjectVersionsInput{Bucket: aws.String("vpage"), MaxKeys: aws.Int32(max)}
			for page := 0; ; page++ {
				if page > 50 {
					t.Fatalf("more than 50 pages: the listing does not end")
				}
				out, err := c.ListObjectVersions(ctx, in)
				if err != nil {
					t.Fatalf("ListObjectVersions page %d: %v", page, err)
				}
				vs := versionsOf(out)
				if len(vs) > int(max) {
					t.Fatalf("page %d has %d entries, want at most %d", page, len(vs), max)
				}
				got = append(got, vs...)
				if aws.ToBool(out.IsTruncated) && len(vs) == 0 {
					t.Fatalf("page %d IsTruncated with no entries", page)
				}
				if !aws.ToBool(out.IsTruncated) {
					break
				}
				if aws.ToString(out.NextKeyMarker) == "" || aws.ToString(out.NextVersionIdMarker) == "" {
					t.Fatalf("page %d IsTruncated with NextKeyMarker %q NextVersionIdMarker %q, want both", page, aws.ToString(out.NextKeyMarker), aws.ToString(out.NextVersionIdMarker))
				}
				in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
			}
			if !slices.Equal(got, all) {
				t.Fatalf("paged versions =\n%+v\nwant\n%+v", got, all)
			}
		})
	}
	t.Run("key-marker=b/1", func(t *testing.T) {
		// A key marker alone starts after every version of that key.
		got := listVersions(t, c, &s3.ListObjectVersionsInput{Bucket: aws.String("vpage"), KeyMarker: aws.String("b/1")})
		var want []version
		for _, v := range all {
			if v.key > "b/1" {
				want = append(want, v)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("versions after key-marker b/1 =\n%+v\nwant\n%+v", got, want)
		}
	})
	t.Run("delimiter=/", func(t *testing.T) {
		out, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vpage"), Delimiter: aws.String("/")})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.CommonPrefixes) != 1 || aws.ToString(out.CommonPrefixes[0].Prefix) != "b/" {
			t.Errorf("CommonPrefixes = %+v, want [b/]", out.CommonPrefixes)
		}
		if n := len(out.Versions) + len(out.DeleteMarkers); n != 6 {
			t.Errorf("%d versions beside the prefix, want 6 (a and c, 3 each)", n)
		}
	})
}

// ---- Multipart ----

// part is an uploaded part: its number, bytes, and what UploadPart answered.
type part struct {
	n        int32
	data     []byte
	etag     string
	checksum string
}

func completed(parts []part, alg types.ChecksumAlgorithm) *types.CompletedMultipartUpload {
	var cp []types.CompletedPart
	for _, p := range parts {
		c := types.CompletedPart{PartNumber: aws.Int32(p.n), ETag: aws.String(p.etag)}
		switch alg {
		case types.ChecksumAlgorithmCrc32:
			c.ChecksumCRC32 = aws.String(p.checksum)
		case types.ChecksumAlgorithmCrc32c:
			c.ChecksumCRC32C = aws.String(p.checksum)
		case types.ChecksumAlgorithmSha1:
			c.ChecksumSHA1 = aws.String(p.checksum)
		case types.ChecksumAlgorithmSha256:
			c.ChecksumSHA256 = aws.String(p.checksum)
		}
		cp = append(cp, c)
	}
	return &types.CompletedMultipartUpload{Parts: cp}
}

func createUpload(tb testing.TB, c *s3.Client, in *s3.CreateMultipartUploadInput) string {
	tb.Helper()
	out, err := c.CreateMultipartUpload(context.Background(), in)
	if err != nil {
		tb.Fatalf("CreateMultipartUpload(%s): %v", aws.ToString(in.Key), err)
	}
	if aws.ToString(out.UploadId) == "" {
		tb.Fatalf("CreateMultipartUpload(%s): empty UploadId", aws.ToString(in.Key))
	}
	return aws.ToString(out.UploadId)
}

func uploadPart(tb testing.TB, c *s3.Client, bucket, key, id string, n int32, data []byte, alg types.ChecksumAlgorithm) part {
	tb.Helper()
	out, err := c.UploadPart(context.Background(), &s3.UploadPartInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id), PartNumber: aws.Int32(n),
		Body: bytes.NewReader(data), ChecksumAlgorithm: alg,
	})
	if err != nil {
		tb.Fatalf("UploadPart %d: %v", n, err)
	}
	return part{n: n, data: data, etag: aws.ToString(out.ETag),
		checksum: checksumOf(alg, out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256)}
}

func TestMultipartUpload(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "mpu")
	b, k := aws.String("mpu"), aws.String("big")
	id := createUpload(t, c, &s3.CreateMultipartUploadInput{Bucket: b, Key: k, ContentType: aws.String("application/x-test"), Metadata: map[string]string{"m": "1"}})
	p1 := uploadPart(t, c, "mpu", "big", id, 1, payload(5*miB, 1), "")
	p2 := uploadPart(t, c, "mpu", "big", id, 2, payload(1234, 2), "")
	for _, p := range []part{p1, p2} {
		if want := quoted(md5Hex(p.data)); p.etag != want {
			t.Errorf("UploadPart %d ETag = %s, want %s", p.n, p.etag, want)
		}
	}
	t.Run("op=ListParts", func(t *testing.T) {
		out, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: k, UploadId: aws.String(id)})
		if err != nil {
			t.Fatalf("ListParts: %v", err)
		}
		if len(out.Parts) != 2 {
			t.Fatalf("ListParts: %d parts, want 2", len(out.Parts))
		}
		for i, p := range []part{p1, p2} {
			got := out.Parts[i]
			if aws.ToInt32(got.PartNumber) != p.n || aws.ToString(got.ETag) != p.etag || aws.ToInt64(got.Size) != int64(len(p.data)) {
				t.Errorf("part %d = {%d %s %d}, want {%d %s %d}", i, aws.ToInt32(got.PartNumber), aws.ToString(got.ETag), aws.ToInt64(got.Size), p.n, p.etag, len(p.data))
			}
		}
		paged, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: k, UploadId: aws.String(id), MaxParts: aws.Int32(1)})
		if err != nil {
			t.Fatalf("ListParts max-parts=1: %v", err)
		}
		if len(paged.Parts) != 1 || !aws.ToBool(paged.IsTruncated) || aws.ToString(paged.NextPartNumberMarker) != "1" {
			t.Errorf("ListParts max-parts=1: %d parts, IsTruncated %v, NextPartNumberMarker %q; want 1, true, 1", len(paged.Parts), aws.ToBool(paged.IsTruncated), aws.ToString(paged.NextPartNumberMarker))
		}
	})
	t.Run("op=ListMultipartUploads", func(t *testing.T) {
		out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b})
		if err != nil {
			t.Fatalf("ListMultipartUploads: %v", err)
		}
		if len(out.Uploads) != 1 || aws.ToString(out.Uploads[0].UploadId) != id || aws.ToString(out.Uploads[0].Key) != "big" {
			t.Fatalf("ListMultipartUploads = %+v, want the one upload %s of big", out.Uploads, id)
		}
	})
	whole := append(append([]byte(nil), p1.data...), p2.data...)
	t.Run("op=CompleteMultipartUpload", func(t *testing.T) {
		out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: aws.String(id), MultipartUpload: completed([]part{p1, p2}, "")})
		if err != nil {
			t.Fatalf("CompleteMultipartUpload: %v", err)
		}
		if got, want := aws.ToString(out.ETag), quoted(multipartETag(p1.data, p2.data)); got != want {
			t.Errorf("ETag = %s, want %s (MD5 of the part MD5s, -2)", got, want)
		}
		got, g := getObject(t, c, &s3.GetObjectInput{Bucket: b, Key: k})
		if sha256Hex(got) != sha256Hex(whole) {
			t.Fatalf("object: %d bytes sha256 %s, want %d bytes sha256 %s", len(got), sha256Hex(got), len(whole), sha256Hex(whole))
		}
		if aws.ToString(g.ContentType) != "application/x-test" || g.Metadata["m"] != "1" {
			t.Errorf("object Content-Type %q Metadata %v, want those of CreateMultipartUpload", aws.ToString(g.ContentType), g.Metadata)
		}
		lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b})
		if err != nil {
			t.Fatalf("ListMultipartUploads: %v", err)
		}
		if len(lu.Uploads) != 0 {
			t.Errorf("ListMultipartUploads after completion = %d uploads, want 0", len(lu.Uploads))
		}
	})
	t.Run("op=GetObject/partNumber", func(t *testing.T) {
		for _, p := range []part{p1, p2} {
			got, out := getObject(t, c, &s3.GetObjectInput{Bucket: b, Key: k, PartNumber: aws.Int32(p.n)})
			if !bytes.Equal(got, p.data) {
				t.Errorf("GetObject partNumber=%d: %d bytes, want the %d bytes of the part", p.n, len(got), len(p.data))
			}
			if aws.ToInt32(out.PartsCount) != 2 {
				t.Errorf("GetObject partNumber=%d: x-amz-mp-parts-count = %d, want 2", p.n, aws.ToInt32(out.PartsCount))
			}
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: k, PartNumber: aws.Int32(1)})
		if err != nil {
			t.Fatalf("HeadObject partNumber=1: %v", err)
		}
		if aws.ToInt64(head.ContentLength) != int64(len(p1.data)) {
			t.Errorf("HeadObject partNumber=1 Content-Length = %d, want %d", aws.ToInt64(head.ContentLength), len(p1.data))
		}
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k, PartNumber: aws.Int32(3)})
		wantAPIError(t, err, http.StatusRequestedRangeNotSatisfiable, "InvalidPartNumber")
		// S3: "Cannot specify both Range header and partNumber query parameter".
		both, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k, PartNumber: aws.Int32(1), Range: aws.String("bytes=0-9")})
		if err == nil {
			both.Body.Close()
		}
		wantAPIError(t, err, http.StatusBadRequest, "InvalidRequest")
	})
	t.Run("op=UploadPart/after-complete", func(t *testing.T) {
		_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: k, UploadId: aws.String(id), PartNumber: aws.Int32(3), Body: strings.NewReader("x")})
		wantAPIError(t, err, http.StatusNotFound, "NoSuchUpload")
	})
}

func TestMultipartPartChoices(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "choices")
	b, k := aws.String("choices"), aws.String("k")
	id := createUpload(t, c, &s3.CreateMultipartUploadInput{Bucket: b, Key: k})
	p1 := uploadPart(t, c, "choices", "k", id, 1, payload(5*miB, 1), "")
	uploadPart(t, c, "choices", "k", id, 2, payload(5*miB, 2), "")
	// Uploading a part number again replaces the part.
	p2 := uploadPart(t, c, "choices", "k", id, 2, payload(5*miB, 22), "")
	uploadPart(t, c, "choices", "k", id, 3, payload(5*miB, 3), "")
	p4 := uploadPart(t, c, "choices", "k", id, 4, []byte("end"), "")
	// Parts need not be contiguous: 3 is left out. ETags may come without
	// quotes.
	p4.etag = strings.Trim(p4.etag, `"`)
	out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: aws.String(id), MultipartUpload: completed([]part{p1, p2, p4}, "")})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload with parts 1, 2 (replaced) and 4: %v", err)
	}
	if got, want := aws.ToString(out.ETag), quoted(multipartETag(p1.data, p2.data, p4.data)); got != want {
		t.Errorf("ETag = %s, want %s", got, want)
	}
	whole := slices.Concat(p1.data, p2.data, p4.data)
	got, _ := getObject(t, c, &s3.GetObjectInput{Bucket: b, Key: k})
	if sha256Hex(got) != sha256Hex(whole) {
		t.Fatalf("object: %d bytes, want %d bytes of parts 1, 2 (second upload) and 4", len(got), len(whole))
	}
	for _, rg := range []struct{ first, last int }{{5*miB - 10, 5*miB + 9}, {10*miB - 1, 10*miB + 2}, {0, len(whole) - 1}, {3, 3}} {
		t.Run(fmt.Sprintf("range=%d-%d", rg.first, rg.last), func(t *testing.T) {
			got, _ := getObject(t, c, &s3.GetObjectInput{Bucket: b, Key: k, Range: aws.String(fmt.Sprintf("bytes=%d-%d", rg.first, rg.last))})
			if !bytes.Equal(got, whole[rg.first:rg.last+1]) {
				t.Fatalf("range across parts: %d bytes, want %d bytes of the object", len(got), rg.last-rg.first+1)
			}
		})
	}
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: k, UploadId: aws.String(id)})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchUpload")
}

func TestMultipartVersioned(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "mpver")
	enableVersioning(t, c, "mpver")
	putObject(t, c, "mpver", "k", []byte("first"))
	id := createUpload(t, c, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpver"), Key: aws.String("k")})
	p := uploadPart(t, c, "mpver", "k", id, 1, []byte("only part"), "")
	out, err := c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpver"), Key: aws.String("k"), UploadId: aws.String(id), MultipartUpload: completed([]part{p}, "")})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if aws.ToString(out.VersionId) == "" {
		t.Fatalf("CompleteMultipartUpload in a versioned bucket: no VersionId")
	}
	if vs := listVersions(t, c, &s3.ListObjectVersionsInput{Bucket: aws.String("mpver")}); len(vs) != 2 || vs[0].id != aws.ToString(out.VersionId) || !vs[0].latest {
		t.Fatalf("versions = %+v, want the completed upload first and latest, then the first put", vs)
	}
}

func TestGetPartNumberSinglePart(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "single")
	data := payload(1000, 5)
	putObject(t, c, "single", "k", data)
	got, _ := getObject(t, c, &s3.GetObjectInput{Bucket: aws.String("single"), Key: aws.String("k"), PartNumber: aws.Int32(1)})
	if !bytes.Equal(got, data) {
		t.Fatalf("GetObject partNumber=1 of a single-part object: %d bytes, want the whole %d", len(got), len(data))
	}
}

func TestMultipartAbort(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "abort")
	b, k := aws.String("abort"), aws.String("k")
	id := createUpload(t, c, &s3.CreateMultipartUploadInput{Bucket: b, Key: k})
	uploadPart(t, c, "abort", "k", id, 1, payload(1000, 1), "")
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: k, UploadId: aws.String(id)}); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	_, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: k, UploadId: aws.String(id)})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchUpload")
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: k, UploadId: aws.String(id), PartNumber: aws.Int32(2), Body: strings.NewReader("x")})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchUpload")
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(quoted(md5Hex(payload(1000, 1))))}}}})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchUpload")
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: k, UploadId: aws.String("not-an-upload")})
	wantAPIError(t, err, http.StatusNotFound, "NoSuchUpload")
	// The bucket can be deleted: nothing of the upload is left.
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Fatalf("DeleteBucket after the abort: %v", err)
	}
}

func TestMultipartCompleteErrors(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "mperr")
	big, small := payload(5*miB, 1), payload(100, 2)
	tests := []struct {
		name  string
		sizes [][]byte
		// parts builds the complete request from the uploaded parts.
		parts  func(ps []part) []part
		status int
		code   string
	}{
		{"case=wrong-etag", [][]byte{big, small}, func(ps []part) []part {
			ps[1].etag = quoted(md5Hex([]byte("something else")))
			return ps
		}, 400, "InvalidPart"},
		{"case=missing-part", [][]byte{big}, func(ps []part) []part {
			return append(ps, part{n: 2, etag: quoted(md5Hex(small))})
		}, 400, "InvalidPart"},
		{"case=out-of-order", [][]byte{big, big, small}, func(ps []part) []part {
			ps[0], ps[1] = ps[1], ps[0]
			return ps
		}, 400, "InvalidPartOrder"},
		{"case=too-small", [][]byte{small, small}, func(ps []part) []part { return ps }, 400, "EntityTooSmall"},
		{"case=duplicate-part", [][]byte{big, small}, func(ps []part) []part {
			return []part{ps[0], ps[0], ps[1]}
		}, 400, "InvalidPartOrder"},
		{"case=no-parts", [][]byte{big}, func(ps []part) []part { return nil }, 400, "MalformedXML"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprint("k", i)
			id := createUpload(t, c, &s3.CreateMultipartUploadInput{Bucket: aws.String("mperr"), Key: aws.String(key)})
			var ps []part
			for j, data := range tt.sizes {
				ps = append(ps, uploadPart(t, c, "mperr", key, id, int32(j+1), data, ""))
			}
			_, err := c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: aws.String("mperr"), Key: aws.String(key), UploadId: aws.String(id),
				MultipartUpload: completed(tt.parts(ps), "")})
			wantAPIError(t, err, tt.status, tt.code)
			// A failed completion leaves the upload in place.
			if _, err := c.ListParts(t.Context(), &s3.ListPartsInput{Bucket: aws.String("mperr"), Key: aws.String(key), UploadId: aws.String(id)}); err != nil {
				t.Fatalf("ListParts after a failed completion = %v, want the upload still there", err)
			}
		})
	}
}

func TestUploadPartCopy(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "upc")
	src := payload(6*miB+100, 9)
	putObject(t, c, "upc", "source", src)
	b, k := aws.String("upc"), aws.String("dest")
	id := createUpload(t, c, &s3.CreateMultipartUploadInput{Bucket: b, Key: k})
	copyPart := func(n int32, first, last int) part {
		t.Helper()
		out, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: k, UploadId: aws.String(id), PartNumber: aws.Int32(n),
			CopySource: aws.String("upc/source"), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", first, last))})
		if err != nil {
			t.Fatalf("UploadPartCopy %d bytes=%d-%d: %v", n, first, last, err)
		}
		data := src[first : last+1]
		if got, want := aws.ToString(out.CopyPartResult.ETag), quoted(md5Hex(data)); got != want {
			t.Errorf("UploadPartCopy %d ETag = %s, want %s (MD5 of the range)", n, got, want)
		}
		return part{n: n, data: data, etag: aws.ToString(out.CopyPartResult.ETag)}
	}
	p1 := copyPart(1, 100, 100+5*miB-1)
	p2 := uploadPart(t, c, "upc", "dest", id, 2, []byte("tail"), "")
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: aws.String(id), MultipartUpload: completed([]part{p1, p2}, "")}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	got, _ := getObject(t, c, &s3.GetObjectInput{Bucket: b, Key: k})
	want := append(append([]byte(nil), src[100:100+5*miB]...), "tail"...)
	if sha256Hex(got) != sha256Hex(want) {
		t.Fatalf("object: %d bytes sha256 %s, want %d bytes sha256 %s", len(got), sha256Hex(got), len(want), sha256Hex(want))
	}
	t.Run("range=past-end", func(t *testing.T) {
		id := createUpload(t, c, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("dest2")})
		_, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("dest2"), UploadId: aws.String(id), PartNumber: aws.Int32(1),
			CopySource: aws.String("upc/source"), CopySourceRange: aws.String(fmt.Sprintf("bytes=0-%d", len(src)))})
		if code := statusOf(err); code != http.StatusBadRequest && code != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("UploadPartCopy with a range past the end: %v, want 400 InvalidArgument or 416 InvalidRange", err)
		}
	})
}

// uploadLikeManager uploads data as the SDK's upload manager does: a
// CreateMultipartUpload asking for CRC32 checksums, parts of partSize sent
// concurrently each with its CRC32, and a completion that lists every
// part's checksum.
func uploadLikeManager(tb testing.TB, c *s3.Client, bucket, key string, data []byte, partSize int, typ types.ChecksumType) ([]part, *s3.CompleteMultipartUploadOutput) {
	tb.Helper()
	alg := types.ChecksumAlgorithmCrc32
	id := createUpload(tb, c, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumAlgorithm: alg, ChecksumType: typ})
	n := (len(data) + partSize - 1) / partSize
	parts := make([]part, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 3)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			chunk := data[i*partSize : min((i+1)*partSize, len(data))]
			out, err := c.UploadPart(context.Background(), &s3.UploadPartInput{
				Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id), PartNumber: aws.Int32(int32(i + 1)),
				Body: bytes.NewReader(chunk), ChecksumAlgorithm: alg,
			})
			if err != nil {
				errs[i] = fmt.Errorf("UploadPart %d: %w", i+1, err)
				return
			}
			parts[i] = part{n: int32(i + 1), data: chunk, etag: aws.ToString(out.ETag), checksum: aws.ToString(out.ChecksumCRC32)}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}
	for _, p := range parts {
		if want := checksumB64(alg, p.data); p.checksum != want {
			tb.Errorf("UploadPart %d x-amz-checksum-crc32 = %q, want %q", p.n, p.checksum, want)
		}
	}
	in := &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id), MultipartUpload: completed(parts, alg)}
	if typ == types.ChecksumTypeFullObject {
		in.ChecksumCRC32 = aws.String(checksumB64(alg, data))
		in.ChecksumType = typ
	}
	out, err := c.CompleteMultipartUpload(context.Background(), in)
	if err != nil {
		tb.Fatalf("CompleteMultipartUpload: %v", err)
	}
	return parts, out
}

// compositeCRC32 is the checksum of a multipart object of type COMPOSITE:
// the CRC32 of the concatenated binary part CRC32s, then "-" and the part
// count.
func compositeCRC32(parts []part) string {
	var cat []byte
	for _, p := range parts {
		cat = append(cat, checksums[types.ChecksumAlgorithmCrc32](p.data)...)
	}
	return fmt.Sprintf("%s-%d", checksumB64(types.ChecksumAlgorithmCrc32, cat), len(parts))
}

func TestMultipartChecksumsLikeUploadManager(t *testing.T) {
	s := newStack(t)
	createBucket(t, s.sdk(s.key), "mgr")
	tests := []struct {
		size, partSize int
		typ            types.ChecksumType
		long           bool
	}{
		{5*miB + 300*kiB, 5 * miB, types.ChecksumTypeComposite, false},
		{5*miB + 300*kiB, 5 * miB, types.ChecksumTypeFullObject, false},
		{17 * miB, 5 * miB, types.ChecksumTypeComposite, true},
		{17 * miB, 8 * miB, types.ChecksumTypeFullObject, true},
	}
	for _, cl := range []struct {
		name string
		c    *s3.Client
	}{{"tls-trailer", s.sdk(s.key)}, {"plain-http-header", s.sdk(s.key, s.overHTTP)}} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("client=%s/size=%d/type=%s", cl.name, tt.size, tt.typ), func(t *testing.T) {
				if tt.long && testing.Short() {
					t.Skip("large object skipped in -short mode")
				}
				ctx := t.Context()
				key := fmt.Sprintf("%s-%d-%s", cl.name, tt.size, tt.typ)
				data := payload(tt.size, uint64(tt.size))
				parts, out := uploadLikeManager(t, cl.c, "mgr", key, data, tt.partSize, tt.typ)
				want := compositeCRC32(parts)
				if tt.typ == types.ChecksumTypeFullObject {
					want = checksumB64(types.ChecksumAlgorithmCrc32, data)
				}
				if got := aws.ToString(out.ChecksumCRC32); got != want {
					t.Errorf("CompleteMultipartUpload ChecksumCRC32 = %q, want %q", got, want)
				}
				var datas [][]byte
				for _, p := range parts {
					datas = append(datas, p.data)
				}
				if got, want := aws.ToString(out.ETag), quoted(multipartETag(datas...)); got != want {
					t.Errorf("ETag = %s, want %s", got, want)
				}
				head, err := cl.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mgr"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
				if err != nil {
					t.Fatalf("HeadObject: %v", err)
				}
				if got := aws.ToString(head.ChecksumCRC32); got != want {
					t.Errorf("HeadObject ChecksumCRC32 = %q, want %q", got, want)
				}
				if head.ChecksumType != tt.typ {
					t.Errorf("HeadObject x-amz-checksum-type = %q, want %q", head.ChecksumType, tt.typ)
				}
				got, _ := getObject(t, cl.c, &s3.GetObjectInput{Bucket: aws.String("mgr"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
				if sha256Hex(got) != sha256Hex(data) {
					t.Fatalf("object: %d bytes sha256 %s, want %d bytes sha256 %s", len(got), sha256Hex(got), len(data), sha256Hex(data))
				}
			})
		}
	}
}

func TestListMultipartUploadsPaging(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "uploads")
	var want []string
	for _, k := range []string{"a", "b", "b", "c/d", "c/e", "f"} {
		id := createUpload(t, c, &s3.CreateMultipartUploadInput{Bucket: aws.String("uploads"), Key: aws.String(k)})
		want = append(want, k+" "+id)
	}
	sort.Strings(want) // by key; two uploads of one key are ordered by initiation
	var got []string
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String("uploads"), MaxUploads: aws.Int32(2)}
	for page := 0; ; page++ {
		if page > 20 {
			t.Fatalf("more than 20 pages: the listing does not end")
		}
		out, err := c.ListMultipartUploads(t.Context(), in)
		if err != nil {
			t.Fatalf("ListMultipartUploads page %d: %v", page, err)
		}
		if len(out.Uploads) > 2 {
			t.Fatalf("page %d has %d uploads, want at most 2", page, len(out.Uploads))
		}
		for _, u := range out.Uploads {
			got = append(got, aws.ToString(u.Key)+" "+aws.ToString(u.UploadId))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	gotKeys, wantKeys := make([]string, len(got)), make([]string, len(want))
	for i := range got {
		gotKeys[i], _, _ = strings.Cut(got[i], " ")
	}
	for i := range want {
		wantKeys[i], _, _ = strings.Cut(want[i], " ")
	}
	if !slices.Equal(gotKeys, wantKeys) || len(got) != len(want) {
		t.Fatalf("uploads = %q, want the keys %q each once", got, wantKeys)
	}
	sorted := slices.Sorted(slices.Values(got))
	if !slices.Equal(sorted, want) {
		t.Fatalf("uploads = %q, want %q", got, want)
	}
}

// ---- Authentication and authorization ----

func TestWrongSecret(t *testing.T) {
	s := newStack(t)
	createBucket(t, s.sdk(s.key), "auth")
	bad := s.key
	bad.Secret = strings.Repeat("x", 40)
	for _, cl := range []struct {
		name string
		c    *s3.Client
	}{{"default", s.sdk(bad)}, {"plain-http", s.sdk(bad, s.overHTTP)}} {
		t.Run("client="+cl.name+"/op=ListBuckets", func(t *testing.T) {
			_, err := cl.c.ListBuckets(t.Context(), &s3.ListBucketsInput{})
			wantAPIError(t, err, http.StatusForbidden, "SignatureDoesNotMatch")
		})
		t.Run("client="+cl.name+"/op=PutObject", func(t *testing.T) {
			_, err := cl.c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("auth"), Key: aws.String("k"), Body: bytes.NewReader(payload(100*kiB, 1))})
			wantAPIError(t, err, http.StatusForbidden, "SignatureDoesNotMatch")
		})
	}
	if keys := listKeys(t, s.sdk(s.key), "auth", ""); len(keys) != 0 {
		t.Fatalf("keys = %q after refused writes, want none", keys)
	}
}

func TestUnknownAccessKey(t *testing.T) {
	s := newStack(t)
	c := s.sdk(vault.AccessKey{ID: "CONOSUCHKEY0000000000", Secret: strings.Repeat("s", 40)})
	_, err := c.ListBuckets(t.Context(), &s3.ListBucketsInput{})
	wantAPIError(t, err, http.StatusForbidden, "InvalidAccessKeyId")
}

func TestAnonymousRequest(t *testing.T) {
	s := newStack(t)
	createBucket(t, s.sdk(s.key), "private")
	putObject(t, s.sdk(s.key), "private", "k", []byte("secret"))
	for _, target := range []string{"/", "/private", "/private/k"} {
		t.Run("target="+target, func(t *testing.T) {
			resp, err := http.Get(s.plain.URL + target)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantError(t, resp, body, http.StatusForbidden, "AccessDenied")
		})
	}
}

func TestTenantIsolation(t *testing.T) {
	s := newStack(t)
	owner, intruder := s.sdk(s.key), s.sdk(s.other)
	ctx := t.Context()
	createBucket(t, owner, "private")
	putObject(t, owner, "private", "secret", []byte("t1 only"))
	b, k := aws.String("private"), aws.String("secret")

	t.Run("op=ListBuckets", func(t *testing.T) {
		out, err := intruder.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			t.Fatalf("ListBuckets: %v", err)
		}
		for _, bk := range out.Buckets {
			if aws.ToString(bk.Name) == "private" {
				t.Fatalf("tenant t2 sees t1's bucket in ListBuckets")
			}
		}
	})
	tests := []struct {
		op   string
		call func() error
		code string
	}{
		{"GetObject", func() error { _, err := intruder.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k}); return err }, "AccessDenied"},
		{"HeadObject", func() error { _, err := intruder.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: k}); return err }, ""},
		{"HeadBucket", func() error { _, err := intruder.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: b}); return err }, ""},
		{"ListObjectsV2", func() error { _, err := intruder.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b}); return err }, "AccessDenied"},
		{"ListObjectVersions", func() error {
			_, err := intruder.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: b})
			return err
		}, "AccessDenied"},
		{"PutObject", func() error {
			_, err := intruder.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: k, Body: strings.NewReader("overwrite")})
			return err
		}, "AccessDenied"},
		{"DeleteObject", func() error {
			_, err := intruder.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: k})
			return err
		}, "AccessDenied"},
		{"CopyObject-from", func() error {
			createBucketIfMissing(intruder, "t2-bucket")
			_, err := intruder.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("t2-bucket"), Key: k, CopySource: aws.String("private/secret")})
			return err
		}, "AccessDenied"},
		{"GetObjectTagging", func() error {
			_, err := intruder.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: k})
			return err
		}, "AccessDenied"},
		{"PutBucketVersioning", func() error {
			_, err := intruder.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
			return err
		}, "AccessDenied"},
		{"CreateMultipartUpload", func() error {
			_, err := intruder.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: k})
			return err
		}, "AccessDenied"},
		{"DeleteObjects", func() error {
			out, err := intruder.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: k}}}})
			if err == nil && len(out.Errors) == 1 && aws.ToString(out.Errors[0].Code) == "AccessDenied" {
				return nil // per-key AccessDenied is also a refusal
			}
			return err
		}, "AccessDenied"},
		{"DeleteBucket", func() error { _, err := intruder.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); return err }, "AccessDenied"},
		{"CreateBucket", func() error { _, err := intruder.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); return err }, "BucketAlreadyExists"},
	}
	for _, tt := range tests {
		t.Run("op="+tt.op, func(t *testing.T) {
			err := tt.call()
			if tt.op == "DeleteObjects" && err == nil {
				return
			}
			status := http.StatusForbidden
			if tt.code == "BucketAlreadyExists" {
				status = http.StatusConflict
			}
			wantAPIError(t, err, status, tt.code)
		})
	}
	got, _ := getObject(t, owner, &s3.GetObjectInput{Bucket: b, Key: k})
	if string(got) != "t1 only" {
		t.Fatalf("t1's object = %q after t2's attempts, want %q", got, "t1 only")
	}
}

func createBucketIfMissing(c *s3.Client, name string) {
	c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)})
}

func TestPresignedURLs(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key, s.overHTTP)
	ctx := t.Context()
	createBucket(t, c, "presign")
	putObject(t, c, "presign", "get-me", []byte("presigned content"))
	pc := s3.NewPresignClient(c)

	t.Run("op=GetObject", func(t *testing.T) {
		req, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("presign"), Key: aws.String("get-me")}, s3.WithPresignExpires(5*time.Minute))
		if err != nil {
			t.Fatalf("PresignGetObject: %v", err)
		}
		resp, err := http.Get(req.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "presigned content" {
			t.Fatalf("GET presigned URL: %d %q, want 200 %q", resp.StatusCode, body, "presigned content")
		}
	})
	t.Run("op=PutObject", func(t *testing.T) {
		req, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("presign"), Key: aws.String("put-me")}, s3.WithPresignExpires(5*time.Minute))
		if err != nil {
			t.Fatalf("PresignPutObject: %v", err)
		}
		hr, err := http.NewRequest(req.Method, req.URL, strings.NewReader("uploaded with a URL"))
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range req.SignedHeader {
			if !strings.EqualFold(k, "Host") {
				hr.Header[k] = vs
			}
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT presigned URL: %d %q, want 200", resp.StatusCode, truncate(body))
		}
		got, _ := getObject(t, c, &s3.GetObjectInput{Bucket: aws.String("presign"), Key: aws.String("put-me")})
		if string(got) != "uploaded with a URL" {
			t.Fatalf("object = %q, want %q", got, "uploaded with a URL")
		}
	})
	t.Run("expiry=past", func(t *testing.T) {
		// Signed two hours ago for one hour.
		req, err := http.NewRequest(http.MethodGet, s.plain.URL+"/presign/get-me?X-Amz-Expires=3600", nil)
		if err != nil {
			t.Fatal(err)
		}
		u, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(ctx,
			aws.Credentials{AccessKeyID: s.key.ID, SecretAccessKey: s.key.Secret}, req, "UNSIGNED-PAYLOAD", "s3", region, time.Now().Add(-2*time.Hour))
		if err != nil {
			t.Fatalf("PresignHTTP: %v", err)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, resp, body, http.StatusForbidden, "AccessDenied")
	})
	t.Run("expiry=more-than-a-week", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, s.plain.URL+"/presign/get-me?X-Amz-Expires=604801", nil)
		if err != nil {
			t.Fatal(err)
		}
		u, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(ctx,
			aws.Credentials{AccessKeyID: s.key.ID, SecretAccessKey: s.key.Secret}, req, "UNSIGNED-PAYLOAD", "s3", region, time.Now())
		if err != nil {
			t.Fatalf("PresignHTTP: %v", err)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, resp, body, http.StatusBadRequest, "AuthorizationQueryParametersError")
	})
	t.Run("expiry=3s", func(t *testing.T) {
		req, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("presign"), Key: aws.String("get-me")}, s3.WithPresignExpires(3*time.Second))
		if err != nil {
			t.Fatalf("PresignGetObject: %v", err)
		}
		if r, err := http.Get(req.URL); err != nil || r.StatusCode != http.StatusOK {
			t.Fatalf("GET presigned URL before it expires: %v %v, want 200", r.Status, err)
		} else {
			r.Body.Close()
		}
		var resp *http.Response
		var body []byte
		eventually(t, 10*time.Second, "refused once expired", func() bool {
			r, err := http.Get(req.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp = r
			body, _ = io.ReadAll(r.Body)
			r.Body.Close()
			return r.StatusCode != http.StatusOK
		})
		wantError(t, resp, body, http.StatusForbidden, "AccessDenied")
	})
	t.Run("key=special", func(t *testing.T) {
		key := "dir/sp ace+plus%ü"
		putObject(t, c, "presign", key, []byte("special"))
		req, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("presign"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("PresignGetObject: %v", err)
		}
		resp, err := http.Get(req.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "special" {
			t.Fatalf("GET presigned URL of %q: %d %q, want 200 %q", key, resp.StatusCode, truncate(body), "special")
		}
	})
	t.Run("signature=tampered", func(t *testing.T) {
		req, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("presign"), Key: aws.String("get-me")})
		if err != nil {
			t.Fatal(err)
		}
		u := strings.Replace(req.URL, "get-me", "get-me-not", 1)
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, resp, body, http.StatusForbidden, "SignatureDoesNotMatch")
	})
}

func TestRequestTimeTooSkewed(t *testing.T) {
	s := newStack(t)
	createBucket(t, s.sdk(s.key), "skew")
	for _, off := range []time.Duration{20 * time.Minute, -20 * time.Minute} {
		t.Run(fmt.Sprintf("offset=%v", off), func(t *testing.T) {
			req := s.signed(t, s.key, http.MethodGet, "/skew?list-type=2", nil, nil, time.Now().Add(off))
			resp, body := send(t, req)
			wantError(t, resp, body, http.StatusForbidden, "RequestTimeTooSkewed")
		})
	}
	t.Run("offset=5m0s", func(t *testing.T) {
		req := s.signed(t, s.key, http.MethodGet, "/skew?list-type=2", nil, nil, time.Now().Add(5*time.Minute))
		if resp, body := send(t, req); resp.StatusCode != http.StatusOK {
			t.Fatalf("request 5 minutes ahead: %d %q, want 200 (AWS allows 15 minutes)", resp.StatusCode, truncate(body))
		}
	})
}

func TestVirtualHostedStyle(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key, s.virtualHosted)
	ctx := t.Context()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatalf("CreateBucket (virtual-hosted): %v", err)
	}
	putObject(t, c, "vhost", "dir/key with space", []byte("hosted"))
	got, _ := getObject(t, c, &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/key with space")})
	if string(got) != "hosted" {
		t.Fatalf("GetObject (virtual-hosted) = %q, want %q", got, "hosted")
	}
	if keys := listKeys(t, c, "vhost", ""); !slices.Equal(keys, []string{"dir/key with space"}) {
		t.Fatalf("ListObjectsV2 (virtual-hosted) = %q, want [dir/key with space]", keys)
	}
	// The path-style client sees the same bucket.
	got, _ = getObject(t, s.sdk(s.key), &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/key with space")})
	if string(got) != "hosted" {
		t.Fatalf("GetObject (path-style) = %q, want %q", got, "hosted")
	}
	t.Run("client=raw", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(s.plain.Listener.Addr().String())
		req := httpRequest(t, http.MethodGet, s.plain.URL+"/dir/key%20with%20space", nil)
		req.Host = "vhost.localhost:" + port
		signRequest(t, s.key, req, nil, time.Now())
		resp, body := send(t, req)
		if resp.StatusCode != http.StatusOK || string(body) != "hosted" {
			t.Fatalf("GET Host %s: %d %q, want 200 %q", req.Host, resp.StatusCode, truncate(body), "hosted")
		}
	})
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/key with space")}); err != nil {
		t.Fatalf("DeleteObject (virtual-hosted): %v", err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatalf("DeleteBucket (virtual-hosted): %v", err)
	}
}

func httpRequest(tb testing.TB, method, u string, body []byte) *http.Request {
	tb.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	return req
}

// ---- Robustness ----

func TestMalformedXML(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "xml")
	putObject(t, c, "xml", "obj", []byte("x"))
	id := createUpload(t, c, &s3.CreateMultipartUploadInput{Bucket: aws.String("xml"), Key: aws.String("mp")})
	uploadPart(t, c, "xml", "mp", id, 1, []byte("part"), "")
	ops := []struct {
		name, method, target string
		emptyOK              bool
	}{
		{"CompleteMultipartUpload", http.MethodPost, "/xml/mp?uploadId=" + id, false},
		{"DeleteObjects", http.MethodPost, "/xml?delete", false},
		{"PutObjectTagging", http.MethodPut, "/xml/obj?tagging", false},
		{"PutBucketTagging", http.MethodPut, "/xml?tagging", false},
		{"PutBucketVersioning", http.MethodPut, "/xml?versioning", false},
		{"CreateBucket", http.MethodPut, "/xml-new", true},
	}
	bodies := []struct{ name, body string }{
		{"empty", ""},
		{"truncated", "<Delete><Object><Key>a</Key>"},
		{"not-xml", "this is not XML at all"},
		{"wrong-root", "<Wrong><Status>Enabled</Status></Wrong>"},
		{"binary", "\x00\xff\xfe<\x01>"},
		{"unclosed-attr", `<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/><TagSet>`},
		{"mismatched", "<Tagging><TagSet></Tagging></TagSet>"},
	}
	for _, op := range ops {
		for _, b := range bodies {
			if b.body == "" && op.emptyOK {
				continue // an empty body is valid for this operation
			}
			t.Run(fmt.Sprintf("op=%s/body=%s", op.name, b.name), func(t *testing.T) {
				hdr := http.Header{"Content-Md5": {md5B64([]byte(b.body))}}
				resp, body := s.do(t, s.key, op.method, op.target, []byte(b.body), hdr)
				wantError(t, resp, body, http.StatusBadRequest, "MalformedXML")
			})
		}
	}
	// Nothing above may have changed anything.
	if _, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("xml"), Key: aws.String("obj")}); err != nil {
		t.Fatalf("obj after malformed requests: %v", err)
	}
	if _, err := c.ListParts(t.Context(), &s3.ListPartsInput{Bucket: aws.String("xml"), Key: aws.String("mp"), UploadId: aws.String(id)}); err != nil {
		t.Fatalf("upload after malformed requests: %v", err)
	}
}

func TestInvalidXMLValues(t *testing.T) {
	s := newStack(t)
	createBucket(t, s.sdk(s.key), "vals")
	tests := []struct {
		name, method, target, body string
		status                     int
		code                       string
	}{
		{"versioning=bogus", http.MethodPut, "/vals?versioning", `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Sometimes</Status></VersioningConfiguration>`, 400, "IllegalVersioningConfigurationException"},
		{"tagging=duplicate-keys", http.MethodPut, "/vals?tagging", `<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>`, 400, "InvalidTag"},
		{"tagging=empty-key", http.MethodPut, "/vals?tagging", `<Tagging><TagSet><Tag><Key></Key><Value>1</Value></Tag></TagSet></Tagging>`, 400, "InvalidTag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := s.do(t, s.key, tt.method, tt.target, []byte(tt.body), nil)
			wantError(t, resp, body, tt.status, tt.code)
		})
	}
}

func TestNotImplementedSubresources(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "sub")
	putObject(t, c, "sub", "obj", []byte("x"))
	tests := []struct{ method, target string }{
		{http.MethodGet, "/sub?logging"},
		{http.MethodPut, "/sub?logging"},
		{http.MethodGet, "/sub?notification"},
		{http.MethodGet, "/sub?accelerate"},
		{http.MethodGet, "/sub?requestPayment"},
		{http.MethodGet, "/sub?inventory"},
		{http.MethodGet, "/sub?analytics"},
		{http.MethodGet, "/sub?metrics"},
		{http.MethodPut, "/sub?policy"},
		{http.MethodPut, "/sub?cors"},
		{http.MethodPut, "/sub?lifecycle"},
		{http.MethodGet, "/sub/obj?retention"},
		{http.MethodGet, "/sub/obj?legal-hold"},
		{http.MethodGet, "/sub/obj?torrent"},
		{http.MethodPost, "/sub/obj?restore"},
		{http.MethodPost, "/sub/obj?select&select-type=2"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("method=%s/target=%s", tt.method, tt.target), func(t *testing.T) {
			resp, body := s.do(t, s.key, tt.method, tt.target, []byte("<x/>"), nil)
			wantError(t, resp, body, http.StatusNotImplemented, "NotImplemented")
		})
	}
}

// TestUnsupportedSubresourcesChangeNothing sends the requests of S3 APIs
// that Coffre does not implement (the aws-sdk-go-v2 operations of those
// names): each must be refused with NotImplemented, and above all must not
// fall through to the plain operation of its method (DeleteBucket,
// DeleteObject, PutObject) and destroy data.
func TestUnsupportedSubresourcesChangeNothing(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	// In each target, {b} is an empty bucket of the case's own, {o} an
	// object in another.
	tests := []struct {
		op, method, target, body string
	}{
		{"DeleteBucketMetadataTableConfiguration", http.MethodDelete, "/{b}?metadataTable", ""},
		{"DeleteBucketMetadataConfiguration", http.MethodDelete, "/{b}?metadataConfiguration", ""},
		{"DeleteObjectAnnotation", http.MethodDelete, "/{o}?annotation", ""},
		{"PutObjectAnnotation", http.MethodPut, "/{o}?annotation", "<Annotation/>"},
		{"UpdateObjectEncryption", http.MethodPut, "/{o}?encryption", "<ObjectEncryption/>"},
		{"RenameObject", http.MethodPut, "/{o}?renameObject", ""},
		{"PutBucketAbac", http.MethodPut, "/{b}?abac", "<AbacStatus/>"},
		{"CreateBucketMetadataTableConfiguration", http.MethodPost, "/{b}?metadataTable", "<MetadataTableConfiguration/>"},
		{"UpdateBucketMetadataJournalTableConfiguration", http.MethodPut, "/{b}?metadataJournalTable", "<JournalTableConfiguration/>"},
		{"GetObjectAnnotation", http.MethodGet, "/{o}?annotation", ""},
		{"GetBucketMetadataTableConfiguration", http.MethodGet, "/{b}?metadataTable", ""},
	}
	for i, tt := range tests {
		t.Run("op="+tt.op, func(t *testing.T) {
			empty, full := fmt.Sprintf("empty-%d", i), fmt.Sprintf("full-%d", i)
			createBucket(t, c, empty)
			createBucket(t, c, full)
			putObject(t, c, full, "obj", []byte("keep me"))
			target := strings.NewReplacer("{b}", empty, "{o}", full+"/obj").Replace(tt.target)
			hdr := http.Header{}
			if tt.op == "RenameObject" {
				hdr.Set("X-Amz-Rename-Source", "/"+full+"/other")
			}
			resp, body := s.do(t, s.key, tt.method, target, []byte(tt.body), hdr)
			if _, err := c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(empty)}); err != nil {
				t.Errorf("%s %s deleted bucket %s: HeadBucket = %v", tt.method, target, empty, err)
			}
			if out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(full), Key: aws.String("obj")}); err != nil {
				t.Errorf("%s %s removed %s/obj: GetObject = %v", tt.method, target, full, err)
			} else {
				got, _ := io.ReadAll(out.Body)
				out.Body.Close()
				if string(got) != "keep me" {
					t.Errorf("%s %s overwrote %s/obj: body %q, want %q", tt.method, target, full, got, "keep me")
				}
			}
			wantError(t, resp, body, http.StatusNotImplemented, "NotImplemented")
		})
	}
}

func TestErrorBodies(t *testing.T) {
	s := newStack(t)
	createBucket(t, s.sdk(s.key), "errs")
	putObject(t, s.sdk(s.key), "errs", "obj", []byte("0123456789"))
	bad := s.key
	bad.Secret = strings.Repeat("z", 40)
	tests := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		status int
		code   string
	}{
		{"NoSuchBucket", func(t *testing.T) *http.Request {
			return s.signed(t, s.key, http.MethodGet, "/nobucket?list-type=2", nil, nil, time.Now())
		}, 404, "NoSuchBucket"},
		{"NoSuchKey", func(t *testing.T) *http.Request {
			return s.signed(t, s.key, http.MethodGet, "/errs/nokey", nil, nil, time.Now())
		}, 404, "NoSuchKey"},
		{"InvalidRange", func(t *testing.T) *http.Request {
			return s.signed(t, s.key, http.MethodGet, "/errs/obj", nil, http.Header{"Range": {"bytes=50-60"}}, time.Now())
		}, 416, "InvalidRange"},
		{"SignatureDoesNotMatch", func(t *testing.T) *http.Request {
			return s.signed(t, bad, http.MethodGet, "/", nil, nil, time.Now())
		}, 403, "SignatureDoesNotMatch"},
		{"InvalidAccessKeyId", func(t *testing.T) *http.Request {
			return s.signed(t, vault.AccessKey{ID: "CONOSUCHKEY0000000000", Secret: "whatever-secret"}, http.MethodGet, "/", nil, nil, time.Now())
		}, 403, "InvalidAccessKeyId"},
		{"AccessDenied-anonymous", func(t *testing.T) *http.Request {
			return httpRequest(t, http.MethodGet, s.plain.URL+"/errs/obj", nil)
		}, 403, "AccessDenied"},
		{"AccessDenied-other-tenant", func(t *testing.T) *http.Request {
			return s.signed(t, s.other, http.MethodGet, "/errs/obj", nil, nil, time.Now())
		}, 403, "AccessDenied"},
		{"InvalidBucketName", func(t *testing.T) *http.Request {
			return s.signed(t, s.key, http.MethodPut, "/Bad_Name", nil, nil, time.Now())
		}, 400, "InvalidBucketName"},
		{"MalformedXML", func(t *testing.T) *http.Request {
			return s.signed(t, s.key, http.MethodPut, "/errs?versioning", []byte("<oops"), nil, time.Now())
		}, 400, "MalformedXML"},
		{"NotImplemented", func(t *testing.T) *http.Request {
			return s.signed(t, s.key, http.MethodGet, "/errs?logging", nil, nil, time.Now())
		}, 501, "NotImplemented"},
		{"MethodNotAllowed", func(t *testing.T) *http.Request {
			return s.signed(t, s.key, http.MethodPost, "/errs/obj", nil, nil, time.Now())
		}, 405, "MethodNotAllowed"},
		{"NoSuchUpload", func(t *testing.T) *http.Request {
			return s.signed(t, s.key, http.MethodGet, "/errs/obj?uploadId=0123456789", nil, nil, time.Now())
		}, 404, "NoSuchUpload"},
		{"XAmzContentSHA256Mismatch", func(t *testing.T) *http.Request {
			req := s.signed(t, s.key, http.MethodPut, "/errs/sha", []byte("signed body"), nil, time.Now())
			req.Body = io.NopCloser(strings.NewReader("other body!"))
			return req
		}, 400, "XAmzContentSHA256Mismatch"},
		{"MissingContentSHA256", func(t *testing.T) *http.Request {
			req := httpRequest(t, http.MethodGet, s.plain.URL+"/", nil)
			signRequest(t, s.key, req, nil, time.Now())
			req.Header.Del("X-Amz-Content-Sha256")
			return req
		}, 400, "InvalidRequest"},
		{"MissingContentLength", func(t *testing.T) *http.Request {
			req := httpRequest(t, http.MethodPut, s.plain.URL+"/errs/nolength", nil)
			req.Body = io.NopCloser(strings.NewReader("streamed without a length"))
			req.ContentLength = -1
			req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
			if err := signer.SignHTTP(t.Context(), aws.Credentials{AccessKeyID: s.key.ID, SecretAccessKey: s.key.Secret}, req, "UNSIGNED-PAYLOAD", "s3", region, time.Now()); err != nil {
				t.Fatal(err)
			}
			return req
		}, 411, "MissingContentLength"},
		{"AuthorizationHeaderMalformed", func(t *testing.T) *http.Request {
			req := httpRequest(t, http.MethodGet, s.plain.URL+"/", nil)
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=garbage")
			req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
			req.Header.Set("X-Amz-Content-Sha256", sha256Hex(nil))
			return req
		}, 400, "AuthorizationHeaderMalformed"},
	}
	for _, tt := range tests {
		t.Run("code="+tt.name, func(t *testing.T) {
			resp, body := send(t, tt.req(t))
			wantError(t, resp, body, tt.status, tt.code)
		})
	}
}

func TestInvalidArguments(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "args")
	putObject(t, c, "args", "obj", []byte("x"))
	tests := []struct {
		name, method, target string
		status               int
		code                 string
	}{
		{"max-keys=-1", http.MethodGet, "/args?list-type=2&max-keys=-1", 400, "InvalidArgument"},
		{"max-keys=abc", http.MethodGet, "/args?list-type=2&max-keys=abc", 400, "InvalidArgument"},
		{"continuation-token=bogus", http.MethodGet, "/args?list-type=2&continuation-token=%21%21%21", 400, "InvalidArgument"},
		{"partNumber=0", http.MethodGet, "/args/obj?partNumber=0", 400, "InvalidArgument"},
		{"partNumber=10001", http.MethodPut, "/args/obj?partNumber=10001&uploadId=x", 400, "InvalidArgument"},
		{"version-id-marker-without-key-marker", http.MethodGet, "/args?versions&version-id-marker=abc", 400, "InvalidArgument"},
		{"key-too-long", http.MethodPut, "/args/" + strings.Repeat("k", 1025), 400, "KeyTooLongError"},
		{"versionId=malformed", http.MethodGet, "/args/obj?versionId=not-a-version", 400, "InvalidArgument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := s.do(t, s.key, tt.method, tt.target, nil, nil)
			wantError(t, resp, body, tt.status, tt.code)
		})
	}
}

func TestACLPrivateOnly(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	ctx := t.Context()
	createBucket(t, c, "acl")
	putObject(t, c, "acl", "obj", []byte("x"))
	out, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("acl")})
	if err != nil {
		t.Fatalf("GetBucketAcl: %v", err)
	}
	if len(out.Grants) != 1 || out.Grants[0].Permission != types.PermissionFullControl {
		t.Fatalf("GetBucketAcl grants = %+v, want the owner's FULL_CONTROL only", out.Grants)
	}
	if _, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("acl"), Key: aws.String("obj")}); err != nil {
		t.Fatalf("GetObjectAcl: %v", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("acl"), Key: aws.String("public"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
	if err == nil {
		t.Fatalf("PutObject with x-amz-acl public-read succeeded; Coffre must refuse to make data public")
	}
}

// TestHeadersMatchAcrossGetAndHead checks that HEAD answers the headers GET
// does, without a body.
func TestHeadersMatchAcrossGetAndHead(t *testing.T) {
	s := newStack(t)
	c := s.sdk(s.key)
	createBucket(t, c, "head-get")
	data := payload(4321, 4)
	putObject(t, c, "head-get", "obj", data)
	get, gbody := s.do(t, s.key, http.MethodGet, "/head-get/obj", nil, nil)
	head, hbody := s.do(t, s.key, http.MethodHead, "/head-get/obj", nil, nil)
	if get.StatusCode != 200 || head.StatusCode != 200 {
		t.Fatalf("GET %d, HEAD %d, want 200 both", get.StatusCode, head.StatusCode)
	}
	if len(hbody) != 0 {
		t.Errorf("HEAD body has %d bytes, want none", len(hbody))
	}
	if !bytes.Equal(gbody, data) {
		t.Errorf("GET body differs from the object")
	}
	for _, h := range []string{"ETag", "Content-Length", "Content-Type", "Last-Modified", "Accept-Ranges"} {
		if g, hd := get.Header.Get(h), head.Header.Get(h); g != hd || g == "" {
			t.Errorf("%s: GET %q, HEAD %q, want the same non-empty value", h, g, hd)
		}
	}
	if got := head.Header.Get("Content-Length"); got != strconv.Itoa(len(data)) {
		t.Errorf("HEAD Content-Length = %q, want %d", got, len(data))
	}
	if _, err := http.ParseTime(get.Header.Get("Last-Modified")); err != nil {
		t.Errorf("Last-Modified %q is not an HTTP date: %v", get.Header.Get("Last-Modified"), err)
	}
}
