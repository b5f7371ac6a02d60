package vault

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coffre-cloud/coffre/meta"
)

// newUploadID orders uploads of one key by initiation time.
func newUploadID(t time.Time) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
	return hex.EncodeToString(b) + randomID(8)
}

func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// CreateUpload starts a multipart upload.
func (v *Vault) CreateUpload(ctx context.Context, p Principal, bucket, key string, attrs ObjectAttrs, checksumAlg, checksumType string, customerKey []byte) (*Upload, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	now := v.now().UTC()
	u := &Upload{Key: key, ID: newUploadID(now), Initiated: now, Tenant: p.Tenant, Attrs: attrs, Checksum: checksumAlg, SumType: checksumType}
	if customerKey != nil {
		if len(customerKey) != CustomerKeySize {
			return nil, fmt.Errorf("%w: an SSE-C key has %d bytes", ErrInvalidArgument, CustomerKeySize)
		}
		u.SSEC = newSSEC(customerKey, u.ID)
	}
	err := v.update(ctx, func(tx meta.Tx) error {
		b, err := v.bucketFor(ctx, tx, p, bucket)
		if err != nil {
			return err
		}
		return b.put(tx, kUpload(b.ID, b.tok(key), u.ID), u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// uploadFor reads an upload of a bucket p may use.
func (v *Vault) uploadFor(ctx context.Context, tx meta.Tx, p Principal, bucket, key, uploadID string) (Bucket, *Upload, error) {
	b, err := v.bucketFor(ctx, tx, p, bucket)
	if err != nil {
		return b, nil, err
	}
	if !validUploadID(uploadID) {
		return b, nil, fail("%w: %s", ErrNoSuchUpload, uploadID)
	}
	u := new(Upload)
	switch err := b.get(tx, kUpload(b.ID, b.tok(key), uploadID), u); {
	case errors.Is(err, meta.ErrNotFound):
		return b, nil, fail("%w: %s", ErrNoSuchUpload, uploadID)
	case err != nil:
		return b, nil, err
	}
	return b, u, nil
}

// Upload returns a multipart upload.
func (v *Vault) Upload(ctx context.Context, p Principal, bucket, key, uploadID string) (*Upload, error) {
	var u *Upload
	err := v.view(ctx, func(tx meta.Tx) (err error) {
		_, u, err = v.uploadFor(ctx, tx, p, bucket, key, uploadID)
		return err
	})
	return u, err
}

// UploadPart stores one part of a multipart upload, replacing an earlier
// part with the same number.
func (v *Vault) UploadPart(ctx context.Context, p Principal, bucket, key, uploadID string, number int, in PutInput) (*Part, error) {
	if number < 1 || number > MaxParts {
		return nil, fmt.Errorf("%w: part number must be an integer between 1 and %d, inclusive", ErrInvalidArgument, MaxParts)
	}
	var (
		b Bucket
		u *Upload
	)
	err := v.view(ctx, func(tx meta.Tx) (err error) {
		b, u, err = v.uploadFor(ctx, tx, p, bucket, key, uploadID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := u.SSEC.check(in.CustomerKey); err != nil {
		return nil, fmt.Errorf("%w (every part of an upload uses the customer key given when it was created)", err)
	}
	if err := v.precheckQuota(ctx, b, "", in.Size); err != nil {
		return nil, err
	}
	blob, etag, err := v.writeBlob(ctx, blobPlace{p.Tenant, b.ID, key, b.Offer, false}, in.Body, in.Size, in.CustomerKey)
	if err != nil {
		return nil, err
	}
	defer v.writing.Delete(blob.Name) // committed (referenced) or removed by then
	part := &Part{Number: number, Blob: blob.Name, Size: in.Size, ETag: etag, DEK: blob.DEK, KEK: blob.KEK, Header: blob.Header, SSEC: blob.SSEC, LastModified: v.now().UTC()}
	if in.Checksum != nil {
		if c := in.Checksum(); c != nil {
			part.Checksum = c.Value
		}
	}
	var garbage []string
	err = v.updateBinding(ctx, p.Tenant, func(tx meta.Tx) error {
		garbage = garbage[:0]
		b, _, err := v.uploadFor(ctx, tx, p, bucket, key, uploadID)
		if err != nil {
			return err
		}
		if err := v.checkOffer(b, blob); err != nil {
			return err
		}
		var old Part
		switch err := getRecord(tx, kPart(uploadID, number), &old); {
		case err == nil:
			if garbage, err = v.markGarbage(tx, b, []Blob{{Name: old.Blob, Size: old.Size}}); err != nil {
				return err
			}
		case !errors.Is(err, meta.ErrNotFound):
			return err
		}
		if err := v.bindKEK(tx, b.Tenant, &blob); err != nil {
			return err
		}
		part.DEK, part.KEK = blob.DEK, blob.KEK
		if err := v.refBlob(tx, b, blob); err != nil {
			return err
		}
		if err := v.checkQuota(tx, b.Tenant, 0, 0); err != nil {
			return err
		}
		return tx.Put(kPart(uploadID, number), encode(part))
	})
	if err != nil {
		v.removeBlob(blob)
		return nil, err
	}
	v.collect(ctx, garbage)
	return part, nil
}

// Parts lists the parts of an upload with numbers greater than after, at
// most max of them, and whether more follow.
func (v *Vault) Parts(ctx context.Context, p Principal, bucket, key, uploadID string, after, max int) (*Upload, []Part, bool, error) {
	var (
		u         *Upload
		parts     []Part
		truncated bool
	)
	err := v.view(ctx, func(tx meta.Tx) error {
		var err error
		parts, truncated = parts[:0], false
		if _, u, err = v.uploadFor(ctx, tx, p, bucket, key, uploadID); err != nil {
			return err
		}
		start := kPart(uploadID, after+1)
		return tx.Scan(start, meta.PrefixEnd(kPartsOf(uploadID)), func(_, val []byte) (bool, error) {
			if len(parts) == max {
				truncated = true
				return false, nil
			}
			var pt Part
			if err := decode(val, &pt); err != nil {
				return false, err
			}
			parts = append(parts, pt)
			return true, nil
		})
	})
	return u, parts, truncated, err
}

// CompletePart is a part named in a CompleteMultipartUpload request.
type CompletePart struct {
	Number   int
	ETag     string // with or without quotes
	Checksum string // the part checksum the client gives, if any
}

// CompleteInput is a CompleteMultipartUpload request.
type CompleteInput struct {
	Parts []CompletePart
	// Checksum, when not nil, computes the object checksum from the
	// chosen parts (the upload's algorithm and type) or refuses them.
	Checksum func(u *Upload, parts []Part) (*Checksum, error)
}

// CompleteUpload assembles an object from uploaded parts. The parts keep
// their blobs: completion copies no bytes.
func (v *Vault) CompleteUpload(ctx context.Context, p Principal, bucket, key, uploadID string, in CompleteInput) (*Object, error) {
	if len(in.Parts) == 0 {
		return nil, fmt.Errorf("%w: you must specify at least one part", ErrInvalidArgument)
	}
	for i, cp := range in.Parts {
		if i > 0 && cp.Number <= in.Parts[i-1].Number {
			return nil, fmt.Errorf("%w: part %d follows part %d", ErrInvalidPartOrder, cp.Number, in.Parts[i-1].Number)
		}
	}
	o := &Object{Key: key}
	var garbage []string
	err := v.commit(ctx, p, bucket, o, func(tx meta.Tx, b Bucket) error {
		_, u, err := v.uploadFor(ctx, tx, p, bucket, key, uploadID)
		if err != nil {
			return err
		}
		parts := make([]Part, 0, len(in.Parts))
		keep := make(map[int]bool, len(in.Parts))
		sums := md5.New()
		var size int64
		for i, cp := range in.Parts {
			var pt Part
			switch err := getRecord(tx, kPart(uploadID, cp.Number), &pt); {
			case errors.Is(err, meta.ErrNotFound):
				return fail("%w: part %d was not uploaded", ErrInvalidPart, cp.Number)
			case err != nil:
				return err
			}
			if strings.Trim(cp.ETag, `"`) != pt.ETag {
				return fail("%w: part %d has ETag %q, not %q", ErrInvalidPart, cp.Number, pt.ETag, strings.Trim(cp.ETag, `"`))
			}
			if cp.Checksum != "" && pt.Checksum != "" && cp.Checksum != pt.Checksum {
				return fail("%w: part %d checksum does not match the uploaded part", ErrInvalidPart, cp.Number)
			}
			if i < len(in.Parts)-1 && pt.Size < MinPartSize {
				return fail("%w: part %d has %d bytes; every part but the last needs at least %d", ErrEntityTooSmall, cp.Number, pt.Size, MinPartSize)
			}
			raw, err := hex.DecodeString(pt.ETag)
			if err != nil {
				return fail("vault: corrupt part record %d: %v", cp.Number, err)
			}
			sums.Write(raw)
			size += pt.Size
			keep[cp.Number] = true
			parts = append(parts, pt)
		}
		if size > MaxObjectSize {
			return fail("%w: %d bytes", ErrEntityTooLarge, size)
		}
		o.Size = size
		o.ETag = fmt.Sprintf("%s-%d", hex.EncodeToString(sums.Sum(nil)), len(parts))
		o.Multipart = true
		o.Blobs = make([]Blob, len(parts))
		for i, pt := range parts {
			o.Blobs[i] = Blob{Name: pt.Blob, Size: pt.Size, ETag: pt.ETag, Checksum: pt.Checksum, DEK: pt.DEK, KEK: pt.KEK, Header: pt.Header, SSEC: pt.SSEC}
		}
		u.Attrs.applyTo(o)
		o.SSEC = u.SSEC
		if in.Checksum != nil {
			c, err := in.Checksum(u, parts)
			if err != nil {
				return vaultError{err}
			}
			o.Checksum = c
		}
		garbage, err = v.dropUpload(tx, b, *u, keep)
		return err
	})
	if err != nil {
		return nil, err
	}
	v.collect(ctx, garbage)
	return o, nil
}

// dropUpload deletes an upload and its part records; the blobs of the parts
// not kept become garbage.
func (v *Vault) dropUpload(tx meta.Tx, b Bucket, u Upload, keep map[int]bool) ([]string, error) {
	var (
		keys  [][]byte
		blobs []Blob
	)
	pre := kPartsOf(u.ID)
	err := tx.Scan(pre, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
		var pt Part
		if err := decode(val, &pt); err != nil {
			return false, err
		}
		keys = append(keys, append([]byte(nil), k...))
		if !keep[pt.Number] {
			blobs = append(blobs, Blob{Name: pt.Blob, Size: pt.Size})
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return nil, err
		}
	}
	garbage, err := v.markGarbage(tx, b, blobs)
	if err != nil {
		return nil, err
	}
	return garbage, tx.Delete(kUpload(b.ID, b.tok(u.Key), u.ID))
}

// AbortUpload drops a multipart upload and its parts.
func (v *Vault) AbortUpload(ctx context.Context, p Principal, bucket, key, uploadID string) error {
	var garbage []string
	err := v.update(ctx, func(tx meta.Tx) error {
		b, u, err := v.uploadFor(ctx, tx, p, bucket, key, uploadID)
		if err != nil {
			return err
		}
		garbage, err = v.dropUpload(tx, b, *u, nil)
		return err
	})
	if err == nil {
		v.collect(ctx, garbage)
	}
	return err
}

// UploadsInput selects a page of ListMultipartUploads.
type UploadsInput struct {
	Prefix         string
	Delimiter      string
	KeyMarker      string
	UploadIDMarker string
	MaxUploads     int
}

// UploadsOutput is a page of uploads.
type UploadsOutput struct {
	Uploads            []*Upload
	CommonPrefixes     []string
	IsTruncated        bool
	NextKeyMarker      string
	NextUploadIDMarker string
}

// Uploads lists the unfinished multipart uploads of a bucket, by key, then
// by initiation time. Upload records are keyed by name tokens, so they are
// read, opened and sorted here: unfinished uploads are few.
func (v *Vault) Uploads(ctx context.Context, p Principal, bucket string, in UploadsInput) (*UploadsOutput, error) {
	var out *UploadsOutput
	err := v.view(ctx, func(tx meta.Tx) error {
		out = &UploadsOutput{}
		b, err := v.bucketFor(ctx, tx, p, bucket)
		if err != nil {
			return err
		}
		if in.MaxUploads <= 0 {
			return nil
		}
		var all []*Upload
		pre := kUploadsOfBucket(b.ID)
		err = tx.Scan(pre, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
			u := new(Upload)
			if err := b.open(k, val, u); err != nil {
				return false, err
			}
			if strings.HasPrefix(u.Key, in.Prefix) {
				all = append(all, u)
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		slices.SortFunc(all, func(a, b *Upload) int {
			if c := strings.Compare(a.Key, b.Key); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		lastCP := ""
		for _, u := range all {
			switch {
			case u.Key < in.KeyMarker:
				continue
			case u.Key == in.KeyMarker && (in.UploadIDMarker == "" || u.ID <= in.UploadIDMarker):
				continue
			}
			if in.Delimiter != "" {
				if i := strings.Index(u.Key[len(in.Prefix):], in.Delimiter); i >= 0 {
					cp := u.Key[:len(in.Prefix)+i+len(in.Delimiter)]
					if cp == lastCP || in.KeyMarker != "" && cp <= in.KeyMarker {
						continue
					}
					if len(out.Uploads)+len(out.CommonPrefixes) == in.MaxUploads {
						out.IsTruncated = true
						return nil
					}
					lastCP = cp
					out.CommonPrefixes = append(out.CommonPrefixes, cp)
					out.NextKeyMarker, out.NextUploadIDMarker = cp, ""
					continue
				}
			}
			if len(out.Uploads)+len(out.CommonPrefixes) == in.MaxUploads {
				out.IsTruncated = true
				return nil
			}
			out.Uploads = append(out.Uploads, u)
			out.NextKeyMarker, out.NextUploadIDMarker = u.Key, u.ID
		}
		return nil
	})
	return out, err
}

// ExpireUploads aborts the uploads initiated longer ago than the expiry.
func (v *Vault) ExpireUploads(ctx context.Context) (int, error) {
	deadline := v.now().Add(-v.expiry)
	var buckets []Bucket
	err := v.view(ctx, func(tx meta.Tx) error {
		buckets = buckets[:0]
		pre := []byte(pBucket)
		return tx.Scan(pre, meta.PrefixEnd(pre), func(_, val []byte) (bool, error) {
			var b Bucket
			if err := decode(val, &b); err != nil {
				return false, err
			}
			buckets = append(buckets, b)
			return true, nil
		})
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range buckets {
		if err := v.withRecordKey(ctx, nil, &b); err != nil {
			continue // a shredded tenant's uploads are unreadable anyway
		}
		var expired []Upload
		err := v.view(ctx, func(tx meta.Tx) error {
			expired = expired[:0]
			pre := kUploadsOfBucket(b.ID)
			return tx.Scan(pre, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
				var u Upload
				if err := b.open(k, val, &u); err != nil {
					return false, err
				}
				if u.Initiated.Before(deadline) {
					expired = append(expired, u)
				}
				return true, nil
			})
		})
		if err != nil {
			return n, err
		}
		for _, u := range expired {
			var garbage []string
			err := v.update(ctx, func(tx meta.Tx) error {
				if _, err := tx.Get(kUpload(b.ID, b.tok(u.Key), u.ID)); errors.Is(err, meta.ErrNotFound) {
					return nil // completed or aborted meanwhile
				} else if err != nil {
					return err
				}
				var err error
				garbage, err = v.dropUpload(tx, b, u, nil)
				return err
			})
			if err != nil {
				return n, err
			}
			v.collect(ctx, garbage)
			n++
		}
	}
	return n, nil
}
