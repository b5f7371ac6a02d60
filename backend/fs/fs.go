package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/coffre-cloud/coffre/backend"
)

const (
	// blobMark ends the file name of every blob; no valid name contains it.
	blobMark = "+"
	// tmpName is the directory of uploads in progress, outside the namespace
	// (it contains '+', which no valid segment does).
	tmpName = "+tmp"
	// lockName is the file whose flock makes a directory one store's.
	lockName = "+lock"

	// maxSegment is the longest last segment of a name: NAME_MAX (255 on
	// ext4, XFS, btrfs) less the mark.
	maxSegment = 255 - len(blobMark)

	dirPerm  = 0o700
	filePerm = 0o600

	// bufSize is the copy buffer of Put: large enough to make a write
	// syscall cheap relative to the bytes it moves, small enough to pool.
	bufSize = 256 << 10

	// maxRetries bounds the loops that race Delete's removal of empty
	// directories; each lost race needs a concurrent Delete, so reaching
	// the bound means something else is removing directories.
	maxRetries = 16
)

// ErrClosed is returned by Put and Delete on a closed store.
var ErrClosed = errors.New("fs: store closed")

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, bufSize)
	return &b
}}

// Store is a backend.Store in a local directory. It is safe for concurrent
// use. Close releases the directory.
type Store struct {
	root string // absolute
	tmp  string // root/+tmp
	lock *os.File
	seq  atomic.Uint64 // names temp files; unique as Open emptied tmp under the lock

	mu     sync.RWMutex // guards closed against ops.Add
	closed bool
	ops    sync.WaitGroup // Puts and Deletes in flight, which Close waits for

	dirs    durableDirs
	commit  *committer // nil (the default): each operation seals its own commit
	syncDir func(dir string) error
}

var _ backend.Store = (*Store)(nil)

// Option configures Open.
type Option func(*config)

type config struct {
	log         *slog.Logger
	groupCommit bool
	syncDir     func(dir string) error
}

// WithLogger sets where Open reports the leftovers it removes. By default
// nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// withGroupCommit makes Puts and Deletes seal their commits in batches
// through a committer goroutine (see committer) rather than each on its own.
// It is off: on ext4 the kernel already merges the fsyncs of concurrent
// writers into shared journal commits, and the batching measured slower
// (BenchmarkPutConcurrent). It stays so that the benchmark can be re-run on
// other disks and file systems; only tests can set it (export_test.go).
func withGroupCommit(on bool) Option {
	return func(c *config) { c.groupCommit = on }
}

// withSyncDir replaces the directory fsync, so that tests can see which
// directories a Put syncs and make a sync fail (see export_test.go).
func withSyncDir(f func(dir string) error) Option {
	return func(c *config) { c.syncDir = f }
}

// Open returns the store in dir, creating dir if needed. It fails if another
// store, in this process or another, has dir open. It removes the temporary
// files of uploads that a previous process left unfinished.
func Open(dir string, opts ...Option) (*Store, error) {
	c := config{log: slog.New(slog.DiscardHandler), syncDir: syncDir}
	for _, o := range opts {
		o(&c)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fs: open %s: %w", dir, err)
	}
	if err := os.MkdirAll(root, dirPerm); err != nil {
		return nil, fmt.Errorf("fs: open %s: %w", dir, err)
	}
	lock, err := lockDir(filepath.Join(root, lockName))
	if err != nil {
		return nil, fmt.Errorf("fs: open %s: %w", dir, err)
	}
	s := &Store{root: root, tmp: filepath.Join(root, tmpName), lock: lock, syncDir: c.syncDir}
	if err := s.init(c.log); err != nil {
		lock.Close()
		return nil, fmt.Errorf("fs: open %s: %w", dir, err)
	}
	s.dirs.init(root)
	if c.groupCommit {
		s.commit = newCommitter(s.seal)
	}
	return s, nil
}

// init empties the temp directory and makes the root's own entry durable:
// the chains of directory fsyncs that Put and Delete walk stop at the root.
func (s *Store) init(log *slog.Logger) error {
	n, err := removeAll(s.tmp)
	if err != nil {
		return fmt.Errorf("removing leftovers of interrupted uploads: %w", err)
	}
	if n > 0 {
		log.Info("fs: removed leftovers of interrupted uploads", "dir", s.tmp, "entries", n)
	}
	if err := os.Mkdir(s.tmp, dirPerm); err != nil && !errors.Is(err, iofs.ErrExist) {
		return err
	}
	if err := s.syncDir(s.root); err != nil {
		return err
	}
	// The parent may not be ours to open; its entry for the root was then
	// made durable by whoever created the root.
	_ = s.syncDir(filepath.Dir(s.root))
	return nil
}

