package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	signingAlgorithm = "AWS4-HMAC-SHA256"
	sigV4AAlgorithm  = "AWS4-ECDSA-P256-SHA256"
	serviceName      = "s3"
	scopeTerminator  = "aws4_request"
	amzDateLayout    = "20060102T150405Z"

	// DefaultMaxSkew is how far the request date may be from the server
	// clock when Verifier.MaxSkew is zero; it is the tolerance AWS applies.
	DefaultMaxSkew = 15 * time.Minute

	// MaxPresignExpiry is the longest lifetime of a presigned URL, in
	// seconds (one week), as in AWS.
	MaxPresignExpiry = 7 * 24 * 60 * 60

	// Values of x-amz-content-sha256 other than a hex SHA-256.
	unsignedPayload                 = "UNSIGNED-PAYLOAD"
	streamingPayload                = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingPayloadTrailer         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingECDSAPrefix            = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"

	emptySHA256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// Lookup returns the secret key of an access key id, or ErrInvalidAccessKeyID
// (possibly wrapped) when the id is unknown. Any other error is returned by
// Verify unchanged, for s3api to answer InternalError.
type Lookup func(ctx context.Context, accessKeyID string) (secret string, err error)

// Verifier checks SigV4 signatures of S3 requests. Its fields are set once
// before first use; a Verifier holds a signing-key cache and must not be
// copied after first use. It is safe for concurrent use.
type Verifier struct {
	// Lookup resolves access key ids to secrets. It is called once per
	// signed request, after the cheap syntactic and clock checks.
	Lookup Lookup
	// Now returns the server time; nil means time.Now.
	Now func() time.Time
	// MaxSkew bounds the distance between the request date and Now
	// (ErrRequestTimeTooSkewed beyond); 0 means DefaultMaxSkew.
	MaxSkew time.Duration
	// Region, when not empty, is the only region accepted in the credential
	// scope; "" accepts any region.
	Region string

	keys keyCache
}

// Result is what Verify learned about a request.
type Result struct {
	// AccessKeyID is the signer's access key id; "" when Anonymous.
	AccessKeyID string
	// Anonymous reports a request with neither an Authorization header nor
	// presigned query parameters. Verify does not refuse those: whether
	// anonymous access (or a browser POST policy, which carries its
	// signature in the form body) is allowed is decided above.
	Anonymous bool
	// Presigned reports authentication by X-Amz-* query parameters.
	Presigned bool
	// Region is the region of the credential scope.
	Region string
	// SessionToken is the X-Amz-Security-Token presented with temporary
	// credentials (header or query), unverified; "" when none. The caller
	// must check it belongs to AccessKeyID before trusting the request.
	SessionToken string

	// Body replaces r.Body. It yields the payload (aws-chunked framing
	// removed) and verifies it as it goes: chunk signatures at the end of
	// each chunk, the signed SHA-256 and the decoded length at the end of
	// the body, the trailer signature after the last chunk. Bytes of a
	// chunk are released before that chunk's signature is checked, so a
	// caller must treat everything it read as provisional until Body
	// returns io.EOF: on any verification failure Body returns an error
	// instead of io.EOF (and keeps returning it), and the caller discards
	// what it stored. The body is read only as the caller reads; it is
	// never buffered whole. For requests without a body it is empty.
	// Closing Body closes r.Body.
	Body io.ReadCloser
	// DecodedLength is the payload length: x-amz-decoded-content-length for
	// aws-chunked bodies, else r.ContentLength (-1 when unknown).
	DecodedLength int64
	// Trailer returns the trailing headers of an aws-chunked body (such as
	// x-amz-checksum-crc32) once Body has returned io.EOF, nil before and
	// for bodies without trailers. Names are in canonical MIME form.
	Trailer func() http.Header
	// ContentEncoding is the request's Content-Encoding with the
	// aws-chunked coding removed: the value to store as object metadata,
	// since aws-chunked describes the transfer, not the object.
	ContentEncoding string
}

func noTrailer() http.Header { return nil }

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

