package password

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// cheap are the least parameters Hash accepts, to keep the tests fast.
var cheap = Params{Memory: MinMemory, Time: 1, Threads: 1}

// TestReferenceVectors verifies argon2id PHC strings made by the reference
// implementation (P-H-C/phc-winner-argon2, src/test.c, the Argon2id cases
// of version 0x13, password "password"): they pin both the PHC parsing and
// the derivation, and show that hashes from another implementation verify.
// RFC 9106's own argon2id vector needs the secret and associated-data
// inputs, which golang.org/x/crypto/argon2 does not expose.
func TestReferenceVectors(t *testing.T) {
	for _, v := range []struct{ pw, encoded string }{
		{"password", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"},
		{"password", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"},
		{"password", "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"},
		{"password", "$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHQ$9qWtwbpyPd3vm1rB1GThgPzZ3/ydHL92zKL+15XZypg"},
		{"password", "$argon2id$v=19$m=65536,t=4,p=1$c29tZXNhbHQ$kCXUjmjvc5XMqQedpMTsOv+zyJEf5PhtGiUghW9jFyw"},
		{"differentpassword", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C4TWUs9rDEvq7w3+J4umqA32aWKB1+DSiRuBfYxFj94"},
		{"password", "$argon2id$v=19$m=65536,t=2,p=1$ZGlmZnNhbHQ$vfMrBczELrFdWP0ZsfhWsRPaHppYdP3MVEMIVlqoFBw"},
	} {
		t.Run("hash="+v.encoded[strings.LastIndexByte(v.encoded, '$')+1:][:8], func(t *testing.T) {
			ok, rehash, err := Verify(v.encoded, v.pw)
			if err != nil || !ok {
				t.Fatalf("Verify(reference, %q) = %v, %v; want true", v.pw, ok, err)
			}
			if !rehash {
				t.Error("needsRehash = false for a hash with an 8-byte salt and other parameters")
			}
			if ok, _, err := Verify(v.encoded, v.pw+"x"); err != nil || ok {
				t.Fatalf("Verify(reference, wrong password) = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestHashVerify(t *testing.T) {
	pw := "cheval agrafe pile correcte"
	enc, err := Hash(pw, cheap)
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=7168,t=1,p=1$"; !strings.HasPrefix(enc, want) {
		t.Fatalf("Hash = %s, want prefix %s", enc, want)
	}
	if got, want := len(enc), len("$argon2id$v=19$m=7168,t=1,p=1$")+22+1+43; got != want {
		t.Fatalf("len(Hash) = %d, want %d (16-byte salt, 32-byte hash)", got, want)
	}
	enc2, _ := Hash(pw, cheap)
	if enc == enc2 {
		t.Fatal("two hashes of the same password are equal: the salt is not random")
	}
	ok, rehash, err := Verify(enc, pw)
	if err != nil || !ok {
		t.Fatalf("Verify(right password) = %v, %v", ok, err)
	}
	if !rehash {
		t.Error("needsRehash = false for cheap parameters, want true (they are not the defaults)")
	}
	ok, rehash, err = Verify(enc, "cheval agrafe pile correctE")
	if err != nil || ok || rehash {
		t.Fatalf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
}

func TestDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: one hash with the default parameters")
	}
	p := DefaultParams()
	if p != (Params{Memory: 19456, Time: 2, Threads: 1}) {
		t.Fatalf("DefaultParams() = %+v, want OWASP's m=19456,t=2,p=1", p)
	}
	enc, err := Hash("un mot de passe assez long", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("Hash = %s", enc)
	}
	ok, rehash, err := Verify(enc, "un mot de passe assez long")
	if err != nil || !ok || rehash {
		t.Fatalf("Verify = %v, %v, %v; want true, false (current parameters), nil", ok, rehash, err)
	}
}

// TestNormalization: the same password typed with a precomposed "é" or
// with "e" and a combining accent is one password.
func TestNormalization(t *testing.T) {
	nfc, nfd := "caf\u00e9 au lait chaud", "cafe\u0301 au lait chaud"
	enc, err := Hash(nfd, cheap)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := Verify(enc, nfc); err != nil || !ok {
		t.Fatalf("Verify(NFC) of Hash(NFD) = %v, %v; want true", ok, err)
	}
}

func TestMalformed(t *testing.T) {
	good := "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	for name, enc := range map[string]string{
		"empty":            "",
		"argon2i":          "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
		"argon2d":          strings.Replace(good, "argon2id", "argon2d", 1),
		"no version":       strings.Replace(good, "v=19$", "", 1),
		"version 16":       strings.Replace(good, "v=19", "v=16", 1),
		"missing $":        strings.Replace(good, "p=1$", "p=1", 1),
		"order":            strings.Replace(good, "m=256,t=2", "t=2,m=256", 1),
		"leading zero":     strings.Replace(good, "m=256", "m=0256", 1),
		"sign":             strings.Replace(good, "t=2", "t=+2", 1),
		"keyid":            strings.Replace(good, "p=1", "p=1,keyid=AAAA", 1),
		"t=0":              strings.Replace(good, "t=2", "t=0", 1),
		"p=0":              strings.Replace(good, "p=1", "p=0", 1),
		"m below 8p":       strings.Replace(good, "m=256,t=2,p=1", "m=15,t=2,p=2", 1),
		"m too large":      strings.Replace(good, "m=256", "m=4194304", 1),
		"t too large":      strings.Replace(good, "t=2", "t=100", 1),
		"p too large":      strings.Replace(good, "p=1", "p=255", 1),
		"m overflow":       strings.Replace(good, "m=256", "m=99999999999", 1),
		"padded salt":      strings.Replace(good, "c29tZXNhbHQ", "c29tZXNhbHQ=", 1),
		"url base64":       strings.Replace(good, "/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4", "_uIPnA4rEsF5h7TKyQwu9U1bMCHGi_4", 1),
		"trailing bits":    strings.Replace(good, "Gi/4", "Gi/5", 1),
		"short salt":       strings.Replace(good, "c29tZXNhbHQ", "c29tZQ", 1),
		"short hash":       strings.Replace(good, "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4", "nf65EOgLrQMR", 1),
		"trailing garbage": good + "$",
		"newline in hash":  strings.Replace(good, "nf65", "nf\n65", 1),
		"bcrypt":           "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
	} {
		t.Run("case="+name, func(t *testing.T) {
			ok, _, err := Verify(enc, "password")
			if !errors.Is(err, ErrMalformed) || ok {
				t.Fatalf("Verify(%q) = %v, %v; want ErrMalformed", enc, ok, err)
			}
		})
	}
}

func TestLengths(t *testing.T) {
	long := strings.Repeat("a", MaxLength+1)
	if _, err := Hash(long, cheap); !errors.Is(err, ErrTooLong) {
		t.Errorf("Hash(%d bytes) = %v, want ErrTooLong", len(long), err)
	}
	good := "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	if _, _, err := Verify(good, long); !errors.Is(err, ErrTooLong) {
		t.Errorf("Verify(%d bytes) = %v, want ErrTooLong", len(long), err)
	}
	if _, err := Hash("", cheap); !errors.Is(err, ErrTooShort) {
		t.Errorf("Hash(\"\") = %v, want ErrTooShort", err)
	}
	if _, err := Hash("\xff\xfe invalid utf-8", cheap); !errors.Is(err, ErrCharacters) {
		t.Errorf("Hash(invalid UTF-8) = %v, want ErrCharacters", err)
	}
	// MaxLength itself is fine.
	if _, err := Hash(strings.Repeat("é", MaxLength/2), cheap); err != nil {
		t.Errorf("Hash(%d bytes) = %v", MaxLength, err)
	}
}

func TestParams(t *testing.T) {
	for _, p := range []Params{
		{},
		{Memory: MinMemory - 1, Time: 1, Threads: 1},
		{Memory: MaxMemory + 1, Time: 1, Threads: 1},
		{Memory: MinMemory, Time: 0, Threads: 1},
		{Memory: MinMemory, Time: MaxTime + 1, Threads: 1},
		{Memory: MinMemory, Time: 1, Threads: 0},
		{Memory: MinMemory, Time: 1, Threads: MaxThreads + 1},
	} {
		if _, err := Hash("whatever it is", p); !errors.Is(err, ErrParams) {
			t.Errorf("Hash(params %+v) = %v, want ErrParams", p, err)
		}
	}
}

// TestLimiterBounds: with every slot taken, a Verify waits; it runs as
// soon as one is released.
func TestLimiterBounds(t *testing.T) {
	const n = 2
	l, err := NewLimiter(n, cheap)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := l.Hash(t.Context(), "douze caractères")
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		l.sem <- struct{}{}
	}
	done := make(chan error, 1)
	go func() {
		ok, _, err := l.Verify(t.Context(), enc, "douze caractères")
		if err == nil && !ok {
			err = errors.New("wrong password")
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Verify returned (%v) while all %d slots were taken", err, n)
	case <-time.After(50 * time.Millisecond):
	}
	<-l.sem
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Verify once a slot was free = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Verify still waiting 10s after a slot was released")
	}
}

func TestLimiterContext(t *testing.T) {
	l, err := NewLimiter(1, cheap)
	if err != nil {
		t.Fatal(err)
	}
	l.sem <- struct{}{} // the one slot is taken
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = l.Hash(ctx, "douze caractères")
	if !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Hash with no free slot = %v, want ErrBusy and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Hash waited %v past its deadline", d)
	}
	good := "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	if _, _, err := l.Verify(ctx, good, "password"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Verify with no free slot = %v, want ErrBusy", err)
	}
	// Malformed input is refused at once, without waiting for a slot.
	if _, _, err := l.Verify(t.Context(), "$bad", "password"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Verify(malformed) = %v, want ErrMalformed", err)
	}
	<-l.sem
	if _, _, err := l.Verify(t.Context(), good, "password"); err != nil {
		t.Fatalf("Verify once the slot is free = %v", err)
	}
}

