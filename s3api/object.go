package s3api

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coffre-cloud/coffre/s3api/checksum"
	"github.com/coffre-cloud/coffre/vault"
)

const maxUserMetadata = 2 << 10 // S3: 2 KB of user-defined metadata

var storageClasses = map[string]bool{
	"STANDARD": true, "REDUCED_REDUNDANCY": true, "STANDARD_IA": true, "ONEZONE_IA": true,
	"INTELLIGENT_TIERING": true, "GLACIER": true, "DEEP_ARCHIVE": true, "GLACIER_IR": true,
	"OUTPOSTS": true, "SNOW": true, "EXPRESS_ONEZONE": true,
}

// attrsFrom reads the object attributes a PUT, a copy with REPLACE or a
// CreateMultipartUpload carries in its headers.
func attrsFrom(h http.Header) (vault.ObjectAttrs, error) {
	a := vault.ObjectAttrs{
		ContentType:        h.Get("Content-Type"),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
		ContentEncoding:    stripAWSChunked(h.Get("Content-Encoding")),
	}
	size := 0
	for name, vals := range h {
		if len(name) > 11 && strings.EqualFold(name[:11], "X-Amz-Meta-") {
			if a.UserMeta == nil {
				a.UserMeta = make(map[string]string)
			}
			k := strings.ToLower(name[11:])
			v := strings.Join(vals, ",")
			a.UserMeta[k] = v
			size += len(k) + len(v)
		}
	}
	if size > maxUserMetadata {
		return a, errMetadataTooLarge
	}
	if sc := h.Get("x-amz-storage-class"); sc != "" {
		if !storageClasses[sc] {
			return a, errInvalidStorageClass
		}
		if sc != "STANDARD" {
			a.StorageClass = sc
		}
	}
	if t := h.Get("x-amz-tagging"); t != "" {
		tags, err := parseTagQuery(t)
		if err != nil {
			return a, err
		}
		a.Tags = tags
	}
	switch sse := h.Get("x-amz-server-side-encryption"); sse {
	case "", "AES256", "aws:kms", "aws:kms:dsse":
		// Every object is encrypted under its tenant's key anyway.
	default:
		return a, &APIError{"InvalidArgument", http.StatusBadRequest, "The encryption method specified is not supported"}
	}
	if acl := h.Get("x-amz-acl"); acl != "" && acl != "private" && acl != "bucket-owner-full-control" {
		return a, &APIError{"NotImplemented", http.StatusNotImplemented, "Only the private canned ACL is supported; Coffre never makes data public."}
	}
	return a, nil
}

func parseTagQuery(s string) (map[string]string, error) {
	q, err := url.ParseQuery(s)
	if err != nil {
		return nil, &APIError{"InvalidArgument", http.StatusBadRequest, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."}
	}
	tags := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) != 1 {
			return nil, &APIError{"InvalidTag", http.StatusBadRequest, "Cannot provide multiple Tags with the same key"}
		}
		tags[k] = v[0]
	}
	if err := vault.ValidTags(tags, 10); err != nil {
		return nil, err
	}
	return tags, nil
}

func stripAWSChunked(ce string) string {
	if !strings.Contains(ce, "aws-chunked") {
		return ce
	}
	var keep []string
	for _, c := range strings.Split(ce, ",") {
		if c = strings.TrimSpace(c); c != "" && c != "aws-chunked" {
			keep = append(keep, c)
		}
	}
	return strings.Join(keep, ",")
}

// body prepares the request body of a PUT or UploadPart: its size, and a
// reader that verifies the checksums the client asked for.
func (s *Server) body(r *request) (vault.PutInput, error) {
	size := r.auth.DecodedLength
	if size < 0 {
		return vault.PutInput{}, errMissingContentLength
	}
	if size > vault.MaxPutSize {
		return vault.PutInput{}, errEntityTooLarge
	}
	spec, err := checksum.FromRequest(r.Header)
	if err != nil {
		return vault.PutInput{}, err
	}
	cr := checksum.NewReader(r.Body, spec, r.auth.Trailer)
	return vault.PutInput{
		Body: cr,
		Size: size,
		Checksum: func() *vault.Checksum {
			alg, v := cr.Sum()
			if alg == "" {
				return nil
			}
			return &vault.Checksum{Algorithm: string(alg), Value: v, Type: "FULL_OBJECT"}
		},
	}, nil
}

func setChecksumHeader(h http.Header, c *vault.Checksum) {
	if c != nil {
		h.Set("x-amz-checksum-"+strings.ToLower(c.Algorithm), c.Value)
		if c.Type != "" {
			h.Set("x-amz-checksum-type", c.Type)
		}
	}
}

