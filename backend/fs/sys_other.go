//go:build !unix

package fs

import "os"

// The store targets unix systems. Elsewhere it builds, for development, but
// neither locks its directory nor fsyncs directories (Windows cannot open a
// directory for fsync), so it is not durable there.

func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, filePerm)
}

func syncDir(string) error { return nil }

func unlink(path string) error { return os.Remove(path) }

func rmdir(path string) error { return os.Remove(path) }
