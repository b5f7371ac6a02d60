package vault

import (
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/vault/index"
)

func TestListingValue(t *testing.T) {
	mtime := time.Date(2026, 11, 26, 5, 10, 0, 123456000, time.UTC)
	for _, o := range []*Object{
		{Size: 0, LastModified: mtime, ETag: "d41d8cd98f00b204e9800998ecf8427e"},
		{Size: 5 << 40, LastModified: mtime, ETag: "0123456789abcdef0123456789abcdef-10000", Multipart: true,
			StorageClass: "STANDARD_IA", Checksum: &Checksum{Algorithm: "CRC64NVME", Type: "FULL_OBJECT", Value: "not listed"}},
		{Size: 42, LastModified: time.UnixMicro(-1).UTC(), ETag: "ffffffffffffffffffffffffffffffff", StorageClass: "GLACIER_IR"},
	} {
		v := listingValue(o)
		if v == nil || !indexLive(v) || len(v) > index.MaxValueLen {
			t.Fatalf("listingValue(%+v) = %x", o, v)
		}
		got, ok := listed("k", v)
		if !ok {
			t.Fatalf("listed(%x) failed", v)
		}
		if got.Key != "k" || got.Size != o.Size || !got.LastModified.Equal(o.LastModified) || got.ETag != o.ETag ||
			got.StorageClass != o.StorageClass || got.Multipart != o.Multipart {
			t.Errorf("round trip of %+v gave %+v", o, got)
		}
		if (o.Checksum == nil) != (got.Checksum == nil) || o.Checksum != nil &&
			(got.Checksum.Algorithm != o.Checksum.Algorithm || got.Checksum.Type != o.Checksum.Type) {
			t.Errorf("checksum of %+v gave %+v", o.Checksum, got.Checksum)
		}
		for i := range v {
			if _, ok := listed("k", v[:i]); ok {
				t.Errorf("listed accepts %x, a prefix of a value", v[:i])
			}
		}
	}
	// What does not fit falls back to reading the record.
	for _, o := range []*Object{
		{ETag: "not-an-md5"},
		{ETag: "0123456789abcdef0123456789abcdef-x"},
		{ETag: "0123456789abcdef0123456789abcdef", StorageClass: strings.Repeat("S", 200)},
	} {
		if v := listingValue(o); v != nil {
			t.Errorf("listingValue(%+v) = %x, want nil", o, v)
		}
	}
	for _, v := range [][]byte{idxLive, idxDead, nil} {
		if _, ok := listed("k", v); ok {
			t.Errorf("listed(%x) succeeded", v)
		}
	}
}
