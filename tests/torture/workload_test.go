package torture_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// workload is the random traffic of both torture tests: clients that each
// loop over random operations on a shared set of keys, and check every
// answer against the model. Each client prefers the keys of its own prefix
// (cN/), so that most keys see a sequence of writes, and also writes the
// others', so that some writes to a key overlap.
type workload struct {
	t      *testing.T
	seed   uint64
	bucket string
	keys   []string
	m      *model
	stats  *counters
	gate   *gate
	// client returns the S3 client of client id for its next operation:
	// in the crash test, one per server process.
	client func(id int) *s3.Client
	// faulty is set when the backend fails on purpose: an error answer is
	// then expected, not a violation (it must still be a clean one).
	faulty    bool
	opTimeout time.Duration
	maxSingle int64 // the largest PutObject body
	maxParts  int   // parts of a completed multipart upload, at most
	uploads   uploadBook

	mu      sync.Mutex
	printed map[string]int // violations printed so far, by kind
}

// Workload shapes.
const (
	keysPerClient = 6
	// maxPrinted is how many violations of each kind are printed in full;
	// the rest are counted. Per kind, so that a flood of one kind hides no
	// other.
	maxPrinted = 10
)

func newWorkload(t *testing.T, seed uint64, clients int, stats *counters) *workload {
	w := &workload{t: t, seed: seed, bucket: "torture", stats: stats, gate: newGate(), printed: make(map[string]int)}
	for c := range clients {
		for k := range keysPerClient {
			w.keys = append(w.keys, fmt.Sprintf("c%d/k%d", c, k))
		}
	}
	w.m = newModel(w.keys, nil)
	w.uploads.ups = make(map[string]*upload)
	return w
}

// violate records a violation, which fails the test; the first ones of
// each kind are printed with their story, the others only counted.
func (w *workload) violate(kind, format string, args ...any) {
	w.stats.add("violations."+kind, 1)
	w.mu.Lock()
	w.printed[kind]++
	n := w.printed[kind]
	w.mu.Unlock()
	switch {
	case n <= maxPrinted:
		w.t.Errorf("VIOLATION %s (seed %#x): %s", kind, w.seed, fmt.Sprintf(format, args...))
	case n == maxPrinted+1:
		w.t.Errorf("more %s violations: counted, not printed", kind)
	}
}

func (w *workload) report(v *violation, what string) {
	w.violate(v.kind, "%s: %s", what, v.detail)
}

// run runs clients until the gate stops them, and returns when they are
// done.
func (w *workload) run(clients int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for id := range clients {
		rng := rand.New(rand.NewPCG(w.seed, uint64(id)+1))
		wg.Go(func() { w.loop(id, rng) })
	}
	return &wg
}

// ops are the operations a client picks from, with their weights.
var ops = []struct {
	name   string
	weight int
}{
	{"put", 22}, {"multipart", 5}, {"multipart_abort", 3}, {"copy", 8},
	{"delete", 9}, {"delete_batch", 3}, {"get", 24}, {"get_range", 8},
	{"head", 6}, {"list", 8},
}

func (w *workload) loop(id int, rng *rand.Rand) {
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	for {
		epoch, ok := w.gate.enter()
		if !ok {
			return
		}
		pick := rng.IntN(total)
		var op string
		for _, o := range ops {
			if pick < o.weight {
				op = o.name
				break
			}
			pick -= o.weight
		}
		w.do(w.client(id), op, w.pickKey(id, rng), rng, epoch)
		w.gate.exit()
	}
}

func (w *workload) pickKey(id int, rng *rand.Rand) string {
	if rng.IntN(4) == 0 {
		return w.keys[rng.IntN(len(w.keys))]
	}
	return w.keys[id*keysPerClient+rng.IntN(keysPerClient)]
}

