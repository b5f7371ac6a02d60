package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffre-cloud/coffre/meta"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

var _ meta.Store = (*Store)(nil)

// ErrClosed is returned by View and Update once Close has been called.
var ErrClosed = errors.New("sqlite: store is closed")

// applicationID marks a database file as Coffre metadata ("Cof1"), so that
// Open refuses some other program's SQLite file instead of adding a table to
// it.
const applicationID = 0x436f6631

// migrations[i] moves the schema from version i to i+1, in the one
// transaction that runs its statements; PRAGMA user_version holds the
// version. Append, never edit: a released step has run on disks out there.
var migrations = [][]string{
	// STRICT makes SQLite refuse anything but a BLOB in either column: a
	// TEXT key would otherwise sort before every BLOB and break bytewise
	// order without an error.
	{`CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) STRICT, WITHOUT ROWID`},
	// The rows move to a rowid table, with k in an index of its own (see
	// the package documentation): the values are a few hundred bytes to
	// several KiB, far past the 1/20 of a page that a WITHOUT ROWID row
	// should stay under. Measured on 4 KiB PUTs through coffre serve: 33 %
	// fewer WAL frames per commit, and 15 to 20 % more PUTs and GETs per
	// second.
	{
		`CREATE TABLE kv_rowid (k BLOB PRIMARY KEY NOT NULL, v BLOB NOT NULL) STRICT`,
		`INSERT INTO kv_rowid (k, v) SELECT k, v FROM kv ORDER BY k`,
		`DROP TABLE kv`,
		`ALTER TABLE kv_rowid RENAME TO kv`,
	},
}

// The statements of the store. They are prepared once per connection.
// Bound parameters are always []byte (never nil, which the driver binds as
// NULL), so comparisons are BLOB to BLOB: memcmp, then length.
const (
	sqlGet       = `SELECT v FROM kv WHERE k = ?`
	sqlPut       = `INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`
	sqlDelete    = `DELETE FROM kv WHERE k = ?`
	sqlScanRange = `SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k`
	sqlScanFrom  = `SELECT k, v FROM kv WHERE k >= ? ORDER BY k`
)

// config holds what Open fixes and tests vary.
type config struct {
	readers      int           // connections in the View pool
	maxBatch     int           // most Update calls committed together; 1 disables group commit
	maxBatchTime time.Duration // stop adding calls to a batch once its fns have run this long
	checkpoint   time.Duration // least time between two checkpoints while Updates commit
	restartWAL   int           // WAL frames past which a checkpoint makes the writer start the WAL over
	cacheBytes   int           // bound of the committer's read cache; 0 disables it
}

func defaultConfig() config {
	return config{
		// View is CPU-bound in the driver; more connections than cores
		// only helps while some wait on the disk.
		readers:      max(4, 2*runtime.GOMAXPROCS(0)),
		maxBatch:     256,
		maxBatchTime: 5 * time.Millisecond,
		checkpoint:   100 * time.Millisecond,
		restartWAL:   4096, // 16 MiB of 4 KiB pages
		cacheBytes:   16 << 20,
	}
}

// Store is a meta.Store in an SQLite database file. It is safe for
// concurrent use.
type Store struct {
	cfg     config
	db      *sql.DB
	writer  *conn      // used by the committer goroutine only, once Open returns
	readers chan *conn // idle read-only connections
	ckpt    *sql.Conn  // used by the checkpointer goroutine only

	// The committer's overlays (see overlay): the writes of the batch it
	// runs, and of the call it runs.
	batch, own *overlay
	// The committer's read cache, and the data_version it is valid for.
	cache       *readCache
	dataVersion int64
	cacheClears atomic.Int64 // for tests

	ckptWake chan struct{} // the committer's signal: a commit grew the WAL
	ckptStop chan struct{} // closed by Close
	ckptDone chan struct{} // closed when the checkpointer has stopped
	// Counted by the checkpointer for tests: checkpoints run, and failed.
	checkpoints, checkpointErrs atomic.Int64

	calls    chan *call    // Updates waiting for the committer
	loopDone chan struct{} // closed when the committer has stopped

	// Counted by the committer, read by tests (and later by metrics):
	// their ratio is the mean size of a group commit.
	commits, committedCalls atomic.Int64

	mu       sync.RWMutex   // orders inflight.Add before Close's Wait
	closed   bool           // under mu
	inflight sync.WaitGroup // running View and Update calls

	closeOnce sync.Once
	closeErr  error
}

