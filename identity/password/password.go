package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Error kinds. Functions wrap them with context; callers test with
// errors.Is and choose the words shown to the user.
var (
	// ErrTooShort: fewer than MinLength characters (Check), or an empty
	// password (Hash).
	ErrTooShort = errors.New("password: too short")
	// ErrTooLong: more than MaxLength bytes. Hash, Verify and Check refuse
	// it before any work, so that a megabyte "password" costs nothing.
	ErrTooLong = errors.New("password: too long")
	// ErrCharacters: not valid UTF-8, or a control character (a pasted
	// newline or tab, which the user cannot see and will not type again).
	ErrCharacters = errors.New("password: invalid characters")
	// ErrCommon: a password on the block list, a word from it decorated
	// with digits and symbols, a keyboard or alphabet run, or too few
	// distinct characters.
	ErrCommon = errors.New("password: too common or too predictable")
	// ErrPersonal: the password is mostly one of the context words given
	// to Check (the account's name, e-mail address, the service's name).
	ErrPersonal = errors.New("password: made of personal information")
	// ErrMalformed: a stored hash that is not an argon2id v=19 PHC string
	// within the limits below. Nothing was verified.
	ErrMalformed = errors.New("password: malformed stored hash")
	// ErrParams: Params outside the limits below.
	ErrParams = errors.New("password: invalid argon2id parameters")
	// ErrBusy: a Limiter had no free slot before the context ended. It is
	// returned along with the context's error.
	ErrBusy = errors.New("password: too many hashes in progress")
)

// Limits.
const (
	// MinLength is the least number of characters (Unicode code points,
	// after NFKC) Check accepts.
	MinLength = 12
	// MaxLength is the most bytes of UTF-8 a password may have.
	MaxLength = 1024

	// SaltSize and KeySize are what Hash writes: a 128-bit random salt, as
	// RFC 9106 recommends, and a 256-bit hash.
	SaltSize = 16
	KeySize  = 32

	// The bounds of the parameters that Verify accepts in a stored hash
	// and Hash accepts from a caller. The upper ones keep a corrupted or
	// planted stored hash from allocating gigabytes (m is in KiB) or
	// pinning a core for seconds.
	MaxMemory  = 256 * 1024
	MaxTime    = 16
	MaxThreads = 16
	minSalt    = 8 // the reference implementation's minimum
	maxSalt    = 64
	minKey     = 16
	maxKey     = 64

	// MinMemory is the least memory Hash accepts (Verify reads any hash
	// the reference implementation would): OWASP's floor of 7 MiB.
	MinMemory = 7 * 1024
)

// Params are the argon2id costs. The salt and hash sizes are fixed
// (SaltSize, KeySize).
type Params struct {
	Memory  uint32 // m, in KiB
	Time    uint32 // t, passes over the memory
	Threads uint8  // p, lanes (and goroutines)
}

// DefaultParams returns the parameters Hash uses for new passwords and
// Verify compares stored hashes with: m=19 MiB, t=2, p=1 (see the package
// documentation for why).
func DefaultParams() Params { return Params{Memory: 19 * 1024, Time: 2, Threads: 1} }

// String returns the parameters as they appear in a PHC string.
func (p Params) String() string { return fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads) }

// Validate checks p against the limits for new hashes.
func (p Params) Validate() error {
	switch {
	case p.Memory < MinMemory || p.Memory > MaxMemory:
		return fmt.Errorf("%w: memory %d KiB, want %d to %d", ErrParams, p.Memory, MinMemory, MaxMemory)
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("%w: time %d, want 1 to %d", ErrParams, p.Time, MaxTime)
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("%w: threads %d, want 1 to %d", ErrParams, p.Threads, MaxThreads)
	}
	return nil
}

// Hash returns the PHC string of pw under p ($argon2id$v=19$m=...,t=...,p=...$salt$hash,
// salt and hash in unpadded standard base64) with a fresh random salt. It
// does not apply the policy: call Check first when the user chooses a
// password. It blocks for the whole computation (tens of milliseconds and
// p.Memory KiB): servers call it through a Limiter.
func Hash(pw string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	if err := checkInput(pw); err != nil {
		return "", err
	}
	if pw == "" {
		return "", fmt.Errorf("%w: empty password", ErrTooShort)
	}
	salt := make([]byte, SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := derive(pw, salt, p, KeySize)
	defer clear(key)
	return encode(p, salt, key), nil
}

// Verify reports whether pw is the password of the stored PHC string
// encoded, comparing in constant time. needsRehash is true when pw is right
// and encoded was made with other parameters or sizes than Hash's defaults:
// the caller then stores Hash(pw, DefaultParams()) while it has pw in hand.
// A malformed stored hash is ErrMalformed, a password longer than MaxLength
// is ErrTooLong; both return before any hashing.
func Verify(encoded, pw string) (ok, needsRehash bool, err error) {
	h, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	if err := checkInput(pw); err != nil {
		return false, false, err
	}
	return h.verify(pw, DefaultParams())
}

// checkInput refuses what no password can be, before any work.
func checkInput(pw string) error {
	if len(pw) > MaxLength {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLong, len(pw), MaxLength)
	}
	if !utf8.ValidString(pw) {
		return fmt.Errorf("%w: not UTF-8", ErrCharacters)
	}
	return nil
}

