// Package placement_test runs a real `coffre serve --config` whose site
// writes to real offers: an internal OpenStack Swift (tempauth), an
// internal directory, and an external S3 bucket (the S3 API of the same
// Swift, standing in for a commercial cloud under US law, hosted in
// Ireland). Driving it with the aws cli and coffre's admin commands, it
// checks where each bucket's data lands by looking at the offers
// themselves: unlabeled buckets stay internal, refused placements name
// their rule, raising a bucket's sensitivity moves its data off an offer no
// longer allowed, quotas hold, a failed offer fails writes rather than
// diverting them, and the usage report counts it all.
package placement_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	iofs "io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	s3offer "github.com/coffre-cloud/coffre/backend/s3"
	swiftoffer "github.com/coffre-cloud/coffre/backend/swift"
	"github.com/coffre-cloud/coffre/internal/testenv"
)

const (
	kib = 1 << 10
	mib = 1 << 20

	// The served site and its offers, as coffre.yaml names them.
	siteName   = "monaco"
	swiftOffer = "monaco-swift" // internal, MC: the cheapest internal offer, so Coffre's pick for high data
	diskOffer  = "monaco-disk"  // internal, MC, dearer: allowed for high data, never picked
	extOffer   = "ext-s3"       // external, US law, hosted in IE: low data only

	quotaTenant = "quota-tenant" // its quota is 1 MiB

	// migrationTimeout bounds the move of ~15 MiB between two offers on
	// loopback, which takes seconds.
	migrationTimeout = 60 * time.Second
	// recoveryTimeout bounds how long writes may keep failing once the
	// Swift proxy is back.
	recoveryTimeout = 30 * time.Second
	// janitorWait bounds how long the old copies of migrated blobs stay
	// on their offer once the migration is done: they are garbage, kept
	// for --gc-grace (1 s here) so that reads under way finish, and
	// removed at the next janitor pass (--gc-interval, 1 s).
	janitorWait = 20 * time.Second
	// smallObjects is how many small objects the migrated bucket holds
	// besides its large ones.
	smallObjects = 300
)

// configTemplate is the coffre.yaml of the test. The site has a twin
// (luxembourg, ~680 km away, with its own offer) because the doctrine
// requires one for high data; only monaco is served.
const configTemplate = `sovereign: MC
currency: EUR

sites:
  - name: monaco
    location: {lat: 43.7384, lon: 7.4246}
    jurisdiction: MC
    twin: luxembourg
    offers: [monaco-swift, monaco-disk, ext-s3]
  - name: luxembourg
    location: {lat: 49.7875, lon: 6.0656}
    jurisdiction: MC
    hosted_in: LU
    offers: [luxembourg-disk]

offers:
  - name: monaco-swift
    backend: swift
    tier: internal
    jurisdiction: MC
    location: {lat: 43.7384, lon: 7.4246}
    price_per_gb_month: 0.04
    swift:
      auth_url: {{SWIFT_AUTH_URL}}
      auth_version: 1
      user: "{{SWIFT_USER}}"
      key_env: COFFRE_TEST_SWIFT_KEY
      container: {{SWIFT_CONTAINER}}

  - name: monaco-disk
    backend: fs
    tier: internal
    jurisdiction: MC
    location: {lat: 43.7384, lon: 7.4246}
    price_per_gb_month: 0.09
    fs: {path: "{{DISK_DIR}}"}

  - name: ext-s3
    backend: s3
    tier: external
    jurisdiction: US
    hosted_in: IE
    location: {lat: 53.3498, lon: -6.2603}
    price_per_gb_month: 0.02
    s3:
      endpoint: {{S3_ENDPOINT}}
      region: {{S3_REGION}}
      bucket: {{S3_BUCKET}}
      access_key_env: COFFRE_TEST_EXT_ACCESS_KEY
      secret_key_env: COFFRE_TEST_EXT_SECRET_KEY
      path_style: true

  - name: luxembourg-disk
    backend: fs
    tier: internal
    jurisdiction: MC
    hosted_in: LU
    location: {lat: 49.7875, lon: 6.0656}
    price_per_gb_month: 0.09
    fs: {path: "{{LUX_DIR}}"}

tenants:
  - name: quota-tenant
    quota: {bytes: 1MiB}
`

