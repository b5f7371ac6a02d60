package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/internal/remote"
)

// Defaults of Config's tuning fields.
const (
	DefaultPartSize     = 8 << 20
	DefaultConcurrency  = 2
	DefaultListPageSize = 1000
	DefaultRetries      = 4
	DefaultRetryBase    = 100 * time.Millisecond
	DefaultRetryMax     = 5 * time.Second
	DefaultTimeout      = time.Minute
)

// S3's limits on multipart uploads.
const (
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
	maxParts    = 10000
)

// ErrAuth is wrapped by the errors of Open and of every operation when the
// server refuses the credentials (an unknown access key, a wrong secret) or
// denies access to the bucket.
var ErrAuth = errors.New("s3: access refused")

// Config says where the bucket is and how to sign requests. The zero value
// of each tuning field (PartSize and below) selects its default.
type Config struct {
	// Endpoint is the S3 endpoint URL, e.g. https://s3.gra.io.cloud.ovh.net,
	// https://oos.eu-west-2.outscale.com, https://s3.fr-par.scw.cloud, or a
	// Ceph RGW or MinIO address. Empty: AWS, resolved from Region.
	Endpoint string
	// Region signs the requests (SigV4), and places a bucket that Open
	// creates. Default us-east-1.
	Region string
	// Bucket holds the blobs. Open creates it if it is missing.
	Bucket string
	// AccessKey and SecretKey sign the requests; SessionToken, if set,
	// makes them temporary credentials.
	AccessKey, SecretKey, SessionToken string
	// PathStyle addresses the bucket in the path (https://HOST/BUCKET/KEY)
	// rather than in the host name: for servers without wildcard DNS (Ceph
	// RGW, MinIO, Swift's s3api, any IP address).
	PathStyle bool
	// Prefix is prepended to every blob name to make its key, so that
	// several stores can share a bucket; it usually ends with '/'.
	Prefix string

	// PartSize is the largest blob sent in one PutObject, and the size of
	// the parts of larger ones, sent as a multipart upload (default 8 MiB;
	// at least 5 MiB; raised for blobs that would need more than 10,000
	// parts). Blobs are read into memory a part at a time.
	PartSize int64
	// Concurrency is the number of parts a Put uploads at once (default
	// 2). A Put holds up to Concurrency+1 parts in memory.
	Concurrency int
	// ListPageSize is the number of keys List asks for per request
	// (default 1000, the most S3 returns).
	ListPageSize int
	// Retries bounds the retries of a request that failed transiently
	// (default 4; negative: none). RetryBase and RetryMax bound the
	// backoff between attempts (defaults 100 ms and 5 s).
	Retries             int
	RetryBase, RetryMax time.Duration
	// Timeout is how long a request may wait for the response's headers
	// once it is sent (default 1 minute); a request that times out is
	// retried. It applies to the default Transport only.
	Timeout time.Duration
	// Transport carries the requests (a custom TLS configuration, for
	// instance). By default a clone of http.DefaultTransport.
	Transport http.RoundTripper
}

// Validate checks what Open cannot work without, and says how to fix it.
func (c *Config) Validate() error {
	var errs []error
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("s3: endpoint %q is not an http(s) URL", c.Endpoint))
		}
	}
	if n := len(c.Bucket); n < 3 || n > 63 || strings.ContainsAny(c.Bucket, "/ ") {
		errs = append(errs, fmt.Errorf("s3: bucket %q must be a bucket name of 3 to 63 characters", c.Bucket))
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		errs = append(errs, errors.New("s3: access_key and secret_key are required"))
	}
	if len(c.Prefix) > 512 || strings.HasPrefix(c.Prefix, "/") {
		errs = append(errs, fmt.Errorf("s3: prefix %q must be at most 512 bytes and not start with '/'", c.Prefix))
	}
	if c.PartSize != 0 && (c.PartSize < minPartSize || c.PartSize > maxPartSize) {
		errs = append(errs, fmt.Errorf("s3: part_size %d must be between 5 MiB and 5 GiB (S3's limits)", c.PartSize))
	}
	return errors.Join(errs...)
}

