package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"net/url"
	"strings"
	"time"
)

// The profile: what authenticator apps assume when a key URI says nothing,
// and what URI writes explicitly.
const (
	// Digits is the length of a code.
	Digits = 6
	// Period is the duration of a step.
	Period = 30 * time.Second
	// Skew is how many steps before and after the current one Validate
	// accepts, for clocks that drift and users who type slowly.
	Skew = 1
	// SecretSize is the size of the secrets NewSecret makes: 160 bits, the
	// size RFC 4226 §4 recommends (and the HMAC-SHA-1 output size).
	SecretSize = 20
	// MinSecretSize is the smallest secret Generate and Validate use: the
	// 128 bits RFC 4226 §4 requires.
	MinSecretSize = 16
)

// NewSecret returns SecretSize random bytes for a new enrolment.
func NewSecret() ([]byte, error) {
	b := make([]byte, SecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("totp: new secret: %w", err)
	}
	return b, nil
}

// Step returns the step t falls in: the number of whole periods since the
// Unix epoch, or -1 for a time before the epoch.
func Step(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return -1
	}
	return s / int64(Period/time.Second)
}

// Generate returns the code for the step t falls in, as authenticator apps
// show it. It returns "" for a secret shorter than MinSecretSize or a time
// before the Unix epoch: there is no code then.
func Generate(secret []byte, t time.Time) string {
	step := Step(t)
	if step < 0 || len(secret) < MinSecretSize {
		return ""
	}
	return hotp(sha1.New, secret, uint64(step), Digits)
}

// Validate reports whether code is the code of the step t falls in, or of
// one of the Skew steps either side of it, and returns the step it matched.
// A step not after lastUsedStep is refused, so a code works once: the caller
// stores the returned step as the account's new lastUsedStep (0 for an
// account that never used a code) and so must serialise Validate and that
// store per account. Code must be exactly Digits ASCII digits; a short
// secret or a time before the epoch validates nothing.
//
// Every candidate step is computed and compared in constant time, so the
// time taken does not depend on which step, if any, matched.
func Validate(secret []byte, code string, t time.Time, lastUsedStep int64) (step int64, ok bool) {
	now := Step(t)
	if now < 0 || len(secret) < MinSecretSize || !wellFormed(code) {
		return 0, false
	}
	match := 0
	for s := now - Skew; s <= now+Skew; s++ {
		if s < 0 || s <= lastUsedStep {
			continue
		}
		eq := subtle.ConstantTimeCompare([]byte(hotp(sha1.New, secret, uint64(s), Digits)), []byte(code))
		// Keep the latest matching step, without branching on the secret
		// comparison: a code matching two steps (one chance in 10^6) must
		// burn both.
		step = int64(subtle.ConstantTimeSelect(eq, int(s), int(step)))
		match |= eq
	}
	if match != 1 {
		return 0, false
	}
	return step, true
}

func wellFormed(code string) bool {
	if len(code) != Digits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

var pow10 = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

// hotp is RFC 4226 §5.3 HOTP (with the hash generalised as RFC 6238 §1.2
// does): HMAC of the 8-byte big-endian counter, dynamic truncation to 31
// bits, then the last digits decimal digits, zero-padded.
func hotp(h func() hash.Hash, secret []byte, counter uint64, digits int) string {
	mac := hmac.New(h, secret)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", digits, bin%pow10[digits])
}

// URI returns the otpauth:// key URI an authenticator app reads from a QR
// code (the "Key Uri Format" of Google Authenticator, which every app
// follows): label "issuer:account", the secret in base32 without padding,
// and the profile written out (SHA1, 6 digits, 30 s) even though it is the
// default. The issuer is both in the label and in the issuer parameter, as
// the format recommends; an empty issuer leaves both out. Spaces are encoded
// as %20, which every app reads, never as "+", which some show literally.
//
// The URI holds the secret: show it once, at enrolment, never log it.
func URI(issuer, account string, secret []byte) string {
	label := escapeLabel(account)
	if issuer != "" {
		label = escapeLabel(issuer) + ":" + label
	}
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	b.WriteString(label)
	b.WriteString("?secret=")
	b.WriteString(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret))
	if issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escapeQuery(issuer))
	}
	fmt.Fprintf(&b, "&algorithm=SHA1&digits=%d&period=%d", Digits, int(Period/time.Second))
	return b.String()
}

// escapeLabel escapes one side of the label; a colon inside it would move
// the split between issuer and account, so it is escaped too.
func escapeLabel(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
}

func escapeQuery(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
