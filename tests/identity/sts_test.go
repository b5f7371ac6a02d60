package identity_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/coffre-cloud/coffre/identity/demo"
	"github.com/coffre-cloud/coffre/identity/rp"
	"github.com/coffre-cloud/coffre/internal/testenv"
)

// stsStepTimeout bounds one command of the STS test.
const stsStepTimeout = 60 * time.Second

// stsRun runs a command with env and returns its output; it never fails
// the test by itself.
func stsRun(t *testing.T, env []string, argv ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stsStepTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	err = cmd.Run()
	shown := make([]string, len(argv))
	for i, a := range argv {
		if len(a) > 60 {
			a = a[:20] + "..." // tokens
		}
		shown[i] = a
	}
	t.Logf("$ %s (%v): %v", strings.Join(shown, " "), time.Since(start).Round(time.Millisecond), err)
	return o.String(), e.String(), err
}

// stsClient registers a relying party through the CLI (the running
// server's admin socket), with --sts when exchange is set, and returns it.
func stsClient(t *testing.T, srv *testenv.Server, id string, exchange bool) *rp.Client {
	t.Helper()
	sig, enc, dp, err := rp.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	c := &rp.Client{Issuer: srv.Issuer, ID: id, RedirectURI: fmt.Sprintf("http://127.0.0.1:%d/callback", testenv.FreePort(t)),
		SigKey: sig, EncKey: enc, DPoPKey: dp, HTTP: &http.Client{Timeout: 15 * time.Second}}
	jwks := filepath.Join(t.TempDir(), id+"-jwks.json")
	if err := os.WriteFile(jwks, c.JWKS(), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{testenv.BuildCoffre(t), "identity", "client", "add", "--data", srv.DataDir, "--id", id, "--name", id,
		"--redirect-uri", c.RedirectURI, "--jwks", jwks, "--id-token-enc", "ECDH-ES"}
	if exchange {
		args = append(args, "--sts")
	}
	out, errOut, err := stsRun(t, os.Environ(), args...)
	if err != nil || !strings.Contains(out, "client "+id+" registered") {
		t.Fatalf("coffre identity client add: %v\n%s%s", err, out, errOut)
	}
	if err := c.Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// stsIDToken logs demo resident r in at eidas1 through client c, in a
// browser of its own, and returns the signed id_token the client decrypted.
func stsIDToken(t *testing.T, c *rp.Client, r demo.Resident) string {
	t.Helper()
	ctx := context.Background()
	a, err := c.Push(ctx, "openid", "eidas1", url.Values{"ui_locales": {"fr"}})
	if err != nil {
		t.Fatalf("PAR: %v", err)
	}
	cb, _ := url.Parse(c.RedirectURI)
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == cb.Host {
			return http.ErrUseLastResponse // the code is for the client, not the browser
		}
		return nil
	}}
	resp, page := fetch(t, b, http.MethodGet, a.AuthorizationURL, nil)
	login := resp.Request.URL.String()
	_, page = fetch(t, b, http.MethodPost, login+"/password", url.Values{"csrf": {csrf(t, page)}, "username": {r.NationalNumber}, "password": {r.Password}})
	resp, _ = fetch(t, b, http.MethodPost, login+"/consent", url.Values{"csrf": {csrf(t, page)}, "decision": {"allow"}})
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Host != cb.Host {
		t.Fatalf("consent: %d to %q, want a redirect to the client's %s", resp.StatusCode, resp.Header.Get("Location"), c.RedirectURI)
	}
	tok, err := c.Callback(ctx, a, loc.Query())
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	_, inner, err := c.IDToken(ctx, tok.IDToken, a)
	if err != nil {
		t.Fatalf("id_token: %v", err)
	}
	return inner
}

