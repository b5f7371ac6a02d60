package s3api

import (
	"net/http"
)

// Bucket subresources that Coffre does not configure yet. A GET answers
// what S3 answers for a bucket without that configuration, so that tools
// that probe them (s3cmd info, SDK helpers) work; a PUT or DELETE is
// NotImplemented.
var absentConfig = map[string]*APIError{
	"policy":            {"NoSuchBucketPolicy", http.StatusNotFound, "The bucket policy does not exist"},
	"cors":              {"NoSuchCORSConfiguration", http.StatusNotFound, "The CORS configuration does not exist"},
	"lifecycle":         {"NoSuchLifecycleConfiguration", http.StatusNotFound, "The lifecycle configuration does not exist"},
	"website":           {"NoSuchWebsiteConfiguration", http.StatusNotFound, "The specified bucket does not have a website configuration"},
	"replication":       {"ReplicationConfigurationNotFoundError", http.StatusNotFound, "The replication configuration was not found"},
	"object-lock":       {"ObjectLockConfigurationNotFoundError", http.StatusNotFound, "Object Lock configuration does not exist for this bucket"},
	"encryption":        {"ServerSideEncryptionConfigurationNotFoundError", http.StatusNotFound, "The server side encryption configuration was not found"},
	"ownershipControls": {"OwnershipControlsNotFoundError", http.StatusNotFound, "The bucket ownership controls were not found"},
	"publicAccessBlock": {"NoSuchPublicAccessBlockConfiguration", http.StatusNotFound, "The public access block configuration was not found"},
}

var unsupported = []string{"logging", "notification", "requestPayment", "accelerate", "analytics", "inventory", "metrics", "intelligent-tiering", "retention", "legal-hold", "torrent", "restore", "select", "policyStatus", "website", "attributes",
	"metadataTable", "metadataConfiguration", "metadataAnnotationTable", "metadataInventoryTable", "metadataJournalTable",
	"abac", "annotation", "renameObject", "session", "encryption"}

func (r *request) has(name string) bool { _, ok := r.query[name]; return ok }

// Query parameters any request may carry: presigned-URL authentication and
// the operation hint that AWS SDKs add.
var authParams = map[string]bool{
	"X-Amz-Algorithm": true, "X-Amz-Credential": true, "X-Amz-Date": true, "X-Amz-Expires": true,
	"X-Amz-SignedHeaders": true, "X-Amz-Signature": true, "X-Amz-Security-Token": true,
	"X-Amz-Content-Sha256": true, "x-id": true,
}

// only refuses a write whose query names anything but the given
// parameters. S3 keeps adding operations that are selected by a query
// parameter on PUT, POST or DELETE (?metadataTable, ?renameObject, ...);
// without this check such a request would fall through to PutObject,
// DeleteObject or DeleteBucket and destroy data.
func (r *request) only(params ...string) error {
	for k := range r.query {
		if authParams[k] {
			continue
		}
		found := false
		for _, p := range params {
			if k == p {
				found = true
				break
			}
		}
		if !found {
			return &APIError{"NotImplemented", http.StatusNotImplemented, "The request parameter " + k + " implies functionality that is not implemented."}
		}
	}
	return nil
}

func (s *Server) dispatch(w http.ResponseWriter, r *request) error {
	if r.bucket == "" {
		if r.Method == http.MethodGet {
			return s.listBuckets(w, r)
		}
		return errMethodNotAllowed
	}
	// Counted against the bucket's offer, for usage and billing.
	defer s.vault.CountRequest(r.principal.Tenant, r.bucket)
	if r.key == "" {
		return s.dispatchBucket(w, r)
	}
	return s.dispatchObject(w, r)
}

