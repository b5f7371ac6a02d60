package s3api_test

// Fuzz targets for the XML request bodies: arbitrary bytes are sent, signed,
// to a live in-process server as the body of each operation that parses
// XML. Whatever the bytes, the answer must be an S3 answer: a 2xx, or a 4xx
// with an S3 error document; never a 5xx, which is also what a recovered
// panic becomes. Seeds live in testdata/fuzz/<target>/.

import (
	"encoding/xml"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// fuzzSite is a stack with a bucket, an object and a multipart upload with
// one part, for the fuzzed requests to aim at.
type fuzzSite struct {
	*stack
	mu       sync.Mutex
	uploadID string
}

const (
	fuzzBucket = "fuzz"
	fuzzPart   = "part" // the body of part 1; its ETag is md5("part")
)

func newFuzzSite(f *testing.F) *fuzzSite {
	f.Helper()
	site := &fuzzSite{stack: newStack(f)}
	for _, r := range []struct{ method, target, body string }{
		{http.MethodPut, "/" + fuzzBucket, ""},
		{http.MethodPut, "/" + fuzzBucket + "/obj", "object"},
		{http.MethodPut, "/" + fuzzBucket + "/a", "a"},
	} {
		if resp, body := site.do(f, site.key, r.method, r.target, []byte(r.body), nil); resp.StatusCode != http.StatusOK {
			f.Fatalf("%s %s: %d %q", r.method, r.target, resp.StatusCode, truncate(body))
		}
	}
	site.newUpload(f)
	return site
}

// newUpload starts the multipart upload of key mp that CompleteMultipartUpload
// bodies refer to, with part 1 uploaded.
func (site *fuzzSite) newUpload(tb testing.TB) {
	tb.Helper()
	resp, body := site.do(tb, site.key, http.MethodPost, "/"+fuzzBucket+"/mp?uploads", nil, nil)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("CreateMultipartUpload: %d %q", resp.StatusCode, truncate(body))
	}
	var res struct {
		UploadID string `xml:"UploadId"`
	}
	if err := xml.Unmarshal(body, &res); err != nil || res.UploadID == "" {
		tb.Fatalf("CreateMultipartUpload: body %q: %v", truncate(body), err)
	}
	resp, body = site.do(tb, site.key, http.MethodPut, "/"+fuzzBucket+"/mp?partNumber=1&uploadId="+res.UploadID, []byte(fuzzPart), nil)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("UploadPart: %d %q", resp.StatusCode, truncate(body))
	}
	site.uploadID = res.UploadID
}

// checkFuzzAnswer fails t unless the answer is a success or a well-formed
// client error. 501 NotImplemented is a deliberate refusal of a feature
// (MFA delete, say), not a failure, and is accepted as a client error.
func checkFuzzAnswer(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode == http.StatusNotImplemented {
		if e, err := checkErrorBody(resp, body); err != nil || e.Code != "NotImplemented" {
			t.Fatalf("%s: status 501 with body %q, want code NotImplemented", what, truncate(body))
		}
		return
	}
	if resp.StatusCode >= 500 {
		t.Fatalf("%s: status %d, want below 500; body %q", what, resp.StatusCode, truncate(body))
	}
	if resp.StatusCode >= 300 {
		if _, err := checkErrorBody(resp, body); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// withMD5 is the Content-MD5 header S3 requires on some of these bodies.
func withMD5(body []byte) http.Header {
	return http.Header{"Content-Md5": {md5B64(body)}}
}

func FuzzCompleteMultipartUpload(f *testing.F) {
	site := newFuzzSite(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		site.mu.Lock()
		defer site.mu.Unlock()
		resp, rb := site.do(t, site.key, http.MethodPost, "/"+fuzzBucket+"/mp?uploadId="+site.uploadID, body, nil)
		checkFuzzAnswer(t, "CompleteMultipartUpload", resp, rb)
		if resp.StatusCode == http.StatusOK {
			site.newUpload(t) // the body completed the upload: start another
		}
	})
}

func FuzzDeleteObjects(f *testing.F) {
	site := newFuzzSite(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, rb := site.do(t, site.key, http.MethodPost, "/"+fuzzBucket+"?delete", body, withMD5(body))
		checkFuzzAnswer(t, "DeleteObjects", resp, rb)
	})
}

func FuzzTagging(f *testing.F) {
	site := newFuzzSite(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range []string{"/" + fuzzBucket + "/obj?tagging", "/" + fuzzBucket + "?tagging"} {
			resp, rb := site.do(t, site.key, http.MethodPut, target, body, withMD5(body))
			checkFuzzAnswer(t, "PUT "+target, resp, rb)
		}
	})
}

func FuzzVersioningConfiguration(f *testing.F) {
	site := newFuzzSite(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, rb := site.do(t, site.key, http.MethodPut, "/"+fuzzBucket+"?versioning", body, withMD5(body))
		checkFuzzAnswer(t, "PutBucketVersioning", resp, rb)
	})
}

func FuzzCreateBucketConfiguration(f *testing.F) {
	site := newFuzzSite(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, rb := site.do(t, site.key, http.MethodPut, "/fuzz-new", body, nil)
		checkFuzzAnswer(t, "CreateBucket", resp, rb)
		if resp.StatusCode == http.StatusOK {
			resp, rb = site.do(t, site.key, http.MethodDelete, "/fuzz-new", nil, nil)
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DeleteBucket after a successful CreateBucket: %d %q, want 204", resp.StatusCode, truncate(rb))
			}
		}
	})
}

// TestFuzzSeeds fails when a fuzz target's seed corpus is missing or
// empty: a target without seeds starts blind, and a corpus that silently
// went away would not be noticed otherwise.
func TestFuzzSeeds(t *testing.T) {
	for _, target := range []string{"FuzzCompleteMultipartUpload", "FuzzDeleteObjects", "FuzzTagging", "FuzzVersioningConfiguration", "FuzzCreateBucketConfiguration"} {
		t.Run("target="+target, func(t *testing.T) {
			es, err := os.ReadDir(filepath.Join("testdata", "fuzz", target))
			if err != nil {
				t.Fatalf("seed corpus: %v", err)
			}
			if len(es) < 3 {
				t.Fatalf("seed corpus has %d files, want at least 3", len(es))
			}
		})
	}
}