// removeAll empties dir and returns how many entries it removed.
func removeAll(dir string) (int, error) {
	names, err := readDirNames(dir)
	if errors.Is(err, iofs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	for _, n := range names {
		if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
			return 0, err
		}
	}
	return len(names), nil
}

// Close waits for the Puts and Deletes in flight, stops the committer and
// releases the directory. Later Puts and Deletes fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.ops.Wait()
	if s.commit != nil {
		s.commit.stop()
	}
	return s.lock.Close()
}

// begin registers a Put or Delete so that Close waits for it; end with
// s.ops.Done.
func (s *Store) begin() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	s.ops.Add(1)
	return nil
}

// path is the file of a valid name.
func (s *Store) path(name string) string {
	return s.root + string(filepath.Separator) + filepath.FromSlash(name) + blobMark
}

// checkName returns backend.ErrInvalidName for an invalid name, and an error
// for a valid one this file system cannot hold.
func checkName(name string) error {
	if !backend.ValidName(name) {
		return backend.ErrInvalidName
	}
	last := name[strings.LastIndexByte(name, '/')+1:]
	if len(last) > maxSegment {
		return fmt.Errorf("last segment is %d bytes; a file system backend holds at most %d (NAME_MAX less the blob mark)", len(last), maxSegment)
	}
	return nil
}

// Put implements backend.Store.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("fs: put %q: %w", name, err)
	}
	if err := s.begin(); err != nil {
		return fmt.Errorf("fs: put %q: %w", name, err)
	}
	defer s.ops.Done()
	if err := s.put(ctx, name, r, size); err != nil {
		return fmt.Errorf("fs: put %q: %w", name, err)
	}
	return nil
}

func (s *Store) put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, tmp, err := s.createTemp()
	if err != nil {
		return err
	}
	installed := false
	defer func() {
		if !installed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	n, err := copyBlob(ctx, f, r, size)
	if err != nil {
		return err
	}
	if size >= 0 && n != size {
		if n < size {
			return fmt.Errorf("reader ended after %d bytes, size is %d: %w", n, size, io.ErrUnexpectedEOF)
		}
		return fmt.Errorf("reader has more than the %d bytes of size", size)
	}
	// The last point where giving up leaves nothing behind: once committed,
	// the rename may replace the previous blob, so the Put must complete.
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &commit{f: f, tmp: tmp, final: s.path(name)}
	c.dir = filepath.Dir(c.final)
	s.commitNow(c)
	installed = c.installed
	return c.err
}

// commitNow seals c, in a batch with concurrent operations under group
// commit, or alone.
func (s *Store) commitNow(c *commit) {
	if s.commit != nil {
		s.commit.commit(c)
	} else {
		s.seal([]*commit{c})
	}
}

// createTemp creates an empty file in the temp directory.
func (s *Store) createTemp() (*os.File, string, error) {
	name := filepath.Join(s.tmp, strconv.FormatUint(s.seq.Add(1), 36))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if errors.Is(err, iofs.ErrNotExist) {
		// Someone removed the temp directory under us; it holds nothing
		// durable, so recreating it is all there is to do.
		if err := os.Mkdir(s.tmp, dirPerm); err != nil && !errors.Is(err, iofs.ErrExist) {
			return nil, "", err
		}
		f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	}
	return f, name, err
}

// writebackChunk is how many bytes of a blob copyBlob writes before it
// starts writing them to the disk (startWriteback), so that the disk works
// while the rest of the blob arrives.
const writebackChunk = 8 << 20

