// Package sigv4 authenticates S3 requests signed with AWS Signature Version 4,
// on the server side.
//
// It sits at the edge of s3api: the HTTP layer hands it each incoming
// *http.Request and gets back who signed it (or that nobody did) and a Body to
// read in place of r.Body. Everything a client can sign is covered: the
// Authorization header, presigned URLs (X-Amz-* query parameters), a hex
// SHA-256 payload hash, UNSIGNED-PAYLOAD, and the three aws-chunked streaming
// payloads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, its -TRAILER variant and
// STREAMING-UNSIGNED-PAYLOAD-TRAILER), whose chunk and trailer signatures are
// checked while the body streams through, in bounded memory.
//
// The package knows nothing of users, policies or storage: secrets come from
// a Lookup function, errors are sentinels (see errors.go) that s3api maps to
// S3 error codes in its single table, and checksum trailers are handed on
// (Result.Trailer) for package checksum to verify. Session tokens are reported
// (Result.SessionToken), not validated: that belongs to whoever issued them.
//
// The canonical request follows the S3 flavour of SigV4: the path is used as
// the client sent it, neither normalised nor encoded twice; the query string
// is decoded and re-encoded per RFC 3986 and sorted after encoding; header
// values are trimmed and inner runs of spaces collapsed. If the raw path does
// not verify, the path re-encoded the way the AWS SDKs encode keys is tried
// once before the request is refused, which accepts clients whose HTTP stack
// re-escaped a path they had signed in canonical form (both spellings name the
// same key).
//
// Verify is on the path of every request, so the common case (a GET signed in
// the Authorization header) allocates little: derived signing keys and their
// HMAC states are cached per (secret, date, region) in a bounded cache, and the
// canonical request is built in pooled buffers.
package sigv4