func (w *workload) do(c *s3.Client, op, key string, rng *rand.Rand, epoch int) {
	ctx, cancel := context.WithTimeout(context.Background(), w.opTimeout)
	defer cancel()
	switch op {
	case "put":
		w.put(ctx, c, key, rng, epoch)
	case "multipart":
		w.multipart(ctx, c, key, rng, epoch, true)
	case "multipart_abort":
		w.multipart(ctx, c, key, rng, epoch, false)
	case "copy":
		src := w.keys[rng.IntN(len(w.keys))]
		if src == key {
			src = w.keys[(slices.Index(w.keys, key)+1)%len(w.keys)]
		}
		w.copy(ctx, c, src, key, epoch)
	case "delete":
		w.delete(ctx, c, key, epoch)
	case "delete_batch":
		batch := []string{key}
		for range 1 + rng.IntN(4) {
			if k := w.keys[rng.IntN(len(w.keys))]; !slices.Contains(batch, k) {
				batch = append(batch, k)
			}
		}
		w.deleteBatch(ctx, c, batch, epoch)
	case "get":
		w.get(ctx, c, key, epoch)
	case "get_range":
		w.getRange(ctx, c, key, rng, epoch)
	case "head":
		w.head(ctx, c, key, epoch)
	case "list":
		prefix, v1 := "", false
		switch rng.IntN(3) {
		case 1:
			prefix = key[:strings.IndexByte(key, '/')+1]
		case 2:
			v1 = true
		}
		listed := w.list(ctx, c, prefix, int32(1+rng.IntN(40)), v1, epoch)
		// Listed objects must read back: read two of them.
		for range min(2, len(listed)) {
			w.get(ctx, c, listed[rng.IntN(len(listed))], epoch)
		}
	default:
		panic("unknown op " + op)
	}
}

// failure counts a failed request of op and reports whether it was cut by
// a kill. An error while the server was up is a violation, unless the
// backend fails on purpose; no answer within opTimeout always is (a hang).
func (w *workload) failure(op string, err error, epoch int) (cut bool) {
	w.stats.add("ops."+op, 1)
	if w.gate.cut(epoch) {
		w.stats.add("outcome."+op+".cut", 1)
		return true
	}
	w.stats.add("outcome."+op+".error", 1)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		w.violate("hang", "%s got no answer within %v: %v", op, w.opTimeout, err)
	case !w.faulty:
		w.violate("unexpected_error", "%s failed while the server was up: %v", op, err)
	}
	return false
}

// ok counts an operation that got its answer. Every operation ends in
// exactly one of ok, failure and shortBody.
func (w *workload) ok(op string) {
	w.stats.add("ops."+op, 1)
	w.stats.add("outcome."+op+".ok", 1)
}

// singleSize picks the size of a PutObject body: mostly small, some across
// the 64 KiB encryption chunks and the 1 MiB read-ahead threshold, a few
// empty, a few large.
func (w *workload) singleSize(rng *rand.Rand) int64 {
	switch p := rng.IntN(100); {
	case p < 4:
		return 0
	case p < 50:
		return 1 + rng.Int64N(16*kib)
	case p < 80:
		return 16*kib + rng.Int64N(300*kib)
	case p < 95:
		return 300*kib + rng.Int64N(min(2*mib, w.maxSingle)-300*kib)
	default:
		return rng.Int64N(w.maxSingle + 1)
	}
}

func (w *workload) put(ctx context.Context, c *s3.Client, key string, rng *rand.Rand, epoch int) {
	ct, etag := newContent(rng.Uint64(), w.singleSize(rng), 0)
	wr := w.m.begin(key, "PutObject", []value{{c: ct, etag: etag}}, "")
	out, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(w.bucket),
		Key:           aws.String(key),
		Body:          newStream(ct.seed, 0, ct.size),
		ContentLength: aws.Int64(ct.size),
	})
	if err != nil {
		w.failure("put", err, epoch)
		w.m.finish(wr, ambiguous, nil)
		return
	}
	w.m.finish(wr, acked, nil)
	w.ok("put")
	if got := unquote(out.ETag); got != etag {
		w.violate("wrong_etag", "PutObject %s of %v answered ETag %s, want %s", key, ct, got, etag)
	}
}

