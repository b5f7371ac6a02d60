// Package checksum verifies the integrity of uploaded S3 objects: the
// Content-MD5 header and the additional checksums of S3 (CRC32, CRC32C,
// CRC64NVME, SHA1, SHA256), as the S3 user guide describes them in
// "Checking object integrity".
//
// It sits beside package sigv4 in the S3 layer and is pure: FromRequest reads
// what a request asks to verify from its headers, NewReader wraps the payload
// (typically sigv4's Result.Body) and checks it as it streams, taking a
// trailing checksum from the trailer function (sigv4's Result.Trailer) when
// the client sent it after the body. For multipart uploads, Composite and
// FullObject compute the object checksum from the part checksums without
// reading the data again: COMPOSITE is a checksum of the concatenated part
// checksums, FULL_OBJECT the CRC of the whole object, obtained by combining
// the part CRCs as zlib's crc32_combine does.
//
// Checksum values are the base64 of the big-endian digest, as on the wire.
// Errors are sentinels mapped to S3 codes by the s3api error table.
//
// The hashes are the standard library's; only the CRC combination, which the
// standard library lacks, is written here.
package checksum
