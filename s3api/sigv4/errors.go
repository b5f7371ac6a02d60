package sigv4

import "errors"

// The sentinel errors below are the kinds of failure Verify and Result.Body
// report. Each is returned wrapped with context (fmt.Errorf("...: %w")), so
// callers test them with errors.Is. The comment of each names the S3 error
// code and HTTP status the s3api error table should answer with; the table
// itself lives in s3api, which is the only place that knows about XML.
//
// Errors that are not in this list (a Lookup failure other than
// ErrInvalidAccessKeyID, a network error while reading the body, an
// http.MaxBytesError) are passed through unchanged; s3api maps them as it maps
// any internal or transport error.
var (
	// ErrAccessDenied is a generic refusal: a signed streaming payload on a
	// request that carries no signature. S3: AccessDenied, 403.
	ErrAccessDenied = errors.New("access denied")

	// ErrHeadersNotSigned reports x-amz-* request headers that are not covered
	// by the signature (x-amz-content-sha256 excepted, as S3 does); a proxy
	// could otherwise add x-amz-acl or x-amz-copy-source to a signed request.
	// S3: AccessDenied "There were headers present in the request which were
	// not signed", with a HeadersNotSigned element, 403.
	ErrHeadersNotSigned = errors.New("there were headers present in the request which were not signed")

	// ErrSignatureDoesNotMatch: the request, a chunk or the trailer signature
	// does not match the one computed with the secret key.
	// S3: SignatureDoesNotMatch, 403.
	ErrSignatureDoesNotMatch = errors.New("the request signature we calculated does not match the signature you provided")

	// ErrInvalidAccessKeyID: the access key id is unknown. Lookup returns it
	// (possibly wrapped). S3: InvalidAccessKeyId, 403.
	ErrInvalidAccessKeyID = errors.New("the access key id you provided does not exist in our records")

	// ErrRequestTimeTooSkewed: the request date is further than MaxSkew from
	// the server clock. S3: RequestTimeTooSkewed, 403.
	ErrRequestTimeTooSkewed = errors.New("the difference between the request time and the current time is too large")

	// ErrAuthorizationHeaderMalformed: the Authorization header cannot be
	// parsed, or its credential scope is wrong (date, region, service,
	// terminator). S3: AuthorizationHeaderMalformed, 400.
	ErrAuthorizationHeaderMalformed = errors.New("the authorization header is malformed")

	// ErrAuthorizationQueryParametersError: the X-Amz-* query parameters of a
	// presigned URL are missing, repeated or malformed.
	// S3: AuthorizationQueryParametersError, 400.
	ErrAuthorizationQueryParametersError = errors.New("error parsing the X-Amz-* query parameters")

	// ErrInvalidPresignExpiry: X-Amz-Expires is not an integer in
	// [1, 604800] (one week). S3: AuthorizationQueryParametersError, 400.
	ErrInvalidPresignExpiry = errors.New("X-Amz-Expires must be between 1 and 604800 seconds")

	// ErrExpiredPresignedRequest: the presigned URL's X-Amz-Date +
	// X-Amz-Expires is in the past. S3: AccessDenied "Request has expired", 403.
	ErrExpiredPresignedRequest = errors.New("request has expired")

	// ErrRequestNotYetValid: a presigned URL dated further in the future than
	// MaxSkew. S3: AccessDenied "Request is not valid yet", 403.
	ErrRequestNotYetValid = errors.New("request is not valid yet")

	// ErrMissingDate: a header-signed request without a valid x-amz-date or
	// Date header. S3: AccessDenied "AWS authentication requires a valid Date
	// or x-amz-date header", 403.
	ErrMissingDate = errors.New("AWS authentication requires a valid Date or x-amz-date header")

	// ErrMissingContentSHA256: a header-signed request without the
	// x-amz-content-sha256 header. S3: InvalidRequest "Missing required header
	// for this request: x-amz-content-sha256", 400.
	ErrMissingContentSHA256 = errors.New("missing required header for this request: x-amz-content-sha256")

	// ErrInvalidContentSHA256: x-amz-content-sha256 is neither a hex SHA-256
	// nor one of the documented UNSIGNED-PAYLOAD / STREAMING-* values.
	// S3: InvalidArgument "x-amz-content-sha256 must be UNSIGNED-PAYLOAD,
	// STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.", 400.
	ErrInvalidContentSHA256 = errors.New("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value")

	// ErrXAmzContentSHA256Mismatch: the body does not hash to the
	// x-amz-content-sha256 the client signed. Reported by Result.Body at the
	// end of the body. S3: XAmzContentSHA256Mismatch, 400.
	ErrXAmzContentSHA256Mismatch = errors.New("the provided 'x-amz-content-sha256' header does not match what was computed")

	// ErrIncompleteBody: the body ended before Content-Length bytes, or an
	// aws-chunked body decoded to a length other than
	// x-amz-decoded-content-length. S3: IncompleteBody, 400.
	ErrIncompleteBody = errors.New("you did not provide the number of bytes specified by the Content-Length HTTP header")

	// ErrMalformedChunk: the aws-chunked framing is broken (bad size line,
	// missing CRLF, bad chunk-signature extension, line too long). AWS
	// answers every malformed aws-chunked body with IncompleteBody, so
	// S3: IncompleteBody "The request body terminated unexpectedly", 400.
	ErrMalformedChunk = errors.New("malformed aws-chunked body")

	// ErrInvalidChunkSize: a chunk other than the last data chunk is smaller
	// than 8 KiB, which AWS refuses for every aws-chunked variant.
	// S3: InvalidChunkSizeError "Only the last chunk is allowed to have a size
	// less than 8192 bytes", 400.
	ErrInvalidChunkSize = errors.New("only the last chunk is allowed to have a size less than 8192 bytes")

	// ErrMalformedTrailer: the trailing headers of an aws-chunked body are
	// not well formed, too many or too long, or do not match the names
	// declared in x-amz-trailer. S3: MalformedTrailerError, 400.
	ErrMalformedTrailer = errors.New("the request contained trailing data that was not well-formed or did not conform to our published schema")

	// ErrInvalidTrailerHeader: x-amz-trailer names a header S3 does not accept
	// as a trailer (only x-amz-checksum-* are). S3: InvalidRequest "The value
	// specified in the x-amz-trailer header is not supported", 400.
	ErrInvalidTrailerHeader = errors.New("the value specified in the x-amz-trailer header is not supported")

	// ErrMissingDecodedContentLength: an aws-chunked body without a valid
	// x-amz-decoded-content-length header. S3: MissingContentLength, 411.
	ErrMissingDecodedContentLength = errors.New("you must provide the x-amz-decoded-content-length HTTP header")

	// ErrUnsupportedSignature: a signature scheme other than
	// AWS4-HMAC-SHA256: Signature Version 2 (header or query), SigV4A
	// (AWS4-ECDSA-P256-SHA256) or an unknown Authorization scheme.
	// S3: InvalidRequest "The authorization mechanism you have provided is not
	// supported. Please use AWS4-HMAC-SHA256.", 400.
	ErrUnsupportedSignature = errors.New("the authorization mechanism you have provided is not supported; please use AWS4-HMAC-SHA256")

	// ErrAmbiguousAuth: both an Authorization header and presigned query
	// parameters. S3: InvalidArgument "Only one auth mechanism allowed", 400.
	ErrAmbiguousAuth = errors.New("only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
)