func setVersionHeader(h http.Header, o *vault.Object) {
	if o.VersionID != "" && o.VersionID != "null" {
		h.Set("x-amz-version-id", o.VersionID)
	}
}

func (s *Server) putObject(w http.ResponseWriter, r *request) error {
	attrs, err := attrsFrom(r.Header)
	if err != nil {
		return err
	}
	in, err := s.body(r)
	if err != nil {
		return err
	}
	in.Attrs = attrs
	if in.CustomerKey, err = customerKey(r, ssecPrefix); err != nil {
		return err
	}
	if err := preconditionsForWrite(r, &in); err != nil {
		return err
	}
	o, err := s.vault.PutObject(r.Context(), r.principal, r.bucket, r.key, in)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", `"`+o.ETag+`"`)
	setVersionHeader(h, o)
	setSSEHeaders(h, o)
	setChecksumHeader(h, o.Checksum)
	w.WriteHeader(http.StatusOK)
	return nil
}

// setSSEHeaders says how the object is encrypted at rest: always under the
// tenant's key (SSE-KMS in S3's terms), whatever the request asked.
func setSSEHeaders(h http.Header, o *vault.Object) {
	if o.SSEC != nil {
		// S3 answers SSE-C objects with the customer-key headers only;
		// the tenant key is still under them.
		setSSECHeaders(h, o.SSEC)
		return
	}
	h.Set("x-amz-server-side-encryption", "aws:kms")
	if id := o.KeyID(); id != "" {
		h.Set("x-amz-server-side-encryption-aws-kms-key-id", id)
	}
}

// preconditionsForWrite handles conditional writes (If-None-Match: * and
// If-Match on PutObject), checked atomically with the commit.
func preconditionsForWrite(r *request, in *vault.PutInput) error {
	inm, im := r.Header.Get("If-None-Match"), r.Header.Get("If-Match")
	if inm == "" && im == "" {
		return nil
	}
	if inm != "" && inm != "*" {
		return &APIError{"NotImplemented", http.StatusNotImplemented, "If-None-Match on a write only supports '*'."}
	}
	in.Precondition = func(cur *vault.Object) error {
		if inm == "*" && cur != nil {
			return errPreconditionFailed
		}
		if im != "" {
			if cur == nil {
				return errNoSuchKey
			}
			if !etagMatches(im, cur.ETag) {
				return errPreconditionFailed
			}
		}
		return nil
	}
	return nil
}

// etagMatches evaluates an If-Match / If-None-Match list against an ETag.
func etagMatches(list, etag string) bool {
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		e = strings.TrimPrefix(e, "W/")
		if e == "*" || strings.Trim(e, `"`) == etag {
			return true
		}
	}
	return false
}

func parseHTTPTime(s string) (time.Time, bool) {
	t, err := http.ParseTime(s)
	return t, err == nil
}

// checkConditions applies RFC 9110 conditional request rules as S3 does.
// It returns an error for 412 and notModified for 304.
func checkConditions(h http.Header, etag string, mtime time.Time, prefix string) (notModified bool, err error) {
	mtime = mtime.Truncate(time.Second)
	im, inm := h.Get(prefix+"If-Match"), h.Get(prefix+"If-None-Match")
	if im != "" {
		if !etagMatches(im, etag) {
			return false, errPreconditionFailed
		}
	} else if t, ok := parseHTTPTime(h.Get(prefix + "If-Unmodified-Since")); ok && mtime.After(t) {
		return false, errPreconditionFailed
	}
	if inm != "" {
		if etagMatches(inm, etag) {
			return true, nil
		}
	} else if t, ok := parseHTTPTime(h.Get(prefix + "If-Modified-Since")); ok && !mtime.After(t) {
		return true, nil
	}
	return false, nil
}

// parseRange parses a single byte range. ok is false when the header is
// absent or not a valid single range (then S3 serves the whole object);
// err is InvalidRange when the range cannot be satisfied.
func parseRange(spec string, size int64) (off, length int64, ok bool, err error) {
	spec = strings.TrimSpace(spec)
	if !strings.HasPrefix(spec, "bytes=") || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec[len("bytes="):]), "-")
	if !found {
		return 0, 0, false, nil
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	switch {
	case a == "" && b == "":
		return 0, 0, false, nil
	case a == "":
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, errInvalidRange
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	if err1 != nil || start < 0 {
		return 0, 0, false, nil
	}
	end := size - 1
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < start {
			return 0, 0, false, nil
		}
		end = min(e, size-1)
	}
	if start >= size {
		return 0, 0, false, errInvalidRange
	}
	return start, end - start + 1, true, nil
}

