package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

const (
	testAccessKey = "AKIDCOFFRETEST"
	testSecret    = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion    = "eu-west-3"
)

var testTime = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func testVerifier() *Verifier {
	return &Verifier{
		Lookup: staticLookup(map[string]string{testAccessKey: testSecret, "AKIDOTHER": "other-secret"}),
		Now:    fixedClock(testTime),
	}
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// s3URL builds a request URL whose path is a bucket and key escaped the
// way the AWS SDKs escape keys (every byte but unreserved ones and '/').
func s3URL(base, bucket, key, rawQuery string) *url.URL {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + bucket + "/" + key
	u.RawPath = "/" + bucket + "/" + httpbinding.EscapePath(key, false)
	u.RawQuery = rawQuery
	return u
}

type sdkRequest struct {
	method      string
	key         string
	query       string
	body        []byte
	payloadHash string // "" means hex SHA-256 of body
	headers     [][2]string
	token       string
	accessKey   string
	secret      string
	at          time.Time
}

// sign builds a request to srv signed by the AWS SDK signer.
func (sr sdkRequest) sign(t testing.TB, base string) *http.Request {
	t.Helper()
	if sr.method == "" {
		sr.method = http.MethodGet
	}
	if sr.key == "" {
		sr.key = "object.txt"
	}
	if sr.payloadHash == "" {
		sr.payloadHash = hexSHA256(sr.body)
	}
	if sr.accessKey == "" {
		sr.accessKey, sr.secret = testAccessKey, testSecret
	}
	if sr.at.IsZero() {
		sr.at = testTime
	}
	var body io.Reader
	if sr.body != nil {
		body = bytes.NewReader(sr.body)
	}
	req, err := http.NewRequest(sr.method, "http://placeholder/", body)
	if err != nil {
		t.Fatal(err)
	}
	req.URL = s3URL(base, "bucket", sr.key, sr.query)
	req.Host = req.URL.Host
	for _, h := range sr.headers {
		req.Header.Add(h[0], h[1])
	}
	req.Header.Set("X-Amz-Content-Sha256", sr.payloadHash)
	signHTTP(t, req, sr.accessKey, sr.secret, sr.token, sr.payloadHash, sr.at)
	return req
}

// signHTTP signs req in place with the AWS SDK signer, as the S3 client
// does (no second escaping of the path).
func signHTTP(t testing.TB, req *http.Request, accessKey, secret, token, payloadHash string, at time.Time) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret, SessionToken: token}
	err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, "s3", testRegion, at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
}

func send(t *testing.T, srv *verifyServer, req *http.Request) outcome {
	t.Helper()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return srv.last(t)
}

