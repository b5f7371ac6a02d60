package vault_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/meta"
	"github.com/coffre-cloud/coffre/vault"
)

// clock is a settable clock for a vault.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sessionEnv is a vault with tenant "ministry", on a clock the test moves,
// and its metadata store, which the test edits behind the vault's back.
type sessionEnv struct {
	v     *vault.Vault
	m     meta.Store
	clock *clock
	ctx   context.Context
}

func newSessionEnv(t *testing.T) *sessionEnv {
	t.Helper()
	c := &clock{t: time.Now()}
	e := newEnvWith(t, func(cfg *vault.Config) { cfg.Now = c.Now })
	return &sessionEnv{v: e.v, m: e.cfg.Meta, clock: c, ctx: e.ctx}
}

func (e *sessionEnv) temporary(t *testing.T, role vault.Role, d time.Duration) (vault.AccessKey, string) {
	t.Helper()
	k, token, err := e.v.CreateTemporaryKey(e.ctx, "ministry", role, d, "ref-of-agent")
	if err != nil {
		t.Fatalf("CreateTemporaryKey(%s, %v): %v", role, d, err)
	}
	return k, token
}

func TestTemporaryKey(t *testing.T) {
	e := newSessionEnv(t)
	start := e.clock.Now()
	k, token := e.temporary(t, vault.RoleWriter, time.Hour)
	if len(token) < 43 || k.Secret == "" || !strings.HasPrefix(k.ID, "CT") {
		t.Fatalf("CreateTemporaryKey = id %q, secret %d chars, token %d chars: want a CT id, a secret and a token of 32 random bytes", k.ID, len(k.Secret), len(token))
	}
	if want := start.Add(time.Hour).Truncate(time.Second); !k.Expires.Equal(want) {
		t.Errorf("Expires = %v, want %v", k.Expires, want)
	}
	got, err := e.v.LookupKey(e.ctx, k.ID)
	if err != nil {
		t.Fatalf("LookupKey: %v", err)
	}
	if !got.Temporary() || got.Secret != k.Secret || got.Role != vault.RoleWriter || got.Tenant != "ministry" || got.Subject != "ref-of-agent" || !got.Expires.Equal(k.Expires) {
		t.Fatalf("LookupKey = %+v, want the temporary writer key of ministry", got)
	}
	if strings.Contains(string(mustJSON(t, got)), token) {
		t.Fatalf("the key record holds the session token itself")
	}

	for _, c := range []struct {
		name  string
		token string
		want  error
	}{
		{"token=own", token, nil},
		{"token=none", "", vault.ErrAccessDenied},
		{"token=other", token[:len(token)-1] + "x", vault.ErrInvalidToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := e.v.CheckSession(got, c.token); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Fatalf("CheckSession = %v, want %v", err, c.want)
			}
		})
	}
	e.clock.advance(time.Hour - time.Second)
	if err := e.v.CheckSession(got, token); err != nil {
		t.Fatalf("CheckSession a second before expiry = %v, want nil", err)
	}
	e.clock.advance(2 * time.Second)
	if err := e.v.CheckSession(got, token); !errors.Is(err, vault.ErrExpiredToken) {
		t.Fatalf("CheckSession after expiry = %v, want ErrExpiredToken", err)
	}
	if err := e.v.CheckSession(got, "wrong"); !errors.Is(err, vault.ErrInvalidToken) {
		t.Fatalf("CheckSession after expiry with a wrong token = %v, want ErrInvalidToken (the token is checked first)", err)
	}

	perm, err := e.v.CreateAccessKey(e.ctx, "ministry")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.v.CheckSession(perm, ""); err != nil {
		t.Errorf("CheckSession(permanent key, no token) = %v, want nil", err)
	}
	if err := e.v.CheckSession(perm, token); !errors.Is(err, vault.ErrInvalidToken) {
		t.Errorf("CheckSession(permanent key, a token) = %v, want ErrInvalidToken", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTemporaryKeyRefused(t *testing.T) {
	e := newSessionEnv(t)
	for _, c := range []struct {
		name   string
		tenant string
		role   vault.Role
		d      time.Duration
		want   error
	}{
		{"role=none", "ministry", "", time.Hour, vault.ErrInvalidArgument},
		{"role=owner", "ministry", "owner", time.Hour, vault.ErrInvalidArgument},
		{"duration=14m59s", "ministry", vault.RoleReader, 15*time.Minute - time.Second, vault.ErrInvalidArgument},
		{"duration=12h1s", "ministry", vault.RoleReader, 12*time.Hour + time.Second, vault.ErrInvalidArgument},
		{"tenant=unknown", "nobody", vault.RoleReader, time.Hour, vault.ErrNoSuchTenant},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := e.v.CreateTemporaryKey(e.ctx, c.tenant, c.role, c.d, ""); !errors.Is(err, c.want) {
				t.Fatalf("CreateTemporaryKey = %v, want %v", err, c.want)
			}
		})
	}
	for _, d := range []time.Duration{vault.MinSessionDuration, vault.MaxSessionDuration} {
		if _, _, err := e.v.CreateTemporaryKey(e.ctx, "ministry", vault.RoleAdmin, d, ""); err != nil {
			t.Errorf("CreateTemporaryKey for %v = %v, want a key", d, err)
		}
	}
}

