package vault

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// Layout of the metadata store. Every record kind has its own prefix; bucket
// ids (16 hex digits) scope everything that belongs to a bucket, so deleting
// and recreating a bucket never sees stale records.
//
//	t/<tenant>                         Tenant
//	k/<access key id>                  AccessKey
//	b/<bucket name>                    Bucket
//	l/<bid>/<key>                      Object: the latest version, when it is not a delete marker (*)
//	v/<bid>/<key> 0x00 <sort key>      Object: every version, newest first
//	n/<bid>/<key>                      sort key of the null version (*)
//	u/<bid>/<key> 0x00 <upload id>     Upload
//	p/<upload id>/<part number u32be>  Part
//	r/<blob>                           the blob is referenced (by a version or an upload); value: its offer
//	o/<offer>/<bid>/<blob>             the bucket's blob is on the offer; value: its size (offers.go)
//	d/<blob>                           an inline blob: its ciphertext, kept with the metadata
//	g/<blob> 0x00 <offer>              the blob is garbage on the offer: delete it, then this record
//	q/<tenant> 0x00 <offer>            what the tenant stores on the offer (offers.go)
//	m/<month>/<tenant> 0x00 <offer>    the tenant's usage of the offer in a month (usage.go)
//	w/<bucket name>                    the bucket is migrating to another offer (migrate.go)
//	x/<bid>/<node id>                  a node of the bucket's name index (sealed)
//	K/<tenant>/<version>               a tenant KEK wrapped by the root key
//
// <key> is never the object's name: it is the name's token (Bucket.tok), a
// keyed hash, and every record that holds a name is sealed (sealed.go). The
// name index keeps the names in order for listings.
//
// (*) Not in a bucket whose versioning was never enabled (Versioning Off,
// Bucket.FixedNull): there a key has one version, the null one, at the
// fixed sort key offSortKey, so that a PUT writes one record and a GET reads
// one. Once versioning is enabled, these versions have neither l/ nor n/
// records until the key gets a new version; readers fall back to v/.
//
// Object keys may not contain 0x00, so that "key 0x00" orders every version
// of a key before any longer key that extends it.
const (
	pTenant  = "t/"
	pAccess  = "k/"
	pBucket  = "b/"
	pLatest  = "l/"
	pVersion = "v/"
	pNull    = "n/"
	pUpload  = "u/"
	pPart    = "p/"
	pRef     = "r/"
	pGarbage = "g/"
	pIndex   = "x/"
)

func kIndexOf(bid string) []byte { return []byte(pIndex + bid + "/") }

func kTenant(name string) []byte { return []byte(pTenant + name) }
func kAccess(id string) []byte   { return []byte(pAccess + id) }
func kBucket(name string) []byte { return []byte(pBucket + name) }

func kLatestPrefix(bid string) []byte { return []byte(pLatest + bid + "/") }
func kLatest(bid, key string) []byte  { return []byte(pLatest + bid + "/" + key) }
func kNull(bid, key string) []byte    { return []byte(pNull + bid + "/" + key) }

func kVersionsOfBucket(bid string) []byte { return []byte(pVersion + bid + "/") }
func kVersionsOf(bid, key string) []byte  { return []byte(pVersion + bid + "/" + key + "\x00") }
func kVersion(bid, key string, sk []byte) []byte {
	return append(kVersionsOf(bid, key), sk...)
}

func kUploadsOfBucket(bid string) []byte { return []byte(pUpload + bid + "/") }
func kUpload(bid, key, id string) []byte { return []byte(pUpload + bid + "/" + key + "\x00" + id) }

func kPartsOf(uploadID string) []byte { return []byte(pPart + uploadID + "/") }
func kPart(uploadID string, n int) []byte {
	return binary.BigEndian.AppendUint32(kPartsOf(uploadID), uint32(n))
}

func kRef(blob string) []byte { return []byte(pRef + blob) }

// A sort key orders the versions of one key newest first: 8 bytes of
// inverted nanoseconds, then 8 random bytes so that two versions made in the
// same nanosecond (or by two gateway nodes) never collide. Version ids are
// the hex of the sort key; the null version's id is "null" and its sort key
// is found through n/, or is offSortKey.
const sortKeyLen = 16

// offSortKey is the sort key of the null version that a PUT makes in a
// bucket whose versioning was never enabled (Bucket.FixedNull). It sorts
// after every time-based sort key: once versioning is enabled, every later
// version is newer, and the versions stay newest first. It is shared: never
// modify it (its capacity is its length, so an append copies it).
var offSortKey = bytes.Repeat([]byte{0xff}, sortKeyLen)

func newSortKey(t time.Time) []byte {
	sk := make([]byte, sortKeyLen)
	binary.BigEndian.PutUint64(sk, ^uint64(t.UnixNano()))
	rand.Read(sk[8:])
	return sk
}

func versionIDOf(sk []byte) string { return hex.EncodeToString(sk) }

func sortKeyOf(versionID string) ([]byte, bool) {
	if len(versionID) != 2*sortKeyLen {
		return nil, false
	}
	sk, err := hex.DecodeString(versionID)
	return sk, err == nil
}

// randomID returns n random bytes in hex.
func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newBlobName names a fresh blob. The name says nothing of the tenant,
// bucket or key; the two-character fan-out keeps directories small on
// file-system backends.
func newBlobName() string {
	id := randomID(16)
	return "obj/" + id[:2] + "/" + id
}
