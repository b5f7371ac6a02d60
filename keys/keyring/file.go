package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/crypto/argon2"

	"github.com/coffre-cloud/coffre/keys"
)

// The keyring file:
//
//	offset size
//	0      8    magic "COFFREKR"
//	8      1    file format, 1
//	9      1    KDF: 1 = argon2id (passphrase), 2 = HKDF-SHA256 (random unseal key)
//	10     4    argon2id time (passes), big-endian; 0 for HKDF
//	14     4    argon2id memory in KiB, big-endian; 0 for HKDF
//	18     1    argon2id threads; 0 for HKDF
//	19     16   salt
//	35     12   nonce
//	47     ...  AES-256-GCM(file key, nonce, payload, aad = bytes 0..35) + 16-byte tag
//
// The file key is argon2id(passphrase, salt, time, memory, threads, 32) or
// HKDF-SHA256(unseal key, salt, "coffre keyring v1 file key", 32). The
// header is authenticated, so lowering the KDF parameters in the file makes
// it fail to open rather than weakening it. A rewrite keeps the salt (so the
// file key) and takes a fresh random nonce.
//
// The payload (all integers big-endian):
//
//	u32 n, then n root keys:    u32 version | 32-byte AES-256 key
//	u32 n, then n MAC keys:     u8 name length | name | 32-byte HMAC key
//	u32 n, then n signing keys: u8 name length | name | 32-byte P-256 scalar
const (
	magic      = "COFFREKR"
	fileFormat = 1
	headerSize = 35
	nonceSize  = 12
	saltSize   = 16
	keySize    = 32
	hkdfInfo   = "coffre keyring v1 file key"
)

const (
	kdfArgon2id = 1
	kdfHKDF     = 2
)

// Argon2Params are the argon2id parameters that stretch a passphrase into
// the file key. They are written in the keyring file, so Open uses what
// Create chose.
type Argon2Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
}

// DefaultArgon2 is RFC 9106's second recommended option (64 MiB, 3 passes)
// with 2 lanes, matching the 2-core machines Coffre targets: about a tenth
// of a second to open a keyring, and the same per passphrase guess for
// whoever steals the file.
var DefaultArgon2 = Argon2Params{Time: 3, MemoryKiB: 64 << 10, Threads: 2}

// Bounds on argon2id parameters read from a file, so that a damaged or
// hostile file cannot make Open allocate without limit.
const (
	maxArgonTime      = 64
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
)

func (p Argon2Params) check() error {
	if p.Time < 1 || p.Time > maxArgonTime || p.Threads < 1 ||
		p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxArgonMemoryKiB {
		return fmt.Errorf("keyring: argon2id parameters time=%d memory=%d KiB threads=%d out of range (time 1..%d, memory 8*threads..%d KiB, threads >= 1): %w",
			p.Time, p.MemoryKiB, p.Threads, maxArgonTime, maxArgonMemoryKiB, keys.ErrInvalid)
	}
	return nil
}

// header is the clear part of the keyring file.
type header struct {
	kdf   byte
	argon Argon2Params
	salt  [saltSize]byte
}

func (h *header) marshal() []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, magic...)
	b = append(b, fileFormat, h.kdf)
	b = binary.BigEndian.AppendUint32(b, h.argon.Time)
	b = binary.BigEndian.AppendUint32(b, h.argon.MemoryKiB)
	b = append(b, h.argon.Threads)
	return append(b, h.salt[:]...)
}

var errNotKeyring = errors.New("keyring: not a Coffre keyring file")

func parseHeader(b []byte) (*header, error) {
	if len(b) < headerSize+nonceSize+16 || string(b[:8]) != magic {
		return nil, errNotKeyring
	}
	if b[8] != fileFormat {
		return nil, fmt.Errorf("keyring: file format %d, this version of Coffre reads %d", b[8], fileFormat)
	}
	h := &header{kdf: b[9]}
	h.argon.Time = binary.BigEndian.Uint32(b[10:14])
	h.argon.MemoryKiB = binary.BigEndian.Uint32(b[14:18])
	h.argon.Threads = b[18]
	copy(h.salt[:], b[19:35])
	switch h.kdf {
	case kdfArgon2id:
		if err := h.argon.check(); err != nil {
			return nil, err
		}
	case kdfHKDF:
	default:
		return nil, fmt.Errorf("keyring: unknown KDF %d in keyring file", h.kdf)
	}
	return h, nil
}

