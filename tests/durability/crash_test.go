package durability_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/coffre-cloud/coffre/internal/testenv"
	"github.com/coffre-cloud/coffre/vault"
)

const (
	writers       = 8
	crashCycles   = 3
	keysPerWriter = 4 // few keys per writer, so that keys are overwritten
	partSize      = 5 * mib
	maxSinglePut  = 8 * mib
	// minInFlight is how many writes must be in progress when the server
	// is killed; the writers keep all of theirs busy, so it is reached at
	// once.
	minInFlight = 4
	// opTimeout bounds one S3 call; a hang fails it.
	opTimeout = 2 * time.Minute
	// janitorWait bounds the wait for the server to remove blobs that no
	// object references. Orphans of interrupted writes go in the sweep at
	// start; garbage of overwrites goes once it is older than --gc-grace
	// (1 s here), at the next pass (--gc-interval, 1 s).
	janitorWait = time.Minute
)

// body is one body written to a key: seed's stream, size bytes of it.
type body struct {
	seed      uint64
	size      int64
	sum       [32]byte
	multipart bool
}

func (b *body) String() string {
	if b == nil {
		return "none"
	}
	kind := "PutObject"
	if b.multipart {
		kind = "multipart"
	}
	return fmt.Sprintf("%s %d bytes sha256 %s", kind, b.size, hex.EncodeToString(b.sum[:8]))
}

// parts is the number of parts of a multipart body.
func (b *body) parts() int { return int((b.size + partSize - 1) / partSize) }

// keyState is what the client knows of a key: the body last acknowledged
// (nil: none, so the key must not exist), and the bodies written since
// without an acknowledgement, each of which may or may not have landed.
type keyState struct {
	acked   *body
	pending []body
}

// model is what the client knows of the bucket. Each writer writes only its
// own keys, one write at a time, so the order of a key's writes is known.
type model struct {
	mu   sync.Mutex
	keys map[string]*keyState
}

func (m *model) begin(key string, b body) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.keys[key]
	if st == nil {
		st = &keyState{}
		m.keys[key] = st
	}
	st.pending = append(st.pending, b)
}

func (m *model) ack(key string, b body) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.keys[key]
	st.acked, st.pending = &b, nil
}

// writeStats counts the outcomes of the writes of one cycle.
type writeStats struct {
	acked, cut, failed atomic.Int64
}

// crashRun is the state of TestCrashDuringConcurrentUploads across cycles.
type crashRun struct {
	t        *testing.T
	srv      *testenv.Server
	bucket   string
	seed     uint64
	m        model
	killed   atomic.Bool  // set before each kill: write errors are expected from then on
	inflight atomic.Int64 // writes (whole PutObject or multipart sequences) in progress
}

