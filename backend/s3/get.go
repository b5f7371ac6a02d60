package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/internal/remote"
)

// Get returns the bytes of the blob from off, at most length of them (all
// to the end when length < 0), with a ranged GetObject. The SDK retries
// the request until the response starts; a transfer that breaks midway
// resumes where it stopped, with a Range and If-Match on the ETag, so that
// a blob replaced meanwhile fails the read rather than splice versions.
func (s *Store) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	return s.reads.Get(ctx, name, off, length)
}

// getObject is the remote.Reads.Open of Get: a GetObject of rng, with
// If-Match on the version (ETag) once a read has one. A blob without a
// byte at the offset is answered 416 InvalidRange.
func (s *Store) getObject(ctx context.Context, name, rng, version string) (remote.Response, error) {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: s.key(name)}
	if rng != "" {
		in.Range = &rng
	}
	if version != "" {
		in.IfMatch = &version
	}
	out, err := s.client.GetObject(ctx, in)
	switch {
	case notFound(err):
		return remote.Response{}, backend.ErrNotFound
	case httpStatus(err) == http.StatusRequestedRangeNotSatisfiable || errorCode(err) == "InvalidRange":
		return remote.Response{}, remote.ErrPastEnd
	case httpStatus(err) == http.StatusPreconditionFailed:
		return remote.Response{}, fmt.Errorf("the blob changed while it was read (ETag %s no longer matches)", version)
	case err != nil:
		return remote.Response{}, s.opError(ctx, err)
	}
	return remote.Response{
		Body:          out.Body,
		Version:       aws.ToString(out.ETag),
		ContentRange:  aws.ToString(out.ContentRange),
		ContentLength: aws.ToInt64(out.ContentLength),
	}, nil
}

// brokenTransfer reports whether a read of a response body failed because
// the connection did (cut, reset, timed out), which another request may
// get past.
func brokenTransfer(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