// Open opens the database at path, creating it (but not its directory) if
// needed, and brings its schema up to date. The Store is meant to be the
// file's only user: another process writing to it stays correct (SQLite
// locks the file) but makes Updates wait for it, up to 10 s, and then fail.
func Open(path string) (*Store, error) {
	return open(path, defaultConfig())
}

func open(path string, cfg config) (s *Store, err error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path (want the metadata database file, e.g. DATA/meta.db)")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// A file: URI, so that '?' or '#' in a directory name is part of the
	// path rather than the start of driver parameters.
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: abs}).EscapedPath())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// The store holds every connection it will ever use for its whole
	// life, so database/sql must neither open more nor close idle ones.
	db.SetMaxOpenConns(2 + cfg.readers)
	db.SetMaxIdleConns(2 + cfg.readers)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	s = &Store{
		cfg:      cfg,
		db:       db,
		readers:  make(chan *conn, cfg.readers),
		calls:    make(chan *call, cfg.maxBatch),
		loopDone: make(chan struct{}),
		batch:    newOverlay(),
		cache:    newReadCache(cfg.cacheBytes),
		own:      newOverlay(),
		ckptWake: make(chan struct{}, 1),
		ckptStop: make(chan struct{}),
		ckptDone: make(chan struct{}),
	}
	opened := s // the returns below set s to nil on failure
	defer func() {
		if err != nil {
			_ = opened.closeConns()
			err = fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}()

	ctx := context.Background()
	if s.writer, err = newConn(ctx, db, true, cfg.restartWAL); err != nil {
		return nil, err
	}
	if err := migrate(ctx, s.writer.c); err != nil {
		return nil, err
	}
	if err := s.writer.prepare(ctx, true); err != nil {
		return nil, err
	}
	// SQLite fsyncs the directory when it creates the WAL, but not when it
	// creates the database file itself: make sure the file's name survives
	// a power loss along with what the WAL says about its pages.
	if err := syncDir(filepath.Dir(abs)); err != nil {
		return nil, err
	}
	for range cfg.readers {
		c, err := newConn(ctx, db, false, 0)
		if err != nil {
			return nil, err
		}
		s.readers <- c // closed with the others if prepare fails
		if err := c.prepare(ctx, false); err != nil {
			return nil, err
		}
	}
	if s.ckpt, err = db.Conn(ctx); err != nil {
		return nil, err
	}
	// FULL: a checkpoint syncs the WAL before it copies pages into the
	// database file, and the file after.
	for _, p := range []string{`PRAGMA busy_timeout = 10000`, `PRAGMA synchronous = FULL`} {
		if _, err := s.ckpt.ExecContext(ctx, p); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	go s.commitLoop()
	go s.checkpointLoop()
	return s, nil
}

// checkpointLoop copies the pages of committed transactions from the WAL
// into the database file, on a connection of its own, so that the committer
// rarely does: SQLite's automatic checkpoint runs inside the COMMIT of
// whichever batch crossed its threshold, and every Update waits for the
// committer. After a commit, at most every cfg.checkpoint, it runs a
// PASSIVE checkpoint, which blocks neither the writer nor readers.
//
// Under a steady load such a checkpoint rarely catches up with the last
// commit, and the writer starts the WAL over from its beginning only after
// one has: the WAL would grow with everything written. So the writer keeps
// SQLite's automatic checkpoint, past cfg.restartWAL frames rather than
// 1000: it catches up on the few frames the checkpointer has not copied yet,
// and the next transaction starts the WAL over. A failed checkpoint only
// lets the WAL grow until the next one; the commits are durable in the WAL
// already.
func (s *Store) checkpointLoop() {
	defer close(s.ckptDone)
	for {
		select {
		case <-s.ckptWake:
		case <-s.ckptStop:
			return
		}
		var busy, frames, copied int
		if err := s.ckpt.QueryRowContext(background, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
			s.checkpointErrs.Add(1)
		}
		s.checkpoints.Add(1)
		t := time.NewTimer(s.cfg.checkpoint)
		select {
		case <-t.C:
		case <-s.ckptStop:
			t.Stop()
			return
		}
	}
}

// migrate brings the schema of the database to the latest version, in one
// transaction, refusing a file that is not Coffre metadata or that a newer
// Coffre has migrated further.
func migrate(ctx context.Context, c *sql.Conn) (err error) {
	if _, err := c.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = c.ExecContext(ctx, `ROLLBACK`)
			err = fmt.Errorf("migrate: %w", err)
		}
	}()
	var appID, version, tables int
	if err := c.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID); err != nil {
		return err
	}
	if err := c.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if err := c.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&tables); err != nil {
		return err
	}
	switch {
	case appID != applicationID && (appID != 0 || tables != 0):
		return fmt.Errorf("the file is an SQLite database of another program (application_id %#x); point Coffre at a new file", appID)
	case version > len(migrations):
		return fmt.Errorf("schema version %d is newer than this build of Coffre supports (%d); run a newer Coffre", version, len(migrations))
	case version == len(migrations):
		_, err := c.ExecContext(ctx, `ROLLBACK`)
		return err
	}
	for v := version; v < len(migrations); v++ {
		for _, stmt := range migrations[v] {
			if _, err := c.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("to version %d: %s: %w", v+1, stmt, err)
			}
		}
	}
	// PRAGMA takes no bound parameters; both values are integers we own.
	if _, err := c.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, fmt.Sprintf(`PRAGMA application_id = %d`, applicationID)); err != nil {
		return err
	}
	_, err = c.ExecContext(ctx, `COMMIT`)
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// enter registers a View or Update call, or reports that the store is
// closed.
func (s *Store) enter() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false
	}
	s.inflight.Add(1)
	return true
}

