package s3api

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/coffre-cloud/coffre/policy"
	"github.com/coffre-cloud/coffre/vault"
)

func ownerOf(tenant string) owner { return owner{ID: tenant, DisplayName: tenant} }

func (s *Server) listBuckets(w http.ResponseWriter, r *request) error {
	bs, err := s.vault.Buckets(r.Context(), r.principal)
	if err != nil {
		return err
	}
	res := listAllMyBucketsResult{NS: s3NS, Owner: ownerOf(r.principal.Tenant), Buckets: []bucketEntry{}}
	prefix, after := r.query.Get("prefix"), r.query.Get("continuation-token")
	limit := 10000
	if mb := r.query.Get("max-buckets"); mb != "" {
		n, err := strconv.Atoi(mb)
		if err != nil || n < 1 || n > 10000 {
			return &APIError{"InvalidArgument", http.StatusBadRequest, "max-buckets must be an integer between 1 and 10000"}
		}
		limit = n
	}
	for _, b := range bs {
		if !strings.HasPrefix(b.Name, prefix) || b.Name <= after {
			continue
		}
		if len(res.Buckets) == limit {
			res.ContinuationToken = res.Buckets[limit-1].Name
			break
		}
		res.Buckets = append(res.Buckets, bucketEntry{Name: b.Name, CreationDate: isoTime(b.Created), BucketRegion: s.vault.Region()})
	}
	res.Prefix = prefix
	return writeXML(w, res)
}

