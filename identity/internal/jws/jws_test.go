package jws_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/internal/jws"
	"github.com/coffre-cloud/coffre/identity/internal/jws/jwstest"
	"github.com/go-jose/go-jose/v4"
)

func b64(s string) string { return jws.Encoding.EncodeToString([]byte(s)) }

func TestSplitCompact(t *testing.T) {
	h, p, s := b64(`{"alg":"ES256"}`), b64(`{"jti":"x"}`), b64("signature")
	for _, c := range []struct {
		name, in string
		err      string // "" for success, else a substring of the error
	}{
		{"valid", h + "." + p + "." + s, ""},
		{"two parts", h + "." + p, "2 parts separated by dots, want 3"},
		{"JWE", h + "." + p + "." + s + ".a.b", "5 parts separated by dots, want 3"},
		{"no dots", "abc", "1 parts separated by dots, want 3"},
		{"empty", "", "1 parts separated by dots, want 3"},
		{"empty header", "." + p + "." + s, "part 1 is empty"},
		{"empty payload", h + ".." + s, "part 2 is empty"},
		{"empty signature", h + "." + p + ".", "part 3 is empty"},
		{"space", h + "." + p + " ." + s, `part 2 has a byte ' ' outside base64url`},
		{"newline", h + "\n." + p + "." + s, `part 1 has a byte '\n' outside base64url`},
		{"padding", h + "." + p + "." + s + "=", `part 3 has a byte '=' outside base64url`},
		{"standard alphabet", h + "." + p + ".ab+/", `part 3 has a byte '+' outside base64url`},
		// "YR" decodes to "a" like "YQ", but with a stray bit set.
		{"non-canonical", h + "." + p + ".YR", "part 3: illegal base64 data"},
		{"impossible length", h + "." + p + ".Y", "part 3: illegal base64 data"},
	} {
		t.Run("case="+c.name, func(t *testing.T) {
			header, payload, err := jws.SplitCompact(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("SplitCompact = %v, want an error saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SplitCompact = %v, want success", err)
			}
			if got, want := string(header)+" "+string(payload), `{"alg":"ES256"} {"jti":"x"}`; got != want {
				t.Fatalf("header and payload = %s, want %s", got, want)
			}
		})
	}
}

func TestDecodeObject(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     map[string]string // the members, raw; nil when err is set
		err      string
	}{
		{"members", `{"a":"x","b":1,"c":{"d":[1,2]}}`, map[string]string{"a": `"x"`, "b": `1`, "c": `{"d":[1,2]}`}, ""},
		{"empty", `{}`, map[string]string{}, ""},
		{"whitespace", " {\n\"a\" : true } \n", map[string]string{"a": `true`}, ""},
		{"names are exact", `{"jti":"a","JTI":"b"}`, map[string]string{"jti": `"a"`, "JTI": `"b"`}, ""},
		{"nested duplicates are the member's business", `{"a":{"b":1,"b":2}}`, map[string]string{"a": `{"b":1,"b":2}`}, ""},
		{"duplicate", `{"a":1,"b":2,"a":3}`, nil, `the member "a" appears twice`},
		{"duplicate after unescaping", `{"a":1,"\u0061":2}`, nil, `the member "a" appears twice`},
		{"array", `["a"]`, nil, "not a JSON object"},
		{"string", `"a"`, nil, "not a JSON object"},
		{"nothing", ``, nil, "not a JSON object"},
		{"unterminated", `{"a":1`, nil, "not a JSON object"},
		{"bad value", `{"a":tru}`, nil, `member "a"`},
		{"missing value", `{"a"}`, nil, `member "a"`},
		{"data after", `{"a":1}{}`, nil, "data after the JSON object"},
		{"garbage after", `{"a":1}x`, nil, "data after the JSON object"},
	} {
		t.Run("case="+c.name, func(t *testing.T) {
			m, err := jws.DecodeObject([]byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("DecodeObject = %v, want an error saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeObject = %v, want success", err)
			}
			got := map[string]string{}
			for k, v := range m {
				got[k] = string(v)
			}
			if g, w := jsonString(t, got), jsonString(t, c.want); g != w {
				t.Fatalf("members = %s, want %s", g, w)
			}
		})
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// object decodes s, which must be a valid JSON object.
func object(t *testing.T, s string) jws.Object {
	t.Helper()
	m, err := jws.DecodeObject([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestString(t *testing.T) {
	m := object(t, `{"s":"x","empty":"","n":1,"null":null,"a":["x"],"esc":"\u00e9"}`)
	for _, c := range []struct {
		name, want string
		required   bool
		err        string
	}{
		{"s", "x", false, ""},
		{"s", "x", true, ""},
		{"esc", "é", true, ""},
		{"absent", "", false, ""},
		{"absent", "", true, "the absent claim is required"},
		{"empty", "", false, ""},
		{"empty", "", true, "the empty claim is required"},
		{"n", "", false, "n must be a string"},
		{"n", "", true, "n must be a string"},
		{"null", "", true, "null must be a string"},
		{"a", "", true, "a must be a string"},
	} {
		get, fn := m.String, "String"
		if c.required {
			get, fn = m.RequiredString, "RequiredString"
		}
		got, err := get(c.name)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%s(%q) = %q, %v; want error %q", fn, c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s(%q) = %q, %v; want %q", fn, c.name, got, err, c.want)
		}
	}
}

func TestNumericDate(t *testing.T) {
	for _, c := range []struct {
		raw  string // "" for an absent member
		want time.Time
		err  bool
	}{
		{"", time.Time{}, false},
		{`1772366400`, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), false},
		{`1772366400.25`, time.Date(2026, 3, 1, 12, 0, 0, 250e6, time.UTC), false},
		{`1.7723664e9`, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), false},
		{`0`, time.Unix(0, 0), false},
		{`-0`, time.Unix(0, 0), false},
		{`253402300799`, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), false},
		{`253402300800`, time.Time{}, true},
		{`1e300`, time.Time{}, true},
		{`-1`, time.Time{}, true},
		{`"1772366400"`, time.Time{}, true},
		{`null`, time.Time{}, true},
		{`true`, time.Time{}, true},
		{`[1]`, time.Time{}, true},
	} {
		m := object(t, `{}`)
		if c.raw != "" {
			m = object(t, `{"iat":`+c.raw+`}`)
		}
		got, ok, err := m.NumericDate("iat")
		if c.err {
			if err == nil || err.Error() != "iat must be a number of seconds since 1970" || !ok {
				t.Errorf("iat=%s: NumericDate = %v, %v, %v; want present and an error", c.raw, got, ok, err)
			}
			continue
		}
		if err != nil || ok != (c.raw != "") || !got.Equal(c.want) {
			t.Errorf("iat=%s: NumericDate = %v, %v, %v; want %v, %v", c.raw, got, ok, err, c.want, c.raw != "")
		}
	}
	if got := time.Unix(jws.MaxNumericDate, 0).UTC(); got.Year() != 9999 || got.Add(time.Second).Year() != 10000 {
		t.Errorf("MaxNumericDate is %v, want the last second of 9999", got)
	}
}

