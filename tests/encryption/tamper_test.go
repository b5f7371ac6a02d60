package encryption_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/coffre-cloud/coffre/crypt"
	"github.com/coffre-cloud/coffre/vault"
)

// The layout of a blob (docs/format.md, "Payload stream"): the header, then
// chunks of ChunkSize plaintext bytes and a tag each, the final one shorter.
const encChunk = crypt.ChunkSize + crypt.TagSize

// chunkAt is the file offset of chunk i of a blob.
func chunkAt(i int) int64 { return crypt.HeaderSize + int64(i)*encChunk }

// byteRange is a ranged GET: plaintext bytes [off, off+n). whole asks for
// the object without a Range header.
type byteRange struct {
	name   string
	header string
	off, n int64
}

// rangesOf returns the GETs every tampered object is read with: the whole
// object, its first byte, every chunk alone, a few bytes across every chunk
// boundary, the last 10 bytes and the second half.
func rangesOf(size int64) []byteRange {
	span := func(name string, off, n int64) byteRange {
		return byteRange{name: name, header: fmt.Sprintf("bytes=%d-%d", off, off+n-1), off: off, n: n}
	}
	rs := []byteRange{{name: "whole", off: 0, n: size}, span("first-byte", 0, 1)}
	for i := int64(0); i*crypt.ChunkSize < size; i++ {
		off := i * crypt.ChunkSize
		rs = append(rs, span(fmt.Sprintf("chunk-%d", i), off, min(crypt.ChunkSize, size-off)))
		if i > 0 {
			rs = append(rs, span(fmt.Sprintf("across-%d", i), off-10, 20))
		}
	}
	rs = append(rs,
		byteRange{name: "suffix-10", header: "bytes=-10", off: size - 10, n: 10},
		byteRange{name: "second-half", header: fmt.Sprintf("bytes=%d-", size/2), off: size / 2, n: size - size/2})
	return rs
}

// damage says which plaintext chunks a tamper leaves unprovable: a GET
// whose range touches one of them must fail. The others may be read.
type damage func(chunk int64) bool

func none(int64) bool           { return false }
func all(int64) bool            { return true }
func chunks(cs ...int64) damage { return func(c int64) bool { return slices.Contains(cs, c) } }
func from(first int64) damage   { return func(c int64) bool { return c >= first } }

func (d damage) touches(off, n int64) bool {
	for c := off / crypt.ChunkSize; c <= (off+n-1)/crypt.ChunkSize; c++ {
		if d(c) {
			return true
		}
	}
	return false
}

// victim is the object a tamper works on, and what the tamper may need:
// another object of the tenant with a blob of the same size, and the blob
// an earlier version of the same key had.
type victim struct {
	path      string // its blob file
	size      int64
	chunks    int    // in its payload stream
	otherPath string // the blob file of a same-size object of the tenant
	older     []byte // the blob file of the key's previous version
}

type tamper struct {
	name   string
	apply  func(t *testing.T, v victim)
	damage func(v victim) damage
	// minChunks: the tamper needs an object of at least this many chunks.
	minChunks int
}

var tampers = []tamper{
	{
		name:   "none",
		apply:  func(*testing.T, victim) {},
		damage: func(victim) damage { return none },
	},
	{
		// The vault checks the header kept in the metadata, not the copy
		// in the blob: altering the latter changes nothing readable.
		name:   "flip-header",
		apply:  func(t *testing.T, v victim) { flipBit(t, v.path, 40) },
		damage: func(victim) damage { return none },
	},
	{
		name:   "flip-first-chunk",
		apply:  func(t *testing.T, v victim) { flipBit(t, v.path, chunkAt(0)+100) },
		damage: func(victim) damage { return chunks(0) },
	},
	{
		name:      "flip-middle-chunk",
		apply:     func(t *testing.T, v victim) { flipBit(t, v.path, chunkAt(v.chunks/2)+1234) },
		damage:    func(v victim) damage { return chunks(int64(v.chunks / 2)) },
		minChunks: 3,
	},
	{
		name:   "flip-last-tag",
		apply:  func(t *testing.T, v victim) { flipBit(t, v.path, crypt.CiphertextSize(v.size)-1) },
		damage: func(v victim) damage { return chunks(int64(v.chunks - 1)) },
	},
	{
		name:   "truncate-header-only",
		apply:  func(t *testing.T, v victim) { truncate(t, v.path, crypt.HeaderSize) },
		damage: func(victim) damage { return all },
	},
	{
		name:      "truncate-chunk-boundary",
		apply:     func(t *testing.T, v victim) { truncate(t, v.path, chunkAt(2)) },
		damage:    func(victim) damage { return from(2) },
		minChunks: 3,
	},
	{
		name:   "truncate-mid-chunk",
		apply:  func(t *testing.T, v victim) { truncate(t, v.path, chunkAt(v.chunks/2)+1000) },
		damage: func(v victim) damage { return from(int64(v.chunks / 2)) },
	},
	{
		name:   "truncate-last-byte",
		apply:  func(t *testing.T, v victim) { truncate(t, v.path, crypt.CiphertextSize(v.size)-1) },
		damage: func(v victim) damage { return chunks(int64(v.chunks - 1)) },
	},
	{
		// Data after the final chunk is never read: the stream's size is
		// known from the metadata.
		name:   "append",
		apply:  func(t *testing.T, v victim) { appendTo(t, v.path, payload(100, 7)) },
		damage: func(victim) damage { return none },
	},
	{
		name:      "swap-chunks",
		apply:     func(t *testing.T, v victim) { swapChunks(t, v.path, 1, 3) },
		damage:    func(victim) damage { return chunks(1, 3) },
		minChunks: 5,
	},
	{
		name:   "swap-blob-files",
		apply:  func(t *testing.T, v victim) { swapFiles(t, v.path, v.otherPath) },
		damage: func(victim) damage { return all },
	},
	{
		name:   "restore-older-blob",
		apply:  func(t *testing.T, v victim) { writeFile(t, v.path, v.older) },
		damage: func(victim) damage { return all },
	},
}

