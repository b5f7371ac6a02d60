package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/coffre-cloud/coffre/backend"
)

// List implements backend.Store.
//
// Names come out in byte order although the tree is walked one directory at
// a time, holding only the entries of the directories on the current path:
// within a directory, a blob file sorts by its segment and a subdirectory by
// its segment followed by '/', the first byte of every name below it. Since
// segments hold no '/', every other entry of the directory sorts entirely
// before or entirely after the names below a subdirectory, so recursing into
// the subdirectory at its key's place yields names in order. (A plain sorted
// walk would put "a/b" before "a-b" and "a.b", because '-' and '.' sort
// before '/'.)
func (s *Store) List(ctx context.Context, prefix string, fn func(backend.Info) error) error {
	// Every name with the prefix lies below the prefix's directory part, and
	// its next segment starts with the rest.
	dir, rest := "", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir, rest = prefix[:i], prefix[i+1:]
		if !backend.ValidName(dir) {
			return nil // no valid name has this prefix
		}
	}
	err := s.listDir(ctx, dir, rest, fn)
	var fe fnError
	if errors.As(err, &fe) {
		return fe.err // fn's error, returned as fn gave it
	}
	if err != nil {
		return fmt.Errorf("fs: list %q: %w", prefix, err)
	}
	return nil
}

// fnError carries the error of List's fn through the recursion, so that it
// is returned as is while the store's own errors get context.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

type entry struct {
	key string // the sort key: the segment, plus '/' for a directory
	seg string
	dir bool
}

// listDir lists the blobs below directory dir (a name, "" for the root)
// whose next segment starts with filter.
func (s *Store) listDir(ctx context.Context, dir, filter string, fn func(backend.Info) error) error {
	p := s.root
	if dir != "" {
		p = filepath.Join(s.root, filepath.FromSlash(dir))
	}
	names, err := readDirNames(p)
	if err != nil {
		if notFound(err) {
			return nil // removed since its parent was read, or not a directory
		}
		return err
	}
	entries := make([]entry, 0, len(names))
	for _, n := range names {
		seg, blob := strings.CutSuffix(n, blobMark)
		// Skips the store's own files (+tmp, +lock) and foreign ones.
		if !backend.ValidName(seg) || !strings.HasPrefix(seg, filter) {
			continue
		}
		key := seg
		if !blob {
			key += "/"
		}
		entries = append(entries, entry{key: key, seg: seg, dir: !blob})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.seg
		if dir != "" {
			name = dir + "/" + e.seg
		}
		if e.dir {
			if err := s.listDir(ctx, name, "", fn); err != nil {
				return err
			}
			continue
		}
		fi, err := os.Lstat(s.path(name))
		if err != nil {
			if notFound(err) {
				continue // deleted since the directory was read
			}
			return err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		if err := fn(backend.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return fnError{err}
		}
	}
	return nil
}

// readDirNames returns the entry names of dir, unsorted and without a stat
// per entry.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
