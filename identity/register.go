package identity

import (
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/meta"
)

// Layout of the register in the metadata store (every value sealed, every
// personal name hashed under the index key):
//
//	I/key                       the register's data key, wrapped by the root key
//	I/r/<ix(nn)>                Resident
//	I/n/<ix(card fingerprint)>  national number of the card's holder
//	I/c/<client id>             Client
//	I/a/<ix(nn)>/<tenant>       Agent
//	I/g/<grant id>              Grant
//	I/x/<ix(sub)>               national number of a pairwise sub
//	I/s/<kid>                   SigningKey
const (
	kDataKey   = "I/key"
	pResident  = "I/r/"
	pCard      = "I/n/"
	pClient    = "I/c/"
	pAgent     = "I/a/"
	pGrant     = "I/g/"
	pSubject   = "I/x/"
	dataKeyAD  = "coffre identity register key v1"
	recordAD   = "coffre identity record v1\x00"
	maxRecords = 1 << 20 // bound on a listing's size
)

// Register is the identity records of a site. Safe for concurrent use.
type Register struct {
	meta  meta.Store
	keys  keys.Store
	now   func() time.Time
	aead  cipher.AEAD
	ixKey []byte
}

// Open opens the register of a site, creating its data key on first use.
// It needs the key store: a sealed or unreachable store is ErrUnavailable.
func Open(ctx context.Context, m meta.Store, k keys.Store) (*Register, error) {
	var wrapped []byte
	err := m.View(ctx, func(tx meta.Tx) error {
		v, err := tx.Get([]byte(kDataKey))
		if errors.Is(err, meta.ErrNotFound) {
			return nil
		}
		wrapped = append([]byte(nil), v...)
		return err
	})
	if err != nil {
		return nil, err
	}
	var dk []byte
	if wrapped == nil {
		dk = make([]byte, 32)
		rand.Read(dk)
		if wrapped, err = k.Wrap(ctx, dk, []byte(dataKeyAD)); err != nil {
			return nil, fmt.Errorf("%w: wrapping the register key: %v", ErrUnavailable, err)
		}
		// Another process may have created it meanwhile: keep the first.
		err = m.Update(ctx, func(tx meta.Tx) error {
			if v, err := tx.Get([]byte(kDataKey)); err == nil {
				wrapped = append([]byte(nil), v...)
				return nil
			}
			return tx.Put([]byte(kDataKey), wrapped)
		})
		if err != nil {
			return nil, err
		}
	}
	if dk, err = k.Unwrap(ctx, wrapped, []byte(dataKeyAD)); err != nil {
		return nil, fmt.Errorf("%w: unwrapping the register key: %v", ErrUnavailable, err)
	}
	defer clear(dk)
	sealKey, err := hkdf.Key(sha256.New, dk, nil, "coffre identity seal v1", chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	ixKey, err := hkdf.Key(sha256.New, dk, nil, "coffre identity index v1", 32)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(sealKey)
	clear(sealKey)
	if err != nil {
		return nil, err
	}
	return &Register{meta: m, keys: k, now: time.Now, aead: aead, ixKey: ixKey}, nil
}

// RewrapRoot wraps the register's data key again under the current root
// key, so that older root keys can be retired. It returns 1 when it
// rewrapped the key, 0 when it already was under the current root key.
func (r *Register) RewrapRoot(ctx context.Context) (int, error) {
	cur, err := r.keys.Current(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	var wrapped []byte
	err = r.meta.View(ctx, func(tx meta.Tx) error {
		v, err := tx.Get([]byte(kDataKey))
		wrapped = append([]byte(nil), v...)
		return err
	})
	if err != nil {
		return 0, err
	}
	if v, err := keys.RootVersion(wrapped); err == nil && v == cur {
		return 0, nil
	}
	dk, err := r.keys.Unwrap(ctx, wrapped, []byte(dataKeyAD))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer clear(dk)
	rewrapped, err := r.keys.Wrap(ctx, dk, []byte(dataKeyAD))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return 1, r.meta.Update(ctx, func(tx meta.Tx) error { return tx.Put([]byte(kDataKey), rewrapped) })
}

// ix names a record after a personal value without revealing it.
func (r *Register) ix(kind, v string) string {
	m := hmac.New(sha256.New, r.ixKey)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil)[:20])
}

