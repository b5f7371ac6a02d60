package sigv4

import (
	"errors"
	"fmt"
	"net/url"
	"testing"
)

// FuzzParsePresign checks the parser of a presigned URL's X-Amz-* query
// parameters (query-string authentication), which FuzzParseAuthorization
// does not reach: no input makes it panic; every refusal wraps one of its
// documented sentinels; and what it accepts is consistent (a credential
// scoped to the X-Amz-Date's day, an expiry in range) and parses again,
// re-encoded, to the same value.
func FuzzParsePresign(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
	f.Add("versionId=3&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID/20260314/eu-west-3/s3/aws4_request&X-Amz-Date=20260314T150926Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host%3Bx-amz-meta-a&X-Amz-Security-Token=tok%2Ben&X-Amz-Signature=AEEED9BBCCD4D02EE5C0109B86D86835F995330DA4C265957D157751F604D404")
	f.Add("X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&X-Amz-Credential=AKID/20260314/*/s3/aws4_request&X-Amz-Date=20260314T150926Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00")
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Algorithm=AWS4-HMAC-SHA256")
	f.Add("X-Amz%2DExpires=0&X-Amz-Date=2026")
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := parsePresign(raw)
		if err != nil {
			if !errors.Is(err, ErrAuthorizationQueryParametersError) && !errors.Is(err, ErrInvalidPresignExpiry) && !errors.Is(err, ErrUnsupportedSignature) {
				t.Fatalf("parsePresign(%q) = %v, which wraps none of its sentinels", raw, err)
			}
			return
		}
		switch {
		case p.cred.accessKey == "" || p.cred.scope != p.cred.date+"/"+p.cred.region+"/s3/aws4_request":
			t.Fatalf("parsePresign(%q) accepted credential %+v", raw, p.cred)
		case p.amzDate[:8] != p.cred.date || p.date.Format("20060102T150405Z") != p.amzDate:
			t.Fatalf("parsePresign(%q) accepted X-Amz-Date %q (%v) with a credential of %s", raw, p.amzDate, p.date, p.cred.date)
		case p.expires < 1 || p.expires > MaxPresignExpiry:
			t.Fatalf("parsePresign(%q) accepted X-Amz-Expires %d", raw, p.expires)
		case checkSignedHeaderList(p.signedHeaders) != nil:
			t.Fatalf("parsePresign(%q) accepted SignedHeaders %q", raw, p.signedHeaders)
		}
		again := fmt.Sprintf("X-Amz-Algorithm=%s&X-Amz-Credential=%s&X-Amz-Date=%s&X-Amz-Expires=%d&X-Amz-SignedHeaders=%s&X-Amz-Signature=%x",
			signingAlgorithm, url.QueryEscape(p.cred.accessKey+"/"+p.cred.scope), url.QueryEscape(p.amzDate), p.expires,
			url.QueryEscape(p.signedHeaders), p.signature)
		if p.securityToken != "" {
			again += "&X-Amz-Security-Token=" + url.QueryEscape(p.securityToken)
		}
		if p.contentSHA256 != "" {
			again += "&X-Amz-Content-Sha256=" + url.QueryEscape(p.contentSHA256)
		}
		q, err := parsePresign(again)
		if err != nil || q != p {
			t.Fatalf("parsePresign(%q) = %+v; re-encoded as %q it parses to %+v, %v", raw, p, again, q, err)
		}
	})
}
