//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	p11 "github.com/miekg/pkcs11"

	"github.com/coffre-cloud/coffre/keys"
)

const gcmTagBits = 8 * keys.WrapTagSize

// Wrap implements keys.Store: AES-256-GCM inside the token, under the
// current root key, with a nonce drawn here (or chosen by the module, for
// modules that insist on their own: the one it used is read back).
func (s *Store) Wrap(ctx context.Context, secret, ad []byte) ([]byte, error) {
	if err := keys.CheckWrapArgs(secret, ad); err != nil {
		return nil, err
	}
	var out []byte
	err := s.do(ctx, "wrap", true, func(c *call) error {
		if s.stale() {
			roots, err := s.listRoots(c)
			if err != nil {
				return err
			}
			s.setRoots(c.conn, roots)
		}
		v, h, ok := s.root(0)
		if !ok {
			return fmt.Errorf("token %q holds no root key: %w", s.cfg.TokenLabel, keys.ErrNoSuchKey)
		}
		hdr := keys.WrapHeader(v)
		nonce := make([]byte, keys.WrapNonceSize)
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		gp := p11.NewGCMParams(nonce, keys.WrapAAD(hdr, ad), gcmTagBits)
		defer gp.Free()
		if err := c.p.EncryptInit(c.sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, gp)}, h); err != nil {
			return err
		}
		ct, err := c.p.Encrypt(c.sh, secret)
		if err != nil {
			return err
		}
		used := gp.IV()
		if len(used) != keys.WrapNonceSize || len(ct) != len(secret)+keys.WrapTagSize {
			return fmt.Errorf("module returned a %d-byte nonce and %d bytes for %d: not AES-GCM as specified", len(used), len(ct), len(secret))
		}
		out = make([]byte, 0, len(secret)+keys.WrapOverhead)
		out = append(append(append(out, hdr...), used...), ct...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// errBadBlob is Unwrap's answer when the token, alive and well, refused to
// open the blob.
var errBadBlob = fmt.Errorf("blob does not open: %w", keys.ErrUnwrap)

// Unwrap implements keys.Store. The token tells a failed GCM tag check
// apart from nothing else (SoftHSM2 says CKR_GENERAL_ERROR, others
// CKR_ENCRYPTED_DATA_INVALID), so a failed C_Decrypt is ErrUnwrap only when
// the session and the token still answer; otherwise it is a lost token.
func (s *Store) Unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error) {
	v, err := keys.RootVersion(wrapped)
	if err != nil {
		return nil, err
	}
	hdr := wrapped[:keys.WrapHeaderSize]
	nonce := wrapped[keys.WrapHeaderSize : keys.WrapHeaderSize+keys.WrapNonceSize]
	ct := wrapped[keys.WrapHeaderSize+keys.WrapNonceSize:]
	var out []byte
	err = s.do(ctx, "unwrap", true, func(c *call) error {
		_, h, ok := s.root(v)
		if !ok {
			// Another node may have rotated: look at the token before
			// saying no.
			roots, err := s.listRoots(c)
			if err != nil {
				return err
			}
			s.setRoots(c.conn, roots)
			if h, ok = roots[v]; !ok {
				return fmt.Errorf("root key version %d: %w", v, errors.Join(keys.ErrUnwrap, keys.ErrNoSuchKey))
			}
		}
		gp := p11.NewGCMParams(nonce, keys.WrapAAD(hdr, ad), gcmTagBits)
		defer gp.Free()
		if err := c.p.DecryptInit(c.sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, gp)}, h); err != nil {
			return err
		}
		pt, err := c.p.Decrypt(c.sh, ct)
		if err != nil {
			if c.healthy() {
				return errBadBlob
			}
			return lostError{err}
		}
		if len(pt) != len(ct)-keys.WrapTagSize {
			keys.Secret(pt).Zero()
			return errBadBlob
		}
		out = pt
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Rotate implements keys.Store: a new AES-256 key generated inside the
// token, sensitive and never extractable, labelled PREFIX-root-vN. It is
// not retried after a lost session (the key may exist): the next listing
// of the token finds it if so.
func (s *Store) Rotate(ctx context.Context) (int, error) {
	var v int
	err := s.do(ctx, "rotate", false, func(c *call) error {
		roots, err := s.listRoots(c)
		if err != nil {
			return err
		}
		v = currentOf(roots) + 1
		label := s.rootLabel(v)
		h, err := c.p.GenerateKey(c.sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_GEN, nil)}, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
			p11.NewAttribute(p11.CKA_VALUE_LEN, 32),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, true),
			p11.NewAttribute(p11.CKA_SENSITIVE, true),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
			p11.NewAttribute(p11.CKA_MODIFIABLE, false),
			p11.NewAttribute(p11.CKA_ENCRYPT, true),
			p11.NewAttribute(p11.CKA_DECRYPT, true),
			p11.NewAttribute(p11.CKA_WRAP, false),
			p11.NewAttribute(p11.CKA_UNWRAP, false),
			p11.NewAttribute(p11.CKA_SIGN, false),
			p11.NewAttribute(p11.CKA_VERIFY, false),
			p11.NewAttribute(p11.CKA_DERIVE, false),
			p11.NewAttribute(p11.CKA_LABEL, label),
			p11.NewAttribute(p11.CKA_ID, []byte(label)),
		})
		if err != nil {
			return fmt.Errorf("generate %s: %w", label, err)
		}
		roots[v] = h
		s.setRoots(c.conn, roots)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return v, nil
}

