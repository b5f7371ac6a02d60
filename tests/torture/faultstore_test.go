package torture_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/backendtest"
	"github.com/coffre-cloud/coffre/backend/fs"
)

// faultStore is a backend.Store that wraps another and, while it is on,
// makes its calls fail, stall, store short or corrupt bytes, and return
// corrupt, truncated or broken streams, at random (a seeded RNG). It counts
// every fault it injects, by kind, once the fault has taken effect. Off, it
// is the store it wraps, and passes backendtest.
//
// Some faults break the backend's contract on purpose, as a faulty disk or
// a buggy provider would: Put returning success with fewer bytes stored, or
// with a bit flipped, is corruption at rest that the vault must detect when
// it reads the blob (the encryption format authenticates every chunk and
// the end of the stream), never serve as data.
type faultStore struct {
	next  backend.Store
	stats *counters
	on    atomic.Bool
	rates faultRates

	mu  sync.Mutex
	rng *rand.Rand
}

var _ backend.Store = (*faultStore)(nil)

// faultRates are the probabilities of each fault per call.
type faultRates struct {
	latency float64 // any call: 1-40 ms more

	putError       float64 // fails before reading the body
	putShortFail   float64 // reads part of the body, then fails; nothing stored
	putShortStored float64 // reads the whole body, stores a prefix, reports success
	putFlipStored  float64 // stores the body with one bit flipped, reports success

	getError     float64 // fails before any byte
	getFlip      float64 // one bit of the stream flipped
	getTruncate  float64 // the stream ends early, with io.EOF
	getReadError float64 // the stream breaks with an error partway
	// getCut breaks the stream partway with an error that wraps
	// io.ErrUnexpectedEOF, as backend/s3 and backend/swift report a
	// response cut for good (backend/internal/remote).
	getCut float64

	statError, deleteError, listError float64
}

// defaultRates make roughly one call in six fail somehow.
var defaultRates = faultRates{
	latency:  0.10,
	putError: 0.04, putShortFail: 0.03, putShortStored: 0.02, putFlipStored: 0.02,
	getError: 0.04, getFlip: 0.04, getTruncate: 0.04, getReadError: 0.02, getCut: 0.02,
	statError: 0.05, deleteError: 0.10, listError: 0.10,
}

func newFaultStore(next backend.Store, seed uint64, rates faultRates, stats *counters) *faultStore {
	return &faultStore{next: next, stats: stats, rates: rates, rng: rand.New(rand.NewPCG(seed, 0x6661756c74))}
}

// errInjected is the cause of every failure the store makes up.
var errInjected = errors.New("injected fault")