func (r *Register) put(tx meta.Tx, key string, v any) error {
	plain, err := json.Marshal(v)
	if err != nil {
		return err
	}
	nonce := make([]byte, r.aead.NonceSize(), r.aead.NonceSize()+len(plain)+r.aead.Overhead())
	rand.Read(nonce)
	sealed := r.aead.Seal(nonce, nonce, plain, []byte(recordAD+key))
	clear(plain)
	return tx.Put([]byte(key), sealed)
}

// get opens the record at key into v; ErrNotFound when absent.
func (r *Register) get(tx meta.Tx, key string, v any) error {
	sealed, err := tx.Get([]byte(key))
	if errors.Is(err, meta.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return r.open(key, sealed, v)
}

func (r *Register) open(key string, sealed []byte, v any) error {
	ns := r.aead.NonceSize()
	if len(sealed) < ns+r.aead.Overhead() {
		return fmt.Errorf("identity: record %s is truncated", key)
	}
	plain, err := r.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(recordAD+key))
	if err != nil {
		return fmt.Errorf("identity: record %s does not open (altered or moved)", key)
	}
	defer clear(plain)
	return json.Unmarshal(plain, v)
}

func (r *Register) residentKey(nn string) string { return pResident + r.ix("resident", nn) }
func (r *Register) cardKey(fp string) string     { return pCard + r.ix("card", fp) }

// CardFingerprint returns the hex SHA-256 of a certificate's DER, which
// names a card in the register.
func CardFingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// PutResident creates or replaces a resident (by national number), keeping
// the secrets it already had when res has none (password, TOTP, passkeys),
// so that a new import of the population register does not reset them. It
// reports whether the resident is new.
func (r *Register) PutResident(ctx context.Context, res *Resident) (created bool, err error) {
	if err := res.Validate(); err != nil {
		return false, err
	}
	for i := range res.Cards {
		res.Cards[i].Fingerprint = CardFingerprint(res.Cards[i].Certificate)
	}
	err = r.meta.Update(ctx, func(tx meta.Tx) error {
		next := *res
		var old Resident
		err := r.get(tx, r.residentKey(res.NationalNumber), &old)
		switch {
		case errors.Is(err, ErrNotFound):
			created = true
			next.Created = r.now().UTC()
		case err != nil:
			return err
		default:
			created = false
			next.Created = old.Created
			if next.PasswordHash == "" {
				next.PasswordHash = old.PasswordHash
			}
			if next.TOTPSecret == nil {
				next.TOTPSecret, next.TOTPLastStep = old.TOTPSecret, old.TOTPLastStep
			}
			if next.Passkeys == nil {
				next.Passkeys, next.WebAuthnID = old.Passkeys, old.WebAuthnID
			}
			if next.Activation == nil {
				next.Activation, next.ActivationExpires = old.Activation, old.ActivationExpires
			}
			// A card the register no longer lists stays known, revoked:
			// its holder must not log in with it.
			for _, c := range old.Cards {
				if !slices.ContainsFunc(next.Cards, func(n Card) bool { return n.Fingerprint == c.Fingerprint }) {
					if !c.Revoked {
						c.Revoked, c.RevokedAt = true, r.now().UTC()
					}
					next.Cards = append(next.Cards, c)
				}
			}
		}
		return r.write(tx, &next)
	})
	return created, err
}

// write stores a resident and its card index.
func (r *Register) write(tx meta.Tx, res *Resident) error {
	res.Updated = r.now().UTC()
	if len(res.WebAuthnID) == 0 {
		res.WebAuthnID = make([]byte, 32)
		rand.Read(res.WebAuthnID)
	}
	for _, c := range res.Cards {
		if err := r.put(tx, r.cardKey(c.Fingerprint), res.NationalNumber); err != nil {
			return err
		}
	}
	return r.put(tx, r.residentKey(res.NationalNumber), res)
}

