package vault

import (
	"crypto/cipher"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coffre-cloud/coffre/policy"
	"github.com/coffre-cloud/coffre/vault/index"
)

// Tenant is an administration or a company: it owns buckets and access keys.
type Tenant struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// KEKVersion is the tenant key version new blobs use (0: none yet);
	// LastKEK the highest ever made, so that versions are never reused.
	KEKVersion int `json:"kek,omitempty"`
	LastKEK    int `json:"lastkek,omitempty"`
	// Shredded is set once the tenant's keys were destroyed.
	Shredded bool `json:"shredded,omitempty"`
}

// AccessKey is an S3 credential of a tenant. The secret is stored sealed
// under the tenant's KEK (version KEK): shredding the tenant revokes its
// credentials with its data.
//
// A temporary key (made by CreateTemporaryKey for S3 STS) also has a
// session token, an expiry and a role; the seal binds them, so that none
// can be changed in the metadata store without the secret failing to open.
type AccessKey struct {
	ID      string    `json:"id"`
	Secret  string    `json:"-"` // set by LookupKey, CreateAccessKey and CreateTemporaryKey only
	Sealed  []byte    `json:"sealed"`
	KEK     int       `json:"kek"`
	Tenant  string    `json:"tenant"`
	Created time.Time `json:"created"`

	// SessionHash is the SHA-256 of the session token that every request
	// made with a temporary key carries (X-Amz-Security-Token); the token
	// itself is never stored. Expires is when the key stops working, Role
	// what it may do (permanent keys have none: they may do everything),
	// and Subject whom it was issued to (the identity register's reference
	// of the agent, never a national number).
	SessionHash []byte    `json:"session,omitempty"`
	Expires     time.Time `json:"expires,omitzero"`
	Role        Role      `json:"role,omitempty"`
	Subject     string    `json:"subject,omitempty"`
}

// Temporary reports whether k is a temporary key: one with a session token.
func (k AccessKey) Temporary() bool { return len(k.SessionHash) > 0 }

// LogValue keeps the secret out of logs.
func (k AccessKey) String() string { return "AccessKey(" + k.ID + ", tenant " + k.Tenant + ")" }

// Versioning is the versioning state of a bucket: "" (never enabled),
// "Enabled" or "Suspended", as S3 names them.
type Versioning string

// Versioning states.
const (
	VersioningOff       Versioning = ""
	VersioningEnabled   Versioning = "Enabled"
	VersioningSuspended Versioning = "Suspended"
)

// Bucket is a tenant's bucket.
type Bucket struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"` // random, so a recreated bucket never sees old records
	Tenant     string            `json:"tenant"`
	Created    time.Time         `json:"created"`
	Versioning Versioning        `json:"versioning,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	// MK is the bucket key, wrapped by version MKV of the tenant's KEK:
	// object and upload records are sealed under it.
	MK  []byte `json:"mk"`
	MKV int    `json:"mkv"`
	// Sensitivity is the bucket's data sensitivity (the zero value is
	// high), and Offer the offer its new bytes go to ("" for the default
	// offer). Migration is set while its bytes move to Offer.
	Sensitivity policy.Sensitivity `json:"sens"`
	Offer       string             `json:"offer,omitempty"`
	Migration   *Migration         `json:"mig,omitempty"`
	// FixedNull is set on buckets created since the null version of a
	// never-versioned bucket has a fixed sort key (offSortKey, keys.go).
	// Older buckets keep their n/ and l/ records while Versioning is Off.
	FixedNull bool `json:"fn,omitempty"`

	// Set by Vault.bucketFor from the bucket key: the record sealer, the
	// key of name tokens and the name index.
	rec    cipher.AEAD
	tokKey []byte
	idx    *index.Tree
}

// Blob is a piece of an object's stored bytes: a whole single-part object,
// or one part of a multipart object.
type Blob struct {
	Name string `json:"n"`
	Size int64  `json:"s"` // plaintext bytes; the stored blob is crypt.CiphertextSize(Size)
	// DEK is the blob's data key wrapped by version KEK of the tenant's
	// key; Header is the blob's crypt header (not secret), kept here so
	// that a ranged read is one backend request.
	DEK    []byte `json:"dk"`
	KEK    int    `json:"kv"`
	Header []byte `json:"h"`
	// SSEC: the data key inside DEK is sealed with a customer key too.
	SSEC bool `json:"sc,omitempty"`
	// ETag and Checksum of the part, for multipart objects (GET ?partNumber
	// and checksums of parts).
	ETag     string `json:"e,omitempty"`
	Checksum string `json:"c,omitempty"`

	// Inline: the blob is kept in the metadata store, not on an offer: in
	// its own record d/<name>, or, when Here is set, after the record
	// that holds this Blob (see Bucket.seal). Here is set in a bucket
	// that was never versioned, whose version records are written once.
	Inline bool `json:"in,omitempty"`
	Here   bool `json:"hr,omitempty"`

	// offer is where writeBlob put a blob that no record references yet;
	// "" for a blob read from a record (its reference says where it is).
	// data is an inline blob's ciphertext until its commit, and that of
	// a Here blob read from its record.
	offer string
	data  []byte
	// kekAEAD is the KEK that wrapped DEK, for a blob that writeBlob made
	// (see bindKEK).
	kekAEAD cipher.AEAD
}

// Checksum is an S3 additional checksum stored with an object.
type Checksum struct {
	Algorithm string `json:"alg"`            // CRC32, CRC32C, CRC64NVME, SHA1, SHA256
	Value     string `json:"val"`            // base64, with -N for composite
	Type      string `json:"type,omitempty"` // FULL_OBJECT or COMPOSITE
}

// Object is one version of an object, or a delete marker.
type Object struct {
	Key          string    `json:"key"`
	VersionID    string    `json:"vid"` // "null" for the null version
	DeleteMarker bool      `json:"dm,omitempty"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag,omitempty"` // without quotes
	LastModified time.Time `json:"mtime"`
	// Standard headers stored and returned as given.
	ContentType        string            `json:"ct,omitempty"`
	ContentEncoding    string            `json:"ce,omitempty"`
	ContentDisposition string            `json:"cd,omitempty"`
	ContentLanguage    string            `json:"cl,omitempty"`
	CacheControl       string            `json:"cc,omitempty"`
	Expires            string            `json:"exp,omitempty"`
	UserMeta           map[string]string `json:"meta,omitempty"` // x-amz-meta-* without the prefix, lower case
	Tags               map[string]string `json:"tags,omitempty"`
	Checksum           *Checksum         `json:"sum,omitempty"`
	Blobs              []Blob            `json:"blobs,omitempty"`
	Multipart          bool              `json:"mp,omitempty"` // Blobs are the parts
	StorageClass       string            `json:"sc,omitempty"`
	SSEC               *SSEC             `json:"ssec,omitempty"` // customer-provided key

	// Set by GetObject, for Open: where the object lives, and the
	// customer key given with the request (UseCustomerKey).
	tenant, bucketID string
	customerKey      []byte
	offers           []string          // offer of each blob; nil when the site has one
	inline           [][]byte          // ciphertext of each inline blob, else nil
	keks             map[int]kekRecord // the blobs' KEK records, read with the object
}

