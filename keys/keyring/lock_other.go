//go:build !unix

package keyring

import (
	"fmt"
	"os"
)

// lockFile opens (creating) the file at path. Without flock, nothing stops
// two processes from opening one keyring: run one coffre per data directory.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keyring: lock: %w", err)
	}
	return f, nil
}
