package vault

import (
	"context"
	"strings"

	"github.com/coffre-cloud/coffre/meta"
)

// walk visits the keys of an ordered source (a bucket's name index) from
// start (inclusive), keeping the keys that start with prefix and rolling
// keys up to common prefixes at the first delimiter after the prefix. A
// common prefix not greater than marker was given on an earlier page and is
// skipped. Keys whose value keep refuses are ignored, also for common
// prefixes (keep nil keeps all). emitKey and emitPrefix return false to stop.
//
// Each common prefix costs one new descent of the index: the scan restarts
// right after every key that shares it, so a listing with a delimiter never
// reads the keys it rolls up.
func walk(scan func(from string, fn func(key string, val []byte) (bool, error)) error,
	prefix, delim, start, marker string,
	keep func(val []byte) bool,
	emitKey func(key string, val []byte) (bool, error),
	emitPrefix func(cp string) (bool, error),
) error {
	if start < prefix {
		start = prefix
	}
	for {
		var skipTo string
		stop := false
		err := scan(start, func(key string, val []byte) (bool, error) {
			if !strings.HasPrefix(key, prefix) {
				stop = true // sorted: nothing further has the prefix
				return false, nil
			}
			if keep != nil && !keep(val) {
				return true, nil // neither listed nor rolled up
			}
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
					end := meta.PrefixEnd([]byte(cp))
					if end == nil {
						stop = true
					}
					skipTo = string(end)
					return false, nil
				}
			}
			more, err := emitKey(key, val)
			if !more {
				stop = true
			}
			return more, err
		})
		if err != nil || stop || skipTo == "" {
			return err
		}
		start = skipTo
	}
}

// after returns the first key strictly after k (keys hold no NUL).
func after(k string) string { return k + "\x00" }

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
		start := ""
		if in.After != "" {
			start = after(in.After)
		}
		n := 0
		full := func() bool {
			if n == in.MaxKeys {
				out.IsTruncated = true
				return true
			}
			return false
		}
		scan := func(from string, fn func(string, []byte) (bool, error)) error { return b.idx.Scan(tx, from, fn) }
		// Keys with only older versions or delete markers are not listed.
		return walk(scan, in.Prefix, in.Delimiter, start, in.After, indexLive,
			func(key string, val []byte) (bool, error) {
				if full() {
					return false, nil
				}
				o, ok := listed(key, val)
				if !ok {
					var err error
					if o, err = latestObject(tx, b, key); o == nil || err != nil {
						return err == nil, err
					}
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
		start := ""
		var resume []byte // the sort key to continue after, within KeyMarker
		switch {
		case in.KeyMarker == "":
		case in.VersionIDMarker == "":
			start = after(in.KeyMarker)
		default:
			o, sk, err := findVersion(tx, b, in.KeyMarker, in.VersionIDMarker)
			if err != nil {
				return err
			}
			if o == nil {
				return fail("%w: version-id-marker %s does not exist", ErrInvalidArgument, in.VersionIDMarker)
			}
			start, resume = in.KeyMarker, sk
		}
		n := 0
		full := func() bool {
			if n == in.MaxKeys {
				out.IsTruncated = true
				return true
			}
			return false
		}
		scan := func(from string, fn func(string, []byte) (bool, error)) error { return b.idx.Scan(tx, from, fn) }
		return walk(scan, in.Prefix, in.Delimiter, start, in.KeyMarker, nil,
			func(key string, _ []byte) (bool, error) {
				pre := kVersionsOf(b.ID, b.tok(key))
				from, latest := pre, true
				if resume != nil && key == in.KeyMarker {
					from, latest = append(append([]byte(nil), pre...), append(resume, 0)...), false
				}
				more := true
				err := tx.Scan(from, meta.PrefixEnd(pre), func(k, val []byte) (bool, error) {
					if full() {
						more = false
						return false, nil
					}
					o := new(Object)
					if err := b.open(k, val, o); err != nil {
						return false, err
					}
					out.Versions = append(out.Versions, VersionEntry{Object: o, IsLatest: latest})
					latest = false
					out.NextKeyMarker, out.NextVersionIDMarker = key, o.VersionID
					n++
					return true, nil
				})
				return more, err
			},
			func(cp string) (bool, error) {
				if full() {
					return false, nil
				}
				out.CommonPrefixes = append(out.CommonPrefixes, cp)
				out.NextKeyMarker, out.NextVersionIDMarker = cp, ""
				n++
				return true, nil
			})
	})
	return out, err
}