// multipart uploads a body in parts, then completes the upload or, when
// complete is false, aborts it.
func (w *workload) multipart(ctx context.Context, c *s3.Client, key string, rng *rand.Rand, epoch int, complete bool) {
	op := "multipart"
	var sizes []int64
	if complete {
		for range rng.IntN(w.maxParts - 1) {
			sizes = append(sizes, partSize)
		}
		sizes = append(sizes, partSize, 1+rng.Int64N(mib))
	} else {
		op = "multipart_abort"
		for range 1 + rng.IntN(2) {
			sizes = append(sizes, 1+rng.Int64N(256*kib))
		}
	}
	var size int64
	for _, n := range sizes {
		size += n
	}
	seed := rng.Uint64()
	cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(w.bucket), Key: aws.String(key)})
	if err != nil {
		w.failure(op, fmt.Errorf("CreateMultipartUpload: %w", err), epoch)
		w.uploads.lostCreate() // it may have been created all the same
		return
	}
	id := aws.ToString(cu.UploadId)
	w.uploads.created(id, key, w.m.now())
	var parts []types.CompletedPart
	var off int64
	for i, n := range sizes {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:        aws.String(w.bucket),
			Key:           aws.String(key),
			UploadId:      cu.UploadId,
			PartNumber:    aws.Int32(int32(i + 1)),
			Body:          newStream(seed, off, n),
			ContentLength: aws.Int64(n),
		})
		if err != nil {
			w.failure(op, fmt.Errorf("UploadPart %d of upload %s: %w", i+1, id, err), epoch)
			return // the upload stays, unfinished
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32})
		off += n
	}
	if !complete {
		w.uploads.finishing(id)
		_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(w.bucket), Key: aws.String(key), UploadId: cu.UploadId})
		if err != nil {
			w.failure(op, fmt.Errorf("AbortMultipartUpload %s: %w", id, err), epoch)
			w.uploads.finished(id, ambiguous, w.m.now())
			return
		}
		w.uploads.finished(id, acked, w.m.now())
		w.ok(op)
		return
	}
	ct, etag := newContent(seed, size, len(sizes))
	w.uploads.finishing(id)
	wr := w.m.begin(key, fmt.Sprintf("multipart upload of %d parts", len(sizes)), []value{{c: ct, etag: etag}}, "")
	out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(w.bucket),
		Key:             aws.String(key),
		UploadId:        cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		w.failure(op, fmt.Errorf("CompleteMultipartUpload %s: %w", id, err), epoch)
		w.m.finish(wr, ambiguous, nil)
		w.uploads.finished(id, ambiguous, w.m.now())
		return
	}
	w.m.finish(wr, acked, nil)
	w.uploads.finished(id, acked, w.m.now())
	w.ok(op)
	if got := unquote(out.ETag); got != etag {
		w.violate("wrong_etag", "CompleteMultipartUpload %s of %v answered ETag %s, want %s", key, ct, got, etag)
	}
}

// copy copies src to dst on the server. The copy is also a read of src: the
// ETag it answers names the bytes it read, which src must have held.
func (w *workload) copy(ctx context.Context, c *s3.Client, src, dst string, epoch int) {
	wr := w.m.begin(dst, "CopyObject from "+src, nil, src)
	out, err := c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:     aws.String(w.bucket),
		Key:        aws.String(dst),
		CopySource: aws.String(w.bucket + "/" + src),
	})
	re := w.m.now()
	switch {
	case isNotFound(err):
		w.m.finish(wr, failed, nil)
		w.ok("copy")
		w.stats.add("detail.copy.source_missing", 1)
		if _, v := w.m.check(src, wr.start, re, sawAbsent()); v != nil {
			w.report(v, "CopyObject "+src+" -> "+dst+" answered NoSuchKey for its source")
		}
		return
	case err != nil:
		w.failure("copy", err, epoch)
		w.m.finish(wr, ambiguous, nil)
		return
	}
	etag := unquote(out.CopyObjectResult.ETag)
	vals, v := w.m.check(src, wr.start, re, sawMD5(etag))
	if v != nil {
		w.report(v, "CopyObject "+src+" -> "+dst+" copied a source that")
		w.m.finish(wr, acked, []value{{unknown: true}})
		return
	}
	w.m.finish(wr, acked, []value{copyOf(vals[0])})
	w.ok("copy")
}