// site is the running server, the clients that drive it, and the offers
// it writes to, read directly.
type site struct {
	srv    *testenv.Server
	sw     *testenv.SwiftServer
	aws    string // the aws cli
	coffre string // the coffre binary
	config string // the coffre.yaml file
	root   shell  // the aws cli with the root credentials
	admin  shell  // coffre's admin commands, with the offers' secrets
	client *s3.Client

	swift, disk, ext *offer
}

func TestPlacement(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a real server, Swift and the aws cli (runs without -short)")
	}
	s := startSite(t)
	// In order: each subtest uses its own buckets, but usage counts what
	// the others stored, and the outage must not overlap the migration.
	t.Run("placement", s.testPlacement)
	t.Run("refused", s.testRefused)
	t.Run("explain=tenant", s.testExplainTenant)
	t.Run("raise=low-to-high", s.testRaise)
	t.Run("quota=1MiB", s.testQuota)
	t.Run("outage=swift", s.testOutage)
	t.Run("usage=month", s.testUsage)
}

// startSite writes coffre.yaml for the binary's Swift, checks it with
// `coffre config check`, serves it, and opens the offers for reading.
func startSite(t *testing.T) *site {
	t.Helper()
	s := &site{aws: testenv.AWSCLI(t), coffre: testenv.BuildCoffre(t), sw: testenv.Swift(t)}
	// The Swift account is shared with the binary's other tests: names of
	// our own.
	suffix := fmt.Sprintf("%08x", rand.Uint32())
	container, bucket := "coffre-placement-"+suffix, "coffre-external-"+suffix
	dir := t.TempDir()
	diskDir := filepath.Join(dir, diskOffer)
	yaml := strings.NewReplacer(
		"{{SWIFT_AUTH_URL}}", s.sw.AuthURL,
		"{{SWIFT_USER}}", s.sw.User,
		"{{SWIFT_CONTAINER}}", container,
		"{{DISK_DIR}}", diskDir,
		"{{S3_ENDPOINT}}", s.sw.S3Endpoint,
		"{{S3_REGION}}", s.sw.S3Region,
		"{{S3_BUCKET}}", bucket,
		"{{LUX_DIR}}", filepath.Join(dir, "luxembourg-disk"),
	).Replace(configTemplate)
	s.config = writeFile(t, dir, "coffre.yaml", []byte(yaml))

	secrets := []string{
		"COFFRE_TEST_SWIFT_KEY=" + s.sw.Key,
		"COFFRE_TEST_EXT_ACCESS_KEY=" + s.sw.S3AccessKey,
		"COFFRE_TEST_EXT_SECRET_KEY=" + s.sw.S3SecretKey,
	}
	s.admin = shell{env: append(os.Environ(), secrets...)}
	mustHaveLine(t, "coffre config check", s.admin.run(t, s.coffre, "config", "check", s.config), "valid")

	s.srv = testenv.StartCoffre(t, testenv.Opts{
		Env: secrets,
		// A short janitor cycle: the old copies of migrated blobs are
		// garbage, removed after the grace period (see janitorWait).
		Args: []string{"--config", s.config, "--site", siteName, "--gc-interval", "1s", "--gc-grace", "1s"},
	})
	s.root = shell{env: testenv.AWSEnv(s.srv)}
	s.client = newClient(s.srv.Endpoint, s.srv.AccessKey, s.srv.SecretKey)

	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	sw, err := swiftoffer.Open(ctx, swiftoffer.Config{AuthURL: s.sw.AuthURL, AuthVersion: 1, User: s.sw.User, Key: s.sw.Key, Container: container})
	if err != nil {
		t.Fatalf("opening the Swift container of offer %s: %v", swiftOffer, err)
	}
	t.Cleanup(func() { sw.Close() })
	ext, err := s3offer.Open(ctx, s3offer.Config{Endpoint: s.sw.S3Endpoint, Region: s.sw.S3Region, Bucket: bucket,
		AccessKey: s.sw.S3AccessKey, SecretKey: s.sw.S3SecretKey, PathStyle: true})
	if err != nil {
		t.Fatalf("opening the S3 bucket of offer %s: %v", extOffer, err)
	}
	t.Cleanup(func() { ext.Close() })
	s.swift = &offer{name: swiftOffer, store: sw}
	s.disk = &offer{name: diskOffer, dir: diskDir}
	s.ext = &offer{name: extOffer, store: ext}
	return s
}

