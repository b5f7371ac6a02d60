package keyring

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"

	"github.com/coffre-cloud/coffre/keys"
)

// Options tune Create.
type Options struct {
	// Argon2 stretches a passphrase into the file key. The zero value means
	// DefaultArgon2. Ignored for a random unseal key. Tests lower it.
	Argon2 Argon2Params
}

type state int

const (
	stateOpen state = iota
	stateSealed
	stateClosed
)

// Store is a keyring in a file: keys.Store for the embedded default.
type Store struct {
	path string
	lock *os.File // exclusive flock on path+".lock" while open

	mu      sync.RWMutex
	state   state
	hdr     *header
	fileKey keys.Secret // derived from the unseal key; seals rewrites
	ring    *ring
	aeads   map[int]cipher.AEAD // one per root key version
	current int
	signers map[string]*ecdsa.PrivateKey
}

var _ keys.Store = (*Store)(nil)

// Create makes a new keyring file at path, sealed by u, holding one root key
// (version 1), and returns it open. It refuses to replace an existing file.
// opts may be nil.
func Create(path string, u *UnsealKey, opts *Options) (*Store, error) {
	if u == nil || len(u.b) == 0 {
		return nil, fmt.Errorf("keyring: create %s: empty unseal key or passphrase: %w", path, keys.ErrInvalid)
	}
	h := &header{kdf: byte(u.kind)}
	if u.kind == kindPassphrase {
		h.argon = DefaultArgon2
		if opts != nil && opts.Argon2 != (Argon2Params{}) {
			h.argon = opts.Argon2
		}
		if err := h.argon.check(); err != nil {
			return nil, err
		}
	}
	if _, err := rand.Read(h.salt[:]); err != nil {
		return nil, err
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, lock: lock, hdr: h}
	fail := func(err error) (*Store, error) {
		s.Close()
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		return fail(fmt.Errorf("keyring: %s exists; open it instead of creating it: %w", path, fs.ErrExist))
	}
	if s.fileKey, err = h.fileKey(u); err != nil {
		return fail(err)
	}
	r := newRing()
	if r.roots[1], err = randomKey(); err != nil {
		return fail(err)
	}
	if err := s.write(r, false); err != nil {
		r.zero()
		return fail(fmt.Errorf("keyring: create %s: %w", path, err))
	}
	if err := s.install(r); err != nil {
		return fail(err)
	}
	return s, nil
}

// Open opens the keyring file at path with u. A wrong unseal key (or a
// damaged file) is ErrSealed, and nothing stays open.
func Open(path string, u *UnsealKey) (*Store, error) {
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, lock: lock, state: stateSealed}
	if err := s.Unseal(u); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Seal zeroes every key the store holds in memory, keeping the file as it
// is: until Unseal, every operation returns ErrSealed. An operator seals a
// running vault when the host is suspected compromised.
func (s *Store) Seal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateOpen {
		s.forget()
		s.state = stateSealed
	}
}

// Unseal reads the keyring file again with u and makes the store usable.
// Unsealing an open store checks u and changes nothing else.
func (s *Store) Unseal(u *UnsealKey) error {
	if u == nil {
		return fmt.Errorf("keyring: unseal %s: no unseal key: %w", s.path, keys.ErrSealed)
	}
	file, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("keyring: unseal: %w", err)
	}
	h, err := parseHeader(file)
	if err != nil {
		return fmt.Errorf("keyring: unseal %s: %w", s.path, err)
	}
	fileKey, err := h.fileKey(u)
	if err != nil {
		return err
	}
	payload, err := open(file, fileKey)
	if err != nil {
		fileKey.Zero()
		return fmt.Errorf("keyring: unseal %s: %w", s.path, err)
	}
	r, err := parseRing(payload)
	payload.Zero()
	if err != nil {
		fileKey.Zero()
		return fmt.Errorf("keyring: unseal %s: %w", s.path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateClosed:
		r.zero()
		fileKey.Zero()
		return fmt.Errorf("keyring: unseal: %w", keys.ErrClosed)
	case stateOpen:
		r.zero()
		fileKey.Zero()
		return nil
	}
	s.hdr, s.fileKey = h, fileKey
	return s.install(r)
}

