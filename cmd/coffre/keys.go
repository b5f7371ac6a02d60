package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/keys/keyring"
	"github.com/coffre-cloud/coffre/keys/pkcs11"
)

// keyFlags select the site's key store.
type keyFlags struct {
	pkcs11Module string
	pkcs11Token  string
}

// openKeys opens the site's key store: a PKCS#11 HSM when a module is
// given (PIN from COFFRE_PKCS11_PIN or COFFRE_PKCS11_PIN_FILE; the first
// root key is made on first use), else the built-in keyring at path.
//
// The keyring is sealed by COFFRE_UNSEAL_KEY when it is set, else by
// DATA/unseal-key, generated (mode 0600) on first start. A key file beside
// the data it protects is the embedded default's convenience, not a
// production setup: there, give the key through the environment from a
// secret manager, or use an HSM.
//
// inUse says that the metadata already holds tenant keys wrapped by the
// site's root key: a missing keyring or an HSM token without a root key is
// then an error, never a reason to make a new root key that opens nothing.
func openKeys(ctx context.Context, dataDir, path string, kf keyFlags, inUse bool, stdout io.Writer) (keys.Store, error) {
	if kf.pkcs11Module != "" {
		pin, err := pkcs11.LoadPIN()
		if err != nil {
			return nil, err
		}
		defer pin.Zero()
		cfg := pkcs11.Config{Module: kf.pkcs11Module, TokenLabel: kf.pkcs11Token, PIN: pin}
		ks, err := pkcs11.Open(ctx, cfg)
		if errors.Is(err, keys.ErrNoSuchKey) {
			if inUse {
				return nil, fmt.Errorf("HSM token %q holds no Coffre root key, but this site's data is encrypted under one: check --pkcs11-token (a new root key would open none of it): %w", kf.pkcs11Token, err)
			}
			ks, err = pkcs11.Create(ctx, cfg)
			if err == nil {
				fmt.Fprintf(stdout, "Created the site's first root key in HSM token %q.\n", kf.pkcs11Token)
			}
		}
		if err != nil {
			return nil, err // not a typed nil in a non-nil interface
		}
		return ks, nil
	}
	var u *keyring.UnsealKey
	var err error
	keyFile := filepath.Join(dataDir, "unseal-key")
	switch {
	case os.Getenv(keyring.EnvUnsealKey) != "":
		u, err = keyring.UnsealKeyFromEnv()
	default:
		u, err = keyring.UnsealKeyFromFile(keyFile)
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(path); serr == nil {
				return nil, fmt.Errorf("the keyring %s exists but its unseal key does not: set %s or restore %s", path, keyring.EnvUnsealKey, keyFile)
			}
			if inUse {
				return nil, fmt.Errorf("the keyring %s and its unseal key %s are missing, but this site's data is encrypted under the keyring's root key: restore both", path, keyFile)
			}
			if u, err = keyring.NewUnsealKey(); err == nil {
				err = keyring.WriteUnsealKeyFile(keyFile, u)
			}
			if err == nil {
				fmt.Fprintf(stdout, "Generated the keyring's unseal key in %s (mode 0600). Keep it apart from the data in production.\n", keyFile)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	defer u.Zero()
	ks, err := keyring.Open(path, u)
	if errors.Is(err, fs.ErrNotExist) {
		if inUse {
			return nil, fmt.Errorf("the keyring %s is missing, but this site's data is encrypted under its root key: restore the file (a new keyring would open none of it)", path)
		}
		ks, err = keyring.Create(path, u, nil)
	}
	if err != nil {
		return nil, err
	}
	return ks, nil
}
