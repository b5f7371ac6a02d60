package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// SoftHSMInProcess is for test helpers that make SoftHSM2 tokens
// themselves, through the module loaded in the process (C_InitToken on its
// free slot): that takes milliseconds and, unlike a token made by
// softhsm2-util, is seen at once, with no C_Finalize that would pull the
// module from under other users of it in the process.
//
// It sets up the binary's SoftHSM2 configuration as SoftHSM does (so it
// must be called before the module is first initialised), then runs
// initToken while SoftHSM makes no token of its own: SoftHSM tells which
// token directory it made by listing the directory before and after, and
// would otherwise take the in-process token's directory for its own. It
// returns the directory that holds the tokens; SoftHSM2 names a token's
// directory after a UUID that ends with the token's serial number (the
// UUID without its dashes ends with it), so the caller can remove it.
//
// It fails the test, never skips it, when softhsm2 is not installed, or
// when initToken fails.
func SoftHSMInProcess(tb testing.TB, initToken func() error) (tokensDir string) {
	tb.Helper()
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		tb.Fatalf("softhsm2-util is not installed (%v): run scripts/deps.sh (make test installs softhsm2)", err)
	}
	if _, err := os.Stat(SoftHSMModule); err != nil {
		tb.Fatalf("PKCS#11 module %s missing (%v): run scripts/deps.sh (make test installs softhsm2)", SoftHSMModule, err)
	}
	softhsm.once.Do(func() { softhsm.dir, softhsm.err = setupSoftHSM() })
	if softhsm.err != nil {
		tb.Fatal(softhsm.err)
	}
	softhsm.mu.Lock()
	defer softhsm.mu.Unlock()
	if err := initToken(); err != nil {
		tb.Fatalf("make a SoftHSM2 token in process: %v", err)
	}
	return filepath.Join(softhsm.dir, "tokens")
}
