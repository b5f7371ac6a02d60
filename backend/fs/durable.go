package fs

import (
	"path/filepath"
	"slices"
	"sync"
)

// durableDirs remembers which directories have a durable entry in their
// parent, so that a Put fsyncs a parent once per directory rather than once
// per blob.
//
// The invariant: a directory marked durable, and every ancestor of it, has
// its entry on disk. Ancestors follow because a directory cannot be removed
// while it has children, and a child is unmarked (forget) before any attempt
// to remove it. Generations close the race between a Put that checked a
// directory, fsynced its parent and wants to mark it, and a Delete that
// removed it meanwhile (after which a new directory of the same name may not
// be durable yet): a removal attempt bumps the generation, and a mark only
// applies to the generation that was fsynced.
type durableDirs struct {
	root string
	mu   sync.Mutex
	m    map[string]dirState // bounded by the number of directories ever used
}

type dirState struct {
	durable bool
	gen     uint64
}

func (d *durableDirs) init(root string) {
	d.root = root
	d.m = make(map[string]dirState)
}

// pending returns dir and its ancestors below the root, up to the first one
// marked durable, with their generations: the directories whose entry in
// their parent must be fsynced. Directories in created were just made by the
// caller and are pending whatever the map says.
func (d *durableDirs) pending(dir string, created []string) (chain []string, gens []uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for x := dir; len(x) > len(d.root); x = filepath.Dir(x) {
		st := d.m[x]
		if st.durable && !slices.Contains(created, x) {
			break
		}
		chain = append(chain, x)
		gens = append(gens, st.gen)
	}
	return chain, gens
}

// markDurable records that the parents of chain were fsynced after pending
// returned gens.
func (d *durableDirs) markDurable(chain []string, gens []uint64) {
	if len(chain) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, x := range chain {
		if st := d.m[x]; st.gen == gens[i] {
			st.durable = true
			d.m[x] = st
		}
	}
}

// forget unmarks dir before an attempt to remove it, and returns what
// restore needs if the attempt fails.
func (d *durableDirs) forget(dir string) (gen uint64, wasDurable bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.m[dir]
	wasDurable = st.durable
	st.durable = false
	st.gen++
	d.m[dir] = st
	return st.gen, wasDurable
}

// restore undoes forget after a failed removal (the usual case: the
// directory is not empty), unless another removal attempt came since.
func (d *durableDirs) restore(dir string, gen uint64, wasDurable bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.m[dir]; st.gen == gen {
		st.durable = wasDurable
		d.m[dir] = st
	}
}
