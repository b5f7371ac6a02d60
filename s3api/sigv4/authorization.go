package sigv4

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// credential is the parsed Credential / X-Amz-Credential value
// AKID/yyyymmdd/region/s3/aws4_request. Its strings are substrings of the
// request, so parsing allocates nothing.
type credential struct {
	accessKey string
	date      string // yyyymmdd
	region    string
	scope     string // date/region/s3/aws4_request, as it goes in the string to sign
}

// authorization is the parsed Authorization header.
type authorization struct {
	credential
	signedHeaders string
	signature     [32]byte
}

// parseAuthorization parses
//
//	AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>
//
// Components may come in any order, separated by commas with optional
// spaces (SDKs differ). Errors wrap ErrAuthorizationHeaderMalformed, or
// ErrUnsupportedSignature for other schemes.
func parseAuthorization(s string) (authorization, error) {
	var a authorization
	scheme, rest, _ := strings.Cut(s, " ")
	switch scheme {
	case signingAlgorithm:
	case "AWS":
		return a, fmt.Errorf("%w: Authorization uses Signature Version 2", ErrUnsupportedSignature)
	case sigV4AAlgorithm:
		return a, fmt.Errorf("%w: Authorization uses SigV4A (%s)", ErrUnsupportedSignature, sigV4AAlgorithm)
	default:
		if strings.HasPrefix(scheme, signingAlgorithm) {
			return a, fmt.Errorf("%w: expected a space after %s", ErrAuthorizationHeaderMalformed, signingAlgorithm)
		}
		return a, fmt.Errorf("%w: unsupported Authorization type %q", ErrUnsupportedSignature, truncate(scheme, 40))
	}
	var haveCred, haveSigned, haveSig bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.Trim(part, " ")
		if part == "" {
			continue // tolerate stray commas, as lenient clients emit them
		}
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return a, fmt.Errorf("%w: component %q is not key=value", ErrAuthorizationHeaderMalformed, truncate(part, 80))
		}
		switch key {
		case "Credential":
			if haveCred {
				return a, fmt.Errorf("%w: Credential appears twice", ErrAuthorizationHeaderMalformed)
			}
			haveCred = true
			c, err := parseCredential(value)
			if err != nil {
				return a, fmt.Errorf("%w: %s", ErrAuthorizationHeaderMalformed, err)
			}
			a.credential = c
		case "SignedHeaders":
			if haveSigned {
				return a, fmt.Errorf("%w: SignedHeaders appears twice", ErrAuthorizationHeaderMalformed)
			}
			haveSigned = true
			if err := checkSignedHeaderList(value); err != nil {
				return a, fmt.Errorf("%w: %s", ErrAuthorizationHeaderMalformed, err)
			}
			a.signedHeaders = value
		case "Signature":
			if haveSig {
				return a, fmt.Errorf("%w: Signature appears twice", ErrAuthorizationHeaderMalformed)
			}
			haveSig = true
			if !decodeHex32(&a.signature, value) {
				return a, fmt.Errorf("%w: Signature must be 64 hexadecimal digits", ErrAuthorizationHeaderMalformed)
			}
		default:
			return a, fmt.Errorf("%w: unknown component %q", ErrAuthorizationHeaderMalformed, truncate(key, 40))
		}
	}
	switch {
	case !haveCred:
		return a, fmt.Errorf("%w: missing Credential", ErrAuthorizationHeaderMalformed)
	case !haveSigned:
		return a, fmt.Errorf("%w: missing SignedHeaders", ErrAuthorizationHeaderMalformed)
	case !haveSig:
		return a, fmt.Errorf("%w: missing Signature", ErrAuthorizationHeaderMalformed)
	}
	return a, nil
}

// parseCredential parses AKID/yyyymmdd/region/s3/aws4_request. The error
// text is meant to follow the caller's sentinel.
func parseCredential(s string) (credential, error) {
	var c credential
	akid, scope, ok := strings.Cut(s, "/")
	if !ok || akid == "" {
		return c, fmt.Errorf("credential %q is not access-key-id/date/region/s3/aws4_request", truncate(s, 120))
	}
	date, rest, _ := strings.Cut(scope, "/")
	region, rest, _ := strings.Cut(rest, "/")
	service, term, _ := strings.Cut(rest, "/")
	switch {
	case len(date) != 8 || !isDigits(date):
		return c, fmt.Errorf("invalid credential date %q", truncate(date, 20))
	case region == "":
		return c, fmt.Errorf("credential %q has no region", truncate(s, 120))
	case service != serviceName:
		return c, fmt.Errorf("credential should be scoped to correct service: %q, not %q", serviceName, truncate(service, 20))
	case term != scopeTerminator:
		return c, fmt.Errorf("credential should be scoped with a valid terminator: %q, not %q", scopeTerminator, truncate(term, 20))
	}
	if _, err := time.Parse("20060102", date); err != nil {
		return c, fmt.Errorf("invalid credential date %q", date)
	}
	c.accessKey, c.date, c.region, c.scope = akid, date, region, scope
	return c, nil
}