// Resident returns the resident of a national number.
func (r *Register) Resident(ctx context.Context, nn string) (*Resident, error) {
	var res Resident
	err := r.meta.View(ctx, func(tx meta.Tx) error { return r.get(tx, r.residentKey(nn), &res) })
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// ResidentByCard returns the holder of the card whose certificate has the
// given fingerprint, and the card.
func (r *Register) ResidentByCard(ctx context.Context, fingerprint string) (*Resident, *Card, error) {
	var res Resident
	err := r.meta.View(ctx, func(tx meta.Tx) error {
		var nn string
		if err := r.get(tx, r.cardKey(fingerprint), &nn); err != nil {
			return err
		}
		return r.get(tx, r.residentKey(nn), &res)
	})
	if err != nil {
		return nil, nil, err
	}
	for i := range res.Cards {
		if res.Cards[i].Fingerprint == fingerprint {
			return &res, &res.Cards[i], nil
		}
	}
	return nil, nil, ErrNotFound
}

// UpdateResident changes a resident in one transaction.
func (r *Register) UpdateResident(ctx context.Context, nn string, fn func(*Resident) error) error {
	return r.meta.Update(ctx, func(tx meta.Tx) error {
		var res Resident
		if err := r.get(tx, r.residentKey(nn), &res); err != nil {
			return err
		}
		if err := fn(&res); err != nil {
			return err
		}
		return r.write(tx, &res)
	})
}

// RevokeCard marks a card revoked, whoever holds it.
func (r *Register) RevokeCard(ctx context.Context, fingerprint string) (nn string, err error) {
	err = r.meta.Update(ctx, func(tx meta.Tx) error {
		if err := r.get(tx, r.cardKey(fingerprint), &nn); err != nil {
			return err
		}
		var res Resident
		if err := r.get(tx, r.residentKey(nn), &res); err != nil {
			return err
		}
		for i := range res.Cards {
			if res.Cards[i].Fingerprint == fingerprint && !res.Cards[i].Revoked {
				res.Cards[i].Revoked, res.Cards[i].RevokedAt = true, r.now().UTC()
			}
		}
		return r.write(tx, &res)
	})
	return nn, err
}

// ActivationTTL is how long an activation code is valid when
// NewActivationCode is given no lifetime: the time a letter takes to
// arrive, and a few days more.
const ActivationTTL = 7 * 24 * time.Hour

// activationAlphabet has 32 symbols (5 bits each) without 0, 1, I and O,
// which are read one for the other on paper.
const activationAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// NewActivationCode gives a resident a new activation code, replacing any
// earlier one, and returns it: ten symbols (50 bits) written in two groups,
// e.g. "7KQ2M-XW9DA", for the operator to send out of band (a letter).
// With the password, it lets the resident enroll a passkey, once, within
// ttl (ActivationTTL when ttl <= 0). The register keeps only its SHA-256.
func (r *Register) NewActivationCode(ctx context.Context, nn string, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		ttl = ActivationTTL
	}
	b := make([]byte, 10)
	rand.Read(b)
	code := make([]byte, 0, 11)
	for i, x := range b {
		if i == 5 {
			code = append(code, '-')
		}
		code = append(code, activationAlphabet[x&31])
	}
	err := r.UpdateResident(ctx, nn, func(res *Resident) error {
		res.Activation = ActivationCodeHash(string(code))
		res.ActivationExpires = r.now().Add(ttl).UTC()
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("activation code for resident %s: %w", r.Ref(nn), err)
	}
	return string(code), nil
}

// ActivationCodeHash returns the hash an activation code is kept and
// compared under: the SHA-256 of the code in upper case, without the
// spaces and dashes a resident may type.
func ActivationCodeHash(code string) []byte {
	norm := make([]byte, 0, len(code))
	for _, c := range []byte(code) {
		switch {
		case c == ' ' || c == '-' || c == '\t':
		case 'a' <= c && c <= 'z':
			norm = append(norm, c-'a'+'A')
		default:
			norm = append(norm, c)
		}
	}
	h := sha256.Sum256(norm)
	return h[:]
}

// ActivationPending reports whether the resident has an activation code
// still valid at now.
func (r *Resident) ActivationPending(now time.Time) bool {
	return len(r.Activation) == sha256.Size && now.Before(r.ActivationExpires)
}

// CheckActivationCode reports whether code is the resident's activation
// code, still valid at now; the hashes are compared in constant time.
func (r *Resident) CheckActivationCode(code string, now time.Time) bool {
	return r.ActivationPending(now) && hmac.Equal(ActivationCodeHash(code), r.Activation)
}

// CountResidents returns how many residents the register holds.
func (r *Register) CountResidents(ctx context.Context) (int, error) {
	n := 0
	err := r.meta.View(ctx, func(tx meta.Tx) error {
		n = 0
		return tx.Scan([]byte(pResident), meta.PrefixEnd([]byte(pResident)), func(_, _ []byte) (bool, error) {
			n++
			return true, nil
		})
	})
	return n, err
}

// PutClient registers or replaces a client.
func (r *Register) PutClient(ctx context.Context, c *Client) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return r.meta.Update(ctx, func(tx meta.Tx) error {
		var old Client
		switch err := r.get(tx, pClient+c.ID, &old); {
		case err == nil:
			c.Created = old.Created
		case errors.Is(err, ErrNotFound):
			c.Created = r.now().UTC()
		default:
			return err
		}
		return r.put(tx, pClient+c.ID, c)
	})
}

