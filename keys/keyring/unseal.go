package keyring

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/coffre-cloud/coffre/keys"
)

// EnvUnsealKey is the environment variable that UnsealKeyFromEnv reads.
const EnvUnsealKey = "COFFRE_UNSEAL_KEY"

// UnsealKeySize is the size of a random unseal key.
const UnsealKeySize = 32

type unsealKind byte

const (
	kindPassphrase unsealKind = kdfArgon2id // stretched with argon2id
	kindRandom     unsealKind = kdfHKDF     // 256 random bits: HKDF is enough
)

// An UnsealKey opens a keyring. It is one of two kinds, fixed when the
// keyring is created:
//
//   - a passphrase chosen by a person (Passphrase), stretched with argon2id
//     so that guessing it from a stolen keyring file is slow;
//   - 32 random bytes (NewUnsealKey, UnsealKeyFromEnv, UnsealKeyFromFile),
//     which need no stretching, for a server that starts unattended.
//
// It never prints (fmt, slog): see keys.Secret. Zero it once the keyring is
// open; the keyring keeps only the file key derived from it.
type UnsealKey struct {
	kind unsealKind
	b    keys.Secret
}

// Passphrase returns an UnsealKey made of a passphrase. It copies p, which
// the caller may zero at once.
func Passphrase(p []byte) *UnsealKey {
	return &UnsealKey{kind: kindPassphrase, b: keys.Secret(bytes.Clone(p))}
}

// RandomUnsealKey returns an UnsealKey made of k, which must be
// UnsealKeySize random bytes. It copies k.
func RandomUnsealKey(k []byte) (*UnsealKey, error) {
	if len(k) != UnsealKeySize {
		return nil, fmt.Errorf("keyring: unseal key of %d bytes, want %d: %w", len(k), UnsealKeySize, keys.ErrInvalid)
	}
	return &UnsealKey{kind: kindRandom, b: keys.Secret(bytes.Clone(k))}, nil
}

// NewUnsealKey returns a fresh random unseal key.
func NewUnsealKey() (*UnsealKey, error) {
	k := make(keys.Secret, UnsealKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return &UnsealKey{kind: kindRandom, b: k}, nil
}

// ParseUnsealKey decodes the text form of a random unseal key: standard
// base64 of 32 bytes, surrounding white space ignored (what
// WriteUnsealKeyFile writes and COFFRE_UNSEAL_KEY holds).
func ParseUnsealKey(text []byte) (*UnsealKey, error) {
	text = bytes.TrimSpace(text)
	k := make(keys.Secret, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(k, text)
	if err != nil || n != UnsealKeySize {
		k.Zero()
		return nil, fmt.Errorf("keyring: unseal key is not the base64 of %d bytes: %w", UnsealKeySize, keys.ErrInvalid)
	}
	return &UnsealKey{kind: kindRandom, b: k[:n]}, nil
}

// UnsealKeyFromEnv reads a random unseal key from COFFRE_UNSEAL_KEY and
// then removes the variable from the environment, so that child processes
// do not inherit it.
func UnsealKeyFromEnv() (*UnsealKey, error) {
	v, ok := os.LookupEnv(EnvUnsealKey)
	if !ok || v == "" {
		return nil, fmt.Errorf("keyring: %s is not set: %w", EnvUnsealKey, keys.ErrSealed)
	}
	os.Unsetenv(EnvUnsealKey)
	u, err := ParseUnsealKey([]byte(v))
	if err != nil {
		return nil, fmt.Errorf("keyring: %s: %w", EnvUnsealKey, err)
	}
	return u, nil
}

// UnsealKeyFromFile reads a random unseal key from the file at path, which
// must not be readable or writable by group or others (mode 0600 or
// stricter): a key file that others can read protects nothing.
func UnsealKeyFromFile(path string) (*UnsealKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: unseal key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keyring: unseal key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keyring: unseal key file %s has mode %v; make it 0600 (chmod 600 %s): %w",
			path, fi.Mode().Perm(), path, keys.ErrInvalid)
	}
	buf := make(keys.Secret, 256)
	defer buf.Zero()
	n, err := f.Read(buf)
	if err != nil {
		return nil, fmt.Errorf("keyring: unseal key file %s: %w", path, err)
	}
	u, err := ParseUnsealKey(buf[:n])
	if err != nil {
		return nil, fmt.Errorf("keyring: unseal key file %s: %w", path, err)
	}
	return u, nil
}

// WriteUnsealKeyFile writes the text form of a random unseal key to a new
// file at path with mode 0600, durably. It refuses to replace a file.
func WriteUnsealKeyFile(path string, u *UnsealKey) error {
	if u.kind != kindRandom {
		return fmt.Errorf("keyring: only a random unseal key can be written to a file, not a passphrase: %w", keys.ErrInvalid)
	}
	text := make(keys.Secret, base64.StdEncoding.EncodedLen(len(u.b))+1)
	defer text.Zero()
	base64.StdEncoding.Encode(text, u.b)
	text[len(text)-1] = '\n'
	err := writeFileAtomic(path, text, false)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("keyring: unseal key file %s exists; not replacing it", path)
	}
	return err
}

// Zero overwrites the key.
func (u *UnsealKey) Zero() {
	if u != nil {
		u.b.Zero()
	}
}

// LogValue implements slog.LogValuer: the key never reaches a log.
func (u *UnsealKey) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// Format implements fmt.Formatter: every verb prints "[REDACTED]".
func (u *UnsealKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, "[REDACTED]") }

func (k unsealKind) String() string {
	switch k {
	case kindPassphrase:
		return "a passphrase"
	case kindRandom:
		return "a random unseal key (" + EnvUnsealKey + " or a key file)"
	}
	return fmt.Sprintf("unknown unseal kind %d", byte(k))
}