func TestCrashDuringConcurrentUploads(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("COFFRE_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 0, 64); err != nil {
			t.Fatalf("COFFRE_CRASH_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %#x (set COFFRE_CRASH_SEED to replay the same writes and kill times)", seed)
	// A short janitor period, so that leftovers are gone in seconds.
	srv := testenv.StartCoffre(t, testenv.Opts{Args: []string{"--gc-interval", "1s", "--gc-grace", "1s"}})
	r := &crashRun{t: t, srv: srv, bucket: "crash", seed: seed}
	r.m.keys = make(map[string]*keyState)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	createBucket(t, ctx, newClient(r.srv), r.bucket)
	cancel()

	rng := rand.New(rand.NewPCG(seed, 0))
	for cycle := 1; cycle <= crashCycles; cycle++ {
		delay := 500*time.Millisecond + time.Duration(rng.Int64N(int64(2500*time.Millisecond)))
		r.writeAndKill(cycle, delay)
		if t.Failed() {
			return
		}
		r.srv.Restart(t)
		r.verify(cycle)
		if t.Failed() {
			return
		}
	}
	r.checkLeftovers()
}

// writeAndKill runs the writers, kills the server after delay while writes
// are in flight, and waits for the writers to notice.
func (r *crashRun) writeAndKill(cycle int, delay time.Duration) {
	t := r.t
	c := newClient(r.srv)
	r.killed.Store(false)
	var st writeStats
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range writers {
		rng := rand.New(rand.NewPCG(r.seed, uint64(cycle)<<8|uint64(g)))
		wg.Go(func() { r.writer(c, cycle, g, rng, stop, &st) })
	}
	defer wg.Wait() // also on a failure below: the writers end with the server

	// The delay sets where in the writes the crash falls: it is what the
	// test varies, not a wait for something to happen.
	timer := time.NewTimer(delay)
	<-timer.C
	err := poll(context.Background(), 10*time.Second, time.Millisecond, func() (bool, error) {
		return r.inflight.Load() >= minInFlight, nil
	})
	inflight := r.inflight.Load()
	r.killed.Store(true)
	r.srv.Kill()
	close(stop)
	if err != nil {
		t.Fatalf("cycle %d: %d writes in flight after %v, want at least %d to kill the server under load", cycle, inflight, delay, minInFlight)
	}
	wg.Wait()

	cut := 0
	for _, ks := range r.m.keys {
		if len(ks.pending) > 0 {
			cut++
		}
	}
	t.Logf("cycle %d: killed after %v with %d writes in flight; %d writes acknowledged, %d cut by the kill (%d keys unresolved), %d failed before it",
		cycle, delay.Round(time.Millisecond), inflight, st.acked.Load(), st.cut.Load(), cut, st.failed.Load())
	if cut < 2 {
		t.Errorf("cycle %d: only %d keys had a write cut by the kill, want at least 2: the crash tested no interrupted upload", cycle, cut)
	}
}

// writer writes random bodies to its keys until stop is closed.
func (r *crashRun) writer(c *s3.Client, cycle, g int, rng *rand.Rand, stop <-chan struct{}, st *writeStats) {
	for n := uint64(0); ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		if r.killed.Load() {
			return // the server is gone: a new write would only fail
		}
		key := fmt.Sprintf("w%d/k%d", g, rng.IntN(keysPerWriter))
		b := body{seed: r.seed ^ uint64(cycle)<<56 ^ uint64(g)<<48 ^ n, multipart: rng.IntN(4) == 0}
		if b.multipart {
			b.size = int64(1+rng.IntN(2))*partSize + kib + rng.Int64N(partSize-kib)
		} else {
			b.size = kib + rng.Int64N(maxSinglePut-kib+1)
		}
		b.sum = sumOf(b.seed, b.size)
		r.m.begin(key, b)
		r.inflight.Add(1)
		err := r.write(c, key, &b)
		r.inflight.Add(-1)
		switch {
		case err == nil:
			r.m.ack(key, b)
			st.acked.Add(1)
		case r.killed.Load():
			st.cut.Add(1)
		default:
			st.failed.Add(1)
			r.t.Errorf("writing %s (%v) failed while the server was running: %v", key, &b, err)
		}
	}
}

// write stores b under key with PutObject or a multipart upload, and
// returns nil once the server has acknowledged it.
func (r *crashRun) write(c *s3.Client, key string, b *body) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if !b.multipart {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(r.bucket),
			Key:           aws.String(key),
			Body:          newStream(b.seed, 0, b.size),
			ContentLength: aws.Int64(b.size),
		})
		return err
	}
	cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(r.bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("CreateMultipartUpload: %w", err)
	}
	var parts []types.CompletedPart
	for i, off := int32(1), int64(0); off < b.size; i, off = i+1, off+partSize {
		n := min(partSize, b.size-off)
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:        aws.String(r.bucket),
			Key:           aws.String(key),
			UploadId:      cu.UploadId,
			PartNumber:    aws.Int32(i),
			Body:          newStream(b.seed, off, n),
			ContentLength: aws.Int64(n),
		})
		if err != nil {
			return fmt.Errorf("UploadPart %d: %w", i, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(i), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(r.bucket),
		Key:             aws.String(key),
		UploadId:        cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("CompleteMultipartUpload: %w", err)
	}
	return nil
}

