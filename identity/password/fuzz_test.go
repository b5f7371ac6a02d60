package password

import (
	"strings"
	"testing"
)

// FuzzDecode parses arbitrary stored hashes: no panic, and whatever is
// accepted is within the limits and is the canonical encoding of what was
// parsed, so that two spellings of one hash cannot both verify.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc",
		"$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
		"$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=0,t=0,p=0$$",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := decode(s)
		if err != nil {
			return
		}
		if h.p.Memory > MaxMemory || h.p.Time > MaxTime || h.p.Threads > MaxThreads ||
			h.p.Memory < 8*uint32(h.p.Threads) || h.p.Time < 1 || h.p.Threads < 1 {
			t.Fatalf("decode(%q) accepted parameters %+v", s, h.p)
		}
		if got := encode(h.p, h.salt, h.key); got != s {
			t.Fatalf("decode(%q) then encode = %q: not canonical", s, got)
		}
		if !strings.HasPrefix(s, prefix) {
			t.Fatalf("decode(%q) accepted another prefix", s)
		}
	})
}
