package vault

import (
	"bytes"
	"context"
	"strings"

	"github.com/coffre-cloud/coffre/meta"
)

// walk visits the records under base in key order, starting strictly after
// the raw position after (nil: from the start), keeping the keys that start
// with prefix and rolling keys up to common prefixes at the first delimiter
// after the prefix. A common prefix not greater than marker was given on an
// earlier page and is skipped. keyOf extracts the object key from a raw key
// suffix (after base). emitKey and emitPrefix return false to stop.
//
// Each common prefix costs one seek: the scan restarts right after every key
// that shares it, so a listing with a delimiter never reads the keys it rolls
// up.
func walk(tx meta.Tx, base []byte, prefix, delim string, after []byte, marker string,
	keyOf func(suffix []byte) string,
	emitKey func(key string, suffix, val []byte) (bool, error),
	emitPrefix func(cp string) (bool, error),
) error {
	start := append(append([]byte(nil), base...), prefix...)
	end := meta.PrefixEnd(start)
	if after != nil && bytes.Compare(after, start) >= 0 {
		start = append(append([]byte(nil), after...), 0)
	}
	for {
		var skipTo []byte
		stop := false
		err := tx.Scan(start, end, func(k, val []byte) (bool, error) {
			suffix := k[len(base):]
			key := keyOf(suffix)
			if delim != "" {
				if i := strings.Index(key[len(prefix):], delim); i >= 0 {
					cp := key[:len(prefix)+i+len(delim)]
					if marker == "" || cp > marker {
						more, err := emitPrefix(cp)
						if err != nil || !more {
							stop = true
							return false, err
						}
					}
					skipTo = meta.PrefixEnd(append(append([]byte(nil), base...), cp...))
					return false, nil
				}
			}
			more, err := emitKey(key, suffix, val)
			if !more {
				stop = true
			}
			return more, err
		})
		if err != nil || stop || skipTo == nil {
			return err
		}
		if end != nil && bytes.Compare(skipTo, end) >= 0 {
			return nil
		}
		start = skipTo
	}
}

// ListInput selects a page of a listing.
type ListInput struct {
	Prefix    string
	Delimiter string
	// After is the key (or common prefix) after which the page starts.
	After   string
	MaxKeys int
}

// ListOutput is a page of objects and common prefixes.
type ListOutput struct {
	Objects        []*Object
	CommonPrefixes []string
	IsTruncated    bool
	// Next is the last key or common prefix of the page: the After of
	// the next page when IsTruncated.
	Next string
}

// ListObjects lists the live latest versions of a bucket's objects in key
// order.
func (v *Vault) ListObjects(ctx context.Context, p Principal, bucket string, in ListInput) (*ListOutput, error) {
	var out *ListOutput
	err := v.view(ctx, func(tx meta.Tx) error {
		out = &ListOutput{}
		b, err := v.bucketFor(ctx, tx, p, bucket)
		if err != nil {
			return err
		}
		if in.MaxKeys <= 0 {
			return nil
		}
		base := kLatestPrefix(b.ID)
		var after []byte
		if in.After != "" {
			after = append(append([]byte(nil), base...), in.After...)
		}
		n := 0
		full := func() bool {
			if n == in.MaxKeys {
				out.IsTruncated = true
				return true
			}
			return false
		}
		return walk(tx, base, in.Prefix, in.Delimiter, after, in.After,
			func(s []byte) string { return string(s) },
			func(key string, suffix, val []byte) (bool, error) {
				if full() {
					return false, nil
				}
				o := new(Object)
				if err := b.open(append(append([]byte(nil), base...), suffix...), val, o); err != nil {
					return false, err
				}
				out.Objects = append(out.Objects, o)
				out.Next = key
				n++
				return true, nil
			},
			func(cp string) (bool, error) {
				if full() {
					return false, nil
				}
				out.CommonPrefixes = append(out.CommonPrefixes, cp)
				out.Next = cp
				n++
				return true, nil
			})
	})
	return out, err
}

// VersionsInput selects a page of a version listing.
type VersionsInput struct {
	Prefix          string
	Delimiter       string
	KeyMarker       string
	VersionIDMarker string
	MaxKeys         int
}

// VersionEntry is a version or delete marker in a listing.
type VersionEntry struct {
	*Object
	IsLatest bool
}

// VersionsOutput is a page of versions.
type VersionsOutput struct {
	Versions            []VersionEntry
	CommonPrefixes      []string
	IsTruncated         bool
	NextKeyMarker       string
	NextVersionIDMarker string
}

// ListVersions lists every version and delete marker of a bucket, by key,
// newest first within a key.
func (v *Vault) ListVersions(ctx context.Context, p Principal, bucket string, in VersionsInput) (*VersionsOutput, error) {
	var out *VersionsOutput
	err := v.view(ctx, func(tx meta.Tx) error {
		out = &VersionsOutput{}
		b, err := v.bucketFor(ctx, tx, p, bucket)
		if err != nil {
			return err
		}
		if in.MaxKeys <= 0 {
			return nil
		}
		base := kVersionsOfBucket(b.ID)
		var after []byte
		switch {
		case in.KeyMarker == "":
		case in.VersionIDMarker == "":
			// Past every version of the key marker.
			after = kVersion(b.ID, in.KeyMarker, bytes.Repeat([]byte{0xff}, sortKeyLen))
		default:
			o, sk, err := findVersion(tx, b, in.KeyMarker, in.VersionIDMarker)
			if err != nil {
				return err
			}
			if o == nil {
				return fail("%w: version-id-marker %s does not exist", ErrInvalidArgument, in.VersionIDMarker)
			}
			after = kVersion(b.ID, in.KeyMarker, sk)
		}
		n := 0
		lastKey := ""
		if after != nil {
			lastKey = in.KeyMarker // a key continued from the previous page is not latest
		}
		full := func() bool {
			if n == in.MaxKeys {
				out.IsTruncated = true
				return true
			}
			return false
		}
		return walk(tx, base, in.Prefix, in.Delimiter, after, in.KeyMarker,
			func(s []byte) string { return string(s[:len(s)-1-sortKeyLen]) },
			func(key string, suffix, val []byte) (bool, error) {
				if full() {
					return false, nil
				}
				o := new(Object)
				if err := b.open(append(append([]byte(nil), base...), suffix...), val, o); err != nil {
					return false, err
				}
				out.Versions = append(out.Versions, VersionEntry{Object: o, IsLatest: key != lastKey})
				lastKey = key
				out.NextKeyMarker, out.NextVersionIDMarker = key, o.VersionID
				n++
				return true, nil
			},
			func(cp string) (bool, error) {
				if full() {
					return false, nil
				}
				out.CommonPrefixes = append(out.CommonPrefixes, cp)
				out.NextKeyMarker, out.NextVersionIDMarker = cp, ""
				lastKey = ""
				n++
				return true, nil
			})
	})
	return out, err
}
