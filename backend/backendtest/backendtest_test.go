package backendtest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/backendtest"
)

// TestMemory runs the suite on the simplest correct store, so that a failure
// of a real backend points at the backend, not at the suite.
func TestMemory(t *testing.T) {
	backendtest.Run(t, backendtest.Opts{
		New: func(testing.TB) backend.Store { return &memStore{m: map[string]memBlob{}} },
	})
}

type memStore struct {
	mu sync.Mutex
	m  map[string]memBlob
}

type memBlob struct {
	b []byte
	t time.Time
}

func (s *memStore) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if !backend.ValidName(name) {
		return fmt.Errorf("mem: put %q: %w", name, backend.ErrInvalidName)
	}
	var buf bytes.Buffer
	chunk := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.Read(chunk)
		buf.Write(chunk[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("mem: put %q: %w", name, err)
		}
		if size >= 0 && int64(buf.Len()) > size {
			return fmt.Errorf("mem: put %q: more than %d bytes", name, size)
		}
	}
	if size >= 0 && int64(buf.Len()) != size {
		return fmt.Errorf("mem: put %q: %d bytes, want %d", name, buf.Len(), size)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[name] = memBlob{buf.Bytes(), time.Now()}
	return nil
}

func (s *memStore) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if !backend.ValidName(name) {
		return nil, fmt.Errorf("mem: get %q: %w", name, backend.ErrInvalidName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[name]
	if !ok {
		return nil, backend.ErrNotFound
	}
	p := b.b[min(off, int64(len(b.b))):]
	if length >= 0 && length < int64(len(p)) {
		p = p[:length]
	}
	return io.NopCloser(bytes.NewReader(p)), nil
}

func (s *memStore) Stat(ctx context.Context, name string) (backend.Info, error) {
	if !backend.ValidName(name) {
		return backend.Info{}, fmt.Errorf("mem: stat %q: %w", name, backend.ErrInvalidName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[name]
	if !ok {
		return backend.Info{}, backend.ErrNotFound
	}
	return backend.Info{Name: name, Size: int64(len(b.b)), ModTime: b.t}, nil
}

func (s *memStore) Delete(ctx context.Context, name string) error {
	if !backend.ValidName(name) {
		return fmt.Errorf("mem: delete %q: %w", name, backend.ErrInvalidName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, name)
	return nil
}

func (s *memStore) List(ctx context.Context, prefix string, fn func(backend.Info) error) error {
	s.mu.Lock()
	var infos []backend.Info
	for name, b := range s.m {
		if strings.HasPrefix(name, prefix) {
			infos = append(infos, backend.Info{Name: name, Size: int64(len(b.b)), ModTime: b.t})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(infos, func(a, b backend.Info) int { return strings.Compare(a.Name, b.Name) })
	for _, info := range infos {
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}
