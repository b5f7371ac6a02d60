// Package sts is the identity side of the vault's S3 STS: it decides
// whether an id_token of the provider may become temporary S3 credentials
// of a tenant with a role (AssumeRoleWithWebIdentity, served by s3api on the
// S3 port). s3api speaks the protocol and makes the vault's temporary key;
// cmd/coffre connects the two, which never import each other.
//
// An exchange is allowed when the token is an id_token of this provider,
// signed by one of its published keys and not expired (op.VerifyIDToken);
// it was issued to a client registered for STS (identity.Client.STS), not
// revoked; it was never exchanged before (its jti, kept until the token's
// exp); and the resident it names is an agent of the tenant with the role
// (identity.Agent). A token is spent by its first exchange that gets past
// the client check, whatever the outcome, so that a stolen token cannot be
// used to probe an agent's tenants and roles.
//
// The replay set lives in memory: a site of several gateway nodes would
// let a token be exchanged once per node, and a restart forgets the tokens
// spent (id_tokens live minutes). Errors never carry a national number.
package sts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/op"
	"github.com/coffre-cloud/coffre/identity/replay"
)

// Kinds of refusal; a Refusal unwraps to one of them.
var (
	// ErrInvalidToken: not an id_token of the provider, already exchanged,
	// without jti, or issued to a client that may not exchange its tokens.
	ErrInvalidToken = errors.New("invalid identity token")
	// ErrExpiredToken: an expired id_token.
	ErrExpiredToken = errors.New("expired identity token")
	// ErrRejectedClaim: the provider no longer stands by the token (its
	// client was revoked).
	ErrRejectedClaim = errors.New("identity claim rejected")
	// ErrDenied: the resident is not an agent of the tenant with the role.
	ErrDenied = errors.New("role denied")
	// ErrUnavailable: the register or the key store does not answer, or
	// the replay set is full; the exchange may be tried again later.
	ErrUnavailable = errors.New("identity provider unavailable")
)

// Refusal is an exchange refused: its kind (one of the errors above) and
// the reason, written for the person who asked.
type Refusal struct {
	Kind   error
	Reason string
}

func (r *Refusal) Error() string { return r.Kind.Error() + ": " + r.Reason }
func (r *Refusal) Unwrap() error { return r.Kind }

func refuse(kind error, format string, args ...any) *Refusal {
	return &Refusal{Kind: kind, Reason: fmt.Sprintf(format, args...)}
}

// Verifier checks id_tokens: *op.Provider.
type Verifier interface {
	VerifyIDToken(ctx context.Context, tok string) (*op.IDToken, error)
}

// Config is what an Exchanger is built from.
type Config struct {
	Verifier Verifier
	Register *identity.Register
	// Issuer is the provider's issuer, which answers name as the token's
	// provider.
	Issuer string
	// MaxLive bounds the tokens remembered as spent; 0: 100,000, enough
	// for 300 exchanges a second with 5-minute id_tokens. Full, the
	// exchanges are refused (ErrUnavailable) rather than forgotten.
	MaxLive int
	// Now is the clock of the replay set; nil: time.Now. It should be the
	// Verifier's.
	Now func() time.Time
}

// Exchanger decides exchanges. It is safe for concurrent use.
type Exchanger struct {
	verifier Verifier
	reg      *identity.Register
	issuer   string
	spent    *replay.Set
	now      func() time.Time
}

// New returns an Exchanger.
func New(c Config) *Exchanger {
	x := &Exchanger{verifier: c.Verifier, reg: c.Register, issuer: c.Issuer, now: c.Now}
	if x.now == nil {
		x.now = time.Now
	}
	n := c.MaxLive
	if n <= 0 {
		n = 100_000
	}
	x.spent = replay.New(n)
	return x
}

// Grant is what an exchange learned of the token, filled as far as the
// checks got.
type Grant struct {
	Subject string // the token's pairwise sub
	Client  string // its aud
	Issuer  string // the provider
	ACR     string
	Expires time.Time // the token's exp
	// Ref names the resident in logs (identity.Register.Ref).
	Ref string
}

// AssumeRole checks that token may be exchanged for credentials of tenant
// with role (see the package comment), and spends it. It returns the Grant,
// filled as far as the checks got even when it refuses; every error is a
// *Refusal.
func (x *Exchanger) AssumeRole(ctx context.Context, token, tenant, role string) (Grant, error) {
	g := Grant{Issuer: x.issuer}
	t, err := x.verifier.VerifyIDToken(ctx, token)
	switch {
	case errors.Is(err, op.ErrIDTokenExpired):
		return g, refuse(ErrExpiredToken, "%v; log in again for a new one", err)
	case errors.Is(err, op.ErrIDTokenInvalid):
		return g, refuse(ErrInvalidToken, "%v", err)
	case err != nil:
		return g, refuse(ErrUnavailable, "%v", err)
	}
	g.Subject, g.Client, g.ACR, g.Expires = t.Subject, t.Client, t.ACR, t.Expires
	g.Ref = x.reg.Ref(t.NationalNumber)
	c, err := x.reg.Client(ctx, t.Client)
	switch {
	case errors.Is(err, identity.ErrNotFound):
		return g, refuse(ErrInvalidToken, "incorrect token audience: %s is not a client of the provider", t.Client)
	case err != nil:
		return g, refuse(ErrUnavailable, "reading client %s: %v", t.Client, err)
	case c.Revoked:
		return g, refuse(ErrRejectedClaim, "client %s was revoked", t.Client)
	case !c.STS:
		return g, refuse(ErrInvalidToken, "incorrect token audience: the id_tokens of client %s may not be exchanged for S3 credentials (its operator can allow it: coffre identity client add --sts)", t.Client)
	case t.JTI == "":
		return g, refuse(ErrInvalidToken, "the id_token has no jti: it cannot be exchanged")
	}
	switch err := x.spent.UseAt(x.issuer+"\x00"+t.Client+"\x00"+t.JTI, t.Expires, x.now()); {
	case errors.Is(err, replay.ErrReplay):
		return g, refuse(ErrInvalidToken, "the id_token was already exchanged; log in again for a new one")
	case errors.Is(err, replay.ErrExpired):
		return g, refuse(ErrExpiredToken, "the id_token expired; log in again for a new one")
	case err != nil:
		return g, refuse(ErrUnavailable, "too many exchanges under way; try again in a few minutes")
	}
	agents, err := x.reg.Agents(ctx, t.NationalNumber)
	if err != nil {
		return g, refuse(ErrUnavailable, "reading the agents of the register: %v", err)
	}
	for _, a := range agents {
		if a.Tenant != tenant {
			continue
		}
		if slices.Contains(a.Roles, role) {
			return g, nil
		}
		return g, refuse(ErrDenied, "the resident acts for tenant %s with roles %s, not %s", tenant, strings.Join(a.Roles, ","), role)
	}
	return g, refuse(ErrDenied, "the resident is not an agent of tenant %s", tenant)
}