// Retire implements keys.Store: C_DestroyObject on the root key.
func (s *Store) Retire(ctx context.Context, version int) error {
	return s.do(ctx, "retire", false, func(c *call) error {
		roots, err := s.listRoots(c)
		if err != nil {
			return err
		}
		h, ok := roots[version]
		switch {
		case !ok:
			return fmt.Errorf("root key version %d: %w", version, keys.ErrNoSuchKey)
		case version == currentOf(roots):
			return fmt.Errorf("root key version %d is the current one (rotate first): %w", version, keys.ErrInvalid)
		}
		if err := c.p.DestroyObject(c.sh, h); err != nil {
			return fmt.Errorf("destroy %s: %w", s.rootLabel(version), err)
		}
		delete(roots, version)
		s.setRoots(c.conn, roots)
		return nil
	})
}

// Current implements keys.Store. It reads the token, so a Rotate made by
// another node sharing it shows here (and in this node's Wraps from then on).
func (s *Store) Current(ctx context.Context) (int, error) {
	var v int
	err := s.do(ctx, "current", true, func(c *call) error {
		roots, err := s.listRoots(c)
		if err != nil {
			return err
		}
		s.setRoots(c.conn, roots)
		if v = currentOf(roots); v == 0 {
			return fmt.Errorf("token %q holds no root key: %w", s.cfg.TokenLabel, keys.ErrNoSuchKey)
		}
		return nil
	})
	return v, err
}

// oidP256 is the DER of the OID of NIST P-256 (prime256v1), CKA_EC_PARAMS.
var oidP256 = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}

func (s *Store) signLabel(name string) string { return s.cfg.KeyPrefix + "-sign-" + name }
func (s *Store) macLabel(name string) string  { return s.cfg.KeyPrefix + "-mac-" + name }

// exists reports whether an object of class is labelled label.
func exists(c *call, class uint, label string) (bool, error) {
	hs, err := findObjects(c, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, class),
		p11.NewAttribute(p11.CKA_LABEL, label),
	})
	return len(hs) > 0, err
}

// CreateSigningKey implements keys.Store: a P-256 key pair generated inside
// the token; the private half is sensitive and never extractable.
func (s *Store) CreateSigningKey(ctx context.Context, name string) (crypto.PublicKey, error) {
	if err := keys.CheckName(name); err != nil {
		return nil, err
	}
	label := s.signLabel(name)
	var pub *ecdsa.PublicKey
	err := s.do(ctx, "create signing key", false, func(c *call) error {
		if ok, err := exists(c, p11.CKO_PRIVATE_KEY, label); err != nil || ok {
			if err == nil {
				err = fmt.Errorf("signing key %s: %w", name, keys.ErrExist)
			}
			return err
		}
		pubH, _, err := c.p.GenerateKeyPair(c.sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_EC_KEY_PAIR_GEN, nil)},
			[]*p11.Attribute{
				p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY),
				p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
				p11.NewAttribute(p11.CKA_TOKEN, true),
				p11.NewAttribute(p11.CKA_PRIVATE, false),
				p11.NewAttribute(p11.CKA_VERIFY, true),
				p11.NewAttribute(p11.CKA_EC_PARAMS, oidP256),
				p11.NewAttribute(p11.CKA_LABEL, label),
				p11.NewAttribute(p11.CKA_ID, []byte(label)),
			},
			[]*p11.Attribute{
				p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
				p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
				p11.NewAttribute(p11.CKA_TOKEN, true),
				p11.NewAttribute(p11.CKA_PRIVATE, true),
				p11.NewAttribute(p11.CKA_SENSITIVE, true),
				p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
				p11.NewAttribute(p11.CKA_SIGN, true),
				p11.NewAttribute(p11.CKA_DERIVE, false),
				p11.NewAttribute(p11.CKA_LABEL, label),
				p11.NewAttribute(p11.CKA_ID, []byte(label)),
			})
		if err != nil {
			return fmt.Errorf("generate %s: %w", label, err)
		}
		pub, err = ecPublicKey(c, pubH)
		return err
	})
	if err != nil {
		return nil, err
	}
	return pub, nil
}