// cli returns the aws cli command line for args.
func (s *site) cli(args ...string) []string {
	return append([]string{s.aws, "--endpoint-url", s.srv.Endpoint}, args...)
}

// explainBucket returns the output of `coffre placement explain --bucket`.
func (s *site) explainBucket(t testing.TB, bucket string) string {
	t.Helper()
	return s.admin.run(t, s.coffre, "placement", "explain", "--config", s.config, "--data", s.srv.DataDir, "--bucket", bucket)
}

// snapshot is the blob names of every offer of the site, by offer name.
type snapshot map[string]map[string]bool

func (s *site) offers() []*offer { return []*offer{s.swift, s.disk, s.ext} }

func (s *site) snapshot(t testing.TB) snapshot {
	t.Helper()
	snap := snapshot{}
	for _, o := range s.offers() {
		snap[o.name] = o.blobs(t)
	}
	return snap
}

// mustLandOn fails unless, since before, offer want gained blobs and no
// other offer did.
func (s *site) mustLandOn(t testing.TB, what string, before snapshot, want *offer) {
	t.Helper()
	for _, o := range s.offers() {
		gained := added(before[o.name], o.blobs(t))
		switch {
		case o == want && len(gained) == 0:
			t.Fatalf("%s: offer %s gained no blob, want the data there", what, o.name)
		case o != want && len(gained) > 0:
			t.Fatalf("%s: offer %s gained %d blobs %v, want none: the data belongs on %s", what, o.name, len(gained), gained, want.name)
		}
	}
}

// mustBeFinished fails unless explain's output shows no migration under way.
func mustBeFinished(t testing.TB, what, out string) {
	t.Helper()
	if lineWith(out, "migration: none") == "" && lineWith(out, "migration: done") == "" {
		t.Fatalf("%s: no line says \"migration: none\" or \"migration: done\":\n%s", what, out)
	}
}

// withHeaders adds HTTP headers to an SDK request, as an SDK user sets
// x-coffre-sensitivity and x-coffre-offer.
func withHeaders(h map[string]string) func(*s3.Options) {
	return func(o *s3.Options) {
		for _, k := range slices.Sorted(maps.Keys(h)) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(k, h[k]))
		}
	}
}

