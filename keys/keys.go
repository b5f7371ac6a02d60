package keys

import (
	"context"
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
)

// Sentinel errors. Implementations wrap them with context
// (fmt.Errorf("keys: unwrap: %w", ErrUnwrap)); callers test with errors.Is.
var (
	// ErrUnwrap is returned by Unwrap when the blob does not open: wrong
	// associated data, a blob that was altered, truncated or is not a
	// wrapped blob at all, or a root key version that the store no longer
	// (or never) had. Unwrap then returns no bytes at all.
	ErrUnwrap = errors.New("keys: cannot unwrap (wrong associated data, altered blob or unknown root key)")

	// ErrSealed is returned while a store's keys are locked away: a keyring
	// opened with the wrong unseal key, or sealed by an operator. Nothing is
	// lost; unsealing brings the store back.
	ErrSealed = errors.New("keys: key store is sealed")

	// ErrUnavailable is returned when the key store cannot be reached (HSM
	// unreachable, token removed, session lost). The store keeps trying to
	// reconnect on later calls: callers retry later, they do not reopen it.
	ErrUnavailable = errors.New("keys: key store unavailable")

	// ErrNoSuchKey is returned when a root key version, signing key or MAC
	// key does not exist. Unwrap of a blob naming a missing root version
	// returns an error that is both ErrUnwrap and ErrNoSuchKey.
	ErrNoSuchKey = errors.New("keys: no such key")

	// ErrExist is returned by CreateSigningKey and CreateMACKey when the
	// name is taken.
	ErrExist = errors.New("keys: key already exists")

	// ErrInvalid is returned for arguments the store refuses: an empty or
	// oversized secret or associated data, a malformed key name, retiring
	// the current root key.
	ErrInvalid = errors.New("keys: invalid argument")

	// ErrClosed is returned by every operation after Close.
	ErrClosed = errors.New("keys: key store closed")
)

// Limits of Wrap's arguments. Wrap protects keys, not data: a tenant KEK is
// 32 bytes, associated data a short label.
const (
	MaxSecretSize = 4096
	MaxADSize     = 4096
)

// Store holds a site's root keys, and the identity layer's signing and MAC
// keys, and never hands any of them out. Every method is safe for concurrent
// use. Each operation is an oracle for whoever can call it: see the package
// documentation for what each one gives away.
type Store interface {
	// Wrap encrypts secret (1 to MaxSecretSize bytes of key material,
	// typically a 32-byte tenant KEK) under the current root key, binding
	// ad (e.g. "tenant=ministry-x;kek=3"; up to MaxADSize bytes, nil and
	// empty are the same). The result is a self-describing blob (see
	// RootVersion) that names the root key version used; it is longer than
	// secret by WrapOverhead bytes.
	Wrap(ctx context.Context, secret, ad []byte) ([]byte, error)

	// Unwrap reverses Wrap with whichever root key version the blob names.
	// Wrong ad, any alteration of the blob, a retired or unknown root key:
	// ErrUnwrap and no bytes. The caller owns the result and should zero it
	// when done.
	Unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error)

	// Rotate makes a new root key the current one and returns its version.
	// Blobs wrapped under older versions keep unwrapping until Retire.
	Rotate(ctx context.Context) (version int, err error)

	// Retire destroys the root key of the given version, which must not be
	// the current one (ErrInvalid). Call it only after every blob under that
	// version was rewrapped (Unwrap, then Wrap): afterwards they are
	// ErrUnwrap forever. A version that does not exist is ErrNoSuchKey.
	Retire(ctx context.Context, version int) error

	// Current returns the version of the root key that Wrap uses.
	Current(ctx context.Context) (version int, err error)

	// CreateSigningKey makes a new ECDSA P-256 (ES256) signing key named
	// name (see ValidName) inside the store and returns its public key. A
	// name in use is ErrExist.
	CreateSigningKey(ctx context.Context, name string) (crypto.PublicKey, error)

	// Signer returns the named signing key as a crypto.Signer. Its Sign
	// takes a SHA-256 digest (opts.HashFunc() must be crypto.SHA256) and
	// returns an ASN.1 DER signature; it fails with ErrClosed once the store
	// is closed. A missing name is ErrNoSuchKey.
	Signer(ctx context.Context, name string) (crypto.Signer, error)

	// CreateMACKey makes a new 256-bit HMAC-SHA256 key named name inside
	// the store. A name in use is ErrExist.
	CreateMACKey(ctx context.Context, name string) error

	// MAC returns HMAC-SHA256(key name, msg): 32 bytes, the same for the
	// same key and message across restarts. A missing name is ErrNoSuchKey.
	MAC(ctx context.Context, name string, msg []byte) ([]byte, error)

	// Close releases the store and zeroes the key material it holds in
	// memory. Every later call returns ErrClosed; Close is idempotent.
	Close() error
}

