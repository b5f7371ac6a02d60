package swift

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	ncw "github.com/ncw/swift/v2"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/internal/remote"
)

// Defaults of Config's tuning fields.
const (
	DefaultBufferSize   = 8 << 20
	DefaultSegmentSize  = 5 << 30 // Swift's default max_file_size is 5 GiB + 2 bytes
	DefaultListPageSize = 1000
	DefaultRetries      = 4
	DefaultRetryBase    = 100 * time.Millisecond
	DefaultRetryMax     = 5 * time.Second
	DefaultTimeout      = 60 * time.Second
)

// Limits assumed when the cluster does not publish them (GET /info is
// disabled): Swift's own defaults.
const (
	defaultMaxFileSize = 5<<30 + 2
	defaultMaxSegments = 1000
)

// ErrAuth is wrapped by the errors of Open and of every operation when the
// identity service refuses the credentials, or the user may not use the
// container.
var ErrAuth = errors.New("swift: authentication failed")

// Config says where the container is and how to log in. The zero value of
// each tuning field (BufferSize and below) selects its default.
type Config struct {
	// AuthURL is the identity endpoint: Keystone v3
	// (https://keystone.example:5000/v3) or tempauth v1.0
	// (http://127.0.0.1:8080/auth/v1.0).
	AuthURL string
	// AuthVersion is 1 (tempauth, swauth) or 3 (Keystone v3); 0 guesses
	// it from AuthURL ("v1", "v3").
	AuthVersion int
	// User and Key are the user name and its password (Keystone), or
	// "account:user" and its key (tempauth).
	User, Key string
	// Domain is the Keystone domain of User (v3), e.g. "Default".
	Domain string
	// Project (or ProjectID) scopes the Keystone token to the project
	// that owns the container (v3); ProjectDomain is the project's domain
	// when it is not Domain.
	Project, ProjectID, ProjectDomain string
	// ApplicationCredentialID and ApplicationCredentialSecret log in with
	// a Keystone application credential instead of User and Key (v3).
	ApplicationCredentialID, ApplicationCredentialSecret string
	// Region picks the object-store endpoint of the Keystone catalog; by
	// default the first one.
	Region string
	// Internal picks the catalog's internal endpoint rather than the
	// public one.
	Internal bool
	// Container holds the blobs. Open creates it if it is missing.
	Container string

	// BufferSize is the largest blob Put reads into memory before
	// sending it (default 8 MiB). Such a Put sends the MD5 with the
	// request, so Swift checks it before storing, and it is retried on
	// transient errors. Larger blobs are streamed. Negative: never buffer.
	BufferSize int64
	// SegmentSize is the largest blob stored as one Swift object; larger
	// ones become static large objects of segments of this size (default
	// 5 GiB, lowered to the cluster's max_file_size).
	SegmentSize int64
	// ListPageSize is the number of names List asks for per request
	// (default 1000).
	ListPageSize int
	// Retries bounds the retries of a request that failed transiently
	// (default 4; negative: none). RetryBase and RetryMax bound the
	// backoff between attempts (defaults 100 ms and 5 s).
	Retries             int
	RetryBase, RetryMax time.Duration
	// Timeout is how long a request may go without any byte moving
	// (default 60 s).
	Timeout time.Duration
	// Transport carries the requests (a custom TLS configuration, for
	// instance). By default a clone of http.DefaultTransport.
	Transport http.RoundTripper
}

// Validate checks what Open cannot work without, and says how to fix it.
func (c *Config) Validate() error {
	var errs []error
	if c.AuthURL == "" {
		errs = append(errs, errors.New("swift: auth_url is empty (Keystone's https://HOST:5000/v3, or tempauth's http://HOST:8080/auth/v1.0)"))
	} else if u, err := url.Parse(c.AuthURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("swift: auth_url %q is not an http(s) URL", c.AuthURL))
	}
	switch c.AuthVersion {
	case 0, 1, 3:
	default:
		errs = append(errs, fmt.Errorf("swift: auth_version %d is not supported (1 for tempauth, 3 for Keystone v3)", c.AuthVersion))
	}
	if c.ApplicationCredentialID == "" && (c.User == "" || c.Key == "") {
		errs = append(errs, errors.New("swift: user and key are required (or application_credential_id and _secret for Keystone)"))
	}
	if c.Container == "" || len(c.Container) > 256 || strings.ContainsRune(c.Container, '/') {
		errs = append(errs, fmt.Errorf("swift: container %q must be 1 to 256 bytes without '/'", c.Container))
	}
	if c.SegmentSize < 0 {
		errs = append(errs, fmt.Errorf("swift: segment_size %d is negative", c.SegmentSize))
	}
	return errors.Join(errs...)
}

