package vault_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/meta"
	"github.com/coffre-cloud/coffre/vault"
)

// TestNullVersionAcrossVersioning walks a key through the three versioning
// states, in a bucket created now (its null version at a fixed sort key,
// without n/ or l/ records while the bucket is never versioned) and in a
// bucket from before that layout (FixedNull unset in its record), whose
// versions keep their n/ and l/ records.
func TestNullVersionAcrossVersioning(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		name := "fixed"
		if legacy {
			name = "legacy"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.bucket(t, "hist")
			if legacy {
				e = e.withLegacyBucket(t, "hist")
			}
			check := func(step string, wantList []string, wantVersions ...string) {
				t.Helper()
				l, err := e.v.ListObjects(e.ctx, e.p, "hist", vault.ListInput{MaxKeys: 100})
				if err != nil {
					t.Fatalf("%s: ListObjects: %v", step, err)
				}
				var keys []string
				for _, o := range l.Objects {
					keys = append(keys, o.Key)
				}
				if !slices.Equal(keys, wantList) {
					t.Fatalf("%s: ListObjects = %q, want %q", step, keys, wantList)
				}
				// One version per page: the markers resume after each
				// version, the null one at its fixed sort key included.
				var versions []vault.VersionEntry
				in := vault.VersionsInput{MaxKeys: 1}
				for {
					vs, err := e.v.ListVersions(e.ctx, e.p, "hist", in)
					if err != nil {
						t.Fatalf("%s: ListVersions: %v", step, err)
					}
					versions = append(versions, vs.Versions...)
					if !vs.IsTruncated || len(versions) > 10 {
						break
					}
					in.KeyMarker, in.VersionIDMarker = vs.NextKeyMarker, vs.NextVersionIDMarker
				}
				var got []string
				for _, v := range versions {
					s := v.Key + "@"
					if v.VersionID == "null" {
						s += "null"
					}
					if v.DeleteMarker {
						s += "(marker)"
					}
					if v.IsLatest {
						s += "*"
					}
					got = append(got, s)
				}
				if !slices.Equal(got, wantVersions) {
					t.Fatalf("%s: ListVersions = %q, want %q", step, got, wantVersions)
				}
			}
			read := func(step, key, version, want string) {
				t.Helper()
				got, err := e.read(t, "hist", key, version)
				switch {
				case want == "" && !errors.Is(err, vault.ErrNoSuchKey) && !errors.Is(err, vault.ErrNoSuchVersion):
					t.Fatalf("%s: read %s@%q = %q, %v; want no such key or version", step, key, version, got, err)
				case want != "" && (err != nil || got != want):
					t.Fatalf("%s: read %s@%q = %q, %v; want %q", step, key, version, got, err, want)
				}
			}
			setVersioning := func(state vault.Versioning) {
				t.Helper()
				if err := e.v.SetVersioning(e.ctx, e.p, "hist", state); err != nil {
					t.Fatal(err)
				}
			}
			del := func(key, version string) {
				t.Helper()
				if _, err := e.v.DeleteObject(e.ctx, e.p, "hist", key, version); err != nil {
					t.Fatal(err)
				}
			}

			// Never versioned: one version per key, the null one.
			e.put(t, "hist", "a", "one")
			e.put(t, "hist", "a", "two")
			e.put(t, "hist", "gone", "x")
			del("gone", "")
			read("off", "a", "", "two")
			read("off", "a", "null", "two")
			read("off", "gone", "", "")
			// A version id that is well formed but names no version; it
			// is also the null version's fixed sort key.
			read("off", "a", strings.Repeat("f", 32), "")
			check("off", []string{"a"}, "a@null*")

			// Enabled: the null version made before stays, as the oldest.
			setVersioning(vault.VersioningEnabled)
			read("enabled", "a", "", "two")
			check("enabled", []string{"a"}, "a@null*")
			three := e.put(t, "hist", "a", "three")
			read("enabled", "a", "", "three")
			read("enabled", "a", "null", "two")
			read("enabled", "a", three.VersionID, "three")
			check("enabled, after a PUT", []string{"a"}, "a@*", "a@null")

			del("a", "")
			read("marked", "a", "", "")
			read("marked", "a", "null", "two")
			check("marked", nil, "a@(marker)*", "a@", "a@null")
			vs, err := e.v.ListVersions(e.ctx, e.p, "hist", vault.VersionsInput{MaxKeys: 1})
			if err != nil {
				t.Fatal(err)
			}
			del("a", vs.Versions[0].VersionID) // the delete marker
			read("unmarked", "a", "", "three")

			// Deleting the newest version brings the null one back as the
			// latest.
			del("a", three.VersionID)
			read("back to null", "a", "", "two")
			check("back to null", []string{"a"}, "a@null*")
			e.put(t, "hist", "a", "three again")

			// Suspended: a PUT replaces the null version, wherever it is.
			setVersioning(vault.VersioningSuspended)
			e.put(t, "hist", "a", "four")
			read("suspended", "a", "", "four")
			read("suspended", "a", "null", "four")
			check("suspended", []string{"a"}, "a@null*", "a@")
			del("a", "null")
			read("null deleted", "a", "", "three again")
			read("null deleted", "a", "null", "")
			check("null deleted", []string{"a"}, "a@*")
		})
	}
}

// withLegacyBucket clears FixedNull in the record of bucket name, as a
// bucket created before that field existed has it, and returns an env on a
// new vault over the same stores (whose bucket cache has not seen the
// record).
func (e *env) withLegacyBucket(t *testing.T, name string) *env {
	t.Helper()
	err := e.cfg.Meta.Update(e.ctx, func(tx meta.Tx) error {
		k := []byte("b/" + name)
		val, err := tx.Get(k)
		if err != nil {
			return err
		}
		var rec map[string]any
		if err := json.Unmarshal(val, &rec); err != nil {
			return err
		}
		if rec["fn"] != true {
			t.Fatalf("bucket record %s has no fn=true: %s", k, val)
		}
		delete(rec, "fn")
		val, err = json.Marshal(rec)
		if err != nil {
			return err
		}
		return tx.Put(k, val)
	})
	if err != nil {
		t.Fatal(err)
	}
	legacy := *e
	legacy.v = vault.New(e.cfg)
	return &legacy
}
