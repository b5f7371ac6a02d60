package sqlite

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/coffre-cloud/coffre/meta"
)

// A call is one Update waiting for, or being run by, the committer.
type call struct {
	ctx  context.Context
	fn   func(meta.Tx) error
	done chan outcome // buffered: the committer never waits for the caller

	// state arbitrates between a caller giving up on a canceled context
	// and the committer starting fn: whoever moves it from callQueued
	// first wins, so fn never runs for a caller that has returned.
	state atomic.Int32

	// ran counts the transactions fn has run in; a call is retried alone
	// at most once.
	ran int
}

const (
	callQueued int32 = iota
	callTaken
	callAbandoned
)

// outcome is what Update returns, or re-panics with.
type outcome struct {
	err      error
	panicked *panicError
}

func (c *call) finish(o outcome) { c.done <- o }

// take claims the call for the committer; false means its caller left.
func (c *call) take() bool {
	return c.state.Load() == callTaken || c.state.CompareAndSwap(callQueued, callTaken)
}

// panicError carries a panic of fn from the committer's goroutine back to
// the caller's, where Update panics again with it (as x/sync/singleflight
// does): a panicking handler then fails in its own goroutine, where net/http
// can recover it, rather than killing the process from ours.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string {
	return fmt.Sprintf("%v\n\ngoroutine running the Update's fn:\n%s", p.value, p.stack)
}

// Unwrap lets a recover find an error value that fn panicked with.
func (p *panicError) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

