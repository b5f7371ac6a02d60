package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/fs"
	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/meta/sqlite"
	"github.com/coffre-cloud/coffre/vault"
)

// The embedded default site. Its twin (luxembourg) arrives with the twin
// issue; everything a site owns lives under DATA/sites/NAME so that a second
// site slots in beside it.
const (
	defaultDataDir = "coffre-data"
	defaultSite    = "monaco"
	defaultRegion  = "us-east-1"
	rootTenant     = "root"
)

// site is an opened site: its metadata store, its offer and its vault.
type site struct {
	name  string
	dir   string
	meta  *sqlite.Store
	store *fs.Store  // nil for the admin commands
	keys  keys.Store // nil for the admin commands
	vault *vault.Vault
}

// Close closes the offer (waiting for writes in flight), then the metadata.
func (s *site) Close() error {
	var errs []error
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	s.vault.Close()
	if s.keys != nil {
		errs = append(errs, s.keys.Close())
	}
	return errors.Join(append(errs, s.meta.Close())...)
}

// openSite opens (creating if needed) the site under dataDir for serving.
func openSite(ctx context.Context, dataDir, name string, log *slog.Logger, uploadExpiry time.Duration, kf keyFlags, stdout io.Writer) (*site, error) {
	st, err := open(dataDir, name, log, uploadExpiry, true)
	if err != nil {
		return nil, err
	}
	inUse, err := st.vault.HasTenantKeys(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	ks, err := openKeys(ctx, dataDir, st.dir, kf, inUse, stdout)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("opening the key store: %w", err)
	}
	st.keys = ks
	st.vault = vault.New(vault.Config{Meta: st.meta, Backend: st.store, Keys: st.keys, Logger: log, Region: defaultRegion, UploadExpiry: uploadExpiry})
	return st, nil
}

// openAdmin opens a site's metadata only, for the admin commands: they run
// beside a serving process, which holds the offers' directories.
func openAdmin(dataDir string) (*site, error) {
	return open(dataDir, defaultSite, slog.New(slog.DiscardHandler), 0, false)
}

func open(dataDir, name string, log *slog.Logger, uploadExpiry time.Duration, offers bool) (*site, error) {
	dir := filepath.Join(dataDir, "sites", name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the site directory: %w", err)
	}
	m, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		return nil, fmt.Errorf("opening the metadata store: %w", err)
	}
	st := &site{name: name, dir: dir, meta: m}
	var store backend.Store
	if offers {
		if st.store, err = fs.Open(filepath.Join(dir, "offers", "local")); err != nil {
			m.Close()
			return nil, fmt.Errorf("opening the local offer: %w", err)
		}
		store = st.store
	}
	st.vault = vault.New(vault.Config{Meta: m, Backend: store, Logger: log, Region: defaultRegion, UploadExpiry: uploadExpiry})
	return st, nil
}

// dataFlag adds the --data flag every command has.
func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", defaultDataDir, "data directory")
}

// ensureRoot installs the root credentials: from COFFRE_ROOT_ACCESS_KEY and
// COFFRE_ROOT_SECRET_KEY when set, else from DATA/root-credentials, which is
// generated (mode 0600) on first start. fresh is true when they were just
// generated, so that the caller prints them once.
func ensureRoot(ctx context.Context, v *vault.Vault, dataDir string) (id, secret string, fresh bool, err error) {
	if err := v.EnsureTenant(ctx, rootTenant); err != nil {
		return "", "", false, err
	}
	id, secret = os.Getenv("COFFRE_ROOT_ACCESS_KEY"), os.Getenv("COFFRE_ROOT_SECRET_KEY")
	if (id == "") != (secret == "") {
		return "", "", false, errors.New("set both COFFRE_ROOT_ACCESS_KEY and COFFRE_ROOT_SECRET_KEY, or neither")
	}
	path := filepath.Join(dataDir, "root-credentials")
	if id == "" {
		b, rerr := os.ReadFile(path)
		switch {
		case rerr == nil:
			for _, line := range strings.Split(string(b), "\n") {
				if k, val, ok := strings.Cut(line, "="); ok {
					switch strings.TrimSpace(k) {
					case "access_key":
						id = strings.TrimSpace(val)
					case "secret_key":
						secret = strings.TrimSpace(val)
					}
				}
			}
			if id == "" || secret == "" {
				return "", "", false, fmt.Errorf("%s is malformed: remove it to generate new root credentials", path)
			}
		case errors.Is(rerr, os.ErrNotExist):
			id, secret = vault.NewAccessKeyPair()
			content := fmt.Sprintf("# Coffre root credentials (S3). Keep this file secret.\naccess_key = %s\nsecret_key = %s\n", id, secret)
			if err := writeFileSync(path, []byte(content), 0o600); err != nil {
				return "", "", false, fmt.Errorf("storing root credentials: %w", err)
			}
			fresh = true
		default:
			return "", "", false, rerr
		}
	}
	if _, err := v.PutAccessKey(ctx, rootTenant, id, secret); err != nil {
		return "", "", false, fmt.Errorf("installing root credentials: %w", err)
	}
	return id, secret, fresh, nil
}

// writeFileSync writes a file atomically and durably.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
