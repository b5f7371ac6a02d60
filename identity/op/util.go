package op

import (
	"encoding/base64"
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"slices"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func marshalJSON(v any) ([]byte, error) { return json.Marshal(v) }

func writeJSONBody(w http.ResponseWriter, v any) { json.NewEncoder(w).Encode(v) }

func sortStrings(s []string) { slices.Sort(s) }

// source is the address a request came from, for rate limits and events.
// The provider is reached directly (no trusted proxy is configured), so
// X-Forwarded-For is not believed.
func source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// maxForm bounds the body of every form the provider reads.
const maxForm = 64 << 10

// parseForm reads a POST form body (application/x-www-form-urlencoded) of
// at most maxForm bytes; query parameters are not mixed in.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return invalidRequest("use POST")
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := parseMediaType(ct); mt != "application/x-www-form-urlencoded" {
		return invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return invalidRequest("malformed form body")
	}
	// A parameter given twice is ambiguous (RFC 6749 §3.1).
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return invalidRequest("parameter %s is repeated", k)
		}
	}
	return nil
}

func parseMediaType(v string) (string, map[string]string, error) { return mime.ParseMediaType(v) }
