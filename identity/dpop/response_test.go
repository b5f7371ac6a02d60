package dpop

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/replay"
	"github.com/go-jose/go-jose/v4"
)

func TestWriteTokenError(t *testing.T) {
	nonces := NewNonces(time.Minute)
	for _, c := range []struct {
		name   string
		err    error
		nonces *Nonces
		status int
		code   string
	}{
		{"invalid", invalid("htm %q does not match", "GET"), nonces, 400, "invalid_dpop_proof"},
		{"missing", ErrMissing, nil, 400, "invalid_dpop_proof"},
		{"nonce", fmt.Errorf("dpop: %w: the server requires a nonce", ErrUseNonce), nonces, 400, "use_dpop_nonce"},
		{"full", fmt.Errorf("dpop: recording jti: %w", replay.ErrFull), nonces, 503, "temporarily_unavailable"},
		{"other", errors.New("dpop: Verifier.Replay is nil"), nil, 503, "temporarily_unavailable"},
	} {
		t.Run("err="+c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteTokenError(w, c.err, c.nonces)
			if w.Code != c.status {
				t.Fatalf("status = %d, want %d", w.Code, c.status)
			}
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if body.Error != c.code {
				t.Fatalf("error = %q, want %q", body.Error, c.code)
			}
			if body.Description == "" {
				t.Fatal("no error_description")
			}
			h := w.Result().Header
			if got := h.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := h.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if got := h.Values("DPoP-Nonce"); (c.nonces != nil) != (len(got) == 1) || c.nonces != nil && !nonces.Valid(got[0]) {
				t.Errorf("DPoP-Nonce = %q, want one valid nonce iff nonces are given", got)
			}
		})
	}
}

func TestWriteTokenErrorDescription(t *testing.T) {
	w := httptest.NewRecorder()
	WriteTokenError(w, invalid("htm %q does not match \\ \x01 é", `"GET"`), nil)
	var body map[string]string
	json.Unmarshal(w.Body.Bytes(), &body)
	if got, want := body["error_description"], `htm '/'GET/'' does not match / ? ?`; got != want {
		t.Fatalf("error_description = %q, want %q", got, want)
	}
}

func TestWriteResourceError(t *testing.T) {
	nonces := NewNonces(time.Minute)
	algs := []jose.SignatureAlgorithm{jose.ES256, jose.PS256}
	for _, c := range []struct {
		name      string
		err       error
		status    int
		challenge string
	}{
		{"no credentials", nil, 401, `DPoP algs="ES256 PS256"`},
		{"invalid", invalid("ath is not the hash of the access token"), 401,
			`DPoP error="invalid_dpop_proof", error_description="ath is not the hash of the access token", algs="ES256 PS256"`},
		{"missing", ErrMissing, 401,
			`DPoP error="invalid_dpop_proof", error_description="the request has no DPoP header", algs="ES256 PS256"`},
		{"nonce", fmt.Errorf("dpop: %w: the server requires a nonce in DPoP proofs", ErrUseNonce), 401,
			`DPoP error="use_dpop_nonce", error_description="the server requires a nonce in DPoP proofs", algs="ES256 PS256"`},
		{"full", fmt.Errorf("dpop: recording jti: %w", replay.ErrFull), 503, ""},
	} {
		t.Run("err="+c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteResourceError(w, c.err, algs, nonces)
			if w.Code != c.status {
				t.Fatalf("status = %d, want %d", w.Code, c.status)
			}
			h := w.Result().Header
			if got := h.Get("WWW-Authenticate"); got != c.challenge {
				t.Fatalf("WWW-Authenticate = %s\nwant %s", got, c.challenge)
			}
			if got := h.Get("DPoP-Nonce"); !nonces.Valid(got) {
				t.Fatalf("DPoP-Nonce = %q, want a valid nonce", got)
			}
			if got := h.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
		})
	}
	if got, want := ResourceChallenge(nil, nil), `DPoP algs="ES256 PS256 EdDSA"`; got != want {
		t.Fatalf("ResourceChallenge(nil, nil) = %s, want %s", got, want)
	}
	if got := ResourceChallenge(errors.New("dpop: Verifier.Replay is nil"), nil); strings.Contains(got, "Replay") {
		t.Fatalf("ResourceChallenge describes a server failure to the client: %s", got)
	}
}

// TestResponsesEndToEnd drives the nonce flow of RFC 9449 §8 through an
// HTTP handler built on Verify and WriteTokenError.
func TestResponsesEndToEnd(t *testing.T) {
	nonces := NewNonces(time.Minute)
	v := &Verifier{Replay: replay.New(100), Nonces: nonces}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := v.Verify(r.Header, r.Method, "https://id.example.fr"+r.URL.Path, ""); err != nil {
			WriteTokenError(w, err, nonces)
			return
		}
		w.Header().Set("DPoP-Nonce", nonces.Current())
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	post := func(p string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/token", nil)
		req.Header.Set("DPoP", p)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	now := time.Now().Unix()
	resp := post(proof(t, spec{claims: map[string]any{"iat": now}}))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("without nonce: status %d, want 400", resp.StatusCode)
	}
	nonce := resp.Header.Get("DPoP-Nonce")
	resp = post(proof(t, spec{claims: map[string]any{"iat": now, "nonce": nonce}}))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with the nonce: status %d, want 200", resp.StatusCode)
	}
}
