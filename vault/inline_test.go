package vault_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/backend/fs"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/meta/sqlite"
	"github.com/coffre-cloud/coffre/vault"
)

const inlineMax = 4 << 10

// newInlineEnv is newEnv with objects of up to inlineMax bytes kept in the
// metadata store; dir is where its files are.
func newInlineEnv(t *testing.T) (e *env, dir string) {
	t.Helper()
	dir = t.TempDir()
	m, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	st, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	v := vault.New(vault.Config{Meta: m, Backend: st, Keys: testenv.Keyring(t), InlineMax: inlineMax})
	ctx := context.Background()
	if _, err := v.CreateTenant(ctx, "ministry"); err != nil {
		t.Fatal(err)
	}
	return &env{v: v, store: st, p: vault.Principal{Tenant: "ministry"}, ctx: ctx}, dir
}

func TestInlineObjects(t *testing.T) {
	e, dir := newInlineEnv(t)
	e.bucket(t, "small")
	if err := e.v.SetVersioning(e.ctx, e.p, "small", vault.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	marker := "INLINE-MARKER-7c1e"
	small := strings.Repeat(marker, inlineMax/len(marker)) // at most inlineMax
	first := e.put(t, "small", "k", small)
	e.put(t, "small", "empty", "")
	big := e.put(t, "small", "big", small+strings.Repeat("x", len(small)+1)) // over the limit: a blob
	if n := e.blobCount(t); n != 1 {
		t.Fatalf("%d blobs on the offer, want 1 (only the object over %d bytes)", n, inlineMax)
	}
	if len(big.Blobs) != 1 || big.Blobs[0].Inline || !first.Blobs[0].Inline {
		t.Fatalf("inline flags: small %v, big %v", first.Blobs[0].Inline, big.Blobs[0].Inline)
	}
	for key, want := range map[string]string{"k": small, "empty": ""} {
		if got, err := e.read(t, "small", key, ""); err != nil || got != want {
			t.Fatalf("GET %s: %d bytes, %v", key, len(got), err)
		}
	}
	// Ranges, as for blobs.
	o, err := e.v.GetObject(e.ctx, e.p, "small", "k", "")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := e.v.Open(e.ctx, o, 100, 50)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != small[100:150] {
		t.Fatalf("range 100+50: %q", got)
	}
	// An overwrite keeps the old version readable; deleting it releases
	// its bytes.
	e.put(t, "small", "k", "second")
	if got, err := e.read(t, "small", "k", first.VersionID); err != nil || got != small {
		t.Fatalf("GET the old version: %d bytes, %v", len(got), err)
	}
	if _, err := e.v.DeleteObject(e.ctx, e.p, "small", "k", first.VersionID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.read(t, "small", "k", first.VersionID); !errors.Is(err, vault.ErrNoSuchVersion) {
		t.Fatalf("GET a deleted version: %v", err)
	}
	rows, err := e.v.Usage(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Offer == "" && r.Bytes != int64(len("second")) {
			t.Errorf("inline bytes in use: %d, want %d", r.Bytes, len("second"))
		}
	}
	// The metadata store holds ciphertext only.
	e.put(t, "small", "marked", small)
	for _, name := range []string{"meta.db", "meta.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("%s holds the plaintext of an inline object", name)
		}
	}
}

func TestInlineWithCustomerKey(t *testing.T) {
	e, _ := newInlineEnv(t)
	e.bucket(t, "ssec")
	key := make([]byte, 32)
	rand.Read(key)
	body := "customer-keyed"
	if _, err := e.v.PutObject(e.ctx, e.p, "ssec", "k", vault.PutInput{Body: strings.NewReader(body), Size: int64(len(body)), CustomerKey: key}); err != nil {
		t.Fatal(err)
	}
	o, err := e.v.GetObject(e.ctx, e.p, "ssec", "k", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.v.Open(e.ctx, o, 0, -1); !errors.Is(err, vault.ErrCustomerKeyRequired) {
		t.Fatalf("GET without the customer key: %v", err)
	}
	if err := o.UseCustomerKey(key); err != nil {
		t.Fatal(err)
	}
	rc, err := e.v.Open(e.ctx, o, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != body {
		t.Fatalf("GET with the customer key: %q", got)
	}
}