// Store is a backend.Store in a Swift container. It is safe for concurrent
// use.
type Store struct {
	conn      *ncw.Connection
	container string
	transport remote.Transport

	bufferSize  int64
	segmentSize int64
	maxSegments int
	pageSize    int
	retry       retrier
	reads       remote.Reads
}

var _ backend.Store = (*Store)(nil)

// Open logs in, learns the cluster's limits (GET /info) and creates the
// container if it does not exist. Wrong credentials give an error wrapping
// ErrAuth.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		container:   cfg.Container,
		bufferSize:  remote.OrDefault(cfg.BufferSize, DefaultBufferSize),
		segmentSize: remote.OrDefault(cfg.SegmentSize, DefaultSegmentSize),
		pageSize:    remote.OrDefault(cfg.ListPageSize, DefaultListPageSize),
		retry: retrier{remote.Backoff{
			Retries: max(0, remote.OrDefault(cfg.Retries, DefaultRetries)),
			Base:    remote.OrDefault(cfg.RetryBase, DefaultRetryBase),
			Max:     remote.OrDefault(cfg.RetryMax, DefaultRetryMax),
		}},
	}
	s.reads = remote.Reads{
		Name: "swift", Open: s.getObject, Stat: s.Stat,
		Resumable: transient, Retry: s.retry.Backoff, Err: s.opError,
	}
	if s.bufferSize < 0 {
		s.bufferSize = -1
	}
	s.transport = remote.NewTransport(cfg.Transport, 0)
	s.conn = &ncw.Connection{
		AuthUrl:                     cfg.AuthURL,
		AuthVersion:                 cfg.AuthVersion,
		UserName:                    cfg.User,
		ApiKey:                      cfg.Key,
		Domain:                      cfg.Domain,
		Tenant:                      cfg.Project,
		TenantId:                    cfg.ProjectID,
		TenantDomain:                cfg.ProjectDomain,
		ApplicationCredentialId:     cfg.ApplicationCredentialID,
		ApplicationCredentialSecret: cfg.ApplicationCredentialSecret,
		Region:                      cfg.Region,
		Internal:                    cfg.Internal,
		Timeout:                     remote.OrDefault(cfg.Timeout, DefaultTimeout),
		Transport:                   s.transport.RoundTripper,
		// The library's own retries (immediate, GET and HEAD only) are off:
		// s.retry retries with backoff, and logs in again on a 401.
		Retries:   -1,
		UserAgent: "coffre-swift/1",
	}
	if s.conn.AuthVersion == 0 && !strings.Contains(cfg.AuthURL, "v1") && !strings.Contains(cfg.AuthURL, "v3") {
		return nil, fmt.Errorf("swift: cannot tell the auth version from %s: set auth_version (1 for tempauth, 3 for Keystone v3)", cfg.AuthURL)
	}
	err := s.retry.do(ctx, nil, func() error { return s.conn.Authenticate(ctx) })
	if err != nil {
		s.Close()
		return nil, s.authError(err)
	}
	if err := s.limits(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.ensureContainer(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close releases idle connections. The store must not be used afterwards.
func (s *Store) Close() error { return s.transport.Close() }

// authError explains a failed login.
func (s *Store) authError(err error) error {
	who := s.conn.UserName
	if who == "" {
		who = "application credential " + s.conn.ApplicationCredentialId
	}
	var se *ncw.Error
	if errors.As(err, &se) && se.StatusCode == 0 && strings.Contains(se.Text, "storage url") {
		iface := "public"
		if s.conn.Internal {
			iface = "internal"
		}
		return fmt.Errorf("swift: %s logged in at %s, but the catalog has no object-store endpoint of interface %s in region %q: check region and internal", who, s.conn.AuthUrl, iface, s.conn.Region)
	}
	switch status(err) {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %s at %s refused (%v): check the user, key, domain and project", ErrAuth, who, s.conn.AuthUrl, err)
	case http.StatusBadRequest:
		return fmt.Errorf("%w: %s at %s: bad request (%v): check auth_version and the domain and project fields", ErrAuth, who, s.conn.AuthUrl, err)
	}
	return fmt.Errorf("swift: logging in as %s at %s: %w", who, s.conn.AuthUrl, err)
}

// limits reads the cluster's max_file_size and SLO limits from GET /info,
// and keeps Swift's defaults where the endpoint is disabled.
func (s *Store) limits(ctx context.Context) error {
	maxFile, maxSegs := int64(defaultMaxFileSize), defaultMaxSegments
	var info ncw.SwiftInfo
	err := s.retry.do(ctx, nil, func() error {
		var err error
		info, err = s.conn.QueryInfo(ctx)
		return err
	})
	if ctx.Err() != nil {
		return fmt.Errorf("swift: GET /info: %w", ctx.Err())
	}
	if err == nil {
		if sw, ok := info["swift"].(map[string]any); ok {
			if v, ok := sw["max_file_size"].(float64); ok && v > 0 {
				maxFile = int64(v)
			}
		}
		if !info.SupportsSLO() {
			maxSegs = 0
		} else if slo, ok := info["slo"].(map[string]any); ok {
			if v, ok := slo["max_manifest_segments"].(float64); ok && v > 0 {
				maxSegs = int(v)
			}
			if v, ok := slo["min_segment_size"].(float64); ok && int64(v) > s.segmentSize {
				return fmt.Errorf("swift: segment_size %d is below the cluster's SLO min_segment_size %d", s.segmentSize, int64(v))
			}
		}
	}
	s.segmentSize = min(s.segmentSize, maxFile)
	s.bufferSize = min(s.bufferSize, s.segmentSize)
	s.maxSegments = maxSegs
	return nil
}

// ensureContainer creates the container unless it exists.
func (s *Store) ensureContainer(ctx context.Context) error {
	err := s.retry.do(ctx, s.conn, func() error {
		_, _, err := s.conn.Container(ctx, s.container)
		if errors.Is(err, ncw.ContainerNotFound) {
			err = s.conn.ContainerCreate(ctx, s.container, nil)
		}
		return err
	})
	if err != nil {
		if st := status(err); st == http.StatusUnauthorized || st == http.StatusForbidden {
			return fmt.Errorf("%w: %s may not use container %s (%v): grant it access, or name a container of its project", ErrAuth, s.conn.UserName, s.container, err)
		}
		return fmt.Errorf("swift: container %s: %w", s.container, err)
	}
	return nil
}

// Stat describes the blob, or returns backend.ErrNotFound.
func (s *Store) Stat(ctx context.Context, name string) (backend.Info, error) {
	if !backend.ValidName(name) {
		return backend.Info{}, fmt.Errorf("swift: stat %q: %w", name, backend.ErrInvalidName)
	}
	info, _, err := s.head(ctx, name)
	if err == backend.ErrNotFound {
		return backend.Info{}, err
	}
	if err != nil {
		return backend.Info{}, fmt.Errorf("swift: stat %q: %w", name, err)
	}
	return info, nil
}

// head is Stat with the response headers, retried.
func (s *Store) head(ctx context.Context, name string) (backend.Info, ncw.Headers, error) {
	var (
		obj ncw.Object
		h   ncw.Headers
	)
	err := s.retry.do(ctx, s.conn, func() error {
		var err error
		obj, h, err = s.conn.Object(ctx, s.container, name)
		return err
	})
	if errors.Is(err, ncw.ObjectNotFound) {
		return backend.Info{}, nil, backend.ErrNotFound
	}
	if err != nil {
		return backend.Info{}, nil, s.opError(ctx, err)
	}
	return backend.Info{Name: name, Size: obj.Bytes, ModTime: modTime(h, obj.LastModified)}, h, nil
}

// modTime is the object's X-Timestamp (the time the proxy accepted the
// write, to the microsecond, which container listings show too), else its
// Last-Modified (rounded up to the second).
func modTime(h ncw.Headers, lastModified time.Time) time.Time {
	if ts, err := strconv.ParseFloat(h["X-Timestamp"], 64); err == nil && ts > 0 {
		sec := int64(ts)
		return time.Unix(sec, int64((ts-float64(sec))*1e6)*1e3).UTC()
	}
	return lastModified
}

// Delete removes the blob; a static large object goes with its segments.
// Deleting a missing blob is not an error.
func (s *Store) Delete(ctx context.Context, name string) error {
	if !backend.ValidName(name) {
		return fmt.Errorf("swift: delete %q: %w", name, backend.ErrInvalidName)
	}
	err := s.retry.do(ctx, s.conn, func() error {
		_, h, err := s.conn.Object(ctx, s.container, name)
		if errors.Is(err, ncw.ObjectNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.IsLargeObjectSLO() {
			return s.deleteSLO(ctx, name)
		}
		err = s.conn.ObjectDelete(ctx, s.container, name)
		if errors.Is(err, ncw.ObjectNotFound) {
			return nil // a concurrent Delete won
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("swift: delete %q: %w", name, s.opError(ctx, err))
	}
	return nil
}

// opError turns what failed into the error to return: the context's when
// it ended the call, a clear ErrAuth when credentials stopped working.
func (s *Store) opError(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	switch status(err) {
	case http.StatusUnauthorized:
		return fmt.Errorf("%w: the token of %s was refused after logging in again (%v)", ErrAuth, s.conn.UserName, err)
	case http.StatusForbidden:
		return fmt.Errorf("%w: %s may not use container %s (%v)", ErrAuth, s.conn.UserName, s.container, err)
	}
	return err
}

// status is the HTTP status of a Swift error, or 0.
func status(err error) int {
	var se *ncw.Error
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}
