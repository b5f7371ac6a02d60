//go:build unix

package fs

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDir takes an exclusive flock on path, held until the file is closed.
// flock locks belong to the open file description, so a second Open of the
// same directory fails even within one process, and the kernel releases the
// lock when the process dies, however it dies.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another store has this directory open (lock %s is held)", path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f, nil
}

// syncDir fsyncs a directory, making the entries it holds durable. It uses
// raw system calls: an *os.File would add a poller registration and an
// allocation to every Put.
func syncDir(dir string) error {
	fd, err := retryEINTR(func() (int, error) {
		return syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	_, err = retryEINTR(func() (int, error) { return 0, syscall.Fsync(fd) })
	syscall.Close(fd)
	if err != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}

// unlink removes a file. Unlike os.Remove it does not go on to try rmdir
// when the file is missing.
func unlink(path string) error {
	if _, err := retryEINTR(func() (int, error) { return 0, syscall.Unlink(path) }); err != nil {
		return &os.PathError{Op: "unlink", Path: path, Err: err}
	}
	return nil
}

// rmdir removes an empty directory. Unlike os.Remove it does not try unlink
// first.
func rmdir(path string) error {
	if _, err := retryEINTR(func() (int, error) { return 0, syscall.Rmdir(path) }); err != nil {
		return &os.PathError{Op: "rmdir", Path: path, Err: err}
	}
	return nil
}

func retryEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != syscall.EINTR {
			return n, err
		}
	}
}
