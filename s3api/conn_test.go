package s3api_test

import (
	"bufio"
	"io"
	"net"
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

// TestExpectContinueEmptyBody checks the interim responses on one kept-alive
// connection: a request that expects 100-continue gets exactly one 100
// before its final response, an empty body included (botocore mis-parses
// the next response on the connection otherwise: see ServeHTTP), and a
// request that does not expect it gets none.
func TestExpectContinueEmptyBody(t *testing.T) {
	s := newStack(t)
	if resp, body := s.do(t, s.key, http.MethodPut, "/expect", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("CreateBucket: %d %s", resp.StatusCode, body)
	}
	conn, err := net.Dial("tcp", s.plain.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	expect := http.Header{"Expect": {"100-continue"}}
	for _, tc := range []struct {
		name       string
		method     string
		target     string
		body       []byte
		hdr        http.Header
		interim    bool // a 100 Continue comes first
		wantStatus int
	}{
		{"empty PUT expecting 100", http.MethodPut, "/expect/empty", nil, expect, true, http.StatusOK},
		{"PUT with a body expecting 100", http.MethodPut, "/expect/full", []byte("hello"), expect, true, http.StatusOK},
		{"empty PUT not expecting 100", http.MethodPut, "/expect/empty2", nil, nil, false, http.StatusOK},
		{"refused empty PUT expecting 100", http.MethodPut, "/no-such-bucket/k", nil, expect, true, http.StatusNotFound},
		{"GET after them", http.MethodGet, "/expect/full", nil, nil, false, http.StatusOK},
	} {
		req := s.signed(t, s.key, tc.method, tc.target, tc.body, tc.hdr, time.Now())
		if err := req.Write(conn); err != nil {
			t.Fatalf("%s: writing the request: %v", tc.name, err)
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("%s: reading the response: %v", tc.name, err)
		}
		if tc.interim {
			if resp.StatusCode != http.StatusContinue {
				t.Fatalf("%s: first response %s, want 100 Continue", tc.name, resp.Status)
			}
			if resp, err = http.ReadResponse(br, req); err != nil {
				t.Fatalf("%s: reading the final response: %v", tc.name, err)
			}
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s: reading the body: %v", tc.name, err)
		}
		if resp.StatusCode != tc.wantStatus {
			t.Fatalf("%s: %s %q, want status %d", tc.name, resp.Status, body, tc.wantStatus)
		}
		if resp.Close {
			t.Fatalf("%s: the server closes the connection", tc.name)
		}
	}
}
