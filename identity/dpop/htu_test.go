package dpop

import "testing"

func TestNormalizeHTU(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://server.example.com/token", "https://server.example.com/token"},
		// Syntax-based normalization, RFC 3986 §6.2.2.
		{"HTTPS://Server.EXAMPLE.com/token", "https://server.example.com/token"},
		{"https://server.example.com/%7Etoken", "https://server.example.com/~token"},
		{"https://server.example.com/%7etoken", "https://server.example.com/~token"},
		{"https://server.example.com/a%2fb", "https://server.example.com/a%2Fb"},
		{"https://server.example.com/a%2Fb", "https://server.example.com/a%2Fb"},
		{"https://server.example.com/%41%2d%5F", "https://server.example.com/A-_"},
		{"https://server.example.com/a/./b/../c", "https://server.example.com/a/c"},
		{"https://server.example.com/a/%2E%2E/c", "https://server.example.com/c"},
		{"https://server.example.com/../../token", "https://server.example.com/token"},
		{"https://server.example.com/a/..", "https://server.example.com/"},
		{"https://server.example.com/a/.", "https://server.example.com/a/"},
		{"https://server.example.com/a//b", "https://server.example.com/a//b"},
		{"https://server.example.com/a b", "https://server.example.com/a%20b"},
		{"https://[2001:DB8::1]/token", "https://[2001:db8::1]/token"},
		// Scheme-based normalization, RFC 3986 §6.2.3.
		{"https://server.example.com:443/token", "https://server.example.com/token"},
		{"https://server.example.com:0443/token", "https://server.example.com/token"},
		{"https://server.example.com:/token", "https://server.example.com/token"},
		{"http://server.example.com:80/token", "http://server.example.com/token"},
		{"https://server.example.com:80/token", "https://server.example.com:80/token"},
		{"http://server.example.com:443/token", "http://server.example.com:443/token"},
		{"https://server.example.com:8443/token", "https://server.example.com:8443/token"},
		{"https://server.example.com", "https://server.example.com/"},
		{"https://[2001:db8::1]:443", "https://[2001:db8::1]/"},
		// Query and fragment are not compared (RFC 9449 §4.2).
		{"https://server.example.com/token?a=b", "https://server.example.com/token"},
		{"https://server.example.com/token#f", "https://server.example.com/token"},
		{"https://server.example.com?a=b", "https://server.example.com/"},
	} {
		got, err := normalizeHTU(c.in)
		if err != nil {
			t.Errorf("normalizeHTU(%q) = %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("normalizeHTU(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNormalizeHTURefuses(t *testing.T) {
	for _, in := range []string{
		"",
		"/token",
		"server.example.com/token",
		"ftp://server.example.com/token",
		"urn:ietf:params:oauth:token",
		"https:server.example.com/token",
		"https:///token",
		"https://user@server.example.com/token",
		"https://server.example.com:99999/token",
		"https://server.example.com:-1/token",
		"https://server.example.com/%zz",
		"https://server.example.com/%4",
		"https://[fe80::1%25eth0]/token",
		"https://server.example.com/\x00",
	} {
		if got, err := normalizeHTU(in); err == nil {
			t.Errorf("normalizeHTU(%q) = %q, want an error", in, got)
		}
	}
}

// TestRemoveDotSegments checks the examples of RFC 3986 §5.2.4.
func TestRemoveDotSegments(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/a/b/c/./../../g", "/a/g"},
		{"mid/content=5/../6", "mid/6"},
		{"/./", "/"},
		{"/..", "/"},
		{"/a/b/..", "/a/"},
		{"", ""},
		{"/", "/"},
	} {
		if got := removeDotSegments(c.in); got != c.want {
			t.Errorf("removeDotSegments(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
