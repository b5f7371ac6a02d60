package s3api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/coffre-cloud/coffre/s3api/checksum"
	"github.com/coffre-cloud/coffre/vault"
)

func (s *Server) createUpload(w http.ResponseWriter, r *request) error {
	attrs, err := attrsFrom(r.Header)
	if err != nil {
		return err
	}
	alg := r.Header.Get("x-amz-checksum-algorithm")
	if alg != "" {
		a, err := checksum.ParseAlgorithm(alg)
		if err != nil {
			return err
		}
		alg = string(a)
	}
	typ := strings.ToUpper(r.Header.Get("x-amz-checksum-type"))
	switch {
	case typ != "" && typ != "COMPOSITE" && typ != "FULL_OBJECT":
		return &APIError{"InvalidRequest", http.StatusBadRequest, "Value for x-amz-checksum-type header is invalid."}
	case typ != "" && alg == "":
		return &APIError{"InvalidRequest", http.StatusBadRequest, "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."}
	case typ == "" && alg == "CRC64NVME":
		typ = "FULL_OBJECT"
	case typ == "" && alg != "":
		typ = "COMPOSITE"
	case typ == "FULL_OBJECT" && (alg == "SHA1" || alg == "SHA256"):
		return &APIError{"InvalidRequest", http.StatusBadRequest, "The FULL_OBJECT checksum type cannot be used with the " + alg + " checksum algorithm."}
	case typ == "COMPOSITE" && alg == "CRC64NVME":
		return &APIError{"InvalidRequest", http.StatusBadRequest, "The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm."}
	}
	ck, err := customerKey(r, ssecPrefix)
	if err != nil {
		return err
	}
	u, err := s.vault.CreateUpload(r.Context(), r.principal, r.bucket, r.key, attrs, alg, typ, ck)
	if err != nil {
		return err
	}
	setSSECHeaders(w.Header(), u.SSEC)
	if alg != "" {
		w.Header().Set("x-amz-checksum-algorithm", alg)
		w.Header().Set("x-amz-checksum-type", typ)
	}
	return writeXML(w, initiateMultipartUploadResult{NS: s3NS, Bucket: r.bucket, Key: r.key, UploadID: u.ID})
}

func partNumber(r *request) (int, error) {
	n, err := strconv.Atoi(r.query.Get("partNumber"))
	if err != nil || n < 1 || n > vault.MaxParts {
		return 0, &APIError{"InvalidArgument", http.StatusBadRequest, "Part number must be an integer between 1 and 10000, inclusive"}
	}
	return n, nil
}

