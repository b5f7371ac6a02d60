package remotetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/internal/testenv"
)

// StoppedPut checks that a Put of data fails when the proxy stops after
// the reader gave after bytes, under the name "fresh" and under "existing"
// (which holds prev), and that it leaves nothing partial: no blob "fresh",
// and "existing" intact.
func StoppedPut(t *testing.T, sw *testenv.SwiftServer, s backend.Store, data []byte, after int64, prev []byte) {
	for _, name := range []string{"fresh", "existing"} {
		r := &HookReader{R: bytes.NewReader(data), After: after, Hook: func() { sw.StopProxy(t) }}
		err := s.Put(t.Context(), name, r, int64(len(data)))
		if err == nil {
			t.Errorf("Put(%q) with the proxy stopped after %d MiB of %d = nil, want an error", name, after>>20, len(data)>>20)
		}
		t.Logf("Put(%q) = %v", name, err)
		sw.StartProxy(t)
	}
	CheckMissing(t, s, "fresh")
	if got := Get(t, s, "existing", 0, -1); !bytes.Equal(got, prev) {
		t.Errorf("existing blob changed by a failed Put: %d bytes", len(got))
	}
}

// Down checks, with the proxy stopped, that every operation of s fails,
// that no error is backend.ErrNotFound, that Open (open of cfg) fails too,
// and that once the proxy is back nothing has changed: no blob "fresh",
// "existing" holding prev.
func Down[C any, S io.Closer](t *testing.T, sw *testenv.SwiftServer, s backend.Store, open func(context.Context, C) (S, error), cfg C, prev []byte) {
	sw.StopProxy(t)
	defer sw.StartProxy(t)
	ctx := t.Context()
	if err := s.Put(ctx, "fresh", bytes.NewReader(prev), int64(len(prev))); err == nil {
		t.Error("Put = nil, want an error")
	}
	if _, err := s.Stat(ctx, "existing"); err == nil || err == backend.ErrNotFound {
		t.Errorf("Stat = %v, want an error other than ErrNotFound", err)
	}
	if rc, err := s.Get(ctx, "existing", 0, -1); err == nil || err == backend.ErrNotFound {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Get = %v, want an error other than ErrNotFound", err)
	}
	if err := s.Delete(ctx, "existing"); err == nil {
		t.Error("Delete = nil, want an error")
	}
	if err := s.List(ctx, "", func(backend.Info) error { return nil }); err == nil {
		t.Error("List = nil, want an error")
	}
	if s, err := open(ctx, cfg); err == nil {
		s.Close()
		t.Error("Open = nil, want an error")
	}
	sw.StartProxy(t)
	CheckMissing(t, s, "fresh")
	if got := Get(t, s, "existing", 0, -1); !bytes.Equal(got, prev) {
		t.Errorf("existing blob changed: %d bytes", len(got))
	}
}

// ReadAcrossRestart stores data under name, reads its first MiB, stops the
// proxy and starts it again 200 ms later: the rest of the read must resume
// and give the blob to its end, identical.
func ReadAcrossRestart(t *testing.T, sw *testenv.SwiftServer, s backend.Store, name string, data []byte) {
	Put(t, s, name, data)
	rc, err := s.Get(t.Context(), name, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 1<<20)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	sw.StopProxy(t)
	go func() {
		time.Sleep(200 * time.Millisecond)
		sw.StartProxy(t)
	}()
	rest, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatalf("reading %s across a proxy restart: %v", name, err)
	}
	if got := append(head, rest...); !bytes.Equal(got, data) {
		t.Fatalf("%s read across a proxy restart differs (%d bytes, want %d)", name, len(got), len(data))
	}
}

// CancelledRead checks that the reader of the blob name stops with the
// context of its Get, midway.
func CancelledRead(t *testing.T, s backend.Store, name string) {
	ctx, cancel := context.WithCancel(t.Context())
	rc, err := s.Get(ctx, name, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Errorf("reading after cancel = %v, want context.Canceled", err)
	}
}

