//go:build !cgo

package pkcs11

import (
	"context"
	"errors"

	"github.com/coffre-cloud/coffre/keys"
)

// errNoCgo is what a binary built with CGO_ENABLED=0 says: loading a
// PKCS#11 module needs cgo (dlopen).
var errNoCgo = errors.New("pkcs11: this coffre was built without cgo (CGO_ENABLED=0) and cannot load a PKCS#11 module; build it with cgo, or use the built-in keyring")

// Store is never made in a binary built without cgo.
type Store struct{ keys.Store }

// Open checks cfg, then fails: see errNoCgo.
func Open(_ context.Context, cfg Config) (*Store, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return nil, errNoCgo
}

// Create checks cfg, then fails: see errNoCgo.
func Create(ctx context.Context, cfg Config) (*Store, error) { return Open(ctx, cfg) }