// Client returns a registered client.
func (r *Register) Client(ctx context.Context, id string) (*Client, error) {
	var c Client
	err := r.meta.View(ctx, func(tx meta.Tx) error { return r.get(tx, pClient+id, &c) })
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Clients returns every registered client, by ID.
func (r *Register) Clients(ctx context.Context) ([]*Client, error) {
	var cs []*Client
	err := r.meta.View(ctx, func(tx meta.Tx) error {
		cs = cs[:0]
		return tx.Scan([]byte(pClient), meta.PrefixEnd([]byte(pClient)), func(k, v []byte) (bool, error) {
			var c Client
			if err := r.open(string(k), v, &c); err != nil {
				return false, err
			}
			cs = append(cs, &c)
			return len(cs) < maxRecords, nil
		})
	})
	return cs, err
}

// UpdateClient changes a client in one transaction.
func (r *Register) UpdateClient(ctx context.Context, id string, fn func(*Client) error) error {
	return r.meta.Update(ctx, func(tx meta.Tx) error {
		var c Client
		if err := r.get(tx, pClient+id, &c); err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			return err
		}
		return r.put(tx, pClient+id, &c)
	})
}

// PutAgent records that a resident acts for a tenant with roles; no roles
// removes the agent.
func (r *Register) PutAgent(ctx context.Context, a *Agent) error {
	if a.Tenant == "" {
		return fmt.Errorf("%w: agent: tenant is required", ErrInvalid)
	}
	for _, role := range a.Roles {
		if !slices.Contains(AgentRoles, role) {
			return fmt.Errorf("%w: agent: unknown role %q (roles: %s)", ErrInvalid, role, strings.Join(AgentRoles, ", "))
		}
	}
	return r.meta.Update(ctx, func(tx meta.Tx) error {
		if err := r.get(tx, r.residentKey(a.NationalNumber), &Resident{}); err != nil {
			return fmt.Errorf("agent of tenant %s: resident: %w", a.Tenant, err)
		}
		key := pAgent + r.ix("resident", a.NationalNumber) + "/" + a.Tenant
		if len(a.Roles) == 0 {
			return tx.Delete([]byte(key))
		}
		return r.put(tx, key, a)
	})
}

// Agents returns the tenants a resident acts for.
func (r *Register) Agents(ctx context.Context, nn string) ([]Agent, error) {
	var as []Agent
	pre := []byte(pAgent + r.ix("resident", nn) + "/")
	err := r.meta.View(ctx, func(tx meta.Tx) error {
		as = as[:0]
		return tx.Scan(pre, meta.PrefixEnd(pre), func(k, v []byte) (bool, error) {
			var a Agent
			if err := r.open(string(k), v, &a); err != nil {
				return false, err
			}
			as = append(as, a)
			return true, nil
		})
	})
	return as, err
}

// NewID returns a random identifier of 32 base-16 digits.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// PutGrant stores a new grant, and the subject index that finds the
// resident of a pairwise sub (SubjectOf).
func (r *Register) PutGrant(ctx context.Context, g *Grant) error {
	if g.ID == "" {
		g.ID = NewID()
	}
	g.Created = r.now().UTC()
	return r.meta.Update(ctx, func(tx meta.Tx) error {
		if err := r.put(tx, pSubject+r.ix("subject", g.Sub), g.NationalNumber); err != nil {
			return err
		}
		return r.put(tx, pGrant+g.ID, g)
	})
}

// SubjectOf returns the national number behind a pairwise sub that the
// provider gave a client (in a grant).
func (r *Register) SubjectOf(ctx context.Context, sub string) (string, error) {
	var nn string
	err := r.meta.View(ctx, func(tx meta.Tx) error { return r.get(tx, pSubject+r.ix("subject", sub), &nn) })
	return nn, err
}

