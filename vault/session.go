package vault

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/coffre-cloud/coffre/meta"
)

// Role is what a temporary key may do in its tenant. The vault records it
// with the key; s3api, which names every S3 operation, enforces it on each
// request (s3api/roles.go says what each role may do).
type Role string

// The roles of temporary keys.
const (
	RoleReader Role = "reader" // read objects and list
	RoleWriter Role = "writer" // reader, and write and delete objects
	RoleAdmin  Role = "admin"  // everything the tenant's own keys can do
)

// Valid reports whether r is one of the roles above.
func (r Role) Valid() bool { return r == RoleReader || r == RoleWriter || r == RoleAdmin }

// Bounds of a temporary key's lifetime: those of AWS STS, whose clients
// (aws cli, SDKs) check DurationSeconds against them. Twelve hours at most,
// whatever the caller asks: a temporary key outlives the agent's mandate by
// no more than that, since nothing revokes it earlier except deleting it
// (coffre key delete).
const (
	MinSessionDuration = 15 * time.Minute
	MaxSessionDuration = 12 * time.Hour
)

// Errors of temporary keys, mapped by s3api to the S3 codes in their
// comments.
var (
	// ErrExpiredToken: a temporary key past its expiry. S3: ExpiredToken, 400.
	ErrExpiredToken = errors.New("the provided token has expired")
	// ErrInvalidToken: a session token that is not the key's, or one sent
	// with a permanent key. S3: InvalidToken, 400.
	ErrInvalidToken = errors.New("the provided token is malformed or otherwise invalid")
)

// sessionTokenBytes is the entropy of a session token.
const sessionTokenBytes = 32

// CreateTemporaryKey makes a temporary access key of a tenant with a role,
// valid for d (MinSessionDuration to MaxSessionDuration) from now, for
// subject (who it is issued to, as audit logs name them). It returns the key
// with its secret, and its session token, which the vault keeps only as a
// hash: neither can be read again. The janitor (Run) deletes the key once it
// has expired.
func (v *Vault) CreateTemporaryKey(ctx context.Context, tenant string, role Role, d time.Duration, subject string) (AccessKey, string, error) {
	if !role.Valid() {
		return AccessKey{}, "", fmt.Errorf("%w: role %q: want reader, writer or admin", ErrInvalidArgument, role)
	}
	if d < MinSessionDuration || d > MaxSessionDuration {
		return AccessKey{}, "", fmt.Errorf("%w: a temporary key lasts %v to %v, not %v", ErrInvalidArgument, MinSessionDuration, MaxSessionDuration, d)
	}
	b := make([]byte, sessionTokenBytes)
	rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(token))
	now := v.now().UTC()
	k := AccessKey{
		ID:          "CT" + randomString(18, accessKeyAlphabet),
		Secret:      randomString(40, secretAlphabet),
		Tenant:      tenant,
		Created:     now,
		SessionHash: h[:],
		Expires:     now.Add(d).Truncate(time.Second),
		Role:        role,
		Subject:     subject,
	}
	k, err := v.storeKey(ctx, k, false)
	if err != nil {
		return AccessKey{}, "", err
	}
	return k, token, nil
}

// CheckSession checks the session token that a request signed with k
// presented ("" when none): a temporary key needs its own token and must not
// have expired; a permanent key takes none. The errors are ErrAccessDenied
// (no token), ErrInvalidToken and ErrExpiredToken.
func (v *Vault) CheckSession(k AccessKey, token string) error {
	if !k.Temporary() {
		if token != "" {
			return fmt.Errorf("%w: access key %s is not temporary: send no session token with it", ErrInvalidToken, k.ID)
		}
		return nil
	}
	if token == "" {
		return fmt.Errorf("%w: access key %s is temporary: its requests need its session token (X-Amz-Security-Token)", ErrAccessDenied, k.ID)
	}
	h := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(h[:], k.SessionHash) != 1 {
		return fmt.Errorf("%w: the session token is not that of access key %s", ErrInvalidToken, k.ID)
	}
	if !v.now().Before(k.Expires) {
		return fmt.Errorf("%w: access key %s expired at %s; ask STS for new credentials", ErrExpiredToken, k.ID, k.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// ExpireTemporaryKeys deletes the temporary keys that have expired, and
// returns how many.
func (v *Vault) ExpireTemporaryKeys(ctx context.Context) (int, error) {
	const batch = 1000
	total := 0
	for {
		now := v.now()
		var ids []string
		err := v.view(ctx, func(tx meta.Tx) error {
			ids = ids[:0]
			p := []byte(pAccess)
			return tx.Scan(p, meta.PrefixEnd(p), func(_, val []byte) (bool, error) {
				var k AccessKey
				if err := decode(val, &k); err != nil {
					return false, err
				}
				if k.Temporary() && !now.Before(k.Expires) {
					ids = append(ids, k.ID)
				}
				return len(ids) < batch, nil
			})
		})
		if err != nil || len(ids) == 0 {
			return total, err
		}
		err = v.update(ctx, func(tx meta.Tx) error {
			for _, id := range ids {
				if err := tx.Delete(kAccess(id)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(ids)
		if len(ids) < batch {
			return total, nil
		}
	}
}
