package vault_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/fs"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/meta/sqlite"
	"github.com/coffre-cloud/coffre/policy"
	"github.com/coffre-cloud/coffre/vault"
)

// flaky is a backend that fails every call while down is set, and whose
// Puts fail after putsLeft reaches zero (when it is positive).
type flaky struct {
	backend.Store
	down     atomic.Bool
	putsLeft atomic.Int64
}

var errDown = errors.New("offer down")

func (f *flaky) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if f.down.Load() {
		return errDown
	}
	if f.putsLeft.Load() > 0 && f.putsLeft.Add(-1) == 0 {
		f.down.Store(true)
	}
	return f.Store.Put(ctx, name, r, size)
}

func (f *flaky) Get(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Store.Get(ctx, name, off, n)
}

// rulesPlacer places with the doctrine for sovereign MC among fixed offers.
type rulesPlacer []policy.Offer

func (p rulesPlacer) Place(_ string, s policy.Sensitivity, offer string) (policy.Decision, error) {
	return policy.Place(policy.Rules{Sovereign: "MC"}, s, p, offer)
}

type placeEnv struct {
	*env
	internal, external *flaky
	now                atomic.Int64 // unix nanoseconds of the vault's clock
}

// newPlaceEnv makes a vault with two offers: "state" (internal, Monegasque
// law) and "cloud" (external, US law).
func newPlaceEnv(t *testing.T, quota vault.Quota) *placeEnv {
	t.Helper()
	dir := t.TempDir()
	m, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	open := func(name string) *flaky {
		st, err := fs.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return &flaky{Store: st}
	}
	e := &placeEnv{internal: open("state"), external: open("cloud")}
	e.now.Store(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	placer := rulesPlacer{
		{Name: "state", Tier: policy.Internal, Jurisdiction: "MC", HostedIn: "MC", PricePerGBMonth: 0.05},
		{Name: "cloud", Tier: policy.External, Jurisdiction: "US", HostedIn: "IE", PricePerGBMonth: 0.02},
	}
	v := vault.New(vault.Config{
		Meta:         m,
		Offers:       map[string]backend.Store{"state": e.internal, "cloud": e.external},
		DefaultOffer: "state",
		Placer:       placer,
		Quota:        func(string) vault.Quota { return quota },
		Keys:         testenv.Keyring(t),
		Now:          func() time.Time { return time.Unix(0, e.now.Load()) },
	})
	ctx := context.Background()
	if _, err := v.CreateTenant(ctx, "ministry"); err != nil {
		t.Fatal(err)
	}
	e.env = &env{v: v, p: vault.Principal{Tenant: "ministry"}, ctx: ctx}
	return e
}

// blobs counts the blobs on a backend.
func blobs(t *testing.T, s backend.Store) int {
	t.Helper()
	n := 0
	if err := s.List(context.Background(), "", func(backend.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPlacementAtCreation(t *testing.T) {
	e := newPlaceEnv(t, vault.Quota{})
	for _, tc := range []struct {
		bucket string
		pl     vault.Placement
		offer  string
		err    error
		msg    []string
	}{
		{bucket: "unlabeled", offer: "state"},
		{bucket: "low-default", pl: vault.Placement{Sensitivity: policy.Low}, offer: "state"},
		{bucket: "low-cloud", pl: vault.Placement{Sensitivity: policy.Low, Offer: "cloud"}, offer: "cloud"},
		{bucket: "medium-state", pl: vault.Placement{Sensitivity: policy.Medium, Offer: "state"}, offer: "state"},
		{bucket: "high-cloud", pl: vault.Placement{Offer: "cloud"}, err: vault.ErrPlacementRefused,
			msg: []string{"rule tier", "offer cloud", "bucket sensitivity high requires internal"}},
		{bucket: "medium-cloud", pl: vault.Placement{Sensitivity: policy.Medium, Offer: "cloud"}, err: vault.ErrPlacementRefused,
			msg: []string{"rule tier", "offer cloud"}},
		{bucket: "nowhere", pl: vault.Placement{Offer: "nowhere"}, err: vault.ErrInvalidLocation, msg: []string{"nowhere", "cloud, state"}},
	} {
		b, err := e.v.CreateBucket(e.ctx, e.p, tc.bucket, tc.pl)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: got %v, want %v", tc.bucket, err, tc.err)
				continue
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%s: %q does not say %q", tc.bucket, err, m)
				}
			}
			if _, err := e.v.Bucket(e.ctx, e.p, tc.bucket); !errors.Is(err, vault.ErrNoSuchBucket) {
				t.Errorf("%s: a refused bucket exists: %v", tc.bucket, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.bucket, err)
			continue
		}
		if b.Offer != tc.offer || b.Sensitivity != tc.pl.Sensitivity {
			t.Errorf("%s: placed on %s as %s, want %s as %s", tc.bucket, b.Offer, b.Sensitivity, tc.offer, tc.pl.Sensitivity)
		}
	}
	// Bytes go where the bucket is, and nowhere else.
	e.put(t, "low-cloud", "a", "to the cloud")
	e.put(t, "unlabeled", "b", "to the State")
	if c, s := blobs(t, e.external), blobs(t, e.internal); c != 1 || s != 1 {
		t.Errorf("cloud holds %d blobs and state %d, want 1 and 1", c, s)
	}
}

func TestParseLocation(t *testing.T) {
	offers := []string{"cloud", "state"}
	for _, tc := range []struct {
		in   string
		want vault.Placement
		ok   bool
	}{
		{"high", vault.Placement{Sensitivity: policy.High}, true},
		{"low", vault.Placement{Sensitivity: policy.Low}, true},
		{"cloud", vault.Placement{Offer: "cloud"}, true},
		{"low:cloud", vault.Placement{Sensitivity: policy.Low, Offer: "cloud"}, true},
		{"medium:state", vault.Placement{Sensitivity: policy.Medium, Offer: "state"}, true},
		{"eu-west-3", vault.Placement{}, false},
		{"low:nowhere", vault.Placement{}, false},
		{"secret:cloud", vault.Placement{}, false},
		{":cloud", vault.Placement{}, false},
		{"low:", vault.Placement{}, false},
	} {
		got, ok := vault.ParseLocation(tc.in, offers)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseLocation(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestOfferDownFailsClosed(t *testing.T) {
	e := newPlaceEnv(t, vault.Quota{})
	e.bucket(t, "records")
	e.internal.down.Store(true)
	_, err := e.v.PutObject(e.ctx, e.p, "records", "k", vault.PutInput{Body: strings.NewReader("x"), Size: 1})
	if !errors.Is(err, vault.ErrBackendUnavailable) {
		t.Fatalf("PUT with the offer down: %v, want ErrBackendUnavailable", err)
	}
	if n := blobs(t, e.external); n != 0 {
		t.Fatalf("the external offer got %d blobs while the internal one was down", n)
	}
	e.internal.down.Store(false)
	e.put(t, "records", "k", "x")
}

// raise labels a bucket high through its tags.
func (e *placeEnv) raise(t *testing.T, bucket string) vault.Bucket {
	t.Helper()
	if err := e.v.SetBucketTags(e.ctx, e.p, bucket, map[string]string{vault.TagSensitivity: "high", "team": "a"}); err != nil {
		t.Fatal(err)
	}
	b, err := e.v.Bucket(e.ctx, e.p, bucket)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRaiseSensitivityMigrates(t *testing.T) {
	e := newPlaceEnv(t, vault.Quota{})
	if _, err := e.v.CreateBucket(e.ctx, e.p, "open-data", vault.Placement{Sensitivity: policy.Low, Offer: "cloud"}); err != nil {
		t.Fatal(err)
	}
	if err := e.v.SetVersioning(e.ctx, e.p, "open-data", vault.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, k := range []string{"a", "b", "c"} {
		e.put(t, "open-data", k, "first "+k)
		want[k] = "second " + k
		e.put(t, "open-data", k, want[k]) // the first stays as an old version
	}
	// A multipart object and an upload still open.
	part := make([]byte, vault.MinPartSize)
	rand.Read(part)
	u, err := e.v.CreateUpload(e.ctx, e.p, "open-data", "big", vault.ObjectAttrs{}, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var parts []vault.CompletePart
	for n := 1; n <= 2; n++ {
		p, err := e.v.UploadPart(e.ctx, e.p, "open-data", "big", u.ID, n, vault.PutInput{Body: bytes.NewReader(part), Size: int64(len(part))})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, vault.CompletePart{Number: n, ETag: p.ETag})
	}
	if _, err := e.v.CompleteUpload(e.ctx, e.p, "open-data", "big", u.ID, vault.CompleteInput{Parts: parts}); err != nil {
		t.Fatal(err)
	}
	open, err := e.v.CreateUpload(e.ctx, e.p, "open-data", "open", vault.ObjectAttrs{}, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.v.UploadPart(e.ctx, e.p, "open-data", "open", open.ID, 1, vault.PutInput{Body: bytes.NewReader(part), Size: int64(len(part))}); err != nil {
		t.Fatal(err)
	}
	onCloud := blobs(t, e.external)
	if onCloud != 9 || blobs(t, e.internal) != 0 {
		t.Fatalf("before: cloud %d blobs, state %d; want 9 and 0", onCloud, blobs(t, e.internal))
	}

	b := e.raise(t, "open-data")
	if b.Migration == nil || b.Offer != "state" || b.Sensitivity != policy.Low || b.Migration.Blobs != 9 {
		t.Fatalf("after raising: offer %s, sensitivity %s, migration %+v; want a migration of 9 blobs to state, still low", b.Offer, b.Sensitivity, b.Migration)
	}
	// Changing again while it runs is refused; asking for the same is not.
	if err := e.v.SetBucketTags(e.ctx, e.p, "open-data", map[string]string{vault.TagSensitivity: "medium"}); !errors.Is(err, vault.ErrMigrating) {
		t.Errorf("a second change during the migration: %v, want ErrMigrating", err)
	}
	// Reads work before the move; new writes go to the new offer.
	for k, body := range want {
		if got, err := e.read(t, "open-data", k, ""); err != nil || got != body {
			t.Fatalf("GET %s during the migration: %q, %v", k, got, err)
		}
	}
	e.put(t, "open-data", "new", "written during the migration")
	want["new"] = "written during the migration"
	if n := blobs(t, e.external); n != onCloud {
		t.Fatalf("a write during the migration went to the cloud: %d blobs, want %d", n, onCloud)
	}

	// The move fails half way (the destination goes down), then resumes.
	e.internal.putsLeft.Store(4)
	if err := e.v.Migrate(e.ctx); !errors.Is(err, vault.ErrBackendUnavailable) {
		t.Fatalf("Migrate with the offer failing: %v", err)
	}
	b, _ = e.v.BucketInfo(e.ctx, "open-data")
	if b.Migration == nil || b.Migration.MovedBlobs != 3 || b.Migration.LastError == "" {
		t.Fatalf("after a failure: %+v; want 3 blobs moved and the error recorded", b.Migration)
	}
	e.internal.down.Store(false)
	e.internal.putsLeft.Store(0)
	if err := e.v.Migrate(e.ctx); err != nil {
		t.Fatal(err)
	}
	b, _ = e.v.BucketInfo(e.ctx, "open-data")
	if b.Migration != nil || b.Sensitivity != policy.High || b.Offer != "state" {
		t.Fatalf("after the migration: %s on %s, migration %+v", b.Sensitivity, b.Offer, b.Migration)
	}
	if b.Tags["team"] != "a" || b.Tags[vault.TagSensitivity] != "high" {
		t.Errorf("tags %v", b.Tags)
	}
	// The old copies are garbage: they go after the grace period, and the
	// cloud is then empty.
	if _, err := e.v.CollectGarbage(e.ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := blobs(t, e.external); n != 0 {
		t.Errorf("the cloud still holds %d blobs of a high bucket", n)
	}
	if n := blobs(t, e.internal); n != 10 {
		t.Errorf("state holds %d blobs, want 10", n)
	}
	for k, body := range want {
		if got, err := e.read(t, "open-data", k, ""); err != nil || got != body {
			t.Errorf("GET %s after the migration: %q, %v", k, got, err)
		}
	}
	o, err := e.v.GetObject(e.ctx, e.p, "open-data", "big", "")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := e.v.Open(e.ctx, o, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, append(append([]byte(nil), part...), part...)) {
		t.Errorf("multipart object after the migration: %d bytes, %v", len(got), err)
	}
	// The upload that was open completes on the new offer.
	if _, err := e.v.CompleteUpload(e.ctx, e.p, "open-data", "open", open.ID, vault.CompleteInput{Parts: []vault.CompletePart{{Number: 1, ETag: parts[0].ETag}}}); err != nil {
		t.Errorf("completing an upload whose part moved: %v", err)
	}
	// A sweep keeps every moved blob.
	e.now.Add(int64(time.Hour))
	if n, err := e.v.Sweep(e.ctx); err != nil || n != 0 {
		t.Errorf("sweep after the migration removed %d blobs (%v)", n, err)
	}
}

func TestLoweringNeedsTheFlag(t *testing.T) {
	e := newPlaceEnv(t, vault.Quota{})
	e.bucket(t, "health")
	err := e.v.SetBucketTags(e.ctx, e.p, "health", map[string]string{vault.TagSensitivity: "low"})
	if !errors.Is(err, vault.ErrPlacementRefused) || !strings.Contains(err.Error(), "rule lowering") || !strings.Contains(err.Error(), vault.TagAllowLowering) {
		t.Fatalf("lowering without the flag: %v", err)
	}
	if b, _ := e.v.BucketInfo(e.ctx, "health"); b.Sensitivity != policy.High {
		t.Fatalf("the refused change took effect: %s", b.Sensitivity)
	}
	err = e.v.SetBucketTags(e.ctx, e.p, "health", map[string]string{vault.TagSensitivity: "low", vault.TagAllowLowering: "true"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.v.BucketInfo(e.ctx, "health")
	if b.Sensitivity != policy.Low || b.Offer != "state" || b.Migration != nil {
		t.Errorf("lowered: %s on %s, migration %v; want low, staying on state", b.Sensitivity, b.Offer, b.Migration)
	}
	if _, kept := b.Tags[vault.TagAllowLowering]; kept {
		t.Errorf("the flag tag was kept: %v", b.Tags)
	}
	if err := e.v.SetBucketTags(e.ctx, e.p, "health", map[string]string{vault.TagSensitivity: "secret"}); !errors.Is(err, vault.ErrInvalidTag) {
		t.Errorf("an unknown sensitivity: %v", err)
	}
}

func TestQuota(t *testing.T) {
	e := newPlaceEnv(t, vault.Quota{Bytes: 100, Objects: 3})
	e.bucket(t, "quota")
	put := func(key string, n int) error {
		_, err := e.v.PutObject(e.ctx, e.p, "quota", key, vault.PutInput{Body: strings.NewReader(strings.Repeat("x", n)), Size: int64(n)})
		return err
	}
	if err := put("a", 60); err != nil {
		t.Fatal(err)
	}
	if err := put("b", 41); !errors.Is(err, vault.ErrQuotaExceeded) {
		t.Fatalf("101 bytes with a quota of 100: %v", err)
	}
	if err := put("b", 40); err != nil {
		t.Fatalf("exactly the quota: %v", err)
	}
	if err := put("a", 30); err != nil { // an overwrite frees what it replaces
		t.Fatalf("overwrite within the quota: %v", err)
	}
	if err := put("c", 1); err != nil {
		t.Fatal(err)
	}
	if err := put("d", 1); !errors.Is(err, vault.ErrQuotaExceeded) || !strings.Contains(err.Error(), "3 objects") {
		t.Fatalf("a fourth object with a quota of 3: %v", err)
	}
	if _, err := e.v.DeleteObject(e.ctx, e.p, "quota", "c", ""); err != nil {
		t.Fatal(err)
	}
	if err := put("d", 1); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
}

func TestUsage(t *testing.T) {
	e := newPlaceEnv(t, vault.Quota{Bytes: 1 << 20})
	if _, err := e.v.CreateBucket(e.ctx, e.p, "open", vault.Placement{Sensitivity: policy.Low, Offer: "cloud"}); err != nil {
		t.Fatal(err)
	}
	e.bucket(t, "closed")
	e.put(t, "open", "a", strings.Repeat("a", 1000))
	e.put(t, "closed", "b", strings.Repeat("b", 300))
	e.put(t, "closed", "c", strings.Repeat("c", 200))
	if _, err := e.v.DeleteObject(e.ctx, e.p, "closed", "c", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.read(t, "open", "a", ""); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.v.CountRequest("ministry", "closed")
	}
	e.v.CountRequest("someone-else", "closed") // not the owner: not counted
	if err := vault.Account(e.v, e.ctx); err != nil {
		t.Fatal(err)
	}
	e.now.Add(int64(10 * time.Hour))
	if err := vault.Account(e.v, e.ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := e.v.Usage(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		bytes, blobs, objects, requests, egress int64
	}
	got := map[string]row{}
	for _, r := range rows {
		got[r.Tenant+"/"+r.Offer] = row{r.Bytes, r.Blobs, r.Objects, r.Requests, r.Egress}
		if r.QuotaBytes != 1<<20 {
			t.Errorf("quota %d", r.QuotaBytes)
		}
	}
	want := map[string]row{
		"ministry/":      {objects: 2},
		"ministry/cloud": {bytes: 1000, blobs: 1, egress: 1000},
		"ministry/state": {bytes: 300, blobs: 1, requests: 3},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %+v, want %+v", k, got[k], w)
		}
	}
	month, err := e.v.MonthUsage(e.ctx, "2026-11")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range month {
		var want float64
		switch r.Offer {
		case "cloud":
			want = 1000 * 36000
		case "state":
			want = 300 * 36000
		}
		if r.ByteSeconds != want {
			t.Errorf("%s: %g byte-seconds in the month, want %g", r.Offer, r.ByteSeconds, want)
		}
		if r.Offer == "state" && r.MonthRequests != 3 {
			t.Errorf("state: %d requests in the month, want 3", r.MonthRequests)
		}
	}
	if _, err := e.v.MonthUsage(e.ctx, "November"); !errors.Is(err, vault.ErrInvalidArgument) {
		t.Errorf("a bad month: %v", err)
	}
}
