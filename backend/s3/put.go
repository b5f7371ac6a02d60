package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/internal/remote"
)

const (
	// contentType of every blob: opaque bytes (ciphertext).
	contentType = "application/octet-stream"
	// cleanupTimeout bounds what a failed Put does to learn its outcome or
	// abort its upload, even when its context has ended.
	cleanupTimeout = time.Minute
)

// Put stores the bytes of r under name: in one PutObject up to PartSize,
// as a multipart upload above it (or when the size is unknown and the
// reader goes past PartSize). Every request carries the Content-MD5 of its
// body, which the server checks before it stores anything. The size is
// checked before the object is created (PutObject) or completed
// (CompleteMultipartUpload), and a failed multipart upload is aborted, so
// no partial object is ever visible.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if !backend.ValidName(name) {
		return fmt.Errorf("s3: put %q: %w", name, backend.ErrInvalidName)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: put %q: %w", name, err)
	}
	var err error
	switch {
	case size >= 0 && size <= s.partSize:
		var b []byte
		if b, err = remote.ReadExact(ctx, r, size); err == nil {
			err = s.putObject(ctx, name, b)
		}
	case size < 0:
		err = s.putUnknown(ctx, name, r)
	default:
		err = s.putMultipart(ctx, name, r, size)
	}
	if err != nil {
		return fmt.Errorf("s3: put %q: %w", name, err)
	}
	return nil
}

// putObject stores b in one request, retried by the SDK on transient
// errors (the body is at hand).
func (s *Store) putObject(ctx context.Context, name string, b []byte) error {
	sum := md5.Sum(b)
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           s.key(name),
		Body:          bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		ContentType:   aws.String(contentType),
	}, s.withUnsignedPayload)
	if err != nil {
		if httpStatus(err) == 0 && s.landed(ctx, name, hex.EncodeToString(sum[:]), int64(len(b))) {
			return nil
		}
		return s.opError(ctx, err)
	}
	return nil
}

// putUnknown reads up to PartSize bytes: a blob that ends there takes one
// PutObject, a longer one a multipart upload.
func (s *Store) putUnknown(ctx context.Context, name string, r io.Reader) error {
	bp := s.parts.Get().(*[]byte)
	defer s.parts.Put(bp)
	buf := *bp
	n, err := io.ReadFull(remote.ContextReader(ctx, r), buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return s.putObject(ctx, name, buf[:n])
	case err != nil:
		return fmt.Errorf("reading the blob: %w", err)
	}
	var one [1]byte
	m, err := io.ReadFull(remote.ContextReader(ctx, r), one[:])
	switch {
	case err == io.EOF:
		return s.putObject(ctx, name, buf)
	case err != nil:
		return fmt.Errorf("reading the blob: %w", err)
	}
	return s.putMultipart(ctx, name, io.MultiReader(bytes.NewReader(buf), bytes.NewReader(one[:m]), r), -1)
}

