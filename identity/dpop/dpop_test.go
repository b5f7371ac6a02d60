package dpop

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/internal/jws"
	"github.com/coffre-cloud/coffre/identity/internal/jws/jwstest"
	"github.com/coffre-cloud/coffre/identity/replay"
	"github.com/go-jose/go-jose/v4"
)

// TestVerify is RFC 9449 §4.3 as a table: every case but the valid ones
// breaks one rule, and must fail with that rule's kind and message.
func TestVerify(t *testing.T) {
	const token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	privateES, _ := json.Marshal(jwstest.Key(t, "es256"))
	publicES, _ := json.Marshal(jwstest.Public(t, "es256"))
	publicOther, _ := json.Marshal(jwstest.Public(t, "es256-b"))

	type tc struct {
		name   string
		h      func(t *testing.T) map[string][]string // the request's headers
		method string                                 // "" means testMethod
		uri    string                                 // "" means testURI
		token  string
		algs   []jose.SignatureAlgorithm
		want   error  // nil, ErrMissing, ErrInvalidProof, ErrUseNonce
		msg    string // a substring of the error, saying which rule failed
	}
	one := func(s spec) func(t *testing.T) map[string][]string {
		return func(t *testing.T) map[string][]string { return header(proof(t, s)) }
	}
	raw := func(p func(t *testing.T) string) func(t *testing.T) map[string][]string {
		return func(t *testing.T) map[string][]string { return header(p(t)) }
	}
	valid := `{"jti":"x1","htm":"POST","htu":"` + testURI + `","iat":` + jsonInt(t0.Unix()) + `}`
	cases := []tc{
		// Valid proofs, by go-jose's signer, for each FAPI 2.0 algorithm.
		{name: "valid/ES256", h: one(spec{key: "es256"})},
		{name: "valid/PS256", h: one(spec{key: "rsa2048"})},
		{name: "valid/EdDSA", h: one(spec{key: "ed25519"})},
		{name: "valid/ES384 when configured", h: one(spec{key: "es384"}), algs: []jose.SignatureAlgorithm{jose.ES256, jose.ES384}},
		{name: "valid/stdlib signature", h: raw(func(t *testing.T) string {
			return jwstest.SignRaw(t, "es256", jose.ES256, `{"typ":"dpop+jwt","alg":"ES256","jwk":`+string(publicES)+`}`, valid)
		})},
		{name: "valid/typ with application prefix", h: one(spec{headers: map[jose.HeaderKey]any{"typ": "application/dpop+jwt"}})},
		{name: "valid/typ in capitals", h: one(spec{headers: map[jose.HeaderKey]any{"typ": "DPoP+JWT"}})},
		{name: "valid/iat at the window's edge", h: one(spec{claims: map[string]any{"iat": t0.Add(-DefaultWindow).Unix()}})},
		{name: "valid/iat at the skew's edge", h: one(spec{claims: map[string]any{"iat": t0.Add(Skew).Unix()}})},
		{name: "valid/fractional iat", h: one(spec{claims: map[string]any{"iat": float64(t0.Unix()) + 0.25}})},
		{name: "valid/ath", h: one(spec{claims: map[string]any{"ath": ath(token)}}), token: token},
		{name: "valid/ath ignored without a token", h: one(spec{claims: map[string]any{"ath": "whatever"}})},
		{name: "valid/htu with query and fragment", h: one(spec{claims: map[string]any{"htu": testURI + "?a=b#c"}})},
		{name: "valid/htu spelt differently", h: one(spec{claims: map[string]any{"htu": "HTTPS://ID.Example.FR:443/./%74oken"}})},
		{name: "valid/request URI with a query", h: one(spec{}), uri: testURI + "?x=1"},

		// 1. One DPoP header.
		{name: "header/none", h: func(*testing.T) map[string][]string { return header() }, want: ErrMissing, msg: "no DPoP header"},
		{name: "header/two", h: func(t *testing.T) map[string][]string { return header(proof(t, spec{}), proof(t, spec{})) }, want: ErrInvalidProof, msg: "2 DPoP headers"},
		{name: "header/two folded", h: func(t *testing.T) map[string][]string { return header(proof(t, spec{}) + ", " + proof(t, spec{})) }, want: ErrInvalidProof, msg: "compact JWS"},
		{name: "header/empty", h: raw(func(*testing.T) string { return "" }), want: ErrInvalidProof, msg: "compact JWS"},

		// 2. One well-formed compact JWS.
		{name: "jws/too large", h: one(spec{claims: map[string]any{"pad": strings.Repeat("x", MaxProofSize)}}), want: ErrInvalidProof, msg: "bytes, more than"},
		{name: "jws/two parts", h: raw(func(t *testing.T) string { p := proof(t, spec{}); return p[:strings.LastIndexByte(p, '.')] }), want: ErrInvalidProof, msg: "2 parts"},
		{name: "jws/JSON serialization", h: raw(func(t *testing.T) string {
			return `{"protected":"e30","payload":"e30","signature":"AA"}`
		}), want: ErrInvalidProof, msg: "compact JWS"},
		{name: "jws/whitespace", h: raw(func(t *testing.T) string { p := proof(t, spec{}); return p[:10] + " " + p[10:] }), want: ErrInvalidProof, msg: "outside base64url"},
		{name: "jws/padding", h: raw(func(t *testing.T) string { return proof(t, spec{}) + "==" }), want: ErrInvalidProof, msg: "outside base64url"},
		{name: "jws/non-canonical base64", h: raw(func(t *testing.T) string {
			// The last of the 86 characters of an ES256 signature carries 4
			// unused bits, zero in the canonical encoding (one of A, Q, g, w):
			// the next character decodes to the same bytes.
			p := proof(t, spec{})
			return p[:len(p)-1] + string(p[len(p)-1]+1)
		}), want: ErrInvalidProof, msg: "illegal base64"},
		{name: "jws/no signature", h: raw(func(t *testing.T) string { p := proof(t, spec{}); return p[:strings.LastIndexByte(p, '.')+1] }), want: ErrInvalidProof, msg: "part 3 is empty"},
		{name: "jws/tampered signature", h: raw(func(t *testing.T) string {
			p := proof(t, spec{})
			i := strings.LastIndexByte(p, '.') + 5
			return p[:i] + string(map[bool]byte{true: 'A', false: 'B'}[p[i] != 'A']) + p[i+1:]
		}), want: ErrInvalidProof, msg: "signature does not verify"},
		{name: "jws/claims not an object", h: one(spec{payload: []byte(`["jti"]`)}), want: ErrInvalidProof, msg: "not a JSON object"},
		{name: "jws/claims after the object", h: one(spec{payload: []byte(valid + `{}`)}), want: ErrInvalidProof, msg: "data after"},
		{name: "jws/duplicate claim", h: one(spec{payload: []byte(`{"jti":"a","htm":"GET","htm":"POST","htu":"` + testURI + `","iat":` + jsonInt(t0.Unix()) + `}`)}), want: ErrInvalidProof, msg: `"htm" appears twice`},
		{name: "jws/duplicate header parameter", h: raw(func(t *testing.T) string {
			return jwstest.SignRaw(t, "es256", jose.ES256, `{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":`+string(publicES)+`}`, valid)
		}), want: ErrInvalidProof, msg: `"alg" appears twice`},

		// 3. Required claims.
		{name: "claims/no jti", h: one(spec{claims: map[string]any{"jti": nil}}), want: ErrInvalidProof, msg: "jti claim is required"},
		{name: "claims/empty jti", h: one(spec{claims: map[string]any{"jti": ""}}), want: ErrInvalidProof, msg: "jti claim is required"},
		{name: "claims/numeric jti", h: one(spec{claims: map[string]any{"jti": 7}}), want: ErrInvalidProof, msg: "jti claim must be a string"},
		{name: "claims/no htm", h: one(spec{claims: map[string]any{"htm": nil}}), want: ErrInvalidProof, msg: "htm claim is required"},
		{name: "claims/no htu", h: one(spec{claims: map[string]any{"htu": nil}}), want: ErrInvalidProof, msg: "htu claim is required"},
		{name: "claims/no iat", h: one(spec{claims: map[string]any{"iat": nil}}), want: ErrInvalidProof, msg: "iat must be a number"},
		{name: "claims/string iat", h: one(spec{claims: map[string]any{"iat": "1772366400"}}), want: ErrInvalidProof, msg: "iat must be a number"},
		{name: "claims/negative iat", h: one(spec{claims: map[string]any{"iat": -1}}), want: ErrInvalidProof, msg: "iat must be a number"},
		{name: "claims/claim names are case-sensitive", h: one(spec{claims: map[string]any{"jti": nil, "JTI": "x"}}), want: ErrInvalidProof, msg: "jti claim is required"},

		// 4. typ.
		{name: "typ/absent", h: one(spec{noTyp: true}), want: ErrInvalidProof, msg: "typ must be"},
		{name: "typ/JWT", h: one(spec{headers: map[jose.HeaderKey]any{"typ": "JWT"}}), want: ErrInvalidProof, msg: "typ must be"},
		{name: "typ/not a string", h: one(spec{headers: map[jose.HeaderKey]any{"typ": 1}}), want: ErrInvalidProof, msg: "typ must be"},

		// 5. alg.
		{name: "alg/none", h: raw(func(t *testing.T) string {
			return jwstest.SignRaw(t, "", "none", `{"typ":"dpop+jwt","alg":"none","jwk":`+string(publicES)+`}`, valid)
		}), want: ErrInvalidProof, msg: `alg "none" is not accepted`},
		{name: "alg/HS256", h: raw(func(t *testing.T) string {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(strings.Repeat("k", 32))},
				(&jose.SignerOptions{}).WithType(typ).WithHeader("jwk", json.RawMessage(publicES)))
			if err != nil {
				t.Fatal(err)
			}
			signed, err := s.Sign([]byte(valid))
			if err != nil {
				t.Fatal(err)
			}
			p, _ := signed.CompactSerialize()
			return p
		}), want: ErrInvalidProof, msg: `alg "HS256" is not accepted`},
		{name: "alg/RS256 not configured", h: one(spec{key: "rsa2048", alg: jose.RS256}), want: ErrInvalidProof, msg: `alg "RS256" is not accepted`},
		{name: "alg/ES384 not configured", h: one(spec{key: "es384"}), want: ErrInvalidProof, msg: `alg "ES384" is not accepted`},
		{name: "alg/mismatching key", h: raw(func(t *testing.T) string {
			ed, _ := json.Marshal(jwstest.Public(t, "ed25519"))
			return jwstest.SignRaw(t, "es256", jose.ES256, `{"typ":"dpop+jwt","alg":"ES256","jwk":`+string(ed)+`}`, valid)
		}), want: ErrInvalidProof, msg: "an Ed25519 key cannot verify ES256"},
		{name: "alg/RSA key under 2048 bits", h: one(spec{key: "rsa1024"}), want: ErrInvalidProof, msg: "1024 bits"},
		{name: "alg/crit", h: one(spec{headers: map[jose.HeaderKey]any{"crit": []string{"exp"}, "exp": 1}}), want: ErrInvalidProof, msg: `"crit" is not supported`},
		{name: "alg/b64", h: one(spec{headers: map[jose.HeaderKey]any{"b64": true}}), want: ErrInvalidProof, msg: `"b64" is not supported`},

		// 6. The signature verifies with the jwk.
		{name: "jwk/absent", h: one(spec{noJWK: true}), want: ErrInvalidProof, msg: "no jwk"},
		{name: "jwk/another key", h: one(spec{noJWK: true, headers: map[jose.HeaderKey]any{"jwk": json.RawMessage(publicOther)}}), want: ErrInvalidProof, msg: "signature does not verify"},
		{name: "jwk/not an object", h: one(spec{noJWK: true, headers: map[jose.HeaderKey]any{"jwk": "key"}}), want: ErrInvalidProof, msg: "not a JSON object"},

		// 7. No private key in the jwk.
		{name: "jwk/private key", h: one(spec{noJWK: true, headers: map[jose.HeaderKey]any{"jwk": json.RawMessage(privateES)}}), want: ErrInvalidProof, msg: `member "d"`},
		{name: "jwk/symmetric key", h: one(spec{noJWK: true, headers: map[jose.HeaderKey]any{"jwk": map[string]string{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}}}), want: ErrInvalidProof, msg: `member "k"`},

		// 8. htm.
		{name: "htm/other method", h: one(spec{claims: map[string]any{"htm": "GET"}}), want: ErrInvalidProof, msg: `htm "GET" does not match`},
		{name: "htm/lowercase", h: one(spec{claims: map[string]any{"htm": "post"}}), want: ErrInvalidProof, msg: `htm "post" does not match`},

		// 9. htu.
		{name: "htu/other path", h: one(spec{claims: map[string]any{"htu": "https://id.example.fr/par"}}), want: ErrInvalidProof, msg: "does not match the request URI"},
		{name: "htu/path case", h: one(spec{claims: map[string]any{"htu": "https://id.example.fr/Token"}}), want: ErrInvalidProof, msg: "does not match the request URI"},
		{name: "htu/other host", h: one(spec{claims: map[string]any{"htu": "https://evil.example/token"}}), want: ErrInvalidProof, msg: "does not match the request URI"},
		{name: "htu/http", h: one(spec{claims: map[string]any{"htu": "http://id.example.fr/token"}}), want: ErrInvalidProof, msg: "does not match the request URI"},
		{name: "htu/other port", h: one(spec{claims: map[string]any{"htu": "https://id.example.fr:8443/token"}}), want: ErrInvalidProof, msg: "does not match the request URI"},
		{name: "htu/relative", h: one(spec{claims: map[string]any{"htu": "/token"}}), want: ErrInvalidProof, msg: "not an http or https URI"},

		// 11. iat window.
		{name: "iat/too old", h: one(spec{claims: map[string]any{"iat": t0.Add(-DefaultWindow - time.Second).Unix()}}), want: ErrInvalidProof, msg: "1m1s old"},
		{name: "iat/future", h: one(spec{claims: map[string]any{"iat": t0.Add(Skew + time.Second).Unix()}}), want: ErrInvalidProof, msg: "11s in the future"},
		{name: "iat/year 10000", h: one(spec{claims: map[string]any{"iat": 253402300800}}), want: ErrInvalidProof, msg: "iat must be a number"},

		// 12. ath.
		{name: "ath/absent", h: one(spec{}), token: token, want: ErrInvalidProof, msg: "ath claim is required"},
		{name: "ath/other token", h: one(spec{claims: map[string]any{"ath": ath(token + "x")}}), token: token, want: ErrInvalidProof, msg: "ath is not the hash"},
		{name: "ath/not base64url", h: one(spec{claims: map[string]any{"ath": ath(token) + "="}}), token: token, want: ErrInvalidProof, msg: "ath is not the hash"},
	}
	for _, c := range cases {
		t.Run("case="+c.name, func(t *testing.T) {
			v := newVerifier()
			v.Algs = c.algs
			method, uri := testMethod, testURI
			if c.method != "" {
				method = c.method
			}
			if c.uri != "" {
				uri = c.uri
			}
			p, err := v.Verify(c.h(t), method, uri, c.token)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want success", err)
				}
				if p.JKT == "" || p.JTI == "" || p.IssuedAt.IsZero() || !p.Key.IsPublic() {
					t.Fatalf("Proof = %+v, want JKT, JTI, IssuedAt and a public Key", p)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Verify = %q, want it to say %q", err, c.msg)
			}
		})
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestProof(t *testing.T) {
	v := newVerifier()
	p, err := v.Verify(header(proof(t, spec{key: "ed25519", claims: map[string]any{"jti": "the-jti", "iat": t0.Unix() - 3}})), testMethod, testURI, "")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Thumbprint(jwstest.Public(t, "ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	if p.JKT != want {
		t.Errorf("JKT = %s, want %s", p.JKT, want)
	}
	if p.JTI != "the-jti" {
		t.Errorf("JTI = %q, want the-jti", p.JTI)
	}
	if got, want := p.IssuedAt, t0.Add(-3*time.Second); !got.Equal(want) {
		t.Errorf("IssuedAt = %v, want %v", got, want)
	}
	if !p.Key.IsPublic() {
		t.Errorf("Key is not public")
	}
}

func TestReplay(t *testing.T) {
	v := newVerifier()
	p := proof(t, spec{claims: map[string]any{"jti": "once"}})
	if _, err := v.Verify(header(p), testMethod, testURI, ""); err != nil {
		t.Fatalf("first Verify = %v", err)
	}
	_, err := v.Verify(header(p), testMethod, testURI, "")
	if !errors.Is(err, ErrInvalidProof) || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("replayed proof: Verify = %v, want ErrInvalidProof (already used)", err)
	}
	// The jti is scoped to the target URI and to the key.
	other := proof(t, spec{claims: map[string]any{"jti": "once", "htu": "https://id.example.fr/par"}})
	if _, err := v.Verify(header(other), testMethod, "https://id.example.fr/par", ""); err != nil {
		t.Fatalf("same jti at another URI: Verify = %v, want success", err)
	}
	otherKey := proof(t, spec{key: "ed25519", claims: map[string]any{"jti": "once"}})
	if _, err := v.Verify(header(otherKey), testMethod, testURI, ""); err != nil {
		t.Fatalf("same jti with another key: Verify = %v, want success", err)
	}
	// A refused proof does not use its jti up.
	bad := proof(t, spec{claims: map[string]any{"jti": "kept", "htm": "GET"}})
	if _, err := v.Verify(header(bad), testMethod, testURI, ""); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("bad htm: Verify = %v", err)
	}
	good := proof(t, spec{claims: map[string]any{"jti": "kept"}})
	if _, err := v.Verify(header(good), testMethod, testURI, ""); err != nil {
		t.Fatalf("jti of a refused proof: Verify = %v, want success", err)
	}
}