func (f *faultStore) chance(p float64) bool {
	if p == 0 || !f.on.Load() {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < p
}

// int63n is a random number in [0, n), 0 when n <= 0.
func (f *faultStore) int63n(n int64) int64 {
	if n <= 0 {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Int64N(n)
}

func (f *faultStore) count(kind string) { f.stats.add("faults."+kind, 1) }

// delay sometimes adds latency, as a busy disk or a far provider does.
func (f *faultStore) delay(ctx context.Context, op string) error {
	if !f.chance(f.rates.latency) {
		return nil
	}
	f.count(op + ".latency")
	t := time.NewTimer(time.Duration(1+f.int63n(40)) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (f *faultStore) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := f.delay(ctx, "put"); err != nil {
		return err
	}
	span := size
	if span < 0 {
		span = 64 << 10
	}
	switch {
	case f.chance(f.rates.putError):
		f.count("put.error")
		return fmt.Errorf("put %s: %w", name, errInjected)
	case f.chance(f.rates.putShortFail):
		n, _ := io.CopyN(io.Discard, r, f.int63n(span))
		f.count("put.short_fail")
		return fmt.Errorf("put %s: failed after %d bytes: %w", name, n, errInjected)
	case size > 0 && f.chance(f.rates.putShortStored):
		k := f.int63n(size)
		if err := f.next.Put(ctx, name, io.LimitReader(r, k), k); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
		f.count("put.short_stored")
		return nil
	case size > 0 && f.chance(f.rates.putFlipStored):
		fr := &faultReader{r: r, f: f, at: f.int63n(size), bit: byte(1 << f.int63n(8)), kind: "put.flip_stored"}
		return f.next.Put(ctx, name, fr, size)
	}
	return f.next.Put(ctx, name, r, size)
}

func (f *faultStore) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := f.delay(ctx, "get"); err != nil {
		return nil, err
	}
	if f.chance(f.rates.getError) {
		f.count("get.error")
		return nil, fmt.Errorf("get %s: %w", name, errInjected)
	}
	rc, err := f.next.Get(ctx, name, off, length)
	if err != nil {
		return nil, err
	}
	span := length
	if span <= 0 {
		span = 64 << 10
	}
	fr := &faultReader{r: rc, c: rc, f: f, at: f.int63n(span)}
	switch {
	case f.chance(f.rates.getFlip):
		fr.kind, fr.bit = "get.flip", byte(1<<f.int63n(8))
	case f.chance(f.rates.getTruncate):
		fr.kind = "get.truncate"
	case f.chance(f.rates.getReadError):
		fr.kind = "get.read_error"
		fr.err = fmt.Errorf("get %s at byte %d: %w", name, off+fr.at, errInjected)
	case f.chance(f.rates.getCut):
		fr.kind = "get.cut"
		fr.err = fmt.Errorf("get %s at byte %d: %w (%w)", name, off+fr.at, io.ErrUnexpectedEOF, errInjected)
	default:
		return rc, nil
	}
	return fr, nil
}

func (f *faultStore) Stat(ctx context.Context, name string) (backend.Info, error) {
	if err := f.delay(ctx, "stat"); err != nil {
		return backend.Info{}, err
	}
	if f.chance(f.rates.statError) {
		f.count("stat.error")
		return backend.Info{}, fmt.Errorf("stat %s: %w", name, errInjected)
	}
	return f.next.Stat(ctx, name)
}

func (f *faultStore) Delete(ctx context.Context, name string) error {
	if err := f.delay(ctx, "delete"); err != nil {
		return err
	}
	if f.chance(f.rates.deleteError) {
		f.count("delete.error")
		return fmt.Errorf("delete %s: %w", name, errInjected)
	}
	return f.next.Delete(ctx, name)
}

func (f *faultStore) List(ctx context.Context, prefix string, fn func(backend.Info) error) error {
	if err := f.delay(ctx, "list"); err != nil {
		return err
	}
	if f.chance(f.rates.listError) {
		f.count("list.error")
		return fmt.Errorf("list %q: %w", prefix, errInjected)
	}
	return f.next.List(ctx, prefix, fn)
}

// faultReader passes a stream through and, at byte at, flips a bit
// (kinds *.flip*), ends it (get.truncate) or fails with err
// (get.read_error, get.cut).
type faultReader struct {
	r    io.Reader
	c    io.Closer // nil for a Put's body
	f    *faultStore
	kind string
	at   int64
	bit  byte
	err  error
	pos  int64
	done bool
}

func (fr *faultReader) Read(p []byte) (int, error) {
	if fr.kind == "get.truncate" || fr.err != nil {
		if fr.pos >= fr.at {
			if !fr.done {
				fr.done = true
				fr.f.count(fr.kind)
			}
			if fr.err != nil {
				return 0, fr.err
			}
			return 0, io.EOF
		}
		if left := fr.at - fr.pos; int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := fr.r.Read(p)
	if fr.bit != 0 && !fr.done && fr.pos <= fr.at && fr.at < fr.pos+int64(n) {
		p[fr.at-fr.pos] ^= fr.bit
		fr.done = true
		fr.f.count(fr.kind)
	}
	fr.pos += int64(n)
	return n, err
}

func (fr *faultReader) Close() error {
	if fr.c == nil {
		return nil
	}
	return fr.c.Close()
}

// TestFaultStoreConformance checks that the fault injector, off, is the
// store it wraps: backendtest passes through it, as through every
// decorator.
func TestFaultStoreConformance(t *testing.T) {
	backendtest.Run(t, backendtest.Opts{New: func(tb testing.TB) backend.Store {
		st, err := fs.Open(tb.TempDir())
		if err != nil {
			tb.Fatalf("fs.Open: %v", err)
		}
		tb.Cleanup(func() { st.Close() })
		return newFaultStore(st, 1, defaultRates, &counters{})
	}})
}