// putMultipart stores r (size bytes, or any number when size < 0) as a
// multipart upload: parts of PartSize read one after the other, up to
// Concurrency of them uploaded at once, each retried by the SDK; then,
// once the reader has been seen to end where it should, the upload is
// completed. On any failure it is aborted.
func (s *Store) putMultipart(ctx context.Context, name string, r io.Reader, size int64) error {
	partSize := s.partSize
	if size > partSize*maxParts {
		// Raise the part size, in whole MiB, to stay within 10,000 parts.
		partSize = ((size+maxParts-1)/maxParts + 1<<20 - 1) &^ (1<<20 - 1)
		if partSize > maxPartSize {
			return fmt.Errorf("%d bytes is more than an S3 object can hold (10,000 parts of 5 GiB)", size)
		}
	}
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:      &s.bucket,
		Key:         s.key(name),
		ContentType: aws.String(contentType),
	})
	if err != nil {
		return s.opError(ctx, err)
	}
	abort := func(err error) error {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_, aerr := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: s.key(name), UploadId: up.UploadId})
		if aerr != nil && !notFound(aerr) {
			return fmt.Errorf("%w (and aborting upload %s: %v)", err, aws.ToString(up.UploadId), aerr)
		}
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	var (
		mu    sync.Mutex
		parts []types.CompletedPart
		sums  = map[int32][]byte{}
	)
	total, readErr := int64(0), error(nil)
	for n := int32(1); ; n++ {
		want := partSize
		if size >= 0 {
			if want = min(partSize, size-total); want == 0 {
				break
			}
		}
		if n > maxParts {
			readErr = fmt.Errorf("more than %d parts of %d bytes: raise part_size", maxParts, partSize)
			break
		}
		bp := s.buffer(partSize)
		k, err := io.ReadFull(remote.ContextReader(gctx, r), (*bp)[:want])
		total += int64(k)
		more := true
		switch {
		case err == nil && size >= 0 && total == size:
			// The last part goes only once the reader has ended here.
			readErr, more = remote.ExpectEOF(remote.ContextReader(gctx, r)), false
		case err == nil:
		case size < 0 && (err == io.EOF || err == io.ErrUnexpectedEOF):
			more = false
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			readErr = fmt.Errorf("the reader ended after %d bytes of %d: %w", total, size, io.ErrUnexpectedEOF)
		default:
			readErr = fmt.Errorf("reading the blob: %w", err)
		}
		if readErr != nil || k == 0 {
			s.release(bp)
			break
		}
		part := (*bp)[:k]
		g.Go(func() error {
			defer s.release(bp)
			sum := md5.Sum(part)
			out, err := s.client.UploadPart(gctx, &s3.UploadPartInput{
				Bucket:        &s.bucket,
				Key:           s.key(name),
				UploadId:      up.UploadId,
				PartNumber:    aws.Int32(n),
				Body:          bytes.NewReader(part),
				ContentLength: aws.Int64(int64(len(part))),
				ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
			}, s.withUnsignedPayload)
			if err != nil {
				return fmt.Errorf("uploading part %d: %w", n, s.opError(gctx, err))
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
			sums[n] = sum[:]
			mu.Unlock()
			return nil
		})
		if !more {
			break
		}
	}
	upErr := g.Wait()
	switch {
	case ctx.Err() != nil:
		return abort(ctx.Err())
	case readErr != nil && !errors.Is(readErr, context.Canceled):
		return abort(readErr) // the reader's own failure
	case upErr != nil:
		return abort(upErr) // which also stopped the reading
	case readErr != nil:
		return abort(readErr)
	case len(parts) == 0:
		return abort(errors.New("no part to upload"))
	}

	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &s.bucket,
		Key:             s.key(name),
		UploadId:        up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		if httpStatus(err) == 0 && s.landed(ctx, name, multipartETag(sums), total) {
			return nil
		}
		return abort(s.opError(ctx, err))
	}
	return nil
}

// buffer returns a part buffer of at least n bytes.
func (s *Store) buffer(n int64) *[]byte {
	if n <= s.partSize {
		return s.parts.Get().(*[]byte)
	}
	b := make([]byte, n)
	return &b
}

func (s *Store) release(b *[]byte) {
	if int64(cap(*b)) == s.partSize {
		s.parts.Put(b)
	}
}

// multipartETag is the ETag S3 gives a multipart object: the MD5 of its
// parts' MD5s, and the number of parts.
func multipartETag(sums map[int32][]byte) string {
	h := md5.New()
	for n := int32(1); n <= int32(len(sums)); n++ {
		h.Write(sums[n])
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(sums))
}

// landed reports whether name holds the object whose ETag is etag, after
// a write whose outcome is unknown (no response came back). It asks even
// if ctx has ended.
func (s *Store) landed(ctx context.Context, name, etag string, size int64) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: s.key(name)})
	return err == nil && aws.ToInt64(out.ContentLength) == size && strings.EqualFold(strings.Trim(aws.ToString(out.ETag), `"`), etag)
}
