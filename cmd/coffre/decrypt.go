package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/vault"
)

// decryptCmd is the State's exit door: it decrypts an object from its raw
// backend blobs with the site's keys and metadata, without a running server
// and without the provider that stored them (the blobs can be files copied
// out of any offer).
type decryptCmd struct{ stdout, stderr io.Writer }

func (c *decryptCmd) Run(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("decrypt", flag.ContinueOnError)
	fl.SetOutput(c.stderr)
	sf := addSiteFlags(fl)
	bucket := fl.String("bucket", "", "bucket of the object")
	key := fl.String("key", "", "key of the object")
	version := fl.String("version-id", "", "version of the object (default: the latest)")
	blobDir := fl.String("blobs", "", "directory holding the object's raw blobs, named as on the offer (obj/xx/ID); default: the bucket's offer when it is a local directory")
	out := fl.String("o", "-", "output file (- for standard output)")
	var kf keyFlags
	fl.StringVar(&kf.pkcs11Module, "pkcs11-module", "", "PKCS#11 library of the HSM holding the root keys; default: the keyring")
	fl.StringVar(&kf.pkcs11Token, "pkcs11-token", "coffre", "HSM token label")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *bucket == "" || *key == "" || fl.NArg() != 0 {
		return fmt.Errorf("%w: decrypt --bucket B --key K [--version-id V] [--blobs DIR] [-o FILE]", errUsage)
	}
	cfg, site, err := sf.load()
	if err != nil {
		return err
	}
	st, err := openMeta(cfg, site)
	if err != nil {
		return err
	}
	st.vault = vault.New(vault.Config{Meta: st.meta})
	defer st.Close()
	if kf.pkcs11Module == "" && site.Keys.PKCS11 != nil {
		kf = keyFlags{pkcs11Module: site.Keys.PKCS11.Module, pkcs11Token: site.Keys.PKCS11.Token}
	}
	ks, err := openKeys(ctx, cfg.Data, cfg.Path(site.Keys.Keyring), kf, true, c.stderr) // never a new key store: it would open nothing
	if err != nil {
		return fmt.Errorf("opening the key store (stop the server first: it holds the keyring): %w", err)
	}
	st.keys = ks
	b, err := st.vault.BucketInfo(ctx, *bucket)
	if err != nil {
		return err
	}
	dir := *blobDir
	if dir == "" {
		// The bucket's offer, when it is a directory here. Blobs a
		// migration has not moved yet are on the offer it left.
		name := b.Offer
		if b.Migration != nil {
			name = b.Migration.From
		}
		if name == "" {
			name = site.Offers[0]
		}
		o := cfg.Offer(name)
		if o == nil || o.FS == nil {
			return fmt.Errorf("bucket %s is on offer %s, which is not a local directory: copy its blobs to a directory and give it with --blobs DIR", *bucket, name)
		}
		dir = cfg.Path(o.FS.Path)
	}
	st.vault = vault.New(vault.Config{Meta: st.meta, Backend: blobFiles(dir), Keys: st.keys, Logger: slog.New(slog.DiscardHandler)})
	tenant := b.Tenant
	o, err := st.vault.GetObject(ctx, vault.Principal{Tenant: tenant}, *bucket, *key, *version)
	if err != nil {
		return err
	}
	rc, err := st.vault.Open(ctx, o, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	w := c.stdout
	if *out != "-" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	n, err := io.Copy(w, rc)
	if err != nil {
		return fmt.Errorf("decrypting %s/%s after %d bytes: %w", *bucket, *key, n, err)
	}
	fmt.Fprintf(c.stderr, "decrypted %s/%s version %s: %d bytes, tenant %s, key %s\n", *bucket, *key, o.VersionID, n, tenant, o.KeyID())
	return nil
}

// blobFiles reads raw blobs from a directory: the file of blob NAME is
// DIR/NAME+ as the fs offer keeps it, or DIR/NAME as copied by other means.
type blobFiles string

var _ backend.Store = blobFiles("")

func (d blobFiles) path(name string) (string, error) {
	if !backend.ValidName(name) {
		return "", backend.ErrInvalidName
	}
	p := filepath.Join(string(d), filepath.FromSlash(name))
	if _, err := os.Stat(p + "+"); err == nil {
		return p + "+", nil
	}
	return p, nil
}

func (d blobFiles) Get(_ context.Context, name string, off, length int64) (io.ReadCloser, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil, backend.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if length < 0 {
		length = 1<<63 - 1
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, off, length), f}, nil
}

func (d blobFiles) Stat(_ context.Context, name string) (backend.Info, error) {
	p, err := d.path(name)
	if err != nil {
		return backend.Info{}, err
	}
	fi, err := os.Stat(p)
	if os.IsNotExist(err) {
		return backend.Info{}, backend.ErrNotFound
	} else if err != nil {
		return backend.Info{}, err
	}
	return backend.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func (blobFiles) Put(context.Context, string, io.Reader, int64) error {
	return fmt.Errorf("coffre decrypt never writes blobs")
}

func (blobFiles) Delete(context.Context, string) error {
	return fmt.Errorf("coffre decrypt never deletes blobs")
}

func (blobFiles) List(context.Context, string, func(backend.Info) error) error {
	return fmt.Errorf("coffre decrypt does not list blobs")
}