// testPlacement creates buckets each way a placement is asked for, and
// checks that an upload lands on the expected offer and no other, reads
// back, and is explained.
func (s *site) testPlacement(t *testing.T) {
	tmp := t.TempDir()
	for i, tt := range []struct {
		name   string
		bucket string
		// constraint is the LocationConstraint of aws s3api
		// create-bucket; with no constraint and no headers the bucket is
		// made with aws s3 mb.
		constraint string
		// headers are sent with an SDK CreateBucket.
		headers     map[string]string
		sensitivity string
		offer       *offer
	}{
		// Unlabeled data is high: Coffre picks the cheapest internal offer.
		{name: "constraint=none", bucket: "high-default", sensitivity: "high", offer: s.swift},
		{name: "constraint=low:" + extOffer, bucket: "low-external", constraint: "low:" + extOffer, sensitivity: "low", offer: s.ext},
		// An offer alone: the sensitivity is the default, high, which the
		// internal directory may hold.
		{name: "constraint=" + diskOffer, bucket: "high-disk", constraint: diskOffer, sensitivity: "high", offer: s.disk},
		{name: "header=low+" + extOffer, bucket: "low-external-hdr",
			headers: map[string]string{"x-coffre-sensitivity": "low", "x-coffre-offer": extOffer}, sensitivity: "low", offer: s.ext},
		// Medium data may not go to the external offer: Coffre picks internal.
		{name: "header=medium", bucket: "medium-auto",
			headers: map[string]string{"x-coffre-sensitivity": "medium"}, sensitivity: "medium", offer: s.swift},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.snapshot(t)
			switch {
			case tt.headers != nil:
				ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
				defer cancel()
				if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(tt.bucket)}, withHeaders(tt.headers)); err != nil {
					t.Fatalf("SDK CreateBucket %s with headers %v: %v", tt.bucket, tt.headers, err)
				}
			case tt.constraint != "":
				s.root.run(t, s.cli("s3api", "create-bucket", "--bucket", tt.bucket,
					"--create-bucket-configuration", "LocationConstraint="+tt.constraint)...)
			default:
				s.root.run(t, s.cli("s3", "mb", "s3://"+tt.bucket)...)
			}
			body := randomBytes(100*kib+i, uint64(i))
			s.root.run(t, s.cli("s3", "cp", writeFile(t, tmp, tt.bucket, body), "s3://"+tt.bucket+"/doc.bin")...)
			s.mustLandOn(t, "aws s3 cp to bucket "+tt.bucket, before, tt.offer)

			back := filepath.Join(tmp, tt.bucket+".back")
			s.root.run(t, s.cli("s3", "cp", "s3://"+tt.bucket+"/doc.bin", back)...)
			got, err := os.ReadFile(back)
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "GET "+tt.bucket+"/doc.bin", got, body)

			out := s.explainBucket(t, tt.bucket)
			mustHaveLine(t, "explain --bucket "+tt.bucket, out, "sensitivity", tt.sensitivity)
			mustHaveLine(t, "explain --bucket "+tt.bucket, out, "offer", tt.offer.name)
			mustBeFinished(t, "explain --bucket "+tt.bucket, out)
		})
	}
}

// testRefused asks for placements the rules refuse, or that name no offer:
// each fails with its status and code, says why, and makes no bucket.
func (s *site) testRefused(t *testing.T) {
	for i, tt := range []struct {
		name       string
		constraint string            // asked with the aws cli and the SDK
		headers    map[string]string // asked with the SDK
		status     int
		code       string
		mention    []string // words the message must hold: the rule and the offer
	}{
		{name: "constraint=high:" + extOffer, constraint: "high:" + extOffer, status: 403, code: "PlacementRefused", mention: []string{"tier", extOffer}},
		{name: "constraint=medium:" + extOffer, constraint: "medium:" + extOffer, status: 403, code: "PlacementRefused", mention: []string{"tier", extOffer}},
		{name: "header=high+" + extOffer, headers: map[string]string{"x-coffre-sensitivity": "high", "x-coffre-offer": extOffer},
			status: 403, code: "PlacementRefused", mention: []string{"tier", extOffer}},
		{name: "constraint=low:no-such-offer", constraint: "low:no-such-offer", status: 400, code: "InvalidLocationConstraint"},
		{name: "constraint=no-such-offer", constraint: "no-such-offer", status: 400, code: "InvalidLocationConstraint"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bucket := fmt.Sprintf("refused-%d", i)
			ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
			defer cancel()
			in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
			if tt.constraint != "" {
				stderr := s.root.fail(t, tt.code, s.cli("s3api", "create-bucket", "--bucket", bucket,
					"--create-bucket-configuration", "LocationConstraint="+tt.constraint)...)
				for _, w := range tt.mention {
					if !strings.Contains(stderr, w) {
						t.Fatalf("aws cli's error does not mention %q (the rule and the offer):\n%s", w, stderr)
					}
				}
				in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(tt.constraint)}
			}
			_, err := s.client.CreateBucket(ctx, in, withHeaders(tt.headers))
			msg := mustAPIError(t, "SDK CreateBucket "+tt.name, err, tt.status, tt.code)
			for _, w := range tt.mention {
				if !strings.Contains(msg, w) {
					t.Fatalf("error message %q does not mention %q (the rule and the offer)", msg, w)
				}
			}
			if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); statusOf(err) != 404 {
				t.Fatalf("HeadBucket %s after the refusal = %v, want 404: a refused bucket must not exist", bucket, err)
			}
		})
	}
}