func TestCheckExtensions(t *testing.T) {
	for _, c := range []struct{ hdr, err string }{
		{`{"alg":"ES256","typ":"JWT","kid":"k"}`, ""},
		{`{"alg":"ES256","crit":["exp"],"exp":1}`, `the JOSE header parameter "crit" is not supported`},
		{`{"alg":"ES256","b64":true}`, `the JOSE header parameter "b64" is not supported`},
		{`{"alg":"ES256","crit":null}`, `the JOSE header parameter "crit" is not supported`},
	} {
		err := jws.CheckExtensions(object(t, c.hdr))
		if c.err == "" && err != nil || c.err != "" && (err == nil || err.Error() != c.err) {
			t.Errorf("CheckExtensions(%s) = %v, want %q", c.hdr, err, c.err)
		}
	}
}

func TestIsType(t *testing.T) {
	for _, c := range []struct {
		t, want string
		is      bool
	}{
		{"dpop+jwt", "dpop+jwt", true},
		{"DPoP+JWT", "dpop+jwt", true},
		{"application/dpop+jwt", "dpop+jwt", true},
		{"Application/DPOP+jwt", "dpop+jwt", true},
		{"JWT", "JWT", true},
		{"jwt", "JWT", true},
		{"application/jwt", "JWT", true},
		{"", "JWT", false},
		{"application/", "JWT", false},
		{"application/application/jwt", "JWT", false},
		{"text/jwt", "JWT", false},
		{"at+jwt", "JWT", false},
		{"dpop+jwt ", "dpop+jwt", false},
	} {
		if got := jws.IsType(c.t, c.want); got != c.is {
			t.Errorf("IsType(%q, %q) = %v, want %v", c.t, c.want, got, c.is)
		}
	}
}

func TestNotAsymmetric(t *testing.T) {
	for _, c := range []struct {
		algs  []jose.SignatureAlgorithm
		bad   jose.SignatureAlgorithm
		found bool
	}{
		{nil, "", false},
		{[]jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512, jose.RS256, jose.RS384, jose.RS512, jose.EdDSA}, "", false},
		{[]jose.SignatureAlgorithm{jose.ES256, jose.HS256}, jose.HS256, true},
		{[]jose.SignatureAlgorithm{"none", jose.HS512}, "none", true},
		{[]jose.SignatureAlgorithm{"es256"}, "es256", true},
		{[]jose.SignatureAlgorithm{""}, "", true},
	} {
		if bad, found := jws.NotAsymmetric(c.algs); bad != c.bad || found != c.found {
			t.Errorf("NotAsymmetric(%q) = %q, %v; want %q, %v", c.algs, bad, found, c.bad, c.found)
		}
	}
}

