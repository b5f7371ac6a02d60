// Package identity_test drives the identity provider of a real `coffre
// serve` process from the outside: the demo service of the README tour in
// Go here; the independent relying party (openid-client) and the browser
// tests (Chromium) beside it.
package identity_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coffre-cloud/coffre/identity/demo"
	"github.com/coffre-cloud/coffre/internal/testenv"
)

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browser is an HTTP client with cookies that follows redirects, as a
// browser without JavaScript does.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = c.PostForm(u, form)
	} else {
		resp, err = c.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func csrf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in:\n%s", page)
	}
	return m[1]
}

// TestDemoTour follows the README tour against `coffre serve` on its
// embedded defaults: the demo service logs a demo resident in at eidas1,
// then at eidas2 with TOTP, and shows the claims it received.
func TestDemoTour(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real coffre serve (runs without -short)")
	}
	srv := testenv.StartCoffre(t, testenv.Opts{})
	louise := demo.Residents[0]
	b := browser()

	resp, page := fetch(t, b, http.MethodGet, srv.Issuer+"/demo/login?acr=eidas1", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Numéro national") {
		t.Fatalf("demo login: %d, want the provider's login page in French\n%s", resp.StatusCode, page)
	}
	login := resp.Request.URL.String()
	resp, page = fetch(t, b, http.MethodPost, login+"/password", url.Values{"csrf": {csrf(t, page)}, "username": {louise.NationalNumber}, "password": {louise.Password}})
	if !strings.Contains(page, "Partage de vos données") || !strings.Contains(page, "Gastaud") {
		t.Fatalf("after the password: %d, want the consent page with the resident's data\n%s", resp.StatusCode, page)
	}
	resp, page = fetch(t, b, http.MethodPost, login+"/consent", url.Values{"csrf": {csrf(t, page)}, "decision": {"allow"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<span id="acr">eidas1</span>`) || !strings.Contains(page, "Louise Marie") {
		t.Fatalf("demo callback: %d, want the service's page at eidas1 with the userinfo claims\n%s", resp.StatusCode, page)
	}
}