// foreignIDToken is an id_token that claims the provider's issuer but is
// signed by a key the provider never had.
func foreignIDToken(t *testing.T, issuer, aud string) string {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k, KeyID: "foreign"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{"iss": issuer, "sub": "someone", "aud": aud, "exp": now.Add(5 * time.Minute).Unix(),
		"iat": now.Unix(), "at_hash": "x", "jti": "forged", "acr": "eidas3"})
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// TestSTSWithAWSCLI exchanges a demo agent's id_tokens for temporary S3
// credentials with the real aws cli, on a real `coffre serve`, and uses them
// with `aws s3`: each role does what it may and no more, and an id_token
// that is foreign, of a client not registered for STS, or already
// exchanged is refused with the STS error.
func TestSTSWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real coffre serve and the aws cli (runs without -short)")
	}
	aws := testenv.AWSCLI(t)
	coffre := testenv.BuildCoffre(t)
	srv := testenv.StartCoffre(t, testenv.Opts{})
	louise := demo.Residents[0] // national number 1000000001
	const tenant = "agency-sts"
	for _, args := range [][]string{
		{"tenant", "create", tenant},
		{"identity", "agent", "set", "--nn", louise.NationalNumber, "--tenant", tenant, "--role", "admin", "--role", "writer", "--role", "reader"},
	} {
		if out, errOut, err := stsRun(t, os.Environ(), append(append([]string{coffre}, args...), "--data", srv.DataDir)...); err != nil {
			t.Fatalf("coffre %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
	}
	agents := stsClient(t, srv, "agents-sts", true)
	loginOnly := stsClient(t, srv, "login-only", false)

	// assume runs aws sts assume-role-with-web-identity; on success it
	// returns the environment of aws s3 with the temporary credentials.
	assume := func(role, token string) (env []string, stderr string, err error) {
		t.Helper()
		out, errOut, err := stsRun(t, testenv.AWSEnv(srv), aws, "sts", "assume-role-with-web-identity", "--endpoint-url", srv.Endpoint,
			"--role-arn", "arn:coffre:iam::"+tenant+":role/"+role, "--role-session-name", "agent-session",
			"--web-identity-token", token, "--duration-seconds", "900", "--output", "json")
		if err != nil {
			return nil, errOut, err
		}
		var res struct {
			Credentials struct {
				AccessKeyID     string `json:"AccessKeyId"`
				SecretAccessKey string
				SessionToken    string
				Expiration      string
			}
			SubjectFromWebIdentityToken string
			Audience                    string
			Provider                    string
			AssumedRoleUser             struct{ Arn string }
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("aws sts output is not JSON: %v\n%s", err, out)
		}
		c := res.Credentials
		if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" || c.Expiration == "" ||
			res.Audience != "agents-sts" || res.Provider != srv.Issuer || res.SubjectFromWebIdentityToken == "" ||
			res.AssumedRoleUser.Arn != "arn:coffre:sts::"+tenant+":assumed-role/"+role+"/agent-session" {
			t.Fatalf("aws sts answered %+v, want credentials, the client, the issuer, a subject and the assumed role", res)
		}
		return append(testenv.AWSEnv(srv), "AWS_ACCESS_KEY_ID="+c.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+c.SecretAccessKey,
			"AWS_SESSION_TOKEN="+c.SessionToken), errOut, nil
	}
	mustAssume := func(role, token string) []string {
		t.Helper()
		env, errOut, err := assume(role, token)
		if err != nil {
			t.Fatalf("aws sts assume-role-with-web-identity as %s: %v\n%s", role, err, errOut)
		}
		return env
	}
	refused := func(what, role, token, code string) {
		t.Helper()
		if _, errOut, err := assume(role, token); err == nil || !strings.Contains(errOut, "("+code+")") {
			t.Fatalf("%s: %v\n%s\nwant the aws cli to fail with %s", what, err, errOut, code)
		}
	}
	s3 := func(env []string, args ...string) (string, string, error) {
		t.Helper()
		return stsRun(t, env, append([]string{aws, "--endpoint-url", srv.Endpoint, "s3"}, args...)...)
	}
	mustS3 := func(env []string, args ...string) string {
		t.Helper()
		out, errOut, err := s3(env, args...)
		if err != nil {
			t.Fatalf("aws s3 %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	deniedS3 := func(env []string, args ...string) {
		t.Helper()
		if out, errOut, err := s3(env, args...); err == nil || !strings.Contains(errOut, "AccessDenied") {
			t.Fatalf("aws s3 %s: %v\n%s%s\nwant AccessDenied", strings.Join(args, " "), err, out, errOut)
		}
	}
	file := filepath.Join(t.TempDir(), "report.txt")
	if err := os.WriteFile(file, []byte("rapport annuel\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	admin := mustAssume("admin", stsIDToken(t, agents, louise))
	mustS3(admin, "mb", "s3://agency-files")

	writerToken := stsIDToken(t, agents, louise)
	writer := mustAssume("writer", writerToken)
	mustS3(writer, "cp", file, "s3://agency-files/report.txt")
	if out := mustS3(writer, "ls", "s3://agency-files"); !strings.Contains(out, "report.txt") {
		t.Fatalf("aws s3 ls as writer:\n%s\nwant report.txt", out)
	}
	deniedS3(writer, "mb", "s3://agency-more") // buckets are the admin's
	refused("the writer's id_token a second time", "writer", writerToken, "InvalidIdentityToken")

	reader := mustAssume("reader", stsIDToken(t, agents, louise))
	if out := mustS3(reader, "ls", "s3://agency-files"); !strings.Contains(out, "report.txt") {
		t.Fatalf("aws s3 ls as reader:\n%s\nwant report.txt", out)
	}
	deniedS3(reader, "cp", file, "s3://agency-files/other.txt")
	var noToken []string
	for _, kv := range reader {
		if !strings.HasPrefix(kv, "AWS_SESSION_TOKEN=") {
			noToken = append(noToken, kv)
		}
	}
	deniedS3(noToken, "ls", "s3://agency-files")

	refused("an id_token signed by another key", "reader", foreignIDToken(t, srv.Issuer, "agents-sts"), "InvalidIdentityToken")
	refused("an id_token of a client without --sts", "reader", stsIDToken(t, loginOnly, louise), "InvalidIdentityToken")

	// Every exchange and refusal is an audit event, without the national
	// number.
	var events []string
	for line := range strings.SplitSeq(srv.Output(), "\n") {
		if strings.Contains(line, `"event":"sts.assume_role"`) {
			events = append(events, line)
			if strings.Contains(line, louise.NationalNumber) {
				t.Errorf("an STS event carries the national number: %s", line)
			}
		}
	}
	if ok, bad := countWith(events, `"result":"ok"`), countWith(events, `"result":"InvalidIdentityToken"`); ok != 3 || bad != 3 {
		t.Errorf("STS events: %d ok and %d InvalidIdentityToken, want 3 and 3:\n%s", ok, bad, strings.Join(events, "\n"))
	}
}

func countWith(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}