// testExplainTenant explains the placement of each sensitivity for the
// root tenant, which may use every offer of the site.
func (s *site) testExplainTenant(t *testing.T) {
	for _, tt := range []struct {
		sensitivity string
		extRefused  bool // the external offer is refused, for its tier
	}{
		{"high", true},
		{"medium", true},
		{"low", false},
	} {
		t.Run("sensitivity="+tt.sensitivity, func(t *testing.T) {
			out := s.admin.run(t, s.coffre, "placement", "explain", "--config", s.config, "--tenant", "root", "--sensitivity", tt.sensitivity)
			what := "placement explain --tenant root --sensitivity " + tt.sensitivity
			// Internal first, then the cheapest: Swift, for every sensitivity.
			mustHaveLine(t, what+" (the chosen offer)", out, "chos", swiftOffer)
			if line := lineWith(out, "chos", extOffer); line != "" {
				t.Fatalf("%s: the external offer is chosen (%q), want %s:\n%s", what, line, swiftOffer, out)
			}
			if tt.extRefused {
				mustHaveLine(t, what+" (the rejected offer and its reason)", out, extOffer, "tier", "external")
			} else if line := lineWith(out, extOffer, "requires"); line != "" {
				t.Fatalf("%s: the external offer is refused (%q), but low data may go there:\n%s", what, line, out)
			}
		})
	}
}

