package fs

import (
	"os"
	"path/filepath"
	"sync"
)

// A commit is the durable end of a Put (a written temp file to fsync and
// rename into place) or of a Delete (a blob unlinked from dir).
type commit struct {
	f          *os.File // Put: the temp file, written, not yet synced; nil for a Delete
	tmp, final string   // Put: the temp file's path and the blob's
	dir        string   // the directory whose entries change

	// Set by seal.
	installed bool // the temp file was renamed to final
	err       error

	created []string // directories that install created
	chain   []string // see durableDirs.pending
	gens    []uint64
	syncs   []string // the directories to fsync
	done    chan struct{}
}

// seal makes a batch of commits durable, setting each one's err:
//
//  1. each file is fsynced, then renamed into place (creating its directory
//     if needed); all files of the batch are fsynced concurrently;
//  2. once every rename of the batch is done, each distinct directory whose
//     entries changed is fsynced, once, concurrently with the others.
//
// Without group commit a batch holds one commit and nothing runs
// concurrently. With it, what a batch can share is the journal commits
// behind the fsyncs (issued together, after all the batch's files were
// written) and the fsync of a directory that several renames changed; every
// blob still gets its own fsync.
func (s *Store) seal(batch []*commit) {
	forEach(batch, func(c *commit) {
		if c.f == nil {
			return
		}
		if c.err = c.f.Sync(); c.err != nil {
			return
		}
		if c.err = c.f.Close(); c.err != nil {
			return
		}
		c.created, c.err = s.install(c.tmp, c.final)
		c.installed = c.err == nil
	})

	var dirs []string
	seen := make(map[string]bool, len(batch))
	for _, c := range batch {
		if c.err != nil {
			continue
		}
		// A snapshot taken before the fsyncs start: a mark applies only to
		// what these fsyncs cover.
		c.chain, c.gens = s.dirs.pending(c.dir, c.created)
		c.syncs = append(c.syncs[:0], c.dir)
		for _, d := range c.chain {
			c.syncs = append(c.syncs, filepath.Dir(d))
		}
		for _, d := range c.syncs {
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	errs := make([]error, len(dirs))
	forEachIndex(len(dirs), func(i int) { errs[i] = s.syncPresent(dirs[i]) })
	failed := make(map[string]error)
	for i, d := range dirs {
		if errs[i] != nil {
			failed[d] = errs[i]
		}
	}

	for _, c := range batch {
		if c.err != nil {
			continue
		}
		for _, d := range c.syncs {
			if err := failed[d]; err != nil {
				// The blob is in place but not known durable; the
				// caller sees the error and does not reference it.
				c.err = err
				break
			}
		}
		if c.err == nil {
			s.dirs.markDurable(c.chain, c.gens)
		}
	}
}

// forEach calls f on every commit, concurrently when there are several.
func forEach(batch []*commit, f func(*commit)) {
	forEachIndex(len(batch), func(i int) { f(batch[i]) })
}

func forEachIndex(n int, f func(int)) {
	if n == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}

// committer is the user-space group commit, off by default (see
// withGroupCommit): it collects the commits that arrived while it was
// sealing the previous batch and seals them together. Batches follow each
// other, so a batch waits for the journal commits of the one before; the
// kernel, which pipelines commits, did better on the disks measured.
type committer struct {
	seal func([]*commit)
	reqs chan *commit
	quit chan struct{}
	done chan struct{}
}

// maxBatch bounds a batch, and so the goroutines seal starts, and keeps a
// steady stream of commits from delaying the first one indefinitely.
const maxBatch = 256

func newCommitter(seal func([]*commit)) *committer {
	c := &committer{
		seal: seal,
		reqs: make(chan *commit, maxBatch),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	go c.run()
	return c
}

// commit seals cm in a batch with concurrent callers and waits for it.
func (c *committer) commit(cm *commit) {
	cm.done = make(chan struct{})
	c.reqs <- cm
	<-cm.done
}

// stop ends the committer. The store calls it once no operation is in
// flight, so no commit is waiting.
func (c *committer) stop() {
	close(c.quit)
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	batch := make([]*commit, 0, maxBatch)
	for {
		select {
		case cm := <-c.reqs:
			batch = append(batch[:0], cm)
		case <-c.quit:
			return
		}
	collect:
		for len(batch) < maxBatch {
			select {
			case cm := <-c.reqs:
				batch = append(batch, cm)
			default:
				break collect
			}
		}
		c.seal(batch)
		for _, cm := range batch {
			close(cm.done)
		}
		clear(batch)
	}
}
