package swift

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	ncw "github.com/ncw/swift/v2"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/internal/remote"
)

const (
	// contentType of every blob: opaque bytes (ciphertext).
	contentType = "application/octet-stream"
	// segmentPrefix starts the names of the segments of static large
	// objects. '+' is in no valid blob name, so segments never collide
	// with blobs, and List skips them.
	segmentPrefix = "+segments/"
	// cleanupTimeout bounds what a failed Put does to learn its outcome
	// or remove what it wrote, even when its context has ended.
	cleanupTimeout = time.Minute
)

// Put stores the bytes of r under name. See the package documentation for
// the three ways it writes (buffered, streamed, segmented), what each
// verifies, and what is retried.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if !backend.ValidName(name) {
		return fmt.Errorf("swift: put %q: %w", name, backend.ErrInvalidName)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("swift: put %q: %w", name, err)
	}
	var err error
	switch {
	case size >= 0 && size <= s.bufferSize:
		var b []byte
		if b, err = remote.ReadExact(ctx, r, size); err == nil {
			err = s.putBytes(ctx, name, b)
		}
	case size < 0:
		err = s.putUnknown(ctx, name, r)
	case size <= s.segmentSize:
		err = s.putStream(ctx, name, r, size)
	default:
		err = s.putLarge(ctx, name, newBody(ctx, r, size), size)
	}
	if err != nil {
		return fmt.Errorf("swift: put %q: %w", name, err)
	}
	return nil
}

// putBytes writes b in one request that carries its MD5 (as ETag), which
// Swift checks before it stores anything. It is retried on transient
// errors, a checksum mismatch included (422).
func (s *Store) putBytes(ctx context.Context, name string, b []byte) error {
	sum := md5.Sum(b)
	etag := hex.EncodeToString(sum[:])
	h := ncw.Headers{"Content-Length": strconv.Itoa(len(b))}
	err := s.retry.do(ctx, s.conn, func() error {
		_, err := s.conn.ObjectPut(ctx, s.container, name, bytes.NewReader(b), false, etag, contentType, h)
		return err
	})
	if err != nil {
		if noResponse(err) && s.landed(ctx, name, etag, int64(len(b))) {
			return nil
		}
		return s.opError(ctx, err)
	}
	return nil
}

// putUnknown reads up to BufferSize bytes: a blob that ends there is
// written by putBytes; a longer one is streamed as a static large object,
// the only kind whose size need not be known when its first byte is sent.
func (s *Store) putUnknown(ctx context.Context, name string, r io.Reader) error {
	if s.bufferSize >= 0 {
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(io.LimitReader(remote.ContextReader(ctx, r), s.bufferSize+1)); err != nil {
			return fmt.Errorf("reading the blob: %w", err)
		}
		if int64(buf.Len()) <= s.bufferSize {
			return s.putBytes(ctx, name, buf.Bytes())
		}
		r = io.MultiReader(&buf, r)
	}
	return s.putLarge(ctx, name, newBody(ctx, r, -1), -1)
}

// putStream writes r in one request with a Content-Length, computing the
// MD5 as the bytes go, and compares it with the ETag Swift returns. Swift
// stores the object only once it has the whole body, which body releases
// only when r has exactly size bytes; a mismatch of the checksums (the
// bytes changed in transit) deletes the object. The request is retried
// only if it failed before consuming any of r.
func (s *Store) putStream(ctx context.Context, name string, r io.Reader, size int64) error {
	b := newBody(ctx, r, size)
	var resp ncw.Headers
	h := ncw.Headers{"Content-Length": strconv.FormatInt(size, 10)}
	err := s.retry.do(ctx, s.conn, func() error {
		var err error
		resp, err = s.conn.ObjectPut(ctx, s.container, name, b, false, "", contentType, h)
		if err != nil && (b.n > 0 || b.err != nil) {
			return final{err} // the stream cannot be sent again
		}
		return err
	})
	if err != nil {
		if b.err != nil {
			return b.err
		}
		if b.done && noResponse(err) && s.landed(ctx, name, b.sum(), size) {
			return nil
		}
		return s.opError(ctx, err)
	}
	// No ETag: Swift answered 202 Accepted, as it does when the object
	// already has a newer version (a concurrent Put of the same name that
	// the proxy timestamped later). Ours was superseded, which is a
	// successful Put followed by that one.
	if got, sent := resp["Etag"], b.sum(); got != "" && !strings.EqualFold(got, sent) {
		derr := s.cleanup(ctx, []string{name})
		return fmt.Errorf("swift stored MD5 %s but %s was sent: the bytes changed in transit (object deleted: %v)", got, sent, derr)
	}
	return nil
}

// sloSegment is an entry of a static large object's manifest.
type sloSegment struct {
	Path      string `json:"path"` // /container/object
	Etag      string `json:"etag"`
	SizeBytes int64  `json:"size_bytes"`
}

