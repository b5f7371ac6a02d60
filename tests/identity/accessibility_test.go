package identity_test

import (
	"slices"
	"testing"

	"github.com/coffre-cloud/coffre/identity/demo"
)

// a11yResult is the result line of `node a11y.mjs` (js/a11y.mjs).
type a11yResult struct {
	Pages []struct {
		Page       string `json:"page"`
		Status     int    `json:"status"`
		Violations int    `json:"violations"`
	} `json:"pages"`
	Cookies map[string]struct {
		HTTPOnly bool   `json:"httpOnly"`
		SameSite string `json:"sameSite"`
	} `json:"cookies"`
}

// TestBrowserAccessibility checks the provider's French pages with axe-core
// in headless Chromium: no violation of WCAG 2.0 and 2.1 at levels A and AA
// on the login page (also with an error), the second-factor page, the
// consent page, the logout confirmation and its result, and the error
// page of a bad request (and that one in English, through the language
// link). a11y.mjs also checks each page's
// Content-Security-Policy (no 'unsafe-inline' scripts, frame-ancestors), that
// no page breaks it, and that every cookie is HttpOnly and SameSite.
func TestBrowserAccessibility(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real coffre serve and headless Chromium (runs without -short)")
	}
	needBrowser(t)
	srv := startProvider(t)
	rp := registerRP(t, srv)

	var res a11yResult
	rp.run(t, "a11y.mjs", rp.config("eidas2", demo.Residents[0]), &res)
	want := []string{"login", "login-error", "second-factor", "consent", "logout-confirm", "logout-done", "error", "error-en"}
	var got []string
	for _, p := range res.Pages {
		got = append(got, p.Page)
		if p.Violations != 0 {
			t.Errorf("page %s: %d axe violations, want 0", p.Page, p.Violations)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages checked = %v, want %v", got, want)
	}
	for _, name := range []string{"coffre_ia", "coffre_sid", "coffre_lang"} {
		c, ok := res.Cookies[name]
		if !ok || !c.HTTPOnly || (c.SameSite != "lax" && c.SameSite != "strict") {
			t.Errorf("cookie %s: seen %v, HttpOnly %v, SameSite %q; want HttpOnly and SameSite Lax or Strict", name, ok, c.HTTPOnly, c.SameSite)
		}
	}
}