func derive(pw string, salt []byte, p Params, size uint32) []byte {
	b := []byte(norm.NFKC.String(pw))
	defer clear(b)
	return argon2.IDKey(b, salt, p.Time, p.Memory, p.Threads, size)
}

// hashed is a parsed PHC string.
type hashed struct {
	p    Params
	salt []byte
	key  []byte
}

func (h hashed) verify(pw string, want Params) (ok, needsRehash bool, err error) {
	key := derive(pw, h.salt, h.p, uint32(len(h.key)))
	defer clear(key)
	if subtle.ConstantTimeCompare(key, h.key) != 1 {
		return false, false, nil
	}
	return true, h.p != want || len(h.salt) != SaltSize || len(h.key) != KeySize, nil
}

const prefix = "$argon2id$v=19$"

var b64 = base64.RawStdEncoding.Strict()

func encode(p Params, salt, key []byte) string {
	return prefix + p.String() + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
}

// decode parses the PHC string strictly: argon2id, version 19, the
// parameters in the order m, t, p in canonical decimal, no optional
// keyid or data fields, unpadded base64 with zero trailing bits; and within
// the limits.
func decode(s string) (hashed, error) {
	bad := func(why string) (hashed, error) {
		return hashed{}, fmt.Errorf("%w: %s", ErrMalformed, why)
	}
	if len(s) > 512 {
		return bad("too long")
	}
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return bad("not $argon2id$v=19$")
	}
	fields := strings.Split(rest, "$")
	if len(fields) != 3 {
		return bad("want parameters, salt and hash")
	}
	var p Params
	kv := strings.Split(fields[0], ",")
	if len(kv) != 3 {
		return bad("want m=,t=,p=")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(kv[i], name)
		if !ok {
			return bad("want m=,t=,p= in that order")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || strconv.FormatUint(n, 10) != v {
			return bad("parameter " + name + " is not a canonical decimal")
		}
		vals[i] = n
	}
	if vals[2] < 1 || vals[2] > MaxThreads || vals[1] < 1 || vals[1] > MaxTime ||
		vals[0] < 8*vals[2] || vals[0] > MaxMemory {
		return bad("parameters out of range")
	}
	p = Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}
	// The decoder skips CR and LF: comparing with the re-encoding keeps
	// one spelling per hash.
	salt, err := b64.DecodeString(fields[1])
	if err != nil || len(salt) < minSalt || len(salt) > maxSalt || b64.EncodeToString(salt) != fields[1] {
		return bad("salt")
	}
	key, err := b64.DecodeString(fields[2])
	if err != nil || len(key) < minKey || len(key) > maxKey || b64.EncodeToString(key) != fields[2] {
		return bad("hash")
	}
	return hashed{p: p, salt: salt, key: key}, nil
}

// Limiter bounds the argon2id computations in flight, so that a flood of
// login attempts queues instead of exhausting memory: at most n run at
// once, each using its Params.Memory (n × 19 MiB with the defaults), and
// the others wait for a slot until their context ends. It also holds the
// parameters for new hashes. A Limiter is safe for concurrent use.
type Limiter struct {
	sem    chan struct{}
	params Params
}

// NewLimiter returns a Limiter running at most n hashes at once with
// parameters p. n <= 0 means GOMAXPROCS: with p=1 each hash keeps one core
// busy, so more in flight would add memory and latency, not throughput.
// The zero Params means DefaultParams().
func NewLimiter(n int, p Params) (*Limiter, error) {
	if p == (Params{}) {
		p = DefaultParams()
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Limiter{sem: make(chan struct{}, n), params: p}, nil
}

// Params returns the parameters of the Limiter's new hashes.
func (l *Limiter) Params() Params { return l.params }

func (l *Limiter) acquire(ctx context.Context) error {
	if ctx.Err() == nil {
		select {
		case l.sem <- struct{}{}:
			return nil
		case <-ctx.Done():
		}
	}
	return fmt.Errorf("%w (%d in flight): %w", ErrBusy, cap(l.sem), context.Cause(ctx))
}

func (l *Limiter) release() { <-l.sem }

// Hash is Hash(pw, l.Params()) once a slot is free.
func (l *Limiter) Hash(ctx context.Context, pw string) (string, error) {
	if err := checkInput(pw); err != nil {
		return "", err
	}
	if err := l.acquire(ctx); err != nil {
		return "", err
	}
	defer l.release()
	return Hash(pw, l.params)
}

// Verify is Verify(encoded, pw) once a slot is free, with needsRehash
// judged against l.Params(). Malformed input is refused before waiting.
func (l *Limiter) Verify(ctx context.Context, encoded, pw string) (ok, needsRehash bool, err error) {
	h, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	if err := checkInput(pw); err != nil {
		return false, false, err
	}
	if err := l.acquire(ctx); err != nil {
		return false, false, err
	}
	defer l.release()
	return h.verify(pw, l.params)
}