// putLarge writes b as a static large object: segments of SegmentSize
// under +segments/NAME/UPLOAD/, each streamed and checked like putStream,
// then the manifest under name. Swift checks every segment's ETag and size
// against the manifest before it stores it, and the manifest makes the
// blob appear whole, at once. On failure the segments are deleted.
func (s *Store) putLarge(ctx context.Context, name string, b *body, size int64) error {
	if s.maxSegments == 0 {
		return fmt.Errorf("the cluster does not offer static large objects (slo): blobs above %d bytes cannot be stored", s.segmentSize)
	}
	if size >= 0 {
		if n := (size + s.segmentSize - 1) / s.segmentSize; n > int64(s.maxSegments) {
			return fmt.Errorf("%d bytes need %d segments of %d, the cluster allows %d per object: raise segment_size", size, n, s.segmentSize, s.maxSegments)
		}
	}
	prefix := segmentPrefix + name + "/" + uploadID() + "/"
	var segs []sloSegment
	var written []string // segment names whose PUT was sent, for the cleanup
	fail := func(err error) error {
		if derr := s.cleanup(ctx, written); derr != nil {
			return fmt.Errorf("%w (and removing its segments: %v)", err, derr)
		}
		return err
	}
	for i := 0; ; i++ {
		var seg io.Reader
		segLen := s.segmentSize
		if size >= 0 {
			left := size - int64(i)*s.segmentSize
			if left <= 0 {
				break
			}
			segLen = min(left, s.segmentSize)
			seg = io.LimitReader(b, segLen)
		} else {
			// Is there a byte for another segment? Segments may not be empty.
			var one [1]byte
			if _, err := io.ReadFull(b, one[:]); err == io.EOF {
				break
			} else if err != nil {
				return fail(b.errOr(err))
			}
			seg = io.MultiReader(bytes.NewReader(one[:]), io.LimitReader(b, segLen-1))
			segLen = -1
		}
		if i >= s.maxSegments {
			return fail(fmt.Errorf("more than %d segments of %d bytes, the cluster's limit: raise segment_size", s.maxSegments, s.segmentSize))
		}
		segName := prefix + fmt.Sprintf("%08d", i)
		written = append(written, segName)
		sg, err := s.putSegment(ctx, b, segName, seg, segLen)
		if err != nil {
			return fail(b.errOr(err))
		}
		segs = append(segs, sg)
	}
	if b.err != nil {
		return fail(b.err)
	}
	if len(segs) == 0 {
		return s.putBytes(ctx, name, nil) // a manifest needs a segment
	}

	manifest, err := json.Marshal(segs)
	if err != nil {
		return fail(err)
	}
	storage, err := s.conn.GetStorageUrl(ctx)
	if err != nil {
		return fail(s.opError(ctx, err))
	}
	err = s.retry.do(ctx, s.conn, func() error {
		_, _, err := s.conn.Call(ctx, storage, ncw.RequestOpts{
			Container:  s.container,
			ObjectName: name,
			Operation:  "PUT",
			Parameters: url.Values{"multipart-manifest": {"put"}},
			Headers:    ncw.Headers{"Content-Length": strconv.Itoa(len(manifest)), "Content-Type": contentType},
			Body:       bytes.NewReader(manifest),
			NoResponse: true,
		})
		return err
	})
	if err != nil {
		if noResponse(err) && s.landed(ctx, name, sloEtag(segs), size) {
			return nil
		}
		return fail(s.opError(ctx, err))
	}
	return nil
}

// putSegment streams one segment, r, read from b (segLen bytes, or any
// number up to the segment size when segLen < 0, then sent chunked), and
// checks its ETag.
func (s *Store) putSegment(ctx context.Context, b *body, name string, r io.Reader, segLen int64) (sloSegment, error) {
	hr := &hashReader{r: r, md5: md5.New()}
	h := ncw.Headers{}
	if segLen >= 0 {
		h["Content-Length"] = strconv.FormatInt(segLen, 10)
	}
	var resp ncw.Headers
	err := s.retry.do(ctx, s.conn, func() error {
		var err error
		resp, err = s.conn.ObjectPut(ctx, s.container, name, hr, false, "", contentType, h)
		if err != nil && (hr.n > 0 || b.err != nil) {
			return final{err} // the stream cannot be sent again
		}
		return err
	})
	seg := sloSegment{Path: "/" + s.container + "/" + name, Etag: hex.EncodeToString(hr.md5.Sum(nil)), SizeBytes: hr.n}
	if err != nil {
		return seg, s.opError(ctx, err)
	}
	if !strings.EqualFold(resp["Etag"], seg.Etag) {
		return seg, fmt.Errorf("swift stored segment %s with MD5 %s but %s was sent: the bytes changed in transit", name, resp["Etag"], seg.Etag)
	}
	return seg, nil
}