func (w *workload) delete(ctx context.Context, c *s3.Client, key string, epoch int) {
	wr := w.m.begin(key, "DeleteObject", []value{absent}, "")
	_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(key)})
	if err != nil {
		w.failure("delete", err, epoch)
		w.m.finish(wr, ambiguous, nil)
		return
	}
	w.m.finish(wr, acked, nil)
	w.ok("delete")
}

func (w *workload) deleteBatch(ctx context.Context, c *s3.Client, keys []string, epoch int) {
	ids := make([]types.ObjectIdentifier, len(keys))
	wrs := make([]*write, len(keys))
	for i, k := range keys {
		ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		wrs[i] = w.m.begin(k, "DeleteObjects", []value{absent}, "")
	}
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(w.bucket), Delete: &types.Delete{Objects: ids}})
	if err != nil {
		w.failure("delete_batch", err, epoch)
		for _, wr := range wrs {
			w.m.finish(wr, ambiguous, nil)
		}
		return
	}
	deleted := make(map[string]bool)
	for _, d := range out.Deleted {
		deleted[aws.ToString(d.Key)] = true
	}
	failed := make(map[string]string)
	for _, e := range out.Errors {
		failed[aws.ToString(e.Key)] = aws.ToString(e.Code) + ": " + aws.ToString(e.Message)
	}
	for i, k := range keys {
		switch {
		case deleted[k]:
			w.m.finish(wrs[i], acked, nil)
		case failed[k] != "":
			w.m.finish(wrs[i], ambiguous, nil)
			w.stats.add("detail.delete_batch.key_error", 1)
			if !w.faulty {
				w.violate("unexpected_error", "DeleteObjects %v: key %s failed while the server was up: %s", keys, k, failed[k])
			}
		default:
			w.m.finish(wrs[i], ambiguous, nil)
			w.violate("bad_answer", "DeleteObjects %v: the answer names neither a deletion nor an error for %s", keys, k)
		}
	}
	w.ok("delete_batch")
}

// get reads a whole object and checks its bytes and ETag.
func (w *workload) get(ctx context.Context, c *s3.Client, key string, epoch int) {
	rs := w.m.now()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(key)})
	switch {
	case isNotFound(err):
		w.ok("get")
		if _, v := w.m.check(key, rs, w.m.now(), sawAbsent()); v != nil {
			w.report(v, "GetObject answered NoSuchKey")
		}
		return
	case err != nil:
		w.failure("get", err, epoch)
		return
	}
	sum, n, err := readAll(out.Body)
	out.Body.Close()
	if err == nil && n != aws.ToInt64(out.ContentLength) {
		err = fmt.Errorf("%d bytes, Content-Length %d", n, aws.ToInt64(out.ContentLength))
	}
	if err != nil {
		w.shortBody("get", key, n, err, epoch)
		return
	}
	w.ok("get")
	if _, v := w.m.check(key, rs, w.m.now(), sawBody(n, sum, unquote(out.ETag))); v != nil {
		w.report(v, "GetObject answered 200 with")
	}
}

