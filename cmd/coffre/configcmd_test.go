package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkConfig runs `coffre config check` with args and returns its output.
func checkConfig(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = (&configCmd{stdout: &out, stderr: &errb}).Run(context.Background(), args)
	return out.String(), errb.String(), err
}

func TestConfigCheckExamples(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"embedded.yaml", "2 sites, 3 offers, 0 tenants: valid"},
		{"monaco.yaml", "2 sites, 3 offers, 3 tenants: valid"},
		{"france-ministry.yaml", "2 sites, 4 offers, 3 tenants: valid"},
	} {
		t.Run("file="+tc.file, func(t *testing.T) {
			file := filepath.Join("..", "..", "examples", tc.file)
			stdout, stderr, err := checkConfig(t, "check", file)
			if err != nil || stderr != "" {
				t.Fatalf("config check %s: %v\n%s", file, err, stderr)
			}
			if want := file + ": " + tc.want + "\n"; stdout != want {
				t.Fatalf("stdout = %q, want %q", stdout, want)
			}
		})
	}
}

// badConfig breaks one rule of each kind: values, unknown fields, a secret
// in the file, references, and the tier, jurisdiction and twin rules.
const badConfig = `sovereign: MC
rules:
  twin_min_distance_km: 100
sites:
  - name: monaco
    location: {lat: 43.7384, lon: 7.4246}
    jurisdiction: MC
    twin: luxembourg
    offers: [monaco-f, aws]
  - name: luxembourg
    location: {lat: 49.7875, lon: 6.0656}
    jurisdiction: LU
    offers: [lux-fs]
offers:
  - name: monaco-fs
    backend: fs
    tier: internal
    jurisdiction: MC
  - name: lux-fs
    backend: fs
    tier: internal
    jurisdiction: MC
    hosted_in: LU
  - name: aws
    backend: s3
    tier: external
    jurisdiction: US
    hosted_in: FR
    s3:
      region: eu-west-3
      bucket: coffre-low
      access_key_env: AWS_ACCESS_KEY_ID
      secret_key: abc
  - name: cheap
    backend: fs
    tier: extrnal
    jurisdiction: US
tenants:
  - name: health
    choose: {high: aws}
    quota: {byte: 10TiB}
`

const badGolden = `bad.yaml:3:25: rules.twin_min_distance_km: 100 km would relax the doctrine's 120 km between twin sites; rules may only be made stricter (fix: use 120 or more, or leave it out)
bad.yaml:9:14: sites[0].offers[0]: no offer named "monaco-f" (fix: did you mean monaco-fs?)
bad.yaml:12:19: sites[1].jurisdiction: site monaco has its twin luxembourg under LU jurisdiction; bucket sensitivity high requires MC jurisdiction (fix: a twin holds high data: it must be under MC jurisdiction (a data embassy abroad keeps it), or choose another twin)
bad.yaml:33:7: offers[2].s3.secret_key: secrets never go in coffre.yaml (fix: put it in an environment variable of the server and write secret_key_env: VARIABLE_NAME)
bad.yaml:36:11: offers[3].tier: "extrnal" is not a tier (fix: use internal, dedicated or external)
bad.yaml:40:20: tenants[0].choose.high: offer aws is tier external; bucket sensitivity high requires internal (fix: choose one allowed for high (monaco-fs, lux-fs), or leave it out to let Coffre choose)
bad.yaml:41:13: tenants[0].quota.byte: unknown field "byte" (fix: did you mean bytes?)
`

func TestConfigCheckErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("bad.yaml", []byte(badConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := checkConfig(t, "check", "bad.yaml")
	if err == nil || err.Error() != "bad.yaml: 7 errors" {
		t.Fatalf("config check = %v, want the error \"bad.yaml: 7 errors\"", err)
	}
	if stdout != "" {
		t.Fatalf("stdout = %q, want nothing", stdout)
	}
	if stderr != badGolden {
		t.Fatalf("stderr:\n%s\nwant:\n%s", stderr, badGolden)
	}
}

func TestConfigCheckUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"check"}, {"lint", "a.yaml"}, {"check", "a.yaml", "b.yaml"}} {
		t.Run("args="+strings.Join(args, "_"), func(t *testing.T) {
			if _, _, err := checkConfig(t, args...); !errors.Is(err, errUsage) {
				t.Fatalf("config %v = %v, want a usage error", args, err)
			}
		})
	}
	_, _, err := checkConfig(t, "check", filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("config check of a missing file = %v, want a not-exist error", err)
	}
}
