package totp

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"fmt"
	"hash"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The seeds of RFC 6238 Appendix B: the ASCII digits "1234567890"
// repeated to the hash's size (20, 32 and 64 bytes).
var (
	seed1   = []byte("12345678901234567890")
	seed256 = []byte("12345678901234567890123456789012")
	seed512 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

// TestRFC6238 runs the test vectors of RFC 6238 Appendix B (8 digits,
// 30-second steps, T0 = 0) through the generic function that Generate and
// Validate use.
func TestRFC6238(t *testing.T) {
	modes := map[string]struct {
		h    func() hash.Hash
		seed []byte
	}{
		"SHA1":   {sha1.New, seed1},
		"SHA256": {sha256.New, seed256},
		"SHA512": {sha512.New, seed512},
	}
	for _, v := range []struct {
		unix int64
		step string // hex, as the RFC prints it
		totp string
		mode string
	}{
		{59, "0000000000000001", "94287082", "SHA1"},
		{59, "0000000000000001", "46119246", "SHA256"},
		{59, "0000000000000001", "90693936", "SHA512"},
		{1111111109, "00000000023523EC", "07081804", "SHA1"},
		{1111111109, "00000000023523EC", "68084774", "SHA256"},
		{1111111109, "00000000023523EC", "25091201", "SHA512"},
		{1111111111, "00000000023523ED", "14050471", "SHA1"},
		{1111111111, "00000000023523ED", "67062674", "SHA256"},
		{1111111111, "00000000023523ED", "99943326", "SHA512"},
		{1234567890, "000000000273EF07", "89005924", "SHA1"},
		{1234567890, "000000000273EF07", "91819424", "SHA256"},
		{1234567890, "000000000273EF07", "93441116", "SHA512"},
		{2000000000, "0000000003F940AA", "69279037", "SHA1"},
		{2000000000, "0000000003F940AA", "90698825", "SHA256"},
		{2000000000, "0000000003F940AA", "38618901", "SHA512"},
		{20000000000, "0000000027BC86AA", "65353130", "SHA1"},
		{20000000000, "0000000027BC86AA", "77737706", "SHA256"},
		{20000000000, "0000000027BC86AA", "47863826", "SHA512"},
	} {
		t.Run(fmt.Sprintf("time=%d/mode=%s", v.unix, v.mode), func(t *testing.T) {
			step := Step(time.Unix(v.unix, 0))
			if got := fmt.Sprintf("%016X", step); got != v.step {
				t.Fatalf("Step = %s, want %s", got, v.step)
			}
			m := modes[v.mode]
			if got := hotp(m.h, m.seed, uint64(step), 8); got != v.totp {
				t.Fatalf("TOTP = %s, want %s", got, v.totp)
			}
			// Generate is the same function with 6 digits: the last six.
			if v.mode == "SHA1" {
				if got, want := Generate(seed1, time.Unix(v.unix, 0)), v.totp[2:]; got != want {
					t.Fatalf("Generate = %s, want %s", got, want)
				}
			}
		})
	}
}

// TestRFC4226 runs the HOTP values of RFC 4226 Appendix D, the base of
// TOTP's dynamic truncation.
func TestRFC4226(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for c, w := range want {
		if got := hotp(sha1.New, seed1, uint64(c), 6); got != w {
			t.Errorf("HOTP(count=%d) = %s, want %s", c, got, w)
		}
	}
}

func TestValidateSkew(t *testing.T) {
	now := time.Unix(1111111111, 0) // step 0x23523ED
	s := Step(now)
	for _, d := range []struct {
		offset int64
		ok     bool
	}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}} {
		t.Run(fmt.Sprintf("offset=%d", d.offset), func(t *testing.T) {
			code := Generate(seed1, now.Add(time.Duration(d.offset)*Period))
			step, ok := Validate(seed1, code, now, 0)
			if ok != d.ok {
				t.Fatalf("Validate(code of step now%+d) ok = %v, want %v", d.offset, ok, d.ok)
			}
			if ok && step != s+d.offset {
				t.Fatalf("Validate step = %d, want %d", step, s+d.offset)
			}
		})
	}
}