var responseOverrides = [][2]string{
	{"response-content-type", "Content-Type"},
	{"response-content-language", "Content-Language"},
	{"response-expires", "Expires"},
	{"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"},
	{"response-content-encoding", "Content-Encoding"},
}

// objectHeaders sets the headers that describe an object on GET and HEAD.
func objectHeaders(h http.Header, o *vault.Object, q url.Values, withChecksum bool) {
	ct := o.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("ETag", `"`+o.ETag+`"`)
	h.Set("Last-Modified", o.LastModified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	for k, v := range map[string]string{
		"Content-Encoding":    o.ContentEncoding,
		"Content-Disposition": o.ContentDisposition,
		"Content-Language":    o.ContentLanguage,
		"Cache-Control":       o.CacheControl,
		"Expires":             o.Expires,
		"x-amz-storage-class": o.StorageClass,
	} {
		if v != "" {
			h.Set(k, v)
		}
	}
	for k, v := range o.UserMeta {
		h["X-Amz-Meta-"+k] = []string{v}
	}
	if len(o.Tags) > 0 {
		h.Set("x-amz-tagging-count", strconv.Itoa(len(o.Tags)))
	}
	setVersionHeader(h, o)
	setSSEHeaders(h, o)
	if withChecksum {
		setChecksumHeader(h, o.Checksum)
	}
	for _, ov := range responseOverrides {
		if v := q.Get(ov[0]); v != "" {
			h.Set(ov[1], v)
		}
	}
}

func (s *Server) getObject(w http.ResponseWriter, r *request, head bool) error {
	ctx := r.Context()
	o, err := s.vault.GetObject(ctx, r.principal, r.bucket, r.key, r.query.Get("versionId"))
	if err != nil {
		if o != nil && o.DeleteMarker {
			w.Header().Set("x-amz-delete-marker", "true")
			setVersionHeader(w.Header(), o)
		}
		return err
	}
	ck, err := customerKey(r, ssecPrefix)
	if err != nil {
		return err
	}
	if err := o.UseCustomerKey(ck); err != nil {
		return err
	}
	h := w.Header()
	notModified, err := checkConditions(r.Header, o.ETag, o.LastModified, "")
	if err != nil {
		return err
	}
	if notModified {
		h.Set("ETag", `"`+o.ETag+`"`)
		h.Set("Last-Modified", o.LastModified.UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	off, length, partial := int64(0), o.Size, false
	withChecksum := strings.EqualFold(r.Header.Get("x-amz-checksum-mode"), "ENABLED")
	if r.query.Get("partNumber") != "" && r.Header.Get("Range") != "" {
		return &APIError{"InvalidRequest", http.StatusBadRequest, "Cannot specify both Range header and partNumber query parameter"}
	}
	if pn := r.query.Get("partNumber"); pn != "" {
		n, err := strconv.Atoi(pn)
		if err != nil || n < 1 || n > vault.MaxParts {
			return &APIError{"InvalidArgument", http.StatusBadRequest, "Part number must be an integer between 1 and 10000, inclusive"}
		}
		if !o.Multipart {
			if n != 1 {
				return errInvalidPartNumber
			}
		} else {
			if n > len(o.Blobs) {
				return errInvalidPartNumber
			}
			for _, b := range o.Blobs[:n-1] {
				off += b.Size
			}
			length = o.Blobs[n-1].Size
			h.Set("x-amz-mp-parts-count", strconv.Itoa(len(o.Blobs)))
			partial = true
			withChecksum = false // the object checksum does not describe the part
		}
	} else if rg := r.Header.Get("Range"); rg != "" {
		var ok bool
		off, length, ok, err = parseRange(rg, o.Size)
		if err != nil {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(o.Size, 10))
			return err
		}
		if ok {
			partial = true
			withChecksum = false
		} else {
			off, length = 0, o.Size
		}
	}
	objectHeaders(h, o, r.query, withChecksum)
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	status := http.StatusOK
	if partial {
		h.Set("Content-Range", "bytes "+strconv.FormatInt(off, 10)+"-"+strconv.FormatInt(off+length-1, 10)+"/"+strconv.FormatInt(o.Size, 10))
		status = http.StatusPartialContent
	}
	if head {
		w.WriteHeader(status)
		return nil
	}
	rc, err := s.vault.Open(ctx, o, off, length)
	if err != nil {
		return err
	}
	defer rc.Close()
	// Read the first 64 KiB before the status line: stored data that fails
	// its integrity check there (or any other error) is then a 500
	// InternalError with its request id, not a connection cut before any
	// status, which clients see as a network failure.
	var first []byte
	if length > 0 {
		first = make([]byte, min(length, 64<<10))
		if _, err := io.ReadFull(rc, first); err != nil {
			return err
		}
	}
	w.WriteHeader(status)
	_, err = w.Write(first)
	if err == nil {
		_, err = io.Copy(w, rc)
	}
	if err != nil {
		// Headers are gone: all we can do is cut the connection so that the
		// client sees a short body rather than a silently truncated object.
		s.log.Warn("GET failed mid-stream", "bucket", r.bucket, "err", err, "request_id", r.id)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (s *Server) deleteObject(w http.ResponseWriter, r *request) error {
	res, err := s.vault.DeleteObject(r.Context(), r.principal, r.bucket, r.key, r.query.Get("versionId"))
	if err != nil {
		return err
	}
	if res.DeleteMarker {
		w.Header().Set("x-amz-delete-marker", "true")
	}
	if res.VersionID != "" && res.VersionID != "null" {
		w.Header().Set("x-amz-version-id", res.VersionID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteObjects(w http.ResponseWriter, r *request) error {
	var req deleteRequest
	if err := readXML(r, 2<<20, &req); err != nil {
		return err
	}
	if len(req.Objects) > 1000 {
		return errTooManyKeys
	}
	if _, err := s.vault.Bucket(r.Context(), r.principal, r.bucket); err != nil {
		return err
	}
	res := deleteResult{NS: s3NS}
	for _, ob := range req.Objects {
		d, err := s.vault.DeleteObject(r.Context(), r.principal, r.bucket, ob.Key, ob.VersionID)
		if err != nil {
			ae, _ := toAPIError(err)
			res.Errors = append(res.Errors, deleteErrorXML{Key: ob.Key, VersionID: ob.VersionID, Code: ae.Code, Message: ae.Message})
			continue
		}
		if req.Quiet {
			continue
		}
		e := deletedXML{Key: ob.Key, VersionID: ob.VersionID}
		if d.DeleteMarker {
			e.DeleteMarker = true
			if ob.VersionID == "" {
				e.DeleteMarkerVersionID = d.VersionID
			}
		}
		res.Deleted = append(res.Deleted, e)
	}
	return writeXML(w, res)
}

// copySource parses x-amz-copy-source: bucket/key, URL-encoded, with an
// optional leading slash and ?versionId=.
func copySource(h http.Header) (bucket, key, version string, err error) {
	src := h.Get("x-amz-copy-source")
	src, q, _ := strings.Cut(src, "?")
	if q != "" {
		vals, perr := url.ParseQuery(q)
		if perr != nil {
			return "", "", "", &APIError{"InvalidArgument", http.StatusBadRequest, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"}
		}
		version = vals.Get("versionId")
	}
	if src, err = url.PathUnescape(src); err != nil {
		return "", "", "", &APIError{"InvalidArgument", http.StatusBadRequest, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"}
	}
	bucket, key, _ = strings.Cut(strings.TrimPrefix(src, "/"), "/")
	if bucket == "" || key == "" {
		return "", "", "", &APIError{"InvalidArgument", http.StatusBadRequest, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"}
	}
	return bucket, key, version, nil
}

// openCopySource finds and checks the source of a copy.
func (s *Server) openCopySource(w http.ResponseWriter, r *request) (*vault.Object, error) {
	sb, sk, sv, err := copySource(r.Header)
	if err != nil {
		return nil, err
	}
	src, err := s.vault.GetObject(r.Context(), r.principal, sb, sk, sv)
	if err != nil {
		if o := src; o != nil && o.DeleteMarker && sv != "" {
			return nil, &APIError{"InvalidRequest", http.StatusBadRequest, "The source of a copy request may not specifically refer to a delete marker by version id."}
		}
		return nil, err
	}
	ck, err := customerKey(r, copySSECPrefix)
	if err != nil {
		return nil, err
	}
	if err := src.UseCustomerKey(ck); err != nil {
		return nil, err
	}
	if notModified, err := checkConditions(r.Header, src.ETag, src.LastModified, "x-amz-copy-source-"); err != nil {
		return nil, err
	} else if notModified {
		return nil, errPreconditionFailed
	}
	if src.VersionID != "null" {
		w.Header().Set("x-amz-copy-source-version-id", src.VersionID)
	}
	return src, nil
}

func (s *Server) copyObject(w http.ResponseWriter, r *request) error {
	ctx := r.Context()
	src, err := s.openCopySource(w, r)
	if err != nil {
		return err
	}
	sb, sk, _, _ := copySource(r.Header)
	var attrs vault.ObjectAttrs
	directive := r.Header.Get("x-amz-metadata-directive")
	switch directive {
	case "", "COPY":
		attrs = src.Attrs()
		if sc := r.Header.Get("x-amz-storage-class"); sc != "" {
			if !storageClasses[sc] {
				return errInvalidStorageClass
			}
			attrs.StorageClass = sc
			if sc == "STANDARD" {
				attrs.StorageClass = ""
			}
		}
	case "REPLACE":
		if attrs, err = attrsFrom(r.Header); err != nil {
			return err
		}
	default:
		return &APIError{"InvalidArgument", http.StatusBadRequest, "Unknown metadata directive."}
	}
	switch td := r.Header.Get("x-amz-tagging-directive"); td {
	case "", "COPY":
		attrs.Tags = src.Tags
	case "REPLACE":
		tags := map[string]string(nil)
		if t := r.Header.Get("x-amz-tagging"); t != "" {
			if tags, err = parseTagQuery(t); err != nil {
				return err
			}
		}
		attrs.Tags = tags
	default:
		return &APIError{"InvalidArgument", http.StatusBadRequest, "Unknown tagging directive."}
	}
	if sb == r.bucket && sk == r.key && directive != "REPLACE" && r.Header.Get("x-amz-storage-class") == "" && r.Header.Get(ssecPrefix+"key") == "" && src.SSEC == nil {
		return errInvalidCopyDest
	}
	if src.Size > vault.MaxPutSize {
		return &APIError{"InvalidRequest", http.StatusBadRequest, "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120"}
	}
	rc, err := s.vault.Open(ctx, src, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	var sum *vault.Checksum
	if src.Checksum != nil && src.Checksum.Type != "COMPOSITE" {
		sum = src.Checksum
	}
	destKey, err := customerKey(r, ssecPrefix)
	if err != nil {
		return err
	}
	o, err := s.vault.PutObject(ctx, r.principal, r.bucket, r.key, vault.PutInput{
		Body: rc, Size: src.Size, Attrs: attrs, CustomerKey: destKey,
		Checksum: func() *vault.Checksum { return sum },
	})
	if err != nil {
		return err
	}
	setVersionHeader(w.Header(), o)
	setSSEHeaders(w.Header(), o)
	res := copyObjectResult{NS: s3NS, LastModified: isoTime(o.LastModified), ETag: `"` + o.ETag + `"`}
	setChecksumXML(o.Checksum, &res.ChecksumCRC32, &res.ChecksumCRC32C, &res.ChecksumCRC64NVME, &res.ChecksumSHA1, &res.ChecksumSHA256)
	return writeXML(w, res)
}

func setChecksumXML(c *vault.Checksum, crc32, crc32c, crc64, sha1, sha256 *string) {
	if c == nil {
		return
	}
	switch c.Algorithm {
	case "CRC32":
		*crc32 = c.Value
	case "CRC32C":
		*crc32c = c.Value
	case "CRC64NVME":
		*crc64 = c.Value
	case "SHA1":
		*sha1 = c.Value
	case "SHA256":
		*sha256 = c.Value
	}
}

func (s *Server) getObjectTagging(w http.ResponseWriter, r *request) error {
	o, err := s.vault.ObjectTags(r.Context(), r.principal, r.bucket, r.key, r.query.Get("versionId"))
	if err != nil {
		return err
	}
	setVersionHeader(w.Header(), o)
	return writeXML(w, tagsToXML(o.Tags))
}

func (s *Server) putObjectTagging(w http.ResponseWriter, r *request) error {
	tags, err := readTagging(r)
	if err != nil {
		return err
	}
	vid, err := s.vault.SetObjectTags(r.Context(), r.principal, r.bucket, r.key, r.query.Get("versionId"), tags)
	if err != nil {
		return err
	}
	if vid != "null" {
		w.Header().Set("x-amz-version-id", vid)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteObjectTagging(w http.ResponseWriter, r *request) error {
	vid, err := s.vault.SetObjectTags(r.Context(), r.principal, r.bucket, r.key, r.query.Get("versionId"), nil)
	if err != nil {
		return err
	}
	if vid != "null" {
		w.Header().Set("x-amz-version-id", vid)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
