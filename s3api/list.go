package s3api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coffre-cloud/coffre/vault"
)

// maxKeys reads a max-keys style parameter: default and cap 1000.
func maxKeys(q url.Values, name string) (int, error) {
	v := q.Get(name)
	if v == "" {
		return 1000, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &APIError{"InvalidArgument", http.StatusBadRequest, "Provided " + name + " not an integer or within integer range"}
	}
	return min(n, 1000), nil
}

// listParams reads the encoding type and the page size of a listing.
func listParams(q url.Values, maxName string) (encoder, int, error) {
	e, err := newEncoder(q)
	if err != nil {
		return false, 0, err
	}
	max, err := maxKeys(q, maxName)
	return e, max, err
}

// encoder applies encoding-type=url to the keys of a listing.
type encoder bool

func newEncoder(q url.Values) (encoder, error) {
	switch q.Get("encoding-type") {
	case "":
		return false, nil
	case "url":
		return true, nil
	}
	return false, errInvalidEncodingMethod
}

func (e encoder) enc(s string) string {
	if !e {
		return s
	}
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

func (e encoder) typ() string {
	if e {
		return "url"
	}
	return ""
}

func contentsOf(e encoder, o *vault.Object, own *owner) object {
	sc := o.StorageClass
	if sc == "" {
		sc = "STANDARD"
	}
	c := object{Key: e.enc(o.Key), LastModified: isoTime(o.LastModified), ETag: `"` + o.ETag + `"`, Size: o.Size, StorageClass: sc, Owner: own}
	if o.Checksum != nil {
		c.ChecksumAlgorithm = o.Checksum.Algorithm
		c.ChecksumType = o.Checksum.Type
	}
	return c
}

func prefixesOf(e encoder, cps []string) []commonPrefix {
	out := make([]commonPrefix, len(cps))
	for i, cp := range cps {
		out[i] = commonPrefix{e.enc(cp)}
	}
	return out
}

func (s *Server) listObjectsV1(w http.ResponseWriter, r *request) error {
	q := r.query
	e, max, err := listParams(q, "max-keys")
	if err != nil {
		return err
	}
	in := vault.ListInput{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), After: q.Get("marker"), MaxKeys: max}
	out, err := s.vault.ListObjects(r.Context(), r.principal, r.bucket, in)
	if err != nil {
		return err
	}
	marker := e.enc(in.After)
	res := listBucketResult{NS: s3NS, Name: r.bucket, Prefix: e.enc(in.Prefix), Marker: &marker, MaxKeys: max,
		Delimiter: e.enc(in.Delimiter), EncodingType: e.typ(), IsTruncated: out.IsTruncated}
	for _, o := range out.Objects {
		own := ownerOf(r.principal.Tenant)
		res.Contents = append(res.Contents, contentsOf(e, o, &own))
	}
	res.CommonPrefixes = prefixesOf(e, out.CommonPrefixes)
	if out.IsTruncated {
		res.NextMarker = e.enc(out.Next)
	}
	return writeXML(w, res)
}

func (s *Server) listObjectsV2(w http.ResponseWriter, r *request) error {
	q := r.query
	e, max, err := listParams(q, "max-keys")
	if err != nil {
		return err
	}
	in := vault.ListInput{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), MaxKeys: max, After: q.Get("start-after")}
	token := q.Get("continuation-token")
	if q.Has("continuation-token") {
		after, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || token == "" {
			return &APIError{"InvalidArgument", http.StatusBadRequest, "The continuation token provided is incorrect"}
		}
		in.After = string(after)
	}
	out, err := s.vault.ListObjects(r.Context(), r.principal, r.bucket, in)
	if err != nil {
		return err
	}
	count := len(out.Objects) + len(out.CommonPrefixes)
	res := listBucketResult{NS: s3NS, Name: r.bucket, Prefix: e.enc(in.Prefix), MaxKeys: max, KeyCount: &count,
		Delimiter: e.enc(in.Delimiter), EncodingType: e.typ(), IsTruncated: out.IsTruncated,
		ContinuationToken: token, StartAfter: e.enc(q.Get("start-after"))}
	fetchOwner := q.Get("fetch-owner") == "true"
	for _, o := range out.Objects {
		var own *owner
		if fetchOwner {
			ow := ownerOf(r.principal.Tenant)
			own = &ow
		}
		res.Contents = append(res.Contents, contentsOf(e, o, own))
	}
	res.CommonPrefixes = prefixesOf(e, out.CommonPrefixes)
	if out.IsTruncated {
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(out.Next))
	}
	return writeXML(w, res)
}

func (s *Server) listVersions(w http.ResponseWriter, r *request) error {
	q := r.query
	e, max, err := listParams(q, "max-keys")
	if err != nil {
		return err
	}
	in := vault.VersionsInput{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), KeyMarker: q.Get("key-marker"),
		VersionIDMarker: q.Get("version-id-marker"), MaxKeys: max}
	if in.VersionIDMarker != "" && in.KeyMarker == "" {
		return &APIError{"InvalidArgument", http.StatusBadRequest, "A version-id marker cannot be specified without a key marker."}
	}
	out, err := s.vault.ListVersions(r.Context(), r.principal, r.bucket, in)
	if err != nil {
		return err
	}
	res := listVersionsResult{NS: s3NS, Name: r.bucket, Prefix: e.enc(in.Prefix), KeyMarker: e.enc(in.KeyMarker),
		VersionIDMarker: in.VersionIDMarker, MaxKeys: max, Delimiter: e.enc(in.Delimiter), EncodingType: e.typ(),
		IsTruncated: out.IsTruncated}
	own := ownerOf(r.principal.Tenant)
	for _, v := range out.Versions {
		x := versionXML{Key: e.enc(v.Key), VersionID: v.VersionID, IsLatest: v.IsLatest, LastModified: isoTime(v.LastModified), Owner: own}
		if v.DeleteMarker {
			x.XMLName.Local = "DeleteMarker"
		} else {
			x.XMLName.Local = "Version"
			x.ETag = `"` + v.ETag + `"`
			size := v.Size
			x.Size = &size
			x.StorageClass = v.StorageClass
			if x.StorageClass == "" {
				x.StorageClass = "STANDARD"
			}
			if v.Checksum != nil {
				x.ChecksumAlgorithm = v.Checksum.Algorithm
			}
		}
		res.Entries = append(res.Entries, x)
	}
	res.CommonPrefixes = prefixesOf(e, out.CommonPrefixes)
	if out.IsTruncated {
		res.NextKeyMarker = e.enc(out.NextKeyMarker)
		res.NextVersionIDMarker = out.NextVersionIDMarker
	}
	return writeXML(w, res)
}
