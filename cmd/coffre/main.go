// Command coffre runs and administers a Coffre site.
//
//	coffre serve [--config FILE] [--site NAME] [--data DIR] [--s3-addr HOST:PORT]
//	coffre tenant create NAME | tenant list
//	coffre key create --tenant NAME | key list [--tenant NAME] | key delete ID
//	coffre keys rotate|rewrap|rotate-root|list
//	coffre tenant shred NAME --confirm NAME
//	coffre placement explain --tenant T --sensitivity S | --bucket B
//	coffre usage [--month YYYY-MM]
//	coffre identity import|client|card|agent|resident|keys ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand.
type command interface {
	Run(ctx context.Context, args []string) error
}

const usage = `coffre: a sovereign S3 vault

Usage:
  coffre serve [--s3-addr HOST:PORT]                 run a site (embedded defaults with no flags)
  coffre tenant create NAME                          add a tenant
  coffre tenant list                                 list tenants
  coffre key create --tenant NAME                    make an S3 access key for a tenant
  coffre key list [--tenant NAME]                    list access keys (never their secrets)
  coffre key delete ACCESS_KEY_ID                    revoke an access key
  coffre keys rotate --tenant NAME                   new encryption key version for a tenant's new data
  coffre keys rewrap --tenant NAME                   rewrap all its data keys under the current version, destroy older ones
  coffre keys rotate-root [--retire-old]             new site root key; rewraps every tenant key
  coffre keys list --tenant NAME                     a tenant's key versions
  coffre tenant shred NAME --confirm NAME            destroy a tenant's keys: its data becomes unreadable forever
  coffre decrypt --bucket B --key K [--blobs DIR]    decrypt an object from raw blobs, offline (server stopped)
  coffre config check FILE                           validate a configuration, explaining every error with its line
  coffre placement explain --tenant T --sensitivity S which offer the rules choose, and why each other is refused
  coffre placement explain --bucket B                where a bucket is, why, and its migration
  coffre usage [--month YYYY-MM]                     stored bytes, requests, egress and cost per tenant and offer
  coffre identity import --csv FILE                  import the population register into the identity provider
  coffre identity client add|revoke|list ...         relying-party clients of the identity provider
  coffre identity card revoke | agent set | resident password|totp | keys rotate   (coffre identity for details)

Every command takes --config FILE (default: the embedded two-site
configuration), --site NAME (default: its first site) and --data DIR
(default: the configuration's, else ./coffre-data).
`

// errUsage reports a command-line mistake; the usage is printed.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var cmd command
	switch args[0] {
	case "serve":
		cmd = &serveCmd{stdout: stdout, stderr: stderr}
	case "tenant":
		cmd = &tenantCmd{stdout: stdout}
	case "key":
		cmd = &keyCmd{stdout: stdout}
	case "keys":
		cmd = &keysCmd{stdout: stdout, stderr: stderr}
	case "decrypt":
		cmd = &decryptCmd{stdout: stdout, stderr: stderr}
	case "config":
		cmd = &configCmd{stdout: stdout, stderr: stderr}
	case "placement":
		cmd = &placementCmd{stdout: stdout, stderr: stderr}
	case "usage":
		cmd = &usageCmd{stdout: stdout, stderr: stderr}
	case "identity":
		cmd = &identityCmd{stdout: stdout, stderr: stderr}
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "coffre: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := cmd.Run(ctx, args[1:]); err != nil {
		if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "coffre %s: %v\n\n%s", args[0], err, usage)
			return 2
		}
		fmt.Fprintf(stderr, "coffre %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
