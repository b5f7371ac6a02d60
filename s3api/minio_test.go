package s3api_test

// The same S3 semantics through minio-go v7, which signs every PUT body as
// a streaming payload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or its -TRAILER
// variant with CRC32C trailers) over plain HTTP, uploads objects of 16 MiB
// and more in parallel parts, and looks buckets up its own way.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/tags"
)

// wantMinioError checks the S3 error code and status of a minio-go error.
func wantMinioError(tb testing.TB, err error, status int, code string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("err = nil, want %d %s", status, code)
	}
	er := minio.ToErrorResponse(err)
	if er.StatusCode != status || (code != "" && er.Code != code) {
		tb.Fatalf("error %d %q (%v), want %d %s", er.StatusCode, er.Code, err, status, code)
	}
}

func TestMinioPutGetSizes(t *testing.T) {
	s := newStack(t)
	if err := s.minio(t, s.key, false).MakeBucket(t.Context(), "msizes", minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("MakeBucket: %v", err)
	}
	for _, trailing := range []bool{false, true} {
		c := s.minio(t, s.key, trailing)
		for _, size := range []int{0, 1, 100 * kiB, 1 * miB, 17 * miB} {
			t.Run(fmt.Sprintf("trailing=%v/size=%d", trailing, size), func(t *testing.T) {
				if size > 16*miB && testing.Short() {
					t.Skip("large object skipped in -short mode")
				}
				ctx := t.Context()
				key := fmt.Sprintf("t%v/%d", trailing, size)
				data := payload(size, uint64(size)+1)
				opts := minio.PutObjectOptions{ContentType: "application/x-test"}
				if trailing {
					opts.Checksum = minio.ChecksumCRC32C
				}
				info, err := c.PutObject(ctx, "msizes", key, bytes.NewReader(data), int64(size), opts)
				if err != nil {
					t.Fatalf("PutObject: %v", err)
				}
				if info.Size != int64(size) {
					t.Errorf("PutObject size = %d, want %d", info.Size, size)
				}
				st, err := c.StatObject(ctx, "msizes", key, minio.StatObjectOptions{})
				if err != nil {
					t.Fatalf("StatObject: %v", err)
				}
				if st.Size != int64(size) || st.ContentType != "application/x-test" {
					t.Errorf("StatObject = size %d type %q, want %d application/x-test", st.Size, st.ContentType, size)
				}
				if size < 16*miB && st.ETag != md5Hex(data) {
					t.Errorf("ETag = %s, want %s (the MD5 of the body)", st.ETag, md5Hex(data))
				}
				obj, err := c.GetObject(ctx, "msizes", key, minio.GetObjectOptions{})
				if err != nil {
					t.Fatalf("GetObject: %v", err)
				}
				got, err := io.ReadAll(obj)
				obj.Close()
				if err != nil {
					t.Fatalf("GetObject: reading: %v", err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("GetObject: %d bytes sha256 %s, want %d bytes sha256 %s", len(got), sha256Hex(got), len(data), sha256Hex(data))
				}
			})
		}
	}
}

func TestMinioUnknownSizeStream(t *testing.T) {
	s := newStack(t)
	c := s.minio(t, s.key, false)
	ctx := t.Context()
	if err := c.MakeBucket(ctx, "stream", minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("MakeBucket: %v", err)
	}
	// A reader of unknown length: minio-go buffers parts of PartSize and
	// uploads them with a multipart upload.
	data := payload(6*miB+17, 3)
	_, err := c.PutObject(ctx, "stream", "unknown", io.MultiReader(bytes.NewReader(data)), -1, minio.PutObjectOptions{PartSize: 5 * miB})
	if err != nil {
		t.Fatalf("PutObject of unknown size: %v", err)
	}
	obj, err := c.GetObject(ctx, "stream", "unknown", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetObject: %d bytes (err %v), want the %d bytes put", len(got), err, len(data))
	}
}

func TestMinioBuckets(t *testing.T) {
	s := newStack(t)
	c := s.minio(t, s.key, false)
	ctx := t.Context()
	for _, b := range []string{"mb-one", "mb-two"} {
		if err := c.MakeBucket(ctx, b, minio.MakeBucketOptions{Region: region}); err != nil {
			t.Fatalf("MakeBucket(%s): %v", b, err)
		}
	}
	err := c.MakeBucket(ctx, "mb-one", minio.MakeBucketOptions{})
	wantMinioError(t, err, http.StatusConflict, "BucketAlreadyOwnedByYou")
	for _, tt := range []struct {
		bucket string
		want   bool
	}{{"mb-one", true}, {"mb-absent", false}} {
		t.Run("op=BucketExists/bucket="+tt.bucket, func(t *testing.T) {
			ok, err := c.BucketExists(ctx, tt.bucket)
			if err != nil || ok != tt.want {
				t.Fatalf("BucketExists(%s) = %v, %v; want %v, nil", tt.bucket, ok, err, tt.want)
			}
		})
	}
	bs, err := c.ListBuckets(ctx)
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var names []string
	for _, b := range bs {
		names = append(names, b.Name)
	}
	if !slices.Equal(names, []string{"mb-one", "mb-two"}) {
		t.Fatalf("ListBuckets = %v, want [mb-one mb-two]", names)
	}
	if _, err := c.PutObject(ctx, "mb-two", "k", strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	wantMinioError(t, c.RemoveBucket(ctx, "mb-two"), http.StatusConflict, "BucketNotEmpty")
	if err := c.RemoveBucket(ctx, "mb-one"); err != nil {
		t.Fatalf("RemoveBucket(mb-one): %v", err)
	}
	// A second tenant sees nothing and may do nothing.
	intruder := s.minio(t, s.other, false)
	_, err = intruder.StatObject(ctx, "mb-two", "k", minio.StatObjectOptions{})
	wantMinioError(t, err, http.StatusForbidden, "")
	_, err = intruder.PutObject(ctx, "mb-two", "k", strings.NewReader("overwrite"), 9, minio.PutObjectOptions{})
	wantMinioError(t, err, http.StatusForbidden, "AccessDenied")
	if bs, err := intruder.ListBuckets(ctx); err != nil || len(bs) != 0 {
		t.Fatalf("ListBuckets as t2 = %v, %v; want none", bs, err)
	}
}

func TestMinioObjects(t *testing.T) {
	s := newStack(t)
	c := s.minio(t, s.key, true)
	ctx := t.Context()
	if err := c.MakeBucket(ctx, "mobj", minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("MakeBucket: %v", err)
	}
	data := []byte("minio object body")
	_, err := c.PutObject(ctx, "mobj", "dir/obj", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		UserMetadata: map[string]string{"Color": "green"},
		UserTags:     map[string]string{"tier": "gold"},
		ContentType:  "text/plain",
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	t.Run("op=StatObject/metadata", func(t *testing.T) {
		st, err := c.StatObject(ctx, "mobj", "dir/obj", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := st.UserMetadata["Color"]; got != "green" {
			t.Errorf("UserMetadata[Color] = %q, want green (all: %v)", got, st.UserMetadata)
		}
	})
	t.Run("op=GetObjectTagging", func(t *testing.T) {
		tg, err := c.GetObjectTagging(ctx, "mobj", "dir/obj", minio.GetObjectTaggingOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := tg.ToMap(); !mapsEqual(got, map[string]string{"tier": "gold"}) {
			t.Errorf("tags = %v, want map[tier:gold]", got)
		}
		nt, _ := tags.NewTags(map[string]string{"tier": "silver", "x": "y"}, true)
		if err := c.PutObjectTagging(ctx, "mobj", "dir/obj", nt, minio.PutObjectTaggingOptions{}); err != nil {
			t.Fatalf("PutObjectTagging: %v", err)
		}
		tg, err = c.GetObjectTagging(ctx, "mobj", "dir/obj", minio.GetObjectTaggingOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := tg.ToMap(); !mapsEqual(got, map[string]string{"tier": "silver", "x": "y"}) {
			t.Errorf("tags = %v, want map[tier:silver x:y]", got)
		}
	})
	t.Run("op=GetObject/range", func(t *testing.T) {
		opts := minio.GetObjectOptions{}
		if err := opts.SetRange(6, 11); err != nil {
			t.Fatal(err)
		}
		obj, err := c.GetObject(ctx, "mobj", "dir/obj", opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || string(got) != "object" {
			t.Fatalf("range 6-11 = %q (%v), want %q", got, err, "object")
		}
	})
	t.Run("op=CopyObject", func(t *testing.T) {
		_, err := c.CopyObject(ctx, minio.CopyDestOptions{Bucket: "mobj", Object: "copy"}, minio.CopySrcOptions{Bucket: "mobj", Object: "dir/obj"})
		if err != nil {
			t.Fatalf("CopyObject: %v", err)
		}
		st, err := c.StatObject(ctx, "mobj", "copy", minio.StatObjectOptions{})
		if err != nil || st.ETag != md5Hex(data) {
			t.Fatalf("copy: ETag %q (%v), want %s", st.ETag, err, md5Hex(data))
		}
	})
	t.Run("op=ListObjects", func(t *testing.T) {
		var top, all []string
		for o := range c.ListObjects(ctx, "mobj", minio.ListObjectsOptions{}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			top = append(top, o.Key)
		}
		for o := range c.ListObjects(ctx, "mobj", minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			all = append(all, o.Key)
		}
		if !slices.Equal(top, []string{"copy", "dir/"}) {
			t.Errorf("ListObjects = %q, want [copy dir/]", top)
		}
		if !slices.Equal(all, []string{"copy", "dir/obj"}) {
			t.Errorf("ListObjects recursive = %q, want [copy dir/obj]", all)
		}
	})
	t.Run("op=PresignedGetObject", func(t *testing.T) {
		u, err := c.PresignedGetObject(ctx, "mobj", "dir/obj", time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Fatalf("GET presigned: %d %q, want 200 %q", resp.StatusCode, truncate(body), data)
		}
	})
	t.Run("op=PresignedPutObject", func(t *testing.T) {
		u, err := c.PresignedPutObject(ctx, "mobj", "presigned-put", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPut, u.String(), strings.NewReader("via url"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("PUT presigned: %d %q, want 200", resp.StatusCode, truncate(body))
		}
	})
	t.Run("op=RemoveObjects", func(t *testing.T) {
		ch := make(chan minio.ObjectInfo, 3)
		for _, k := range []string{"copy", "presigned-put", "never-existed"} {
			ch <- minio.ObjectInfo{Key: k}
		}
		close(ch)
		for e := range c.RemoveObjects(ctx, "mobj", ch, minio.RemoveObjectsOptions{}) {
			t.Errorf("RemoveObjects: %s: %v", e.ObjectName, e.Err)
		}
		var left []string
		for o := range c.ListObjects(ctx, "mobj", minio.ListObjectsOptions{Recursive: true}) {
			left = append(left, o.Key)
		}
		if !slices.Equal(left, []string{"dir/obj"}) {
			t.Fatalf("keys left = %q, want [dir/obj]", left)
		}
	})
	t.Run("op=GetObject/missing", func(t *testing.T) {
		_, err := c.StatObject(ctx, "mobj", "absent", minio.StatObjectOptions{})
		wantMinioError(t, err, http.StatusNotFound, "NoSuchKey")
	})
}

func TestMinioVersioning(t *testing.T) {
	s := newStack(t)
	c := s.minio(t, s.key, false)
	ctx := t.Context()
	if err := c.MakeBucket(ctx, "mver", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.EnableVersioning(ctx, "mver"); err != nil {
		t.Fatalf("EnableVersioning: %v", err)
	}
	cfg, err := c.GetBucketVersioning(ctx, "mver")
	if err != nil || !cfg.Enabled() {
		t.Fatalf("GetBucketVersioning = %+v, %v; want Enabled", cfg, err)
	}
	var ids []string
	for i := range 3 {
		info, err := c.PutObject(ctx, "mver", "k", strings.NewReader(fmt.Sprint("v", i)), 2, minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, info.VersionID)
	}
	if err := c.RemoveObject(ctx, "mver", "k", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	markers := 0
	for o := range c.ListObjects(ctx, "mver", minio.ListObjectsOptions{WithVersions: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if o.IsDeleteMarker {
			markers++
			if !o.IsLatest {
				t.Errorf("delete marker IsLatest = false, want true")
			}
			continue
		}
		got = append(got, o.VersionID)
	}
	slices.Reverse(ids)
	if markers != 1 || !slices.Equal(got, ids) {
		t.Fatalf("versions = %q and %d markers, want %q (newest first) and 1 marker", got, markers, ids)
	}
	obj, err := c.GetObject(ctx, "mver", "k", minio.GetObjectOptions{VersionID: ids[2]})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || string(b) != "v0" {
		t.Fatalf("GetObject oldest version = %q (%v), want v0", b, err)
	}
}

func TestMinioWrongSecret(t *testing.T) {
	s := newStack(t)
	if err := s.minio(t, s.key, false).MakeBucket(t.Context(), "msec", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	bad := s.key
	bad.Secret = strings.Repeat("w", 40)
	for _, trailing := range []bool{false, true} {
		t.Run(fmt.Sprintf("trailing=%v", trailing), func(t *testing.T) {
			c := s.minio(t, bad, trailing)
			_, err := c.PutObject(t.Context(), "msec", "k", bytes.NewReader(payload(200*kiB, 1)), 200*kiB, minio.PutObjectOptions{})
			wantMinioError(t, err, http.StatusForbidden, "SignatureDoesNotMatch")
		})
	}
}

func TestMinioSpecialKeys(t *testing.T) {
	s := newStack(t)
	c := s.minio(t, s.key, false)
	ctx := t.Context()
	if err := c.MakeBucket(ctx, "mkeys", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	keys := []string{"sp ace", "plus+sign", "per%cent", "ünï/cödé", "q?uestion", "h#ash", "tilde~", "star*", "eq=amp&", "emoji-🙂"}
	for i, k := range keys {
		t.Run("key="+k, func(t *testing.T) {
			data := payload(100, uint64(i))
			if _, err := c.PutObject(ctx, "mkeys", k, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
				t.Fatalf("PutObject(%q): %v", k, err)
			}
			obj, err := c.GetObject(ctx, "mkeys", k, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(obj)
			obj.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("GetObject(%q): %d bytes (%v), want the %d bytes put", k, len(got), err, len(data))
			}
		})
	}
	var listed []string
	for o := range c.ListObjects(ctx, "mkeys", minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		listed = append(listed, o.Key)
	}
	if want := slices.Sorted(slices.Values(keys)); !slices.Equal(listed, want) {
		t.Fatalf("ListObjects = %q, want %q", listed, want)
	}
}