func TestVerifyHeaderSDK(t *testing.T) {
	srv := newVerifyServer(t, testVerifier(), false)
	payload := []byte("the quick brown fox")
	tests := []struct {
		name   string
		req    sdkRequest
		tamper func(*http.Request)
		v      func(*Verifier)
		want   string
		check  func(*testing.T, outcome)
	}{
		{name: "get", req: sdkRequest{}, want: "ok", check: func(t *testing.T, o outcome) {
			if o.res.AccessKeyID != testAccessKey || o.res.Anonymous || o.res.Presigned || o.res.Region != testRegion {
				t.Fatalf("Result = %+v, want access key %s in %s", o.res, testAccessKey, testRegion)
			}
			if o.res.Body != http.NoBody {
				t.Fatalf("Body = %T, want http.NoBody for a GET", o.res.Body)
			}
		}},
		{name: "get-unsigned-payload", req: sdkRequest{payloadHash: unsignedPayload}, want: "ok"},
		{name: "list-query", req: sdkRequest{key: "", query: url.Values{
			"list-type": {"2"}, "prefix": {"photos/2026 été/a+b&c=d"}, "delimiter": {"/"}, "encoding-type": {"url"}, "start-after": {"~tilde*star"},
		}.Encode()}, want: "ok"},
		{name: "query-key-without-value", req: sdkRequest{query: "acl"}, want: "ok"},
		{name: "query-repeated-key", req: sdkRequest{query: "z=1&a=2&a=1&b="}, want: "ok"},
		{name: "key-needs-escaping", req: sdkRequest{key: "dir/sous dossier/ä ö+!*'()~$@=;:,&.txt"}, want: "ok"},
		{name: "key-with-percent", req: sdkRequest{key: "100%/50%25"}, want: "ok"},
		{name: "key-with-dot-segments", req: sdkRequest{key: "a/../b/./c//d"}, want: "ok"},
		{name: "put-hex-sha256", req: sdkRequest{method: "PUT", body: payload}, want: "ok", check: func(t *testing.T, o outcome) {
			if !bytes.Equal(o.body, payload) {
				t.Fatalf("body = %q, want %q", o.body, payload)
			}
			if o.res.DecodedLength != int64(len(payload)) {
				t.Fatalf("DecodedLength = %d, want %d", o.res.DecodedLength, len(payload))
			}
		}},
		{name: "put-unsigned-payload", req: sdkRequest{method: "PUT", body: payload, payloadHash: unsignedPayload}, want: "ok"},
		{name: "header-spaces-collapsed", req: sdkRequest{headers: [][2]string{{"X-Amz-Meta-Note", "  a   b  c "}, {"Range", "bytes=0-4"}}}, want: "ok"},
		{name: "header-repeated", req: sdkRequest{headers: [][2]string{{"X-Amz-Meta-List", "one"}, {"X-Amz-Meta-List", "two"}}}, want: "ok"},
		{name: "content-type-signed", req: sdkRequest{method: "PUT", body: payload, headers: [][2]string{{"Content-Type", "text/plain; charset=utf-8"}, {"Content-Md5", "XUFAKrxLKna5cZ2REBfFkg=="}}}, want: "ok"},
		{name: "session-token", req: sdkRequest{token: "FwoGZXIvYXdzEBYaDH"}, want: "ok", check: func(t *testing.T, o outcome) {
			if got, want := o.res.SessionToken, "FwoGZXIvYXdzEBYaDH"; got != want {
				t.Fatalf("SessionToken = %q, want %q", got, want)
			}
		}},
		{name: "unsigned-plain-header-ignored", req: sdkRequest{}, tamper: func(r *http.Request) { r.Header.Set("X-Forwarded-For", "10.0.0.1") }, want: "ok"},
		{name: "unsigned-content-sha256-tolerated", req: sdkRequest{payloadHash: unsignedPayload}, tamper: func(r *http.Request) {
			// Re-sign without x-amz-content-sha256 in SignedHeaders: S3
			// accepts it, it is bound by the canonical request anyway.
			r.Header.Del("Authorization")
			r.Header.Del("X-Amz-Content-Sha256")
			v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}, r, unsignedPayload, "s3", testRegion, testTime, func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
			r.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
		}, want: "ok"},

		{name: "tamper-header", req: sdkRequest{headers: [][2]string{{"Range", "bytes=0-4"}}}, tamper: func(r *http.Request) { r.Header.Set("Range", "bytes=0-5") }, want: "SignatureDoesNotMatch"},
		{name: "tamper-path", req: sdkRequest{}, tamper: func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/bucket/other.txt", "" }, want: "SignatureDoesNotMatch"},
		{name: "tamper-path-case", req: sdkRequest{key: "Object.txt"}, tamper: func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/bucket/object.txt", "" }, want: "SignatureDoesNotMatch"},
		{name: "tamper-query-added", req: sdkRequest{}, tamper: func(r *http.Request) { r.URL.RawQuery = "versionId=1" }, want: "SignatureDoesNotMatch"},
		{name: "tamper-query-value", req: sdkRequest{query: "prefix=a"}, tamper: func(r *http.Request) { r.URL.RawQuery = "prefix=b" }, want: "SignatureDoesNotMatch"},
		{name: "tamper-method", req: sdkRequest{method: "DELETE"}, tamper: func(r *http.Request) { r.Method = "GET" }, want: "SignatureDoesNotMatch"},
		{name: "tamper-date-same-day", req: sdkRequest{}, tamper: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20260314T151000Z") }, want: "SignatureDoesNotMatch"},
		{name: "tamper-date-other-day", req: sdkRequest{}, tamper: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20260315T000100Z") }, v: func(v *Verifier) { v.MaxSkew = 24 * time.Hour }, want: "AuthorizationHeaderMalformed"},
		{name: "tamper-date-garbage", req: sdkRequest{}, tamper: func(r *http.Request) { r.Header.Set("X-Amz-Date", "yesterday") }, want: "MissingDate"},
		{name: "tamper-host", req: sdkRequest{}, tamper: func(r *http.Request) { r.Host = "evil.example:80" }, want: "SignatureDoesNotMatch"},
		{name: "tamper-body", req: sdkRequest{method: "PUT", body: payload}, tamper: func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader("the quick brown fix"))
		}, want: "XAmzContentSHA256Mismatch"},
		{name: "empty-body-wrong-hash", req: sdkRequest{payloadHash: hexSHA256([]byte("x"))}, want: "XAmzContentSHA256Mismatch"},
		{name: "wrong-secret", req: sdkRequest{accessKey: testAccessKey, secret: "not-the-secret"}, want: "SignatureDoesNotMatch"},
		{name: "other-users-key", req: sdkRequest{accessKey: "AKIDOTHER", secret: testSecret}, want: "SignatureDoesNotMatch"},
		{name: "unknown-access-key", req: sdkRequest{accessKey: "AKIDNOBODY", secret: testSecret}, want: "InvalidAccessKeyId"},
		{name: "unsigned-amz-header", req: sdkRequest{}, tamper: func(r *http.Request) { r.Header.Set("X-Amz-Acl", "public-read") }, want: "HeadersNotSigned"},
		{name: "unsigned-copy-source", req: sdkRequest{method: "PUT"}, tamper: func(r *http.Request) { r.Header.Set("X-Amz-Copy-Source", "/secret/file") }, want: "HeadersNotSigned"},
		{name: "missing-content-sha256", req: sdkRequest{}, tamper: func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, want: "MissingContentSHA256"},
		{name: "bad-content-sha256", req: sdkRequest{payloadHash: "SOMETHING-ELSE"}, want: "InvalidContentSHA256"},
		{name: "auth-and-presign", req: sdkRequest{query: "X-Amz-Signature=00"}, want: "AmbiguousAuth"},
		{name: "clock-skew-ahead", req: sdkRequest{}, v: func(v *Verifier) { v.Now = fixedClock(testTime.Add(16 * time.Minute)) }, want: "RequestTimeTooSkewed"},
		{name: "clock-skew-behind", req: sdkRequest{}, v: func(v *Verifier) { v.Now = fixedClock(testTime.Add(-16 * time.Minute)) }, want: "RequestTimeTooSkewed"},
		{name: "clock-skew-within", req: sdkRequest{}, v: func(v *Verifier) { v.Now = fixedClock(testTime.Add(14 * time.Minute)) }, want: "ok"},
		{name: "clock-skew-custom", req: sdkRequest{}, v: func(v *Verifier) { v.Now, v.MaxSkew = fixedClock(testTime.Add(2*time.Minute)), time.Minute }, want: "RequestTimeTooSkewed"},
		{name: "region-match", req: sdkRequest{}, v: func(v *Verifier) { v.Region = testRegion }, want: "ok"},
		{name: "region-mismatch", req: sdkRequest{}, v: func(v *Verifier) { v.Region = "us-east-1" }, want: "AuthorizationHeaderMalformed"},
	}
	for _, tc := range tests {
		t.Run("case="+tc.name, func(t *testing.T) {
			v := testVerifier()
			if tc.v != nil {
				tc.v(v)
			}
			srv.setVerifier(v)
			req := tc.req.sign(t, srv.URL)
			if tc.tamper != nil {
				tc.tamper(req)
			}
			o := send(t, srv, req)
			if got := o.kind(); got != tc.want {
				t.Fatalf("outcome %s, want %s (verify: %v, body: %v)", got, tc.want, o.verifyErr, o.bodyErr)
			}
			if tc.check != nil {
				tc.check(t, o)
			}
		})
	}
}

// TestVerifyPathFallback: a client that signed the canonical (SDK) encoding
// of a key but whose HTTP stack sent another encoding of the same path.
func TestVerifyPathFallback(t *testing.T) {
	srv := newVerifyServer(t, testVerifier(), false)
	req := sdkRequest{key: "a!b(c)~d"}.sign(t, srv.URL)
	req.URL.RawPath = "/bucket/a%21b%28c%29%7Ed" // signed as a%21b%28c%29~d
	o := send(t, srv, req)
	if got := o.kind(); got != "ok" {
		t.Fatalf("outcome %s, want ok (%v)", got, o.verifyErr)
	}
}

type presignRequest struct {
	method    string
	key       string
	query     url.Values
	expires   string
	headers   [][2]string
	body      []byte
	token     string
	secret    string
	at        time.Time
	sha256hex bool // put X-Amz-Content-Sha256=<hex of body> in the query
}

// presign returns a request for a URL presigned by the AWS SDK signer,
// carrying the headers the signer says must be sent.
func (pr presignRequest) presign(t testing.TB, base string) *http.Request {
	t.Helper()
	if pr.method == "" {
		pr.method = http.MethodGet
	}
	if pr.key == "" {
		pr.key = "object.txt"
	}
	if pr.expires == "" {
		pr.expires = "900"
	}
	if pr.secret == "" {
		pr.secret = testSecret
	}
	if pr.at.IsZero() {
		pr.at = testTime
	}
	q := url.Values{}
	for k, v := range pr.query {
		q[k] = v
	}
	q.Set("X-Amz-Expires", pr.expires)
	payload := unsignedPayload
	if pr.sha256hex {
		payload = hexSHA256(pr.body)
		q.Set("X-Amz-Content-Sha256", payload)
	}
	req, err := http.NewRequest(pr.method, "http://placeholder/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL = s3URL(base, "bucket", pr.key, q.Encode())
	req.Host = req.URL.Host
	for _, h := range pr.headers {
		req.Header.Add(h[0], h[1])
	}
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: pr.secret, SessionToken: pr.token}
	signed, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, payload, "s3", testRegion, pr.at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader
	if pr.body != nil {
		body = bytes.NewReader(pr.body)
	}
	out, err := http.NewRequest(pr.method, signed, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if k == "Host" {
			continue
		}
		for _, v := range vs {
			out.Header.Add(k, v)
		}
	}
	return out
}

func setQuery(r *http.Request, key, value string) {
	q := r.URL.Query()
	q.Set(key, value)
	r.URL.RawQuery = q.Encode()
}

func TestVerifyPresignedSDK(t *testing.T) {
	srv := newVerifyServer(t, testVerifier(), false)
	payload := []byte("uploaded through a presigned URL")
	tests := []struct {
		name   string
		req    presignRequest
		tamper func(*http.Request)
		v      func(*Verifier)
		want   string
		check  func(*testing.T, outcome)
	}{
		{name: "get", req: presignRequest{}, want: "ok", check: func(t *testing.T, o outcome) {
			if !o.res.Presigned || o.res.AccessKeyID != testAccessKey {
				t.Fatalf("Result = %+v, want presigned by %s", o.res, testAccessKey)
			}
		}},
		{name: "get-response-overrides", req: presignRequest{key: "dir/ä b.txt", query: url.Values{"response-content-disposition": {`attachment; filename="ä b.txt"`}, "versionId": {"3/L4kqtJl+cz"}}}, want: "ok"},
		{name: "put-unsigned-payload", req: presignRequest{method: "PUT", body: payload}, want: "ok", check: func(t *testing.T, o outcome) {
			if !bytes.Equal(o.body, payload) {
				t.Fatalf("body = %q, want %q", o.body, payload)
			}
		}},
		{name: "put-signed-sha256", req: presignRequest{method: "PUT", body: payload, sha256hex: true}, want: "ok"},
		{name: "put-signed-sha256-tampered-body", req: presignRequest{method: "PUT", body: payload, sha256hex: true}, tamper: func(r *http.Request) {
			r.Body = io.NopCloser(bytes.NewReader(bytes.ToUpper(payload)))
		}, want: "XAmzContentSHA256Mismatch"},
		{name: "signed-headers", req: presignRequest{method: "PUT", body: payload, headers: [][2]string{{"Content-Type", "image/png"}, {"X-Amz-Meta-Owner", "alice"}, {"X-Amz-Expected-Bucket-Owner", "123456789012"}}}, want: "ok"},
		{name: "session-token", req: presignRequest{token: "IQoJb3JpZ2luX2VjE"}, want: "ok", check: func(t *testing.T, o outcome) {
			if o.res.SessionToken != "IQoJb3JpZ2luX2VjE" {
				t.Fatalf("SessionToken = %q", o.res.SessionToken)
			}
		}},
		{name: "max-expiry", req: presignRequest{expires: "604800"}, v: func(v *Verifier) { v.Now = fixedClock(testTime.Add(604800 * time.Second)) }, want: "ok"},
		{name: "expired", req: presignRequest{expires: "60"}, v: func(v *Verifier) { v.Now = fixedClock(testTime.Add(61 * time.Second)) }, want: "ExpiredPresignedRequest"},
		{name: "not-yet-valid", req: presignRequest{}, v: func(v *Verifier) { v.Now = fixedClock(testTime.Add(-16 * time.Minute)) }, want: "RequestNotYetValid"},
		{name: "slightly-early", req: presignRequest{}, v: func(v *Verifier) { v.Now = fixedClock(testTime.Add(-5 * time.Minute)) }, want: "ok"},
		{name: "expiry-too-long", req: presignRequest{expires: "604801"}, want: "InvalidPresignExpiry"},
		{name: "expiry-zero", req: presignRequest{expires: "0"}, want: "InvalidPresignExpiry"},
		{name: "expiry-garbage", req: presignRequest{expires: "soon"}, want: "InvalidPresignExpiry"},
		{name: "tamper-query", req: presignRequest{query: url.Values{"versionId": {"1"}}}, tamper: func(r *http.Request) { setQuery(r, "versionId", "2") }, want: "SignatureDoesNotMatch"},
		{name: "tamper-expires", req: presignRequest{expires: "60"}, tamper: func(r *http.Request) { setQuery(r, "X-Amz-Expires", "600") }, want: "SignatureDoesNotMatch"},
		{name: "tamper-path", req: presignRequest{}, tamper: func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/bucket/other.txt", "" }, want: "SignatureDoesNotMatch"},
		{name: "tamper-signed-header", req: presignRequest{method: "PUT", body: payload, headers: [][2]string{{"Content-Type", "image/png"}}}, tamper: func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }, want: "SignatureDoesNotMatch"},
		{name: "wrong-secret", req: presignRequest{secret: "guess"}, want: "SignatureDoesNotMatch"},
		{name: "unsigned-amz-header", req: presignRequest{method: "PUT", body: payload}, tamper: func(r *http.Request) { r.Header.Set("X-Amz-Acl", "public-read") }, want: "HeadersNotSigned"},
		{name: "missing-signed-headers", req: presignRequest{}, tamper: func(r *http.Request) {
			q := r.URL.Query()
			q.Del("X-Amz-SignedHeaders")
			r.URL.RawQuery = q.Encode()
		}, want: "AuthorizationQueryParametersError"},
		{name: "repeated-credential", req: presignRequest{}, tamper: func(r *http.Request) {
			r.URL.RawQuery += "&X-Amz-Credential=" + url.QueryEscape(testAccessKey+"/20260314/"+testRegion+"/s3/aws4_request")
		}, want: "AuthorizationQueryParametersError"},
		{name: "sigv4a", req: presignRequest{}, tamper: func(r *http.Request) { setQuery(r, "X-Amz-Algorithm", sigV4AAlgorithm) }, want: "UnsupportedSignature"},
		{name: "other-algorithm", req: presignRequest{}, tamper: func(r *http.Request) { setQuery(r, "X-Amz-Algorithm", "HMAC-MD5") }, want: "AuthorizationQueryParametersError"},
		{name: "bad-date", req: presignRequest{}, tamper: func(r *http.Request) { setQuery(r, "X-Amz-Date", "2026-03-14T15:09:26Z") }, want: "AuthorizationQueryParametersError"},
		{name: "credential-date-mismatch", req: presignRequest{}, tamper: func(r *http.Request) { setQuery(r, "X-Amz-Date", "20260315T000000Z") }, want: "AuthorizationQueryParametersError"},
		{name: "wrong-service", req: presignRequest{}, tamper: func(r *http.Request) {
			setQuery(r, "X-Amz-Credential", testAccessKey+"/20260314/"+testRegion+"/ec2/aws4_request")
		}, want: "AuthorizationQueryParametersError"},
		{name: "region-mismatch", req: presignRequest{}, v: func(v *Verifier) { v.Region = "us-east-1" }, want: "AuthorizationQueryParametersError"},
		{name: "authorization-too", req: presignRequest{}, tamper: func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 x") }, want: "AmbiguousAuth"},
	}
	for _, tc := range tests {
		t.Run("case="+tc.name, func(t *testing.T) {
			v := testVerifier()
			if tc.v != nil {
				tc.v(v)
			}
			srv.setVerifier(v)
			req := tc.req.presign(t, srv.URL)
			if tc.tamper != nil {
				tc.tamper(req)
			}
			o := send(t, srv, req)
			if got := o.kind(); got != tc.want {
				t.Fatalf("outcome %s, want %s (verify: %v, body: %v)", got, tc.want, o.verifyErr, o.bodyErr)
			}
			if tc.check != nil {
				tc.check(t, o)
			}
		})
	}
}

func TestVerifyOtherSchemes(t *testing.T) {
	srv := newVerifyServer(t, testVerifier(), false)
	tests := []struct {
		name, authz, query string
		want               string
	}{
		{name: "anonymous", want: "ok"},
		{name: "anonymous-with-query", query: "list-type=2&prefix=a", want: "ok"},
		{name: "sigv2-header", authz: "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", want: "UnsupportedSignature"},
		{name: "sigv2-query", query: "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1141889120&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D", want: "UnsupportedSignature"},
		{name: "sigv4a-header", authz: "AWS4-ECDSA-P256-SHA256 Credential=AKID/20260314/s3/aws4_request, SignedHeaders=host, Signature=3045", want: "UnsupportedSignature"},
		{name: "bearer", authz: "Bearer eyJhbGciOi", want: "UnsupportedSignature"},
		{name: "sigv4-no-space", authz: "AWS4-HMAC-SHA256Credential=x", want: "AuthorizationHeaderMalformed"},
		{name: "sigv4-garbage", authz: "AWS4-HMAC-SHA256 garbage", want: "AuthorizationHeaderMalformed"},
		{name: "presign-partial", query: "X-Amz-Signature=abc", want: "AuthorizationQueryParametersError"},
		{name: "presign-encoded-key", query: "X-Amz%2DCredential=x", want: "AuthorizationQueryParametersError"},
	}
	for _, tc := range tests {
		t.Run("case="+tc.name, func(t *testing.T) {
			u := srv.URL + "/bucket/key"
			if tc.query != "" {
				u += "?" + tc.query
			}
			req, _ := http.NewRequest("GET", u, nil)
			if tc.authz != "" {
				req.Header.Set("Authorization", tc.authz)
				req.Header.Set("X-Amz-Date", testTime.Format(amzDateLayout))
			}
			o := send(t, srv, req)
			if got := o.kind(); got != tc.want {
				t.Fatalf("outcome %s, want %s (%v)", got, tc.want, o.verifyErr)
			}
			if tc.want == "ok" && !o.res.Anonymous {
				t.Fatalf("Anonymous = false, want true")
			}
		})
	}
}