// shortBody accounts for a body that ended before its Content-Length: the
// client detects it, so with a failing backend it is a correct way to fail
// (the status line was already sent), and after a kill an expected one.
func (w *workload) shortBody(op, key string, n int64, err error, epoch int) {
	w.stats.add("ops."+op, 1)
	switch {
	case w.gate.cut(epoch):
		w.stats.add("outcome."+op+".cut", 1)
	case w.faulty:
		w.stats.add("outcome."+op+".body_cut_short", 1)
	default:
		w.violate("unexpected_error", "%s %s: the body broke after %d bytes while the server was up: %v", op, key, n, err)
	}
}

// getRange reads a random range; the offset may be past the end.
func (w *workload) getRange(ctx context.Context, c *s3.Client, key string, rng *rand.Rand, epoch int) {
	var off int64
	switch rng.IntN(3) {
	case 0:
		off = rng.Int64N(64 * kib)
	case 1:
		off = rng.Int64N(mib)
	default:
		off = rng.Int64N(8 * mib)
	}
	length := 1 + rng.Int64N(256*kib)
	rs := w.m.now()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(w.bucket),
		Key:    aws.String(key),
		Range:  aws.String(fmt.Sprintf("bytes=%d-%d", off, off+length-1)),
	})
	switch {
	case isNotFound(err):
		w.ok("get_range")
		if _, v := w.m.check(key, rs, w.m.now(), sawAbsent()); v != nil {
			w.report(v, "ranged GetObject answered NoSuchKey")
		}
		return
	case codeOf(err) == "InvalidRange":
		w.ok("get_range")
		if _, v := w.m.check(key, rs, w.m.now(), sawNoByteAt(off)); v != nil {
			w.report(v, fmt.Sprintf("GetObject of bytes %d- answered InvalidRange", off))
		}
		return
	case err != nil:
		w.failure("get_range", err, epoch)
		return
	}
	sum, n, err := readAll(out.Body)
	out.Body.Close()
	if err == nil && n != aws.ToInt64(out.ContentLength) {
		err = fmt.Errorf("%d bytes, Content-Length %d", n, aws.ToInt64(out.ContentLength))
	}
	if err != nil {
		w.shortBody("get_range", key, n, err, epoch)
		return
	}
	w.ok("get_range")
	first, last, total, perr := parseContentRange(aws.ToString(out.ContentRange))
	if perr != nil || first != off || last != min(off+length, total)-1 || n != last-first+1 {
		w.violate("bad_answer", "GetObject %s bytes=%d-%d answered Content-Range %q with %d bytes",
			key, off, off+length-1, aws.ToString(out.ContentRange), n)
		return
	}
	if _, v := w.m.check(key, rs, w.m.now(), sawRange(total, first, n, sum)); v != nil {
		w.report(v, "ranged GetObject answered 206 with")
	}
}

func (w *workload) head(ctx context.Context, c *s3.Client, key string, epoch int) {
	rs := w.m.now()
	out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(key)})
	switch {
	case isNotFound(err):
		w.ok("head")
		if _, v := w.m.check(key, rs, w.m.now(), sawAbsent()); v != nil {
			w.report(v, "HeadObject answered 404")
		}
		return
	case err != nil:
		w.failure("head", err, epoch)
		return
	}
	w.ok("head")
	if _, v := w.m.check(key, rs, w.m.now(), sawETag(aws.ToInt64(out.ContentLength), unquote(out.ETag))); v != nil {
		w.report(v, "HeadObject answered 200 with")
	}
}

