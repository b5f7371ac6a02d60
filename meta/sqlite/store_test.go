package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/meta"
)

var ctx = context.Background()

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustGet(t *testing.T, s meta.Store, key string) (string, bool) {
	t.Helper()
	var v []byte
	err := s.View(ctx, func(tx meta.Tx) (err error) {
		v, err = tx.Get([]byte(key))
		return err
	})
	if err == meta.ErrNotFound {
		return "", false
	}
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(v), true
}

// holdCommitter makes the committer run an Update whose fn blocks until the
// returned release is called, so that the Updates started meanwhile queue up
// and then join its batch. wait returns that Update's error.
func holdCommitter(t *testing.T, s *Store) (release func(), wait func() error) {
	t.Helper()
	running, unblock := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	var once sync.Once // fn runs again when its batch is retried
	go func() {
		done <- s.Update(ctx, func(tx meta.Tx) error {
			once.Do(func() { close(running) })
			<-unblock
			return tx.Put([]byte("holder"), []byte("x"))
		})
	}()
	<-running
	return func() { close(unblock) }, func() error { return <-done }
}

// TestGroupCommitIsolatesCalls puts a succeeding, a failing, a panicking and
// a canceled Update in one batch: only the succeeding ones are committed, and
// in one COMMIT.
func TestGroupCommitIsolatesCalls(t *testing.T) {
	s := newTestStore(t)
	release, wait := holdCommitter(t, s)

	type result struct {
		name     string
		err      error
		panicked any
	}
	results := make(chan result, 8)
	start := func(name string, c context.Context, fn func(meta.Tx) error) {
		go func() {
			r := result{name: name}
			defer func() {
				r.panicked = recover()
				results <- r
			}()
			r.err = s.Update(c, fn)
		}()
	}
	putThen := func(key string, then func() error) func(meta.Tx) error {
		return func(tx meta.Tx) error {
			if err := tx.Put([]byte(key), []byte(key)); err != nil {
				return err
			}
			return then()
		}
	}
	errFail := errors.New("deliberate")
	canceled, cancel := context.WithCancel(ctx)
	start("ok1", ctx, putThen("ok1", func() error { return nil }))
	start("fail", ctx, putThen("fail", func() error { return errFail }))
	start("panic", ctx, putThen("panic", func() error { panic("deliberate") }))
	start("cancel", canceled, putThen("cancel", func() error { cancel(); return nil }))
	start("ok2", ctx, putThen("ok2", func() error { return nil }))
	waitFor(t, "5 queued Updates", func() bool { return len(s.calls) == 5 })
	commitsBefore := s.commits.Load()
	release()
	if err := wait(); err != nil {
		t.Fatalf("holding Update: %v", err)
	}

	got := map[string]result{}
	for range 5 {
		r := <-results
		got[r.name] = r
	}
	for _, name := range []string{"ok1", "ok2"} {
		if r := got[name]; r.err != nil || r.panicked != nil {
			t.Errorf("Update %s = %v, panic %v; want nil", name, r.err, r.panicked)
		}
		if _, ok := mustGet(t, s, name); !ok {
			t.Errorf("key %s of a successful Update is missing", name)
		}
	}
	if r := got["fail"]; !errors.Is(r.err, errFail) {
		t.Errorf("failing Update = %v, want %v", r.err, errFail)
	}
	if r := got["cancel"]; !errors.Is(r.err, context.Canceled) {
		t.Errorf("Update canceled within fn = %v, want %v", r.err, context.Canceled)
	}
	if r := got["panic"]; r.panicked == nil {
		t.Errorf("panicking Update returned %v, want a panic in the caller", r.err)
	} else if pe, ok := r.panicked.(*panicError); !ok || pe.value != "deliberate" || !bytes.Contains(pe.stack, []byte("TestGroupCommitIsolatesCalls")) {
		t.Errorf("panic value = %#v, want a *panicError with the value and the fn's stack", r.panicked)
	}
	for _, name := range []string{"fail", "panic", "cancel"} {
		if _, ok := mustGet(t, s, name); ok {
			t.Errorf("key %s of a failed Update was committed", name)
		}
	}
	// The five queued while the holder's fn ran: they join its batch, and
	// share its commit.
	if got := s.commits.Load() - commitsBefore; got != 1 {
		t.Errorf("the holder and the five queued Updates took %d commits, want 1", got)
	}
}