// createBucket places the bucket where its sensitivity allows. The client
// says what it wants in the LocationConstraint (a sensitivity, an offer,
// or SENSITIVITY:OFFER; the site's region asks for nothing) or in the
// x-coffre-sensitivity and x-coffre-offer headers, for SDKs.
func (s *Server) createBucket(w http.ResponseWriter, r *request) error {
	var pl vault.Placement
	if r.auth.DecodedLength > 0 {
		var cfg createBucketConfiguration
		if err := readXML(r, 64<<10, &cfg); err != nil {
			return err
		}
		// "aws-global" is what aws cli sends when no region is configured:
		// it asks for no particular place.
		if lc := cfg.LocationConstraint; lc != "" && lc != "aws-global" && lc != s.vault.Region() {
			var ok bool
			if pl, ok = vault.ParseLocation(lc, s.vault.Offers()); !ok {
				return &APIError{"InvalidLocationConstraint", http.StatusBadRequest,
					"The specified location-constraint " + lc + " is not valid: use this site's region (" + s.vault.Region() +
						"), a sensitivity (high, medium, low), an offer (" + strings.Join(s.vault.Offers(), ", ") + ") or SENSITIVITY:OFFER."}
			}
		}
	}
	if h := r.Header.Get("x-coffre-sensitivity"); h != "" {
		v, err := policy.ParseSensitivity(h)
		if err != nil {
			return &APIError{"InvalidArgument", http.StatusBadRequest, "x-coffre-sensitivity: " + err.Error()}
		}
		pl.Sensitivity = v
	}
	if h := r.Header.Get("x-coffre-offer"); h != "" {
		pl.Offer = h
	}
	if acl := r.Header.Get("x-amz-acl"); acl != "" && acl != "private" {
		return &APIError{"NotImplemented", http.StatusNotImplemented, "Only the private canned ACL is supported; Coffre never makes a bucket public."}
	}
	b, err := s.vault.CreateBucket(r.Context(), r.principal, r.bucket, pl)
	if err != nil {
		return err
	}
	setPlacementHeaders(w, b)
	w.Header().Set("Location", "/"+r.bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) headBucket(w http.ResponseWriter, r *request) error {
	b, err := s.vault.Bucket(r.Context(), r.principal, r.bucket)
	if err != nil {
		return err
	}
	setPlacementHeaders(w, b)
	w.Header().Set("x-amz-bucket-region", s.vault.Region())
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucket(w http.ResponseWriter, r *request) error {
	if err := s.vault.DeleteBucket(r.Context(), r.principal, r.bucket); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getBucketLocation(w http.ResponseWriter, r *request) error {
	if _, err := s.vault.Bucket(r.Context(), r.principal, r.bucket); err != nil {
		return err
	}
	region := s.vault.Region()
	if region == "us-east-1" {
		region = "" // as S3 answers for us-east-1
	}
	return writeXML(w, locationConstraint{NS: s3NS, Value: region})
}

func (s *Server) getBucketVersioning(w http.ResponseWriter, r *request) error {
	b, err := s.vault.Bucket(r.Context(), r.principal, r.bucket)
	if err != nil {
		return err
	}
	return writeXML(w, versioningConfiguration{NS: s3NS, Status: string(b.Versioning)})
}

func (s *Server) putBucketVersioning(w http.ResponseWriter, r *request) error {
	var cfg versioningConfiguration
	if err := readXML(r, 64<<10, &cfg); err != nil {
		return err
	}
	if cfg.MFADelete == "Enabled" {
		return &APIError{"NotImplemented", http.StatusNotImplemented, "MFA delete is not supported."}
	}
	switch vault.Versioning(cfg.Status) {
	case vault.VersioningEnabled, vault.VersioningSuspended:
	default:
		return errIllegalVersioning
	}
	if err := s.vault.SetVersioning(r.Context(), r.principal, r.bucket, vault.Versioning(cfg.Status)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func tagsToXML(tags map[string]string) tagging {
	t := tagging{NS: s3NS, TagSet: []tag{}}
	for k, v := range tags {
		t.TagSet = append(t.TagSet, tag{k, v})
	}
	sort.Slice(t.TagSet, func(i, j int) bool { return t.TagSet[i].Key < t.TagSet[j].Key })
	return t
}

// readTagging decodes a Tagging body; duplicate keys are InvalidTag.
func readTagging(r *request) (map[string]string, error) {
	var t tagging
	if err := readXML(r, 64<<10, &t); err != nil {
		return nil, err
	}
	tags := make(map[string]string, len(t.TagSet))
	for _, tg := range t.TagSet {
		if _, dup := tags[tg.Key]; dup {
			return nil, &APIError{"InvalidTag", http.StatusBadRequest, "Cannot provide multiple Tags with the same key"}
		}
		tags[tg.Key] = tg.Value
	}
	return tags, nil
}

func (s *Server) getBucketTagging(w http.ResponseWriter, r *request) error {
	b, err := s.vault.Bucket(r.Context(), r.principal, r.bucket)
	if err != nil {
		return err
	}
	if len(b.Tags) == 0 {
		return &APIError{"NoSuchTagSet", http.StatusNotFound, "The TagSet does not exist"}
	}
	return writeXML(w, tagsToXML(b.Tags))
}

func (s *Server) putBucketTagging(w http.ResponseWriter, r *request) error {
	tags, err := readTagging(r)
	if err != nil {
		return err
	}
	if err := s.vault.SetBucketTags(r.Context(), r.principal, r.bucket, tags); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteBucketTagging(w http.ResponseWriter, r *request) error {
	if err := s.vault.SetBucketTags(r.Context(), r.principal, r.bucket, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getACL answers the one ACL Coffre has: the owner has full control.
func (s *Server) getACL(w http.ResponseWriter, r *request) error {
	if r.key == "" {
		if _, err := s.vault.Bucket(r.Context(), r.principal, r.bucket); err != nil {
			return err
		}
	} else if _, err := s.vault.GetObject(r.Context(), r.principal, r.bucket, r.key, r.query.Get("versionId")); err != nil {
		return err
	}
	var g grant
	g.Grantee.XMLNS = "http://www.w3.org/2001/XMLSchema-instance"
	g.Grantee.Type = "CanonicalUser"
	g.Grantee.ID = r.principal.Tenant
	g.Grantee.DisplayName = r.principal.Tenant
	g.Permission = "FULL_CONTROL"
	return writeXML(w, accessControlPolicy{NS: s3NS, Owner: ownerOf(r.principal.Tenant), Grants: []grant{g}})
}

// putACL accepts the private canned ACL, which is what every object and
// bucket has; anything that would share data is refused.
func (s *Server) putACL(w http.ResponseWriter, r *request) error {
	if acl := r.Header.Get("x-amz-acl"); acl != "private" {
		return &APIError{"NotImplemented", http.StatusNotImplemented, "Only the private canned ACL is supported; Coffre never makes data public."}
	}
	return s.getACLOK(w, r)
}

func (s *Server) getACLOK(w http.ResponseWriter, r *request) error {
	if r.key == "" {
		if _, err := s.vault.Bucket(r.Context(), r.principal, r.bucket); err != nil {
			return err
		}
	} else if _, err := s.vault.GetObject(r.Context(), r.principal, r.bucket, r.key, r.query.Get("versionId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// setPlacementHeaders says where a bucket is: its sensitivity, its offer,
// and the progress of a migration.
func setPlacementHeaders(w http.ResponseWriter, b vault.Bucket) {
	h := w.Header()
	h.Set("x-coffre-sensitivity", b.Sensitivity.String())
	if b.Offer != "" {
		h.Set("x-coffre-offer", b.Offer)
	}
	if m := b.Migration; m != nil {
		h.Set("x-coffre-migration", fmt.Sprintf("from=%s; to-sensitivity=%s; moved=%d/%d", m.From, m.To, m.MovedBlobs, m.Blobs))
	}
}
