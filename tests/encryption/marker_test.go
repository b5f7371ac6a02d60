package encryption_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/coffre-cloud/coffre/crypt"
	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/vault"
)

// markedPayload returns n bytes of pseudo-random filler with marker written
// at offset 0 and then every 4 KiB (and so in every chunk of the payload
// stream), whole copies only.
func markedPayload(n int, seed uint64, marker []byte) []byte {
	b := payload(n, seed)
	for off := 0; off+len(marker) <= n; off += 4 * kib {
		copy(b[off:], marker)
	}
	return b
}

// TestContentNeverAtRest writes objects whose content repeats a unique
// marker (single PUTs of 0 bytes to several MiB around the 64 KiB chunk
// size, a multipart upload, a server-side copy) to a real server, then
// reads every byte of every file in its data directory: the blobs of the
// offer, the metadata database and its journal, the keyring. The marker
// must be nowhere, and the blobs must be exactly the payload streams of the
// plaintexts (crypt.CiphertextSize of each), no more, no fewer.
//
// Object names and user metadata are another test's subject: the names
// below carry no marker.
func TestContentNeverAtRest(t *testing.T) {
	srv := testenv.StartCoffre(t, testenv.Opts{})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	c := newClient(srv.Endpoint, srv.AccessKey, srv.SecretKey)
	marker := []byte("coffre-plaintext-marker-" + randomHex(t, 16))

	const bucket = "at-rest"
	createBucket(t, ctx, c, bucket)

	// blobSizes collects the plaintext size of every blob the server must
	// hold at the end: one per PUT over the inline limit and per copy, one
	// per multipart part.
	var blobSizes []int64
	objects := map[string][]byte{}

	sizes := []int{
		0, 1, len(marker), 1000,
		crypt.ChunkSize - 1, crypt.ChunkSize, crypt.ChunkSize + 1,
		2*crypt.ChunkSize + 17, 1 * mib, 3*mib + 5,
	}
	for i, n := range sizes {
		key := fmt.Sprintf("single-%02d", i)
		body := markedPayload(n, uint64(i), marker)
		putObject(t, ctx, c, bucket, key, body)
		objects[key] = body
		// Small objects are kept, encrypted, in the metadata store,
		// which the scan below covers too.
		if int64(n) > vault.DefaultInlineMax {
			blobSizes = append(blobSizes, int64(n))
		}
	}

	// Multipart: two 5 MiB parts and a short last one.
	partSizes := []int{5 * mib, 5 * mib, 1*mib + 3}
	const mpKey = "multipart"
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(mpKey)})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var mp []byte
	var done []types.CompletedPart
	for i, n := range partSizes {
		part := markedPayload(n, 100+uint64(i), marker)
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(bucket), Key: aws.String(mpKey), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
		mp = append(mp, part...)
		blobSizes = append(blobSizes, int64(n))
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(mpKey), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	objects[mpKey] = mp

	// A server-side copy decrypts the three parts and writes one new blob.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy"), CopySource: aws.String(bucket + "/" + mpKey)})
	if err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	objects["copy"] = mp
	blobSizes = append(blobSizes, int64(len(mp)))

	for key, body := range objects {
		getObject(t, ctx, c, bucket, key, body)
	}

	site := filepath.Join(srv.DataDir, "sites", "monaco")
	for _, f := range []string{filepath.Join(site, "meta.db"), filepath.Join(site, "keyring")} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("expected file of the site: %v", err)
		}
	}

	// Blobs: exactly one payload stream per blob, of the exact size.
	got := blobFiles(t, filepath.Join(site, "offers", "local"))
	var gotSizes, wantSizes []int64
	var gotTotal, wantTotal int64
	for _, n := range got {
		gotSizes = append(gotSizes, n)
		gotTotal += n
	}
	for _, n := range blobSizes {
		wantSizes = append(wantSizes, crypt.CiphertextSize(n))
		wantTotal += crypt.CiphertextSize(n)
	}
	slices.Sort(gotSizes)
	slices.Sort(wantSizes)
	if gotTotal != wantTotal {
		t.Errorf("blob files hold %d bytes in all, want %d (the payload streams of %d blobs)", gotTotal, wantTotal, len(blobSizes))
	}
	if !slices.Equal(gotSizes, wantSizes) {
		t.Errorf("blob file sizes = %v, want %v", gotSizes, wantSizes)
	}

	// Every file of the data directory, first while the server runs (the
	// SQLite journal included), then once it has stopped and checkpointed.
	scan := func(when string) {
		t.Helper()
		files := filesUnder(t, srv.DataDir)
		if len(files) == 0 {
			t.Fatalf("%s: no file under %s", when, srv.DataDir)
		}
		for path := range files {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if i := bytes.Index(b, marker); i >= 0 {
				t.Errorf("%s: %s holds the content marker in clear at offset %d, want it nowhere at rest", when, path, i)
			}
		}
	}
	scan("server running")
	if err := srv.Stop(); err != nil {
		t.Fatalf("stopping the server: %v", err)
	}
	scan("server stopped")
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