func TestReplayFull(t *testing.T) {
	v := newVerifier()
	v.Replay = replay.New(1)
	if _, err := v.Verify(header(proof(t, spec{})), testMethod, testURI, ""); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(header(proof(t, spec{})), testMethod, testURI, "")
	if !errors.Is(err, replay.ErrFull) || errors.Is(err, ErrInvalidProof) {
		t.Fatalf("Verify on a full replay set = %v, want replay.ErrFull and not ErrInvalidProof", err)
	}
}

func TestVerifyNonce(t *testing.T) {
	nonces := NewNonces(time.Minute)
	current := nonces.currentAt(t0)
	other := NewNonces(time.Minute).currentAt(t0)
	for _, c := range []struct {
		name  string
		nonce any // nil: no nonce claim
		want  error
		msg   string
	}{
		{"current", current, nil, ""},
		{"issued 45s ago", nonces.currentAt(t0.Add(-44 * time.Second)), nil, ""},
		{"absent", nil, ErrUseNonce, "requires a nonce"},
		{"empty", "", ErrUseNonce, "requires a nonce"},
		{"not a string", 12, ErrUseNonce, "must be a string"},
		{"expired", nonces.currentAt(t0.Add(-61 * time.Second)), ErrUseNonce, "has expired"},
		{"another server's", other, ErrUseNonce, "not one this server issued"},
		{"made up", "eyJ7S_zG.eyJH0-Z.HX4w-7v", ErrUseNonce, "not one this server issued"},
	} {
		t.Run("nonce="+c.name, func(t *testing.T) {
			v := newVerifier()
			v.Nonces = nonces
			claims := map[string]any{"nonce": c.nonce}
			p := proof(t, spec{claims: claims})
			_, err := v.Verify(header(p), testMethod, testURI, "")
			if c.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want success", err)
				}
				return
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Verify = %v, want %v (%s)", err, c.want, c.msg)
			}
		})
	}

	// A proof that is invalid anyway is reported as invalid, not as lacking
	// a nonce: a nonce would not fix it.
	v := newVerifier()
	v.Nonces = nonces
	_, err := v.Verify(header(proof(t, spec{claims: map[string]any{"htm": "GET"}})), testMethod, testURI, "")
	if !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("invalid proof without nonce: Verify = %v, want ErrInvalidProof", err)
	}

	// The flow of RFC 9449 §8: refused for want of a nonce, the client
	// retries with the one it is given, with a new jti.
	_, err = v.Verify(header(proof(t, spec{})), testMethod, testURI, "")
	if !errors.Is(err, ErrUseNonce) {
		t.Fatalf("first try: Verify = %v, want ErrUseNonce", err)
	}
	if _, err := v.Verify(header(proof(t, spec{claims: map[string]any{"nonce": current}})), testMethod, testURI, ""); err != nil {
		t.Fatalf("retry with the nonce: Verify = %v", err)
	}
}

