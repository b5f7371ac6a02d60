package s3api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRefusedUploadKeepsConnectionSane refuses uploads before reading their
// bodies, and checks that the next request on the same kept-alive
// connection is answered as itself: the refused body's bytes must never be
// parsed as a request.
func TestRefusedUploadKeepsConnectionSane(t *testing.T) {
	s := newStack(t)
	if resp, body := s.do(t, s.key, http.MethodPut, "/sane", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("CreateBucket: %d %s", resp.StatusCode, body)
	}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	do := func(req *http.Request) (int, string) {
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	big := []byte(strings.Repeat("x", 600<<10))
	for i := range 50 {
		code, body := do(s.signed(t, s.key, http.MethodPut, "/no-such-bucket/k", big, nil, time.Now()))
		if code != http.StatusNotFound || !strings.Contains(body, "<Code>NoSuchBucket</Code>") {
			t.Fatalf("round %d: refused PUT: %d %q", i, code, body)
		}
		code, body = do(s.signed(t, s.key, http.MethodGet, "/sane?location", nil, nil, time.Now()))
		if code != http.StatusOK || !strings.Contains(body, "LocationConstraint") {
			t.Fatalf("round %d: the request after a refused PUT: %d %q", i, code, body)
		}
	}
}