// Grant returns a grant.
func (r *Register) Grant(ctx context.Context, id string) (*Grant, error) {
	var g Grant
	err := r.meta.View(ctx, func(tx meta.Tx) error { return r.get(tx, pGrant+id, &g) })
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// GrantWith returns a grant with its client and resident, read in one
// transaction (userinfo needs the three on every call).
func (r *Register) GrantWith(ctx context.Context, id string) (*Grant, *Client, *Resident, error) {
	var g Grant
	var c Client
	var res Resident
	err := r.meta.View(ctx, func(tx meta.Tx) error {
		if err := r.get(tx, pGrant+id, &g); err != nil {
			return err
		}
		if err := r.get(tx, pClient+g.ClientID, &c); err != nil {
			return err
		}
		return r.get(tx, r.residentKey(g.NationalNumber), &res)
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return &g, &c, &res, nil
}

// UpdateGrant changes a grant in one transaction; fn sees the stored grant.
func (r *Register) UpdateGrant(ctx context.Context, id string, fn func(*Grant) error) error {
	return r.meta.Update(ctx, func(tx meta.Tx) error {
		var g Grant
		if err := r.get(tx, pGrant+id, &g); err != nil {
			return err
		}
		if err := fn(&g); err != nil {
			return err
		}
		return r.put(tx, pGrant+id, &g)
	})
}

// PruneGrants deletes grants that expired before now, and returns how many.
func (r *Register) PruneGrants(ctx context.Context, now time.Time) (int, error) {
	var dead [][]byte
	err := r.meta.View(ctx, func(tx meta.Tx) error {
		dead = dead[:0]
		return tx.Scan([]byte(pGrant), meta.PrefixEnd([]byte(pGrant)), func(k, v []byte) (bool, error) {
			var g Grant
			if err := r.open(string(k), v, &g); err != nil {
				return false, err
			}
			if now.After(g.Expires) {
				dead = append(dead, append([]byte(nil), k...))
			}
			return len(dead) < 10000, nil
		})
	})
	if err != nil || len(dead) == 0 {
		return 0, err
	}
	return len(dead), r.meta.Update(ctx, func(tx meta.Tx) error {
		for _, k := range dead {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// SigningKey names a token-signing key of the provider, held by the key
// store under Name; the register keeps when it was made and retired.
type SigningKey struct {
	Name    string    `json:"name"`
	KID     string    `json:"kid"`
	Created time.Time `json:"created"`
	// Retired is when a newer key replaced it; its public key stays
	// published until every token it signed has expired.
	Retired time.Time `json:"retired,omitzero"`
}

const pSigningKey = "I/s/"

// SigningKeys returns the provider's signing keys, oldest first.
func (r *Register) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	var ks []SigningKey
	err := r.meta.View(ctx, func(tx meta.Tx) error {
		ks = ks[:0]
		return tx.Scan([]byte(pSigningKey), meta.PrefixEnd([]byte(pSigningKey)), func(k, v []byte) (bool, error) {
			var s SigningKey
			if err := r.open(string(k), v, &s); err != nil {
				return false, err
			}
			ks = append(ks, s)
			return true, nil
		})
	})
	slices.SortFunc(ks, func(a, b SigningKey) int { return a.Created.Compare(b.Created) })
	return ks, err
}

// AddSigningKey records a new current signing key, retiring the others.
func (r *Register) AddSigningKey(ctx context.Context, k SigningKey) error {
	return r.meta.Update(ctx, func(tx meta.Tx) error {
		var old []SigningKey
		err := tx.Scan([]byte(pSigningKey), meta.PrefixEnd([]byte(pSigningKey)), func(key, v []byte) (bool, error) {
			var s SigningKey
			if err := r.open(string(key), v, &s); err != nil {
				return false, err
			}
			old = append(old, s)
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, s := range old {
			if s.Retired.IsZero() {
				s.Retired = k.Created
				if err := r.put(tx, pSigningKey+s.KID, s); err != nil {
					return err
				}
			}
		}
		return r.put(tx, pSigningKey+k.KID, k)
	})
}

// Ref names a resident in events and logs without their national number:
// the keyed hash that names their record.
func (r *Register) Ref(nn string) string { return r.ix("resident", nn)[:16] }
