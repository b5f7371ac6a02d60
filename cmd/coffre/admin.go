package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// The admin commands open the site's metadata store directly: they work
// whether or not the server runs (SQLite serializes the writers), and a key
// they create is usable by a running server at once.

type tenantCmd struct{ stdout io.Writer }

func (c *tenantCmd) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: tenant create NAME | tenant list", errUsage)
	}
	fl := flag.NewFlagSet("tenant "+args[0], flag.ContinueOnError)
	sf := addSiteFlags(fl)
	confirm := fl.String("confirm", "", "shred: the tenant's name again, to confirm")
	var kf keyFlags
	fl.StringVar(&kf.pkcs11Module, "pkcs11-module", "", "shred: PKCS#11 library, when the server is not running")
	fl.StringVar(&kf.pkcs11Token, "pkcs11-token", "coffre", "shred: HSM token label, when the server is not running")
	if err := fl.Parse(interleave(args[1:])); err != nil {
		return err
	}
	if args[0] == "shred" {
		if fl.NArg() != 1 {
			return fmt.Errorf("%w: tenant shred NAME --confirm NAME", errUsage)
		}
		name := fl.Arg(0)
		if *confirm != name {
			return fmt.Errorf("shredding destroys every key of tenant %s: all its data becomes unreadable, forever, for everyone; to go on, repeat the name: coffre tenant shred %s --confirm %s", name, name, name)
		}
		msg, err := keyOpAnywhere(ctx, sf, kf, keyOp{Op: "shred", Tenant: name}, c.stdout)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, msg)
		return nil
	}
	st, err := openAdmin(sf)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "create":
		if fl.NArg() != 1 {
			return fmt.Errorf("%w: tenant create NAME", errUsage)
		}
		t, err := st.vault.CreateTenant(ctx, fl.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "tenant %s created\n", t.Name)
		return nil
	case "list":
		ts, err := st.vault.Tenants(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TENANT\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\n", t.Name, t.Created.Format("2006-01-02T15:04:05Z"))
		}
		return tw.Flush()
	}
	return fmt.Errorf("%w: unknown tenant subcommand %q", errUsage, args[0])
}

type keyCmd struct{ stdout io.Writer }

func (c *keyCmd) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: key create --tenant NAME | key list | key delete ID", errUsage)
	}
	fl := flag.NewFlagSet("key "+args[0], flag.ContinueOnError)
	sf := addSiteFlags(fl)
	tenant := fl.String("tenant", "", "tenant name")
	var kf keyFlags
	fl.StringVar(&kf.pkcs11Module, "pkcs11-module", "", "create: PKCS#11 library, when the server is not running")
	fl.StringVar(&kf.pkcs11Token, "pkcs11-token", "coffre", "create: HSM token label, when the server is not running")
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	if args[0] == "create" {
		// The secret is sealed under the tenant's key, which only the key
		// store can open: through the serving process when it runs.
		if *tenant == "" || fl.NArg() != 0 {
			return fmt.Errorf("%w: key create --tenant NAME", errUsage)
		}
		msg, err := keyOpAnywhere(ctx, sf, kf, keyOp{Op: "key-create", Tenant: *tenant}, c.stdout)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, msg)
		return nil
	}
	st, err := openAdmin(sf)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "list":
		ks, err := st.vault.AccessKeys(ctx, *tenant)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ACCESS KEY\tTENANT\tCREATED")
		for _, k := range ks {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", k.ID, k.Tenant, k.Created.Format("2006-01-02T15:04:05Z"))
		}
		return tw.Flush()
	case "delete":
		if fl.NArg() != 1 {
			return fmt.Errorf("%w: key delete ACCESS_KEY_ID", errUsage)
		}
		if err := st.vault.DeleteAccessKey(ctx, fl.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "access key %s deleted (a running server forgets it within 5 s)\n", fl.Arg(0))
		return nil
	}
	return fmt.Errorf("%w: unknown key subcommand %q", errUsage, args[0])
}

// interleave moves flags after positional arguments to the front, so that
// "tenant shred NAME --confirm NAME" parses as well as the flags-first form.
func interleave(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && a != "--help" && a != "-h" {
				i++
				flags = append(flags, args[i])
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}
