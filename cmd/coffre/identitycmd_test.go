package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// testCard makes a self-signed card certificate (the CLI only registers
// it; chains are checked at login).
func testCard(t *testing.T, serial string) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "card", SerialNumber: serial},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestIdentityCommands runs the operator's identity commands on a site
// with no server running (they then open the site themselves).
func TestIdentityCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	card := testCard(t, "PNOMC-2000000001")
	csvFile := filepath.Join(dir, "register.csv")
	csv := "national_number,given_name,family_name,birthdate,gender,birthplace,birthcountry,email,phone_number,card_certificates\n" +
		"2000000001,Anne,Testa,1980-01-02,female,Monaco,MC,anne@example.mc,," + base64.StdEncoding.EncodeToString(card) + "\n" +
		"2000000002,Marc,Testa,1982-03-04,male,Menton,FR,,,\n"
	if err := os.WriteFile(csvFile, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return runCoffre(t, append(args, "--data", data)...)
	}
	out, errs, code := run("identity", "import", "--csv", csvFile)
	if code != 0 || !strings.Contains(out, "2 residents added, 0 updated; 2 in the register") {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("national_number,given_name,family_name,birthdate,gender\n2000000003,Zoé,Bad,1990-13-01,female\n2000000004,Paul,Bad,1990-01-01,x\n"), 0o600)
	_, errs, code = run("identity", "import", "--csv", bad)
	if code == 0 || !strings.Contains(errs, "line 2") || !strings.Contains(errs, "line 3") || !strings.Contains(errs, "nothing imported") {
		t.Fatalf("import of a bad register: %d %q, want both bad lines named and nothing imported", code, errs)
	}
	out, _, _ = run("identity", "import", "--csv", csvFile)
	if !strings.Contains(out, "0 residents added, 2 updated; 2 in the register") {
		t.Fatalf("second import: %q", out)
	}

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k", Use: "sig", Algorithm: "ES256"}}})
	jwksFile := filepath.Join(dir, "jwks.json")
	os.WriteFile(jwksFile, jwks, 0o600)
	out, errs, code = run("identity", "client", "add", "--id", "mairie", "--name", "Mairie", "--redirect-uri", "https://mairie.example/cb", "--jwks", jwksFile)
	if code != 0 || !strings.Contains(out, "client mairie registered (strict FAPI 2.0 profile: true, sector mairie.example") {
		t.Fatalf("client add: %d %q %q", code, out, errs)
	}
	_, errs, code = run("identity", "client", "add", "--id", "evil", "--redirect-uri", "http://evil.example/cb", "--jwks", jwksFile)
	if code == 0 || !strings.Contains(errs, "plain http only on a loopback host") {
		t.Fatalf("client with an http redirect URI: %d %q", code, errs)
	}
	out, _, _ = run("identity", "client", "list")
	if !strings.Contains(out, "mairie") || strings.Contains(out, "evil") {
		t.Fatalf("client list: %q", out)
	}
	out, errs, code = run("identity", "client", "revoke", "--id", "mairie")
	if code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("client revoke: %d %q %q", code, out, errs)
	}

	certFile := filepath.Join(dir, "card.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: card}), 0o600)
	out, errs, code = run("identity", "card", "revoke", "--cert", certFile)
	if code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("card revoke: %d %q %q", code, out, errs)
	}
	_, errs, code = run("identity", "agent", "set", "--nn", "9999999999", "--tenant", "t", "--role", "reader")
	if code == 0 || !strings.Contains(errs, "not found") {
		t.Fatalf("agent for an unknown resident: %d %q", code, errs)
	}
	_, errs, code = run("identity", "agent", "set", "--nn", "2000000001", "--tenant", "ministere", "--role", "writter")
	if code == 0 || !strings.Contains(errs, `unknown role "writter"`) {
		t.Fatalf("agent with a misspelt role: %d %q", code, errs)
	}
	out, errs, code = run("identity", "agent", "set", "--nn", "2000000001", "--tenant", "ministere", "--role", "reader")
	if code != 0 || !strings.Contains(out, "acts for tenant ministere") || strings.Contains(out, "2000000001") {
		t.Fatalf("agent set: %d %q %q (the output must not show the national number)", code, out, errs)
	}
	out, errs, code = run("identity", "resident", "totp", "--nn", "2000000002")
	if code != 0 || !strings.Contains(out, "otpauth://totp/") {
		t.Fatalf("resident totp: %d %q %q", code, out, errs)
	}
	out, errs, code = run("identity", "resident", "activation-code", "--nn", "2000000002")
	if code != 0 || !strings.Contains(out, "activation code") {
		t.Fatalf("resident activation-code: %d %q %q", code, out, errs)
	}
	out, errs, code = run("identity", "keys", "rotate")
	if code != 0 || !strings.Contains(out, "is now current") {
		t.Fatalf("keys rotate: %d %q %q", code, out, errs)
	}
	out, _, code = runCoffre(t, "identity", "totp-code", "--secret", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	if code != 0 || len(strings.TrimSpace(out)) != 6 {
		t.Fatalf("totp-code: %d %q", code, out)
	}
}
