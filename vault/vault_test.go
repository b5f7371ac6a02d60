package vault_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/fs"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/meta/sqlite"
	"github.com/coffre-cloud/coffre/vault"
)

type env struct {
	v     *vault.Vault
	store backend.Store
	p     vault.Principal
	ctx   context.Context
	cfg   vault.Config // v's: another gateway node is vault.New(cfg)
}

func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with a say in the vault's configuration.
func newEnvWith(t *testing.T, configure func(*vault.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	m, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	st, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := vault.Config{Meta: m, Backend: st, Keys: testenv.Keyring(t)}
	if configure != nil {
		configure(&cfg)
	}
	v := vault.New(cfg)
	ctx := context.Background()
	if _, err := v.CreateTenant(ctx, "ministry"); err != nil {
		t.Fatal(err)
	}
	return &env{v: v, store: st, p: vault.Principal{Tenant: "ministry"}, ctx: ctx, cfg: cfg}
}

func (e *env) bucket(t *testing.T, name string) {
	t.Helper()
	if _, err := e.v.CreateBucket(e.ctx, e.p, name, vault.Placement{}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) put(t *testing.T, bucket, key, body string) *vault.Object {
	t.Helper()
	o, err := e.v.PutObject(e.ctx, e.p, bucket, key, vault.PutInput{Body: strings.NewReader(body), Size: int64(len(body))})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return o
}

func (e *env) read(t *testing.T, bucket, key, version string) (string, error) {
	t.Helper()
	o, err := e.v.GetObject(e.ctx, e.p, bucket, key, version)
	if err != nil {
		return "", err
	}
	rc, err := e.v.Open(e.ctx, o, 0, -1)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

func (e *env) blobCount(t *testing.T) int {
	t.Helper()
	n := 0
	if err := e.store.List(e.ctx, "", func(backend.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBucketNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"abc": true, "my.bucket-1": true, "ab": false, strings.Repeat("a", 64): false,
		"Abc": false, "a..b": false, "-ab": false, "ab-": false, "192.168.1.1": false,
		"xn--abc": false, "abc-s3alias": false, "a_b": false,
	} {
		if got := vault.ValidBucketName(name) == nil; got != ok {
			t.Errorf("ValidBucketName(%q) ok=%v, want %v", name, got, ok)
		}
	}
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	e.bucket(t, "docs")
	e.put(t, "docs", "a", "secret")
	if _, err := e.v.CreateTenant(e.ctx, "other"); err != nil {
		t.Fatal(err)
	}
	other := vault.Principal{Tenant: "other"}
	if _, err := e.v.GetObject(e.ctx, other, "docs", "a", ""); !errors.Is(err, vault.ErrAccessDenied) {
		t.Fatalf("other tenant GET: err=%v, want ErrAccessDenied", err)
	}
	if _, err := e.v.CreateBucket(e.ctx, other, "docs", vault.Placement{}); !errors.Is(err, vault.ErrBucketAlreadyExists) {
		t.Fatalf("other tenant create same name: err=%v, want ErrBucketAlreadyExists", err)
	}
	if _, err := e.v.CreateBucket(e.ctx, e.p, "docs", vault.Placement{}); !errors.Is(err, vault.ErrBucketAlreadyOwned) {
		t.Fatalf("owner re-create: err=%v, want ErrBucketAlreadyOwned", err)
	}
	bs, err := e.v.Buckets(e.ctx, other)
	if err != nil || len(bs) != 0 {
		t.Fatalf("other tenant sees %d buckets (err %v), want 0", len(bs), err)
	}
}

func TestOverwriteUnversioned(t *testing.T) {
	e := newEnv(t)
	e.bucket(t, "bk1")
	e.put(t, "bk1", "k", "one")
	e.put(t, "bk1", "k", "two")
	if got, err := e.read(t, "bk1", "k", ""); err != nil || got != "two" {
		t.Fatalf("read = %q, %v; want two", got, err)
	}
	if n, err := e.v.CollectGarbage(e.ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("CollectGarbage = %d, %v; want 1 (the overwritten blob)", n, err)
	}
	if got := e.blobCount(t); got != 1 {
		t.Fatalf("%d blobs stored, want 1", got)
	}
	if _, err := e.v.DeleteObject(e.ctx, e.p, "bk1", "k", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.read(t, "bk1", "k", ""); !errors.Is(err, vault.ErrNoSuchKey) {
		t.Fatalf("after delete: err=%v, want ErrNoSuchKey", err)
	}
	e.v.CollectGarbage(e.ctx, time.Now().Add(time.Hour))
	if got := e.blobCount(t); got != 0 {
		t.Fatalf("%d blobs stored after delete and collection, want 0", got)
	}
	if err := e.v.DeleteBucket(e.ctx, e.p, "bk1"); err != nil {
		t.Fatalf("DeleteBucket of an emptied bucket: %v", err)
	}
}

func TestVersioning(t *testing.T) {
	e := newEnv(t)
	e.bucket(t, "vbk")
	e.put(t, "vbk", "k", "null-version")
	if err := e.v.SetVersioning(e.ctx, e.p, "vbk", vault.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	v1 := e.put(t, "vbk", "k", "v1")
	v2 := e.put(t, "vbk", "k", "v2")
	if v1.VersionID == "null" || v1.VersionID == v2.VersionID {
		t.Fatalf("version ids %q %q: want distinct non-null ids", v1.VersionID, v2.VersionID)
	}
	for ver, want := range map[string]string{"": "v2", v1.VersionID: "v1", "null": "null-version"} {
		if got, err := e.read(t, "vbk", "k", ver); err != nil || got != want {
			t.Errorf("read version %q = %q, %v; want %q", ver, got, err, want)
		}
	}
	del, err := e.v.DeleteObject(e.ctx, e.p, "vbk", "k", "")
	if err != nil || !del.DeleteMarker {
		t.Fatalf("delete = %+v, %v; want a delete marker", del, err)
	}
	o, err := e.v.GetObject(e.ctx, e.p, "vbk", "k", "")
	if !errors.Is(err, vault.ErrNoSuchKey) || o == nil || !o.DeleteMarker {
		t.Fatalf("GET after delete marker: %v (%+v), want ErrNoSuchKey with the marker", err, o)
	}
	if _, err := e.v.GetObject(e.ctx, e.p, "vbk", "k", del.VersionID); !errors.Is(err, vault.ErrMethodNotAllowed) {
		t.Fatalf("GET of the marker by id: %v, want ErrMethodNotAllowed", err)
	}
	out, err := e.v.ListVersions(e.ctx, e.p, "vbk", vault.VersionsInput{MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ve := range out.Versions {
		got = append(got, fmt.Sprintf("%v/dm=%v/latest=%v", ve.VersionID == "null", ve.DeleteMarker, ve.IsLatest))
	}
	want := []string{"false/dm=true/latest=true", "false/dm=false/latest=false", "false/dm=false/latest=false", "true/dm=false/latest=false"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("versions:\n got %v\nwant %v", got, want)
	}
	list, _ := e.v.ListObjects(e.ctx, e.p, "vbk", vault.ListInput{MaxKeys: 1000})
	if len(list.Objects) != 0 {
		t.Fatalf("ListObjects shows %d objects behind a delete marker, want 0", len(list.Objects))
	}
	// Removing the marker brings v2 back.
	if _, err := e.v.DeleteObject(e.ctx, e.p, "vbk", "k", del.VersionID); err != nil {
		t.Fatal(err)
	}
	if got, err := e.read(t, "vbk", "k", ""); err != nil || got != "v2" {
		t.Fatalf("after removing the marker: %q, %v; want v2", got, err)
	}
	if err := e.v.DeleteBucket(e.ctx, e.p, "vbk"); !errors.Is(err, vault.ErrBucketNotEmpty) {
		t.Fatalf("DeleteBucket with versions: %v, want ErrBucketNotEmpty", err)
	}
	// Suspended: a new write replaces the null version only.
	if err := e.v.SetVersioning(e.ctx, e.p, "vbk", vault.VersioningSuspended); err != nil {
		t.Fatal(err)
	}
	if o := e.put(t, "vbk", "k", "new-null"); o.VersionID != "null" {
		t.Fatalf("suspended PUT version %q, want null", o.VersionID)
	}
	if got, _ := e.read(t, "vbk", "k", v1.VersionID); got != "v1" {
		t.Fatalf("v1 after suspended overwrite: %q", got)
	}
	out, _ = e.v.ListVersions(e.ctx, e.p, "vbk", vault.VersionsInput{MaxKeys: 1000})
	if len(out.Versions) != 3 {
		t.Fatalf("%d versions after suspended overwrite, want 3 (new null, v2, v1)", len(out.Versions))
	}
}

func TestListing(t *testing.T) {
	e := newEnv(t)
	e.bucket(t, "lbk")
	keys := []string{"a", "a/b", "a/c/d", "a/c/e", "a.b", "b/x", "b/y", "c", "d/"}
	for _, k := range keys {
		e.put(t, "lbk", k, k)
	}
	type tc struct {
		in   vault.ListInput
		want string // keys then |prefixes
	}
	for _, c := range []tc{
		{vault.ListInput{MaxKeys: 1000}, "a a.b a/b a/c/d a/c/e b/x b/y c d/|"},
		{vault.ListInput{Delimiter: "/", MaxKeys: 1000}, "a a.b c|a/ b/ d/"},
		{vault.ListInput{Prefix: "a/", Delimiter: "/", MaxKeys: 1000}, "a/b|a/c/"},
		{vault.ListInput{Prefix: "a/c/", MaxKeys: 1000}, "a/c/d a/c/e|"},
		{vault.ListInput{After: "a/c/d", MaxKeys: 1000}, "a/c/e b/x b/y c d/|"},
		{vault.ListInput{After: "a/", Delimiter: "/", MaxKeys: 1000}, "c|b/ d/"}, // "a.b" < "a/" bytewise,
		{vault.ListInput{Prefix: "zz", MaxKeys: 1000}, "|"},
	} {
		out, err := e.v.ListObjects(e.ctx, e.p, "lbk", c.in)
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, o := range out.Objects {
			ks = append(ks, o.Key)
		}
		if got := strings.Join(ks, " ") + "|" + strings.Join(out.CommonPrefixes, " "); got != c.want {
			t.Errorf("list %+v:\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	// Paging with a delimiter visits every entry once.
	var seen []string
	in := vault.ListInput{Delimiter: "/", MaxKeys: 2}
	for i := 0; ; i++ {
		out, err := e.v.ListObjects(e.ctx, e.p, "lbk", in)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Objects {
			seen = append(seen, o.Key)
		}
		seen = append(seen, out.CommonPrefixes...)
		if !out.IsTruncated {
			break
		}
		if i > 10 {
			t.Fatal("paging does not end")
		}
		in.After = out.Next
	}
	if got, want := len(seen), 6; got != want {
		t.Fatalf("paged listing saw %v, want %d entries", seen, want)
	}
}

func TestMultipart(t *testing.T) {
	e := newEnv(t)
	e.bucket(t, "mpk")
	u, err := e.v.CreateUpload(e.ctx, e.p, "mpk", "big", vault.ObjectAttrs{ContentType: "text/plain"}, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	part := func(n int, size int, fill byte) *vault.Part {
		t.Helper()
		body := bytes.Repeat([]byte{fill}, size)
		p, err := e.v.UploadPart(e.ctx, e.p, "mpk", "big", u.ID, n, vault.PutInput{Body: bytes.NewReader(body), Size: int64(size)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1 := part(1, vault.MinPartSize, 'a')
	part(2, 10, 'x') // replaced below
	p2 := part(2, 100, 'b')
	small := part(3, 10, 'c')
	_, err = e.v.CompleteUpload(e.ctx, e.p, "mpk", "big", u.ID, vault.CompleteInput{Parts: []vault.CompletePart{{2, p2.ETag, ""}, {1, p1.ETag, ""}}})
	if !errors.Is(err, vault.ErrInvalidPartOrder) {
		t.Fatalf("out of order: %v, want ErrInvalidPartOrder", err)
	}
	_, err = e.v.CompleteUpload(e.ctx, e.p, "mpk", "big", u.ID, vault.CompleteInput{Parts: []vault.CompletePart{{1, p1.ETag, ""}, {2, "bad", ""}}})
	if !errors.Is(err, vault.ErrInvalidPart) {
		t.Fatalf("wrong etag: %v, want ErrInvalidPart", err)
	}
	_, err = e.v.CompleteUpload(e.ctx, e.p, "mpk", "big", u.ID, vault.CompleteInput{Parts: []vault.CompletePart{{2, p2.ETag, ""}, {3, small.ETag, ""}}})
	if !errors.Is(err, vault.ErrEntityTooSmall) {
		t.Fatalf("small part: %v, want ErrEntityTooSmall", err)
	}
	o, err := e.v.CompleteUpload(e.ctx, e.p, "mpk", "big", u.ID, vault.CompleteInput{Parts: []vault.CompletePart{{1, `"` + p1.ETag + `"`, ""}, {2, p2.ETag, ""}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(o.ETag, "-2") || o.Size != vault.MinPartSize+100 || o.ContentType != "text/plain" {
		t.Fatalf("completed object etag %s size %d type %q", o.ETag, o.Size, o.ContentType)
	}
	got, err := e.read(t, "mpk", "big", "")
	if err != nil || got != strings.Repeat("a", vault.MinPartSize)+strings.Repeat("b", 100) {
		t.Fatalf("read multipart object: len %d, %v", len(got), err)
	}
	// A range across the part boundary.
	rc, err := e.v.Open(e.ctx, o, vault.MinPartSize-2, 4)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "aabb" {
		t.Fatalf("range across parts = %q, want aabb", b)
	}
	if _, err := e.v.Upload(e.ctx, e.p, "mpk", "big", u.ID); !errors.Is(err, vault.ErrNoSuchUpload) {
		t.Fatalf("upload after completion: %v, want ErrNoSuchUpload", err)
	}
	// Replaced part 2 and unused part 3 are garbage.
	if n, _ := e.v.CollectGarbage(e.ctx, time.Now().Add(time.Hour)); n != 2 {
		t.Fatalf("collected %d blobs, want 2", n)
	}
}

func TestExpireUploadsAndSweep(t *testing.T) {
	dir := t.TempDir()
	m, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	clock := func() time.Time { return now }
	ks := testenv.Keyring(t)
	v := vault.New(vault.Config{Meta: m, Backend: st, Keys: ks, Now: clock, UploadExpiry: time.Hour})
	ctx := context.Background()
	v.CreateTenant(ctx, "t1")
	p := vault.Principal{Tenant: "t1"}
	v.CreateBucket(ctx, p, "bkt", vault.Placement{})
	u, _ := v.CreateUpload(ctx, p, "bkt", "k", vault.ObjectAttrs{}, "", "", nil)
	if _, err := v.UploadPart(ctx, p, "bkt", "k", u.ID, 1, vault.PutInput{Body: strings.NewReader("x"), Size: 1}); err != nil {
		t.Fatal(err)
	}
	// An orphan blob, as a crash between a blob write and its commit leaves.
	if err := st.Put(ctx, "obj/ff/orphan", strings.NewReader("zz"), 2); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if n, err := v.ExpireUploads(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireUploads = %d, %v; want 1", n, err)
	}
	v2 := vault.New(vault.Config{Meta: m, Backend: st, Keys: ks, Now: func() time.Time { return now.Add(time.Hour) }})
	if n, err := v2.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 (the orphan)", n, err)
	}
	if _, err := st.Stat(ctx, "obj/ff/orphan"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("orphan still there: %v", err)
	}
}

func TestKeyRotationAndShredding(t *testing.T) {
	e := newEnv(t)
	e.bucket(t, "keys")
	e.put(t, "keys", "old", "written under kek 1")
	if v, err := e.v.RotateTenantKey(e.ctx, "ministry"); err != nil || v != 2 {
		t.Fatalf("RotateTenantKey = %d, %v; want version 2", v, err)
	}
	o := e.put(t, "keys", "new", "written under kek 2")
	if got := o.Blobs[0].KEK; got != 2 {
		t.Fatalf("new blob under KEK %d, want 2", got)
	}
	st, err := e.v.RewrapTenant(e.ctx, "ministry", nil)
	if err != nil {
		t.Fatal(err)
	}
	// "old" has one blob, in its only record: the bucket was never
	// versioned, so there is no copy in l/.
	if st.Blobs != 1 || len(st.Retired) != 1 || st.Retired[0] != 1 {
		t.Fatalf("RewrapTenant = %+v, want 1 data key rewrapped and version 1 retired", st)
	}
	for key, want := range map[string]string{"old": "written under kek 1", "new": "written under kek 2"} {
		if got, err := e.read(t, "keys", key, ""); err != nil || got != want {
			t.Fatalf("after rewrap, %s = %q, %v; want %q", key, got, err, want)
		}
	}
	if _, _, err := e.v.RotateRootKey(e.ctx, true); err != nil {
		t.Fatalf("RotateRootKey: %v", err)
	}
	if got, err := e.read(t, "keys", "old", ""); err != nil || got != "written under kek 1" {
		t.Fatalf("after root rotation: %q, %v", got, err)
	}
	if n, err := e.v.ShredTenant(e.ctx, "ministry"); err != nil || n != 1 {
		t.Fatalf("ShredTenant = %d, %v; want 1 key version destroyed", n, err)
	}
	if _, err := e.read(t, "keys", "old", ""); !errors.Is(err, vault.ErrKeyDestroyed) {
		t.Fatalf("read after shredding: %v, want ErrKeyDestroyed", err)
	}
	if _, err := e.v.PutObject(e.ctx, e.p, "keys", "more", vault.PutInput{Body: strings.NewReader("x"), Size: 1}); !errors.Is(err, vault.ErrKeyDestroyed) {
		t.Fatalf("write after shredding: %v, want ErrKeyDestroyed", err)
	}
}

// TestNamesAndMetadataAreSecret writes objects whose names, user metadata,
// tags and headers carry a marker, and makes an access key, then scans every
// byte of the metadata store's files and the blobs: zero occurrences of the
// marker or of the secret.
func TestNamesAndMetadataAreSecret(t *testing.T) {
	dir := t.TempDir()
	m, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := fs.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	v := vault.New(vault.Config{Meta: m, Backend: st, Keys: testenv.Keyring(t)})
	ctx := context.Background()
	v.CreateTenant(ctx, "ministry")
	p := vault.Principal{Tenant: "ministry"}
	if _, err := v.CreateBucket(ctx, p, "records", vault.Placement{}); err != nil {
		t.Fatal(err)
	}
	ak, err := v.CreateAccessKey(ctx, "ministry")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.LookupKey(ctx, ak.ID); err != nil || got.Secret != ak.Secret {
		t.Fatalf("LookupKey = %v, %v; want the secret back", got.Secret == ak.Secret, err)
	}
	const marker = "ZQXMARKERJW"
	attrs := vault.ObjectAttrs{ContentType: "text/" + marker, ContentDisposition: marker, UserMeta: map[string]string{"note": marker}, Tags: map[string]string{"t": marker}}
	for i := range 300 { // enough names to split index nodes
		key := fmt.Sprintf("dossiers/%s-%03d/patient.txt", marker, i)
		if _, err := v.PutObject(ctx, p, "records", key, vault.PutInput{Body: strings.NewReader(marker + " content"), Size: int64(len(marker) + 8), Attrs: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.SetVersioning(ctx, p, "records", vault.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	if _, err := v.DeleteObject(ctx, p, "records", "dossiers/"+marker+"-000/patient.txt", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := v.CreateUpload(ctx, p, "records", "uploads/"+marker, attrs, "", "", nil); err != nil {
		t.Fatal(err)
	}
	// The listing still sees names in order.
	out, err := v.ListObjects(ctx, p, "records", vault.ListInput{Prefix: "dossiers/", Delimiter: "/", MaxKeys: 1000})
	if err != nil || len(out.CommonPrefixes) != 299 {
		t.Fatalf("ListObjects = %d prefixes, %v; want 299 (one key behind a delete marker)", len(out.CommonPrefixes), err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	found := 0
	filepath.WalkDir(dir, func(path string, d iofs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if n := bytes.Count(b, []byte(marker)); n > 0 {
			t.Errorf("%s holds the marker %d times", path, n)
			found += n
		}
		if n := bytes.Count(b, []byte(ak.Secret)); n > 0 {
			t.Errorf("%s holds an access key's secret %d times", path, n)
			found += n
		}
		return nil
	})
	if found != 0 {
		t.Fatalf("the marker appears %d times at rest, want 0", found)
	}
}

// gatedReader returns the first half of its body, says so on reached, then
// waits for release before the rest.
type gatedReader struct {
	body             []byte
	half             bool
	reached, release chan struct{}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if len(g.body) == 0 {
		return 0, io.EOF
	}
	limit := len(g.body)
	if !g.half {
		limit = max(1, len(g.body)/2)
	}
	n := copy(p, g.body[:limit])
	g.body = g.body[n:]
	if !g.half && n == limit {
		g.half = true
		close(g.reached)
		<-g.release
	}
	return n, nil
}

// TestKeyChangesDuringUpload changes the tenant's key while a PUT's body is
// on its way, for a small object and one of 3 MiB, through the same gateway
// node or another one (another Vault on the same stores, whose new key the
// first has never loaded): a rotation with a rewrap that destroys the
// version the data key was wrapped under must not cost the object (the
// commit rewraps its data key), and a shredding makes the PUT fail without
// leaving anything behind.
func TestKeyChangesDuringUpload(t *testing.T) {
	for _, tc := range []struct {
		size  int
		other bool
	}{{1000, false}, {3 << 20, false}, {1000, true}} {
		t.Run(fmt.Sprintf("size=%d,other=%v", tc.size, tc.other), func(t *testing.T) {
			size := tc.size
			e := newEnv(t)
			admin := e.v
			if tc.other {
				admin = vault.New(e.cfg)
			}
			e.bucket(t, "keys")
			e.put(t, "keys", "warm", "wrapped under version 1") // caches version 1 for writes
			body := bytes.Repeat([]byte("sovereign "), size/10)
			upload := func() (chan struct{}, func() (*vault.Object, error)) {
				g := &gatedReader{body: body, reached: make(chan struct{}), release: make(chan struct{})}
				done := make(chan error, 1)
				var o *vault.Object
				go func() {
					var err error
					o, err = e.v.PutObject(e.ctx, e.p, "keys", "k", vault.PutInput{Body: g, Size: int64(len(body))})
					done <- err
				}()
				<-g.reached
				return g.release, func() (*vault.Object, error) { err := <-done; return o, err }
			}

			release, wait := upload()
			if _, err := admin.RotateTenantKey(e.ctx, "ministry"); err != nil {
				t.Fatal(err)
			}
			if st, err := admin.RewrapTenant(e.ctx, "ministry", nil); err != nil || len(st.Retired) != 1 {
				t.Fatalf("RewrapTenant = %+v, %v; want version 1 retired", st, err)
			}
			close(release)
			o, err := wait()
			if err != nil {
				t.Fatalf("PUT across a rotation: %v", err)
			}
			if o.Blobs[0].KEK != 2 {
				t.Errorf("the object's data key is under version %d, want 2", o.Blobs[0].KEK)
			}
			if got, err := e.read(t, "keys", "k", ""); err != nil || got != string(body) {
				t.Fatalf("read after the rotation: %d bytes, %v; want the %d bytes written", len(got), err, len(body))
			}

			blobs := e.blobCount(t)
			release, wait = upload()
			if _, err := admin.ShredTenant(e.ctx, "ministry"); err != nil {
				t.Fatal(err)
			}
			close(release)
			if _, err := wait(); !errors.Is(err, vault.ErrKeyDestroyed) {
				t.Fatalf("PUT across a shredding = %v, want ErrKeyDestroyed", err)
			}
			if n := e.blobCount(t); n != blobs {
				t.Errorf("%d blobs after the refused PUT, want %d", n, blobs)
			}
		})
	}
}