func TestCheckKey(t *testing.T) {
	for _, c := range []struct {
		key string
		alg jose.SignatureAlgorithm
		err string
	}{
		{"es256", jose.ES256, ""},
		{"es384", jose.ES384, ""},
		{"rsa2048", jose.PS256, ""},
		{"rsa2048", jose.RS512, ""},
		{"ed25519", jose.EdDSA, ""},
		{"es256", jose.ES384, "an EC key on P-256 cannot verify ES384"},
		{"es384", jose.ES256, "an EC key on P-384 cannot verify ES256"},
		{"es256", jose.EdDSA, "an EC key on P-256 cannot verify EdDSA"},
		{"rsa2048", jose.ES256, "an RSA key cannot verify ES256"},
		{"rsa2048", jose.HS256, "an RSA key cannot verify HS256"},
		{"rsa1024", jose.PS256, "the RSA key has 1024 bits; at least 2048 are required"},
		{"ed25519", jose.ES256, "an Ed25519 key cannot verify ES256"},
	} {
		t.Run("key="+c.key+"/alg="+string(c.alg), func(t *testing.T) {
			k := jwstest.Public(t, c.key)
			err := jws.CheckKey(&k, c.alg)
			if c.err == "" && err != nil || c.err != "" && (err == nil || err.Error() != c.err) {
				t.Fatalf("CheckKey = %v, want %q", err, c.err)
			}
		})
	}
	if err := jws.CheckKey(&jose.JSONWebKey{Key: []byte("secret")}, jose.HS256); err == nil || err.Error() != "unsupported key type []uint8" {
		t.Fatalf("CheckKey of a symmetric key = %v, want unsupported key type", err)
	}
}

func TestParseSigned(t *testing.T) {
	es := jwstest.Sign(t, "es256", "", &jose.SignerOptions{}, nil, []byte(`{}`))
	signed, err := jws.ParseSigned(es, []jose.SignatureAlgorithm{jose.PS256, jose.ES256})
	if err != nil {
		t.Fatalf("ParseSigned of an ES256 JWS = %v, want success", err)
	}
	if got := signed.Signatures[0].Header.Algorithm; got != string(jose.ES256) {
		t.Fatalf("alg = %s, want ES256", got)
	}
	_, err = jws.ParseSigned(es, []jose.SignatureAlgorithm{jose.PS256, jose.EdDSA})
	if want := `alg "ES256" is not accepted; use one of PS256 EdDSA`; err == nil || err.Error() != want {
		t.Fatalf("ParseSigned with ES256 not accepted = %v, want %q", err, want)
	}
	if _, err := jws.ParseSigned("a.b", []jose.SignatureAlgorithm{jose.ES256}); err == nil {
		t.Fatal("ParseSigned of two parts: no error")
	}
}

func TestJoinAlgs(t *testing.T) {
	if got, want := jws.JoinAlgs([]jose.SignatureAlgorithm{jose.ES256, jose.PS256, jose.EdDSA}), "ES256 PS256 EdDSA"; got != want {
		t.Errorf("JoinAlgs = %q, want %q", got, want)
	}
	if got := jws.JoinAlgs(nil); got != "" {
		t.Errorf("JoinAlgs(nil) = %q, want empty", got)
	}
}

// FuzzSplitCompact checks that a JWS SplitCompact accepts has one encoding
// only: encoding the parts it decoded gives the input back.
func FuzzSplitCompact(f *testing.F) {
	for _, s := range []string{"eyJhIjoxfQ.eyJiIjoyfQ.c2ln", "YR.YQ.YQ", "YQ==.YQ.YQ", "a.b.c.d", "..", "e30.e30.AA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		header, payload, err := jws.SplitCompact(s)
		if err != nil {
			return
		}
		sig := s[strings.LastIndexByte(s, '.')+1:]
		if again := jws.Encoding.EncodeToString(header) + "." + jws.Encoding.EncodeToString(payload) + "." + sig; again != s {
			t.Fatalf("SplitCompact accepted %q, whose parts encode as %q", s, again)
		}
		if len(header) == 0 || len(payload) == 0 {
			t.Fatalf("SplitCompact accepted %q with an empty part", s)
		}
	})
}

// FuzzDecodeObject checks DecodeObject against encoding/json: what it
// accepts, encoding/json reads as the same members.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null],"c":{"d":"e"}}`, `{"a":1,"a":2}`, `{"\u0061":1,"a":2}`, `{} {}`, ` {"a" : "b" } `, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := jws.DecodeObject(b)
		if err != nil {
			return
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("DecodeObject accepted %q, which encoding/json refuses: %v", b, err)
		}
		if len(m) != len(want) {
			t.Fatalf("DecodeObject(%q) has %d members, encoding/json %d", b, len(m), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(m[k], v) {
				t.Fatalf("DecodeObject(%q)[%q] = %s, encoding/json %s", b, k, m[k], v)
			}
		}
	})
}
