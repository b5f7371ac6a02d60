package torture_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/vault"
)

const (
	crashClients = 8
	// crashShare is the part of TORTURE_TIME the crash test takes.
	crashShare = 0.75
	// crashShort is the budget of the short variant.
	crashShort = 30 * time.Second
	// janitorWait bounds the wait, at the end, for the janitor to remove
	// the blobs of overwritten and deleted objects: older than --gc-grace,
	// at its next pass (--gc-interval).
	janitorWait = time.Minute
	// sweepTimeout bounds the reads of every key after a restart.
	sweepTimeout = 5 * time.Minute
)

// TestCrashTorture runs the random workload against a real `coffre serve`
// and kills it with SIGKILL at random times (the seed's), with operations in
// flight, restarting it on the same data directory each time. After each
// restart every key is read and the bucket and its uploads listed; at the
// end, the offer must hold exactly the blobs that objects and unfinished
// uploads reference.
func TestCrashTorture(t *testing.T) {
	s := settingsFor(t, crashShare, crashShort)
	stats := &counters{}
	w := newWorkload(t, s.seed, crashClients, stats)
	w.opTimeout, w.maxSingle, w.maxParts = 2*time.Minute, 6*mib, 3
	start := time.Now()
	// A short janitor period, so that garbage goes while the clients
	// run. The grace is what a GET already under way may take to read
	// replaced bytes: longer than any GET here takes, even on a busy
	// machine.
	srv := testenv.StartCoffre(t, testenv.Opts{Args: []string{"--gc-interval", "1s", "--gc-grace", "3s"}})

	var mu sync.Mutex
	client := newCrashClient(srv, w)
	w.client = func(int) *s3.Client {
		mu.Lock()
		defer mu.Unlock()
		return client
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(w.bucket)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", w.bucket, err)
	}
	cancel()

	// The final crash, restart, sweep and leftovers check get the end of
	// the budget; the workload the rest, with a kill every few seconds.
	reserve := min(s.budget/5, 40*time.Second)
	workEnd := start.Add(s.budget - reserve)
	meanGap := min(max((s.budget-reserve)/15, 3*time.Second), 10*time.Second)
	rng := rand.New(rand.NewPCG(s.seed, 0x6b696c6c))

	crash := func() {
		n := w.gate.pause()
		srv.Kill()
		stats.add("crashes", 1)
		stats.add("crash_inflight_ops", int64(n))
		if err := w.gate.drain(time.Minute); err != nil {
			t.Fatalf("after a kill: %v", err)
		}
	}
	restart := func() {
		srv.Restart(t)
		mu.Lock()
		client = newCrashClient(srv, w)
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), sweepTimeout)
		defer cancel()
		w.sweep(ctx, w.client(0), w.gate.current())
	}

	clients := w.run(crashClients)
	t.Cleanup(func() { w.gate.stop(); clients.Wait() }) // after a t.Fatal too
	for {
		gap := meanGap/2 + time.Duration(rng.Int64N(int64(meanGap)))
		if time.Now().Add(gap).After(workEnd) {
			time.Sleep(time.Until(workEnd))
			break
		}
		time.Sleep(gap)
		crash()
		restart()
		w.gate.open()
	}
	// The last kill also falls among operations in flight; then the
	// clients stop, and the server restarts for the final checks.
	crash()
	w.gate.stop()
	clients.Wait()
	restart()
	checkLeftovers(t, w, srv)
	for _, sign := range []string{"panic serving request", "\npanic: ", "fatal error: "} {
		if strings.Contains(srv.Output(), sign) {
			w.violate("panic", "the server's output shows %q", strings.TrimSpace(sign))
		}
	}

	nAcked, nAmbiguous, nLanded, nVoid := w.m.outcomes()
	stats.add("writes.acknowledged", int64(nAcked))
	stats.add("writes.cut_or_failed", int64(nAmbiguous))
	stats.add("writes.cut_seen_landed", int64(nLanded))
	stats.add("writes.cut_seen_void", int64(nVoid))
	stats.add("uploads.finished", int64(w.uploads.nFinished))
	stats.add("violations", stats.sum("violations."))
	writeReport(t, "crash", []string{
		fmt.Sprintf("seed %#x", s.seed),
		fmt.Sprintf("budget %v", s.budget),
		fmt.Sprintf("elapsed %v", time.Since(start).Round(time.Second)),
		fmt.Sprintf("clients %d", crashClients),
		fmt.Sprintf("keys %d", len(w.keys)),
	}, stats)
	if stats.get("crashes") < 2 {
		t.Errorf("only %d crashes were injected in %v; want at least 2", stats.get("crashes"), s.budget)
	}
}

