package jws

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Encoding is the base64url of JWS (RFC 7515 §2): no padding, and no stray
// bits in the last character, so that a token has one encoding only.
var Encoding = base64.RawURLEncoding.Strict()

// SplitCompact checks that s is a JWS in compact serialization (RFC 7515
// §7.1) of three non-empty base64url parts, and returns the decoded header
// and payload. go-jose parses s again; this pass refuses what it would
// tolerate (whitespace, non-canonical base64, an empty payload).
func SplitCompact(s string) (header, payload []byte, err error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("%d parts separated by dots, want 3", len(parts))
	}
	var dec [3][]byte
	for i, p := range parts {
		if p == "" {
			return nil, nil, fmt.Errorf("part %d is empty", i+1)
		}
		for j := 0; j < len(p); j++ {
			if c := p[j]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return nil, nil, fmt.Errorf("part %d has a byte %q outside base64url", i+1, c)
			}
		}
		if dec[i], err = Encoding.DecodeString(p); err != nil {
			return nil, nil, fmt.Errorf("part %d: %v", i+1, err)
		}
	}
	return dec[0], dec[1], nil
}

// An Object is a JSON object as DecodeObject returns it: each member's
// value, undecoded, under its exact name.
type Object map[string]json.RawMessage

// DecodeObject decodes a JSON object (a JOSE header or a JWT claims set)
// into its members, refusing duplicate names (RFC 7519 §4 lets a parser do
// so, and a token that reads differently to two parsers proves nothing)
// and anything after the object. Names are matched exactly, unlike
// encoding/json's struct decoding.
func DecodeObject(b []byte) (Object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	m := make(Object)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not a JSON object: %v", err)
		}
		name, ok := t.(string)
		if !ok {
			return nil, errors.New("not a JSON object")
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("the member %q appears twice", name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("member %q: %v", name, err)
		}
		m[name] = v
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}

// String returns the string member name of m, "" if it is absent, and an
// error if it is not a string.
func (m Object) String(name string) (string, error) {
	raw, ok := m[name]
	if !ok {
		return "", nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("%s must be a string", name)
	}
	return s, nil
}

// RequiredString is String for a claim that must be present and not empty.
func (m Object) RequiredString(name string) (string, error) {
	s, err := m.String(name)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fmt.Errorf("the %s claim is required", name)
	}
	return s, nil
}

// MaxNumericDate is 9999-12-31T23:59:59Z: later dates are mistakes, and
// they would overflow time.Duration arithmetic.
const MaxNumericDate = 253402300799

// NumericDate returns the NumericDate member name of m (RFC 7519 §2:
// seconds since the epoch, possibly fractional), whether it is present, and
// an error if it is not a number in [0, MaxNumericDate].
func (m Object) NumericDate(name string) (time.Time, bool, error) {
	raw, ok := m[name]
	if !ok {
		return time.Time{}, false, nil
	}
	var f float64
	if c := raw[0]; c != '-' && (c < '0' || c > '9') || json.Unmarshal(raw, &f) != nil || f < 0 || f > MaxNumericDate || math.IsNaN(f) {
		return time.Time{}, true, fmt.Errorf("%s must be a number of seconds since 1970", name)
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e9)), true, nil
}

// CheckExtensions refuses a JOSE header that names crit (RFC 7515
// §4.1.11) or b64 (RFC 7797): extensions no verifier here understands, and
// b64 would change what is signed.
func CheckExtensions(hdr Object) error {
	for _, name := range []string{"crit", "b64"} {
		if _, ok := hdr[name]; ok {
			return fmt.Errorf("the JOSE header parameter %q is not supported", name)
		}
	}
	return nil
}

// IsType reports whether the typ value t names the media type want, which
// RFC 7515 §4.1.9 compares case-insensitively with "application/" implied.
func IsType(t, want string) bool {
	if len(t) > len("application/") && strings.EqualFold(t[:len("application/")], "application/") {
		t = t[len("application/"):]
	}
	return strings.EqualFold(t, want)
}
