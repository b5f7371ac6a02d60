package s3api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/coffre-cloud/coffre/backend/fs"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/meta/sqlite"
	"github.com/coffre-cloud/coffre/s3api"
	"github.com/coffre-cloud/coffre/vault"
)

// fakeWeb is a WebIdentity that answers what the test sets and records
// its calls.
type fakeWeb struct {
	mu    sync.Mutex
	grant s3api.WebIdentityGrant
	err   error
	calls []string // "token tenant role"
}

func (f *fakeWeb) AssumeRole(_ context.Context, token, tenant, role string) (s3api.WebIdentityGrant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, token+" "+tenant+" "+role)
	return f.grant, f.err
}

func (f *fakeWeb) set(err error) {
	f.mu.Lock()
	f.err, f.calls = err, nil
	f.mu.Unlock()
}

func (f *fakeWeb) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// syncBuffer collects the server's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// stsStack is a site with STS: tenant t1 and its permanent key, a vault on
// a clock the test moves, and the S3 server over plain HTTP with a fake
// WebIdentity.
type stsStack struct {
	vault *vault.Vault
	srv   *httptest.Server
	web   *fakeWeb
	key   vault.AccessKey
	log   *syncBuffer
	mu    sync.Mutex
	now   time.Time
}

func newSTSStack(t *testing.T, withSTS bool) *stsStack {
	t.Helper()
	dir := t.TempDir()
	m, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	st, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	s := &stsStack{now: time.Now(), log: &syncBuffer{}, web: &fakeWeb{grant: s3api.WebIdentityGrant{
		Subject: "pairwise-sub", Audience: "agents-app", Provider: "http://127.0.0.1:9100", Ref: "0123456789abcdef"}}}
	log := slog.New(slog.NewJSONHandler(s.log, nil))
	s.vault = vault.New(vault.Config{Meta: m, Backend: st, Keys: testenv.Keyring(t), Region: region, Logger: log, Now: s.clock})
	ctx := context.Background()
	if _, err := s.vault.CreateTenant(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if s.key, err = s.vault.CreateAccessKey(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	c := s3api.Config{Vault: s.vault, Logger: log}
	if withSTS {
		c.WebIdentity = s.web
	}
	s.srv = httptest.NewServer(s3api.New(c))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stsStack) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *stsStack) advance(d time.Duration) {
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
}

// assumeForm is a valid AssumeRoleWithWebIdentity request for role.
func assumeForm(role string) url.Values {
	return url.Values{
		"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"},
		"RoleArn": {"arn:coffre:iam::t1:role/" + role}, "RoleSessionName": {"session-1"},
		"WebIdentityToken": {"eyJhbGciOiJFUzI1NiJ9.e30.c2ln"},
	}
}

// post sends an unsigned STS form, as the aws cli does.
func (s *stsStack) post(t *testing.T, form url.Values) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.srv.URL+"/", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return send(t, req)
}