func (s *Server) dispatchBucket(w http.ResponseWriter, r *request) error {
	for name, e := range absentConfig {
		if r.has(name) {
			if _, err := s.vault.Bucket(r.Context(), r.principal, r.bucket); err != nil {
				return err
			}
			switch r.Method {
			case http.MethodGet:
				return e
			case http.MethodDelete:
				w.WriteHeader(http.StatusNoContent)
				return nil
			}
			return errNotImplemented
		}
	}
	for _, name := range unsupported {
		if r.has(name) {
			return errNotImplemented
		}
	}
	switch r.Method {
	case http.MethodGet:
		switch {
		case r.has("location"):
			return s.getBucketLocation(w, r)
		case r.has("versioning"):
			return s.getBucketVersioning(w, r)
		case r.has("tagging"):
			return s.getBucketTagging(w, r)
		case r.has("acl"):
			return s.getACL(w, r)
		case r.has("uploads"):
			return s.listUploads(w, r)
		case r.has("versions"):
			return s.listVersions(w, r)
		case r.query.Get("list-type") == "2":
			return s.listObjectsV2(w, r)
		}
		return s.listObjectsV1(w, r)
	case http.MethodHead:
		return s.headBucket(w, r)
	case http.MethodPut:
		switch {
		case r.has("versioning"):
			return first(r.only("versioning"), s.putBucketVersioning, w, r)
		case r.has("tagging"):
			return first(r.only("tagging"), s.putBucketTagging, w, r)
		case r.has("acl"):
			return first(r.only("acl"), s.putACL, w, r)
		}
		return first(r.only(), s.createBucket, w, r)
	case http.MethodDelete:
		if r.has("tagging") {
			return first(r.only("tagging"), s.deleteBucketTagging, w, r)
		}
		return first(r.only(), s.deleteBucket, w, r)
	case http.MethodPost:
		if r.has("delete") {
			return first(r.only("delete"), s.deleteObjects, w, r)
		}
	}
	return errMethodNotAllowed
}

func (s *Server) dispatchObject(w http.ResponseWriter, r *request) error {
	for _, name := range unsupported {
		if r.has(name) {
			return errNotImplemented
		}
	}
	switch r.Method {
	case http.MethodGet:
		switch {
		case r.has("uploadId"):
			return s.listParts(w, r)
		case r.has("tagging"):
			return s.getObjectTagging(w, r)
		case r.has("acl"):
			return s.getACL(w, r)
		}
		return s.getObject(w, r, false)
	case http.MethodHead:
		return s.getObject(w, r, true)
	case http.MethodPut:
		switch {
		case r.has("tagging"):
			return first(r.only("tagging", "versionId"), s.putObjectTagging, w, r)
		case r.has("acl"):
			return first(r.only("acl", "versionId"), s.putACL, w, r)
		case r.has("uploadId") || r.has("partNumber"):
			if r.Header.Get("x-amz-copy-source") != "" {
				return first(r.only("uploadId", "partNumber"), s.uploadPartCopy, w, r)
			}
			return first(r.only("uploadId", "partNumber"), s.uploadPart, w, r)
		case r.Header.Get("x-amz-copy-source") != "":
			return first(r.only(), s.copyObject, w, r)
		}
		return first(r.only(), s.putObject, w, r)
	case http.MethodDelete:
		switch {
		case r.has("tagging"):
			return first(r.only("tagging", "versionId"), s.deleteObjectTagging, w, r)
		case r.has("uploadId"):
			return first(r.only("uploadId"), s.abortUpload, w, r)
		}
		return first(r.only("versionId"), s.deleteObject, w, r)
	case http.MethodPost:
		switch {
		case r.has("uploads"):
			return first(r.only("uploads"), s.createUpload, w, r)
		case r.has("uploadId"):
			return first(r.only("uploadId"), s.completeUpload, w, r)
		}
	}
	return errMethodNotAllowed
}

// first runs h unless err (a refused request) is set.
func first(err error, h func(http.ResponseWriter, *request) error, w http.ResponseWriter, r *request) error {
	if err != nil {
		return err
	}
	return h(w, r)
}