// Store is a backend.Store in an S3 bucket. It is safe for concurrent use.
type Store struct {
	client    *s3.Client
	bucket    string
	prefix    string
	transport remote.Transport
	accessKey string
	endpoint  string

	partSize    int64
	concurrency int
	pageSize    int32
	retry       remote.Backoff // the SDK's retryer's, and Get's resumptions
	unsigned    bool           // TLS endpoint: payloads are not hashed for the signature
	parts       sync.Pool      // *[]byte of partSize
	reads       remote.Reads
}

var _ backend.Store = (*Store)(nil)

// Open makes the client, checks the credentials and the bucket
// (HeadBucket), and creates the bucket if it is missing. Refused
// credentials give an error wrapping ErrAuth.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		bucket:      cfg.Bucket,
		prefix:      cfg.Prefix,
		accessKey:   cfg.AccessKey,
		endpoint:    cfg.Endpoint,
		partSize:    remote.OrDefault(cfg.PartSize, DefaultPartSize),
		concurrency: max(1, remote.OrDefault(cfg.Concurrency, DefaultConcurrency)),
		pageSize:    int32(min(remote.OrDefault(cfg.ListPageSize, DefaultListPageSize), 1000)),
		retry: remote.Backoff{
			Retries: max(0, remote.OrDefault(cfg.Retries, DefaultRetries)),
			Base:    remote.OrDefault(cfg.RetryBase, DefaultRetryBase),
			Max:     remote.OrDefault(cfg.RetryMax, DefaultRetryMax),
		},
		unsigned: strings.HasPrefix(cfg.Endpoint, "https://") || cfg.Endpoint == "",
	}
	s.reads = remote.Reads{
		Name: "s3", Open: s.getObject, Stat: s.Stat,
		Resumable: brokenTransfer, Retry: s.retry, Err: s.opError,
	}
	if s.endpoint == "" {
		s.endpoint = "AWS"
	}
	s.parts.New = func() any {
		b := make([]byte, s.partSize)
		return &b
	}
	s.transport = remote.NewTransport(cfg.Transport, remote.OrDefault(cfg.Timeout, DefaultTimeout))
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	opts := s3.Options{
		Region:       region,
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)),
		UsePathStyle: cfg.PathStyle,
		HTTPClient:   &http.Client{Transport: s.transport.RoundTripper},
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 1 + s.retry.Retries
			o.BaseDelay = s.retry.Base
			o.MaxBackoff = s.retry.Max
			// Retry every request that may: no retry quota shared
			// across requests, which would fail healthy ones after an
			// outage.
			o.RateLimiter = ratelimit.None
			// A part or object whose Content-MD5 did not match the bytes
			// that arrived: they changed in transit, and are at hand.
			o.Retryables = append(o.Retryables, retry.RetryableErrorCode{Codes: map[string]struct{}{"BadDigest": {}}})
		}),
		// Integrity is Content-MD5's, which every S3 verifies; the
		// newer checksums (CRC trailers) are not offered by every server.
		RequestChecksumCalculation:                aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation:                aws.ResponseChecksumValidationWhenRequired,
		DisableLogOutputChecksumValidationSkipped: true,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	s.client = s3.New(opts)
	if err := s.ensureBucket(ctx, region); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close releases idle connections. The store must not be used afterwards.
func (s *Store) Close() error { return s.transport.Close() }

// ensureBucket creates the bucket unless HeadBucket finds it.
func (s *Store) ensureBucket(ctx context.Context, region string) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if httpStatus(err) == http.StatusNotFound {
		in := &s3.CreateBucketInput{Bucket: &s.bucket}
		if region != "us-east-1" {
			in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
		}
		_, err = s.client.CreateBucket(ctx, in)
		if code := errorCode(err); code == "BucketAlreadyOwnedByYou" {
			err = nil // created meanwhile, by another of our stores
		}
		if err != nil {
			return fmt.Errorf("s3: creating bucket %s at %s: %w", s.bucket, s.endpoint, s.opError(ctx, err))
		}
		return nil
	}
	if httpStatus(err) == http.StatusForbidden {
		// A HEAD's answer has no body to say why: ask again with one.
		_, lerr := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, MaxKeys: aws.Int32(1)})
		if errorCode(lerr) != "" {
			err = lerr
		}
	}
	if err != nil {
		switch httpStatus(err) {
		case http.StatusMovedPermanently, http.StatusBadRequest:
			return fmt.Errorf("s3: bucket %s at %s: %v: is the region right (%s)?", s.bucket, s.endpoint, err, region)
		}
		if err := s.opError(ctx, err); errors.Is(err, ErrAuth) {
			return err // it names the endpoint, the key and the bucket
		}
		return fmt.Errorf("s3: bucket %s at %s: %w", s.bucket, s.endpoint, s.opError(ctx, err))
	}
	return nil
}

