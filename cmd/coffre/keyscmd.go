package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
)

// keysCmd administers encryption keys: coffre keys rotate|rewrap|rotate-root|list.
type keysCmd struct{ stdout, stderr io.Writer }

func (c *keysCmd) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: keys rotate --tenant T | keys rewrap --tenant T | keys rotate-root [--retire-old] | keys list --tenant T", errUsage)
	}
	fl := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fl.SetOutput(c.stderr)
	sf := addSiteFlags(fl)
	tenant := fl.String("tenant", "", "tenant name")
	retire := fl.Bool("retire-old", false, "rotate-root: destroy the previous root key once every tenant key is rewrapped")
	var kf keyFlags
	fl.StringVar(&kf.pkcs11Module, "pkcs11-module", "", "PKCS#11 library, when the server is not running (as for serve)")
	fl.StringVar(&kf.pkcs11Token, "pkcs11-token", "coffre", "HSM token label, when the server is not running")
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	op := keyOp{Op: args[0], Tenant: *tenant, Retire: *retire}
	switch op.Op {
	case "rotate", "rewrap", "list":
		if op.Tenant == "" {
			return fmt.Errorf("%w: keys %s --tenant NAME", errUsage, op.Op)
		}
	case "rotate-root":
	default:
		return fmt.Errorf("%w: unknown keys subcommand %q", errUsage, op.Op)
	}
	msg, err := keyOpAnywhere(ctx, sf, kf, op, c.stdout)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, msg)
	return nil
}

// keyOpAnywhere runs op through the serving process when there is one, or
// else opens the site's key store itself.
func keyOpAnywhere(ctx context.Context, sf *siteFlags, kf keyFlags, op keyOp, stdout io.Writer) (string, error) {
	cfg, s, err := sf.load()
	if err != nil {
		return "", err
	}
	msg, err := callAdmin(ctx, cfg.Path(filepath.Join("sites", s.Name)), op)
	if !errors.Is(err, errNoServer) {
		return msg, err
	}
	st, err := openSite(ctx, cfg, s, slog.New(slog.DiscardHandler), siteOpts{}, kf, stdout)
	if err != nil {
		return "", fmt.Errorf("the server is not running and the site could not be opened: %w", err)
	}
	defer st.Close()
	return runKeyOp(ctx, st.vault, op)
}