// Verify authenticates r. On success the caller reads the payload from
// Result.Body, never from r.Body. Errors wrap the sentinels of this package
// (see errors.go); Lookup errors other than ErrInvalidAccessKeyID are
// returned as they are.
func (v *Verifier) Verify(r *http.Request) (*Result, error) {
	authz := r.Header["Authorization"]
	presigned := hasQueryKey(r.URL.RawQuery, "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
	switch {
	case len(authz) > 0 && presigned:
		return nil, ErrAmbiguousAuth
	case len(authz) > 0:
		return v.verifyHeader(r, authz)
	case presigned:
		return v.verifyQuery(r)
	case hasQueryKey(r.URL.RawQuery, "AWSAccessKeyId", "", ""):
		return nil, fmt.Errorf("%w: presigned URL uses Signature Version 2", ErrUnsupportedSignature)
	}
	return anonymous(r)
}

// verifyHeader checks a request signed in the Authorization header.
func (v *Verifier) verifyHeader(r *http.Request, authz []string) (*Result, error) {
	if len(authz) != 1 {
		return nil, fmt.Errorf("%w: %d Authorization headers", ErrAuthorizationHeaderMalformed, len(authz))
	}
	a, err := parseAuthorization(authz[0])
	if err != nil {
		return nil, err
	}
	amzDate, t, err := headerDate(r.Header)
	if err != nil {
		return nil, err
	}
	if a.date != amzDate[:8] {
		return nil, fmt.Errorf("%w: invalid credential date %q: it is not the date of X-Amz-Date %q", ErrAuthorizationHeaderMalformed, a.date, amzDate)
	}
	if v.Region != "" && a.region != v.Region {
		return nil, fmt.Errorf("%w: the region %q is wrong; expecting %q", ErrAuthorizationHeaderMalformed, a.region, v.Region)
	}
	if d := v.now().Sub(t); d > v.maxSkew() || d < -v.maxSkew() {
		return nil, fmt.Errorf("%w: request time %s, server time %s", ErrRequestTimeTooSkewed, t.Format(time.RFC3339), v.now().UTC().Format(time.RFC3339))
	}
	payloadHash := firstValue(r.Header["X-Amz-Content-Sha256"])
	if payloadHash == "" {
		return nil, ErrMissingContentSHA256
	}
	mode, err := parsePayloadMode(payloadHash)
	if err != nil {
		return nil, err
	}
	if err := checkSignedHeaders(r.Header, a.signedHeaders, ErrAuthorizationHeaderMalformed); err != nil {
		return nil, err
	}
	ent, err := v.signingKey(r.Context(), a.accessKey, a.date, a.region)
	if err != nil {
		return nil, err
	}
	in := canonicalInput{
		rawQuery:      r.URL.RawQuery,
		signedHeaders: a.signedHeaders,
		payloadHash:   payloadHash,
		amzDate:       amzDate,
		scope:         a.scope,
	}
	if !verifySignature(r, &in, ent, &a.signature) {
		return nil, fmt.Errorf("%w (access key %s)", ErrSignatureDoesNotMatch, a.accessKey)
	}
	res := &Result{
		AccessKeyID:  a.accessKey,
		Region:       a.region,
		SessionToken: firstValue(r.Header["X-Amz-Security-Token"]),
	}
	seed := signingContext{ent: ent, amzDate: amzDate, scope: a.scope, seed: a.signature}
	if err := res.setBody(r, mode, payloadHash, &seed); err != nil {
		return nil, err
	}
	return res, nil
}

// verifyQuery checks a presigned URL.
func (v *Verifier) verifyQuery(r *http.Request) (*Result, error) {
	p, err := parsePresign(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	if v.Region != "" && p.cred.region != v.Region {
		return nil, fmt.Errorf("%w: error parsing the X-Amz-Credential parameter; the region %q is wrong; expecting %q", ErrAuthorizationQueryParametersError, p.cred.region, v.Region)
	}
	now := v.now()
	if p.date.Sub(now) > v.maxSkew() {
		return nil, fmt.Errorf("%w: X-Amz-Date %s is after server time %s", ErrRequestNotYetValid, p.date.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.After(p.date.Add(time.Duration(p.expires) * time.Second)) {
		return nil, fmt.Errorf("%w: expired at %s, server time %s", ErrExpiredPresignedRequest, p.date.Add(time.Duration(p.expires)*time.Second).Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	payloadHash := p.contentSHA256
	if payloadHash == "" {
		payloadHash = unsignedPayload
	}
	mode, err := parsePayloadMode(payloadHash)
	if err != nil {
		return nil, err
	}
	if err := checkSignedHeaders(r.Header, p.signedHeaders, ErrAuthorizationQueryParametersError); err != nil {
		return nil, err
	}
	ent, err := v.signingKey(r.Context(), p.cred.accessKey, p.cred.date, p.cred.region)
	if err != nil {
		return nil, err
	}
	in := canonicalInput{
		rawQuery:      r.URL.RawQuery,
		presigned:     true,
		signedHeaders: p.signedHeaders,
		payloadHash:   payloadHash,
		amzDate:       p.amzDate,
		scope:         p.cred.scope,
	}
	if !verifySignature(r, &in, ent, &p.signature) {
		return nil, fmt.Errorf("%w (access key %s, presigned)", ErrSignatureDoesNotMatch, p.cred.accessKey)
	}
	res := &Result{
		AccessKeyID:  p.cred.accessKey,
		Presigned:    true,
		Region:       p.cred.region,
		SessionToken: p.securityToken,
	}
	seed := signingContext{ent: ent, amzDate: p.amzDate, scope: p.cred.scope, seed: p.signature}
	if err := res.setBody(r, mode, payloadHash, &seed); err != nil {
		return nil, err
	}
	return res, nil
}

// anonymous builds the Result of an unsigned request. Its body is still
// checked against x-amz-content-sha256 when the client sent one, and an
// unsigned aws-chunked body is decoded; a signed streaming payload without
// a signature cannot be verified and is refused.
func anonymous(r *http.Request) (*Result, error) {
	res := &Result{Anonymous: true}
	payloadHash := firstValue(r.Header["X-Amz-Content-Sha256"])
	mode := modeUnsigned
	if payloadHash != "" {
		var err error
		if mode, err = parsePayloadMode(payloadHash); err != nil {
			return nil, err
		}
	}
	if mode == modeStreamingSigned || mode == modeStreamingSignedTrailer {
		return nil, fmt.Errorf("%w: x-amz-content-sha256 %s on a request without a signature", ErrAccessDenied, payloadHash)
	}
	if err := res.setBody(r, mode, payloadHash, nil); err != nil {
		return nil, err
	}
	return res, nil
}

// signingKey returns the cached signing key of accessKey for (date, region).
func (v *Verifier) signingKey(ctx context.Context, accessKey, date, region string) (*keyEntry, error) {
	if v.Lookup == nil {
		return nil, fmt.Errorf("%w: %s (no Lookup configured)", ErrInvalidAccessKeyID, accessKey)
	}
	secret, err := v.Lookup(ctx, accessKey)
	if err != nil {
		if errors.Is(err, ErrInvalidAccessKeyID) {
			return nil, fmt.Errorf("access key %s: %w", accessKey, err)
		}
		return nil, fmt.Errorf("sigv4: looking up access key %s: %w", accessKey, err)
	}
	return v.keys.get(secret, date, region), nil
}

// verifySignature recomputes the signature of r and compares it with want
// in constant time. When the raw path fails, the path re-encoded the way
// SDKs encode keys is tried (see the package comment).
func verifySignature(r *http.Request, in *canonicalInput, ent *keyEntry, want *[32]byte) bool {
	raw := rawPath(r)
	in.path = raw
	if ent.sign(r, in, want) {
		return true
	}
	if enc := encodedPath(r.URL.Path); enc != raw {
		in.path = enc
		return ent.sign(r, in, want)
	}
	return false
}

// headerDate returns the request date of a header-signed request, from
// X-Amz-Date or else Date, in the basic ISO 8601 form used in the string to
// sign.
func headerDate(h http.Header) (string, time.Time, error) {
	if d := firstValue(h["X-Amz-Date"]); d != "" {
		t, err := parseAmzDate(d)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("%w: X-Amz-Date %q is not in the form 20060102T150405Z", ErrMissingDate, d)
		}
		return d, t, nil
	}
	if d := firstValue(h["Date"]); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("%w: Date %q is not an HTTP date", ErrMissingDate, d)
		}
		t = t.UTC()
		return t.Format(amzDateLayout), t, nil
	}
	return "", time.Time{}, ErrMissingDate
}

func parseAmzDate(s string) (time.Time, error) {
	if len(s) != len(amzDateLayout) {
		return time.Time{}, errors.New("bad length")
	}
	return time.Parse(amzDateLayout, s)
}

// payloadMode is how the body is authenticated, from x-amz-content-sha256.
type payloadMode int

const (
	modeUnsigned payloadMode = iota
	modeSHA256
	modeStreamingSigned
	modeStreamingSignedTrailer
	modeStreamingUnsignedTrailer
)

func parsePayloadMode(s string) (payloadMode, error) {
	switch s {
	case unsignedPayload:
		return modeUnsigned, nil
	case streamingPayload:
		return modeStreamingSigned, nil
	case streamingPayloadTrailer:
		return modeStreamingSignedTrailer, nil
	case streamingUnsignedPayloadTrailer:
		return modeStreamingUnsignedTrailer, nil
	}
	if strings.HasPrefix(s, streamingECDSAPrefix) {
		return 0, fmt.Errorf("%w: x-amz-content-sha256 %s is SigV4A", ErrUnsupportedSignature, s)
	}
	var sum [32]byte
	if !decodeHex32(&sum, s) {
		return 0, fmt.Errorf("%w (got %q)", ErrInvalidContentSHA256, truncate(s, 80))
	}
	return modeSHA256, nil
}

// setBody installs Body, DecodedLength, Trailer and ContentEncoding. sc is
// nil for anonymous requests.
func (res *Result) setBody(r *http.Request, mode payloadMode, payloadHash string, sc *signingContext) error {
	res.Trailer = noTrailer
	res.DecodedLength = r.ContentLength
	res.ContentEncoding = stripAWSChunked(r.Header["Content-Encoding"])
	empty := r.Body == nil || r.Body == http.NoBody
	switch mode {
	case modeUnsigned:
		if empty {
			res.Body = http.NoBody
		} else {
			res.Body = &plainBody{src: r.Body}
		}
	case modeSHA256:
		var want [32]byte
		decodeHex32(&want, payloadHash)
		if empty {
			if payloadHash != emptySHA256Hex && !hmac.Equal(want[:], emptySHA256[:]) {
				return fmt.Errorf("%w: the request has no body", ErrXAmzContentSHA256Mismatch)
			}
			res.Body = http.NoBody
			return nil
		}
		res.Body = &sha256Body{src: r.Body, h: sha256.New(), want: want}
	default:
		n, err := decodedLength(r.Header)
		if err != nil {
			return err
		}
		declared, err := declaredTrailers(r.Header["X-Amz-Trailer"])
		if err != nil {
			return err
		}
		src := r.Body
		if src == nil {
			src = http.NoBody
		}
		cr := newChunkedReader(src, mode, n, declared, sc)
		res.Body = cr
		res.DecodedLength = n
		res.Trailer = cr.Trailer
	}
	return nil
}

var emptySHA256 = sha256.Sum256(nil)

func decodedLength(h http.Header) (int64, error) {
	v := h["X-Amz-Decoded-Content-Length"]
	if len(v) != 1 {
		return 0, fmt.Errorf("%w (%d values)", ErrMissingDecodedContentLength, len(v))
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %q is not a length", ErrMissingDecodedContentLength, truncate(v[0], 40))
	}
	return n, nil
}

// maxTrailers bounds the trailing headers of an aws-chunked body; S3 sends
// one checksum, so 64 is generous.
const maxTrailers = 64

// declaredTrailers parses x-amz-trailer into lower-case names. Only
// x-amz-checksum-* names are accepted, as S3 does.
func declaredTrailers(values []string) ([]string, error) {
	var names []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name := strings.ToLower(strings.TrimSpace(part))
			if name == "" {
				continue
			}
			if !strings.HasPrefix(name, "x-amz-checksum-") || len(name) > 64 {
				return nil, fmt.Errorf("%w: %q", ErrInvalidTrailerHeader, truncate(name, 80))
			}
			if len(names) == maxTrailers {
				return nil, fmt.Errorf("%w: more than %d names", ErrInvalidTrailerHeader, maxTrailers)
			}
			names = append(names, name)
		}
	}
	return names, nil
}

// stripAWSChunked removes the aws-chunked coding from Content-Encoding
// values, keeping the others in order.
func stripAWSChunked(values []string) string {
	switch {
	case len(values) == 0:
		return ""
	case len(values) == 1 && !strings.Contains(strings.ToLower(values[0]), "aws-chunked"):
		return values[0]
	}
	var b strings.Builder
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" || strings.EqualFold(part, "aws-chunked") {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(part)
		}
	}
	return b.String()
}

