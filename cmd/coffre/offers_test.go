package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/fs"
)

// TestLazyOffer checks that a remote offer down at start fails requests
// quickly, is retried after the interval, and serves once it answers.
func TestLazyOffer(t *testing.T) {
	store, err := fs.Open(filepath.Join(t.TempDir(), "offer"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var up atomic.Bool
	var opens atomic.Int32
	release := make(chan struct{})
	open := func(ctx context.Context) (backend.Store, error) {
		opens.Add(1)
		if !up.Load() {
			return nil, errors.New("connection refused")
		}
		select {
		case <-release: // a slow connection
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return store, nil
	}
	ctx := context.Background()
	l, err := newLazy(ctx, "remote", slog.New(slog.DiscardHandler), open)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.get(ctx); err == nil || !strings.Contains(err.Error(), "connection refused") || opens.Load() != 1 {
		t.Fatalf("within the retry interval: %v after %d opens, want the last error and no new attempt", err, opens.Load())
	}
	up.Store(true)
	l.mu.Lock()
	l.lastTry = time.Now().Add(-lazyRetry)
	l.mu.Unlock()
	opened := make(chan error, 1)
	go func() { _, err := l.get(ctx); opened <- err }()
	for opens.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if _, err := l.get(ctx); err == nil || !strings.Contains(err.Error(), "being attempted") {
		t.Fatalf("while another request connects: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a request waited %v behind a connection attempt", d)
	}
	close(release)
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, "obj/aa/blob", strings.NewReader("x"), 1); err != nil {
		t.Fatalf("Put once the offer answers: %v", err)
	}
}