// verify reads every key back after a restart and checks it against the
// model, then settles each key's state to what it holds: a cut write either
// landed whole or not at all, and is known from now on.
func (r *crashRun) verify(cycle int) {
	t := r.t
	t.Helper()
	c := newClient(r.srv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	listed := listObjects(t, ctx, c, r.bucket)

	keys := make([]string, 0, len(r.m.keys))
	for k := range r.m.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var landed, lost, objects int
	for _, key := range keys {
		st := r.m.keys[key]
		got, err := readObject(ctx, c, r.bucket, key)
		if err != nil {
			t.Errorf("cycle %d: after the restart, GET %s: %v (acknowledged: %v; cut: %d writes)", cycle, key, err, st.acked, len(st.pending))
			continue
		}
		var match *body
		switch {
		case got == nil && st.acked != nil:
			t.Errorf("cycle %d: after the restart, %s does not exist; its acknowledged write (%v) is lost", cycle, key, st.acked)
			continue
		case got == nil:
		case st.acked != nil && got.sum == st.acked.sum:
			match = st.acked
		default:
			for i := range st.pending {
				if got.sum == st.pending[i].sum {
					match = &st.pending[i]
				}
			}
			if match == nil {
				t.Errorf("cycle %d: after the restart, %s holds %d bytes (sha256 %s) that match none of its bodies: acknowledged %v, cut %v",
					cycle, key, got.size, hex.EncodeToString(got.sum[:8]), st.acked, st.pending)
				continue
			}
		}
		if len(st.pending) > 0 {
			if match != st.acked {
				landed++
			} else {
				lost++
			}
		}
		if match != nil {
			objects++
		}
		st.acked, st.pending = match, nil
	}

	// The listing shows exactly the objects that read back whole.
	for key, o := range listed {
		st := r.m.keys[key]
		switch {
		case st == nil || st.acked == nil:
			t.Errorf("cycle %d: ListObjectsV2 shows %s (%d bytes), which GET does not find", cycle, key, aws.ToInt64(o.Size))
		case aws.ToInt64(o.Size) != st.acked.size:
			t.Errorf("cycle %d: ListObjectsV2 shows %s with %d bytes; it reads back with %d", cycle, key, aws.ToInt64(o.Size), st.acked.size)
		case st.acked.multipart && !strings.HasSuffix(aws.ToString(o.ETag), fmt.Sprintf(`-%d"`, st.acked.parts())):
			t.Errorf("cycle %d: ListObjectsV2 shows %s with ETag %s, want a multipart ETag of %d parts", cycle, key, aws.ToString(o.ETag), st.acked.parts())
		}
	}
	for _, key := range keys {
		if st := r.m.keys[key]; st.acked != nil {
			if _, ok := listed[key]; !ok {
				t.Errorf("cycle %d: %s reads back (%v) but ListObjectsV2 does not show it", cycle, key, st.acked)
			}
		}
	}
	t.Logf("cycle %d: after the restart, %d objects read back intact; of the cut writes, %d landed whole and %d left the key as it was",
		cycle, objects, landed, lost)
}

// readResult is what a GET returned: a hash and a size, nil for 404.
type readResult struct {
	sum  [32]byte
	size int64
}

func readObject(ctx context.Context, c *s3.Client, bucket, key string) (*readResult, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if statusOf(err) == 404 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	sum, n, err := readSum(out.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the body after %d bytes: %w", n, err)
	}
	if want := aws.ToInt64(out.ContentLength); n != want {
		return nil, fmt.Errorf("body has %d bytes, Content-Length %d", n, want)
	}
	return &readResult{sum, n}, nil
}

// listObjects returns every object of the bucket, by key.
func listObjects(t *testing.T, ctx context.Context, c *s3.Client, bucket string) map[string]types.Object {
	t.Helper()
	objs := make(map[string]types.Object)
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListObjectsV2 %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			objs[aws.ToString(o.Key)] = o
		}
	}
	return objs
}

