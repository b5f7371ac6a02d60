package vault

import "errors"

// Sentinel errors. Methods wrap them with context; callers test with
// errors.Is. s3api maps each to one S3 error code.
var (
	ErrAccessDenied        = errors.New("access denied")
	ErrInvalidAccessKeyID  = errors.New("the access key id does not exist")
	ErrNoSuchBucket        = errors.New("the specified bucket does not exist")
	ErrBucketAlreadyExists = errors.New("the requested bucket name is not available")
	ErrBucketAlreadyOwned  = errors.New("the bucket already exists and is owned by you")
	ErrBucketNotEmpty      = errors.New("the bucket you tried to delete is not empty")
	ErrInvalidBucketName   = errors.New("the specified bucket is not valid")
	ErrNoSuchKey           = errors.New("the specified key does not exist")
	ErrNoSuchVersion       = errors.New("the specified version does not exist")
	ErrMethodNotAllowed    = errors.New("the specified method is not allowed against this resource")
	ErrKeyTooLong          = errors.New("your key is too long")
	ErrInvalidArgument     = errors.New("invalid argument")
	ErrNoSuchUpload        = errors.New("the specified multipart upload does not exist")
	ErrInvalidPart         = errors.New("one or more of the specified parts could not be found")
	ErrInvalidPartOrder    = errors.New("the list of parts was not in ascending order")
	ErrEntityTooSmall      = errors.New("your proposed upload is smaller than the minimum allowed object size")
	ErrEntityTooLarge      = errors.New("your proposed upload exceeds the maximum allowed object size")
	ErrInvalidTag          = errors.New("the tag provided was not a valid tag")
	ErrNoSuchTagSet        = errors.New("the tag set does not exist")
	ErrTenantExists        = errors.New("tenant already exists")
	ErrNoSuchTenant        = errors.New("no such tenant")
	ErrBadDigest           = errors.New("the content digest did not match what was received")
	ErrIncompleteBody      = errors.New("you did not provide the number of bytes specified by the Content-Length HTTP header")
	ErrBackendUnavailable  = errors.New("the storage backend is unavailable")
	ErrMetadataUnavailable = errors.New("the metadata store is unavailable")
	// ErrPlacementRefused: the placement rules refuse where a bucket
	// would go; the error says which rule and which offer.
	ErrPlacementRefused = errors.New("placement refused")
	// ErrInvalidLocation: the location asked for names no sensitivity
	// and no offer of this site.
	ErrInvalidLocation = errors.New("the specified location-constraint is not valid")
	ErrQuotaExceeded   = errors.New("quota exceeded")
	// ErrMigrating: the bucket's data is moving to another offer; its
	// placement cannot change until that ends.
	ErrMigrating = errors.New("the bucket is migrating to another offer")
)