// key is the S3 key of a blob.
func (s *Store) key(name string) *string { return aws.String(s.prefix + name) }

// Stat describes the blob, or returns backend.ErrNotFound.
func (s *Store) Stat(ctx context.Context, name string) (backend.Info, error) {
	if !backend.ValidName(name) {
		return backend.Info{}, fmt.Errorf("s3: stat %q: %w", name, backend.ErrInvalidName)
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: s.key(name)})
	if notFound(err) {
		return backend.Info{}, backend.ErrNotFound
	}
	if err != nil {
		return backend.Info{}, fmt.Errorf("s3: stat %q: %w", name, s.opError(ctx, err))
	}
	return backend.Info{Name: name, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Delete removes the blob. Deleting a missing blob is not an error.
func (s *Store) Delete(ctx context.Context, name string) error {
	if !backend.ValidName(name) {
		return fmt.Errorf("s3: delete %q: %w", name, backend.ErrInvalidName)
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: s.key(name)})
	if err != nil && !notFound(err) {
		return fmt.Errorf("s3: delete %q: %w", name, s.opError(ctx, err))
	}
	return nil
}

// List calls fn for every blob whose name starts with prefix, in bytewise
// order: S3 lists keys in the order of their UTF-8 bytes, and names are
// ASCII. List checks the order and fails rather than return names out of
// order. Keys that are not blob names are skipped.
func (s *Store) List(ctx context.Context, prefix string, fn func(backend.Info) error) error {
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix), MaxKeys: aws.Int32(s.pageSize)}
	last := ""
	for {
		out, err := s.client.ListObjectsV2(ctx, in)
		if err != nil {
			return fmt.Errorf("s3: list %q: %w", prefix, s.opError(ctx, err))
		}
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			if key <= last && last != "" {
				return fmt.Errorf("s3: list %q: %q came after %q: the server does not list in bytewise order", prefix, key, last)
			}
			last = key
			name, ok := strings.CutPrefix(key, s.prefix)
			if !ok || !strings.HasPrefix(name, prefix) || !backend.ValidName(name) {
				continue
			}
			if err := fn(backend.Info{Name: name, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		if out.NextContinuationToken == nil {
			return fmt.Errorf("s3: list %q: truncated listing without a continuation token", prefix)
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// withUnsignedPayload skips hashing request bodies for the signature over
// TLS, which protects them on the way; Content-MD5 still has the server
// check them. Over plain HTTP the signature covers the payload.
func (s *Store) withUnsignedPayload(o *s3.Options) {
	if s.unsigned {
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}
}

// opError turns what failed into the error to return: the context's when
// it ended the call, ErrAuth (wrapped, with what to check) when access was
// refused.
func (s *Store) opError(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	switch code := errorCode(err); {
	case code == "InvalidAccessKeyId":
		return fmt.Errorf("%w: %s does not know access key %s (%v): check access_key", ErrAuth, s.endpoint, s.accessKey, err)
	case code == "SignatureDoesNotMatch":
		// Some servers (Swift's s3api) say so of unknown keys too.
		return fmt.Errorf("%w: %s refused the signature of access key %s (%v): check access_key, secret_key and region", ErrAuth, s.endpoint, s.accessKey, err)
	case code == "AccessDenied" || httpStatus(err) == http.StatusForbidden:
		return fmt.Errorf("%w: %s denied access key %s access to bucket %s (%v): check the key and the bucket's policy", ErrAuth, s.endpoint, s.accessKey, s.bucket, err)
	}
	return err
}

// notFound reports whether err says the key does not exist.
func notFound(err error) bool {
	if err == nil {
		return false
	}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf) ||
		(httpStatus(err) == http.StatusNotFound && errorCode(err) != "NoSuchBucket")
}

// errorCode is the S3 error code of err ("NoSuchKey"...), or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus is the HTTP status of the response that failed, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