// testRaise fills a low bucket on the external offer, raises it to high,
// and follows the migration to the internal offer: reads work throughout,
// new writes go to the new offer at once, a restart of the server does not
// stop it, and at the end no blob of the bucket is left on the external
// offer. Lowering needs the explicit flag.
func (s *site) testRaise(t *testing.T) {
	const bucket = "raise-me"
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), migrationTimeout+2*stepTimeout)
	defer cancel()
	objects := map[string][]byte{
		"data/3MiB.bin": randomBytes(3*mib+17, 41),
		// Above the aws cli's 8 MiB threshold: a multipart upload.
		"data/12MiB.bin": randomBytes(12*mib, 42),
	}
	// Many small objects, so that the migration (one blob at a time)
	// lasts long enough to be seen under way.
	for i := range smallObjects {
		objects[fmt.Sprintf("notes/n%03d.txt", i)] = randomBytes(1*kib+i*7, uint64(1000+i))
	}
	up := filepath.Join(tmp, "up")
	for key, body := range objects {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(up, key)), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, up, key, body)
	}

	s.root.run(t, s.cli("s3api", "create-bucket", "--bucket", bucket, "--create-bucket-configuration", "LocationConstraint=low:"+extOffer)...)
	before := s.snapshot(t)
	s.root.run(t, s.cli("s3", "sync", up, "s3://"+bucket+"/")...)
	s.mustLandOn(t, "uploads to a low:"+extOffer+" bucket", before, s.ext)
	extFilled := s.ext.blobs(t)
	bucketBlobs := added(before[extOffer], extFilled)

	s.root.run(t, s.cli("s3api", "put-bucket-tagging", "--bucket", bucket, "--tagging", "TagSet=[{Key=coffre:sensitivity,Value=high}]")...)

	// New writes go to the new offer at once, while the old blobs move.
	late := randomBytes(200*kib, 43)
	if _, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("late.bin"), Body: bytes.NewReader(late)}); err != nil {
		t.Fatalf("PutObject %s/late.bin right after the raise: %v", bucket, err)
	}
	if gained := added(extFilled, s.ext.blobs(t)); len(gained) > 0 {
		t.Fatalf("a write after raising the bucket to high went to the external offer (%d new blobs %v)", len(gained), gained)
	}
	objects["late.bin"] = late
	keys := slices.Sorted(maps.Keys(objects))

	// Reads keep working until the migration ends: one object per poll.
	// The migration survives a restart of the server.
	deadline := time.Now().Add(migrationTimeout)
	var out string
	inProgress, restarted := 0, false
	for i := 0; ; i++ {
		key := keys[i%len(keys)]
		got, err := getObject(ctx, s.client, bucket, key)
		if err != nil {
			t.Fatalf("GET %s/%s during the migration: %v", bucket, key, err)
		}
		mustEqual(t, "GET "+bucket+"/"+key+" during the migration", got, objects[key])
		out = s.explainBucket(t, bucket)
		if lineWith(out, "migration: done") != "" || lineWith(out, "migration: none") != "" {
			break
		}
		inProgress++
		if !restarted {
			s.srv.Restart(t)
			restarted = true
		}
		if time.Now().After(deadline) {
			t.Fatalf("the migration did not finish within %v; last explain --bucket:\n%s", migrationTimeout, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the migration was seen under way by %d polls; the server restarted during it: %v", inProgress, restarted)
	mustHaveLine(t, "explain --bucket after the migration", out, "sensitivity", "high")
	mustHaveLine(t, "explain --bucket after the migration", out, "offer", swiftOffer)

	down := filepath.Join(tmp, "down")
	s.root.run(t, s.cli("s3", "sync", "s3://"+bucket+"/", down)...)
	n := 0
	err := filepath.WalkDir(down, func(p string, d iofs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(down, p)
		key := filepath.ToSlash(rel)
		want, ok := objects[key]
		if !ok {
			return fmt.Errorf("unexpected object %s", key)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		mustEqual(t, "GET "+bucket+"/"+key+" after the migration", got, want)
		n++
		return nil
	})
	if err != nil {
		t.Fatalf("aws s3 sync of the bucket after the migration: %v", err)
	}
	if n != len(objects) {
		t.Fatalf("aws s3 sync of the bucket after the migration got %d objects, want %d", n, len(objects))
	}
	// The old copies may outlive the migration by the grace period that
	// lets GETs under way finish (--gc-grace 1s), and no longer.
	var extNow map[string]bool
	for deadline := time.Now().Add(janitorWait); ; {
		extNow = s.ext.blobs(t)
		left := kept(bucketBlobs, extNow)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after the migration, %d of the bucket's %d blobs are still on the external offer: %v", janitorWait, len(left), len(bucketBlobs), left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if gained := added(extFilled, extNow); len(gained) > 0 {
		t.Fatalf("after the migration the external offer has %d new blobs %v, want none", len(gained), gained)
	}
	if lost := added(extNow, before[extOffer]); len(lost) > 0 {
		t.Fatalf("the migration removed %d blobs of other buckets from the external offer: %v", len(lost), lost)
	}
	// The objects read back whole and are on no other offer: Swift holds them.
	if gained := added(before[diskOffer], s.disk.blobs(t)); len(gained) > 0 {
		t.Fatalf("the migration wrote %d blobs to offer %s, want them on %s", len(gained), diskOffer, swiftOffer)
	}
	if gained := added(before[swiftOffer], s.swift.blobs(t)); len(gained) == 0 {
		t.Fatalf("offer %s gained no blob from the migration", swiftOffer)
	}

	t.Run("lower=refused", func(t *testing.T) {
		stderr := s.root.fail(t, "PlacementRefused", s.cli("s3api", "put-bucket-tagging", "--bucket", bucket,
			"--tagging", "TagSet=[{Key=coffre:sensitivity,Value=low}]")...)
		if !strings.Contains(stderr, "lowering") {
			t.Fatalf("the refusal does not name the rule lowering:\n%s", stderr)
		}
		_, err := s.client.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{
			Bucket:  aws.String(bucket),
			Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("coffre:sensitivity"), Value: aws.String("low")}}},
		})
		mustAPIError(t, "SDK PutBucketTagging lowering to low without coffre:allow-lowering", err, 403, "PlacementRefused")
		var tags struct{ TagSet []struct{ Key, Value string } }
		if err := json.Unmarshal([]byte(s.root.run(t, s.cli("s3api", "get-bucket-tagging", "--bucket", bucket)...)), &tags); err != nil {
			t.Fatalf("get-bucket-tagging: %v", err)
		}
		if !slices.Contains(tags.TagSet, struct{ Key, Value string }{"coffre:sensitivity", "high"}) {
			t.Fatalf("after a refused lowering the tags are %+v, want coffre:sensitivity=high", tags.TagSet)
		}
	})
	t.Run("lower=allowed", func(t *testing.T) {
		s.root.run(t, s.cli("s3api", "put-bucket-tagging", "--bucket", bucket,
			"--tagging", "TagSet=[{Key=coffre:sensitivity,Value=low},{Key=coffre:allow-lowering,Value=true}]")...)
		out := s.explainBucket(t, bucket)
		mustHaveLine(t, "explain --bucket after lowering", out, "sensitivity", "low")
		// Low data may stay on the internal offer.
		mustHaveLine(t, "explain --bucket after lowering", out, "offer", swiftOffer)
	})
}