func TestVerifyConfiguration(t *testing.T) {
	p := proof(t, spec{})
	for _, c := range []struct {
		name string
		v    *Verifier
		uri  string
		msg  string
	}{
		{"no replay set", &Verifier{Now: func() time.Time { return t0 }}, testURI, "Replay is nil"},
		{"HS256", &Verifier{Algs: []jose.SignatureAlgorithm{jose.ES256, jose.HS256}, Replay: replay.New(1)}, testURI, `"HS256"`},
		{"none", &Verifier{Algs: []jose.SignatureAlgorithm{"none"}, Replay: replay.New(1)}, testURI, `"none"`},
		{"relative URI", newVerifier(), "/token", "request URI"},
	} {
		t.Run("config="+c.name, func(t *testing.T) {
			_, err := c.v.Verify(header(p), testMethod, c.uri, "")
			if err == nil || errors.Is(err, ErrInvalidProof) || errors.Is(err, ErrMissing) || errors.Is(err, ErrUseNonce) {
				t.Fatalf("Verify = %v, want a configuration error", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Verify = %q, want it to say %q", err, c.msg)
			}
		})
	}
}

func TestAlgorithms(t *testing.T) {
	v := &Verifier{}
	if got, want := jws.JoinAlgs(v.Algorithms()), "ES256 PS256 EdDSA"; got != want {
		t.Fatalf("default Algorithms = %s, want %s", got, want)
	}
	a := v.Algorithms()
	a[0] = jose.HS256
	if got := v.Algorithms()[0]; got != jose.ES256 {
		t.Fatalf("Algorithms shares its slice: %s after a change to a copy", got)
	}
}

// TestThumbprint checks the example of RFC 7638 §3.1.
func TestThumbprint(t *testing.T) {
	var k jose.JSONWebKey
	err := json.Unmarshal([]byte(`{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`), &k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Thumbprint(k)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("Thumbprint = %s, want %s", got, want)
	}
	if _, err := Thumbprint(jose.JSONWebKey{Key: []byte("secret")}); err == nil {
		t.Fatal("Thumbprint of a symmetric key: no error")
	}
}

// BenchmarkVerify verifies fresh ES256 proofs, each with its own jti, as the
// token endpoint does.
func BenchmarkVerify(b *testing.B) {
	proofs := make([]string, b.N)
	for i := range proofs {
		proofs[i] = proof(b, spec{})
	}
	v := newVerifier()
	v.Replay = replay.New(b.N + 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := v.Verify(header(proofs[i]), testMethod, testURI, ""); err != nil {
			b.Fatal(err)
		}
	}
}
