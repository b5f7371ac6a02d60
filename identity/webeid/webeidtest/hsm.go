//go:build cgo

package webeidtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/coffre-cloud/coffre/internal/testenv"
)

// The PKCS#11 module is process-global (one C_Initialize for the whole
// library, shared with keys/pkcs11 if the binary uses it too). Cards make
// their tokens in process (C_InitToken on the module's free slot), so the
// module never needs C_Finalize to see them: this code never finalises it,
// and initialises it again only when another user of the module finalised
// it (CKR_CRYPTOKI_NOT_INITIALIZED). Card operations run one at a time.
var module struct {
	mu  sync.Mutex
	ctx *p11.Ctx
	n   atomic.Int64 // tokens made, for labels
}

// oidP384 is secp384r1, the curve of the cards (CKA_EC_PARAMS).
var oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}

// cardToken is the SoftHSM2 token of one card.
type cardToken struct {
	label string
	pin   string
	id    []byte // CKA_ID of the key pair
}

// withModule runs fn with the module initialised, module.mu held, again
// once if the module was finalised under it.
func withModule(fn func(p *p11.Ctx) error) error {
	module.mu.Lock()
	defer module.mu.Unlock()
	if module.ctx == nil {
		module.ctx = p11.New(testenv.SoftHSMModule)
		if module.ctx == nil {
			return fmt.Errorf("cannot load PKCS#11 module %s", testenv.SoftHSMModule)
		}
	}
	for attempt := 0; ; attempt++ {
		if err := module.ctx.Initialize(); err != nil && !isCode(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			return fmt.Errorf("initialise %s: %w", testenv.SoftHSMModule, err)
		}
		err := fn(module.ctx)
		if attempt == 0 && (isCode(err, p11.CKR_CRYPTOKI_NOT_INITIALIZED) || isCode(err, p11.CKR_SESSION_HANDLE_INVALID)) {
			continue
		}
		return err
	}
}

func isCode(err error, code uint) bool {
	var e p11.Error
	return errors.As(err, &e) && uint(e) == code
}

// newCardToken makes a token for one card, with a fresh PIN, and an EC
// P-384 key pair generated inside it: the private key is sensitive and
// never extractable, so it never leaves the token. It returns the token and
// the public key; the token's files are removed when tb ends.
func newCardToken(tb testing.TB) (*cardToken, *ecdsa.PublicKey) {
	tb.Helper()
	var (
		tok    *cardToken
		pub    *ecdsa.PublicKey
		serial string
	)
	tokens := testenv.SoftHSMInProcess(tb, func() error {
		return withModule(func(p *p11.Ctx) error {
			t := &cardToken{
				label: fmt.Sprintf("webeid-card-%d", module.n.Add(1)),
				pin:   randomHex(6),
				id:    []byte(randomHex(8)),
			}
			slot, err := freeSlot(p)
			if err != nil {
				return err
			}
			so := randomHex(6)
			if err := p.InitToken(slot, so, t.label); err != nil {
				return fmt.Errorf("C_InitToken(%s): %w", t.label, err)
			}
			ti, err := p.GetTokenInfo(slot)
			if err != nil {
				return err
			}
			serial = strings.TrimSpace(ti.SerialNumber)
			sh, err := p.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
			if err != nil {
				return err
			}
			defer p.CloseSession(sh)
			if err := p.Login(sh, p11.CKU_SO, so); err != nil {
				return fmt.Errorf("SO login: %w", err)
			}
			if err := p.InitPIN(sh, t.pin); err != nil {
				return fmt.Errorf("C_InitPIN: %w", err)
			}
			if err := p.Logout(sh); err != nil {
				return err
			}
			if err := p.Login(sh, p11.CKU_USER, t.pin); err != nil {
				return fmt.Errorf("user login: %w", err)
			}
			if pub, err = generateKey(p, sh, t); err != nil {
				return err
			}
			tok = t
			return nil
		})
	})
	if dir := tokenDir(tokens, serial); dir != "" {
		tb.Cleanup(func() {
			module.mu.Lock()
			defer module.mu.Unlock()
			os.RemoveAll(dir)
		})
	}
	return tok, pub
}

// freeSlot returns the module's slot with no token initialised. SoftHSM2
// always keeps one, adding a new one when the last is taken (when asked
// for the slot count).
func freeSlot(p *p11.Ctx) (uint, error) {
	slots, err := p.GetSlotList(false)
	if err != nil {
		return 0, fmt.Errorf("C_GetSlotList: %w", err)
	}
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			continue // a token whose files were removed
		}
		if ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			return s, nil
		}
	}
	return 0, errors.New("SoftHSM2 has no free slot")
}

