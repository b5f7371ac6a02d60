package checksum

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The seed corpus lives in testdata/fuzz/FuzzChecksumFromRequest;
// regenerate it with COFFRE_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds.

func FuzzChecksumFromRequest(f *testing.F) {
	f.Add("CRC32", "", "x-amz-checksum-crc32", "", "", "", "")
	f.Fuzz(func(t *testing.T, sdkAlg, alg, trailer, headerName, headerValue, md5, typ string) {
		h := http.Header{}
		set := func(k, v string) {
			if v != "" {
				h[http.CanonicalHeaderKey(k)] = []string{v}
			}
		}
		set("X-Amz-Sdk-Checksum-Algorithm", sdkAlg)
		set("X-Amz-Checksum-Algorithm", alg)
		set("X-Amz-Trailer", trailer)
		if headerName != "" {
			set("X-Amz-Checksum-"+headerName, headerValue)
		}
		set("Content-Md5", md5)
		set("X-Amz-Checksum-Type", typ)

		s, err := FromRequest(h)
		if err != nil {
			if strings.HasPrefix(kindOf(err), "other") {
				t.Fatalf("error %v wraps no single sentinel", err)
			}
			return
		}
		switch {
		case s.Algorithm != "" && !s.Algorithm.valid():
			t.Fatalf("invalid algorithm %q accepted", s.Algorithm)
		case s.InTrailer && s.Expected != "":
			t.Fatalf("both a trailer and a header value: %+v", s)
		case s.Expected != "" && !validDigest(s.Expected, s.Algorithm.Size()):
			t.Fatalf("Expected %q is not a %s digest", s.Expected, s.Algorithm)
		case s.ContentMD5 != "" && !validDigest(s.ContentMD5, 16):
			t.Fatalf("ContentMD5 %q accepted", s.ContentMD5)
		case s.Type != "" && checkType(s.Algorithm, s.Type) != nil:
			t.Fatalf("type %s accepted with %s", s.Type, s.Algorithm)
		}
		if s.Expected != "" {
			if _, err := base64.StdEncoding.DecodeString(s.Expected); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("COFFRE_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set COFFRE_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzChecksumFromRequest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	crc := digest(CRC32, []byte("hello"))
	seeds := map[string][7]string{
		"sdk-header":      {"CRC32", "", "", "crc32", crc, "", ""},
		"sdk-trailer":     {"CRC32C", "", "x-amz-checksum-crc32c", "", "", "", ""},
		"create-mpu":      {"", "CRC64NVME", "", "", "", "", "FULL_OBJECT"},
		"content-md5":     {"", "", "", "", "", "XUFAKrxLKna5cZ2REBfFkg==", ""},
		"header-trailer":  {"", "", "x-amz-checksum-sha256", "sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "", ""},
		"bad-value":       {"SHA1", "", "", "sha1", "AAAA", "", ""},
		"two-trailers":    {"", "", "x-amz-checksum-crc32, x-amz-checksum-crc32c", "", "", "", ""},
		"composite-nvme":  {"", "crc64nvme", "", "", "", "", "composite"},
		"unknown-trailer": {"", "", "x-amz-checksum-md5", "", "", "", ""},
	}
	for name, v := range seeds {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, s := range v {
			fmt.Fprintf(&b, "string(%q)\n", s)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFuzzSeedsPresent(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzChecksumFromRequest"))
	if err != nil || len(entries) == 0 {
		t.Fatalf("testdata/fuzz/FuzzChecksumFromRequest: no seeds (%v)", err)
	}
}