// copyBlob copies r to dst and returns the byte count. When size >= 0 it
// reads at most size+1 bytes: enough to tell that r is longer than declared
// without storing all of it. It checks ctx between chunks.
func copyBlob(ctx context.Context, dst *os.File, r io.Reader, size int64) (int64, error) {
	limit := int64(1<<63 - 1)
	if size >= 0 && size < limit {
		limit = size + 1
	}
	if src, ok := r.(*os.File); ok {
		return copyFile(ctx, dst, src, limit)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n, started int64 // started: bytes whose writeback has started
	for n < limit {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		b := buf
		if rem := limit - n; rem < int64(len(b)) {
			b = b[:rem]
		}
		// Fill the buffer before writing: readers such as TLS connections
		// yield a few KiB per Read, and one write syscall per 256 KiB is
		// what keeps a single-stream Put CPU-cheap.
		m, rerr := fill(r, b)
		if m > 0 {
			if _, err := dst.Write(b[:m]); err != nil {
				return n, err
			}
			n += int64(m)
			if n-started >= writebackChunk {
				if err := startWriteback(dst, started, n-started); err != nil {
					return n, err
				}
				started = n
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, fmt.Errorf("reading after %d bytes: %w", n, rerr)
		}
	}
	return n, nil
}

// fill reads into b until it is full or r fails. Unlike io.ReadFull it
// returns io.EOF as is, and any other error unchanged (io.ReadFull would
// report a body truncated by the client, io.ErrUnexpectedEOF, as a short
// fill).
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// copyFile copies from a file with the kernel doing the work
// (copy_file_range or splice through os.File.ReadFrom), in chunks so that ctx
// is still checked.
func copyFile(ctx context.Context, dst, src *os.File, limit int64) (int64, error) {
	const chunk = 8 << 20
	var n int64
	for n < limit {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		want := min(chunk, limit-n)
		m, err := dst.ReadFrom(io.LimitReader(src, want))
		n += m
		if err != nil {
			return n, fmt.Errorf("copying after %d bytes: %w", n, err)
		}
		if m < want {
			break
		}
	}
	return n, nil
}

// install renames tmp to final, creating final's directory if it is
// missing, and returns the directories it created. A concurrent Delete may
// remove that directory, once empty, between the mkdir and the rename: the
// rename then fails with ENOENT and install tries again.
func (s *Store) install(tmp, final string) ([]string, error) {
	dir := filepath.Dir(final)
	var created []string
	var err error
	for range maxRetries {
		err = os.Rename(tmp, final)
		if err == nil || !errors.Is(err, iofs.ErrNotExist) {
			return created, err
		}
		c, err := s.mkdirs(dir)
		created = append(created, c...)
		if err != nil {
			return created, err
		}
	}
	return created, fmt.Errorf("directory %s keeps vanishing: %w", dir, err)
}

// mkdirs creates dir and its missing ancestors below the root and returns
// those it created, parents first.
func (s *Store) mkdirs(dir string) ([]string, error) {
	var created []string
	for range maxRetries {
		err := os.Mkdir(dir, dirPerm)
		switch {
		case err == nil:
			return append(created, dir), nil
		case errors.Is(err, iofs.ErrExist):
			return created, nil
		case !errors.Is(err, iofs.ErrNotExist) || len(dir) <= len(s.root):
			return created, err
		}
		c, err := s.mkdirs(filepath.Dir(dir))
		created = append(created, c...)
		if err != nil {
			return created, err
		}
	}
	return created, fmt.Errorf("directory %s keeps vanishing", dir)
}

// syncPresent fsyncs dir or, if a concurrent Delete pruned it, its nearest
// existing ancestor: the removal of a directory made durable carries the
// removal of everything that was in it, so that is what makes an unlink in
// a vanished directory durable. (A Put's directory cannot vanish while its
// blob is in it; if the blob was deleted meanwhile, the same reasoning
// applies.)
func (s *Store) syncPresent(dir string) error {
	for {
		err := s.syncDir(dir)
		if err == nil || !errors.Is(err, iofs.ErrNotExist) || len(dir) <= len(s.root) {
			return err
		}
		dir = filepath.Dir(dir)
	}
}

// Delete implements backend.Store. The removal is durable when it returns
// nil, and the directories it leaves empty are removed.
func (s *Store) Delete(ctx context.Context, name string) error {
	if !backend.ValidName(name) {
		return fmt.Errorf("fs: delete %q: %w", name, backend.ErrInvalidName)
	}
	if err := s.begin(); err != nil {
		return fmt.Errorf("fs: delete %q: %w", name, err)
	}
	defer s.ops.Done()
	p := s.path(name)
	if err := unlink(p); err != nil {
		if notFound(err) {
			return nil
		}
		return fmt.Errorf("fs: delete %q: %w", name, err)
	}
	c := &commit{dir: filepath.Dir(p)}
	s.commitNow(c)
	if c.err != nil {
		return fmt.Errorf("fs: delete %q: %w", name, c.err)
	}
	s.prune(c.dir)
	return nil
}

// prune removes dir and its ancestors below the root while they are empty.
// It is best-effort: rmdir refuses a non-empty directory, which is the usual
// case and ends the walk. A Put that loses the race finds its directory gone
// and recreates it (see install).
func (s *Store) prune(dir string) {
	for d := dir; len(d) > len(s.root); d = filepath.Dir(d) {
		gen, was := s.dirs.forget(d)
		if err := rmdir(d); err != nil {
			s.dirs.restore(d, gen, was)
			return
		}
	}
}

// notFound reports whether err means that no blob file is at the path:
// missing, a path through a non-directory, or a name too long to exist.
func notFound(err error) bool {
	return errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ENAMETOOLONG)
}
