package clientauth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/internal/jws"
	"github.com/coffre-cloud/coffre/identity/internal/jws/jwstest"
	"github.com/coffre-cloud/coffre/identity/replay"
	"github.com/go-jose/go-jose/v4"
)

// FuzzVerify feeds arbitrary assertions to Verify for the test client,
// seeded with valid assertions of each registered key, with and without kid.
// It must not panic, must refuse with ErrInvalidClient only, and must accept
// only an assertion whose signature the standard library, independently of
// go-jose, verifies with one of the client's usable registered keys; with a
// fresh replay set each time, so acceptance is never hidden by a replay.
// UnverifiedIssuer must not panic either, and must agree with an accepted
// assertion.
func FuzzVerify(f *testing.F) {
	for _, s := range []spec{
		{key: "es256"}, {key: "rsa2048"}, {key: "ed25519"},
		{key: "es256", kid: ptr("")},
		{key: "ed25519", headers: map[jose.HeaderKey]any{"typ": "client-authentication+jwt"}},
		{key: "rsa2048", claims: map[string]any{"aud": []string{issuer, tokenURL}}},
	} {
		f.Add(assertion(f, s))
	}
	keys := clientKeys(f)
	usable := map[string]any{"k-es": nil, "k-rsa": nil, "k-ed": nil}
	for _, k := range keys.Keys {
		if _, ok := usable[k.KeyID]; ok {
			usable[k.KeyID] = k.Key
		}
	}
	f.Fuzz(func(t *testing.T, a string) {
		iss, issErr := UnverifiedIssuer(a)
		if issErr != nil && !errors.Is(issErr, ErrInvalidClient) {
			t.Fatalf("UnverifiedIssuer = %v, want ErrInvalidClient", issErr)
		}
		v := &Verifier{Audiences: []string{issuer, tokenURL, parURL}, Replay: replay.New(4), Now: func() time.Time { return t0 }}
		err := v.Verify(a, clientID, keys)
		if err != nil {
			if !errors.Is(err, ErrInvalidClient) {
				t.Fatalf("Verify = %v, want ErrInvalidClient", err)
			}
			return
		}
		if issErr != nil || iss != clientID {
			t.Fatalf("accepted an assertion whose UnverifiedIssuer is %q, %v", iss, issErr)
		}
		i := strings.LastIndexByte(a, '.')
		sig, err := jws.Encoding.DecodeString(a[i+1:])
		if err != nil {
			t.Fatalf("accepted an assertion with a bad signature encoding: %v", err)
		}
		ok := false
		for _, pub := range usable {
			ok = ok || jwstest.VerifyRaw(pub, []byte(a[:i]), sig)
		}
		if !ok {
			t.Fatalf("accepted an assertion no registered key signed: %q", a)
		}
		if err := v.Verify(a, clientID, keys); !errors.Is(err, ErrInvalidClient) {
			t.Fatalf("accepted an assertion twice: %v", err)
		}
	})
}