// install makes r the store's keys; s.mu is held (or s is not shared yet).
func (s *Store) install(r *ring) error {
	aeads := make(map[int]cipher.AEAD, len(r.roots))
	current := 0
	for v, k := range r.roots {
		a, err := newGCM(k)
		if err != nil {
			r.zero()
			return err
		}
		aeads[v] = a
		current = max(current, v)
	}
	signers := make(map[string]*ecdsa.PrivateKey, len(r.signing))
	for name, d := range r.signing {
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		if err != nil {
			r.zero()
			return fmt.Errorf("keyring: signing key %s: %w", name, err)
		}
		signers[name] = priv
	}
	s.ring, s.aeads, s.current, s.signers = r, aeads, current, signers
	s.state = stateOpen
	return nil
}

// forget zeroes and drops every key; s.mu is held.
func (s *Store) forget() {
	if s.ring != nil {
		s.ring.zero()
	}
	s.fileKey.Zero()
	s.ring, s.fileKey, s.aeads, s.signers, s.current = nil, nil, nil, nil, 0
}

// Close zeroes the keys held in memory and releases the file lock.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return nil
	}
	s.forget()
	s.state = stateClosed
	if s.lock != nil {
		s.lock.Close() // releases the flock
		s.lock = nil
	}
	return nil
}

// LogValue implements slog.LogValuer: a store logs as its path and state,
// never its keys.
func (s *Store) LogValue() slog.Value {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slog.GroupValue(slog.String("keyring", s.path), slog.String("state", s.stateName()))
}

func (s *Store) stateName() string {
	return [...]string{"open", "sealed", "closed"}[s.state]
}

// usable returns nil when the store is open; s.mu is held.
func (s *Store) usable(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("keyring: %s: %w", op, err)
	}
	switch s.state {
	case stateSealed:
		return fmt.Errorf("keyring: %s: %s is sealed (unseal it with its passphrase or unseal key): %w", op, s.path, keys.ErrSealed)
	case stateClosed:
		return fmt.Errorf("keyring: %s: %w", op, keys.ErrClosed)
	}
	return nil
}

// write seals r into the keyring file durably; s.mu is held for writing (or
// s is not shared yet).
func (s *Store) write(r *ring, replace bool) error {
	p := r.marshal()
	defer p.Zero()
	file, err := seal(s.hdr, s.fileKey, p)
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path, file, replace)
}

func randomKey() (keys.Secret, error) {
	k := make(keys.Secret, keySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}

// Wrap implements keys.Store.
func (s *Store) Wrap(ctx context.Context, secret, ad []byte) ([]byte, error) {
	if err := keys.CheckWrapArgs(secret, ad); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(ctx, "wrap"); err != nil {
		return nil, err
	}
	hdr := keys.WrapHeader(s.current)
	out := make([]byte, keys.WrapHeaderSize+keys.WrapNonceSize, len(secret)+keys.WrapOverhead)
	copy(out, hdr)
	nonce := out[keys.WrapHeaderSize:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aeads[s.current].Seal(out, nonce, secret, keys.WrapAAD(hdr, ad)), nil
}

// Unwrap implements keys.Store.
func (s *Store) Unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error) {
	v, err := keys.RootVersion(wrapped)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(ctx, "unwrap"); err != nil {
		return nil, err
	}
	aead := s.aeads[v]
	if aead == nil {
		return nil, fmt.Errorf("keyring: unwrap: root key version %d: %w", v, errors.Join(keys.ErrUnwrap, keys.ErrNoSuchKey))
	}
	hdr := wrapped[:keys.WrapHeaderSize]
	nonce := wrapped[keys.WrapHeaderSize : keys.WrapHeaderSize+keys.WrapNonceSize]
	secret, err := aead.Open(nil, nonce, wrapped[keys.WrapHeaderSize+keys.WrapNonceSize:], keys.WrapAAD(hdr, ad))
	if err != nil {
		return nil, fmt.Errorf("keyring: unwrap: %w", keys.ErrUnwrap)
	}
	return secret, nil
}

// Rotate implements keys.Store. The new key is in the file, durably, before
// Wrap uses it.
func (s *Store) Rotate(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx, "rotate"); err != nil {
		return 0, err
	}
	k, err := randomKey()
	if err != nil {
		return 0, err
	}
	aead, err := newGCM(k)
	if err != nil {
		return 0, err
	}
	v := s.current + 1
	s.ring.roots[v] = k
	if err := s.write(s.ring, true); err != nil {
		delete(s.ring.roots, v)
		k.Zero()
		return 0, fmt.Errorf("keyring: rotate: %w", err)
	}
	s.aeads[v], s.current = aead, v
	return v, nil
}

