package swift

import (
	"context"
	"fmt"
	"strings"
	"time"

	ncw "github.com/ncw/swift/v2"

	"github.com/coffre-cloud/coffre/backend"
)

// firstMarker starts every listing: each valid name sorts after it (their
// first byte is at least '-'), and the segments of large objects ("+...")
// before it, so that a listing never walks over them.
const firstMarker = ","

// List calls fn for every blob whose name starts with prefix, in bytewise
// order of names, a page of ListPageSize names per request (each retried on
// transient errors). Objects that are not blobs (segments of large objects,
// or names no blob can have) are skipped. Swift lists names in bytewise
// order (its container databases compare them as binary strings); List
// checks it and fails rather than return names out of order.
func (s *Store) List(ctx context.Context, prefix string, fn func(backend.Info) error) error {
	marker := firstMarker
	if prefix > marker {
		marker = "" // the prefix alone starts the listing past the segments
	}
	last := ""
	for {
		var page []ncw.Object
		opts := &ncw.ObjectsOpts{Prefix: prefix, Marker: marker, Limit: s.pageSize}
		err := s.retry.do(ctx, s.conn, func() error {
			var err error
			page, err = s.conn.Objects(ctx, s.container, opts)
			return err
		})
		if err != nil {
			return fmt.Errorf("swift: list %q after %q: %w", prefix, marker, s.opError(ctx, err))
		}
		for _, o := range page {
			if o.Name <= last && last != "" {
				return fmt.Errorf("swift: list %q: %q came after %q: the cluster does not list in bytewise order", prefix, o.Name, last)
			}
			last = o.Name
			if !backend.ValidName(o.Name) || !strings.HasPrefix(o.Name, prefix) {
				continue
			}
			if err := fn(backend.Info{Name: o.Name, Size: o.Bytes, ModTime: listTime(o)}); err != nil {
				return err
			}
		}
		if len(page) < s.pageSize {
			return nil
		}
		marker = page[len(page)-1].Name
	}
}

// listTime parses the listing's last_modified, which has microseconds (the
// library keeps only the seconds): it is the object's X-Timestamp, as Stat
// reports it.
func listTime(o ncw.Object) time.Time {
	t, err := time.Parse("2006-01-02T15:04:05.999999", strings.TrimSuffix(o.ServerLastModified, "Z"))
	if err != nil {
		return o.LastModified
	}
	return t.UTC()
}
