package vault_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/backend/fs"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/meta"
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
	cfg := vault.Config{Meta: m, Backend: st, Keys: testenv.Keyring(t), InlineMax: inlineMax}
	v := vault.New(cfg)
	ctx := context.Background()
	if _, err := v.CreateTenant(ctx, "ministry"); err != nil {
		t.Fatal(err)
	}
	return &env{v: v, store: st, p: vault.Principal{Tenant: "ministry"}, ctx: ctx, cfg: cfg}, dir
}

// countRecords returns how many records of the metadata store start with
// prefix.
func (e *env) countRecords(t *testing.T, prefix string) int {
	t.Helper()
	n := 0
	err := e.cfg.Meta.View(e.ctx, func(tx meta.Tx) error {
		return tx.Scan([]byte(prefix), meta.PrefixEnd([]byte(prefix)), func(k, v []byte) (bool, error) {
			n++
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestInlineInRecord follows an inline object of a bucket that was never
// versioned, whose ciphertext is kept in its version record rather than in
// a record of its own, through overwrites, versioning, tags, a key
// rotation and deletes; a bucket from before that layout keeps d/ records.
func TestInlineInRecord(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			e, dir := newInlineEnv(t)
			e.bucket(t, "small")
			if legacy {
				e = e.withLegacyBucket(t, "small")
			}
			marker := "HERE-MARKER-41d9"
			first := strings.Repeat(marker, inlineMax/len(marker))
			e.put(t, "small", "k", first)
			e.put(t, "small", "empty", "")
			wantD := 0
			if legacy {
				wantD = 2
			}
			if n := e.countRecords(t, "d/"); n != wantD {
				t.Fatalf("%d d/ records, want %d", n, wantD)
			}
			if n := e.blobCount(t); n != 0 {
				t.Fatalf("%d blobs on the offer, want 0", n)
			}
			read := func(key, version, want string) {
				t.Helper()
				if got, err := e.read(t, "small", key, version); err != nil || got != want {
					t.Fatalf("GET %s@%q: %d bytes, %v; want %d bytes", key, version, len(got), err, len(want))
				}
			}
			read("k", "", first)
			read("empty", "", "")
			e.checkRange(t, "small", "k", first)
			checkCiphertextOnly(t, dir, marker)
			usage := func(want int64) {
				t.Helper()
				rows, err := e.v.Usage(e.ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					if r.Offer == "" && r.Bytes != want {
						t.Fatalf("inline bytes in use: %d, want %d", r.Bytes, want)
					}
				}
			}
			e.put(t, "small", "k", "second")
			read("k", "", "second")
			usage(int64(len("second")))

			// Versioning enabled: the version from before keeps its
			// ciphertext through a tag change, a copy to l/ and a key
			// rotation.
			if err := e.v.SetVersioning(e.ctx, e.p, "small", vault.VersioningEnabled); err != nil {
				t.Fatal(err)
			}
			if _, err := e.v.SetObjectTags(e.ctx, e.p, "small", "k", "", map[string]string{"a": "b"}); err != nil {
				t.Fatal(err)
			}
			third := e.put(t, "small", "k", "third")
			if _, err := e.v.DeleteObject(e.ctx, e.p, "small", "k", third.VersionID); err != nil {
				t.Fatal(err)
			}
			read("k", "", "second")
			read("k", "null", "second")
			if _, err := e.v.RotateTenantKey(e.ctx, "ministry"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.v.RewrapTenant(e.ctx, "ministry", nil); err != nil {
				t.Fatal(err)
			}
			read("k", "", "second")
			if o, err := e.v.ObjectTags(e.ctx, e.p, "small", "k", "null"); err != nil || o.Tags["a"] != "b" {
				t.Fatalf("tags of the null version: %v, %v", o, err)
			}
			if _, err := e.v.DeleteObject(e.ctx, e.p, "small", "k", "null"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.v.DeleteObject(e.ctx, e.p, "small", "empty", "null"); err != nil {
				t.Fatal(err)
			}
			usage(0)
			if n := e.countRecords(t, "d/"); n != 0 {
				t.Fatalf("%d d/ records left after every inline object was deleted", n)
			}
		})
	}
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
	e.checkRange(t, "small", "k", small)
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
	checkCiphertextOnly(t, dir, marker)
}

// checkRange reads bytes 100 to 149 of an object whose content is want.
func (e *env) checkRange(t *testing.T, bucket, key, want string) {
	t.Helper()
	o, err := e.v.GetObject(e.ctx, e.p, bucket, key, "")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := e.v.Open(e.ctx, o, 100, 50)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != want[100:150] {
		t.Fatalf("range 100+50 of %s: %q", key, got)
	}
}

// checkCiphertextOnly checks that the metadata store's files in dir do not
// hold marker, which the plaintext of inline objects does.
func checkCiphertextOnly(t *testing.T, dir, marker string) {
	t.Helper()
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