// Retire implements keys.Store. The key leaves the file, durably, before it
// is zeroed in memory.
func (s *Store) Retire(ctx context.Context, version int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx, "retire"); err != nil {
		return err
	}
	k := s.ring.roots[version]
	switch {
	case k == nil:
		return fmt.Errorf("keyring: retire root key version %d: %w", version, keys.ErrNoSuchKey)
	case version == s.current:
		return fmt.Errorf("keyring: retire root key version %d: it is the current root key (rotate first): %w", version, keys.ErrInvalid)
	}
	delete(s.ring.roots, version)
	if err := s.write(s.ring, true); err != nil {
		s.ring.roots[version] = k
		return fmt.Errorf("keyring: retire root key version %d: %w", version, err)
	}
	k.Zero()
	delete(s.aeads, version)
	return nil
}

// Current implements keys.Store.
func (s *Store) Current(ctx context.Context) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(ctx, "current"); err != nil {
		return 0, err
	}
	return s.current, nil
}

// CreateSigningKey implements keys.Store.
func (s *Store) CreateSigningKey(ctx context.Context, name string) (crypto.PublicKey, error) {
	if err := keys.CheckName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx, "create signing key"); err != nil {
		return nil, err
	}
	if s.ring.signing[name] != nil {
		return nil, fmt.Errorf("keyring: signing key %s: %w", name, keys.ErrExist)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	d, err := priv.Bytes()
	if err != nil {
		return nil, err
	}
	s.ring.signing[name] = d
	if err := s.write(s.ring, true); err != nil {
		delete(s.ring.signing, name)
		keys.Secret(d).Zero()
		return nil, fmt.Errorf("keyring: create signing key %s: %w", name, err)
	}
	s.signers[name] = priv
	return priv.Public(), nil
}

// Signer implements keys.Store.
func (s *Store) Signer(ctx context.Context, name string) (crypto.Signer, error) {
	if err := keys.CheckName(name); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(ctx, "signer"); err != nil {
		return nil, err
	}
	priv := s.signers[name]
	if priv == nil {
		return nil, fmt.Errorf("keyring: signing key %s: %w", name, keys.ErrNoSuchKey)
	}
	return &signer{s: s, name: name, pub: priv.Public()}, nil
}

// signer signs with a key that stays in the Store: after Close or Seal it
// fails, since the key is gone from memory.
type signer struct {
	s    *Store
	name string
	pub  crypto.PublicKey
}

func (g *signer) Public() crypto.PublicKey { return g.pub }

func (g *signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil || opts.HashFunc() != crypto.SHA256 || len(digest) != sha256.Size {
		return nil, fmt.Errorf("keyring: sign with %s: want a SHA-256 digest (ES256): %w", g.name, keys.ErrInvalid)
	}
	g.s.mu.RLock()
	defer g.s.mu.RUnlock()
	if err := g.s.usable(context.Background(), "sign"); err != nil {
		return nil, err
	}
	priv := g.s.signers[g.name]
	if priv == nil {
		return nil, fmt.Errorf("keyring: signing key %s: %w", g.name, keys.ErrNoSuchKey)
	}
	return priv.Sign(rand, digest, opts)
}

// CreateMACKey implements keys.Store.
func (s *Store) CreateMACKey(ctx context.Context, name string) error {
	if err := keys.CheckName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx, "create MAC key"); err != nil {
		return err
	}
	if s.ring.macs[name] != nil {
		return fmt.Errorf("keyring: MAC key %s: %w", name, keys.ErrExist)
	}
	k, err := randomKey()
	if err != nil {
		return err
	}
	s.ring.macs[name] = k
	if err := s.write(s.ring, true); err != nil {
		delete(s.ring.macs, name)
		k.Zero()
		return fmt.Errorf("keyring: create MAC key %s: %w", name, err)
	}
	return nil
}

// MAC implements keys.Store.
func (s *Store) MAC(ctx context.Context, name string, msg []byte) ([]byte, error) {
	if err := keys.CheckName(name); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(ctx, "MAC"); err != nil {
		return nil, err
	}
	k := s.ring.macs[name]
	if k == nil {
		return nil, fmt.Errorf("keyring: MAC key %s: %w", name, keys.ErrNoSuchKey)
	}
	m := hmac.New(sha256.New, k)
	m.Write(msg)
	return m.Sum(nil), nil
}

// heldSecrets returns the slices of key material the store holds, for the
// conformance suite's check that Close zeroes them.
func (s *Store) heldSecrets() [][]byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.ring == nil {
		return nil
	}
	out := [][]byte{s.fileKey}
	for _, m := range []map[string]keys.Secret{s.ring.macs, s.ring.signing} {
		for _, k := range m {
			out = append(out, k)
		}
	}
	for _, k := range s.ring.roots {
		out = append(out, k)
	}
	return out
}