// TestGroupCommitSharesFsyncs checks that concurrent Updates are committed
// in fewer transactions than there are calls.
func TestGroupCommitSharesFsyncs(t *testing.T) {
	s := newTestStore(t)
	const goroutines, each = 32, 10
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				err := s.Update(ctx, func(tx meta.Tx) error {
					return tx.Put(fmt.Appendf(nil, "%d/%d", g, i), []byte("v"))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	calls, commits := s.committedCalls.Load(), s.commits.Load()
	if calls != goroutines*each {
		t.Fatalf("committed calls = %d, want %d", calls, goroutines*each)
	}
	t.Logf("%d Updates in %d commits (%.1f per commit)", calls, commits, float64(calls)/float64(commits))
	if commits >= calls/2 {
		t.Errorf("%d concurrent Updates took %d commits; group commit should share most of them", calls, commits)
	}
}

// TestBatchSeesEarlierCalls runs four Updates in one batch: each sees the
// writes of the successful calls before it, through Get and Scan, and none
// sees those of a call that failed.
func TestBatchSeesEarlierCalls(t *testing.T) {
	s := newTestStore(t)
	if err := s.Update(ctx, func(tx meta.Tx) error {
		return errors.Join(tx.Put([]byte("p/1"), []byte("old")), tx.Put([]byte("p/3"), []byte("three")))
	}); err != nil {
		t.Fatal(err)
	}
	release, wait := holdCommitter(t, s)
	errs := make(chan error, 4)
	queue := func(fn func(meta.Tx) error) {
		n := len(s.calls)
		go func() { errs <- s.Update(ctx, fn) }()
		waitFor(t, "the Update to queue", func() bool { return len(s.calls) == n+1 })
	}
	scan := func(tx meta.Tx) (string, error) {
		var got []string
		err := tx.Scan([]byte("p/"), []byte("p0"), func(k, v []byte) (bool, error) {
			got = append(got, string(k)+"="+string(v))
			return true, nil
		})
		return strings.Join(got, " "), err
	}
	errFail := errors.New("deliberate")
	queue(func(tx meta.Tx) error { // writes over, under and beside the committed keys
		return errors.Join(tx.Put([]byte("p/1"), []byte("new")), tx.Delete([]byte("p/3")), tx.Put([]byte("p/2"), []byte("two")))
	})
	queue(func(tx meta.Tx) error { // fails: its writes must vanish
		if err := errors.Join(tx.Put([]byte("p/0"), []byte("zero")), tx.Delete([]byte("p/2"))); err != nil {
			return err
		}
		return errFail
	})
	var sawGet, sawScan string
	queue(func(tx meta.Tx) error {
		v, err := tx.Get([]byte("p/1"))
		if err != nil {
			return err
		}
		if _, err := tx.Get([]byte("p/3")); !errors.Is(err, meta.ErrNotFound) {
			return fmt.Errorf("Get of a key deleted earlier in the batch = %v, want ErrNotFound", err)
		}
		sawGet = string(v)
		if err := tx.Put([]byte("p/4"), []byte("four")); err != nil {
			return err
		}
		sawScan, err = scan(tx)
		return err
	})
	release()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	var failed int
	for range 3 {
		if err := <-errs; errors.Is(err, errFail) {
			failed++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if failed != 1 {
		t.Errorf("%d Updates failed, want 1", failed)
	}
	if sawGet != "new" {
		t.Errorf("Get in the batch = %q, want the earlier call's %q", sawGet, "new")
	}
	const want = "p/1=new p/2=two p/4=four"
	if sawScan != want {
		t.Errorf("Scan in the batch = %q, want %q", sawScan, want)
	}
	var after string
	if err := s.View(ctx, func(tx meta.Tx) (err error) { after, err = scan(tx); return err }); err != nil {
		t.Fatal(err)
	}
	if after != want {
		t.Errorf("after the commit: %q, want %q", after, want)
	}
}

// TestBatchSurvivesFullDisk fills the database's page budget from one call of
// a batch: SQLite may then roll back the whole transaction, and the other
// calls of the batch must still be committed (by the retry) while the
// culprit fails.
func TestBatchSurvivesFullDisk(t *testing.T) {
	s := newTestStore(t)
	if _, err := s.writer.c.ExecContext(ctx, `PRAGMA max_page_count = 64`); err != nil {
		t.Fatal(err)
	}
	release, wait := holdCommitter(t, s)
	errs := make(chan error, 3)
	keys := []string{"small1", "huge", "small2"}
	for i, k := range keys {
		go func() {
			errs <- s.Update(ctx, func(tx meta.Tx) error {
				v := []byte(k)
				if k == "huge" {
					v = make([]byte, 1<<20) // 256 pages
				}
				return tx.Put([]byte(k), v)
			})
		}()
		// One at a time, so that the culprit sits in the middle.
		waitFor(t, "the call to queue", func() bool { return len(s.calls) == i+1 })
	}
	release()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	var failed int
	for range keys {
		if err := <-errs; err != nil {
			failed++
			if !strings.Contains(err.Error(), "full") {
				t.Errorf("Update error = %v, want SQLITE_FULL", err)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d Updates failed, want 1 (the one too large for the disk)", failed)
	}
	for _, k := range []string{"small1", "small2"} {
		if _, ok := mustGet(t, s, k); !ok {
			t.Errorf("key %s missing: a neighbour's failure took it down", k)
		}
	}
	if _, ok := mustGet(t, s, "huge"); ok {
		t.Errorf("key huge committed on a full disk")
	}
}

func TestWriteInScanFails(t *testing.T) {
	s := newTestStore(t)
	err := s.Update(ctx, func(tx meta.Tx) error {
		for _, k := range []string{"a", "b"} {
			if err := tx.Put([]byte(k), []byte("1")); err != nil {
				return err
			}
		}
		err := tx.Scan(nil, nil, func(k, v []byte) (bool, error) {
			if err := tx.Put(append(k, 'x'), v); err != errWriteInScan {
				return false, fmt.Errorf("Put in Scan's fn = %v, want errWriteInScan", err)
			}
			if err := tx.Delete(k); err != errWriteInScan {
				return false, fmt.Errorf("Delete in Scan's fn = %v, want errWriteInScan", err)
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		// Writes work again once Scan has returned.
		return tx.Put([]byte("c"), []byte("1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mustGet(t, s, "c"); !ok {
		t.Fatal("Put after Scan was not committed")
	}
}

func TestTxUsedAfterFnReturns(t *testing.T) {
	s := newTestStore(t)
	var kept meta.Tx
	if err := s.Update(ctx, func(tx meta.Tx) error { kept = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := kept.Put([]byte("late"), []byte("x")); err != errTxDone {
		t.Errorf("Put on a finished Update's Tx = %v, want errTxDone", err)
	}
	if err := s.View(ctx, func(tx meta.Tx) error { kept = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Get([]byte("late")); err != errTxDone {
		t.Errorf("Get on a finished View's Tx = %v, want errTxDone", err)
	}
	if _, ok := mustGet(t, s, "late"); ok {
		t.Error("a write through a finished Tx was committed")
	}
}

func TestCloseWaitsForTransactions(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	inView, releaseView := make(chan struct{}), make(chan struct{})
	viewErr := make(chan error, 1)
	go func() {
		viewErr <- s.View(ctx, func(tx meta.Tx) error {
			close(inView)
			<-releaseView
			_, err := tx.Get([]byte("x"))
			if err == meta.ErrNotFound {
				err = nil
			}
			return err
		})
	}()
	<-inView
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	waitFor(t, "Close to refuse new transactions", func() bool {
		return s.Update(ctx, func(meta.Tx) error { return nil }) == ErrClosed
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a View was running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(releaseView)
	if err := <-viewErr; err != nil {
		t.Errorf("View running during Close = %v, want nil", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := s.View(ctx, func(meta.Tx) error { return nil }); err != ErrClosed {
		t.Errorf("View after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestSchemaAndPragmas(t *testing.T) {
	s := newTestStore(t)
	c := s.writer.c
	for _, p := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"wal_autocheckpoint", fmt.Sprint(defaultConfig().restartWAL)},
		{"temp_store", "2"}, // MEMORY
		{"user_version", fmt.Sprint(len(migrations))},
		{"application_id", fmt.Sprint(applicationID)},
	} {
		var got string
		if err := c.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != p.want {
			t.Errorf("PRAGMA %s = %s, want %s", p.pragma, got, p.want)
		}
	}
	// The scans must walk the key's index in order, never sort.
	for _, q := range []string{sqlScanRange, sqlScanFrom, sqlGet} {
		rows, err := c.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, []byte("a"), []byte("b"))
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, "USING INDEX sqlite_autoindex_kv_1") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("plan of %s = %q, want a search of the key's index without a sort", q, p)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	prepare := func(name string, stmts ...string) string {
		path := filepath.Join(dir, name)
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range stmts {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		return path
	}
	for _, c := range []struct {
		name, path, want string
	}{
		{"foreign", prepare("foreign.db", "CREATE TABLE users (id INTEGER)"), "another program"},
		{"foreign-app-id", prepare("app.db", "PRAGMA application_id = 42"), "another program"},
		{"newer", prepare("newer.db", fmt.Sprintf("PRAGMA application_id = %d", applicationID), "PRAGMA user_version = 99"), "newer"},
		{"empty-path", "", "empty path"},
		{"no-directory", filepath.Join(dir, "missing", "meta.db"), "meta.db"},
	} {
		t.Run("case="+c.name, func(t *testing.T) {
			s, err := Open(c.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open error = %v, want it to contain %q", err, c.want)
			}
		})
	}
	// And a current database opens again, with its data.
	path := filepath.Join(dir, "ok.db")
	for i := range 2 {
		s, err := Open(path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if i == 0 {
			err = s.Update(ctx, func(tx meta.Tx) error { return tx.Put([]byte("k"), []byte("v")) })
		} else if v, ok := mustGet(t, s, "k"); !ok || v != "v" {
			err = fmt.Errorf("after reopen Get(k) = %q, %v", v, ok)
		}
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(ctx, func(tx meta.Tx) error { return tx.Put([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "meta.db")); err != nil {
		t.Fatalf("database not created at the path given")
	}
}

// TestCanceledWhileQueued cancels an Update that waits behind a busy
// committer: it returns at once, and its fn never runs.
func TestCanceledWhileQueued(t *testing.T) {
	s := newTestStore(t)
	release, wait := holdCommitter(t, s)
	c, cancel := context.WithCancel(ctx)
	ran := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.Update(c, func(tx meta.Tx) error {
			ran <- struct{}{}
			return tx.Put([]byte("queued"), []byte("x"))
		})
	}()
	waitFor(t, "the Update to queue", func() bool { return len(s.calls) == 1 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("queued Update after cancel = %v, want %v", err, context.Canceled)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a canceled Update stayed blocked behind the committer")
	}
	release()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	// One more Update goes through the committer after the abandoned call.
	if err := s.Update(ctx, func(tx meta.Tx) error { return tx.Put([]byte("after"), []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Error("the fn of an Update abandoned in the queue ran")
	default:
	}
	if _, ok := mustGet(t, s, "queued"); ok {
		t.Error("the write of an abandoned Update was committed")
	}
}

// TestMigrateFromWithoutRowid opens a database of schema version 1 (a
// WITHOUT ROWID table) holding data: Open moves every row to the rowid
// table, in order, and the store works on.
func TestMigrateFromWithoutRowid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, q := range []string{
		`PRAGMA journal_mode = WAL`,
		migrations[0][0],
		fmt.Sprintf(`PRAGMA application_id = %d`, applicationID),
		`PRAGMA user_version = 1`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i := range 300 {
		k := fmt.Sprintf("k/%03d", (i*7)%300)
		if _, err := db.Exec(`INSERT INTO kv (k, v) VALUES (?, ?)`, []byte(k), bytes.Repeat([]byte{byte(i)}, 1000+i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		want = append(want, fmt.Sprintf("k/%03d", i))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path, defaultConfig())
	var version int
	var schema string
	if err := s.writer.c.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if err := s.writer.c.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE name = 'kv'`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if version != len(migrations) || strings.Contains(schema, "WITHOUT ROWID") {
		t.Errorf("after Open: version %d, schema %q; want %d and a rowid table", version, schema, len(migrations))
	}
	var got []string
	err = s.View(ctx, func(tx meta.Tx) error {
		return tx.Scan([]byte("k/"), nil, func(k, v []byte) (bool, error) {
			i := len(got)
			if !bytes.Equal(v, bytes.Repeat(v[:1], len(v))) || len(v) < 1000 {
				return false, fmt.Errorf("value of %s damaged", k)
			}
			got = append(got, string(k))
			return i < 1000, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("keys after the migration: %d, want %d in order", len(got), len(want))
	}
	if err := s.Update(ctx, func(tx meta.Tx) error { return tx.Put([]byte("k/000"), []byte("new")) }); err != nil {
		t.Fatal(err)
	}
	if v, ok := mustGet(t, s, "k/000"); !ok || v != "new" {
		t.Errorf("k/000 = %q, %v after an Update; want new", v, ok)
	}
}

// TestReadCacheSeesOtherWriters: the committer's read cache serves what it
// read or committed, survives checkpoints, and is emptied when another
// connection (here another process's, through a second pool) changes the
// file.
func TestReadCacheSeesOtherWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s := openTest(t, path, defaultConfig())
	get := func(key string) string {
		t.Helper()
		var got string
		if err := s.Update(ctx, func(tx meta.Tx) error {
			v, err := tx.Get([]byte(key))
			if errors.Is(err, meta.ErrNotFound) {
				got = "<absent>"
				return nil
			}
			got = string(v)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if err := s.Update(ctx, func(tx meta.Tx) error { return tx.Put([]byte("k"), []byte("v1")) }); err != nil {
		t.Fatal(err)
	}
	if got := get("k"); got != "v1" {
		t.Fatalf("k = %q, want v1", got)
	}
	if got := get("absent"); got != "<absent>" {
		t.Fatalf("absent = %q", got)
	}
	if w, ok := s.cache.get([]byte("k")); !ok || string(w.v) != "v1" {
		t.Errorf("the committed value of k is not cached: %+v, %v", w, ok)
	}
	if w, ok := s.cache.get([]byte("absent")); !ok || !w.del {
		t.Errorf("the absence of a key read is not cached: %+v, %v", w, ok)
	}
	clears := s.cacheClears.Load()
	if _, err := s.ckpt.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		t.Fatal(err)
	}
	// The next write restarts the WAL from its start.
	if err := s.Update(ctx, func(tx meta.Tx) error { return tx.Put([]byte("k2"), []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	get("k")
	if n := s.cacheClears.Load() - clears; n != 0 {
		t.Errorf("a checkpoint emptied the cache (%d times)", n)
	}

	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec(`PRAGMA busy_timeout = 10000`); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`UPDATE kv SET v = ? WHERE k = ?`, []byte("v2"), []byte("k")); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`INSERT INTO kv (k, v) VALUES (?, ?)`, []byte("absent"), []byte("now")); err != nil {
		t.Fatal(err)
	}
	if got := get("k"); got != "v2" {
		t.Errorf("after another connection's write, k = %q, want v2", got)
	}
	if got := get("absent"); got != "now" {
		t.Errorf("after another connection's write, absent = %q, want now", got)
	}
}

// TestCheckpointerBoundsWAL: with SQLite's automatic checkpoint off on the
// writer, the checkpointer goroutine must keep the WAL from growing with
// everything written under a steady load, when passive checkpoints never
// catch up with the last commit.
func TestCheckpointerBoundsWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	cfg := defaultConfig()
	cfg.checkpoint = 5 * time.Millisecond
	cfg.restartWAL = 256
	s := openTest(t, path, cfg)
	const updates, size = 3000, 8 << 10
	value := bytes.Repeat([]byte("w"), size)
	for i := range updates {
		if err := s.Update(ctx, func(tx meta.Tx) error {
			return tx.Put(fmt.Appendf(nil, "k/%04d", i), value)
		}); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d checkpoints, WAL file of %d bytes after %d bytes written", s.checkpoints.Load(), fi.Size(), updates*size)
	if n := s.checkpointErrs.Load(); n != 0 {
		t.Errorf("%d checkpoints failed", n)
	}
	if fi.Size() > updates*size/4 {
		t.Errorf("WAL file of %d bytes after %d checkpoints and %d bytes written: the checkpointer does not keep it small", fi.Size(), s.checkpoints.Load(), updates*size)
	}
}
