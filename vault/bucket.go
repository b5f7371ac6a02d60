package vault

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/coffre-cloud/coffre/meta"
)

// ValidBucketName applies the AWS naming rules for general purpose buckets
// and returns why a name is refused.
func ValidBucketName(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %q: %s", ErrInvalidBucketName, name, why) }
	if len(name) < 3 || len(name) > 63 {
		return bad("bucket names must be between 3 and 63 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return bad("bucket names can consist only of lowercase letters, numbers, dots and hyphens")
		}
	}
	isAlnum := func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return bad("bucket names must begin and end with a letter or number")
	}
	if strings.Contains(name, "..") {
		return bad("bucket names must not contain two adjacent periods")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return bad("bucket names must not be formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return bad("bucket names must not start with " + p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return bad("bucket names must not end with " + s)
		}
	}
	return nil
}

// bucketFor reads a bucket, checks that p may use it, and attaches its
// record sealer.
func (v *Vault) bucketFor(ctx context.Context, tx meta.Tx, p Principal, name string) (Bucket, error) {
	var b Bucket
	switch err := getRecord(tx, kBucket(name), &b); {
	case errors.Is(err, meta.ErrNotFound):
		return b, fail("%w: %s", ErrNoSuchBucket, name)
	case err != nil:
		return b, err
	}
	if b.Tenant != p.Tenant {
		return b, fail("%w", ErrAccessDenied)
	}
	if err := v.withRecordKey(ctx, tx, &b); err != nil {
		return b, vaultError{err}
	}
	return b, nil
}

// CreateBucket creates a bucket for p's tenant.
func (v *Vault) CreateBucket(ctx context.Context, p Principal, name string) (Bucket, error) {
	if err := ValidBucketName(name); err != nil {
		return Bucket{}, err
	}
	b := Bucket{Name: name, ID: randomID(8), Tenant: p.Tenant, Created: v.now().UTC()}
	var err error
	if b.MK, b.MKV, err = v.newBucketKey(ctx, p.Tenant, b.ID); err != nil {
		return Bucket{}, err
	}
	err = v.update(ctx, func(tx meta.Tx) error {
		var old Bucket
		switch err := getRecord(tx, kBucket(name), &old); {
		case err == nil && old.Tenant == p.Tenant:
			return fail("%w: %s", ErrBucketAlreadyOwned, name)
		case err == nil:
			return fail("%w: %s", ErrBucketAlreadyExists, name)
		case !errors.Is(err, meta.ErrNotFound):
			return err
		}
		return tx.Put(kBucket(name), encode(b))
	})
	return b, err
}

// Bucket returns a bucket p may use (HeadBucket).
func (v *Vault) Bucket(ctx context.Context, p Principal, name string) (Bucket, error) {
	var b Bucket
	err := v.view(ctx, func(tx meta.Tx) (err error) {
		b, err = v.bucketFor(ctx, tx, p, name)
		return err
	})
	return b, err
}

// Buckets lists p's buckets in name order.
func (v *Vault) Buckets(ctx context.Context, p Principal) ([]Bucket, error) {
	var bs []Bucket
	err := v.view(ctx, func(tx meta.Tx) error {
		bs = bs[:0]
		pre := []byte(pBucket)
		return tx.Scan(pre, meta.PrefixEnd(pre), func(_, val []byte) (bool, error) {
			var b Bucket
			if err := decode(val, &b); err != nil {
				return false, err
			}
			if b.Tenant == p.Tenant {
				bs = append(bs, b)
			}
			return true, nil
		})
	})
	return bs, err
}

// hasAny reports whether some key has the prefix.
func hasAny(tx meta.Tx, prefix []byte) (bool, error) {
	found := false
	err := tx.Scan(prefix, meta.PrefixEnd(prefix), func(_, _ []byte) (bool, error) {
		found = true
		return false, nil
	})
	return found, err
}