// sloEtag is the ETag Swift gives a static large object: the MD5 of its
// segments' ETags, concatenated in hex.
func sloEtag(segs []sloSegment) string {
	h := md5.New()
	for _, s := range segs {
		io.WriteString(h, s.Etag)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// landed reports whether name holds the blob whose ETag is etag, after a
// write whose outcome is unknown: the connection failed, or the context
// ended, once the whole body was sent. It asks even if ctx has ended.
func (s *Store) landed(ctx context.Context, name, etag string, size int64) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	info, h, err := s.head(ctx, name)
	return err == nil && info.Size == size && strings.EqualFold(h["Etag"], etag)
}

// cleanup deletes the named objects (segments of a failed Put, or an object
// stored corrupt), even if ctx has ended.
func (s *Store) cleanup(ctx context.Context, names []string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var errs []error
	for _, n := range names {
		err := s.retry.do(ctx, s.conn, func() error { return s.conn.ObjectDelete(ctx, s.container, n) })
		if err != nil && !errors.Is(err, ncw.ObjectNotFound) {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// deleteSLO deletes a static large object's manifest and segments in one
// request (Swift's bulk delete of the manifest's segments).
func (s *Store) deleteSLO(ctx context.Context, name string) error {
	storage, err := s.conn.GetStorageUrl(ctx)
	if err != nil {
		return err
	}
	resp, _, err := s.conn.Call(ctx, storage, ncw.RequestOpts{
		Container:  s.container,
		ObjectName: name,
		Operation:  "DELETE",
		Parameters: url.Values{"multipart-manifest": {"delete"}},
		Headers:    ncw.Headers{"Accept": "application/json"},
	})
	if status(err) == 404 {
		return nil
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var res struct {
		Status string     `json:"Response Status"`
		Errors [][]string `json:"Errors"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
		return fmt.Errorf("reading the result of the large object's deletion: %w", err)
	}
	if len(res.Errors) > 0 || !strings.HasPrefix(res.Status, "2") {
		code, _ := strconv.Atoi(strings.SplitN(res.Status, " ", 2)[0])
		return &ncw.Error{StatusCode: code, Text: fmt.Sprintf("deleting the large object and its segments: %s %v", res.Status, res.Errors)}
	}
	return nil
}

// uploadID names the segments of one Put: its start time (so that they sort
// by age) and random bits.
func uploadID() string {
	var r [6]byte
	rand.Read(r[:])
	return fmt.Sprintf("%016x-%x", time.Now().UnixNano(), r)
}

// body is the request body of a streamed Put: the bytes of r, exactly size
// of them (any number when size < 0), hashed as they go. The server never
// receives a complete body unless r has exactly size bytes: the last bytes
// are handed over only once r has been seen to end, so that a reader that
// is too long fails the request before Swift stores anything.
type body struct {
	ctx  context.Context
	r    io.Reader
	left int64 // bytes still expected; -1: unknown size
	n    int64 // bytes read from r
	md5  hash.Hash
	done bool  // r ended where expected: the server may have the whole body
	err  error // sticky: r's error, a size mismatch, or ctx's
}

func newBody(ctx context.Context, r io.Reader, size int64) *body {
	return &body{ctx: ctx, r: r, left: size, md5: md5.New()}
}

func (b *body) sum() string { return hex.EncodeToString(b.md5.Sum(nil)) }

// errOr returns the body's own error, which says best why a request that
// read it failed (the reader's error, the context's), or else err.
func (b *body) errOr(err error) error {
	if b.err != nil {
		return b.err
	}
	return err
}

func (b *body) fail(err error) error {
	b.err = err
	return err
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if err := b.ctx.Err(); err != nil {
		return 0, b.fail(err)
	}
	if b.left == 0 {
		if err := remote.ExpectEOF(b.r); err != nil {
			return 0, b.fail(err)
		}
		b.done = true
		return 0, io.EOF
	}
	if b.left > 0 && int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.md5.Write(p[:n])
	if b.left > 0 {
		b.left -= int64(n)
	}
	switch {
	case err == io.EOF && b.left > 0:
		return 0, b.fail(fmt.Errorf("the reader ended after %d bytes, %d short: %w", b.n, b.left, io.ErrUnexpectedEOF))
	case err == io.EOF:
		b.done = true
		return n, io.EOF
	case err != nil:
		return 0, b.fail(fmt.Errorf("reading the blob: %w", err))
	case b.left == 0:
		// The last bytes: the server gets them only if r ends here.
		if err := remote.ExpectEOF(b.r); err != nil {
			return 0, b.fail(err)
		}
		b.done = true
		return n, io.EOF
	}
	return n, nil
}

// hashReader hashes and counts what is read through it.
type hashReader struct {
	r   io.Reader
	n   int64
	md5 hash.Hash
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.n += int64(n)
	h.md5.Write(p[:n])
	return n, err
}
