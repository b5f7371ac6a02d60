package durability_test

import (
	"context"
	"crypto/sha256"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/coffre-cloud/coffre/internal/testenv"
)

// TestCrashDuringMigration raises a bucket's sensitivity, which moves its
// blobs from the embedded site's external offer to its internal one, kills
// the server with SIGKILL while they move, and restarts it: the migration
// resumes by itself and ends with every object byte-identical on the
// internal offer and nothing of the bucket left on the external one.
func TestCrashDuringMigration(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: writes 96 MiB and kills a server")
	}
	const (
		objects = 24
		size    = 4 * mib
	)
	srv := testenv.StartCoffre(t, testenv.Opts{Args: []string{"--gc-interval", "1s", "--gc-grace", "1s"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := newClient(srv)
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("open-data"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "low:external-local"}})
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string][32]byte{}
	for i := range objects {
		key := "obj-" + string(rune('a'+i))
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("open-data"), Key: aws.String(key),
			Body: newStream(uint64(i), 0, size), ContentLength: aws.Int64(size)})
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, newStream(uint64(i), 0, size))
		sums[key] = [32]byte(h.Sum(nil))
	}
	sites := filepath.Join(srv.DataDir, "sites", "monaco", "offers")
	external, internal := filepath.Join(sites, "external"), filepath.Join(sites, "local")
	count := func(dir string) int {
		files, err := testenv.OfferFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		return len(files)
	}
	if n := count(external); n != objects {
		t.Fatalf("the external offer holds %d blobs, want %d", n, objects)
	}

	_, err = c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("open-data"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("coffre:sensitivity"), Value: aws.String("high")}}}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	srv.Kill()
	t.Logf("killed with %d blob files on the internal offer and %d on the external one", count(internal), count(external))

	srv.Restart(t)
	coffre := testenv.BuildCoffre(t)
	explain := func() string {
		out, err := exec.CommandContext(ctx, coffre, "placement", "explain", "--data", srv.DataDir, "--bucket", "open-data").CombinedOutput()
		if err != nil {
			t.Fatalf("coffre placement explain: %v\n%s", err, out)
		}
		return string(out)
	}
	var last string
	err = poll(ctx, time.Minute, 200*time.Millisecond, func() (bool, error) {
		last = explain()
		return strings.Contains(last, "migration: none"), nil
	})
	if err != nil {
		t.Fatalf("the migration did not end after the restart: %v\n%s\n%s", err, last, srv.Output())
	}
	if !strings.Contains(last, "sensitivity high, offer monaco-local") {
		t.Fatalf("after the migration:\n%s", last)
	}
	c = newClient(srv)
	for key, want := range sums {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("open-data"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, out.Body)
		out.Body.Close()
		if err != nil || [32]byte(h.Sum(nil)) != want {
			t.Fatalf("GET %s after the migration: wrong bytes (%v)", key, err)
		}
	}
	// The old copies go after the grace period; copies a crash left
	// unreferenced went in the sweep at start.
	err = poll(ctx, janitorWait, 250*time.Millisecond, func() (bool, error) {
		return count(external) == 0 && count(internal) == objects, nil
	})
	if err != nil {
		t.Fatalf("%v: the external offer holds %d blob files (want 0), the internal one %d (want %d)", err, count(external), count(internal), objects)
	}
}