// list lists the keys under prefix, page by page, with ListObjectsV2 or
// ListObjects (v1), checks every entry and every absence against the
// model, and returns the keys listed.
func (w *workload) list(ctx context.Context, c *s3.Client, prefix string, pageSize int32, v1 bool, epoch int) []string {
	op := "list"
	ls := w.m.now()
	var entries []types.Object
	var token, marker *string
	for page := 0; ; page++ {
		var contents []types.Object
		var more bool
		if v1 {
			out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(w.bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(pageSize), Marker: marker})
			if err != nil {
				w.failure(op, fmt.Errorf("ListObjects page %d: %w", page, err), epoch)
				return nil
			}
			contents, more = out.Contents, aws.ToBool(out.IsTruncated)
			if len(contents) > 0 {
				marker = contents[len(contents)-1].Key
			}
		} else {
			out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(w.bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(pageSize), ContinuationToken: token})
			if err != nil {
				w.failure(op, fmt.Errorf("ListObjectsV2 page %d: %w", page, err), epoch)
				return nil
			}
			contents, more, token = out.Contents, aws.ToBool(out.IsTruncated), out.NextContinuationToken
		}
		if len(contents) > int(pageSize) {
			w.violate("bad_answer", "a listing page of at most %d keys has %d", pageSize, len(contents))
		}
		entries = append(entries, contents...)
		if !more {
			break
		}
		if len(contents) == 0 && (v1 || token == nil) {
			w.violate("bad_answer", "a truncated listing page has no way on (no key, no continuation token)")
			return nil
		}
	}
	le := w.m.now()
	w.ok(op)
	w.stats.add("listed_entries", int64(len(entries)))
	var listed []string
	seen := make(map[string]bool)
	for i, o := range entries {
		key := aws.ToString(o.Key)
		switch {
		case !strings.HasPrefix(key, prefix):
			w.violate("bad_answer", "a listing of prefix %q shows %s", prefix, key)
		case seen[key]:
			w.violate("bad_answer", "a listing shows %s twice", key)
		case i > 0 && key <= aws.ToString(entries[i-1].Key):
			w.violate("bad_answer", "a listing shows %s after %s", key, aws.ToString(entries[i-1].Key))
		}
		seen[key] = true
		listed = append(listed, key)
		if _, v := w.m.check(key, ls, le, sawETag(aws.ToInt64(o.Size), unquote(o.ETag))); v != nil {
			w.report(v, "a listing shows an entry with")
		}
	}
	for _, key := range w.keys {
		if strings.HasPrefix(key, prefix) && !seen[key] {
			if _, v := w.m.check(key, ls, le, sawAbsent()); v != nil {
				w.report(v, "a listing does not show it")
			}
		}
	}
	return listed
}

// sweep reads every key and lists the bucket and its uploads: after a
// restart, everything acknowledged must be there.
func (w *workload) sweep(ctx context.Context, c *s3.Client, epoch int) {
	w.list(ctx, c, "", 1000, false, epoch)
	for _, key := range w.keys {
		w.get(ctx, c, key, epoch)
	}
	w.checkUploads(ctx, c, epoch)
}

// uploadBook tracks the multipart uploads the clients started.
type uploadBook struct {
	mu        sync.Mutex
	ups       map[string]*upload
	lost      int // creations cut by a kill: their uploads may exist, unknown
	nFinished int // completions and aborts acknowledged
}

type upload struct {
	key     string
	created time.Time
	// state is inFlight until a completion or an abort is sent, then its
	// outcome.
	state      writeState
	finishing  bool
	finishedAt time.Time
}

func (b *uploadBook) lostCreate() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lost++
}

func (b *uploadBook) created(id, key string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ups[id] = &upload{key: key, created: at}
}

func (b *uploadBook) finishing(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ups[id].finishing = true
}

func (b *uploadBook) finished(id string, st writeState, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.ups[id]
	u.state, u.finishedAt = st, at
	if st == acked {
		b.nFinished++
	}
}

