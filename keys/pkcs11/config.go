package pkcs11

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/coffre-cloud/coffre/keys"
)

// Environment variables that LoadPIN reads. The PIN never comes from a
// flag: flags show in ps and in shell history.
const (
	EnvPIN     = "COFFRE_PKCS11_PIN"
	EnvPINFile = "COFFRE_PKCS11_PIN_FILE"
)

// Defaults of Config.
const (
	DefaultKeyPrefix     = "coffre"
	DefaultMaxSessions   = 4
	DefaultRetryInterval = time.Second
	DefaultRefresh       = 10 * time.Second
)

// Config says which token holds the keys and how to log in.
type Config struct {
	// Module is the path of the PKCS#11 library, e.g.
	// /usr/lib/softhsm/libsofthsm2.so.
	Module string
	// TokenLabel selects the token. Slot numbers are never used: they
	// change when a token is initialised or a device is added.
	TokenLabel string
	// PIN is the user PIN (see LoadPIN). Open copies it; the caller may
	// zero its own copy afterwards.
	PIN keys.Secret
	// KeyPrefix starts the label of every object the store makes
	// (PREFIX-root-vN, PREFIX-sign-NAME, PREFIX-mac-NAME), so that two
	// sites can share a token. Default "coffre".
	KeyPrefix string
	// MaxSessions bounds the sessions open at once, so the calls in
	// flight. Default 4: an HSM call takes tens of microseconds and the
	// vault makes them only on tenant key cache misses.
	MaxSessions int
	// RetryInterval is the least time between two attempts to reconnect
	// to a token that went away; calls in between fail at once with
	// ErrUnavailable. Default 1s.
	RetryInterval time.Duration
	// Refresh is how old the store's list of root keys may get before Wrap
	// reads the token again, so that a Rotate made by another node sharing
	// the token reaches this one's Wraps within Refresh. Default 10s.
	Refresh time.Duration
}

// LogValue implements slog.LogValuer: a Config logs without its PIN.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("module", c.Module),
		slog.String("token", c.TokenLabel),
		slog.String("key_prefix", c.KeyPrefix),
	)
}

func (c *Config) check() error {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.Refresh <= 0 {
		c.Refresh = DefaultRefresh
	}
	switch {
	case c.Module == "":
		return fmt.Errorf("pkcs11: no module path (e.g. /usr/lib/softhsm/libsofthsm2.so): %w", keys.ErrInvalid)
	case c.TokenLabel == "":
		return fmt.Errorf("pkcs11: no token label: %w", keys.ErrInvalid)
	case len(c.PIN) == 0:
		return fmt.Errorf("pkcs11: no PIN (set %s or %s): %w", EnvPINFile, EnvPIN, keys.ErrInvalid)
	case !keys.ValidName(c.KeyPrefix):
		return fmt.Errorf("pkcs11: key prefix %q: want [a-z0-9._-]: %w", c.KeyPrefix, keys.ErrInvalid)
	}
	return nil
}

// LoadPIN returns the user PIN from the file named by COFFRE_PKCS11_PIN_FILE
// (which must not be readable by group or others), or else from
// COFFRE_PKCS11_PIN, which it then removes from the environment so that
// child processes do not inherit it.
func LoadPIN() (keys.Secret, error) {
	if path := os.Getenv(EnvPINFile); path != "" {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("pkcs11: %s: %w", EnvPINFile, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("pkcs11: PIN file %s has mode %v; make it 0600 (chmod 600 %s): %w",
				path, fi.Mode().Perm(), path, keys.ErrInvalid)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("pkcs11: %s: %w", EnvPINFile, err)
		}
		pin := keys.Secret(bytes.Clone(bytes.TrimSpace(b)))
		keys.Secret(b).Zero()
		if len(pin) == 0 {
			return nil, fmt.Errorf("pkcs11: PIN file %s is empty: %w", path, keys.ErrInvalid)
		}
		return pin, nil
	}
	if v, ok := os.LookupEnv(EnvPIN); ok && v != "" {
		os.Unsetenv(EnvPIN)
		return keys.Secret(v), nil
	}
	return nil, fmt.Errorf("pkcs11: no PIN: set %s (a file of mode 0600) or %s: %w", EnvPINFile, EnvPIN, keys.ErrInvalid)
}
