package s3api

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/vault"
)

// Fuzz targets for the request headers s3api parses itself: Range,
// x-amz-tagging and x-amz-copy-source. The XML bodies have theirs in
// fuzz_test.go, SigV4 and aws-chunked bodies in sigv4.

// FuzzParseRange checks that a Range header never makes parseRange panic
// nor answer a range outside the object, that only InvalidRange refuses
// one, and that an accepted range, written back as bytes=FIRST-LAST, is
// the same range.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=5-", "bytes=-10", "bytes=10-5", "bytes=0-1,3-4", " bytes = 1 - 2 ", "bytes=-0", "bytes=99999999999999999999-", "items=0-1"} {
		f.Add(s, int64(100))
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, spec string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		off, length, ok, err := parseRange(spec, size)
		switch {
		case err != nil:
			if err != errInvalidRange || ok {
				t.Fatalf("parseRange(%q, %d) = ok %v, %v; a refusal is InvalidRange", spec, size, ok, err)
			}
			return
		case !ok:
			return // the whole object
		case off < 0 || length < 1 || off > size-length:
			t.Fatalf("parseRange(%q, %d) = bytes %d+%d, outside the object", spec, size, off, length)
		}
		again := fmt.Sprintf("bytes=%d-%d", off, off+length-1)
		if o2, l2, ok2, err2 := parseRange(again, size); o2 != off || l2 != length || !ok2 || err2 != nil {
			t.Fatalf("parseRange(%q, %d) = %d+%d, but %q gives %d+%d ok %v, %v", spec, size, off, length, again, o2, l2, ok2, err2)
		}
	})
}

// FuzzParseTagQuery checks the x-amz-tagging header: no panic, refusals
// are S3 errors (InvalidArgument, InvalidTag), and accepted tags are valid
// and survive a round trip through the query encoding.
func FuzzParseTagQuery(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "a=1&a=2", "%zz", "aws%3Akey=v", "=v", "k=" + strings.Repeat("v", 257), "a+b=c%20d", "x=1;y=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := parseTagQuery(s)
		if err != nil {
			var ae *APIError
			if !errors.As(err, &ae) && !errors.Is(err, vault.ErrInvalidTag) {
				t.Fatalf("parseTagQuery(%q) = %v, neither an S3 error nor InvalidTag", s, err)
			}
			return
		}
		if err := vault.ValidTags(tags, 10); err != nil {
			t.Fatalf("parseTagQuery(%q) accepted %v: %v", s, tags, err)
		}
		q := url.Values{}
		for k, v := range tags {
			q.Set(k, v)
		}
		again, err := parseTagQuery(q.Encode())
		if err != nil || !maps.Equal(again, tags) {
			t.Fatalf("parseTagQuery(%q) = %v; re-encoded as %q: %v, %v", s, tags, q.Encode(), again, err)
		}
	})
}

// FuzzCopySource checks the x-amz-copy-source header: no panic, refusals
// are InvalidArgument, an accepted source names a bucket and a key, and it
// parses again, re-encoded, to the same source.
func FuzzCopySource(f *testing.F) {
	for _, s := range []string{"bucket/key", "/bucket/dir/key?versionId=3", "bucket/k%20ey%3Fx?versionId=a%2Bb", "bucket", "/", "b/%zz", "b/k?%zz", "b/k?versionId=1&versionId=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		bucket, key, version, err := copySource(http.Header{"X-Amz-Copy-Source": {src}})
		if err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != "InvalidArgument" {
				t.Fatalf("copySource(%q) = %v, want an InvalidArgument S3 error", src, err)
			}
			return
		}
		if bucket == "" || key == "" || strings.Contains(bucket, "/") {
			t.Fatalf("copySource(%q) = bucket %q, key %q", src, bucket, key)
		}
		again := "/" + url.PathEscape(bucket) + "/" + url.PathEscape(key)
		if version != "" {
			again += "?versionId=" + url.QueryEscape(version)
		}
		b2, k2, v2, err := copySource(http.Header{"X-Amz-Copy-Source": {again}})
		if err != nil || b2 != bucket || k2 != key || v2 != version {
			t.Fatalf("copySource(%q) = %q %q %q; re-encoded as %q: %q %q %q, %v", src, bucket, key, version, again, b2, k2, v2, err)
		}
	})
}
