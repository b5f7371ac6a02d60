package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"

	"github.com/coffre-cloud/coffre/s3api/checksum"
	"github.com/coffre-cloud/coffre/s3api/sigv4"
	"github.com/coffre-cloud/coffre/vault"
)

// APIError is an S3 error: a code, an HTTP status and a message.
type APIError struct {
	Code    string
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Errors raised by the HTTP layer itself.
var (
	errMalformedXML          = &APIError{"MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."}
	errNotImplemented        = &APIError{"NotImplemented", http.StatusNotImplemented, "A header or query you provided implies functionality that is not implemented."}
	errMethodNotAllowed      = &APIError{"MethodNotAllowed", http.StatusMethodNotAllowed, "The specified method is not allowed against this resource."}
	errMissingContentLength  = &APIError{"MissingContentLength", http.StatusLengthRequired, "You must provide the Content-Length HTTP header."}
	errInvalidRange          = &APIError{"InvalidRange", http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable"}
	errPreconditionFailed    = &APIError{"PreconditionFailed", http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold"}
	errMetadataTooLarge      = &APIError{"MetadataTooLarge", http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size."}
	errInvalidStorageClass   = &APIError{"InvalidStorageClass", http.StatusBadRequest, "The storage class you specified is not valid"}
	errIllegalVersioning     = &APIError{"IllegalVersioningConfigurationException", http.StatusBadRequest, "The versioning configuration specified in the request is invalid."}
	errInvalidCopyDest       = &APIError{"InvalidRequest", http.StatusBadRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."}
	errTooManyKeys           = &APIError{"MalformedXML", http.StatusBadRequest, "The request must contain no more than 1000 keys."}
	errEntityTooLarge        = &APIError{"EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size."}
	errMaxMessageLength      = &APIError{"MaxMessageLengthExceeded", http.StatusBadRequest, "Your request was too big."}
	errInvalidPartNumber     = &APIError{"InvalidPartNumber", http.StatusRequestedRangeNotSatisfiable, "The requested partnumber is not satisfiable"}
	errInternal              = &APIError{"InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again."}
	errRequestTimeout        = &APIError{"RequestTimeout", http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period."}
	errIncompleteBody        = &APIError{"IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header."}
	errNoSuchKey             = &APIError{"NoSuchKey", http.StatusNotFound, "The specified key does not exist."}
	errInvalidEncodingMethod = &APIError{"InvalidArgument", http.StatusBadRequest, "Invalid Encoding Method specified in Request"}
)

// errorTable maps sentinel errors (of the vault, sigv4 and checksum
// packages) to S3 codes. It is the only place where that mapping lives.
var errorTable = []struct {
	err    error
	code   string
	status int
}{
	{vault.ErrAccessDenied, "AccessDenied", http.StatusForbidden},
	{vault.ErrInvalidAccessKeyID, "InvalidAccessKeyId", http.StatusForbidden},
	{vault.ErrNoSuchBucket, "NoSuchBucket", http.StatusNotFound},
	{vault.ErrBucketAlreadyExists, "BucketAlreadyExists", http.StatusConflict},
	{vault.ErrBucketAlreadyOwned, "BucketAlreadyOwnedByYou", http.StatusConflict},
	{vault.ErrBucketNotEmpty, "BucketNotEmpty", http.StatusConflict},
	{vault.ErrInvalidBucketName, "InvalidBucketName", http.StatusBadRequest},
	{vault.ErrNoSuchKey, "NoSuchKey", http.StatusNotFound},
	{vault.ErrNoSuchVersion, "NoSuchVersion", http.StatusNotFound},
	{vault.ErrMethodNotAllowed, "MethodNotAllowed", http.StatusMethodNotAllowed},
	{vault.ErrKeyTooLong, "KeyTooLongError", http.StatusBadRequest},
	{vault.ErrInvalidArgument, "InvalidArgument", http.StatusBadRequest},
	{vault.ErrNoSuchUpload, "NoSuchUpload", http.StatusNotFound},
	{vault.ErrInvalidPart, "InvalidPart", http.StatusBadRequest},
	{vault.ErrInvalidPartOrder, "InvalidPartOrder", http.StatusBadRequest},
	{vault.ErrEntityTooSmall, "EntityTooSmall", http.StatusBadRequest},
	{vault.ErrEntityTooLarge, "EntityTooLarge", http.StatusBadRequest},
	{vault.ErrInvalidTag, "InvalidTag", http.StatusBadRequest},
	{vault.ErrNoSuchTagSet, "NoSuchTagSet", http.StatusNotFound},
	{vault.ErrBadDigest, "BadDigest", http.StatusBadRequest},
	{vault.ErrIncompleteBody, "IncompleteBody", http.StatusBadRequest},
	{vault.ErrBackendUnavailable, "ServiceUnavailable", http.StatusServiceUnavailable},
	{vault.ErrMetadataUnavailable, "ServiceUnavailable", http.StatusServiceUnavailable},
	{vault.ErrNoSuchTenant, "AccessDenied", http.StatusForbidden},
	{vault.ErrPlacementRefused, "PlacementRefused", http.StatusForbidden},
	{vault.ErrInvalidLocation, "InvalidLocationConstraint", http.StatusBadRequest},
	{vault.ErrQuotaExceeded, "QuotaExceeded", http.StatusForbidden},
	{vault.ErrMigrating, "OperationAborted", http.StatusConflict},
	{vault.ErrKeyUnavailable, "ServiceUnavailable", http.StatusServiceUnavailable},
	{vault.ErrKeyDestroyed, "KMS.KMSInvalidStateException", http.StatusBadRequest},
	{vault.ErrIntegrity, "InternalError", http.StatusInternalServerError},
	{vault.ErrCustomerKeyRequired, "InvalidRequest", http.StatusBadRequest},
	{vault.ErrCustomerKeyMismatch, "AccessDenied", http.StatusForbidden},
	{vault.ErrCustomerKeyNotApplicable, "InvalidRequest", http.StatusBadRequest},
	{vault.ErrExpiredToken, "ExpiredToken", http.StatusBadRequest},
	{vault.ErrInvalidToken, "InvalidToken", http.StatusBadRequest},

	{checksum.ErrInvalidChecksumAlgorithm, "InvalidRequest", http.StatusBadRequest},
	{checksum.ErrInvalidDigest, "InvalidDigest", http.StatusBadRequest},
	{checksum.ErrInvalidRequest, "InvalidRequest", http.StatusBadRequest},
	{checksum.ErrBadDigest, "BadDigest", http.StatusBadRequest},
	{checksum.ErrChecksumMismatch, "BadDigest", http.StatusBadRequest},

	{sigv4.ErrAccessDenied, "AccessDenied", http.StatusForbidden},
	{sigv4.ErrHeadersNotSigned, "AccessDenied", http.StatusForbidden},
	{sigv4.ErrSignatureDoesNotMatch, "SignatureDoesNotMatch", http.StatusForbidden},
	{sigv4.ErrInvalidAccessKeyID, "InvalidAccessKeyId", http.StatusForbidden},
	{sigv4.ErrRequestTimeTooSkewed, "RequestTimeTooSkewed", http.StatusForbidden},
	{sigv4.ErrAuthorizationHeaderMalformed, "AuthorizationHeaderMalformed", http.StatusBadRequest},
	{sigv4.ErrAuthorizationQueryParametersError, "AuthorizationQueryParametersError", http.StatusBadRequest},
	{sigv4.ErrInvalidPresignExpiry, "AuthorizationQueryParametersError", http.StatusBadRequest},
	{sigv4.ErrExpiredPresignedRequest, "AccessDenied", http.StatusForbidden},
	{sigv4.ErrRequestNotYetValid, "AccessDenied", http.StatusForbidden},
	{sigv4.ErrMissingDate, "AccessDenied", http.StatusForbidden},
	{sigv4.ErrMissingContentSHA256, "InvalidRequest", http.StatusBadRequest},
	{sigv4.ErrInvalidContentSHA256, "InvalidArgument", http.StatusBadRequest},
	{sigv4.ErrXAmzContentSHA256Mismatch, "XAmzContentSHA256Mismatch", http.StatusBadRequest},
	{sigv4.ErrIncompleteBody, "IncompleteBody", http.StatusBadRequest},
	{sigv4.ErrMalformedChunk, "IncompleteBody", http.StatusBadRequest},
	{sigv4.ErrInvalidChunkSize, "InvalidChunkSizeError", http.StatusBadRequest},
	{sigv4.ErrMalformedTrailer, "MalformedTrailerError", http.StatusBadRequest},
	{sigv4.ErrInvalidTrailerHeader, "InvalidRequest", http.StatusBadRequest},
	{sigv4.ErrMissingDecodedContentLength, "MissingContentLength", http.StatusLengthRequired},
	{sigv4.ErrUnsupportedSignature, "InvalidRequest", http.StatusBadRequest},
	{sigv4.ErrAmbiguousAuth, "InvalidArgument", http.StatusBadRequest},
}

// toAPIError finds the S3 error for err. Unknown errors are internal errors:
// they are logged with their detail, and the client sees none of it.
func toAPIError(err error) (*APIError, bool) {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae, true
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return &APIError{Code: e.code, Status: e.status, Message: err.Error()}, true
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errIncompleteBody, true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errRequestTimeout, true
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errMaxMessageLength, true
	}
	return errInternal, false
}

type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Key       string   `xml:"Key,omitempty"`
	BucketN   string   `xml:"BucketName,omitempty"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
}