// Update implements meta.Store. fn runs on the store's writer goroutine,
// inside a transaction it may share with other concurrent Updates (group
// commit, see the package documentation); Update returns once that
// transaction is durable. A panic in fn rolls back fn's writes only, and
// is raised again in the caller's goroutine with an error value that shows
// the original value and fn's stack (and unwraps to the value when it is an
// error).
func (s *Store) Update(ctx context.Context, fn func(meta.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.enter() {
		return ErrClosed
	}
	defer s.inflight.Done()

	c := &call{ctx: ctx, fn: fn, done: make(chan outcome, 1)}
	select {
	case s.calls <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	var o outcome
	select {
	case o = <-c.done:
	case <-ctx.Done():
		if c.state.CompareAndSwap(callQueued, callAbandoned) {
			return ctx.Err()
		}
		// fn has started: its outcome, commit included, is the answer,
		// and it comes within one batch.
		o = <-c.done
	}
	if o.panicked != nil {
		panic(o.panicked)
	}
	return o.err
}

// commitLoop is the committer: it owns the writer connection and turns the
// queue of Update calls into batches. It never waits for a batch to fill:
// it takes whatever queued while the previous commit was running, so a lone
// Update commits at once and a crowd shares fsyncs.
func (s *Store) commitLoop() {
	defer close(s.loopDone)
	batch := make([]*call, 0, s.cfg.maxBatch)
	for {
		if len(batch) == 0 {
			c, ok := <-s.calls
			if !ok {
				return // Close: every Update has returned
			}
			batch = append(batch, c)
		}
		s.fill(&batch)
		n := s.runBatch(&batch, true)
		// Calls the batch had no time for go first in the next one.
		rest := copy(batch, batch[n:])
		clear(batch[rest:])
		batch = batch[:rest]
	}
}

// fill moves the calls waiting in the queue to the end of batch, as many as
// it has room for, and reports whether it took any.
func (s *Store) fill(batch *[]*call) bool {
	took := false
	for len(*batch) < s.cfg.maxBatch {
		select {
		case c, ok := <-s.calls:
			if !ok {
				return took // closed: Close waits for the calls taken
			}
			*batch = append(*batch, c)
			took = true
		default:
			return took
		}
	}
	return took
}

// runBatch runs a prefix of *batchp in one transaction and commits it,
// finishing every call of that prefix (or retrying it alone, see retry). It
// returns the length of the prefix: it stops early once the fns have run
// for maxBatchTime, so that the first caller's wait stays bounded. When grow
// is set and the fns of *batchp have run with time left, the calls that
// queued meanwhile join the transaction (appended to *batchp): they share
// its commit rather than wait for it and pay for one of their own.
func (s *Store) runBatch(batchp *[]*call, grow bool) int {
	batch := *batchp
	w := s.writer
	s.batch.reset()
	defer s.batch.reset() // the values are the callers' no longer
	err := w.exec(w.begin)
	if err == nil {
		if err = s.checkCache(); err != nil {
			_ = w.exec(w.rollback)
		}
	}
	if err != nil {
		// Nothing has run: every call fails, none is lost.
		for _, c := range batch {
			if c.take() {
				c.finish(outcome{err: fmt.Errorf("sqlite: update: begin: %w", err)})
			}
		}
		return len(batch)
	}

	start := time.Now()
	var pending []*call // fn succeeded; waiting for the commit
	ran := 0            // calls whose fn ran in this transaction
	n := 0
	for n == 0 || time.Since(start) < s.cfg.maxBatchTime {
		if n == len(batch) {
			if !grow || !s.fill(batchp) {
				break
			}
			batch = *batchp
		}
		c := batch[n]
		n++
		if !c.take() {
			continue // its caller gave up before fn started
		}
		if err := c.ctx.Err(); err != nil {
			c.finish(outcome{err: err})
			continue
		}
		ran++
		c.ran++
		o, broken := s.runCall(c)
		if broken != nil {
			// The transaction is gone or in an unknown state (SQLite rolls
			// back the whole transaction on some I/O and memory errors):
			// drop it and give the calls that had succeeded another try.
			if o.err == nil && o.panicked == nil {
				pending = append(pending, c)
			} else {
				c.finish(o)
			}
			_ = w.exec(w.rollback)
			s.retry(pending, ran, fmt.Errorf("sqlite: update: %w", broken))
			return n
		}
		if o.err != nil || o.panicked != nil {
			c.finish(o)
		} else {
			pending = append(pending, c)
		}
	}
	if len(pending) == 0 {
		// Every fn failed, or none ran: nothing to make durable.
		_ = w.exec(w.rollback)
		return n
	}
	err = s.flush()
	if err == nil {
		err = w.exec(w.commit)
	}
	if err != nil {
		_ = w.exec(w.rollback) // in case the failed COMMIT left it open
		s.retry(pending, ran, fmt.Errorf("sqlite: update: commit: %w", err))
		return n
	}
	s.cache.apply(s.batch)
	s.batch.detach()
	s.commits.Add(1)
	s.committedCalls.Add(int64(len(pending)))
	select {
	case s.ckptWake <- struct{}{}:
	default: // the checkpointer has a wake-up pending already
	}
	for _, c := range pending {
		c.finish(outcome{})
	}
	return n
}

// retry handles the calls whose fn succeeded in a transaction that then
// failed. When that transaction held other calls too, the failure may be
// theirs (one fn filling the disk, say), so each call runs again alone; a
// call that already ran alone, or twice, fails with the error.
func (s *Store) retry(calls []*call, ran int, err error) {
	for _, c := range calls {
		if ran == 1 || c.ran > 1 {
			c.finish(outcome{err: err})
			continue
		}
		s.runBatch(&[]*call{c}, false) // alone
	}
}

// runCall runs c.fn with an overlay of its own over the batch's (see
// overlay), and merges its writes into the batch's when it succeeded.
// broken reports an error SQLite returned to one of fn's reads, after which
// the transaction cannot be trusted.
func (s *Store) runCall(c *call) (o outcome, broken error) {
	var sqlErr error
	t := &tx{ctx: c.ctx, c: s.writer, writable: true, own: s.own, batch: s.batch, cache: s.cache, sqlErr: &sqlErr}
	s.own.reset()
	o = runFn(c.fn, t)
	t.done = true
	if o.err == nil && o.panicked == nil {
		// Canceled while fn ran, and fn did not notice: the caller may
		// already be gone, so commit nothing on its behalf.
		o.err = c.ctx.Err()
	}
	if o.err == nil && o.panicked == nil && sqlErr == nil {
		s.batch.merge(s.own)
	}
	return o, sqlErr
}

// checkCache empties the read cache if another connection changed the
// database since the last batch. It runs inside the batch's transaction,
// whose write lock keeps others out until the COMMIT.
func (s *Store) checkCache() error {
	var v int64
	if err := s.writer.dataVersion.QueryRowContext(background).Scan(&v); err != nil {
		return err
	}
	if v != s.dataVersion {
		s.cache.clear()
		s.dataVersion = v
		s.cacheClears.Add(1)
	}
	return nil
}

// flush writes the batch's overlay to SQLite, in key order.
func (s *Store) flush() error {
	w := s.writer
	for _, k := range s.batch.keys() {
		var err error
		if wr := s.batch.m[k]; wr.del {
			_, err = w.del.ExecContext(background, []byte(k))
		} else {
			_, err = w.put.ExecContext(background, []byte(k), wr.v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func runFn(fn func(meta.Tx) error, t *tx) (o outcome) {
	defer func() {
		if v := recover(); v != nil {
			o = outcome{panicked: &panicError{value: v, stack: debug.Stack()}}
		}
	}()
	return outcome{err: fn(t)}
}