func TestLimiterRehash(t *testing.T) {
	l, err := NewLimiter(1, cheap)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := l.Hash(t.Context(), "douze caractères")
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err := l.Verify(t.Context(), enc, "douze caractères")
	if err != nil || !ok || rehash {
		t.Fatalf("Limiter.Verify(its own hash) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	if _, err := NewLimiter(1, Params{Memory: 1, Time: 1, Threads: 1}); !errors.Is(err, ErrParams) {
		t.Fatalf("NewLimiter(bad params) = %v, want ErrParams", err)
	}
	d, err := NewLimiter(0, Params{})
	if err != nil || d.Params() != DefaultParams() || cap(d.sem) < 1 {
		t.Fatalf("NewLimiter(0, zero) = %+v, %v; want defaults", d, err)
	}
}

// BenchmarkHash measures one hash with the default parameters, the cost of
// every login: par=1 gives the latency (ms/hash), par=procs the machine's
// throughput (hashes/s on all cores).
func BenchmarkHash(b *testing.B) {
	p := DefaultParams()
	b.Run("par=1", func(b *testing.B) {
		for b.Loop() {
			if _, err := Hash("un mot de passe assez long", p); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/hash")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
	})
	b.Run("par=procs", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := Hash("un mot de passe assez long", p); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
	})
}

func ExampleCheck() {
	for _, pw := range []string{"court", "Motdepasse2024!", "azertyuiopqsdf", "jean.dupont1984", "cheval agrafe pile correcte"} {
		fmt.Printf("%s: %v\n", pw, Check(pw, "jean.dupont@example.fr", "Jean Dupont"))
	}
	// Output:
	// court: password: too short: 5 characters, at least 12
	// Motdepasse2024!: password: too common or too predictable: a common password
	// azertyuiopqsdf: password: too common or too predictable: a run of keys or of the alphabet
	// jean.dupont1984: password: made of personal information
	// cheval agrafe pile correcte: <nil>
}
