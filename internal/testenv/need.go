package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Need returns the path of the program cmd (a name looked up in PATH, or a
// path), failing the test if it is missing. It never skips: `make test`
// installs every program the tests need, and CI must run them all.
func Need(tb testing.TB, cmd string) string {
	tb.Helper()
	path, err := exec.LookPath(cmd)
	if err != nil {
		tb.Fatalf("%s is not installed (%v): run scripts/deps.sh (make test installs it)", cmd, err)
	}
	return path
}

// debianAWS is the aws cli of Debian's awscli package. Another aws on PATH
// (a pyenv or pip install) may be a different major version with other
// defaults, so tests use this one when it is there.
const debianAWS = "/usr/bin/aws"

// AWSCLI returns the path of the aws cli the tests use: Debian's
// /usr/bin/aws when installed, else the aws found in PATH.
func AWSCLI(tb testing.TB) string {
	tb.Helper()
	if _, err := os.Stat(debianAWS); err == nil {
		return debianAWS
	}
	return Need(tb, "aws")
}