// TestTamperedBlobsNeverReadAsContent alters the blob of an object of one
// chunk and of one of five (bits flipped in the header, a chunk or the last
// tag; cut at a chunk boundary, inside a chunk or by one byte; data
// appended; two chunks swapped; the blob files of two objects swapped; an
// earlier version's blob put back), then reads it with GETs of the whole
// object and of ranges. Every GET returns exactly the original bytes or
// fails: an error status, or a body cut short, of which every byte
// received is still the original's. GETs whose range touches a chunk the
// tamper damaged must fail, and the server must log an integrity error for
// them. A server-side copy of a damaged object must fail and create
// nothing.
func TestTamperedBlobsNeverReadAsContent(t *testing.T) {
	s := newStack(t, stackOpts{tenants: []string{"t1"}})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	c := s.client["t1"]
	const bucket = "tamper"
	createBucket(t, ctx, c, bucket)

	objects := []struct {
		name string
		size int64
	}{
		{"chunks=1", 40 * kib},
		{"chunks=5", 4*crypt.ChunkSize + 1000},
	}
	seed := uint64(0)
	for _, obj := range objects {
		nchunks := int((obj.size + crypt.ChunkSize - 1) / crypt.ChunkSize)
		for _, tp := range tampers {
			if nchunks < tp.minChunks {
				continue
			}
			t.Run(obj.name+"/tamper="+tp.name, func(t *testing.T) {
				seed++
				key := fmt.Sprintf("%s-%s", obj.name, tp.name)
				want := payload(int(obj.size), seed)
				v := victim{size: obj.size, chunks: nchunks}

				// An earlier version of the key, whose blob is kept.
				putObject(t, ctx, c, bucket, key, payload(int(obj.size), seed+1<<32))
				v.older = readFile(t, s.blobs(t, "t1", bucket, key)[0])
				putObject(t, ctx, c, bucket, key, want)
				v.path = s.blobs(t, "t1", bucket, key)[0]
				other := key + "-other"
				otherBody := payload(int(obj.size), seed+2<<32)
				putObject(t, ctx, c, bucket, other, otherBody)
				v.otherPath = s.blobs(t, "t1", bucket, other)[0]

				tp.apply(t, v)
				d := tp.damage(v)
				for _, r := range rangesOf(obj.size) {
					checkGet(t, ctx, s, c, bucket, key, r, want[r.off:r.off+r.n], d.touches(r.off, r.n))
				}
				checkCopy(t, ctx, c, bucket, key, want, d.touches(0, obj.size))
			})
		}
	}
}

// TestSwappedPartBlobsNeverReadAsContent swaps the blob files of the two
// parts of a multipart object (same size, same tenant, bucket and key,
// different data keys): every GET touching either part must fail.
func TestSwappedPartBlobsNeverReadAsContent(t *testing.T) {
	s := newStack(t, stackOpts{tenants: []string{"t1"}})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	c := s.client["t1"]
	const bucket, key = "tamper", "multipart"
	createBucket(t, ctx, c, bucket)

	const part = 5 * mib
	want := payload(2*part, 42)
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var done []types.CompletedPart
	for i := range 2 {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId, PartNumber: aws.Int32(int32(i + 1)),
			Body: bytes.NewReader(want[i*part : (i+1)*part]), ContentLength: aws.Int64(part),
		})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	blobs := s.blobs(t, "t1", bucket, key)
	if len(blobs) != 2 {
		t.Fatalf("multipart object has %d blobs, want 2", len(blobs))
	}
	swapFiles(t, blobs[0], blobs[1])

	span := func(name string, off, n int64) byteRange {
		return byteRange{name: name, header: fmt.Sprintf("bytes=%d-%d", off, off+n-1), off: off, n: n}
	}
	for _, r := range []byteRange{
		{name: "whole", off: 0, n: 2 * part},
		span("part-1-start", 0, 100),
		span("across-parts", part-10, 20),
		span("part-2-middle", part+3*crypt.ChunkSize+5, 1000),
		{name: "suffix-10", header: "bytes=-10", off: 2*part - 10, n: 10},
	} {
		checkGet(t, ctx, s, c, bucket, key, r, want[r.off:r.off+r.n], true)
	}
	checkCopy(t, ctx, c, bucket, key, want, true)
}