// View implements meta.Store. The snapshot is the last commit as of fn's
// first read.
func (s *Store) View(ctx context.Context, fn func(meta.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.enter() {
		return ErrClosed
	}
	defer s.inflight.Done()

	var c *conn
	select {
	case c = <-s.readers:
	default:
		select {
		case c = <-s.readers:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { s.readers <- c }()

	if err := c.exec(c.begin); err != nil {
		return fmt.Errorf("sqlite: view: begin: %w", err)
	}
	t := &tx{ctx: ctx, c: c}
	// Deferred, so that a panicking fn leaves the connection out of its
	// transaction for the next View.
	defer func() {
		t.done = true
		if rerr := c.exec(c.rollback); rerr != nil && err == nil {
			err = fmt.Errorf("sqlite: view: end: %w", rerr)
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	// A cancellation that fn did not notice still fails the View, as it
	// fails an Update: the caller has gone.
	return ctx.Err()
}

// Close waits for running View and Update calls to return, then closes the
// database. View and Update return ErrClosed once Close has begun; calling
// Close again returns the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.inflight.Wait()
		close(s.calls)
		<-s.loopDone
		close(s.ckptStop)
		<-s.ckptDone
		s.closeErr = s.closeConns()
	})
	return s.closeErr
}

// closeConns closes the statements, connections and pool, in that order
// (database/sql closes a connection only once it is back in the pool).
// Closing the last connection checkpoints the WAL into the database file.
func (s *Store) closeConns() error {
	var errs []error
	if s.writer != nil {
		errs = append(errs, s.writer.close())
	}
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.Close())
	}
	for {
		select {
		case c := <-s.readers:
			errs = append(errs, c.close())
			continue
		default:
		}
		break
	}
	errs = append(errs, s.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// conn is one SQLite connection with its prepared statements. A connection
// is used by one goroutine at a time: the committer for the writer, the
// View holding it for a reader.
type conn struct {
	c             *sql.Conn
	get, put, del *sql.Stmt
	scans         [][2]*sql.Stmt // [depth]{range, from}: a Scan inside a Scan's fn needs its own cursor
	begin, commit *sql.Stmt
	rollback      *sql.Stmt
	dataVersion   *sql.Stmt // the writer's
}

// background is the context of every statement. Statements never get the
// caller's context: the driver would start a goroutine per statement to
// watch it, and an interrupt in the middle of a group commit would roll back
// every caller's writes, not only the canceled one's. Tx checks the
// caller's context between statements instead; each statement is short.
var background = context.Background()

// newConn opens a connection; a writer checkpoints past autoCheckpoint
// frames (see checkpointLoop).
func newConn(ctx context.Context, db *sql.DB, writer bool, autoCheckpoint int) (c *conn, err error) {
	sc, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	c = &conn{c: sc}
	opened := c // the returns below set c to nil on failure
	defer func() {
		if err != nil {
			_ = opened.close()
		}
	}()
	pragmas := []string{
		// Waits, rather than failing at once, on the rare locks a WAL
		// reader or writer meets: another process's write transaction,
		// a checkpoint restarting the WAL, recovery after a crash.
		`PRAGMA busy_timeout = 10000`,
		// Per connection. Readers never commit, but the connection that
		// closes last checkpoints the WAL into the database file.
		`PRAGMA synchronous = FULL`,
	}
	// Page cache (the default is 2 MiB): it keeps the upper levels of the
	// b-trees and hot pages in memory, which saves a read system call per
	// page in the pure-Go driver. 8 MiB per connection, the writer's
	// included: the writer's COMMIT walks its whole cache's hash table
	// (pcache1Truncate), and a 32 MiB cache made that 7 % of the
	// committer's time on small PUTs (8 MiB: 8-13 % more PUTs per second;
	// 2 and 4 MiB measured the same as 8). Hot values are in the
	// committer's read cache anyway. The cache fills as the database
	// grows, so the connections bound the store's memory to about 50 MiB.
	pragmas = append(pragmas, `PRAGMA cache_size = -8192`)
	if writer {
		pragmas = append(pragmas,
			// After a checkpoint, truncate a WAL that a burst grew
			// beyond 64 MiB instead of keeping it at its largest.
			`PRAGMA journal_size_limit = 67108864`,
			// The checkpointer goroutine does most checkpoints.
			fmt.Sprintf(`PRAGMA wal_autocheckpoint = %d`, autoCheckpoint),
			// Keeps statement journals in memory: by default SQLite
			// spills them to a temporary file past 64 KiB.
			`PRAGMA temp_store = MEMORY`,
		)
	} else {
		// Defence in depth behind tx.Put's check.
		pragmas = append(pragmas, `PRAGMA query_only = ON`)
	}
	for _, p := range pragmas {
		if _, err := sc.ExecContext(ctx, p); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	if writer {
		// Persistent in the file; set by the writer before any reader
		// opens, and checked, since SQLite answers with the mode it
		// could set rather than failing.
		var mode string
		if err := sc.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil {
			return nil, fmt.Errorf("PRAGMA journal_mode = WAL: %w", err)
		}
		if mode != "wal" {
			return nil, fmt.Errorf("PRAGMA journal_mode = WAL: SQLite kept journal mode %q (is the file system local?)", mode)
		}
	}

	return c, nil
}

// prepare prepares the statements of the connection, once the schema is in
// place.
func (c *conn) prepare(ctx context.Context, writer bool) (err error) {
	prep := func(dst **sql.Stmt, query string) {
		if err == nil {
			if *dst, err = c.c.PrepareContext(ctx, query); err != nil {
				err = fmt.Errorf("prepare %s: %w", query, err)
			}
		}
	}
	prep(&c.get, sqlGet)
	if writer {
		prep(&c.put, sqlPut)
		prep(&c.del, sqlDelete)
		// IMMEDIATE takes the write lock at BEGIN: a batch never fails
		// half-way because it could not upgrade a read transaction.
		prep(&c.begin, `BEGIN IMMEDIATE`)
		prep(&c.commit, `COMMIT`)
		prep(&c.dataVersion, `PRAGMA data_version`)
	} else {
		prep(&c.begin, `BEGIN`)
	}
	prep(&c.rollback, `ROLLBACK`)
	if err != nil {
		return err
	}
	if _, err := c.scanStmt(0, false); err != nil {
		return err
	}
	_, err = c.scanStmt(0, true)
	return err
}

// scanStmt returns the statement for a Scan at the given nesting depth,
// preparing it on first use.
func (c *conn) scanStmt(depth int, unbounded bool) (*sql.Stmt, error) {
	for len(c.scans) <= depth {
		c.scans = append(c.scans, [2]*sql.Stmt{})
	}
	i, query := 0, sqlScanRange
	if unbounded {
		i, query = 1, sqlScanFrom
	}
	if c.scans[depth][i] == nil {
		st, err := c.c.PrepareContext(background, query)
		if err != nil {
			return nil, fmt.Errorf("prepare %s: %w", query, err)
		}
		c.scans[depth][i] = st
	}
	return c.scans[depth][i], nil
}

func (c *conn) exec(st *sql.Stmt) error {
	_, err := st.ExecContext(background)
	return err
}

func (c *conn) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{c.get, c.put, c.del, c.begin, c.commit, c.rollback, c.dataVersion} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, pair := range c.scans {
		for _, st := range pair {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
	}
	errs = append(errs, c.c.Close())
	return errors.Join(errs...)
}
