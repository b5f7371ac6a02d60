//go:build unix

package keyring

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile opens (creating) the file at path and takes an exclusive flock on
// it, so that two processes never rewrite one keyring at once. Closing the
// file releases the lock; the file itself stays, empty.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keyring: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("keyring: %s is held by another open keyring (another coffre process?)", path)
		}
		return nil, fmt.Errorf("keyring: lock %s: %w", path, err)
	}
	return f, nil
}
