package s3api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/coffre-cloud/coffre/s3api"
)

// TestUsageMetrics checks the per-tenant, per-offer series of /metrics.
func TestUsageMetrics(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.sdk(s.key)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("metered")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("metered"), Key: aws.String(k), Body: strings.NewReader("12345")}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("metered"), Key: aws.String("a")})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, out.Body)
	out.Body.Close()

	m := httptest.NewServer(s3api.New(s3api.Config{Vault: s.vault, Metrics: true}))
	defer m.Close()
	resp, err := http.Get(m.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`coffre_tenant_stored_bytes{tenant="t1",offer="default"} 10`,
		`coffre_tenant_stored_blobs{tenant="t1",offer="default"} 2`,
		`coffre_tenant_objects{tenant="t1"} 2`,
		`coffre_tenant_egress_bytes_total{tenant="t1",offer="default"} 5`,
		// The PUTs and the GET; CreateBucket is counted from the next
		// request on, once the bucket exists.
		`coffre_tenant_requests_total{tenant="t1",offer="default"} 3`,
		"# TYPE coffre_tenant_requests_total counter",
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}

// TestCreateBucketPlacement checks the forms of a placement request on a
// site without placement rules: every bucket goes to its one offer.
func TestCreateBucketPlacement(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	c := s.sdk(s.key)
	for _, lc := range []string{"low", "default", "medium:default"} {
		name := "placed-" + strings.ReplaceAll(lc, ":", "-")
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name),
			CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(lc)}})
		if err != nil {
			t.Errorf("LocationConstraint %s: %v", lc, err)
		}
	}
	resp, _ := s.do(t, s.key, http.MethodHead, "/placed-low", nil, nil)
	if got := resp.Header.Get("x-coffre-sensitivity"); got != "low" {
		t.Errorf("HeadBucket x-coffre-sensitivity %q, want low", got)
	}
	if got := resp.Header.Get("x-coffre-offer"); got != "default" {
		t.Errorf("HeadBucket x-coffre-offer %q, want default", got)
	}
	resp, body := s.do(t, s.key, http.MethodPut, "/by-header", nil, http.Header{"X-Coffre-Sensitivity": {"secret"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "<Code>InvalidArgument</Code>") {
		t.Errorf("x-coffre-sensitivity: secret: %d %s", resp.StatusCode, body)
	}
	resp, body = s.do(t, s.key, http.MethodPut, "/by-header", nil, http.Header{"X-Coffre-Offer": {"elsewhere"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "<Code>InvalidLocationConstraint</Code>") {
		t.Errorf("x-coffre-offer: elsewhere: %d %s", resp.StatusCode, body)
	}
	resp, body = s.do(t, s.key, http.MethodPut, "/by-header", nil, http.Header{"X-Coffre-Sensitivity": {"medium"}})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("x-coffre-sensitivity: medium: %d %s", resp.StatusCode, body)
	}
}
