package vault

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"time"

	"github.com/coffre-cloud/coffre/meta"
	"github.com/coffre-cloud/coffre/policy"
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
	v.bucketOffer.Store(name, [2]string{b.Tenant, v.offerName(b.Offer)})
	if err := v.withRecordKey(ctx, tx, &b); err != nil {
		return b, vaultError{err}
	}
	return b, nil
}

// CreateBucket creates a bucket for p's tenant, on the offer the placement
// rules choose for its sensitivity (or allow, when pl names one).
func (v *Vault) CreateBucket(ctx context.Context, p Principal, name string, pl Placement) (Bucket, error) {
	if err := ValidBucketName(name); err != nil {
		return Bucket{}, err
	}
	offer, err := v.place(p.Tenant, pl)
	if err != nil {
		return Bucket{}, err
	}
	b := Bucket{Name: name, ID: randomID(8), Tenant: p.Tenant, Created: v.now().UTC(), Sensitivity: pl.Sensitivity, Offer: offer, FixedNull: true}
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
		return v.putBucket(tx, b)
	})
	if err == nil {
		v.log.Info("bucket placed", "event", "placement.create", "tenant", b.Tenant, "bucket", name, "sensitivity", b.Sensitivity, "offer", offer)
	}
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
			g, err := v.dropUpload(tx, b, u, nil)
			if err != nil {
				return err
			}
			garbage = append(garbage, g...)
		}
		if err := b.idx.Drop(tx); err != nil {
			return err
		}
		if err := tx.Delete(kMigrating(name)); err != nil {
			return err
		}
		v.bucketGen.Add(1)
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
	return v.updateBucket(ctx, p, name, func(_ meta.Tx, b *Bucket) error {
		b.Versioning = state
		return nil
	})
}

// SetBucketTags replaces a bucket's tag set (nil deletes it). A
// coffre:sensitivity tag changes the bucket's sensitivity in the same
// transaction (see SetSensitivity); lowering it needs the tag
// coffre:allow-lowering=true beside it, which is not kept.
func (v *Vault) SetBucketTags(ctx context.Context, p Principal, name string, tags map[string]string) error {
	if err := ValidTags(tags, 50); err != nil {
		return err
	}
	sens, change := tags[TagSensitivity]
	allowLowering := tags[TagAllowLowering] == "true"
	var to policy.Sensitivity
	if change {
		var err error
		if to, err = policy.ParseSensitivity(sens); err != nil || sens == "" {
			return fmt.Errorf("%w: tag %s must be high, medium or low", ErrInvalidTag, TagSensitivity)
		}
	}
	if _, ok := tags[TagAllowLowering]; ok {
		tags = maps.Clone(tags)
		delete(tags, TagAllowLowering)
	}
	var started *Bucket
	err := v.updateBucket(ctx, p, name, func(tx meta.Tx, b *Bucket) error {
		started = nil
		if change {
			was := b.Migration
			if err := v.changeSensitivity(tx, b, to, allowLowering); err != nil {
				return err
			}
			if was == nil && b.Migration != nil {
				started = b
			}
		}
		b.Tags = tags
		return nil
	})
	if err == nil && started != nil {
		v.migrationStarted(*started)
	}
	return err
}

func (v *Vault) updateBucket(ctx context.Context, p Principal, name string, fn func(meta.Tx, *Bucket) error) error {
	return v.update(ctx, func(tx meta.Tx) error {
		b, err := v.bucketFor(ctx, tx, p, name)
		if err != nil {
			return err
		}
		if err := fn(tx, &b); err != nil {
			return err
		}
		return v.putBucket(tx, b)
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

// putBucket writes a bucket record in an update, and marks the cached
// copies of buckets stale.
func (v *Vault) putBucket(tx meta.Tx, b Bucket) error {
	v.bucketGen.Add(1)
	return tx.Put(kBucket(b.Name), encode(b))
}

// cachedBucket is a bucket as read before the update generation gen.
type cachedBucket struct {
	b   Bucket
	gen int64
	at  time.Time
}

// bucketTTL bounds how long a cached bucket serves; within this process
// every change of a bucket record makes the copies stale at once.
const bucketTTL = 2 * time.Second

// writeBucket returns a bucket p may write to, for the work a write does
// before its commit (which reads the bucket again in its transaction and
// checks that it is the same): from the cache, which saves a metadata
// transaction per PUT.
func (v *Vault) writeBucket(ctx context.Context, p Principal, name string) (Bucket, error) {
	if b, ok := v.cachedBucket(p, name); ok {
		return b, nil
	}
	var b Bucket
	err := v.view(ctx, func(tx meta.Tx) (err error) {
		b, err = v.readBucket(ctx, tx, p, name)
		return err
	})
	return b, err
}

// readBucket is bucketFor through the cache. In a View it must be the
// first read of tx, so that tx sees at least what the cache generation it
// records says; in an Update it is exact, as every change of a bucket
// commits on the same single writer and makes the cache stale in its own
// transaction.
func (v *Vault) readBucket(ctx context.Context, tx meta.Tx, p Principal, name string) (Bucket, error) {
	if b, ok := v.cachedBucket(p, name); ok {
		return b, nil
	}
	gen := v.bucketGen.Load()
	b, err := v.bucketFor(ctx, tx, p, name)
	if err == nil {
		v.buckets.Store(name, cachedBucket{b: b, gen: gen, at: time.Now()})
	}
	return b, err
}

// cachedBucket returns a cached bucket that is still current.
func (v *Vault) cachedBucket(p Principal, name string) (Bucket, bool) {
	e, ok := v.buckets.Load(name)
	if !ok {
		return Bucket{}, false
	}
	c := e.(cachedBucket)
	if c.gen != v.bucketGen.Load() || c.b.Tenant != p.Tenant || time.Since(c.at) >= bucketTTL {
		return Bucket{}, false
	}
	v.bucketOffer.Store(name, [2]string{c.b.Tenant, v.offerName(c.b.Offer)})
	return c.b, true
}
