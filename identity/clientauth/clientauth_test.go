package clientauth

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/internal/jws/jwstest"
	"github.com/coffre-cloud/coffre/identity/replay"
	"github.com/go-jose/go-jose/v4"
)

// TestVerify is RFC 7523 §3, OpenID Connect Core §9 and FAPI 2.0 §5.3.2.1
// as a table: every case but the valid ones breaks one rule and must be
// refused for it.
func TestVerify(t *testing.T) {
	now := t0.Unix()
	valid := `{"jti":"x","aud":"` + issuer + `","exp":` + itoa(now+60) + `,"iss":"` + clientID + `","sub":"` + clientID + `"}`
	type tc struct {
		name   string
		a      func(t *testing.T) string
		client string // "" means clientID
		strict bool
		algs   []jose.SignatureAlgorithm
		keys   func(t *testing.T) *jose.JSONWebKeySet
		msg    string // "" for success, else a substring of the error
	}
	one := func(s spec) func(t *testing.T) string {
		return func(t *testing.T) string { return assertion(t, s) }
	}
	cases := []tc{
		// Valid assertions, by go-jose's signer, for each FAPI 2.0 algorithm.
		{name: "valid/ES256", a: one(spec{key: "es256"})},
		{name: "valid/PS256", a: one(spec{key: "rsa2048"})},
		{name: "valid/EdDSA", a: one(spec{key: "ed25519"})},
		{name: "valid/ES256 without kid", a: one(spec{kid: ptr("")})},
		{name: "valid/PS256 without kid", a: one(spec{key: "rsa2048", kid: ptr("")})},
		{name: "valid/typ JWT", a: one(spec{headers: map[jose.HeaderKey]any{"typ": "JWT"}})},
		{name: "valid/explicit typ", a: one(spec{headers: map[jose.HeaderKey]any{"typ": "client-authentication+jwt"}})},
		{name: "valid/strict", a: one(spec{}), strict: true},
		{name: "valid/aud array with the issuer", a: one(spec{claims: map[string]any{"aud": []string{"https://other.example", issuer}}})},
		{name: "valid/aud token endpoint", a: one(spec{claims: map[string]any{"aud": tokenURL}})},
		{name: "valid/aud PAR endpoint in an array", a: one(spec{claims: map[string]any{"aud": []string{parURL}}})},
		{name: "valid/only the required claims", a: one(spec{payload: []byte(valid)})},
		{name: "valid/exp passed within the skew", a: one(spec{claims: map[string]any{"exp": now - int64(Skew/time.Second), "iat": now - 60}})},
		{name: "valid/iat 10s ahead", a: one(spec{claims: map[string]any{"iat": now + 10, "nbf": now + 10}})},
		{name: "valid/lifetime of 5 minutes", a: one(spec{claims: map[string]any{"iat": now, "exp": now + 300}})},
		{name: "valid/ES384 when configured", a: one(spec{key: "es384", kid: ptr("k-enc-as-sig")}), algs: []jose.SignatureAlgorithm{jose.ES384},
			keys: func(t *testing.T) *jose.JSONWebKeySet {
				return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{registered(t, "es384", "k-enc-as-sig")}}
			}},

		// The request.
		{name: "request/no client_id", a: one(spec{}), client: "-", msg: "no client identifier"},
		{name: "request/too large", a: one(spec{claims: map[string]any{"pad": strings.Repeat("x", MaxAssertionSize)}}), msg: "more than the"},
		{name: "request/JWE", a: func(*testing.T) string { return "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d" }, msg: "5 parts"},
		{name: "request/JSON serialization", a: func(*testing.T) string { return `{"payload":"e30"}` }, msg: "compact JWS"},
		{name: "request/no signature", a: func(t *testing.T) string { a := assertion(t, spec{}); return a[:strings.LastIndexByte(a, '.')+1] }, msg: "part 3 is empty"},
		{name: "request/duplicate claim", a: one(spec{payload: []byte(valid[:len(valid)-1] + `,"sub":"other"}`)}), msg: `"sub" appears twice`},
		{name: "request/duplicate header", a: func(t *testing.T) string {
			return jwstest.SignRaw(t, "es256", jose.ES256, `{"alg":"ES256","kid":"k-es","kid":"k-rsa"}`, valid)
		}, msg: `"kid" appears twice`},

		// typ and header.
		{name: "typ/DPoP proof", a: one(spec{headers: map[jose.HeaderKey]any{"typ": "dpop+jwt"}}), msg: `typ "dpop+jwt" is another kind`},
		{name: "typ/access token", a: one(spec{headers: map[jose.HeaderKey]any{"typ": "at+jwt"}}), msg: `typ "at+jwt" is another kind`},
		{name: "typ/not a string", a: one(spec{headers: map[jose.HeaderKey]any{"typ": true}}), msg: "typ must be a string"},
		{name: "header/crit", a: one(spec{headers: map[jose.HeaderKey]any{"crit": []string{"x"}, "x": 1}}), msg: `"crit" is not supported`},

		// alg.
		{name: "alg/none", a: func(t *testing.T) string {
			return jwstest.SignRaw(t, "", "none", `{"alg":"none"}`, valid)
		}, msg: `alg "none" is not accepted`},
		{name: "alg/HS256", a: func(t *testing.T) string {
			s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(strings.Repeat("s", 32))}, nil)
			jws, _ := s.Sign([]byte(valid))
			a, _ := jws.CompactSerialize()
			return a
		}, msg: `alg "HS256" is not accepted`},
		{name: "alg/RS256", a: one(spec{key: "rsa2048", alg: jose.RS256}), msg: `alg "RS256" is not accepted`},
		{name: "alg/ES384 not configured", a: one(spec{key: "es384"}), msg: `alg "ES384" is not accepted`},

		// The key.
		{name: "key/unknown kid", a: one(spec{kid: ptr("k-nope")}), msg: `no registered key with kid "k-nope"`},
		{name: "key/kid of an encryption key", a: one(spec{key: "es384", kid: ptr("k-enc")}), algs: []jose.SignatureAlgorithm{jose.ES384}, msg: `is for "enc"`},
		{name: "key/kid of a key for another alg", a: one(spec{kid: ptr("k-es-384")}), msg: "restricted to ES384"},
		{name: "key/kid of a small RSA key", a: one(spec{key: "rsa1024"}), msg: "1024 bits"},
		{name: "key/kid of a key of another type", a: one(spec{kid: ptr("k-ed")}), msg: "cannot verify ES256"},
		{name: "key/small RSA key without kid", a: one(spec{key: "rsa1024", kid: ptr("")}), msg: "signature does not verify with the client's registered key"},
		{name: "key/another key, same kid", a: one(spec{key: "es256-b", kid: ptr("k-es")}), msg: "signature does not verify"},
		{name: "key/another key, no kid", a: one(spec{key: "es256-b", kid: ptr("")}), msg: "signature does not verify"},
		{name: "key/tampered signature", a: func(t *testing.T) string {
			a := assertion(t, spec{})
			i := strings.LastIndexByte(a, '.') + 3
			return a[:i] + string(map[bool]byte{true: 'A', false: 'B'}[a[i] != 'A']) + a[i+1:]
		}, msg: "signature does not verify"},
		{name: "key/no keys", a: one(spec{}), keys: func(*testing.T) *jose.JSONWebKeySet { return &jose.JSONWebKeySet{} }, msg: "no registered keys"},
		{name: "key/nil key set", a: one(spec{}), keys: func(*testing.T) *jose.JSONWebKeySet { return nil }, msg: "no registered keys"},
		{name: "key/private key registered", a: one(spec{}), keys: func(t *testing.T) *jose.JSONWebKeySet {
			k := jwstest.Key(t, "es256")
			k.KeyID = "k-es"
			return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k}}
		}, msg: "not a public key"},

		// iss and sub.
		{name: "iss/other client", a: one(spec{claims: map[string]any{"iss": "client-2"}}), msg: `iss "client-2" is not the client_id`},
		{name: "iss/absent", a: one(spec{claims: map[string]any{"iss": nil}}), msg: "iss claim is required"},
		{name: "iss/not a string", a: one(spec{claims: map[string]any{"iss": 1}}), msg: "iss must be a string"},
		{name: "sub/other", a: one(spec{claims: map[string]any{"sub": "someone"}}), msg: `sub "someone" is not the client_id`},
		{name: "sub/absent", a: one(spec{claims: map[string]any{"sub": nil}}), msg: "sub claim is required"},
		{name: "iss/another client's assertion", a: one(spec{}), client: "client-2", msg: `iss "client-1" is not the client_id "client-2"`},

		// aud.
		{name: "aud/absent", a: one(spec{claims: map[string]any{"aud": nil}}), msg: "aud claim is required"},
		{name: "aud/other server", a: one(spec{claims: map[string]any{"aud": "https://other.example"}}), msg: "does not name this server"},
		{name: "aud/issuer with a slash", a: one(spec{claims: map[string]any{"aud": issuer + "/"}}), msg: "does not name this server"},
		{name: "aud/array without us", a: one(spec{claims: map[string]any{"aud": []string{"https://a.example", "https://b.example"}}}), msg: "does not name this server"},
		{name: "aud/empty array", a: one(spec{claims: map[string]any{"aud": []string{}}}), msg: "does not name this server"},
		{name: "aud/number", a: one(spec{claims: map[string]any{"aud": 7}}), msg: "aud must be a string or an array"},
		{name: "aud/array of numbers", a: one(spec{claims: map[string]any{"aud": []int{7}}}), msg: "aud must be a string or an array"},
		{name: "aud/strict, array", a: one(spec{claims: map[string]any{"aud": []string{issuer}}}), strict: true, msg: "as a string and alone"},
		{name: "aud/strict, token endpoint", a: one(spec{claims: map[string]any{"aud": tokenURL}}), strict: true, msg: "as a string and alone"},
		{name: "aud/explicit typ, token endpoint", a: one(spec{headers: map[jose.HeaderKey]any{"typ": "client-authentication+jwt"}, claims: map[string]any{"aud": tokenURL}}), msg: "as a string and alone"},
		{name: "aud/explicit typ, array", a: one(spec{headers: map[jose.HeaderKey]any{"typ": "client-authentication+jwt"}, claims: map[string]any{"aud": []string{issuer, tokenURL}}}), msg: "as a string and alone"},

		// Times.
		{name: "exp/absent", a: one(spec{claims: map[string]any{"exp": nil}}), msg: "exp claim is required"},
		{name: "exp/string", a: one(spec{claims: map[string]any{"exp": "soon"}}), msg: "exp must be a number"},
		{name: "exp/passed", a: one(spec{claims: map[string]any{"exp": now - int64(Skew/time.Second) - 1, "iat": now - 60}}), msg: "expired at"},
		{name: "exp/too far", a: one(spec{claims: map[string]any{"exp": now + 311, "iat": nil}}), msg: "5m11s ahead"},
		{name: "iat/future", a: one(spec{claims: map[string]any{"iat": now + 11, "nbf": nil}}), msg: "iat 2026-03-01T12:00:11Z is 11s in the future"},
		{name: "iat/lifetime too long", a: one(spec{claims: map[string]any{"iat": now - 60, "exp": now + 241}}), msg: "lives 5m1s"},
		{name: "iat/string", a: one(spec{claims: map[string]any{"iat": "now"}}), msg: "iat must be a number"},
		{name: "nbf/future", a: one(spec{claims: map[string]any{"nbf": now + 11}}), msg: "nbf 2026-03-01T12:00:11Z is 11s in the future"},

		// jti.
		{name: "jti/absent", a: one(spec{claims: map[string]any{"jti": nil}}), msg: "jti claim is required"},
		{name: "jti/empty", a: one(spec{claims: map[string]any{"jti": ""}}), msg: "jti claim is required"},
		{name: "jti/number", a: one(spec{claims: map[string]any{"jti": 5}}), msg: "jti must be a string"},
	}
	for _, c := range cases {
		t.Run("case="+c.name, func(t *testing.T) {
			v := newVerifier()
			v.StrictAudience = c.strict
			v.Algs = c.algs
			keys := clientKeys(t)
			if c.keys != nil {
				keys = c.keys(t)
			}
			client := clientID
			switch c.client {
			case "-":
				client = ""
			case "":
			default:
				client = c.client
			}
			err := v.Verify(c.a(t), client, keys)
			if c.msg == "" {
				if err != nil {
					t.Fatalf("Verify = %v, want success", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidClient) {
				t.Fatalf("Verify = %v, want ErrInvalidClient", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Verify = %q, want it to say %q", err, c.msg)
			}
		})
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestReplay(t *testing.T) {
	v := newVerifier()
	keys := clientKeys(t)
	a := assertion(t, spec{claims: map[string]any{"jti": "once"}})
	if err := v.Verify(a, clientID, keys); err != nil {
		t.Fatalf("first Verify = %v", err)
	}
	err := v.Verify(a, clientID, keys)
	if !errors.Is(err, ErrInvalidClient) || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("replayed assertion: Verify = %v, want ErrInvalidClient (already used)", err)
	}
	// Another client may use the same jti.
	other := assertion(t, spec{claims: map[string]any{"jti": "once", "iss": "client-2", "sub": "client-2"}})
	if err := v.Verify(other, "client-2", keys); err != nil {
		t.Fatalf("same jti, other client: Verify = %v, want success", err)
	}
	// A refused assertion does not use its jti up.
	bad := assertion(t, spec{claims: map[string]any{"jti": "kept", "aud": "https://other.example"}})
	if err := v.Verify(bad, clientID, keys); !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("bad aud: Verify = %v", err)
	}
	if err := v.Verify(assertion(t, spec{claims: map[string]any{"jti": "kept"}}), clientID, keys); err != nil {
		t.Fatalf("jti of a refused assertion: Verify = %v, want success", err)
	}
	// The jti is remembered for as long as the assertion is accepted: until
	// exp plus the skew.
	later := assertion(t, spec{claims: map[string]any{"jti": "kept"}})
	v.Now = func() time.Time { return t0.Add(60*time.Second + Skew) }
	if err := v.Verify(later, clientID, keys); !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("jti at exp+skew: Verify = %v, want ErrInvalidClient", err)
	}
}

func TestReplayFull(t *testing.T) {
	v := newVerifier()
	v.Replay = replay.New(1)
	keys := clientKeys(t)
	if err := v.Verify(assertion(t, spec{}), clientID, keys); err != nil {
		t.Fatal(err)
	}
	err := v.Verify(assertion(t, spec{}), clientID, keys)
	if !errors.Is(err, replay.ErrFull) || errors.Is(err, ErrInvalidClient) {
		t.Fatalf("Verify on a full replay set = %v, want replay.ErrFull and not ErrInvalidClient", err)
	}
}

func TestVerifyConfiguration(t *testing.T) {
	a := assertion(t, spec{})
	for _, c := range []struct {
		name string
		v    *Verifier
		msg  string
	}{
		{"no audiences", &Verifier{Replay: replay.New(1)}, "Audiences must start with the issuer"},
		{"empty issuer", &Verifier{Audiences: []string{"", tokenURL}, Replay: replay.New(1)}, "Audiences must start with the issuer"},
		{"no replay set", &Verifier{Audiences: []string{issuer}}, "Replay is nil"},
		{"HS256", &Verifier{Audiences: []string{issuer}, Replay: replay.New(1), Algs: []jose.SignatureAlgorithm{jose.HS256}}, `"HS256"`},
	} {
		t.Run("config="+c.name, func(t *testing.T) {
			err := c.v.Verify(a, clientID, clientKeys(t))
			if err == nil || errors.Is(err, ErrInvalidClient) {
				t.Fatalf("Verify = %v, want a configuration error", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Verify = %q, want it to say %q", err, c.msg)
			}
		})
	}
}

func TestUnverifiedIssuer(t *testing.T) {
	got, err := UnverifiedIssuer(assertion(t, spec{}))
	if err != nil || got != clientID {
		t.Fatalf("UnverifiedIssuer = %q, %v; want %q", got, err, clientID)
	}
	for _, c := range []struct{ name, a, msg string }{
		{"no iss", assertion(t, spec{claims: map[string]any{"iss": nil}}), "iss claim is required"},
		{"numeric iss", assertion(t, spec{claims: map[string]any{"iss": 3}}), "iss must be a string"},
		{"garbage", "not a jwt", "compact JWS"},
		{"too large", strings.Repeat("a", MaxAssertionSize+1), "more than"},
	} {
		_, err := UnverifiedIssuer(c.a)
		if !errors.Is(err, ErrInvalidClient) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("case=%s: UnverifiedIssuer = %v, want ErrInvalidClient (%s)", c.name, err, c.msg)
		}
	}
}

// BenchmarkVerify verifies fresh ES256 assertions with a kid, each with its
// own jti, as the token endpoint does.
func BenchmarkVerify(b *testing.B) {
	as := make([]string, b.N)
	for i := range as {
		as[i] = assertion(b, spec{})
	}
	v := newVerifier()
	v.Replay = replay.New(b.N + 1)
	keys := clientKeys(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := v.Verify(as[i], clientID, keys); err != nil {
			b.Fatal(err)
		}
	}
}
