package dpop

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity/internal/jws"
)

func TestNonces(t *testing.T) {
	n := NewNonces(time.Minute) // a nonce is current for 15 s
	first := n.currentAt(t0)
	if got := n.currentAt(t0.Add(14 * time.Second)); got != first {
		t.Fatalf("Current changed within its period: %q, then %q", first, got)
	}
	second := n.currentAt(t0.Add(15 * time.Second))
	if second == first {
		t.Fatal("Current did not change after its period")
	}
	for _, c := range []struct {
		name  string
		nonce string
		at    time.Time
		want  bool
	}{
		{"fresh", first, t0, true},
		{"59s old", first, t0.Add(59 * time.Second), true},
		{"60s old", first, t0.Add(60 * time.Second), false},
		{"the next one, handed out 14s later, 45s on", second, t0.Add(60 * time.Second), true},
		{"10s ahead of this node", first, t0.Add(-10 * time.Second), true},
		{"11s ahead of this node", first, t0.Add(-11 * time.Second), false},
		{"empty", "", t0, false},
		{"truncated", first[:len(first)-1], t0, false},
		{"longer", first + "A", t0, false},
		{"another key's", NewNonces(time.Minute).currentAt(t0), t0, false},
	} {
		if got := n.validAt(c.nonce, c.at); got != c.want {
			t.Errorf("nonce=%s: valid = %v, want %v", c.name, got, c.want)
		}
	}
	// Any change to a nonce's bytes invalidates it.
	b, _ := jws.Encoding.DecodeString(first)
	for i := range b {
		b2 := bytes.Clone(b)
		b2[i] ^= 1
		if n.validAt(jws.Encoding.EncodeToString(b2), t0) {
			t.Fatalf("nonce with byte %d flipped is valid", i)
		}
	}
	// The nonce syntax of RFC 9449 §8.1 (NQCHAR) holds.
	if strings.ContainsAny(first, "\" \\") {
		t.Fatalf("nonce %q has a character outside NQCHAR", first)
	}
	if !n.Valid(n.Current()) {
		t.Fatal("Valid(Current()) = false")
	}
}

func TestNoncesSharedKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, MinNonceKeySize)
	a, err := NewNoncesWithKey(key, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewNoncesWithKey(key, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.Lifetime(), DefaultNonceLifetime; got != want {
		t.Fatalf("Lifetime = %v, want %v", got, want)
	}
	if !b.validAt(a.currentAt(t0), t0.Add(time.Minute)) {
		t.Fatal("a nonce of one node is refused by another with the same key")
	}
	key[0] = 8 // the Nonces keep their own copy
	if !b.validAt(a.currentAt(t0), t0) {
		t.Fatal("changing the caller's key slice changed the Nonces' key")
	}
	if _, err := NewNoncesWithKey(key[:MinNonceKeySize-1], time.Minute); err == nil {
		t.Fatal("NewNoncesWithKey accepted a 31-byte key")
	}
}

func BenchmarkNonceValid(b *testing.B) {
	n := NewNonces(time.Minute)
	nonce := n.currentAt(t0)
	for b.Loop() {
		if !n.validAt(nonce, t0) {
			b.Fatal("invalid")
		}
	}
}