// checkUploads lists the bucket's multipart uploads: every upload created
// and never completed nor aborted must be there, and none whose completion
// or abort was acknowledged before the listing began.
func (w *workload) checkUploads(ctx context.Context, c *s3.Client, epoch int) {
	ls := w.m.now()
	listed := make(map[string]bool)
	var keyMarker, idMarker *string
	for {
		out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(w.bucket), KeyMarker: keyMarker, UploadIdMarker: idMarker})
		if err != nil {
			w.failure("list_uploads", err, epoch)
			return
		}
		for _, u := range out.Uploads {
			listed[aws.ToString(u.UploadId)] = true
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		keyMarker, idMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	w.ok("list_uploads")
	b := &w.uploads
	b.mu.Lock()
	defer b.mu.Unlock()
	unknown := 0
	for id := range listed {
		u := b.ups[id]
		switch {
		case u == nil:
			unknown++
		case u.state == acked && u.finishedAt.Before(ls):
			w.violate("finished_upload_listed", "ListMultipartUploads lists upload %s of %s, completed or aborted at %s (acknowledged)", id, u.key, w.m.ms(u.finishedAt))
		}
	}
	for id, u := range b.ups {
		if !u.finishing && u.created.Before(ls) && !listed[id] {
			w.violate("lost_upload", "ListMultipartUploads does not list upload %s of %s, created at %s and never completed nor aborted", id, u.key, w.m.ms(u.created))
		}
	}
	if unknown > b.lost {
		w.violate("foreign_upload", "ListMultipartUploads lists %d uploads that no client created (%d creations were cut by kills)", unknown, b.lost)
	}
}

// gate lets the clients run between kills. A kill pauses it: new
// operations wait, those in flight are cut; the epoch counts the kills, so
// that an operation knows whether one happened while it ran.
type gate struct {
	mu       sync.Mutex
	paused   bool
	stopped  bool
	inflight int
	epoch    int
	resume   chan struct{} // closed when the pause ends
}

func newGate() *gate { return &gate{} }

// enter waits until operations may run, and returns the epoch, or false
// once the gate is stopped.
func (g *gate) enter() (int, bool) {
	for {
		g.mu.Lock()
		switch {
		case g.stopped:
			g.mu.Unlock()
			return 0, false
		case !g.paused:
			g.inflight++
			e := g.epoch
			g.mu.Unlock()
			return e, true
		}
		ch := g.resume
		g.mu.Unlock()
		<-ch
	}
}

func (g *gate) exit() {
	g.mu.Lock()
	g.inflight--
	g.mu.Unlock()
}

// cut reports whether a kill happened since epoch e began.
func (g *gate) cut(e int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.epoch != e
}

// current is the epoch operations run in now.
func (g *gate) current() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.epoch
}

// pause stops new operations and starts a new epoch, which a kill
// follows. It returns the number of operations in flight.
func (g *gate) pause() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused, g.resume = true, make(chan struct{})
	g.epoch++
	return g.inflight
}

// drain waits until no operation is in flight.
func (g *gate) drain(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		g.mu.Lock()
		n := g.inflight
		g.mu.Unlock()
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d operations still in flight after %v", n, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		g.paused = false
		close(g.resume)
	}
}

// stop makes enter return false from now on.
func (g *gate) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	g.open()
}

// statusOf returns the HTTP status of a failed SDK call, 0 without one.
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// codeOf returns the S3 error code of a failed SDK call, "" without one.
func codeOf(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isNotFound reports an answer that the object does not exist: NoSuchKey,
// or a bare 404 to a HEAD.
func isNotFound(err error) bool {
	return statusOf(err) == 404 && (codeOf(err) == "NoSuchKey" || codeOf(err) == "NotFound")
}

func unquote(etag *string) string { return strings.Trim(aws.ToString(etag), `"`) }

// parseContentRange parses "bytes FIRST-LAST/TOTAL".
func parseContentRange(s string) (first, last, total int64, err error) {
	rng, tot, ok := strings.Cut(strings.TrimPrefix(s, "bytes "), "/")
	a, b, ok2 := strings.Cut(rng, "-")
	if !ok || !ok2 {
		return 0, 0, 0, fmt.Errorf("malformed Content-Range %q", s)
	}
	if first, err = strconv.ParseInt(a, 10, 64); err == nil {
		if last, err = strconv.ParseInt(b, 10, 64); err == nil {
			total, err = strconv.ParseInt(tot, 10, 64)
		}
	}
	return first, last, total, err
}