type stsAnswer struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithWebIdentityResponse"`
	Result  struct {
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		} `xml:"Credentials"`
		SubjectFromWebIdentityToken string `xml:"SubjectFromWebIdentityToken"`
		Audience                    string `xml:"Audience"`
		Provider                    string `xml:"Provider"`
		AssumedRoleUser             struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
	} `xml:"AssumeRoleWithWebIdentityResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type stsErrorXML struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

// assume exchanges a token for credentials of role and returns them.
func (s *stsStack) assume(t *testing.T, role string) aws.Credentials {
	t.Helper()
	resp, body := s.post(t, assumeForm(role))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("AssumeRoleWithWebIdentity(%s): %d %s", role, resp.StatusCode, body)
	}
	var a stsAnswer
	if err := xml.Unmarshal(body, &a); err != nil {
		t.Fatalf("AssumeRoleWithWebIdentity(%s): %v\n%s", role, err, body)
	}
	c := a.Result.Credentials
	return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
}

// client is an SDK client with the given credentials.
func (s *stsStack) client(creds aws.Credentials) *s3.Client {
	return s3.New(s3.Options{
		Region:           region,
		BaseEndpoint:     aws.String(s.srv.URL),
		UsePathStyle:     true,
		Credentials:      credentials.StaticCredentialsProvider{Value: creds},
		HTTPClient:       s.srv.Client(),
		RetryMaxAttempts: 1,
		Retryer:          aws.NopRetryer{},
	})
}

// TestSTSAnswer checks the answer to AssumeRoleWithWebIdentity, POST form
// and GET query, element by element.
func TestSTSAnswer(t *testing.T) {
	s := newSTSStack(t, true)
	for _, c := range []struct {
		name, method, partition string
		duration                string
		want                    time.Duration
	}{
		{"method=POST", http.MethodPost, "coffre", "", time.Hour},
		{"method=GET", http.MethodGet, "coffre", "900", 15 * time.Minute},
		{"partition=aws", http.MethodPost, "aws", "43200", 12 * time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			form := assumeForm("writer")
			form.Set("RoleArn", "arn:"+c.partition+":iam::t1:role/writer")
			if c.duration != "" {
				form.Set("DurationSeconds", c.duration)
			}
			var resp *http.Response
			var body []byte
			if c.method == http.MethodGet {
				req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/?"+form.Encode(), nil)
				resp, body = send(t, req)
			} else {
				resp, body = s.post(t, form)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200\n%s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/xml" {
				t.Errorf("Content-Type = %q, want text/xml", ct)
			}
			var a stsAnswer
			if err := xml.Unmarshal(body, &a); err != nil {
				t.Fatalf("the answer is not an AssumeRoleWithWebIdentityResponse in the STS namespace: %v\n%s", err, body)
			}
			cr := a.Result.Credentials
			exp, err := time.Parse(time.RFC3339, cr.Expiration)
			if err != nil {
				t.Fatalf("Expiration %q: %v", cr.Expiration, err)
			}
			if want := s.clock().Add(c.want); exp.Before(want.Add(-time.Second)) || exp.After(want) {
				t.Errorf("Expiration = %v, want %v", exp, want)
			}
			for _, f := range []struct{ name, got, want string }{
				{"AccessKeyId prefix", cr.AccessKeyID[:2], "CT"},
				{"SubjectFromWebIdentityToken", a.Result.SubjectFromWebIdentityToken, "pairwise-sub"},
				{"Audience", a.Result.Audience, "agents-app"},
				{"Provider", a.Result.Provider, "http://127.0.0.1:9100"},
				{"AssumedRoleUser.Arn", a.Result.AssumedRoleUser.Arn, "arn:" + c.partition + ":sts::t1:assumed-role/writer/session-1"},
				{"AssumedRoleUser.AssumedRoleId", a.Result.AssumedRoleUser.AssumedRoleID, cr.AccessKeyID + ":session-1"},
				{"RequestId", a.RequestID, resp.Header.Get("x-amz-request-id")},
			} {
				if f.got != f.want {
					t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
				}
			}
			if len(cr.SecretAccessKey) != 40 || len(cr.SessionToken) < 43 {
				t.Errorf("SecretAccessKey of %d characters, SessionToken of %d: want 40 and at least 43 (32 random bytes)", len(cr.SecretAccessKey), len(cr.SessionToken))
			}
			k, err := s.vault.LookupKey(context.Background(), cr.AccessKeyID)
			if err != nil || k.Tenant != "t1" || k.Role != vault.RoleWriter || k.Subject != "0123456789abcdef" || !k.Expires.Equal(exp) {
				t.Fatalf("the vault's key: %+v, %v; want a writer key of t1 for the agent, expiring at %v", k, err, exp)
			}
			if calls := s.web.called(); len(calls) != 1 || calls[0] != "eyJhbGciOiJFUzI1NiJ9.e30.c2ln t1 writer" {
				t.Errorf("WebIdentity calls = %q, want one with the token, t1, writer", calls)
			}
			s.web.set(nil)
		})
	}
}

// TestSTSErrors checks every refusal: its status, the STS error document
// and its code, and that a malformed request never reaches the WebIdentity.
func TestSTSErrors(t *testing.T) {
	s := newSTSStack(t, true)
	form := func(edit func(url.Values)) url.Values {
		f := assumeForm("reader")
		edit(f)
		return f
	}
	for _, c := range []struct {
		name    string
		form    url.Values
		webErr  error
		status  int
		code    string
		reaches bool // the WebIdentity is asked
	}{
		{"token=foreign", assumeForm("reader"), fmt.Errorf("%w: signed by a key this provider does not publish", s3api.ErrInvalidIdentityToken), 400, "InvalidIdentityToken", true},
		{"token=replayed", assumeForm("reader"), fmt.Errorf("%w: the id_token was already exchanged", s3api.ErrInvalidIdentityToken), 400, "InvalidIdentityToken", true},
		{"token=expired", assumeForm("reader"), fmt.Errorf("%w: the id_token expired", s3api.ErrExpiredIdentityToken), 400, "ExpiredTokenException", true},
		{"client=revoked", assumeForm("reader"), fmt.Errorf("%w: client x was revoked", s3api.ErrIdentityClaimRejected), 403, "IDPRejectedClaim", true},
		{"agent=no", assumeForm("reader"), fmt.Errorf("%w: the resident is not an agent of tenant t1", s3api.ErrRoleNotAllowed), 403, "AccessDenied", true},
		{"register=down", assumeForm("reader"), fmt.Errorf("%w: the register is sealed", s3api.ErrIdentityUnavailable), 400, "IDPCommunicationError", true},
		{"web=unknown error", assumeForm("reader"), errors.New("secret detail of a bug"), 500, "InternalFailure", true},
		{"tenant=unknown", form(func(f url.Values) { f.Set("RoleArn", "arn:coffre:iam::nobody:role/reader") }), nil, 403, "AccessDenied", true},
		{"role=owner", assumeForm("owner"), nil, 403, "AccessDenied", false},
		{"RoleArn=none", form(func(f url.Values) { f.Del("RoleArn") }), nil, 400, "ValidationError", false},
		{"RoleArn=user", form(func(f url.Values) { f.Set("RoleArn", "arn:coffre:iam::t1:user/reader") }), nil, 400, "ValidationError", false},
		{"RoleArn=path", form(func(f url.Values) { f.Set("RoleArn", "arn:coffre:iam::t1:role/a/reader") }), nil, 400, "ValidationError", false},
		{"RoleArn=partition", form(func(f url.Values) { f.Set("RoleArn", "arn:aws-cn:iam::t1:role/reader") }), nil, 400, "ValidationError", false},
		{"RoleSessionName=none", form(func(f url.Values) { f.Del("RoleSessionName") }), nil, 400, "ValidationError", false},
		{"RoleSessionName=space", form(func(f url.Values) { f.Set("RoleSessionName", "a b") }), nil, 400, "ValidationError", false},
		{"WebIdentityToken=none", form(func(f url.Values) { f.Del("WebIdentityToken") }), nil, 400, "ValidationError", false},
		{"WebIdentityToken=long", form(func(f url.Values) { f.Set("WebIdentityToken", strings.Repeat("a", 20001)) }), nil, 400, "ValidationError", false},
		{"DurationSeconds=899", form(func(f url.Values) { f.Set("DurationSeconds", "899") }), nil, 400, "ValidationError", false},
		{"DurationSeconds=43201", form(func(f url.Values) { f.Set("DurationSeconds", "43201") }), nil, 400, "ValidationError", false},
		{"DurationSeconds=hour", form(func(f url.Values) { f.Set("DurationSeconds", "hour") }), nil, 400, "ValidationError", false},
		{"Policy=set", form(func(f url.Values) { f.Set("Policy", `{"Version":"2012-10-17"}`) }), nil, 400, "ValidationError", false},
		{"PolicyArns=set", form(func(f url.Values) { f.Set("PolicyArns.member.1.arn", "arn:aws:iam::aws:policy/x") }), nil, 400, "ValidationError", false},
		{"parameter=repeated", form(func(f url.Values) { f.Add("RoleArn", "arn:coffre:iam::t1:role/admin") }), nil, 400, "ValidationError", false},
		{"Action=AssumeRole", form(func(f url.Values) { f.Set("Action", "AssumeRole") }), nil, 400, "InvalidAction", false},
		{"Action=none", form(func(f url.Values) { f.Del("Action") }), nil, 400, "InvalidAction", false},
		{"Version=old", form(func(f url.Values) { f.Set("Version", "2010-01-01") }), nil, 400, "InvalidAction", false},
		{"body=too large", form(func(f url.Values) { f.Set("Padding", strings.Repeat("x", 70<<10)) }), nil, 400, "ValidationError", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.web.set(c.webErr)
			resp, body := s.post(t, c.form)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, c.status, body)
			}
			var e stsErrorXML
			if err := xml.Unmarshal(body, &e); err != nil {
				t.Fatalf("the answer is not an STS ErrorResponse: %v\n%s", err, body)
			}
			wantType := "Sender"
			if c.status >= 500 {
				wantType = "Receiver"
			}
			if e.Error.Code != c.code || e.Error.Type != wantType || e.Error.Message == "" || e.RequestID != resp.Header.Get("x-amz-request-id") {
				t.Fatalf("error %+v, RequestId %q: want code %s, type %s, a message and the RequestId %q", e.Error, e.RequestID, c.code, wantType, resp.Header.Get("x-amz-request-id"))
			}
			if strings.Contains(e.Error.Message, "secret detail") {
				t.Errorf("an internal error's detail reached the client: %q", e.Error.Message)
			}
			if got := len(s.web.called()) > 0; got != c.reaches {
				t.Errorf("WebIdentity asked: %v, want %v", got, c.reaches)
			}
		})
	}
	if keys, err := s.vault.AccessKeys(context.Background(), "t1"); err != nil || len(keys) != 1 {
		t.Errorf("t1 has %d access keys (%v) after the refusals, want its permanent key only", len(keys), err)
	}
}

// TestSTSAuditLog: every exchange and every refusal is one structured
// event with the audit fields.
func TestSTSAuditLog(t *testing.T) {
	s := newSTSStack(t, true)
	s.assume(t, "admin")
	s.web.set(fmt.Errorf("%w: the resident is not an agent of tenant t1", s3api.ErrRoleNotAllowed))
	s.post(t, assumeForm("reader"))
	var events []map[string]any
	for line := range strings.SplitSeq(s.log.String(), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil && ev["event"] == "sts.assume_role" {
			events = append(events, ev)
		}
	}
	if len(events) != 2 {
		t.Fatalf("%d sts.assume_role events, want 2 (one exchange, one refusal)\n%s", len(events), s.log.String())
	}
	for i, want := range []map[string]any{
		{"subject": "0123456789abcdef", "client": "agents-app", "tenant": "t1", "role": "admin", "result": "ok", "source": "127.0.0.1"},
		{"subject": "0123456789abcdef", "client": "agents-app", "tenant": "t1", "role": "reader", "result": "AccessDenied", "source": "127.0.0.1"},
	} {
		for k, v := range want {
			if events[i][k] != v {
				t.Errorf("event %d: %s = %v, want %v", i, k, events[i][k], v)
			}
		}
		if _, ok := events[i]["time"]; !ok {
			t.Errorf("event %d has no time", i)
		}
	}
	if events[0]["access_key"] == nil || events[1]["reason"] == nil {
		t.Errorf("the exchange's event names no access key, or the refusal's no reason: %v", events)
	}
}

// TestSTSOff: without a WebIdentity, "/" serves no STS: the unsigned form
// is refused as any unsigned S3 request.
func TestSTSOff(t *testing.T) {
	s := newSTSStack(t, false)
	resp, body := s.post(t, assumeForm("admin"))
	wantError(t, resp, body, http.StatusForbidden, "AccessDenied")
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/?"+assumeForm("admin").Encode(), nil)
	resp, body = send(t, req)
	wantError(t, resp, body, http.StatusForbidden, "AccessDenied")
}

// TestSTSCredentials uses temporary credentials with the SDK: the roles,
// the session token and the expiry.
func TestSTSCredentials(t *testing.T) {
	s := newSTSStack(t, true)
	ctx := context.Background()
	admin := s.client(aws.Credentials{AccessKeyID: s.key.ID, SecretAccessKey: s.key.Secret})
	createBucket(t, admin, "data")
	putObject(t, admin, "data", "a.txt", []byte("hello"))
	n := 0
	fresh := func(prefix string) string { n++; return fmt.Sprintf("%s-%d", prefix, n) }
	upload := func(c *s3.Client, key string) (*string, error) {
		out, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("data"), Key: aws.String(key)})
		if err != nil {
			return nil, err
		}
		return out.UploadId, nil
	}
	const (
		reader = 1
		writer = 2
		admin_ = 3
	)
	ops := []struct {
		name string
		need int
		do   func(c *s3.Client) error
	}{
		{"ListBuckets", reader, func(c *s3.Client) error { _, err := c.ListBuckets(ctx, &s3.ListBucketsInput{}); return err }},
		{"HeadBucket", reader, func(c *s3.Client) error {
			_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("data")})
			return err
		}},
		{"ListObjectsV2", reader, func(c *s3.Client) error {
			_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("data")})
			return err
		}},
		{"ListObjectVersions", reader, func(c *s3.Client) error {
			_, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("data")})
			return err
		}},
		{"ListMultipartUploads", reader, func(c *s3.Client) error {
			_, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("data")})
			return err
		}},
		{"GetBucketVersioning", reader, func(c *s3.Client) error {
			_, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("data")})
			return err
		}},
		{"GetObject", reader, func(c *s3.Client) error {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("a.txt")})
			if err == nil {
				out.Body.Close()
			}
			return err
		}},
		{"HeadObject", reader, func(c *s3.Client) error {
			_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("a.txt")})
			return err
		}},
		{"GetObjectTagging", reader, func(c *s3.Client) error {
			_, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("data"), Key: aws.String("a.txt")})
			return err
		}},
		{"PutObject", writer, func(c *s3.Client) error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String(fresh("put")), Body: strings.NewReader("x")})
			return err
		}},
		{"CopyObject", writer, func(c *s3.Client) error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("data"), Key: aws.String(fresh("copy")), CopySource: aws.String("data/a.txt")})
			return err
		}},
		{"PutObjectTagging", writer, func(c *s3.Client) error {
			_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("data"), Key: aws.String("a.txt"),
				Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}})
			return err
		}},
		{"DeleteObject", writer, func(c *s3.Client) error {
			key := fresh("del")
			putObject(t, admin, "data", key, []byte("x"))
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("data"), Key: aws.String(key)})
			return err
		}},
		{"DeleteObjects", writer, func(c *s3.Client) error {
			_, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("data"),
				Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String(fresh("gone"))}}}})
			return err
		}},
		{"MultipartUpload", writer, func(c *s3.Client) error {
			key := fresh("mpu")
			id, err := upload(c, key)
			if err != nil {
				return err
			}
			part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("data"), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(1), Body: strings.NewReader("part")})
			if err != nil {
				return err
			}
			_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("data"), Key: aws.String(key), UploadId: id,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
			return err
		}},
		{"AbortMultipartUpload", writer, func(c *s3.Client) error {
			key := fresh("abort")
			id, err := upload(admin, key)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("data"), Key: aws.String(key), UploadId: id})
			return err
		}},
		{"CreateBucket", admin_, func(c *s3.Client) error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(fresh("bucket"))})
			return err
		}},
		{"DeleteBucket", admin_, func(c *s3.Client) error {
			name := fresh("empty")
			createBucket(t, admin, name)
			_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
			return err
		}},
		{"PutBucketVersioning", admin_, func(c *s3.Client) error {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("data"),
				VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
			return err
		}},
		{"PutBucketTagging", admin_, func(c *s3.Client) error {
			_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("data"),
				Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}}})
			return err
		}},
		{"PutObjectAcl", admin_, func(c *s3.Client) error {
			_, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("data"), Key: aws.String("a.txt"), ACL: types.ObjectCannedACLPrivate})
			return err
		}},
	}
	for i, role := range []string{"reader", "writer", "admin"} {
		c := s.client(s.assume(t, role))
		for _, op := range ops {
			t.Run("role="+role+"/op="+op.name, func(t *testing.T) {
				err := op.do(c)
				if i+1 >= op.need {
					if err != nil {
						t.Fatalf("%s as %s: %v, want success", op.name, role, err)
					}
					return
				}
				wantAPIError(t, err, http.StatusForbidden, "AccessDenied")
			})
		}
	}

	creds := s.assume(t, "reader")
	get := func(c aws.Credentials) error {
		_, err := s.client(c).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("data")})
		return err
	}
	t.Run("token=none", func(t *testing.T) {
		c := creds
		c.SessionToken = ""
		_, err := s.client(c).ListBuckets(ctx, &s3.ListBucketsInput{})
		wantAPIError(t, err, http.StatusForbidden, "AccessDenied")
	})
	t.Run("token=other", func(t *testing.T) {
		c := creds
		c.SessionToken = s.assume(t, "reader").SessionToken
		_, err := s.client(c).ListBuckets(ctx, &s3.ListBucketsInput{})
		wantAPIError(t, err, http.StatusBadRequest, "InvalidToken")
	})
	t.Run("key=permanent/token=some", func(t *testing.T) {
		_, err := s.client(aws.Credentials{AccessKeyID: s.key.ID, SecretAccessKey: s.key.Secret, SessionToken: creds.SessionToken}).ListBuckets(ctx, &s3.ListBucketsInput{})
		wantAPIError(t, err, http.StatusBadRequest, "InvalidToken")
	})
	t.Run("presigned", func(t *testing.T) {
		pr, err := s3.NewPresignClient(s.client(creds)).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("a.txt")})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(pr.URL, "X-Amz-Security-Token=") {
			t.Fatalf("presigned URL %s carries no session token", pr.URL)
		}
		resp, err := http.Get(pr.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "hello" {
			t.Fatalf("presigned GET with temporary credentials: %d %q, want 200 hello", resp.StatusCode, b)
		}
		u, _ := url.Parse(pr.URL)
		q := u.Query()
		q.Del("X-Amz-Security-Token")
		u.RawQuery = q.Encode()
		resp, err = http.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("presigned GET without its session token: %d, want 403", resp.StatusCode)
		}
	})
	t.Run("expired", func(t *testing.T) {
		if err := get(creds); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		s.advance(time.Hour + time.Second)
		c := s.client(creds)
		_, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		wantAPIError(t, err, http.StatusBadRequest, "ExpiredToken")
		if n, err := s.vault.ExpireTemporaryKeys(ctx); err != nil || n == 0 {
			t.Fatalf("ExpireTemporaryKeys = %d, %v; want the expired keys deleted", n, err)
		}
		if _, err := admin.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
			t.Fatalf("the tenant's permanent key after the expiry: %v", err)
		}
	})
}