// KeyID names the tenant key that protects the object's newest blob, as
// S3's x-amz-server-side-encryption-aws-kms-key-id shows it.
func (o *Object) KeyID() string {
	if len(o.Blobs) == 0 {
		return ""
	}
	return fmt.Sprintf("coffre:tenant/%s/kek/%d", o.tenant, o.Blobs[len(o.Blobs)-1].KEK)
}

// PartsCount is the number of parts of a multipart object, 0 otherwise.
// here returns the blob whose ciphertext is kept with the record, or nil.
func (o *Object) here() *Blob {
	for i := range o.Blobs {
		if o.Blobs[i].Inline && o.Blobs[i].Here {
			return &o.Blobs[i]
		}
	}
	return nil
}

func (o *Object) PartsCount() int {
	if !o.Multipart {
		return 0
	}
	return len(o.Blobs)
}

// Upload is a multipart upload in progress.
type Upload struct {
	Key       string    `json:"key"`
	ID        string    `json:"id"`
	Initiated time.Time `json:"init"`
	Tenant    string    `json:"tenant"`
	// Object attributes given at creation, applied at completion.
	Attrs    ObjectAttrs `json:"attrs"`
	Checksum string      `json:"alg,omitempty"`  // algorithm requested at creation
	SumType  string      `json:"type,omitempty"` // COMPOSITE or FULL_OBJECT
	SSEC     *SSEC       `json:"ssec,omitempty"` // every part uses this customer key
}

// Part is an uploaded part of a multipart upload.
type Part struct {
	Number       int       `json:"n"`
	Blob         string    `json:"blob"`
	Size         int64     `json:"size"`
	DEK          []byte    `json:"dk"`
	KEK          int       `json:"kv"`
	Header       []byte    `json:"h"`
	SSEC         bool      `json:"c,omitempty"`
	ETag         string    `json:"etag"`
	Checksum     string    `json:"sum,omitempty"`
	LastModified time.Time `json:"mtime"`
}

// ObjectAttrs are the client-supplied attributes of an object: standard
// headers, user metadata and tags.
type ObjectAttrs struct {
	ContentType        string            `json:"ct,omitempty"`
	ContentEncoding    string            `json:"ce,omitempty"`
	ContentDisposition string            `json:"cd,omitempty"`
	ContentLanguage    string            `json:"cl,omitempty"`
	CacheControl       string            `json:"cc,omitempty"`
	Expires            string            `json:"exp,omitempty"`
	UserMeta           map[string]string `json:"meta,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	StorageClass       string            `json:"sc,omitempty"`
}

func (a ObjectAttrs) applyTo(o *Object) {
	o.ContentType = a.ContentType
	o.ContentEncoding = a.ContentEncoding
	o.ContentDisposition = a.ContentDisposition
	o.ContentLanguage = a.ContentLanguage
	o.CacheControl = a.CacheControl
	o.Expires = a.Expires
	o.UserMeta = a.UserMeta
	o.Tags = a.Tags
	o.StorageClass = a.StorageClass
}

// Attrs returns the client-supplied attributes of o.
func (o *Object) Attrs() ObjectAttrs {
	return ObjectAttrs{
		ContentType:        o.ContentType,
		ContentEncoding:    o.ContentEncoding,
		ContentDisposition: o.ContentDisposition,
		ContentLanguage:    o.ContentLanguage,
		CacheControl:       o.CacheControl,
		Expires:            o.Expires,
		UserMeta:           o.UserMeta,
		Tags:               o.Tags,
		StorageClass:       o.StorageClass,
	}
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Records are plain structs of strings, numbers and maps.
		panic(fmt.Sprintf("vault: encoding %T: %v", v, err))
	}
	return b
}

func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("vault: corrupt %T record: %w", v, err)
	}
	return nil
}
