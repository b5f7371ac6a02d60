package jwt

import (
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// BenchmarkSign measures one ID token signature through each store: the
// key store's signature is most of it (the HSM's round trip for SoftHSM).
func BenchmarkSign(b *testing.B) {
	for _, st := range stores {
		b.Run("store="+st.name, func(b *testing.B) {
			s, _ := newSigner(b, st)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(claims, "JWT"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// BenchmarkSignEncrypt measures an encrypted ID token: sign with the
// keyring, then ECDH-ES P-256 + A256GCM to the client.
func BenchmarkSignEncrypt(b *testing.B) {
	s, _ := newSigner(b, stores[0])
	_, pub := clientKey(b, "P-256", "client")
	b.ReportAllocs()
	for b.Loop() {
		jws, err := s.Sign(claims, "JWT")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Encrypt(jws, pub, jose.ECDH_ES, jose.A256GCM); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkVerify measures Verify of an ES256 token against a two-key set,
// what a relying party (or the provider reading its own tokens) pays.
func BenchmarkVerify(b *testing.B) {
	s, _ := newSigner(b, stores[0])
	prev, _ := newSigner(b, stores[0])
	p := prev.PublicKey()
	p.kid = "k0"
	set := PublicJWKS(s.PublicKey(), p)
	tok, err := s.Sign(claims, "JWT")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Verify(tok, &set); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
