package sigv4

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// sentinels names every sentinel by the S3-style name the vectors use.
var sentinels = map[string]error{
	"AccessDenied":                      ErrAccessDenied,
	"HeadersNotSigned":                  ErrHeadersNotSigned,
	"SignatureDoesNotMatch":             ErrSignatureDoesNotMatch,
	"InvalidAccessKeyId":                ErrInvalidAccessKeyID,
	"RequestTimeTooSkewed":              ErrRequestTimeTooSkewed,
	"AuthorizationHeaderMalformed":      ErrAuthorizationHeaderMalformed,
	"AuthorizationQueryParametersError": ErrAuthorizationQueryParametersError,
	"InvalidPresignExpiry":              ErrInvalidPresignExpiry,
	"ExpiredPresignedRequest":           ErrExpiredPresignedRequest,
	"RequestNotYetValid":                ErrRequestNotYetValid,
	"MissingDate":                       ErrMissingDate,
	"MissingContentSHA256":              ErrMissingContentSHA256,
	"InvalidContentSHA256":              ErrInvalidContentSHA256,
	"XAmzContentSHA256Mismatch":         ErrXAmzContentSHA256Mismatch,
	"IncompleteBody":                    ErrIncompleteBody,
	"MalformedChunk":                    ErrMalformedChunk,
	"InvalidChunkSizeError":             ErrInvalidChunkSize,
	"MalformedTrailer":                  ErrMalformedTrailer,
	"InvalidTrailerHeader":              ErrInvalidTrailerHeader,
	"MissingDecodedContentLength":       ErrMissingDecodedContentLength,
	"UnsupportedSignature":              ErrUnsupportedSignature,
	"AmbiguousAuth":                     ErrAmbiguousAuth,
}

// kindOf returns "ok" for nil, the name of the sentinel err wraps, or
// "other(...)".
func kindOf(err error) string {
	if err == nil {
		return "ok"
	}
	names := make([]string, 0, len(sentinels))
	for name := range sentinels {
		names = append(names, name)
	}
	sort.Strings(names)
	var found []string
	for _, name := range names {
		if errors.Is(err, sentinels[name]) {
			found = append(found, name)
		}
	}
	switch len(found) {
	case 0:
		return fmt.Sprintf("other(%v)", err)
	case 1:
		return found[0]
	}
	return fmt.Sprintf("several%v(%v)", found, err)
}

// staticLookup resolves access keys from a map.
func staticLookup(keys map[string]string) Lookup {
	return func(_ context.Context, id string) (string, error) {
		if s, ok := keys[id]; ok {
			return s, nil
		}
		return "", ErrInvalidAccessKeyID
	}
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }
