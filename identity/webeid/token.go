package webeid

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxTokenSize is the largest token Parse reads. A token holds one
// certificate (2 KiB for the ID cards of Europe) and one signature; the
// Web eID Java validator stops at 10,000 characters. 16 KiB leaves room for
// the fields minor versions add, and bounds the work an attacker buys.
const MaxTokenSize = 16 << 10

// maxSignatureSize is an RSA-8192 signature; ECDSA P-521 needs 132 bytes.
const maxSignatureSize = 1024

// Token is a parsed Web eID authentication token. Nothing in it is
// trusted until Validate says so.
type Token struct {
	// Certificate is the card's authentication certificate, from the
	// unverifiedCertificate field.
	Certificate *x509.Certificate
	// Algorithm is the JWA name of the signature algorithm (ES384, ...).
	Algorithm string
	// Signature is the decoded signature: r||s for ECDSA, as the card
	// makes it (and as JWS encodes it), the RSA signature otherwise.
	Signature []byte
	// Format is the format identifier, "web-eid:1.0" today.
	Format string
	// AppVersion is the URL naming the application that made the token.
	// It is informative only and comes from the client: log it quoted.
	AppVersion string
}

// algorithms maps the JWA names the Web eID format allows (RFC 7518
// sections 3.3 to 3.5) to their hash, which is also the hash of the
// signed data (see signedDigest).
var algorithms = map[string]crypto.Hash{
	"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512,
	"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512,
	"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512,
}

// Parse reads a Web eID authentication token (the JSON object the
// browser's webeid.authenticate() resolves to).
//
// It is strict about what it uses and tolerant of what it ignores, as the
// format specification asks: minor versions add fields (web-eid:1.1 adds
// unverifiedSigningCertificates), so unknown fields are skipped, but the
// object must be valid UTF-8 JSON with nothing after it, no field may
// appear twice, and the known fields must be JSON strings (field names
// are matched exactly, not case-insensitively as encoding/json would).
// unverifiedCertificate, algorithm, signature and format are required;
// appVersion is optional (informative only). format must be "web-eid:1."
// followed by a minor version number: the specification defines the
// version as major.minor, so a bare "web-eid:1" is refused. Base64 is the
// standard alphabet with padding, as the Web eID application writes it.
// Every failure wraps ErrFormat.
func Parse(b []byte) (*Token, error) {
	if len(b) > MaxTokenSize {
		return nil, fmt.Errorf("webeid: token of %d bytes is larger than the %d allowed: %w", len(b), MaxTokenSize, ErrFormat)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("webeid: token is not valid UTF-8: %w", ErrFormat)
	}
	fields, err := parseObject(b)
	if err != nil {
		return nil, fmt.Errorf("webeid: token is not a JSON object of strings: %v: %w", err, ErrFormat)
	}
	for _, name := range []string{"unverifiedCertificate", "algorithm", "signature", "format"} {
		if _, ok := fields[name]; !ok {
			return nil, fmt.Errorf("webeid: token has no %q field: %w", name, ErrFormat)
		}
	}
	t := &Token{Algorithm: fields["algorithm"], Format: fields["format"], AppVersion: fields["appVersion"]}
	if !supportedFormat(t.Format) {
		return nil, fmt.Errorf("webeid: token format %.40q is not supported (want web-eid:1.x): %w", t.Format, ErrFormat)
	}
	if _, ok := algorithms[t.Algorithm]; !ok {
		return nil, fmt.Errorf("webeid: token algorithm %.20q is not one of ES256, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512: %w", t.Algorithm, ErrFormat)
	}
	der, err := decodeBase64(fields["unverifiedCertificate"])
	if err != nil {
		return nil, fmt.Errorf("webeid: token field unverifiedCertificate: %v: %w", err, ErrFormat)
	}
	if t.Certificate, err = x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("webeid: token field unverifiedCertificate is not an X.509 certificate: %v: %w", err, ErrFormat)
	}
	if t.Signature, err = decodeBase64(fields["signature"]); err != nil {
		return nil, fmt.Errorf("webeid: token field signature: %v: %w", err, ErrFormat)
	}
	if len(t.Signature) > maxSignatureSize {
		return nil, fmt.Errorf("webeid: token signature of %d bytes is longer than any supported key makes: %w", len(t.Signature), ErrFormat)
	}
	return t, nil
}

// parseObject reads one JSON object and returns its string fields among
// the known ones; other fields are checked to be valid JSON and skipped.
func parseObject(b []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil {
		return nil, err
	} else if tok != json.Delim('{') {
		return nil, errors.New("not an object")
	}
	fields := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string) // object keys are always strings
		if seen[name] {
			return nil, fmt.Errorf("field %.40q appears twice", name)
		}
		seen[name] = true
		switch name {
		case "unverifiedCertificate", "algorithm", "signature", "format", "appVersion":
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			s, ok := tok.(string)
			if !ok {
				return nil, fmt.Errorf("field %q is not a string", name)
			}
			fields[name] = s
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
		}
	}
	if tok, err := dec.Token(); err != nil {
		return nil, err
	} else if tok != json.Delim('}') {
		return nil, errors.New("object not closed")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	return fields, nil
}

// supportedFormat reports whether f is "web-eid:1.N": major version 1,
// whose minor versions are backwards compatible, per the specification.
func supportedFormat(f string) bool {
	minor, ok := strings.CutPrefix(f, "web-eid:1.")
	if !ok || minor == "" || len(minor) > 4 {
		return false
	}
	for _, c := range minor {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// decodeBase64 decodes standard, padded base64 with no stray bits or
// characters (no newlines either).
func decodeBase64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("not standard padded base64")
	}
	return b, nil
}