// The wrapped blob format, shared by every implementation:
//
//	format (1 byte, WrapFormat) | root key version (4 bytes, big-endian, >= 1) |
//	nonce (12 bytes) | AES-256-GCM ciphertext of the secret | tag (16 bytes)
//
// The GCM associated data is WrapAAD(header, ad): a domain-separation
// label, the first 5 bytes of the blob, then the caller's ad. So the format
// byte and the version are authenticated along with the caller's binding.
const (
	// WrapFormat is the first byte of every wrapped blob.
	WrapFormat = 0x01
	// WrapHeaderSize is the size of the format byte and the version.
	WrapHeaderSize = 1 + 4
	// WrapNonceSize is the size of the GCM nonce.
	WrapNonceSize = 12
	// WrapTagSize is the size of the GCM tag.
	WrapTagSize = 16
	// WrapOverhead is how much longer a wrapped blob is than its secret.
	WrapOverhead = WrapHeaderSize + WrapNonceSize + WrapTagSize
)

// wrapLabel separates the root keys' GCM use from any other use of AES-GCM
// with associated data.
const wrapLabel = "coffre/keys/wrap/v1\x00"

// RootVersion returns the root key version that a wrapped blob names,
// without opening it (the version is not secret). A rewrap job uses it to
// find blobs under versions older than Current. A blob too short to be
// wrapped, or of another format, is ErrUnwrap.
func RootVersion(wrapped []byte) (int, error) {
	if len(wrapped) < WrapOverhead+1 || wrapped[0] != WrapFormat {
		return 0, fmt.Errorf("keys: not a wrapped blob: %w", ErrUnwrap)
	}
	v := binary.BigEndian.Uint32(wrapped[1:5])
	if v == 0 || v > maxVersion {
		return 0, fmt.Errorf("keys: wrapped blob names root key version %d: %w", v, ErrUnwrap)
	}
	return int(v), nil
}

// maxVersion keeps versions within a non-negative int32, so that they fit in
// an int everywhere and in the 4 bytes of the header.
const maxVersion = 1<<31 - 1

// WrapHeader returns the 5-byte header of a blob wrapped under root key
// version v. It is for implementations of Store.
func WrapHeader(v int) []byte {
	if v < 1 || v > maxVersion {
		panic(fmt.Sprintf("keys: root key version %d out of range", v))
	}
	h := make([]byte, WrapHeaderSize)
	h[0] = WrapFormat
	binary.BigEndian.PutUint32(h[1:], uint32(v))
	return h
}

// WrapAAD returns the GCM associated data for a blob with the given header
// and the caller's ad. It is for implementations of Store.
func WrapAAD(header, ad []byte) []byte {
	b := make([]byte, 0, len(wrapLabel)+len(header)+len(ad))
	b = append(b, wrapLabel...)
	b = append(b, header...)
	return append(b, ad...)
}

// CheckWrapArgs checks Wrap's arguments against the documented limits. It is
// for implementations of Store.
func CheckWrapArgs(secret, ad []byte) error {
	switch {
	case len(secret) == 0:
		return fmt.Errorf("keys: wrap: empty secret: %w", ErrInvalid)
	case len(secret) > MaxSecretSize:
		return fmt.Errorf("keys: wrap: secret of %d bytes exceeds %d: %w", len(secret), MaxSecretSize, ErrInvalid)
	case len(ad) > MaxADSize:
		return fmt.Errorf("keys: wrap: associated data of %d bytes exceeds %d: %w", len(ad), MaxADSize, ErrInvalid)
	}
	return nil
}

// ValidName reports whether name can name a signing or MAC key: 1 to 64
// bytes of [a-z0-9._-], starting with a letter or digit.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// CheckName returns ErrInvalid (wrapped) unless ValidName(name).
func CheckName(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("keys: key name %q: want 1 to 64 bytes of [a-z0-9._-] starting with a letter or digit: %w", name, ErrInvalid)
	}
	return nil
}

// Secret is key material or a credential held in memory. It never prints:
// fmt verbs, slog and encoding/json all show "[REDACTED]". Zero overwrites it.
type Secret []byte

const redacted = "[REDACTED]"

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Format implements fmt.Formatter for every verb, so that %s, %v, %x and %#v
// print "[REDACTED]".
func (Secret) Format(f fmt.State, _ rune) { fmt.Fprint(f, redacted) }

// MarshalText implements encoding.TextMarshaler (and so JSON).
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Zero overwrites the secret with zeros.
func (s Secret) Zero() { clear(s) }

// IsZero reports whether every byte of s is zero (or s is empty).
func (s Secret) IsZero() bool {
	var acc byte
	for _, b := range s {
		acc |= b
	}
	return acc == 0
}
