package keystest

import (
	"crypto/rand"
	"testing"

	"github.com/coffre-cloud/coffre/keys"
)

// Bench measures Wrap and Unwrap of a 32-byte tenant KEK, from one goroutine
// and from GOMAXPROCS goroutines (b.RunParallel), reporting ops/s. The vault
// caches unwrapped tenant KEKs, so these run about once per tenant per cache
// window, never per object: they size start-up and cache misses, not PUTs.
func Bench(b *testing.B, o Opts) {
	for _, par := range []bool{false, true} {
		name := "par=1"
		if par {
			name = "par=procs"
		}
		b.Run("op=Wrap/"+name, func(b *testing.B) { benchWrap(b, o, par) })
		b.Run("op=Unwrap/"+name, func(b *testing.B) { benchUnwrap(b, o, par) })
	}
}

func benchWrap(b *testing.B, o Opts, parallel bool) {
	s := o.New(b)
	secret := make([]byte, 32)
	rand.Read(secret)
	run(b, parallel, func() error {
		_, err := s.Wrap(b.Context(), secret, ad)
		return err
	})
}

func benchUnwrap(b *testing.B, o Opts, parallel bool) {
	s := o.New(b)
	secret := make([]byte, 32)
	rand.Read(secret)
	w, err := s.Wrap(b.Context(), secret, ad)
	if err != nil {
		b.Fatal(err)
	}
	run(b, parallel, func() error {
		k, err := s.Unwrap(b.Context(), w, ad)
		keys.Secret(k).Zero()
		return err
	})
}

func run(b *testing.B, parallel bool, op func() error) {
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
