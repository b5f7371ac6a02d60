package s3api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/vault"
)

// TestAuthorize classifies a request for each S3 operation that dispatch
// serves, and a few it refuses, against the roles of temporary keys.
func TestAuthorize(t *testing.T) {
	const (
		reader = 1
		writer = 2
		admin  = 3
	)
	copySource := http.Header{"X-Amz-Copy-Source": {"/b/src"}}
	for _, c := range []struct {
		op     string
		method string
		target string
		hdr    http.Header
		need   int // the least role allowed
	}{
		{"ListBuckets", "GET", "/", nil, reader},
		{"ListObjects", "GET", "/b", nil, reader},
		{"ListObjectsV2", "GET", "/b?list-type=2&prefix=a", nil, reader},
		{"ListObjectVersions", "GET", "/b?versions", nil, reader},
		{"ListMultipartUploads", "GET", "/b?uploads", nil, reader},
		{"HeadBucket", "HEAD", "/b", nil, reader},
		{"GetBucketLocation", "GET", "/b?location", nil, reader},
		{"GetBucketVersioning", "GET", "/b?versioning", nil, reader},
		{"GetBucketTagging", "GET", "/b?tagging", nil, reader},
		{"GetBucketAcl", "GET", "/b?acl", nil, reader},
		{"GetBucketPolicy", "GET", "/b?policy", nil, reader},
		{"GetObject", "GET", "/b/k", nil, reader},
		{"GetObject presigned", "GET", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Security-Token=t", nil, reader},
		{"HeadObject", "HEAD", "/b/k?versionId=v", nil, reader},
		{"GetObjectTagging", "GET", "/b/k?tagging", nil, reader},
		{"GetObjectAcl", "GET", "/b/k?acl", nil, reader},
		{"ListParts", "GET", "/b/k?uploadId=u", nil, reader},

		{"PutObject", "PUT", "/b/k", nil, writer},
		{"PutObject x-id", "PUT", "/b/k?x-id=PutObject", nil, writer},
		{"CopyObject", "PUT", "/b/k", copySource, writer},
		{"DeleteObject", "DELETE", "/b/k", nil, writer},
		{"DeleteObject version", "DELETE", "/b/k?versionId=v", nil, writer},
		{"DeleteObjects", "POST", "/b?delete", nil, writer},
		{"CreateMultipartUpload", "POST", "/b/k?uploads", nil, writer},
		{"UploadPart", "PUT", "/b/k?partNumber=1&uploadId=u", nil, writer},
		{"UploadPartCopy", "PUT", "/b/k?partNumber=1&uploadId=u", copySource, writer},
		{"CompleteMultipartUpload", "POST", "/b/k?uploadId=u", nil, writer},
		{"AbortMultipartUpload", "DELETE", "/b/k?uploadId=u", nil, writer},
		{"PutObjectTagging", "PUT", "/b/k?tagging", nil, writer},
		{"DeleteObjectTagging", "DELETE", "/b/k?tagging&versionId=v", nil, writer},

		{"CreateBucket", "PUT", "/b", nil, admin},
		{"DeleteBucket", "DELETE", "/b", nil, admin},
		{"PutBucketVersioning", "PUT", "/b?versioning", nil, admin},
		{"PutBucketTagging", "PUT", "/b?tagging", nil, admin},
		{"DeleteBucketTagging", "DELETE", "/b?tagging", nil, admin},
		{"PutBucketAcl", "PUT", "/b?acl", nil, admin},
		{"PutBucketPolicy", "PUT", "/b?policy", nil, admin},
		{"DeleteBucketPolicy", "DELETE", "/b?policy", nil, admin},
		{"PutObjectAcl", "PUT", "/b/k?acl", nil, admin},
		{"PutObjectRetention", "PUT", "/b/k?retention", nil, admin},
		{"RenameObject", "PUT", "/b/k?renameObject", nil, admin},
		{"POST bucket", "POST", "/b", nil, admin},
		{"POST object", "POST", "/b/k", nil, admin},
		{"DELETE service", "DELETE", "/", nil, admin},
		{"PATCH object", "PATCH", "/b/k", nil, admin},
	} {
		t.Run("op="+c.op, func(t *testing.T) {
			hr := httptest.NewRequest(c.method, c.target, nil)
			for k, v := range c.hdr {
				hr.Header[k] = v
			}
			r := &request{Request: hr}
			var err error
			if r.query, err = url.ParseQuery(hr.URL.RawQuery); err != nil {
				t.Fatal(err)
			}
			if err := (&Server{}).route(r); err != nil {
				t.Fatal(err)
			}
			temp := vault.AccessKey{ID: "CT1", SessionHash: []byte{1}, Expires: time.Now().Add(time.Hour)}
			for i, role := range []vault.Role{vault.RoleReader, vault.RoleWriter, vault.RoleAdmin} {
				temp.Role = role
				err := authorize(temp, r)
				if allowed := i+1 >= c.need; allowed != (err == nil) {
					t.Errorf("role %s: authorize = %v, want allowed %v", role, err, allowed)
				}
			}
			if err := authorize(vault.AccessKey{ID: "CO1"}, r); err != nil {
				t.Errorf("permanent key: authorize = %v, want nil", err)
			}
			temp.Role = ""
			if err := authorize(temp, r); err == nil {
				t.Errorf("temporary key without a role: authorize = nil, want AccessDenied")
			}
		})
	}
}
