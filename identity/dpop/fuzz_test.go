package dpop

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/internal/jws"
	"github.com/coffre-cloud/coffre/identity/internal/jws/jwstest"
	"github.com/coffre-cloud/coffre/identity/replay"
)

// FuzzVerify feeds arbitrary DPoP header values to Verify, seeded with valid
// proofs of every test key and algorithm and with the RFC 9449 vectors. It
// must not panic, must refuse with ErrInvalidProof only (the rest is the
// server's business), and must accept only a proof whose signature the
// standard library, independently of go-jose, verifies with a key the
// test knows; with a fresh replay set each time, so acceptance is never
// hidden by a replay.
func FuzzVerify(f *testing.F) {
	for _, s := range []spec{
		{key: "es256"}, {key: "rsa2048"}, {key: "ed25519"},
		{key: "es256", claims: map[string]any{"ath": ath("token"), "htu": "HTTPS://id.example.fr:443/token?x#y"}},
	} {
		f.Add(proof(f, s))
	}
	for _, vec := range loadVectors(f) {
		f.Add(vec.Proof)
	}
	known := map[string]any{}
	for _, name := range []string{"es256", "es256-b", "rsa2048", "ed25519"} {
		pub := jwstest.Public(f, name)
		jkt, err := Thumbprint(pub)
		if err != nil {
			f.Fatal(err)
		}
		known[jkt] = pub.Key
	}
	f.Fuzz(func(t *testing.T, dpop string) {
		v := &Verifier{Replay: replay.New(4), Now: func() time.Time { return t0 }}
		p, err := v.Verify(header(dpop), testMethod, testURI, "")
		if err != nil {
			if !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("Verify = %v, want ErrInvalidProof", err)
			}
			return
		}
		pub, ok := known[p.JKT]
		if !ok {
			t.Fatalf("accepted a proof with an unknown key %s", p.JKT)
		}
		i := strings.LastIndexByte(dpop, '.')
		sig, err := jws.Encoding.DecodeString(dpop[i+1:])
		if err != nil || !jwstest.VerifyRaw(pub, []byte(dpop[:i]), sig) {
			t.Fatalf("accepted a proof whose signature does not verify: %q", dpop)
		}
		if _, err := v.Verify(header(dpop), testMethod, testURI, ""); !errors.Is(err, ErrInvalidProof) {
			t.Fatalf("accepted a proof twice: %v", err)
		}
	})
}

// FuzzNormalizeHTU checks that normalization is idempotent and never
// panics: a normal form is its own normal form.
func FuzzNormalizeHTU(f *testing.F) {
	for _, s := range []string{testURI, "HTTPS://A.example:443/%7e/./b/../c?q#f", "http://[::1]:80", "https://x/%2f%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := normalizeHTU(s)
		if err != nil {
			return
		}
		again, err := normalizeHTU(n)
		if err != nil || again != n {
			t.Fatalf("normalizeHTU(%q) = %q, whose normal form is %q, %v", s, n, again, err)
		}
	})
}