// newCrashClient returns an SDK client of srv with its own connections (a
// killed server's must not be reused), path-style, root credentials, a
// single attempt per request (so that a request cut by a kill fails rather
// than being retried against the next server), and no response checksum
// validation: the test checks every byte itself, and must see the bytes the
// server sent.
func newCrashClient(srv *testenv.Server, w *workload) *s3.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4 * crashClients
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(srv.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		Retryer:                    aws.NopRetryer{},
		RetryMaxAttempts:           1,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		HTTPClient:                 &http.Client{Transport: &inspector{next: tr, w: w}},
	})
}

// checkLeftovers checks that, once the janitor has run, the local offer
// holds exactly the blobs that objects and unfinished uploads reference:
// nothing that a cut write, an overwrite, a delete or an abort left behind.
// A client counts them as tests/durability does: one per single-part
// object larger than the server's inline maximum (smaller ones live in the
// metadata store), one per part of a multipart object (its ETag ends in
// -N) and of an unfinished upload.
func checkLeftovers(t *testing.T, w *workload, srv *testenv.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), janitorWait+time.Minute)
	defer cancel()
	c := w.client(0)
	want, objects, uploads, err := referencedBlobs(ctx, c, w.bucket)
	if err != nil {
		t.Fatalf("counting the referenced blobs: %v", err)
	}
	offer := filepath.Join(srv.DataDir, "sites", "monaco", "offers", "local")
	start := time.Now()
	var files []string
	for {
		files, err = testenv.OfferFiles(offer)
		if err != nil {
			t.Fatalf("listing the offer's files: %v", err)
		}
		if len(files) <= want || time.Since(start) > janitorWait {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	w.stats.add("leftovers.referenced_blobs", int64(want))
	w.stats.add("leftovers.files", int64(len(files)))
	if len(files) != want {
		w.violate("leftovers", "%v after the last restart, the offer holds %d blob files; %d objects and %d unfinished uploads reference %d",
			time.Since(start).Round(time.Second), len(files), objects, uploads, want)
	} else {
		t.Logf("the offer holds exactly the %d referenced blobs (%d objects, %d unfinished uploads), %v after the check began",
			want, objects, uploads, time.Since(start).Round(time.Millisecond))
	}
	ents, err := os.ReadDir(filepath.Join(offer, "+tmp"))
	if err != nil {
		t.Fatalf("reading the offer's temporary directory: %v", err)
	}
	if len(ents) != 0 {
		w.violate("leftovers", "the offer's +tmp holds %d entries with no upload in progress", len(ents))
	}
}

// referencedBlobs counts the blobs that the objects and unfinished uploads
// of a bucket hold, as a client sees them.
func referencedBlobs(ctx context.Context, c *s3.Client, bucket string) (blobs, objects, uploads int, err error) {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("ListObjectsV2: %w", err)
		}
		for _, o := range page.Contents {
			objects++
			_, n, multipart := strings.Cut(unquote(o.ETag), "-")
			switch {
			case multipart:
				parts, err := strconv.Atoi(n)
				if err != nil || parts < 1 {
					return 0, 0, 0, fmt.Errorf("object %s has ETag %s: not a multipart ETag", aws.ToString(o.Key), aws.ToString(o.ETag))
				}
				blobs += parts
			case aws.ToInt64(o.Size) > vault.DefaultInlineMax:
				blobs++
			default:
				// Kept in the metadata store: no blob on the offer.
			}
		}
	}
	up := s3.NewListMultipartUploadsPaginator(c, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	for up.HasMorePages() {
		page, err := up.NextPage(ctx)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("ListMultipartUploads: %w", err)
		}
		for _, u := range page.Uploads {
			uploads++
			pp := s3.NewListPartsPaginator(c, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
			for pp.HasMorePages() {
				parts, err := pp.NextPage(ctx)
				if err != nil {
					return 0, 0, 0, fmt.Errorf("ListParts %s: %w", aws.ToString(u.UploadId), err)
				}
				blobs += len(parts.Parts)
			}
		}
	}
	return blobs, objects, uploads, nil
}