func (s *Server) uploadPart(w http.ResponseWriter, r *request) error {
	n, err := partNumber(r)
	if err != nil {
		return err
	}
	in, err := s.body(r)
	if err != nil {
		return err
	}
	if in.CustomerKey, err = customerKey(r, ssecPrefix); err != nil {
		return err
	}
	pt, err := s.vault.UploadPart(r.Context(), r.principal, r.bucket, r.key, r.query.Get("uploadId"), n, in)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+pt.ETag+`"`)
	if c := in.Checksum(); c != nil {
		w.Header().Set("x-amz-checksum-"+strings.ToLower(c.Algorithm), c.Value)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) uploadPartCopy(w http.ResponseWriter, r *request) error {
	n, err := partNumber(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := s.vault.Upload(ctx, r.principal, r.bucket, r.key, r.query.Get("uploadId")); err != nil {
		return err
	}
	src, err := s.openCopySource(w, r)
	if err != nil {
		return err
	}
	off, length := int64(0), src.Size
	if rg := r.Header.Get("x-amz-copy-source-range"); rg != "" {
		var ok bool
		off, length, ok, err = parseRange(rg, src.Size)
		if !ok || err != nil || strings.HasPrefix(strings.TrimPrefix(rg, "bytes="), "-") || !copyRangeWithin(rg, src.Size) {
			return &APIError{"InvalidArgument", http.StatusBadRequest,
				fmt.Sprintf("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy, within the %d-byte source", src.Size)}
		}
	}
	rc, err := s.vault.Open(ctx, src, off, length)
	if err != nil {
		return err
	}
	defer rc.Close()
	destKey, err := customerKey(r, ssecPrefix)
	if err != nil {
		return err
	}
	pt, err := s.vault.UploadPart(ctx, r.principal, r.bucket, r.key, r.query.Get("uploadId"), n, vault.PutInput{Body: rc, Size: length, CustomerKey: destKey})
	if err != nil {
		return err
	}
	return writeXML(w, copyPartResult{NS: s3NS, LastModified: isoTime(pt.LastModified), ETag: `"` + pt.ETag + `"`})
}

func (s *Server) completeUpload(w http.ResponseWriter, r *request) error {
	var req completeMultipartUpload
	if err := readXML(r, 4<<20, &req); err != nil {
		return err
	}
	if len(req.Parts) == 0 {
		return &APIError{"MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema: at least one part is required."}
	}
	if len(req.Parts) > vault.MaxParts {
		return errMalformedXML
	}
	in := vault.CompleteInput{Parts: make([]vault.CompletePart, len(req.Parts))}
	for i, p := range req.Parts {
		sum := p.ChecksumCRC32 + p.ChecksumCRC32C + p.ChecksumCRC64NVME + p.ChecksumSHA1 + p.ChecksumSHA256
		in.Parts[i] = vault.CompletePart{Number: p.PartNumber, ETag: p.ETag, Checksum: sum}
	}
	in.Checksum = func(u *vault.Upload, parts []vault.Part) (*vault.Checksum, error) {
		if u.Checksum == "" {
			return nil, nil
		}
		alg := checksum.Algorithm(u.Checksum)
		sums := make([]string, len(parts))
		sizes := make([]int64, len(parts))
		for i, p := range parts {
			if p.Checksum == "" {
				return nil, &APIError{"InvalidRequest", http.StatusBadRequest,
					fmt.Sprintf("The upload was created using a %s checksum. The complete request must include the checksum for each part. It was missing for part %d in the request.", u.Checksum, p.Number)}
			}
			sums[i], sizes[i] = p.Checksum, p.Size
		}
		var v string
		var err error
		if u.SumType == "FULL_OBJECT" {
			v, err = checksum.FullObject(alg, sums, sizes)
		} else {
			v, err = checksum.Composite(alg, sums)
		}
		if err != nil {
			return nil, err
		}
		return &vault.Checksum{Algorithm: u.Checksum, Value: v, Type: u.SumType}, nil
	}
	o, err := s.vault.CompleteUpload(r.Context(), r.principal, r.bucket, r.key, r.query.Get("uploadId"), in)
	if err != nil {
		return err
	}
	setVersionHeader(w.Header(), o)
	setSSEHeaders(w.Header(), o)
	res := completeMultipartUploadResult{NS: s3NS, Location: "/" + r.bucket + "/" + r.key, Bucket: r.bucket, Key: r.key, ETag: `"` + o.ETag + `"`}
	if o.Checksum != nil {
		setChecksumXML(o.Checksum, &res.ChecksumCRC32, &res.ChecksumCRC32C, &res.ChecksumCRC64NVME, &res.ChecksumSHA1, &res.ChecksumSHA256)
		res.ChecksumType = o.Checksum.Type
	}
	return writeXML(w, res)
}

func (s *Server) abortUpload(w http.ResponseWriter, r *request) error {
	if err := s.vault.AbortUpload(r.Context(), r.principal, r.bucket, r.key, r.query.Get("uploadId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listParts(w http.ResponseWriter, r *request) error {
	max, err := maxKeys(r.query, "max-parts")
	if err != nil {
		return err
	}
	after := 0
	if m := r.query.Get("part-number-marker"); m != "" {
		if after, err = strconv.Atoi(m); err != nil || after < 0 {
			return &APIError{"InvalidArgument", http.StatusBadRequest, "Provided part-number-marker not an integer or within integer range"}
		}
	}
	u, parts, truncated, err := s.vault.Parts(r.Context(), r.principal, r.bucket, r.key, r.query.Get("uploadId"), after, max)
	if err != nil {
		return err
	}
	own := ownerOf(u.Tenant)
	res := listPartsResult{NS: s3NS, Bucket: r.bucket, Key: r.key, UploadID: u.ID, Initiator: own, Owner: own,
		StorageClass: "STANDARD", PartNumberMarker: after, MaxParts: max, IsTruncated: truncated,
		ChecksumAlgorithm: u.Checksum, ChecksumType: u.SumType}
	for _, p := range parts {
		x := partXML{PartNumber: p.Number, LastModified: isoTime(p.LastModified), ETag: `"` + p.ETag + `"`, Size: p.Size}
		if p.Checksum != "" {
			setChecksumXML(&vault.Checksum{Algorithm: u.Checksum, Value: p.Checksum}, &x.ChecksumCRC32, &x.ChecksumCRC32C, &x.ChecksumCRC64NVME, &x.ChecksumSHA1, &x.ChecksumSHA256)
		}
		res.Parts = append(res.Parts, x)
		res.NextPartNumberMarker = p.Number
	}
	return writeXML(w, res)
}

func (s *Server) listUploads(w http.ResponseWriter, r *request) error {
	q := r.query
	e, max, err := listParams(q, "max-uploads")
	if err != nil {
		return err
	}
	in := vault.UploadsInput{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), KeyMarker: q.Get("key-marker"),
		UploadIDMarker: q.Get("upload-id-marker"), MaxUploads: max}
	out, err := s.vault.Uploads(r.Context(), r.principal, r.bucket, in)
	if err != nil {
		return err
	}
	res := listMultipartUploadsResult{NS: s3NS, Bucket: r.bucket, KeyMarker: e.enc(in.KeyMarker), UploadIDMarker: in.UploadIDMarker,
		Prefix: e.enc(in.Prefix), Delimiter: e.enc(in.Delimiter), MaxUploads: max, EncodingType: e.typ(), IsTruncated: out.IsTruncated}
	if out.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = e.enc(out.NextKeyMarker), out.NextUploadIDMarker
	}
	for _, u := range out.Uploads {
		own := ownerOf(u.Tenant)
		res.Uploads = append(res.Uploads, uploadXML{Key: e.enc(u.Key), UploadID: u.ID, Initiator: own, Owner: own,
			StorageClass: "STANDARD", Initiated: isoTime(u.Initiated), ChecksumAlgorithm: u.Checksum})
	}
	res.CommonPrefixes = prefixesOf(e, out.CommonPrefixes)
	return writeXML(w, res)
}

// copyRangeWithin reports whether an explicit first-last range lies inside
// the source: unlike a GET, a copy range is not clamped.
func copyRangeWithin(rg string, size int64) bool {
	_, last, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(rg), "bytes="), "-")
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(last), 10, 64)
	return err == nil && n < size
}
