// Command coffre-bench measures an S3 server the way `make bench` compares
// Coffre with a peer server and with the raw disk under them:
//
//	coffre-bench s3 -endpoint URL -target NAME [-pid PID] [-quick] [-json FILE]
//	coffre-bench raw -dir DIR [-quick] [-json FILE]
//	coffre-bench report -json FILE [-meta KEY=VALUE]... > BENCHMARKS.md
//	coffre-bench null -addr 127.0.0.1:PORT [-md5]
//
// s3 drives one endpoint with aws-sdk-go-v2 (path-style, static
// credentials): large-object PUT and GET throughput, small-object PUT and GET
// rates with concurrent clients, time to first byte, listing throughput over
// a large bucket, and multipart uploads. Bodies are generated and checked
// while they stream (a deterministic AES-CTR keystream), so a 1 GiB object
// never sits in memory and every GET is verified. raw writes and reads the
// same volumes to a file with write+fsync: the limit of the disk under the
// servers. Each scenario is one JSON line; report turns the lines of one run
// into the Markdown of BENCHMARKS.md. null is an endpoint that stores nothing,
// the ceiling of one stream through the client, net/http and loopback on this
// machine. scripts/bench.sh runs it all.
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

const usage = `coffre-bench: Coffre's load generator

Usage:
  coffre-bench s3 -endpoint URL -target NAME [flags]   scenarios against an S3 endpoint
  coffre-bench raw -dir DIR [flags]                    write+fsync and read the same volumes on a disk
  coffre-bench report -json FILE [-meta K=V]...        Markdown comparison of one run's results
  coffre-bench null -addr 127.0.0.1:PORT [-md5]        an S3 endpoint that stores nothing: the ceiling of one stream

Run a subcommand with -h for its flags. scripts/bench.sh (make bench) runs
them all against Coffre, a peer server and the raw disk.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var cmd command
	switch args[0] {
	case "s3":
		cmd = &s3Cmd{stdout: stdout, stderr: stderr}
	case "raw":
		cmd = &rawCmd{stdout: stdout, stderr: stderr}
	case "report":
		cmd = &reportCmd{stdout: stdout, stderr: stderr}
	case "null":
		cmd = &nullCmd{stdout: stdout, stderr: stderr}
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "coffre-bench: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := cmd.Run(ctx, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "coffre-bench %s: %v\n", args[0], err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

// errUsage reports a command-line mistake.
var errUsage = errors.New("usage")

// applyPreset sets each flag of preset that the command line left unset:
// -quick changes the defaults, never what was asked explicitly.
func applyPreset(fl *flag.FlagSet, preset map[string]string) error {
	set := make(map[string]bool)
	fl.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, v := range preset {
		if set[name] {
			continue
		}
		if err := fl.Set(name, v); err != nil {
			return fmt.Errorf("preset -%s=%s: %w", name, v, err)
		}
	}
	return nil
}

// openJSON opens the file results are appended to; "" writes none.
func openJSON(path string) (io.Writer, func() error, error) {
	if path == "" {
		return nil, func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}
