package sts_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/identity"
	"github.com/coffre-cloud/coffre/identity/op"
	"github.com/coffre-cloud/coffre/identity/sts"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/meta/sqlite"
)

const (
	nn     = "1000000001" // the agent
	issuer = "http://127.0.0.1:9100"
)

// tokens is a Verifier that knows the tokens the test made up: a token is
// its own name, "expired" and "garbage" fail as the provider would.
type tokens struct {
	mu sync.Mutex
	m  map[string]*op.IDToken
}

func (v *tokens) VerifyIDToken(_ context.Context, tok string) (*op.IDToken, error) {
	switch tok {
	case "expired":
		return nil, fmt.Errorf("%w at 2026-01-01T00:00:00Z", op.ErrIDTokenExpired)
	case "garbage":
		return nil, fmt.Errorf("%w: not a signed JWT", op.ErrIDTokenInvalid)
	case "register-down":
		return nil, errors.New("finding the resident of an id_token: the metadata store is unavailable")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.m[tok]
	if !ok {
		return nil, fmt.Errorf("%w: signed by a key this provider does not publish", op.ErrIDTokenInvalid)
	}
	return t, nil
}

// add makes a token of client for the agent, with a fresh jti.
func (v *tokens) add(name, client string, exp time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.m[name] = &op.IDToken{Subject: "sub-of-" + client, Client: client, JTI: "jti-" + name, ACR: "eidas2", Expires: exp, NationalNumber: nn}
}

type env struct {
	reg  *identity.Register
	toks *tokens
	now  time.Time
	x    *sts.Exchanger
	ctx  context.Context
}

func newEnv(t *testing.T, maxLive int) *env {
	t.Helper()
	ctx := context.Background()
	m, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	reg, err := identity.Open(ctx, m, testenv.Keyring(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PutResident(ctx, &identity.Resident{NationalNumber: nn, GivenName: "Louise", FamilyName: "Gastaud", Birthdate: "1990-04-12", Gender: "female"}); err != nil {
		t.Fatal(err)
	}
	if err := reg.PutAgent(ctx, &identity.Agent{NationalNumber: nn, Tenant: "ministry", Roles: []string{"reader", "writer"}}); err != nil {
		t.Fatal(err)
	}
	client := func(id string, stsOK, revoked bool) {
		c := &identity.Client{ID: id, RedirectURIs: []string{"https://" + id + ".example/cb"}, JWKS: []byte(`{"keys":[]}`), Strict: true, STS: stsOK, Revoked: revoked}
		if err := reg.PutClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	client("agents-app", true, false)
	client("login-only", false, false)
	client("revoked-app", true, true)
	e := &env{reg: reg, toks: &tokens{m: map[string]*op.IDToken{}}, now: time.Now(), ctx: ctx}
	e.x = sts.New(sts.Config{Verifier: e.toks, Register: reg, Issuer: issuer, MaxLive: maxLive, Now: func() time.Time { return e.now }})
	return e
}

func TestAssumeRole(t *testing.T) {
	e := newEnv(t, 0)
	exp := e.now.Add(5 * time.Minute)
	e.toks.add("good", "agents-app", exp)
	g, err := e.x.AssumeRole(e.ctx, "good", "ministry", "writer")
	if err != nil {
		t.Fatalf("AssumeRole(an agent's token, its tenant, its role) = %v, want nil", err)
	}
	want := sts.Grant{Subject: "sub-of-agents-app", Client: "agents-app", Issuer: issuer, ACR: "eidas2", Expires: exp, Ref: e.reg.Ref(nn)}
	if g != want {
		t.Fatalf("Grant = %+v, want %+v", g, want)
	}
	if _, err := e.x.AssumeRole(e.ctx, "good", "ministry", "writer"); !errors.Is(err, sts.ErrInvalidToken) || !strings.Contains(err.Error(), "already exchanged") {
		t.Fatalf("the same token again = %v, want ErrInvalidToken (already exchanged)", err)
	}
}

func TestAssumeRoleRefused(t *testing.T) {
	e := newEnv(t, 0)
	exp := e.now.Add(5 * time.Minute)
	e.toks.add("login-only", "login-only", exp)
	e.toks.add("revoked", "revoked-app", exp)
	e.toks.add("unknown-client", "nobody", exp)
	e.toks.add("no-jti", "agents-app", exp)
	e.toks.m["no-jti"].JTI = ""
	e.toks.add("late", "agents-app", e.now.Add(-time.Second)) // the verifier's clock is behind ours
	for _, name := range []string{"other-tenant", "other-role", "owner-role"} {
		e.toks.add(name, "agents-app", exp)
	}
	for _, c := range []struct {
		token, tenant, role string
		want                error
		ref                 bool // the grant names the resident
	}{
		{"expired", "ministry", "reader", sts.ErrExpiredToken, false},
		{"garbage", "ministry", "reader", sts.ErrInvalidToken, false},
		{"foreign", "ministry", "reader", sts.ErrInvalidToken, false},
		{"register-down", "ministry", "reader", sts.ErrUnavailable, false},
		{"login-only", "ministry", "reader", sts.ErrInvalidToken, true},
		{"revoked", "ministry", "reader", sts.ErrRejectedClaim, true},
		{"unknown-client", "ministry", "reader", sts.ErrInvalidToken, true},
		{"no-jti", "ministry", "reader", sts.ErrInvalidToken, true},
		{"late", "ministry", "reader", sts.ErrExpiredToken, true},
		{"other-tenant", "treasury", "reader", sts.ErrDenied, true},
		{"other-role", "ministry", "admin", sts.ErrDenied, true},
		{"owner-role", "ministry", "owner", sts.ErrDenied, true},
	} {
		t.Run("token="+c.token, func(t *testing.T) {
			g, err := e.x.AssumeRole(e.ctx, c.token, c.tenant, c.role)
			if !errors.Is(err, c.want) {
				t.Fatalf("AssumeRole = %v, want %v", err, c.want)
			}
			var r *sts.Refusal
			if !errors.As(err, &r) || r.Reason == "" {
				t.Fatalf("AssumeRole = %#v, want a *Refusal with a reason", err)
			}
			if strings.Contains(err.Error(), nn) {
				t.Fatalf("the refusal %q carries the national number", err)
			}
			if got := g.Ref == e.reg.Ref(nn); got != c.ref {
				t.Fatalf("Grant %+v names the resident: %v, want %v", g, got, c.ref)
			}
		})
	}
	// A refused exchange spent the token: it cannot be retried, even for
	// what the agent may have.
	if _, err := e.x.AssumeRole(e.ctx, "other-role", "ministry", "reader"); !errors.Is(err, sts.ErrInvalidToken) {
		t.Fatalf("a token refused once, again with an allowed role = %v, want ErrInvalidToken (spent)", err)
	}
	// A token of a client without STS was not spent: the refusal came
	// before.
	if err := e.reg.UpdateClient(e.ctx, "login-only", func(c *identity.Client) error { c.STS = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.x.AssumeRole(e.ctx, "login-only", "ministry", "reader"); err != nil {
		t.Fatalf("the token of a client allowed STS since = %v, want nil", err)
	}
}

// TestReplaySetBounded: a full replay set refuses (ErrUnavailable) rather
// than forgets, and frees its entries as their tokens expire.
func TestReplaySetBounded(t *testing.T) {
	e := newEnv(t, 1)
	e.toks.add("first", "agents-app", e.now.Add(time.Minute))
	e.toks.add("second", "agents-app", e.now.Add(5*time.Minute))
	if _, err := e.x.AssumeRole(e.ctx, "first", "ministry", "reader"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.x.AssumeRole(e.ctx, "second", "ministry", "reader"); !errors.Is(err, sts.ErrUnavailable) {
		t.Fatalf("a second token with a replay set of 1 = %v, want ErrUnavailable", err)
	}
	e.now = e.now.Add(2 * time.Minute)
	if _, err := e.x.AssumeRole(e.ctx, "second", "ministry", "reader"); err != nil {
		t.Fatalf("the second token once the first expired = %v, want nil", err)
	}
}