// Retried checks, through f, that a Put of b as "a", then a Get, a Stat
// and a List, each get past the first two answers being transient
// statuses: 503, or stat for the Stat. It returns the requests of the Put.
func Retried(t *testing.T, f *Front, s backend.Store, b []byte, stat int) (puts []string) {
	ctx := t.Context()
	f.Set(FirstN(2, http.StatusServiceUnavailable))
	if err := s.Put(ctx, "a", bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatalf("Put(%d bytes) after two 503s = %v", len(b), err)
	}
	puts = f.Seen()
	f.Set(FirstN(2, http.StatusServiceUnavailable))
	if got := Get(t, s, "a", 0, -1); !bytes.Equal(got, b) {
		t.Errorf("Get after two 503s: %d bytes, want %d", len(got), len(b))
	}
	f.Set(FirstN(2, stat))
	if _, err := s.Stat(ctx, "a"); err != nil {
		t.Errorf("Stat after two %ds = %v", stat, err)
	}
	f.Set(FirstN(2, http.StatusServiceUnavailable))
	if names := List(t, s, ""); !slices.Equal(names, []string{"a"}) {
		t.Errorf("List after two 503s = %q", names)
	}
	return puts
}

// NotRetried checks, through f, that a Put answered 400 fails at once: a
// client error is not transient.
func NotRetried(t *testing.T, f *Front, s backend.Store) {
	f.Set(FirstN(1, http.StatusBadRequest))
	if err := s.Put(t.Context(), "c", bytes.NewReader([]byte("c")), 1); err == nil {
		t.Error("Put answered 400 = nil, want an error")
	}
	if got := f.Seen(); len(got) != 1 {
		t.Errorf("requests %v, want one: a 400 is not transient", got)
	}
}

// RetriesBounded checks, through f, that a Put against a server that
// always answers 503 fails after 1 attempt and 4 retries (the default),
// and returns its error.
func RetriesBounded(t *testing.T, f *Front, s backend.Store) error {
	f.Set(Always(http.StatusServiceUnavailable))
	start := time.Now()
	err := s.Put(t.Context(), "d", bytes.NewReader([]byte("d")), 1)
	if err == nil {
		t.Error("Put against a server answering 503 = nil, want an error")
	}
	if got := f.Seen(); len(got) != 5 {
		t.Errorf("requests %v, want 5 PUTs (1 + 4 retries)", got)
	}
	t.Logf("gave up after %v", time.Since(start))
	return err
}

// CutResponses stores data as "e" and checks, through f, that a Get from
// byte 100 resumes across three responses cut after 1 MiB, in gets GET
// requests in all; then that a Get across responses cut after 1 MiB fails,
// saying so, when the blob is replaced between two of them rather than
// splice two versions.
func CutResponses(t *testing.T, f *Front, s backend.Store, data []byte, gets int) {
	f.Set(nil)
	Put(t, s, "e", data)
	var cuts atomic.Int64
	f.Set(func(r *http.Request, _ int) (int, int64) {
		if r.Method == "GET" && cuts.Add(1) <= 3 {
			return 0, 1 << 20 // each response stops after 1 MiB
		}
		return 0, -1
	})
	if got := Get(t, s, "e", 100, -1); !bytes.Equal(got, data[100:]) {
		t.Errorf("Get across 3 cut responses: %d bytes, want %d", len(got), len(data)-100)
	}
	if got := f.Seen(); len(got) != gets {
		t.Errorf("requests %v, want %d GETs", got, gets)
	}
	f.Set(func(r *http.Request, _ int) (int, int64) {
		if r.Method == "GET" {
			return 0, 1 << 20
		}
		return 0, -1
	})
	rc, err := s.Get(t.Context(), "e", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	f.Set(nil)
	Put(t, s, "e", Random(t, len(data)))
	if _, err := io.ReadAll(rc); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("reading a blob replaced midway = %v, want an error saying it changed", err)
	}
}

// ListPages stores 13 blobs in s, "p/12" down to "p/00" (against the
// order of names), and calls foreign, which adds objects that are not
// blobs under the store's feet. It checks that List gives, in bytewise
// order, these blobs and the others s already holds, under "" and under
// "p/0": across pages, when s lists fewer names per request.
func ListPages(t *testing.T, s backend.Store, others []string, foreign func()) {
	want := slices.Clone(others)
	for i := range 13 {
		name := fmt.Sprintf("p/%02d", 12-i)
		Put(t, s, name, []byte(name))
		want = append(want, name)
	}
	foreign()
	slices.Sort(want)
	if got := List(t, s, ""); !slices.Equal(got, want) {
		t.Errorf("List(\"\") =\n%q\nwant\n%q", got, want)
	}
	if got := List(t, s, "p/0"); !slices.Equal(got, want[:10]) {
		t.Errorf("List(\"p/0\") =\n%q\nwant\n%q", got, want[:10])
	}
}
