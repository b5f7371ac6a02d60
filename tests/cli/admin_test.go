package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/internal/testenv"
)

// TestTenantsKeysAndShredding drives the admin commands beside a running
// server, as an operator does: a new tenant and its access key work at once
// with the aws cli and are isolated from root; key rotation and rewrapping
// keep data readable; shredding makes it unreadable for good.
func TestTenantsKeysAndShredding(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a real server and the aws cli (runs without -short)")
	}
	aws := testenv.AWSCLI(t)
	coffre := testenv.BuildCoffre(t)
	srv := testenv.StartCoffre(t, testenv.Opts{})
	admin := shell{t: t, env: os.Environ()}
	adm := func(args ...string) string {
		t.Helper()
		return admin.run(append([]string{coffre}, append(args, "--data", srv.DataDir)...)...)
	}

	mustContainLine(t, "tenant create", adm("tenant", "create", "ministry-health"), "tenant ministry-health created")
	out := adm("key", "create", "--tenant", "ministry-health")
	id := regexp.MustCompile(`AWS_ACCESS_KEY_ID=(\S+)`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`AWS_SECRET_ACCESS_KEY=(\S+)`).FindStringSubmatch(out)
	if id == nil || secret == nil {
		t.Fatalf("key create printed no credentials:\n%s", out)
	}
	if list := adm("key", "list", "--tenant", "ministry-health"); !strings.Contains(list, id[1]) || strings.Contains(list, secret[1]) {
		t.Fatalf("key list shows the id %v and hides the secret? got:\n%s", strings.Contains(list, id[1]), list)
	}

	var env []string
	for _, kv := range testenv.AWSEnv(srv) {
		switch {
		case strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID="):
			kv = "AWS_ACCESS_KEY_ID=" + id[1]
		case strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY="):
			kv = "AWS_SECRET_ACCESS_KEY=" + secret[1]
		}
		env = append(env, kv)
	}
	health := shell{t: t, env: env}
	root := shell{t: t, env: testenv.AWSEnv(srv)}
	s3 := func(sh shell, args ...string) result {
		t.Helper()
		return sh.try(append([]string{aws, "--endpoint-url", srv.Endpoint, "s3"}, args...)...)
	}
	file := filepath.Join(t.TempDir(), "record.txt")
	writeFile(t, file, "patient record 42\n")
	if r := s3(health, "mb", "s3://health-records"); r.err != nil {
		t.Fatalf("tenant mb:\n%s", r)
	}
	if r := s3(health, "cp", file, "s3://health-records/r42"); r.err != nil {
		t.Fatalf("tenant cp:\n%s", r)
	}
	r := s3(root, "ls", "s3://health-records")
	if r.err == nil || !strings.Contains(r.stderr, "AccessDenied") {
		t.Fatalf("root listing the tenant's bucket: want AccessDenied, got:\n%s", r)
	}
	if r := s3(root, "ls"); strings.Contains(r.stdout, "health-records") {
		t.Fatalf("root sees the tenant's bucket in its listing:\n%s", r)
	}

	// Rotation and rewrapping, through the serving process.
	mustContainLine(t, "keys rotate", adm("keys", "rotate", "--tenant", "ministry-health"), "tenant ministry-health: key version 2 is now current; older objects keep their key version until `coffre keys rewrap --tenant ministry-health`")
	if r := s3(health, "cp", file, "s3://health-records/r43"); r.err != nil {
		t.Fatalf("cp after rotation:\n%s", r)
	}
	if out := adm("keys", "rewrap", "--tenant", "ministry-health"); !strings.Contains(out, "key versions destroyed: [1]") {
		t.Fatalf("keys rewrap: %s", out)
	}
	for _, key := range []string{"r42", "r43"} {
		if r := s3(health, "cp", "s3://health-records/"+key, "-"); r.err != nil || r.stdout != "patient record 42\n" {
			t.Fatalf("read %s after rewrap:\n%s", key, r)
		}
	}

	// Shredding needs the name twice, then nothing of the tenant reads.
	if r := admin.try(coffre, "tenant", "shred", "ministry-health", "--data", srv.DataDir); r.err == nil {
		t.Fatalf("shred without --confirm succeeded:\n%s", r)
	}
	adm("tenant", "shred", "ministry-health", "--confirm", "ministry-health")
	// s3api get-object, not s3 cp: cp starts with a HEAD, whose error has no body.
	r = health.try(aws, "--endpoint-url", srv.Endpoint, "s3api", "get-object", "--bucket", "health-records", "--key", "r42", filepath.Join(t.TempDir(), "out"))
	if r.err == nil || !strings.Contains(r.stderr, "KMS.KMSInvalidStateException") {
		t.Fatalf("read after shredding: want KMS.KMSInvalidStateException, got:\n%s", r)
	}
}

// TestDecryptExitDoor decrypts objects offline from copies of their raw
// blobs, with the site's keys and metadata and no server: the State's exit
// door from any provider.
func TestDecryptExitDoor(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a real server and the aws cli (runs without -short)")
	}
	aws := testenv.AWSCLI(t)
	coffre := testenv.BuildCoffre(t)
	srv := testenv.StartCoffre(t, testenv.Opts{})
	sh := shell{t: t, env: testenv.AWSEnv(srv)}
	local := t.TempDir()
	small := filepath.Join(local, "small.txt")
	writeFile(t, small, "exit door\n")
	big := filepath.Join(local, "big.bin")
	sum := writeRandomFile(t, big, 20*mib, 7) // multipart through the aws cli
	sh.run(aws, "--endpoint-url", srv.Endpoint, "s3", "mb", "s3://archive")
	sh.run(aws, "--endpoint-url", srv.Endpoint, "s3", "cp", small, "s3://archive/small.txt")
	sh.run(aws, "--endpoint-url", srv.Endpoint, "s3", "cp", big, "s3://archive/big.bin")
	if err := srv.Stop(); err != nil {
		t.Fatalf("stopping the server: %v", err)
	}
	// The blobs, copied out of the offer as a provider would hand them back.
	copied := filepath.Join(local, "from-provider")
	sh.run("cp", "-r", filepath.Join(srv.DataDir, "sites", "monaco", "offers", "local"), copied)
	admin := shell{t: t, env: os.Environ()}
	out := filepath.Join(local, "small.out")
	admin.run(coffre, "decrypt", "--data", srv.DataDir, "--bucket", "archive", "--key", "small.txt", "--blobs", copied, "-o", out)
	if b, err := os.ReadFile(out); err != nil || string(b) != "exit door\n" {
		t.Fatalf("decrypted small.txt = %q, %v; want %q", b, err, "exit door\n")
	}
	out = filepath.Join(local, "big.out")
	admin.run(coffre, "decrypt", "--data", srv.DataDir, "--bucket", "archive", "--key", "big.bin", "--blobs", copied, "-o", out)
	mustHaveSum(t, out, sum)
}
