package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// showSlots lists the tokens as a fresh process sees them.
func showSlots(t *testing.T, h *HSM) string {
	t.Helper()
	cmd := exec.Command("softhsm2-util", "--show-slots")
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+h.Conf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --show-slots: %v\n%s", err, out)
	}
	return string(out)
}

func TestSoftHSM(t *testing.T) {
	a, b := SoftHSM(t), SoftHSM(t)
	if a.TokenLabel == b.TokenLabel || a.TokenDir == b.TokenDir {
		t.Fatalf("two tokens share a label or a directory: %+v %+v", a, b)
	}
	if a.Conf != b.Conf || os.Getenv("SOFTHSM2_CONF") != a.Conf {
		t.Fatalf("tokens of one binary must share one SOFTHSM2_CONF: %s, %s, env %s", a.Conf, b.Conf, os.Getenv("SOFTHSM2_CONF"))
	}
	if _, err := os.Stat(a.ModulePath); err != nil {
		t.Fatalf("module: %v", err)
	}
	slots := showSlots(t, a)
	for _, h := range []*HSM{a, b} {
		if !strings.Contains(slots, "Label:            "+h.TokenLabel+" ") {
			t.Fatalf("token %s not listed by softhsm2-util:\n%s", h.TokenLabel, slots)
		}
	}
	// The PIN logs in: softhsm2-util --delete-token would not check it, so
	// use pkcs11-tool when present (opensc), else trust init-token.
	if tool, err := exec.LookPath("pkcs11-tool"); err == nil {
		cmd := exec.Command(tool, "--module", a.ModulePath, "--token-label", a.TokenLabel, "--login", "--pin", a.PIN, "--list-objects")
		cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+a.Conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pkcs11-tool login with the token's PIN: %v\n%s", err, out)
		}
	}
	replug := a.Unplug(t)
	if strings.Contains(showSlots(t, a), a.TokenLabel+" ") {
		t.Fatalf("token %s still listed after Unplug", a.TokenLabel)
	}
	replug()
	if !strings.Contains(showSlots(t, a), a.TokenLabel+" ") {
		t.Fatalf("token %s not listed after replug", a.TokenLabel)
	}
}

func TestSoftHSMCleanup(t *testing.T) {
	var dir string
	t.Run("make", func(t *testing.T) { dir = SoftHSM(t).TokenDir })
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("token directory %s still there after its test: %v", dir, err)
	}
}