// testQuota fills a tenant's 1 MiB quota: the PUT that would exceed it is
// refused and stores nothing; a PUT that fits still works.
func (s *site) testQuota(t *testing.T) {
	const bucket = "quota-bucket"
	// The tenant is declared in coffre.yaml; the server may have made it.
	if res := s.admin.try(t, s.coffre, "tenant", "create", quotaTenant, "--config", s.config, "--data", s.srv.DataDir); res.err != nil &&
		!strings.Contains(res.stdout+res.stderr, "exist") {
		t.Fatalf("step failed:\n%s", res)
	}
	id, secret := credentialsIn(t, s.admin.run(t, s.coffre, "key", "create", "--tenant", quotaTenant, "--config", s.config, "--data", s.srv.DataDir))
	tenant := shell{env: withCredentials(testenv.AWSEnv(s.srv), id, secret)}
	c := newClient(s.srv.Endpoint, id, secret)
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	tmp := t.TempDir()

	tenant.run(t, s.cli("s3", "mb", "s3://"+bucket)...)
	first := randomBytes(600*kib, 50)
	tenant.run(t, s.cli("s3api", "put-object", "--bucket", bucket, "--key", "first", "--body", writeFile(t, tmp, "first", first))...)
	second := randomBytes(600*kib, 51) // 1200 KiB in all: over 1 MiB
	tenant.fail(t, "QuotaExceeded", s.cli("s3api", "put-object", "--bucket", bucket, "--key", "second", "--body", writeFile(t, tmp, "second", second))...)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("second"), Body: bytes.NewReader(second)})
	mustAPIError(t, "SDK PutObject over the quota", err, 403, "QuotaExceeded")
	// Checked on connections of their own: see connection=reused.
	check := newClient(s.srv.Endpoint, id, secret)
	if _, err := check.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("second")}); statusOf(err) != 404 {
		t.Fatalf("HeadObject of the refused object = %v, want 404", err)
	}
	// The refused bytes are not counted: 700 KiB in all fits.
	tenant.run(t, s.cli("s3api", "put-object", "--bucket", bucket, "--key", "third", "--body", writeFile(t, tmp, "third", randomBytes(100*kib, 52)))...)
	got, err := getObject(ctx, check, bucket, "first")
	if err != nil {
		t.Fatalf("GET %s/first: %v", bucket, err)
	}
	mustEqual(t, "GET "+bucket+"/first", got, first)

	// A PUT refused before its body is read must leave its connection fit
	// for the next request, or close it: SDKs send their next request on
	// it. One refusal in a few used to break it, hence the repetitions.
	t.Run("connection=reused", func(t *testing.T) {
		for i := range 100 {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("second"), Body: bytes.NewReader(second)})
			mustAPIError(t, fmt.Sprintf("PutObject over the quota #%d", i+1), err, 403, "QuotaExceeded")
			if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("first")}); err != nil {
				t.Fatalf("HeadObject %s/first after refused PutObject #%d, on the same client: %v", bucket, i+1, err)
			}
		}
	})
}