// ecPublicKey reads a P-256 public key object.
func ecPublicKey(c *call, h p11.ObjectHandle) (*ecdsa.PublicKey, error) {
	attrs, err := c.p.GetAttributeValue(c.sh, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_EC_POINT, nil)})
	if err != nil {
		return nil, err
	}
	point := attrs[0].Value
	// PKCS#11 says CKA_EC_POINT is a DER OCTET STRING; a few modules give
	// the bare point.
	if len(point) != 65 || point[0] != 4 {
		var inner []byte
		if rest, err := asn1.Unmarshal(point, &inner); err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("CKA_EC_POINT is neither a DER OCTET STRING nor an uncompressed point")
		}
		point = inner
	}
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
}

// Signer implements keys.Store.
func (s *Store) Signer(ctx context.Context, name string) (crypto.Signer, error) {
	if err := keys.CheckName(name); err != nil {
		return nil, err
	}
	label := s.signLabel(name)
	var pub *ecdsa.PublicKey
	err := s.do(ctx, "signer", true, func(c *call) error {
		if _, err := s.object(c, p11.CKO_PRIVATE_KEY, label); err != nil {
			return err
		}
		h, err := s.object(c, p11.CKO_PUBLIC_KEY, label)
		if err != nil {
			return err
		}
		pub, err = ecPublicKey(c, h)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &signer{s: s, name: name, label: label, pub: pub}, nil
}

// signer signs with a private key that stays in the token.
type signer struct {
	s     *Store
	name  string
	label string
	pub   *ecdsa.PublicKey
}

func (g *signer) Public() crypto.PublicKey { return g.pub }

// Sign signs a SHA-256 digest with CKM_ECDSA (SoftHSM2 has no
// CKM_ECDSA_SHA256, and hashing here keeps the message out of the token's
// path anyway) and returns the ASN.1 DER signature crypto.Signer promises.
// It has no context: it runs under context.Background, bounded by the
// session pool.
func (g *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil || opts.HashFunc() != crypto.SHA256 || len(digest) != sha256.Size {
		return nil, fmt.Errorf("pkcs11: sign with %s: want a SHA-256 digest (ES256): %w", g.name, keys.ErrInvalid)
	}
	var raw []byte
	err := g.s.do(context.Background(), "sign", true, func(c *call) error {
		h, err := g.s.object(c, p11.CKO_PRIVATE_KEY, g.label)
		if err != nil {
			return err
		}
		if err := c.p.SignInit(c.sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_ECDSA, nil)}, h); err != nil {
			return err
		}
		raw, err = c.p.Sign(c.sh, digest)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(raw) != 64 {
		return nil, fmt.Errorf("pkcs11: sign with %s: token returned a %d-byte ECDSA signature, want 64 (r||s)", g.name, len(raw))
	}
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
}

// CreateMACKey implements keys.Store: a 256-bit generic secret generated
// inside the token, sensitive and never extractable, usable only for
// HMAC.
func (s *Store) CreateMACKey(ctx context.Context, name string) error {
	if err := keys.CheckName(name); err != nil {
		return err
	}
	label := s.macLabel(name)
	return s.do(ctx, "create MAC key", false, func(c *call) error {
		if ok, err := exists(c, p11.CKO_SECRET_KEY, label); err != nil || ok {
			if err == nil {
				err = fmt.Errorf("MAC key %s: %w", name, keys.ErrExist)
			}
			return err
		}
		_, err := c.p.GenerateKey(c.sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_GENERIC_SECRET_KEY_GEN, nil)}, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_GENERIC_SECRET),
			p11.NewAttribute(p11.CKA_VALUE_LEN, 32),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, true),
			p11.NewAttribute(p11.CKA_SENSITIVE, true),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
			p11.NewAttribute(p11.CKA_MODIFIABLE, false),
			p11.NewAttribute(p11.CKA_SIGN, true),
			p11.NewAttribute(p11.CKA_VERIFY, true),
			p11.NewAttribute(p11.CKA_ENCRYPT, false),
			p11.NewAttribute(p11.CKA_DECRYPT, false),
			p11.NewAttribute(p11.CKA_DERIVE, false),
			p11.NewAttribute(p11.CKA_LABEL, label),
			p11.NewAttribute(p11.CKA_ID, []byte(label)),
		})
		if err != nil {
			return fmt.Errorf("generate %s: %w", label, err)
		}
		return nil
	})
}

// MAC implements keys.Store: CKM_SHA256_HMAC inside the token.
func (s *Store) MAC(ctx context.Context, name string, msg []byte) ([]byte, error) {
	if err := keys.CheckName(name); err != nil {
		return nil, err
	}
	label := s.macLabel(name)
	var out []byte
	err := s.do(ctx, "MAC", true, func(c *call) error {
		h, err := s.object(c, p11.CKO_SECRET_KEY, label)
		if err != nil {
			return err
		}
		if err := c.p.SignInit(c.sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_SHA256_HMAC, nil)}, h); err != nil {
			return err
		}
		out, err = c.p.Sign(c.sh, msg)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out) != sha256.Size {
		return nil, fmt.Errorf("pkcs11: MAC with %s: token returned %d bytes, want %d", name, len(out), sha256.Size)
	}
	return out, nil
}
