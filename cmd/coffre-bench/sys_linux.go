//go:build linux && (amd64 || arm64)

package main

import (
	"os"
	"syscall"
)

// dropCache asks the kernel to drop the cached pages of a file (clean ones:
// the file was fsynced), so that the next read comes from the disk. It
// touches that file only, not the machine's whole page cache.
func dropCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	const fadvDontNeed = 4 // POSIX_FADV_DONTNEED
	if _, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); errno != 0 {
		return &os.PathError{Op: "fadvise", Path: path, Err: errno}
	}
	return nil
}

// writebackChunk: see writeFile.
const writebackChunk = 8 << 20

// startWriteback starts writing bytes [off, off+n) of f to the disk
// (SYNC_FILE_RANGE_WRITE), without waiting.
func startWriteback(f *os.File, off, n int64) error {
	const syncFileRangeWrite = 0x2
	if err := syscall.SyncFileRange(int(f.Fd()), off, n, syncFileRangeWrite); err != nil {
		return &os.PathError{Op: "sync_file_range", Path: f.Name(), Err: err}
	}
	return nil
}