// testOutage stops the Swift proxy: a write to a high bucket fails with 503
// and is not diverted to another offer; once the proxy is back, writes
// work again.
func (s *site) testOutage(t *testing.T) {
	const bucket = "outage"
	s.root.run(t, s.cli("s3", "mb", "s3://"+bucket)...)
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout+recoveryTimeout)
	defer cancel()
	before := s.snapshot(t)
	body := randomBytes(300*kib, 60)

	s.sw.StopProxy(t)
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("during"), Body: bytes.NewReader(body)})
	mustAPIError(t, "SDK PutObject with the Swift proxy stopped", err, 503, "ServiceUnavailable")
	s.root.fail(t, "ServiceUnavailable", s.cli("s3api", "put-object", "--bucket", bucket, "--key", "during-cli",
		"--body", writeFile(t, t.TempDir(), "during", body))...)
	s.sw.StartProxy(t)

	for _, o := range []*offer{s.disk, s.ext} {
		if gained := added(before[o.name], o.blobs(t)); len(gained) > 0 {
			t.Fatalf("with the Swift offer down, offer %s gained %d blobs %v: a high write must fail, not go elsewhere", o.name, len(gained), gained)
		}
	}
	for _, key := range []string{"during", "during-cli"} {
		if _, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); statusOf(err) != 404 {
			t.Fatalf("HeadObject %s/%s, written while Swift was down = %v, want 404", bucket, key, err)
		}
	}

	deadline := time.Now().Add(recoveryTimeout)
	for {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("after"), Body: bytes.NewReader(body)})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PutObject still fails %v after the Swift proxy came back: %v", recoveryTimeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	got, err := getObject(ctx, s.client, bucket, "after")
	if err != nil {
		t.Fatalf("GET %s/after: %v", bucket, err)
	}
	mustEqual(t, "GET "+bucket+"/after", got, body)
	s.mustLandOn(t, "PutObject after the Swift proxy came back", before, s.swift)
}

// testUsage reads this month's usage report: a row per tenant and offer
// that holds its data.
func (s *site) testUsage(t *testing.T) {
	month := time.Now().UTC().Format("2006-01")
	out := s.admin.run(t, s.coffre, "usage", "--config", s.config, "--data", s.srv.DataDir, "--month", month)
	mustHaveLine(t, "coffre usage (the header)", out, "bytes", "objects", "cost")
	for _, row := range [][2]string{
		{"root", swiftOffer},      // high-default, medium-auto, raise-me, outage
		{"root", diskOffer},       // high-disk
		{"root", extOffer},        // low-external, low-external-hdr
		{quotaTenant, swiftOffer}, // quota-bucket
	} {
		mustHaveLine(t, "coffre usage --month "+month, out, row[0], row[1])
	}
}
