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
	"github.com/coffre-cloud/coffre/config"
	"github.com/coffre-cloud/coffre/keys"
	"github.com/coffre-cloud/coffre/meta/sqlite"
	"github.com/coffre-cloud/coffre/vault"
)

// Without --config a command acts on site monaco of the embedded
// configuration (config.Embedded): everything a site owns lives under
// DATA/sites/NAME, and its offers under DATA/sites/NAME/offers.
const (
	defaultDataDir = config.DefaultData
	defaultRegion  = "us-east-1"
	rootTenant     = "root"
)

// site is an opened site: its metadata store, its offers and its vault.
type site struct {
	name   string
	dir    string
	cfg    *config.Config
	meta   *sqlite.Store
	offers map[string]backend.Store // nil for the admin commands
	keys   keys.Store               // nil for the admin commands
	vault  *vault.Vault
}

// Close closes the offers (waiting for writes in flight), then the metadata.
func (s *site) Close() error {
	var errs []error
	for _, o := range s.offers {
		if c, ok := o.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	if s.vault != nil {
		s.vault.Close()
	}
	if s.keys != nil {
		errs = append(errs, s.keys.Close())
	}
	return errors.Join(append(errs, s.meta.Close())...)
}

// siteFlags are the flags that say which site a command acts on.
type siteFlags struct {
	fl                 *flag.FlagSet
	data, config, site string
}

func addSiteFlags(fl *flag.FlagSet) *siteFlags {
	f := &siteFlags{fl: fl}
	fl.StringVar(&f.data, "data", defaultDataDir, "data directory (default: the configuration's data, else ./coffre-data)")
	fl.StringVar(&f.config, "config", "", "configuration file (see examples/); default: the embedded configuration")
	fl.StringVar(&f.site, "site", "", "site of the configuration (default: its first)")
	return f
}

// load reads the configuration (refusing an invalid one, with every error
// and its line) and finds the site.
func (f *siteFlags) load() (*config.Config, *config.Site, error) {
	cfg := config.Embedded()
	if f.config != "" {
		var err error
		if cfg, err = config.Load(f.config); err != nil {
			var list *config.ErrorList
			if errors.As(err, &list) {
				lines := make([]string, len(list.Errors))
				for i, e := range list.Errors {
					lines[i] = "  " + e.Located(f.config)
				}
				return nil, nil, fmt.Errorf("%s is not valid (coffre config check %s):\n%s", f.config, f.config, strings.Join(lines, "\n"))
			}
			return nil, nil, err
		}
	}
	set := false
	f.fl.Visit(func(fl *flag.Flag) { set = set || fl.Name == "data" })
	if set || f.config == "" {
		cfg.Data = f.data
	}
	name := f.site
	if name == "" {
		name = cfg.Sites[0].Name
	}
	s := cfg.Site(name)
	if s == nil {
		names := make([]string, len(cfg.Sites))
		for i := range cfg.Sites {
			names[i] = cfg.Sites[i].Name
		}
		return nil, nil, fmt.Errorf("no site %q in the configuration: it has %s", name, strings.Join(names, ", "))
	}
	return cfg, s, nil
}

// openSite opens (creating if needed) a site of the configuration for
// serving: its metadata, its key store and every offer it names.
// siteOpts are serve's tunables of a site's vault.
type siteOpts struct {
	uploadExpiry time.Duration
	inlineMax    int64
}

func openSite(ctx context.Context, cfg *config.Config, s *config.Site, log *slog.Logger, o siteOpts, kf keyFlags, stdout io.Writer) (*site, error) {
	st, err := openMeta(cfg, s)
	if err != nil {
		return nil, err
	}
	admin := vault.New(vault.Config{Meta: st.meta, Logger: log})
	inUse, err := admin.HasTenantKeys(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	if kf.pkcs11Module == "" && s.Keys.PKCS11 != nil {
		kf = keyFlags{pkcs11Module: s.Keys.PKCS11.Module, pkcs11Token: s.Keys.PKCS11.Token}
	}
	ks, err := openKeys(ctx, cfg.Data, cfg.Path(s.Keys.Keyring), kf, inUse, stdout)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("opening the key store: %w", err)
	}
	st.keys = ks
	st.offers = make(map[string]backend.Store, len(s.Offers))
	for _, name := range s.Offers {
		o, err := openOffer(ctx, cfg, cfg.Offer(name), log)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("opening offer %s: %w", name, err)
		}
		st.offers[name] = o
	}
	st.vault = vault.New(vault.Config{
		Meta: st.meta, Offers: st.offers, DefaultOffer: s.Offers[0],
		Placer: cfg.Placer(s.Name), Quota: quotas(cfg),
		Keys: st.keys, Logger: log, Region: defaultRegion, UploadExpiry: o.uploadExpiry, InlineMax: o.inlineMax,
	})
	return st, nil
}

// quotas returns the tenants' quotas of the configuration.
func quotas(cfg *config.Config) func(string) vault.Quota {
	return func(tenant string) vault.Quota {
		if t := cfg.Tenant(tenant); t != nil {
			return vault.Quota{Bytes: int64(t.Quota.Bytes), Objects: t.Quota.Objects}
		}
		return vault.Quota{}
	}
}

// openAdmin opens a site's metadata only, for the admin commands: they run
// beside a serving process, which holds the offers and the key store.
func openAdmin(sf *siteFlags) (*site, error) {
	cfg, s, err := sf.load()
	if err != nil {
		return nil, err
	}
	st, err := openMeta(cfg, s)
	if err != nil {
		return nil, err
	}
	st.vault = vault.New(vault.Config{Meta: st.meta, Placer: cfg.Placer(s.Name), Quota: quotas(cfg), Logger: slog.New(slog.DiscardHandler), Region: defaultRegion})
	return st, nil
}

// openMeta creates the site's directory and opens its metadata store.
func openMeta(cfg *config.Config, s *config.Site) (*site, error) {
	if s.Metadata.Postgres != "" {
		return nil, fmt.Errorf("site %s: the PostgreSQL metadata store is not available in this version: use metadata: {sqlite: FILE}", s.Name)
	}
	dir := cfg.Path(filepath.Join("sites", s.Name))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the site directory: %w", err)
	}
	path := cfg.Path(s.Metadata.SQLite)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the metadata directory: %w", err)
	}
	m, err := sqlite.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening the metadata store: %w", err)
	}
	return &site{name: s.Name, dir: dir, cfg: cfg, meta: m}, nil
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
