package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/coffre-cloud/coffre/config"
)

// configCmd works on configuration files: coffre config check FILE.
type configCmd struct{ stdout, stderr io.Writer }

// Run checks a file: it prints a one-line summary when the file is valid,
// and otherwise every error as FILE:LINE:COL: field: message (fix: ...) on
// stderr before returning an error.
func (c *configCmd) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return fmt.Errorf("%w: config check FILE", errUsage)
	}
	fl := flag.NewFlagSet("config check", flag.ContinueOnError)
	fl.SetOutput(c.stderr)
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		return fmt.Errorf("%w: config check FILE", errUsage)
	}
	file := fl.Arg(0)
	cfg, err := config.Load(file)
	var list *config.ErrorList
	switch {
	case errors.As(err, &list):
		for _, e := range list.Errors {
			fmt.Fprintln(c.stderr, e.Located(file))
		}
		return fmt.Errorf("%s: %s", file, configPlural(len(list.Errors), "error"))
	case err != nil:
		return err
	}
	fmt.Fprintf(c.stdout, "%s: %s, %s, %s: valid\n", file,
		configPlural(len(cfg.Sites), "site"), configPlural(len(cfg.Offers), "offer"), configPlural(len(cfg.Tenants), "tenant"))
	return nil
}

// configPlural returns "1 site", "2 sites".
func configPlural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