// TestTemporaryKeySealBindsLimits edits a temporary key's record in the
// metadata store (role raised, expiry pushed back, made permanent): its
// secret no longer opens, so the edited key authenticates nothing.
func TestTemporaryKeySealBindsLimits(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(rec map[string]any)
	}{
		{"role=admin", func(rec map[string]any) { rec["role"] = "admin" }},
		{"expires=later", func(rec map[string]any) { rec["expires"] = time.Now().Add(1000 * time.Hour).UTC().Format(time.RFC3339) }},
		{"subject=other", func(rec map[string]any) { rec["subject"] = "someone else" }},
		{"permanent", func(rec map[string]any) { delete(rec, "role"); delete(rec, "expires"); delete(rec, "session") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newSessionEnv(t)
			k, _ := e.temporary(t, vault.RoleReader, time.Hour)
			err := e.m.Update(e.ctx, func(tx meta.Tx) error {
				b, err := tx.Get([]byte("k/" + k.ID))
				if err != nil {
					return err
				}
				var rec map[string]any
				if err := json.Unmarshal(b, &rec); err != nil {
					return err
				}
				c.edit(rec)
				return tx.Put([]byte("k/"+k.ID), mustJSON(t, rec))
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := e.v.LookupKey(e.ctx, k.ID); !errors.Is(err, vault.ErrIntegrity) {
				t.Fatalf("LookupKey of the edited record = %+v, %v; want ErrIntegrity", got, err)
			}
		})
	}
}

func TestExpireTemporaryKeys(t *testing.T) {
	e := newSessionEnv(t)
	short, _ := e.temporary(t, vault.RoleReader, 15*time.Minute)
	long, longToken := e.temporary(t, vault.RoleReader, time.Hour)
	perm, err := e.v.CreateAccessKey(e.ctx, "ministry")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.v.ExpireTemporaryKeys(e.ctx); err != nil || n != 0 {
		t.Fatalf("ExpireTemporaryKeys before any expiry = %d, %v; want 0", n, err)
	}
	e.clock.advance(30 * time.Minute)
	if n, err := e.v.ExpireTemporaryKeys(e.ctx); err != nil || n != 1 {
		t.Fatalf("ExpireTemporaryKeys after 30 min = %d, %v; want 1", n, err)
	}
	if _, err := e.v.LookupKey(e.ctx, short.ID); !errors.Is(err, vault.ErrInvalidAccessKeyID) {
		t.Errorf("LookupKey(expired) = %v, want ErrInvalidAccessKeyID", err)
	}
	k, err := e.v.LookupKey(e.ctx, long.ID)
	if err != nil {
		t.Fatalf("LookupKey(the key of one hour) = %v", err)
	}
	if err := e.v.CheckSession(k, longToken); err != nil {
		t.Errorf("CheckSession(the key of one hour) after 30 min = %v", err)
	}
	if _, err := e.v.LookupKey(e.ctx, perm.ID); err != nil {
		t.Errorf("LookupKey(permanent) = %v", err)
	}

	// The janitor does it too.
	e.clock.advance(time.Hour)
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.v.Run(ctx, vault.JanitorConfig{Interval: 10 * time.Millisecond}) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := e.v.LookupKey(e.ctx, long.ID)
		if errors.Is(err, vault.ErrInvalidAccessKeyID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the janitor did not delete the expired key within 10 s (LookupKey: %v)", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := e.v.LookupKey(e.ctx, perm.ID); err != nil {
		t.Errorf("LookupKey(permanent) after the janitor = %v", err)
	}
}

// TestTemporaryKeyRotation: rotating and rewrapping the tenant key reseals
// a temporary key and keeps it temporary, with its role, expiry and token.
func TestTemporaryKeyRotation(t *testing.T) {
	e := newSessionEnv(t)
	k, token := e.temporary(t, vault.RoleReader, time.Hour)
	gone, _ := e.temporary(t, vault.RoleReader, time.Hour)
	if err := e.v.DeleteAccessKey(e.ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.v.RotateTenantKey(e.ctx, "ministry"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.v.RewrapTenant(e.ctx, "ministry", nil); err != nil {
		t.Fatal(err)
	}
	got, err := e.v.LookupKey(e.ctx, k.ID)
	if err != nil {
		t.Fatalf("LookupKey after the rewrap: %v", err)
	}
	if got.KEK == k.KEK || !got.Temporary() || got.Role != vault.RoleReader || !got.Expires.Equal(k.Expires) || got.Secret != k.Secret {
		t.Fatalf("after the rewrap: %+v (KEK %d before); want the same temporary reader key under the new KEK", got, k.KEK)
	}
	if err := e.v.CheckSession(got, token); err != nil {
		t.Fatalf("CheckSession after the rewrap = %v", err)
	}
	if _, err := e.v.LookupKey(e.ctx, gone.ID); !errors.Is(err, vault.ErrInvalidAccessKeyID) {
		t.Fatalf("a deleted key after the rewrap: %v, want ErrInvalidAccessKeyID", err)
	}
}
