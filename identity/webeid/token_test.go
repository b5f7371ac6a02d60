package webeid_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/webeid"
	"github.com/coffre-cloud/coffre/identity/webeid/webeidtest"
)

// selfSigned returns a self-signed certificate with this subject, for the
// tests that read certificates without trusting them (Parse,
// NationalNumber): no card is needed there.
func selfSigned(t testing.TB, subject pkix.Name) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}, &x509.Certificate{Subject: subject}, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// fields returns a token's fields as a map, to edit them.
func fields(t testing.TB, b []byte) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func marshal(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	cert := selfSigned(t, pkix.Name{CommonName: "parse"})
	sig := bytes.Repeat([]byte{7}, 96)
	valid := webeidtest.TokenJSON(cert, "ES384", sig)
	tok, err := webeid.Parse(valid)
	if err != nil {
		t.Fatalf("Parse(valid) = %v", err)
	}
	if !tok.Certificate.Equal(cert) || tok.Algorithm != "ES384" || !bytes.Equal(tok.Signature, sig) || tok.Format != "web-eid:1.0" || tok.AppVersion != webeidtest.AppVersion {
		t.Fatalf("Parse(valid) = %+v, want the fields written", tok)
	}

	with := func(edit func(m map[string]any)) []byte {
		m := fields(t, valid)
		edit(m)
		return marshal(t, m)
	}
	replace := func(old, new string) []byte { return []byte(strings.Replace(string(valid), old, new, 1)) }
	certB64 := base64.StdEncoding.EncodeToString(cert.Raw)

	for _, tc := range []struct {
		name  string
		token []byte
		ok    bool
	}{
		{"token=valid", valid, true},
		{"format=web-eid:1.1", with(func(m map[string]any) { m["format"] = "web-eid:1.1" }), true},
		{"format=web-eid:1.12", with(func(m map[string]any) { m["format"] = "web-eid:1.12" }), true},
		// web-eid:1.1 adds fields: unknown fields are skipped.
		{"token=unknown-fields", with(func(m map[string]any) {
			m["unverifiedSigningCertificates"] = []any{map[string]any{"certificate": "MIIB", "supportedSignatureAlgorithms": []any{}}}
			m["x"] = nil
		}), true},
		{"appVersion=missing", with(func(m map[string]any) { delete(m, "appVersion") }), true},
		{"token=whitespace", append(append([]byte(" \n\t"), valid...), " \r\n"...), true},

		{"token=empty", nil, false},
		{"token=not-json", []byte("web-eid:1.0"), false},
		{"token=array", []byte("[" + string(valid) + "]"), false},
		{"token=null", []byte("null"), false},
		{"token=truncated", valid[:len(valid)-1], false},
		{"token=trailing-data", append(append([]byte{}, valid...), "{}"...), false},
		{"token=two-objects", append(append([]byte{}, valid...), valid...), false},
		{"token=invalid-utf8", replace(webeidtest.AppVersion, "https://\xff"), false},
		{"token=huge", with(func(m map[string]any) { m["padding"] = strings.Repeat("A", webeid.MaxTokenSize) }), false},
		{"token=duplicate-field", replace(`"format":"web-eid:1.0"`, `"format":"web-eid:1.0","format":"web-eid:1.0"`), false},
		{"token=duplicate-certificate", replace(`"algorithm"`, `"unverifiedCertificate":"`+certB64+`","algorithm"`), false},
		{"token=field-case", replace(`"algorithm"`, `"Algorithm"`), false},
		{"algorithm=missing", with(func(m map[string]any) { delete(m, "algorithm") }), false},
		{"certificate=missing", with(func(m map[string]any) { delete(m, "unverifiedCertificate") }), false},
		{"signature=missing", with(func(m map[string]any) { delete(m, "signature") }), false},
		{"format=missing", with(func(m map[string]any) { delete(m, "format") }), false},
		{"algorithm=null", with(func(m map[string]any) { m["algorithm"] = nil }), false},
		{"algorithm=number", with(func(m map[string]any) { m["algorithm"] = 384 }), false},
		{"appVersion=object", with(func(m map[string]any) { m["appVersion"] = map[string]any{} }), false},
		{"algorithm=none", with(func(m map[string]any) { m["algorithm"] = "none" }), false},
		{"algorithm=HS256", with(func(m map[string]any) { m["algorithm"] = "HS256" }), false},
		{"algorithm=es384", with(func(m map[string]any) { m["algorithm"] = "es384" }), false},
		{"algorithm=EdDSA", with(func(m map[string]any) { m["algorithm"] = "EdDSA" }), false},
		{"format=web-eid:1", with(func(m map[string]any) { m["format"] = "web-eid:1" }), false},
		{"format=web-eid:10.0", with(func(m map[string]any) { m["format"] = "web-eid:10.0" }), false},
		{"format=web-eid:2.0", with(func(m map[string]any) { m["format"] = "web-eid:2.0" }), false},
		{"format=web-eid:1.0-beta", with(func(m map[string]any) { m["format"] = "web-eid:1.0-beta" }), false},
		{"format=web-eid:1.", with(func(m map[string]any) { m["format"] = "web-eid:1." }), false},
		{"format=empty", with(func(m map[string]any) { m["format"] = "" }), false},
		{"certificate=empty", with(func(m map[string]any) { m["unverifiedCertificate"] = "" }), false},
		{"certificate=base64url", with(func(m map[string]any) {
			m["unverifiedCertificate"] = base64.URLEncoding.EncodeToString(cert.Raw) + "-_"
		}), false},
		{"signature=unpadded", with(func(m map[string]any) {
			m["signature"] = strings.TrimRight(base64.StdEncoding.EncodeToString(make([]byte, 95)), "=")
		}), false},
		{"signature=stray-bits", with(func(m map[string]any) { m["signature"] = "AB==" }), false},
		{"certificate=newlines", with(func(m map[string]any) { m["unverifiedCertificate"] = certB64[:64] + "\n" + certB64[64:] }), false},
		{"certificate=not-der", with(func(m map[string]any) {
			m["unverifiedCertificate"] = base64.StdEncoding.EncodeToString([]byte("not a certificate"))
		}), false},
		{"certificate=trailing-data", with(func(m map[string]any) {
			m["unverifiedCertificate"] = base64.StdEncoding.EncodeToString(append(cert.Raw, 0))
		}), false},
		{"signature=empty", with(func(m map[string]any) { m["signature"] = "" }), false},
		{"signature=bad-base64", with(func(m map[string]any) { m["signature"] = "!!!!" }), false},
		{"signature=huge", with(func(m map[string]any) { m["signature"] = base64.StdEncoding.EncodeToString(make([]byte, 2048)) }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := webeid.Parse(tc.token)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("Parse = %v, want success", err)
			case !tc.ok && err == nil:
				t.Fatalf("Parse = %+v, want an error", tok)
			case !tc.ok && !errors.Is(err, webeid.ErrFormat):
				t.Fatalf("Parse error %v is not ErrFormat", err)
			}
		})
	}
}