// referencedBlobs counts the blobs that the objects and unfinished uploads
// of a bucket hold, as a client sees them: one per single-part object larger
// than coffre serve's --inline-max (smaller ones live in the metadata
// store), one per part of a multipart object (its ETag ends in -N) and of an
// unfinished upload.
func referencedBlobs(t *testing.T, ctx context.Context, c *s3.Client, bucket string) (blobs, objects, uploads int) {
	t.Helper()
	for _, o := range listObjects(t, ctx, c, bucket) {
		objects++
		etag := strings.Trim(aws.ToString(o.ETag), `"`)
		if _, n, ok := strings.Cut(etag, "-"); ok {
			parts, err := strconv.Atoi(n)
			if err != nil || parts < 1 {
				t.Fatalf("object %s has ETag %q: not a multipart ETag (md5-N)", aws.ToString(o.Key), etag)
			}
			blobs += parts
		} else if aws.ToInt64(o.Size) > vault.DefaultInlineMax {
			blobs++ // smaller objects written in one PUT are inline: no blob
		}
	}
	up := s3.NewListMultipartUploadsPaginator(c, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	for up.HasMorePages() {
		page, err := up.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListMultipartUploads %s: %v", bucket, err)
		}
		for _, u := range page.Uploads {
			uploads++
			pp := s3.NewListPartsPaginator(c, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
			for pp.HasMorePages() {
				parts, err := pp.NextPage(ctx)
				if err != nil {
					t.Fatalf("ListParts %s upload %s: %v", aws.ToString(u.Key), aws.ToString(u.UploadId), err)
				}
				blobs += len(parts.Parts)
			}
		}
	}
	return blobs, objects, uploads
}

// checkLeftovers checks that, once the janitor has run, the local offer
// holds exactly the blobs that objects and unfinished uploads reference:
// nothing that a cut write or an overwrite left behind.
func (r *crashRun) checkLeftovers() {
	t := r.t
	ctx, cancel := context.WithTimeout(context.Background(), janitorWait+time.Minute)
	defer cancel()
	c := newClient(r.srv)
	want, objects, uploads := referencedBlobs(t, ctx, c, r.bucket)
	offer := filepath.Join(r.srv.DataDir, "sites", "monaco", "offers", "local")
	start := time.Now()
	var files []string
	err := poll(ctx, janitorWait, 250*time.Millisecond, func() (bool, error) {
		var err error
		files, err = testenv.OfferFiles(offer)
		if err != nil {
			return false, err
		}
		if len(files) < want {
			return false, fmt.Errorf("the offer holds %d blob files, fewer than the %d that %d objects and %d unfinished uploads reference",
				len(files), want, objects, uploads)
		}
		return len(files) == want, nil
	})
	if err != nil {
		t.Fatalf("after the last restart: %v; the offer holds %d files, want %d (%d objects and %d unfinished uploads): %s",
			err, len(files), want, objects, uploads, strings.Join(files, " "))
	}
	t.Logf("the offer holds exactly the %d referenced blobs (%d objects, %d unfinished uploads), %v after the check began",
		want, objects, uploads, time.Since(start).Round(time.Second))
	tmp := filepath.Join(offer, "+tmp")
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatalf("reading the offer's temporary directory: %v", err)
	}
	if len(ents) != 0 {
		names := make([]string, len(ents))
		for i, e := range ents {
			names[i] = e.Name()
		}
		t.Errorf("%s holds %d entries with no upload in progress, want none: %v", tmp, len(ents), names)
	}
}

// poll calls cond every interval until it reports true, returns an error,
// or timeout passes.
func poll(ctx context.Context, timeout, interval time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still not the case after %v", timeout)
		case <-tick.C:
		}
	}
}
