package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// SoftHSMModule is the PKCS#11 module of Debian's softhsm2 package.
const SoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// HSM is a SoftHSM2 token made for one test.
type HSM struct {
	ModulePath string // the PKCS#11 module to load
	TokenLabel string // select the token by this label: slot numbers change when a token is initialised
	PIN        string // user PIN
	SOPIN      string // security officer PIN
	TokenDir   string // the directory that holds this token's objects
	Conf       string // the SOFTHSM2_CONF of this test binary
}

// The SoftHSM2 module reads SOFTHSM2_CONF once, at C_Initialize, and is
// loaded once per process: every test of a binary must use the same
// configuration. So there is one configuration and token directory per test
// binary (under os.TempDir, removed by the next binary once this one has
// exited), one token per test in it, each selected by its unique label.
var softhsm struct {
	once sync.Once
	dir  string // holds softhsm2.conf and tokens/
	err  error

	mu sync.Mutex // one token creation at a time, to tell which directory is new
	n  int
}

const softhsmDirPrefix = "coffre-softhsm-"

// SoftHSM initialises a fresh SoftHSM2 token for the test and returns how to
// reach it. It sets SOFTHSM2_CONF for the whole process (the module reads
// it from there) on first use, so that the module, whenever it is
// initialised, sees the binary's token directory. The token is deleted when
// the test ends.
//
// A token made after the module was initialised in this process is not
// seen until the module is initialised again (C_Finalize, C_Initialize):
// code under test that opens a token by label must do that when the label
// is missing, as keys/pkcs11 does.
//
// It fails the test, never skips it, when softhsm2 is not installed.
func SoftHSM(tb testing.TB) *HSM {
	tb.Helper()
	util := "softhsm2-util"
	if _, err := exec.LookPath(util); err != nil {
		tb.Fatalf("softhsm2-util is not installed (%v): run scripts/deps.sh (make test installs softhsm2)", err)
	}
	if _, err := os.Stat(SoftHSMModule); err != nil {
		tb.Fatalf("PKCS#11 module %s missing (%v): run scripts/deps.sh (make test installs softhsm2)", SoftHSMModule, err)
	}
	softhsm.once.Do(func() { softhsm.dir, softhsm.err = setupSoftHSM() })
	if softhsm.err != nil {
		tb.Fatal(softhsm.err)
	}
	conf := filepath.Join(softhsm.dir, "softhsm2.conf")
	tokens := filepath.Join(softhsm.dir, "tokens")

	softhsm.mu.Lock()
	defer softhsm.mu.Unlock()
	softhsm.n++
	h := &HSM{
		ModulePath: SoftHSMModule,
		TokenLabel: fmt.Sprintf("coffre-test-%d", softhsm.n),
		PIN:        randomPIN(tb),
		SOPIN:      randomPIN(tb),
		Conf:       conf,
	}
	before := dirNames(tokens)
	cmd := exec.Command(util, "--init-token", "--free", "--label", h.TokenLabel, "--so-pin", h.SOPIN, "--pin", h.PIN)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("softhsm2-util --init-token --label %s: %v\n%s", h.TokenLabel, err, out)
	}
	for name := range dirNames(tokens) {
		if !before[name] {
			h.TokenDir = filepath.Join(tokens, name)
		}
	}
	if h.TokenDir == "" {
		tb.Fatalf("softhsm2-util made token %s but no new directory appeared in %s", h.TokenLabel, tokens)
	}
	tb.Cleanup(func() { os.RemoveAll(h.TokenDir) })
	return h
}

// Unplug makes the token vanish, as an HSM that went away, until the
// returned function puts it back. SoftHSM then fails every call on the
// token until the module is initialised again.
func (h *HSM) Unplug(tb testing.TB) (replug func()) {
	tb.Helper()
	// Out of the token directory: SoftHSM loads every directory in it.
	gone := filepath.Join(filepath.Dir(filepath.Dir(h.TokenDir)), "unplugged-"+filepath.Base(h.TokenDir))
	if err := os.Rename(h.TokenDir, gone); err != nil {
		tb.Fatalf("unplug token %s: %v", h.TokenLabel, err)
	}
	var once sync.Once
	replug = func() {
		once.Do(func() {
			if err := os.Rename(gone, h.TokenDir); err != nil {
				tb.Errorf("replug token %s: %v", h.TokenLabel, err)
			}
		})
	}
	tb.Cleanup(replug)
	return replug
}

func setupSoftHSM() (string, error) {
	removeStaleSoftHSMDirs()
	dir, err := os.MkdirTemp("", softhsmDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", err
	}
	// The token directory must exist before softhsm2-util or the module
	// runs, else "Failed to enumerate object store".
	if err := os.Mkdir(filepath.Join(dir, "tokens"), 0o700); err != nil {
		return "", err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
		filepath.Join(dir, "tokens"))
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return "", err
	}
	if err := os.Setenv("SOFTHSM2_CONF", conf); err != nil {
		return "", err
	}
	return dir, nil
}

// removeStaleSoftHSMDirs removes the directories of test binaries that have
// exited.
func removeStaleSoftHSMDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), softhsmDirPrefix+"*"))
	for _, dir := range matches {
		pid, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), softhsmDirPrefix), "-")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(pid); err == nil && n != os.Getpid() && !processAlive(n) {
			os.RemoveAll(dir)
		}
	}
}

func dirNames(dir string) map[string]bool {
	ents, _ := os.ReadDir(dir)
	m := make(map[string]bool, len(ents))
	for _, e := range ents {
		if e.IsDir() {
			m[e.Name()] = true
		}
	}
	return m
}

func randomPIN(tb testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}