// fileKey derives the key that seals the file from the unseal key.
func (h *header) fileKey(u *UnsealKey) (keys.Secret, error) {
	if byte(u.kind) != h.kdf {
		return nil, fmt.Errorf("keyring: the keyring is sealed with %v, but was given %v: %w",
			unsealKind(h.kdf), u.kind, keys.ErrSealed)
	}
	switch h.kdf {
	case kdfArgon2id:
		return argon2.IDKey(u.b, h.salt[:], h.argon.Time, h.argon.MemoryKiB, h.argon.Threads, keySize), nil
	default:
		k, err := hkdf.Key(sha256.New, u.b, h.salt[:], hkdfInfo, keySize)
		return keys.Secret(k), err
	}
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// seal returns the whole file for payload.
func seal(h *header, fileKey, payload []byte) ([]byte, error) {
	aead, err := newGCM(fileKey)
	if err != nil {
		return nil, err
	}
	hdr := h.marshal()
	out := make([]byte, headerSize+nonceSize, headerSize+nonceSize+len(payload)+aead.Overhead())
	copy(out, hdr)
	if _, err := rand.Read(out[headerSize:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[headerSize:], payload, hdr), nil
}

// open returns the payload of a whole file. A wrong file key and an altered
// file look the same: ErrSealed.
func open(file []byte, fileKey []byte) (keys.Secret, error) {
	aead, err := newGCM(fileKey)
	if err != nil {
		return nil, err
	}
	p, err := aead.Open(nil, file[headerSize:headerSize+nonceSize], file[headerSize+nonceSize:], file[:headerSize])
	if err != nil {
		return nil, fmt.Errorf("keyring: wrong unseal key (or the keyring file was altered): %w", keys.ErrSealed)
	}
	return p, nil
}

// ring is the decrypted content of a keyring.
type ring struct {
	roots   map[int]keys.Secret
	macs    map[string]keys.Secret
	signing map[string]keys.Secret // P-256 scalars
}

func newRing() *ring {
	return &ring{roots: map[int]keys.Secret{}, macs: map[string]keys.Secret{}, signing: map[string]keys.Secret{}}
}

// zero overwrites every key of the ring.
func (r *ring) zero() {
	for _, k := range r.roots {
		k.Zero()
	}
	for _, k := range r.macs {
		k.Zero()
	}
	for _, k := range r.signing {
		k.Zero()
	}
}

// marshal encodes the ring; the caller zeroes the result after sealing it.
func (r *ring) marshal() keys.Secret {
	n := 12 + len(r.roots)*(4+keySize)
	for name := range r.macs {
		n += 1 + len(name) + keySize
	}
	for name := range r.signing {
		n += 1 + len(name) + keySize
	}
	b := make(keys.Secret, 0, n) // exact: append never reallocates, so no stray copy
	versions := make([]int, 0, len(r.roots))
	for v := range r.roots {
		versions = append(versions, v)
	}
	sort.Ints(versions)
	b = binary.BigEndian.AppendUint32(b, uint32(len(versions)))
	for _, v := range versions {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
		b = append(b, r.roots[v]...)
	}
	for _, m := range []map[string]keys.Secret{r.macs, r.signing} {
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		sort.Strings(names)
		b = binary.BigEndian.AppendUint32(b, uint32(len(names)))
		for _, name := range names {
			b = append(b, byte(len(name)))
			b = append(b, name...)
			b = append(b, m[name]...)
		}
	}
	return b
}

var errPayload = errors.New("keyring: malformed keyring payload")

// parseRing decodes a payload, copying keys out of it.
func parseRing(p []byte) (*ring, error) {
	r := newRing()
	u32 := func() (uint32, bool) {
		if len(p) < 4 {
			return 0, false
		}
		v := binary.BigEndian.Uint32(p)
		p = p[4:]
		return v, true
	}
	key := func() (keys.Secret, bool) {
		if len(p) < keySize {
			return nil, false
		}
		k := keys.Secret(append([]byte(nil), p[:keySize]...))
		p = p[keySize:]
		return k, true
	}
	fail := func() (*ring, error) { r.zero(); return nil, errPayload }
	n, ok := u32()
	if !ok {
		return fail()
	}
	for range n {
		v, ok := u32()
		if !ok || v == 0 || v > 1<<31-1 {
			return fail()
		}
		k, ok := key()
		if !ok || r.roots[int(v)] != nil {
			return fail()
		}
		r.roots[int(v)] = k
	}
	for _, m := range []map[string]keys.Secret{r.macs, r.signing} {
		n, ok := u32()
		if !ok {
			return fail()
		}
		for range n {
			if len(p) < 1 || len(p) < 1+int(p[0]) {
				return fail()
			}
			name := string(p[1 : 1+int(p[0])])
			p = p[1+int(p[0]):]
			k, ok := key()
			if !ok || !keys.ValidName(name) || m[name] != nil {
				return fail()
			}
			m[name] = k
		}
	}
	if len(p) != 0 || len(r.roots) == 0 {
		return fail()
	}
	return r, nil
}

// writeFileAtomic writes data to path durably: a temporary file in the same
// directory, fsynced, then renamed over path (or, when replace is false,
// linked to path, which fails with fs.ErrExist rather than replace a file), then
// the directory fsynced so that the new name survives a crash. The file has
// mode 0600.
func writeFileAtomic(path string, data []byte, replace bool) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if replace {
		err = os.Rename(tmp, path)
	} else {
		if err = os.Link(tmp, path); err == nil {
			os.Remove(tmp)
		}
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