// DeleteBucket deletes an empty bucket: one with no object versions and no
// delete markers. Unfinished multipart uploads are aborted with it.
func (v *Vault) DeleteBucket(ctx context.Context, p Principal, name string) error {
	var garbage []string
	err := v.update(ctx, func(tx meta.Tx) error {
		garbage = garbage[:0]
		b, err := v.bucketFor(ctx, tx, p, name)
		if err != nil {
			return err
		}
		if found, err := hasAny(tx, kVersionsOfBucket(b.ID)); err != nil {
			return err
		} else if found {
			return fail("%w: %s", ErrBucketNotEmpty, name)
		}
		var uploads [][]byte
		pre := kUploadsOfBucket(b.ID)
		err = tx.Scan(pre, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
			uploads = append(uploads, append([]byte(nil), k...))
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, uk := range uploads {
			var u Upload
			if err := b.get(tx, uk, &u); err != nil {
				return err
			}
			g, err := dropUpload(tx, b, u, nil)
			if err != nil {
				return err
			}
			garbage = append(garbage, g...)
		}
		if err := b.idx.Drop(tx); err != nil {
			return err
		}
		return tx.Delete(kBucket(name))
	})
	if err == nil {
		v.collect(ctx, garbage)
	}
	return err
}

// SetVersioning sets a bucket's versioning state to Enabled or Suspended.
func (v *Vault) SetVersioning(ctx context.Context, p Principal, name string, state Versioning) error {
	if state != VersioningEnabled && state != VersioningSuspended {
		return fmt.Errorf("%w: versioning status must be Enabled or Suspended", ErrInvalidArgument)
	}
	return v.updateBucket(ctx, p, name, func(b *Bucket) error {
		b.Versioning = state
		return nil
	})
}

// SetBucketTags replaces a bucket's tag set (nil deletes it).
func (v *Vault) SetBucketTags(ctx context.Context, p Principal, name string, tags map[string]string) error {
	if err := ValidTags(tags, 50); err != nil {
		return err
	}
	return v.updateBucket(ctx, p, name, func(b *Bucket) error {
		b.Tags = tags
		return nil
	})
}

func (v *Vault) updateBucket(ctx context.Context, p Principal, name string, fn func(*Bucket) error) error {
	return v.update(ctx, func(tx meta.Tx) error {
		b, err := v.bucketFor(ctx, tx, p, name)
		if err != nil {
			return err
		}
		if err := fn(&b); err != nil {
			return err
		}
		return tx.Put(kBucket(name), encode(b))
	})
}

// ValidTags applies the S3 tagging limits: at most max tags, keys of 1 to 128
// and values of 0 to 256 Unicode characters, no "aws:" prefix.
func ValidTags(tags map[string]string, max int) error {
	if len(tags) > max {
		return fmt.Errorf("%w: at most %d tags are allowed", ErrInvalidTag, max)
	}
	for k, val := range tags {
		if n := len([]rune(k)); n < 1 || n > 128 {
			return fmt.Errorf("%w: the TagKey you have provided is invalid", ErrInvalidTag)
		}
		if len([]rune(val)) > 256 {
			return fmt.Errorf("%w: the TagValue you have provided is invalid", ErrInvalidTag)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return fmt.Errorf("%w: your TagKey cannot be prefixed with \"aws:\"", ErrInvalidTag)
		}
	}
	return nil
}

// BucketOwner returns the tenant that owns a bucket, for operator tools
// that act outside any tenant's credentials (coffre decrypt).
func (v *Vault) BucketOwner(ctx context.Context, name string) (string, error) {
	var b Bucket
	err := v.view(ctx, func(tx meta.Tx) error {
		err := getRecord(tx, kBucket(name), &b)
		if errors.Is(err, meta.ErrNotFound) {
			return fail("%w: %s", ErrNoSuchBucket, name)
		}
		return err
	})
	return b.Tenant, err
}
