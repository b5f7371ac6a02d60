package sigv4

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseAuthorization(t *testing.T) {
	const sig = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
	const cred = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
	tests := []struct {
		name, in, want string
	}{
		{"aws-doc-example", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;range;x-amz-date, Signature=" + sig, "ok"},
		{"no-spaces", "AWS4-HMAC-SHA256 Credential=" + cred + ",SignedHeaders=host;range;x-amz-date,Signature=" + sig, "ok"},
		{"any-order", "AWS4-HMAC-SHA256 Signature=" + sig + ", Credential=" + cred + ", SignedHeaders=host", "ok"},
		{"extra-spaces", "AWS4-HMAC-SHA256   Credential=" + cred + " ,  SignedHeaders=host ,Signature=" + sig, "ok"},
		{"upper-hex-signature", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=FE5F80F77D5FA3BECA038A248FF027D0445342FE2855DDC963176630326F1024", "ok"},
		{"missing-signature", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host", "AuthorizationHeaderMalformed"},
		{"missing-credential", "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + sig, "AuthorizationHeaderMalformed"},
		{"missing-signed-headers", "AWS4-HMAC-SHA256 Credential=" + cred + ", Signature=" + sig, "AuthorizationHeaderMalformed"},
		{"repeated-component", "AWS4-HMAC-SHA256 Credential=" + cred + ", Credential=" + cred + ", SignedHeaders=host, Signature=" + sig, "AuthorizationHeaderMalformed"},
		{"unknown-component", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + sig + ", Extra=1", "AuthorizationHeaderMalformed"},
		{"trailing-comma", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + sig + ",", "ok"},
		{"empty-component", "AWS4-HMAC-SHA256 Credential=" + cred + ",, SignedHeaders=host, Signature=" + sig, "ok"},
		{"no-components", "AWS4-HMAC-SHA256 ", "AuthorizationHeaderMalformed"},
		{"short-signature", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=fe5f", "AuthorizationHeaderMalformed"},
		{"non-hex-signature", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + sig[:63] + "g", "AuthorizationHeaderMalformed"},
		{"empty-signed-header", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;;x-amz-date, Signature=" + sig, "AuthorizationHeaderMalformed"},
		{"bad-header-name", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;x amz, Signature=" + sig, "AuthorizationHeaderMalformed"},
		{"wrong-service", "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=" + sig, "AuthorizationHeaderMalformed"},
		{"wrong-terminator", "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=" + sig, "AuthorizationHeaderMalformed"},
		{"short-scope", "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1, SignedHeaders=host, Signature=" + sig, "AuthorizationHeaderMalformed"},
		{"long-scope", "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request/x, SignedHeaders=host, Signature=" + sig, "AuthorizationHeaderMalformed"},
		{"bad-date", "AWS4-HMAC-SHA256 Credential=AKID/20131324/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, "AuthorizationHeaderMalformed"},
		{"empty-region", "AWS4-HMAC-SHA256 Credential=AKID/20130524//s3/aws4_request, SignedHeaders=host, Signature=" + sig, "AuthorizationHeaderMalformed"},
		{"empty-access-key", "AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, "AuthorizationHeaderMalformed"},
		{"sigv2", "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=", "UnsupportedSignature"},
		{"sigv4a", "AWS4-ECDSA-P256-SHA256 Credential=AKID/20130524/s3/aws4_request, SignedHeaders=host;x-amz-region-set, Signature=3045", "UnsupportedSignature"},
		{"empty", "", "UnsupportedSignature"},
	}
	for _, tc := range tests {
		t.Run("case="+tc.name, func(t *testing.T) {
			a, err := parseAuthorization(tc.in)
			if got := kindOf(err); got != tc.want {
				t.Fatalf("parseAuthorization: %s (%v), want %s", got, err, tc.want)
			}
			if tc.want == "ok" {
				if a.accessKey != "AKIAIOSFODNN7EXAMPLE" || a.date != "20130524" || a.region != "us-east-1" || a.scope != "20130524/us-east-1/s3/aws4_request" {
					t.Fatalf("credential = %+v", a.credential)
				}
			}
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		raw, want string
		presigned bool
	}{
		{"", "", false},
		{"acl", "acl=", false},
		{"b=2&a=1", "a=1&b=2", false},
		{"a=2&a=1&a=10", "a=1&a=10&a=2", false},
		{"prefix=a+b", "prefix=a%20b", false},
		{"prefix=a%20b", "prefix=a%20b", false},
		{"prefix=a%2bb", "prefix=a%2Bb", false},
		{"k=%7E~*'()!", "k=~~%2A%27%28%29%21", false},
		{"k=%zz", "k=%25zz", false},
		{"k=%e2%82%ac", "k=%E2%82%AC", false},
		{"&&a=1&", "a=1", false},
		// Sorting happens after encoding: "a-b" sorts after "a/b" decoded, before encoded.
		{"k=a%2Fb&k=a-b", "k=a%2Fb&k=a-b", false},
		{"X-Amz-Signature=abc&X-Amz-Date=1", "X-Amz-Date=1", true},
		{"X-Amz-Signature=abc&X-Amz-Date=1", "X-Amz-Date=1&X-Amz-Signature=abc", false},
	}
	for _, tc := range tests {
		s := &scratch{}
		if got := string(s.appendCanonicalQuery(nil, tc.raw, tc.presigned)); got != tc.want {
			t.Errorf("canonical query of %q (presigned %v) = %q, want %q", tc.raw, tc.presigned, got, tc.want)
		}
	}
}

func TestRawPath(t *testing.T) {
	tests := []struct{ requestURI, want string }{
		{"/bucket/key", "/bucket/key"},
		{"/bucket/a%20b?x=1", "/bucket/a%20b"},
		{"/", "/"},
		{"http://host/bucket/a%2Fb?q", "/bucket/a%2Fb"},
		{"http://host", "/"},
		{"http://host?x", "/"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RequestURI = tc.requestURI
		if got := rawPath(r); got != tc.want {
			t.Errorf("rawPath(%q) = %q, want %q", tc.requestURI, got, tc.want)
		}
	}
	if got, want := encodedPath("/b/ä b+c~"), "/b/%C3%A4%20b%2Bc~"; got != want {
		t.Errorf("encodedPath = %q, want %q", got, want)
	}
}

func TestCanonicalHeaderValues(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "bucket.s3.example.com:8443"
	r.Header["X-Amz-Meta-A"] = []string{"  one   two  ", "three"}
	r.Header["X-Amz-Meta-B"] = []string{"\tx\t"}
	r.Header["Weird_key"] = []string{"v"} // textproto's canonical form of weird_key
	r.ContentLength = 42
	got := string(appendCanonicalHeaders(nil, r, "content-length;host;weird_key;x-amz-meta-a;x-amz-meta-b;x-amz-missing"))
	want := "content-length:42\nhost:bucket.s3.example.com:8443\nweird_key:v\nx-amz-meta-a:one two,three\nx-amz-meta-b:x\nx-amz-missing:\n"
	if got != want {
		t.Fatalf("canonical headers:\n%s\nwant:\n%s", got, want)
	}
}

func TestHeaderDate(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    string
		err     string
	}{
		{"x-amz-date", map[string]string{"X-Amz-Date": "20260314T150926Z"}, "20260314T150926Z", "ok"},
		{"x-amz-date-wins", map[string]string{"X-Amz-Date": "20260314T150926Z", "Date": "Mon, 02 Jan 2006 15:04:05 GMT"}, "20260314T150926Z", "ok"},
		{"date-rfc1123", map[string]string{"Date": "Sat, 14 Mar 2026 15:09:26 GMT"}, "20260314T150926Z", "ok"},
		{"date-rfc850", map[string]string{"Date": "Saturday, 14-Mar-26 15:09:26 GMT"}, "20260314T150926Z", "ok"},
		{"none", nil, "", "MissingDate"},
		{"bad-amz-date", map[string]string{"X-Amz-Date": "20260314T150926"}, "", "MissingDate"},
		{"bad-date", map[string]string{"Date": "yesterday"}, "", "MissingDate"},
	}
	for _, tc := range tests {
		t.Run("case="+tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			got, tm, err := headerDate(h)
			if k := kindOf(err); k != tc.err {
				t.Fatalf("headerDate: %s, want %s", k, tc.err)
			}
			if got != tc.want {
				t.Fatalf("date = %q, want %q", got, tc.want)
			}
			if err == nil && !tm.Equal(time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)) {
				t.Fatalf("time = %v", tm)
			}
		})
	}
}

func TestStripAWSChunked(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"gzip"}, "gzip"},
		{[]string{"aws-chunked"}, ""},
		{[]string{"aws-chunked,gzip"}, "gzip"},
		{[]string{"gzip, AWS-Chunked"}, "gzip"},
		{[]string{"aws-chunked", "gzip", "br"}, "gzip,br"},
	}
	for _, tc := range tests {
		if got := stripAWSChunked(tc.in); got != tc.want {
			t.Errorf("stripAWSChunked(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestKeyCacheBounded fills the signing-key cache past its bound.
func TestKeyCacheBounded(t *testing.T) {
	var c keyCache
	first := c.get("secret-0", "20260314", "r")
	for i := 1; i < maxCachedKeys*2; i++ {
		c.get("secret-"+string(rune('a'+i%26))+string(rune(i)), "20260314", "r")
	}
	if n := len(c.m); n > maxCachedKeys {
		t.Fatalf("cache holds %d keys, bound is %d", n, maxCachedKeys)
	}
	if again := c.get("secret-0", "20260314", "r"); again.key != first.key {
		t.Fatal("re-derived key differs")
	}
}

// TestLookupError: an error of the secret store is not reported as a bad
// signature or an unknown key.
func TestLookupError(t *testing.T) {
	storeDown := errors.New("key store unavailable")
	v := testVerifier()
	v.Lookup = func(context.Context, string) (string, error) { return "", storeDown }
	srv := newVerifyServer(t, v, false)
	o := send(t, srv, sdkRequest{}.sign(t, srv.URL))
	if !errors.Is(o.verifyErr, storeDown) || strings.HasPrefix(kindOf(o.verifyErr), "ok") || !strings.HasPrefix(kindOf(o.verifyErr), "other") {
		t.Fatalf("Verify = %v (%s), want the Lookup error and no sentinel", o.verifyErr, kindOf(o.verifyErr))
	}
}
