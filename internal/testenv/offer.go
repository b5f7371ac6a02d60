package testenv

import (
	"errors"
	"io/fs"
	"path/filepath"
)

// OfferFiles lists the files of an fs offer other than its lock and its
// temporary directory: the blobs, and anything else that should not be
// there. Names are relative to root.
func OfferFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != root {
				return nil // a directory pruned by a concurrent Delete
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case d.IsDir() && rel == "+tmp":
			return fs.SkipDir
		case d.IsDir(), rel == "+lock":
			return nil
		}
		files = append(files, rel)
		return nil
	})
	return files, err
}
