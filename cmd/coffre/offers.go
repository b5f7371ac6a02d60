package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/fs"
	"github.com/coffre-cloud/coffre/backend/s3"
	"github.com/coffre-cloud/coffre/backend/swift"
	"github.com/coffre-cloud/coffre/config"
)

// openOffer opens an offer's backend. A remote offer (Swift, S3) that does
// not answer at start does not stop the site: it is opened again on first
// use; until then every request to it fails (ServiceUnavailable to S3
// clients), so nothing is ever written elsewhere.
func openOffer(ctx context.Context, cfg *config.Config, o *config.Offer, log *slog.Logger) (backend.Store, error) {
	switch o.Backend {
	case config.BackendFS:
		return fs.Open(cfg.Path(o.FS.Path))
	case config.BackendSwift:
		c := swift.Config{
			AuthURL: o.Swift.AuthURL, AuthVersion: o.Swift.AuthVersion,
			User: o.Swift.User, Key: os.Getenv(o.Swift.KeyEnv),
			Domain: o.Swift.Domain, Project: o.Swift.Project,
			Region: o.Swift.Region, Container: o.Swift.Container,
		}
		if c.Key == "" {
			return nil, fmt.Errorf("the environment variable %s (swift.key_env) is empty", o.Swift.KeyEnv)
		}
		return newLazy(ctx, o.Name, log, func(ctx context.Context) (backend.Store, error) { return swift.Open(ctx, c) })
	case config.BackendS3:
		c := s3.Config{
			Endpoint: o.S3.Endpoint, Region: o.S3.Region, Bucket: o.S3.Bucket,
			AccessKey: os.Getenv(o.S3.AccessKeyEnv), SecretKey: os.Getenv(o.S3.SecretKeyEnv),
			PathStyle: o.S3.PathStyle,
		}
		if c.AccessKey == "" || c.SecretKey == "" {
			return nil, fmt.Errorf("the environment variables %s and %s (s3.access_key_env, s3.secret_key_env) must both be set", o.S3.AccessKeyEnv, o.S3.SecretKeyEnv)
		}
		return newLazy(ctx, o.Name, log, func(ctx context.Context) (backend.Store, error) { return s3.Open(ctx, c) })
	}
	return nil, fmt.Errorf("unknown backend %q", o.Backend)
}

// lazy is a remote backend opened on first use when it could not be opened
// at start, at most once per retry interval. While one request opens it,
// the others fail at once rather than queue behind a connection that may
// take its whole timeout to fail.
type lazy struct {
	name string
	open func(context.Context) (backend.Store, error)
	log  *slog.Logger

	mu      sync.Mutex
	store   backend.Store
	opening bool
	lastTry time.Time
	lastErr error
}

const (
	lazyRetry   = 2 * time.Second
	lazyTimeout = 30 * time.Second
)

func newLazy(ctx context.Context, name string, log *slog.Logger, open func(context.Context) (backend.Store, error)) (*lazy, error) {
	l := &lazy{name: name, open: open, log: log}
	if _, err := l.get(ctx); err != nil {
		log.Warn("offer unreachable at start; requests to it fail until it answers", "offer", name, "err", err)
	}
	return l, nil
}

func (l *lazy) get(ctx context.Context) (backend.Store, error) {
	l.mu.Lock()
	switch {
	case l.store != nil:
		s := l.store
		l.mu.Unlock()
		return s, nil
	case l.opening:
		l.mu.Unlock()
		return nil, fmt.Errorf("offer %s is unreachable: a connection is being attempted", l.name)
	case l.lastErr != nil && time.Since(l.lastTry) < lazyRetry:
		err := l.lastErr
		l.mu.Unlock()
		return nil, fmt.Errorf("offer %s is unreachable: %w", l.name, err)
	}
	l.opening = true
	l.mu.Unlock()

	octx, cancel := context.WithTimeout(ctx, lazyTimeout)
	s, err := l.open(octx)
	cancel()

	l.mu.Lock()
	defer l.mu.Unlock()
	l.opening, l.lastTry, l.lastErr = false, time.Now(), err
	if err != nil {
		return nil, fmt.Errorf("offer %s is unreachable: %w", l.name, err)
	}
	l.store = s
	l.log.Info("offer reachable", "offer", l.name)
	return s, nil
}

func (l *lazy) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	return s.Put(ctx, name, r, size)
}

func (l *lazy) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	s, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, name, off, length)
}

func (l *lazy) Stat(ctx context.Context, name string) (backend.Info, error) {
	s, err := l.get(ctx)
	if err != nil {
		return backend.Info{}, err
	}
	return s.Stat(ctx, name)
}

func (l *lazy) Delete(ctx context.Context, name string) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	return s.Delete(ctx, name)
}

func (l *lazy) List(ctx context.Context, prefix string, fn func(backend.Info) error) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	return s.List(ctx, prefix, fn)
}

func (l *lazy) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
