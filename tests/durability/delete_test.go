package durability_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/coffre-cloud/coffre/internal/testenv"
)

// TestAcknowledgedDeleteSurvivesCrash deletes objects (DeleteObject and
// DeleteObjects, in an unversioned and a versioned bucket), kills the server
// with SIGKILL right after the last acknowledgement, restarts it, and checks
// that every deleted object is still deleted and every other one intact.
func TestAcknowledgedDeleteSurvivesCrash(t *testing.T) {
	srv := testenv.StartCoffre(t, testenv.Opts{})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	c := newClient(srv)

	const objects = 12
	buckets := []struct {
		name      string
		versioned bool
	}{
		{"plain", false},
		{"versioned", true},
	}
	type object struct {
		bucket, key string
		body        body
		deleted     bool
	}
	var all []*object
	for bi, bk := range buckets {
		createBucket(t, ctx, c, bk.name)
		if bk.versioned {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
				Bucket:                  aws.String(bk.name),
				VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
			})
			if err != nil {
				t.Fatalf("PutBucketVersioning %s: %v", bk.name, err)
			}
		}
		var batch []types.ObjectIdentifier
		for i := range objects {
			o := &object{bucket: bk.name, key: fmt.Sprintf("obj-%02d", i)}
			o.body.seed = uint64(bi)<<32 | uint64(i)
			o.body.size = int64(1+i) * 5 * kib
			o.body.sum = sumOf(o.body.seed, o.body.size)
			_, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket:        aws.String(o.bucket),
				Key:           aws.String(o.key),
				Body:          newStream(o.body.seed, 0, o.body.size),
				ContentLength: aws.Int64(o.body.size),
			})
			if err != nil {
				t.Fatalf("PutObject %s/%s: %v", o.bucket, o.key, err)
			}
			all = append(all, o)
			// A third goes with DeleteObject, a third with one DeleteObjects.
			switch i % 3 {
			case 0:
				o.deleted = true
			case 1:
				o.deleted = true
				batch = append(batch, types.ObjectIdentifier{Key: aws.String(o.key)})
			}
		}
		for _, o := range all {
			if o.bucket != bk.name || !o.deleted || containsKey(batch, o.key) {
				continue
			}
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(o.key)}); err != nil {
				t.Fatalf("DeleteObject %s/%s: %v", o.bucket, o.key, err)
			}
		}
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bk.name), Delete: &types.Delete{Objects: batch}})
		if err != nil {
			t.Fatalf("DeleteObjects %s: %v", bk.name, err)
		}
		if len(out.Errors) > 0 || len(out.Deleted) != len(batch) {
			t.Fatalf("DeleteObjects %s of %d keys: %d deleted, errors %v", bk.name, len(batch), len(out.Deleted), out.Errors)
		}
	}

	// The last acknowledgement above is the crash's cue: no pause, no
	// clean shutdown.
	srv.Kill()
	srv.Restart(t)
	c = newClient(srv)

	for _, o := range all {
		got, err := readObject(ctx, c, o.bucket, o.key)
		switch {
		case err != nil:
			t.Errorf("after the crash, GET %s/%s: %v", o.bucket, o.key, err)
		case o.deleted && got != nil:
			t.Errorf("after the crash, %s/%s reads back (%d bytes); its delete was acknowledged before the crash", o.bucket, o.key, got.size)
		case !o.deleted && got == nil:
			t.Errorf("after the crash, %s/%s does not exist; it was written and never deleted", o.bucket, o.key)
		case !o.deleted && got.sum != o.body.sum:
			t.Errorf("after the crash, %s/%s reads back %d bytes that differ from the %d written", o.bucket, o.key, got.size, o.body.size)
		}
	}
	for _, bk := range buckets {
		listed := listObjects(t, ctx, c, bk.name)
		for _, o := range all {
			if o.bucket != bk.name {
				continue
			}
			if _, ok := listed[o.key]; ok == o.deleted {
				t.Errorf("after the crash, ListObjectsV2 %s shows %s: %v; want %v (deleted: %v)", bk.name, o.key, ok, !o.deleted, o.deleted)
			}
		}
		if !bk.versioned {
			continue
		}
		// In a versioned bucket a delete is a marker on top of the
		// version, which must both be there.
		vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bk.name)})
		if err != nil {
			t.Fatalf("ListObjectVersions %s: %v", bk.name, err)
		}
		markers := make(map[string]bool)
		for _, m := range vs.DeleteMarkers {
			if aws.ToBool(m.IsLatest) {
				markers[aws.ToString(m.Key)] = true
			}
		}
		versions := make(map[string]int)
		for _, v := range vs.Versions {
			versions[aws.ToString(v.Key)]++
		}
		for _, o := range all {
			if o.bucket != bk.name {
				continue
			}
			if markers[o.key] != o.deleted {
				t.Errorf("after the crash, %s/%s has a latest delete marker: %v, want %v", o.bucket, o.key, markers[o.key], o.deleted)
			}
			if versions[o.key] != 1 {
				t.Errorf("after the crash, %s/%s has %d versions, want 1 (deleting a key in a versioned bucket keeps its versions)", o.bucket, o.key, versions[o.key])
			}
		}
	}
}

func containsKey(ids []types.ObjectIdentifier, key string) bool {
	for _, id := range ids {
		if aws.ToString(id.Key) == key {
			return true
		}
	}
	return false
}
