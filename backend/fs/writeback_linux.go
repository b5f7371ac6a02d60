//go:build linux

package fs

import (
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writing the dirty
// pages of the range, without waiting for them.
const syncFileRangeWrite = 0x2

// startWriteback asks the kernel to start writing bytes [off, off+n) of f
// to the disk now. A blob is fsynced once, when it is complete; without this
// the kernel keeps a large blob's pages dirty in memory (up to its dirty
// ratio, gigabytes here) and that fsync then writes all of it while the
// client waits, with the disk idle for the whole upload before. It is a
// hint: the fsync that ends the Put is what makes the blob durable, and it
// reports any write error.
var startWriteback = func(f *os.File, off, n int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SyncFileRange(int(fd), off, n, syncFileRangeWrite)
	}); err != nil {
		return err
	}
	return serr
}
