package checksum

import "errors"

// Sentinel errors, returned wrapped with context. Each comment names the S3
// error code and HTTP status the s3api error table should answer with.
var (
	// ErrInvalidChecksumAlgorithm: an unknown algorithm name in
	// x-amz-sdk-checksum-algorithm or x-amz-checksum-algorithm.
	// S3: InvalidRequest "Checksum algorithm provided is unsupported. Please
	// try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1,
	// SHA256]", 400.
	ErrInvalidChecksumAlgorithm = errors.New("checksum algorithm provided is unsupported; valid types are CRC32, CRC32C, CRC64NVME, SHA1, SHA256")

	// ErrInvalidDigest: Content-MD5 is not the base64 of 16 bytes.
	// S3: InvalidDigest "The Content-MD5 you specified is not valid.", 400.
	ErrInvalidDigest = errors.New("the Content-MD5 you specified is not valid")

	// ErrInvalidRequest: the checksum headers contradict each other or are
	// malformed: several x-amz-checksum-* values, a value that is not the
	// base64 of a digest of the right size ("Value for x-amz-checksum-crc32
	// header is invalid", as AWS words it), an unsupported x-amz-trailer, a
	// declared trailer missing at the end of the body, an algorithm that does
	// not support the requested checksum type. S3: InvalidRequest, 400.
	ErrInvalidRequest = errors.New("invalid checksum request")

	// ErrBadDigest: the body does not match Content-MD5.
	// S3: BadDigest "The Content-MD5 you specified did not match what we
	// received.", 400.
	ErrBadDigest = errors.New("the Content-MD5 you specified did not match what we received")

	// ErrChecksumMismatch: the body does not match the x-amz-checksum-*
	// value (header or trailer). S3: BadDigest "The CRC32 you specified did
	// not match the calculated checksum." (the algorithm named), 400.
	ErrChecksumMismatch = errors.New("the checksum you specified did not match the calculated checksum")
)
