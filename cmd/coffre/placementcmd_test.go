package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCoffre(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestServeRefusesInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "coffre.yaml")
	if err := os.WriteFile(file, []byte("sovereign: MC\nsites:\n  - name: monaco\n    offers: [nope]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCoffre(t, "serve", "--config", file, "--data", filepath.Join(dir, "data"), "--s3-addr", "127.0.0.1:0", "--identity-addr", "off")
	if code == 0 {
		t.Fatal("serve started on an invalid configuration")
	}
	for _, want := range []string{file + ":4:14: sites[0].offers[0]: no offer named \"nope\"", "sites[0].location: missing"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("serve created its data directory before refusing: %v", err)
	}
}

func TestPlacementExplain(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
		fail bool
	}{
		{
			args: []string{"--config", "../../examples/monaco.yaml", "--tenant", "smart-city", "--sensitivity", "high"},
			want: []string{
				"site monaco, tenant smart-city, sensitivity high",
				"chosen:    monaco-swift",
				"rejected:  aws-eu-west-3  rule tier: offer aws-eu-west-3 is tier external; bucket sensitivity high requires internal",
				"twin:      luxembourg",
				"km away, under MC law: allowed",
			},
		},
		{
			args: []string{"--config", "../../examples/monaco.yaml", "--tenant", "smart-city", "--sensitivity", "low"},
			want: []string{"chosen:   aws-eu-west-3", "(the tenant's choice)", "allowed:  monaco-swift"},
		},
		{
			// The hospital subscribed to internal offers only.
			args: []string{"--config", "../../examples/monaco.yaml", "--tenant", "chpg", "--sensitivity", "low"},
			want: []string{"chosen:   monaco-swift"},
		},
		{
			args: []string{"--tenant", "root", "--sensitivity", "medium"},
			want: []string{"chosen:    monaco-local", "rejected:  external-local  rule tier:"},
		},
		{args: []string{"--tenant", "root"}, fail: true},
		{args: []string{"--tenant", "root", "--sensitivity", "secret"}, fail: true},
	} {
		stdout, stderr, code := runCoffre(t, append([]string{"placement", "explain"}, tc.args...)...)
		if (code != 0) != tc.fail {
			t.Errorf("%v: exit %d\n%s%s", tc.args, code, stdout, stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, stdout)
			}
		}
	}
}