// checkSignedHeaders enforces that host is signed and that every x-amz-*
// header of the request is (x-amz-content-sha256 excepted, as in S3: it is
// bound by the canonical request anyway).
func checkSignedHeaders(h http.Header, signed string, malformed error) error {
	if !listContains(signed, "host") {
		return fmt.Errorf("%w: SignedHeaders %q does not include host", malformed, truncate(signed, 200))
	}
	var missing []string
	for k := range h {
		if len(k) < len("x-amz-") || !strings.EqualFold(k[:len("x-amz-")], "x-amz-") {
			continue
		}
		if strings.EqualFold(k, "X-Amz-Content-Sha256") || listContains(signed, k) {
			continue
		}
		missing = append(missing, strings.ToLower(k))
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrHeadersNotSigned, strings.Join(missing, ","))
	}
	return nil
}

// listContains reports whether the ';'-separated list holds name, ignoring
// case.
func listContains(list, name string) bool {
	for list != "" {
		var item string
		item, list, _ = strings.Cut(list, ";")
		if strings.EqualFold(item, name) {
			return true
		}
	}
	return false
}

func firstValue(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// decodeHex32 decodes 64 hex digits (either case) into dst.
func decodeHex32[T string | []byte](dst *[32]byte, s T) bool {
	if len(s) != 64 {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// truncate bounds attacker-controlled text quoted in error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