// checkGet reads a range of an object and fails the test if it returned
// anything but want: a GET may fail (mustFail: must), never lie.
func checkGet(t *testing.T, ctx context.Context, s *stack, c *s3.Client, bucket, key string, r byteRange, want []byte, mustFail bool) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if r.header != "" {
		in.Range = aws.String(r.header)
	}
	var (
		got     []byte
		failure string // how the GET failed, "" if it did not
	)
	mark := s.log.mark()
	out, err := c.GetObject(ctx, in)
	if err != nil {
		// 500 InternalError; or no status at all when the server found
		// the damage before its first body byte and cut the connection
		// with the headers still unsent.
		failure = fmt.Sprintf("status %d %s: %v", statusOf(err), codeOf(err), err)
		if st := statusOf(err); st != 0 && st != http.StatusInternalServerError {
			t.Errorf("range=%s: GET failed with %s, want 500 InternalError or a cut connection", r.name, failure)
		}
	} else {
		got, err = io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			failure = fmt.Sprintf("body cut after %d of %d bytes: %v", len(got), len(want), err)
			// Bytes released before the failure come from chunks that
			// authenticated: they are the original's.
			if !bytes.HasPrefix(want, got) {
				t.Errorf("range=%s: the %d bytes received before the body was cut differ from the original's: unauthenticated bytes were released", r.name, len(got))
			}
		} else if !bytes.Equal(got, want) {
			t.Errorf("range=%s: GET returned %d WRONG bytes with no error, want the original %d bytes or a failure", r.name, len(got), len(want))
			return
		}
	}
	switch {
	case mustFail && failure == "":
		t.Errorf("range=%s: GET succeeded, want a failure: its range touches a tampered chunk", r.name)
	case mustFail:
		if errs := s.log.errorsSince(mark); !containsAny(errs, vault.ErrIntegrity.Error()) {
			t.Errorf("range=%s: GET failed (%s) and the server logged %q, want an integrity error (%q)", r.name, failure, errs, vault.ErrIntegrity)
		}
	}
}

// checkCopy copies an object server-side: the copy must fail when the
// source is damaged (and no copy may appear), else hold the original.
func checkCopy(t *testing.T, ctx context.Context, c *s3.Client, bucket, key string, want []byte, mustFail bool) {
	t.Helper()
	dst := key + "-copy"
	_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String(dst), CopySource: aws.String(bucket + "/" + key)})
	switch {
	case mustFail && err == nil:
		t.Errorf("CopyObject of a damaged object succeeded, want 500 InternalError")
	case mustFail:
		if st, code := statusOf(err), codeOf(err); st != http.StatusInternalServerError || code != "InternalError" {
			t.Errorf("CopyObject of a damaged object: status %d %s (%v), want 500 InternalError", st, code, err)
		}
		_, herr := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(dst)})
		if st := statusOf(herr); st != http.StatusNotFound {
			t.Errorf("HeadObject of the failed copy: status %d (%v), want 404: a failed copy must create nothing", st, herr)
		}
	case err != nil:
		// The source is intact where it is read: a copy may still fail,
		// but only with an error.
		if st := statusOf(err); st != http.StatusInternalServerError {
			t.Errorf("CopyObject: status %d (%v), want success or 500", st, err)
		}
	default:
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(dst)})
		if err != nil {
			t.Fatalf("GetObject of the copy: %v", err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("the copy holds %d bytes (err %v), want the original %d bytes", len(got), err, len(want))
		}
	}
}

func containsAny(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func flipBit(t *testing.T, path string, off int64) {
	t.Helper()
	b := readFile(t, path)
	if off < 0 || off >= int64(len(b)) {
		t.Fatalf("flip at %d of a %d-byte blob", off, len(b))
	}
	b[off] ^= 0x10
	writeFile(t, path, b)
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path string, extra []byte) {
	t.Helper()
	writeFile(t, path, append(readFile(t, path), extra...))
}

// swapChunks swaps two full chunks of a blob.
func swapChunks(t *testing.T, path string, i, j int) {
	t.Helper()
	b := readFile(t, path)
	ci, cj := b[chunkAt(i):chunkAt(i)+encChunk], b[chunkAt(j):chunkAt(j)+encChunk]
	tmp := bytes.Clone(ci)
	copy(ci, cj)
	copy(cj, tmp)
	writeFile(t, path, b)
}

// swapFiles exchanges two blob files by renaming them.
func swapFiles(t *testing.T, a, b string) {
	t.Helper()
	tmp := a + ".swap"
	for _, mv := range [][2]string{{a, tmp}, {b, a}, {tmp, b}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}
}
