package s3api

import (
	"net/http"

	"github.com/coffre-cloud/coffre/vault"
)

// The roles of temporary keys (vault.Role) are enforced here, once per
// request, after authentication and before dispatch. Here is where a
// request is known as an S3 operation: the roles are defined in those terms
// ("ListObjectsV2", "UploadPart"), while a vault method may serve several
// operations (vault.Bucket answers HeadBucket and the stub ?policy PUT and
// DELETE; vault.GetObject reads for GET, HEAD and the source of a copy).
// The check fails closed: a request that is neither a read nor one of the
// object writes listed below needs admin, so an operation added to dispatch
// later is admin-only until it is listed here.
//
//	reader  GET and HEAD: GetObject, HeadObject, ListBuckets, ListObjects,
//	        ListObjectsV2, ListObjectVersions, ListMultipartUploads,
//	        ListParts, HeadBucket, GetBucket* and GetObject* (tagging, ACL,
//	        location, versioning). S3 has no GET or HEAD that changes
//	        anything.
//	writer  reader, and the writes of objects: PutObject, CopyObject,
//	        DeleteObject (a version too), DeleteObjects, the multipart
//	        upload operations, Put/DeleteObjectTagging.
//	admin   everything the tenant's own keys can do: buckets (create,
//	        delete, versioning, tagging and so sensitivity), ACLs.

// objectWrites are the object writes a writer may make: for each method,
// the query parameters that select them (the authentication parameters
// aside), and whether one of them is required.
var objectWrites = map[string]struct {
	params   map[string]bool
	required bool
}{
	// PutObject, CopyObject, UploadPart, UploadPartCopy, PutObjectTagging.
	http.MethodPut: {map[string]bool{"uploadId": true, "partNumber": true, "versionId": true, "tagging": true}, false},
	// CreateMultipartUpload, CompleteMultipartUpload.
	http.MethodPost: {map[string]bool{"uploads": true, "uploadId": true}, true},
	// DeleteObject, AbortMultipartUpload, DeleteObjectTagging.
	http.MethodDelete: {map[string]bool{"versionId": true, "uploadId": true, "tagging": true}, false},
}

// authorize refuses a request that k's role does not allow. Permanent keys
// have no role and may do everything.
func authorize(k vault.AccessKey, r *request) error {
	role := k.Role
	if role == "" && !k.Temporary() {
		return nil
	}
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case role == vault.RoleAdmin:
		return nil
	case role == vault.RoleReader && read:
		return nil
	case role == vault.RoleWriter && (read || objectWrite(r)):
		return nil
	}
	return &APIError{"AccessDenied", http.StatusForbidden, "Access Denied: credentials of role " + string(role) + " may not " + r.Method + " " + r.URL.Path + " with these parameters (reader: reads and lists; writer: reader and object writes; admin: everything)."}
}

// objectWrite reports whether r writes or deletes objects and nothing else.
func objectWrite(r *request) bool {
	if r.bucket == "" {
		return false
	}
	w, ok := objectWrites[r.Method]
	if r.key == "" {
		// DeleteObjects is the only object write addressed to the bucket.
		ok = r.Method == http.MethodPost
		w.params, w.required = map[string]bool{"delete": true}, true
	}
	if !ok {
		return false
	}
	found := false
	for k := range r.query {
		switch {
		case w.params[k]:
			found = true
		case !authParams[k]:
			return false
		}
	}
	return found || !w.required
}