// tokenDir finds the directory of the token with this serial number:
// SoftHSM2 derives the serial from the end of the directory's UUID.
func tokenDir(tokens, serial string) string {
	if serial == "" {
		return ""
	}
	ents, _ := os.ReadDir(tokens)
	for _, e := range ents {
		if e.IsDir() && strings.HasSuffix(strings.ReplaceAll(e.Name(), "-", ""), serial) {
			return filepath.Join(tokens, e.Name())
		}
	}
	return ""
}

// generateKey makes the card's key pair with C_GenerateKeyPair and checks
// that the token keeps the private key to itself.
func generateKey(p *p11.Ctx, sh p11.SessionHandle, t *cardToken) (*ecdsa.PublicKey, error) {
	params, err := asn1.Marshal(oidP384)
	if err != nil {
		return nil, err
	}
	pubH, privH, err := p.GenerateKeyPair(sh,
		[]*p11.Mechanism{p11.NewMechanism(p11.CKM_EC_KEY_PAIR_GEN, nil)},
		[]*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_VERIFY, true),
			p11.NewAttribute(p11.CKA_EC_PARAMS, params),
			p11.NewAttribute(p11.CKA_LABEL, "authentication"),
			p11.NewAttribute(p11.CKA_ID, t.id),
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
			p11.NewAttribute(p11.CKA_LABEL, "authentication"),
			p11.NewAttribute(p11.CKA_ID, t.id),
		})
	if err != nil {
		return nil, fmt.Errorf("C_GenerateKeyPair(P-384): %w", err)
	}
	attrs, err := p.GetAttributeValue(sh, privH, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_SENSITIVE, nil),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, nil),
		p11.NewAttribute(p11.CKA_NEVER_EXTRACTABLE, nil),
	})
	if err != nil {
		return nil, err
	}
	for _, a := range attrs {
		want := byte(1)
		if a.Type == p11.CKA_EXTRACTABLE {
			want = 0
		}
		if len(a.Value) != 1 || a.Value[0] != want {
			return nil, fmt.Errorf("card private key attribute 0x%x = %x: the key could leave the token", a.Type, a.Value)
		}
	}
	if _, err := p.GetAttributeValue(sh, privH, []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)}); !isCode(err, p11.CKR_ATTRIBUTE_SENSITIVE) {
		return nil, fmt.Errorf("reading the card private key's value gave %v, want CKR_ATTRIBUTE_SENSITIVE", err)
	}
	attrs, err = p.GetAttributeValue(sh, pubH, []*p11.Attribute{p11.NewAttribute(p11.CKA_EC_POINT, nil)})
	if err != nil {
		return nil, err
	}
	var point []byte // DER OCTET STRING around the uncompressed point
	if rest, err := asn1.Unmarshal(attrs[0].Value, &point); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("CKA_EC_POINT is not a DER octet string: %v", err)
	}
	return ecdsa.ParseUncompressedPublicKey(elliptic.P384(), point)
}

// sign signs digest with CKM_ECDSA, as the Web eID application has a card
// sign the hash it computed: the token does no hashing, and returns r||s,
// 48 bytes each for P-384. Each signature opens a session and logs in with
// the PIN, as each Web eID authentication asks for it.
func (t *cardToken) sign(digest []byte) ([]byte, error) {
	var sig []byte
	err := withModule(func(p *p11.Ctx) error {
		slot, err := findSlot(p, t.label)
		if err != nil {
			return err
		}
		sh, err := p.OpenSession(slot, p11.CKF_SERIAL_SESSION)
		if err != nil {
			return err
		}
		defer p.CloseSession(sh)
		if err := p.Login(sh, p11.CKU_USER, t.pin); err != nil && !isCode(err, p11.CKR_USER_ALREADY_LOGGED_IN) {
			return fmt.Errorf("login to %s: %w", t.label, err)
		}
		if err := p.FindObjectsInit(sh, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
			p11.NewAttribute(p11.CKA_ID, t.id),
		}); err != nil {
			return err
		}
		keys, _, err := p.FindObjects(sh, 2)
		p.FindObjectsFinal(sh)
		if err != nil {
			return err
		}
		if len(keys) != 1 {
			return fmt.Errorf("token %s holds %d authentication keys, want 1", t.label, len(keys))
		}
		if err := p.SignInit(sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_ECDSA, nil)}, keys[0]); err != nil {
			return err
		}
		sig, err = p.Sign(sh, digest)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("webeidtest: card %s: sign: %w", t.label, err)
	}
	return sig, nil
}

// findSlot returns the slot of the token labelled label.
func findSlot(p *p11.Ctx, label string) (uint, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, err
	}
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err == nil && ti.Label == label {
			return s, nil
		}
	}
	return 0, fmt.Errorf("no token labelled %s", label)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