func TestValidateReplay(t *testing.T) {
	now := time.Unix(2000000000, 0)
	code := Generate(seed1, now)
	step, ok := Validate(seed1, code, now, 0)
	if !ok {
		t.Fatal("Validate of a fresh code = false")
	}
	// The same code again, now and a step later (still in the window).
	if _, ok := Validate(seed1, code, now, step); ok {
		t.Fatal("Validate accepted a code for the step already used")
	}
	if _, ok := Validate(seed1, code, now.Add(Period), step); ok {
		t.Fatal("Validate accepted a code for the step already used, one step later")
	}
	// An older code in the window after a newer one was used.
	prev := Generate(seed1, now.Add(-Period))
	if _, ok := Validate(seed1, prev, now, step); ok {
		t.Fatal("Validate accepted a code of a step before the last used one")
	}
	// The next step's code is fine.
	next := Generate(seed1, now.Add(Period))
	if got, ok := Validate(seed1, next, now.Add(Period), step); !ok || got != step+1 {
		t.Fatalf("Validate(next code) = %d, %v; want %d, true", got, ok, step+1)
	}
}

func TestValidateBadInput(t *testing.T) {
	now := time.Unix(1234567890, 0)
	good := Generate(seed1, now)
	for name, c := range map[string]struct {
		secret []byte
		code   string
		t      time.Time
	}{
		"empty code":       {seed1, "", now},
		"short code":       {seed1, good[:5], now},
		"long code":        {seed1, good + "0", now},
		"8-digit code":     {seed1, "89005924", now},
		"space":            {seed1, " " + good[1:], now},
		"sign":             {seed1, "+" + good[1:], now},
		"non-ASCII digit":  {seed1, "٠" + good[2:], now},
		"wrong code":       {seed1, fmt.Sprintf("%06d", (atoi(good)+1)%1000000), now},
		"other secret":     {[]byte("abcdefghijklmnopqrst"), good, now},
		"empty secret":     {nil, good, now},
		"short secret":     {seed1[:15], Generate(seed1[:16], now), now},
		"before the epoch": {seed1, good, time.Unix(-1, 0)},
	} {
		t.Run("case="+name, func(t *testing.T) {
			if _, ok := Validate(c.secret, c.code, c.t, 0); ok {
				t.Fatalf("Validate(%q) = true, want false", c.code)
			}
		})
	}
	if got := Generate(seed1[:15], now); got != "" {
		t.Errorf("Generate(15-byte secret) = %q, want \"\"", got)
	}
	if got := Generate(seed1, time.Unix(-30, 0)); got != "" {
		t.Errorf("Generate(before the epoch) = %q, want \"\"", got)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != SecretSize || len(b) != SecretSize {
		t.Fatalf("len(NewSecret()) = %d, %d; want %d", len(a), len(b), SecretSize)
	}
	if string(a) == string(b) {
		t.Fatal("two NewSecret calls returned the same bytes")
	}
}

func TestURI(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, c := range []struct {
		issuer, account, want string
	}{
		{"Coffre", "alice@example.fr",
			"otpauth://totp/Coffre:alice@example.fr?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Coffre&algorithm=SHA1&digits=6&period=30"},
		{"Ministère de l'Intérieur", "jean dupont",
			"otpauth://totp/Minist%C3%A8re%20de%20l%27Int%C3%A9rieur:jean%20dupont?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Minist%C3%A8re%20de%20l%27Int%C3%A9rieur&algorithm=SHA1&digits=6&period=30"},
		{"a:b", "c:d/e?f",
			"otpauth://totp/a%3Ab:c%3Ad%2Fe%3Ff?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=a%3Ab&algorithm=SHA1&digits=6&period=30"},
		{"", "bob",
			"otpauth://totp/bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA1&digits=6&period=30"},
	} {
		t.Run("issuer="+c.issuer, func(t *testing.T) {
			got := URI(c.issuer, c.account, secret)
			if got != c.want {
				t.Fatalf("URI =\n%s\nwant\n%s", got, c.want)
			}
			// It parses back to the same parts.
			u, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			label, _ := url.PathUnescape(strings.TrimPrefix(u.EscapedPath(), "/"))
			wantLabel := c.account
			if c.issuer != "" {
				wantLabel = c.issuer + ":" + c.account
			}
			if u.Scheme != "otpauth" || u.Host != "totp" || label != wantLabel {
				t.Fatalf("parsed back: scheme %q host %q label %q; want otpauth, totp, %q", u.Scheme, u.Host, label, wantLabel)
			}
			q := u.Query()
			if got := q.Get("issuer"); got != c.issuer {
				t.Fatalf("issuer parameter = %q, want %q", got, c.issuer)
			}
			sec, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(q.Get("secret"))
			if err != nil || string(sec) != string(secret) {
				t.Fatalf("secret parameter decodes to %q, %v; want the secret", sec, err)
			}
		})
	}
}

func BenchmarkValidate(b *testing.B) {
	now := time.Unix(2000000000, 0)
	code := Generate(seed1, now)
	for b.Loop() {
		if _, ok := Validate(seed1, code, now, 0); !ok {
			b.Fatal("Validate = false")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