// checkSignedHeaderList checks the shape of a SignedHeaders value: non-empty
// header names separated by ';'. That host is in it is checked later,
// with the request's unsigned headers.
func checkSignedHeaderList(s string) error {
	if s == "" {
		return fmt.Errorf("SignedHeaders is empty")
	}
	for s != "" {
		var name string
		name, s, _ = strings.Cut(s, ";")
		if name == "" || !isToken(name) {
			return fmt.Errorf("SignedHeaders holds an invalid header name %q", truncate(name, 40))
		}
	}
	return nil
}

// presign is the parsed X-Amz-* query of a presigned URL.
type presign struct {
	cred          credential
	amzDate       string
	date          time.Time
	expires       int64
	signedHeaders string
	signature     [32]byte
	securityToken string
	contentSHA256 string
}

// parsePresign parses and checks the authentication parameters of a
// presigned URL. Errors wrap ErrAuthorizationQueryParametersError,
// ErrInvalidPresignExpiry or ErrUnsupportedSignature.
func parsePresign(raw string) (presign, error) {
	var p presign
	var alg, cred, date, expires, signed, sig string
	var seen [8]bool
	targets := [8]*string{&alg, &cred, &date, &expires, &signed, &sig, &p.securityToken, &p.contentSHA256}
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(seg, "=")
		if !strings.HasPrefix(k, "X-Amz-") && !strings.ContainsAny(k, "%+") {
			continue
		}
		i := presignParam(queryUnescape(k))
		if i < 0 {
			continue
		}
		if seen[i] {
			return p, fmt.Errorf("%w: %s appears more than once", ErrAuthorizationQueryParametersError, presignParams[i])
		}
		seen[i] = true
		*targets[i] = queryUnescape(v)
	}
	for i, name := range presignParams[:6] {
		if !seen[i] {
			return p, fmt.Errorf("%w: query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters; %s is missing", ErrAuthorizationQueryParametersError, name)
		}
	}
	switch alg {
	case signingAlgorithm:
	case sigV4AAlgorithm:
		return p, fmt.Errorf("%w: X-Amz-Algorithm %s (SigV4A)", ErrUnsupportedSignature, alg)
	default:
		return p, fmt.Errorf("%w: X-Amz-Algorithm only supports %q, not %q", ErrAuthorizationQueryParametersError, signingAlgorithm, truncate(alg, 40))
	}
	c, err := parseCredential(cred)
	if err != nil {
		return p, fmt.Errorf("%w: error parsing the X-Amz-Credential parameter: %s", ErrAuthorizationQueryParametersError, err)
	}
	p.cred = c
	t, err := parseAmzDate(date)
	if err != nil {
		return p, fmt.Errorf("%w: X-Amz-Date %q must be in the ISO8601 long format yyyyMMdd'T'HHmmss'Z'", ErrAuthorizationQueryParametersError, truncate(date, 40))
	}
	if date[:8] != c.date {
		return p, fmt.Errorf("%w: invalid credential date %q: it is not the date of X-Amz-Date %q", ErrAuthorizationQueryParametersError, c.date, date)
	}
	p.amzDate, p.date = date, t
	n, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || n < 1 || n > MaxPresignExpiry {
		return p, fmt.Errorf("%w (got %q)", ErrInvalidPresignExpiry, truncate(expires, 40))
	}
	p.expires = n
	if err := checkSignedHeaderList(signed); err != nil {
		return p, fmt.Errorf("%w: %s", ErrAuthorizationQueryParametersError, err)
	}
	p.signedHeaders = signed
	if !decodeHex32(&p.signature, sig) {
		return p, fmt.Errorf("%w: X-Amz-Signature must be 64 hexadecimal digits", ErrAuthorizationQueryParametersError)
	}
	return p, nil
}

// presignParams are the query parameters of a presigned URL; the first six
// are required.
var presignParams = [8]string{
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-Content-Sha256",
}

func presignParam(k string) int {
	for i, name := range presignParams {
		if k == name {
			return i
		}
	}
	return -1
}

// hasQueryKey reports whether the raw query has a parameter named a, b or c
// ("" matches nothing). Keys are compared decoded, so X-Amz%2DCredential is
// X-Amz-Credential, as the handler reading r.URL.Query() would see it.
func hasQueryKey(raw, a, b, c string) bool {
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		k, _, _ := strings.Cut(seg, "=")
		if strings.ContainsAny(k, "%+") {
			k = queryUnescape(k)
		}
		if k != "" && (k == a || k == b || k == c) {
			return true
		}
	}
	return false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isToken reports whether s is an HTTP header name (RFC 9110 token).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
