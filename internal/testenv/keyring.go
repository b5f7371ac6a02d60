package testenv

import (
	"path/filepath"
	"testing"

	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/keys/keyring"
)

// Keyring returns a fresh built-in keyring under tb.TempDir(), sealed by a
// random unseal key (no argon2 stretching: fast), closed at cleanup.
func Keyring(tb testing.TB) keys.Store {
	tb.Helper()
	u, err := keyring.NewUnsealKey()
	if err != nil {
		tb.Fatal(err)
	}
	ks, err := keyring.Create(filepath.Join(tb.TempDir(), "keyring"), u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ks.Close() })
	return ks
}
