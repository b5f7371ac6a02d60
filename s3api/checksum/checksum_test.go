package checksum

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"testing/iotest"
)

// sentinels names the sentinel errors for table tests.
var sentinels = map[string]error{
	"InvalidChecksumAlgorithm": ErrInvalidChecksumAlgorithm,
	"InvalidDigest":            ErrInvalidDigest,
	"InvalidRequest":           ErrInvalidRequest,
	"BadDigest":                ErrBadDigest,
	"ChecksumMismatch":         ErrChecksumMismatch,
}

func kindOf(err error) string {
	if err == nil {
		return "ok"
	}
	var names []string
	for name, s := range sentinels {
		if errors.Is(err, s) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) == 1 {
		return names[0]
	}
	return fmt.Sprintf("other%v(%v)", names, err)
}

type segment struct {
	Text   string `json:"text"`
	Repeat string `json:"repeat"`
	Count  int    `json:"count"`
}

func join(segs []segment) []byte {
	var b bytes.Buffer
	for _, s := range segs {
		b.WriteString(s.Text)
		b.WriteString(strings.Repeat(s.Repeat, s.Count))
	}
	return b.Bytes()
}

func digest(a Algorithm, data []byte) string {
	h := a.New()
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func TestVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []struct {
			Name      string    `json:"name"`
			Input     []segment `json:"input"`
			Algorithm Algorithm `json:"algorithm"`
			Checksum  string    `json:"checksum"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) == 0 {
		t.Fatal("testdata/vectors.json holds no vectors")
	}
	for _, v := range file.Vectors {
		t.Run("vector="+v.Name, func(t *testing.T) {
			if got := digest(v.Algorithm, join(v.Input)); got != v.Checksum {
				t.Fatalf("%s = %s, want %s", v.Algorithm, got, v.Checksum)
			}
			// Through the Reader, with the value as a header.
			r := NewReader(iotest.HalfReader(bytes.NewReader(join(v.Input))), Spec{Algorithm: v.Algorithm, Expected: v.Checksum}, nil)
			if _, err := io.ReadAll(r); err != nil {
				t.Fatalf("Reader: %v", err)
			}
			if alg, sum := r.Sum(); alg != v.Algorithm || sum != v.Checksum {
				t.Fatalf("Sum() = %s %s, want %s %s", alg, sum, v.Algorithm, v.Checksum)
			}
		})
	}
}

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in   string
		want Algorithm
		err  string
	}{
		{"CRC32", CRC32, "ok"}, {"crc32", CRC32, "ok"}, {"Crc32C", CRC32C, "ok"},
		{"crc64nvme", CRC64NVME, "ok"}, {"sha1", SHA1, "ok"}, {"SHA256", SHA256, "ok"},
		{"", "", "InvalidChecksumAlgorithm"}, {"MD5", "", "InvalidChecksumAlgorithm"},
		{"CRC64", "", "InvalidChecksumAlgorithm"}, {"sha-256", "", "InvalidChecksumAlgorithm"},
	}
	for _, tc := range tests {
		got, err := ParseAlgorithm(tc.in)
		if got != tc.want || kindOf(err) != tc.err {
			t.Errorf("ParseAlgorithm(%q) = %q, %s; want %q, %s", tc.in, got, kindOf(err), tc.want, tc.err)
		}
	}
	for _, a := range Algorithms() {
		if got := len(a.New().Sum(nil)); got != a.Size() {
			t.Errorf("%s: digest of %d bytes, Size() says %d", a, got, a.Size())
		}
	}
	if got := CRC64NVME.HeaderName(); got != "x-amz-checksum-crc64nvme" {
		t.Errorf("HeaderName = %q", got)
	}
}

func TestFromRequest(t *testing.T) {
	crc := digest(CRC32, []byte("hello"))
	sha := digest(SHA256, []byte("hello"))
	md5sum := md5.Sum([]byte("hello"))
	contentMD5 := base64.StdEncoding.EncodeToString(md5sum[:])
	tests := []struct {
		name    string
		headers [][2]string
		want    Spec
		err     string
	}{
		{name: "none", want: Spec{}, err: "ok"},
		{name: "header-crc32", headers: [][2]string{{"X-Amz-Checksum-Crc32", crc}}, want: Spec{Algorithm: CRC32, Expected: crc}, err: "ok"},
		{name: "sdk-header", headers: [][2]string{{"X-Amz-Sdk-Checksum-Algorithm", "CRC32"}, {"X-Amz-Checksum-Crc32", crc}}, want: Spec{Algorithm: CRC32, Expected: crc}, err: "ok"},
		{name: "sdk-disagrees-value-wins", headers: [][2]string{{"X-Amz-Sdk-Checksum-Algorithm", "SHA1"}, {"X-Amz-Checksum-Sha256", sha}}, want: Spec{Algorithm: SHA256, Expected: sha}, err: "ok"},
		{name: "trailer", headers: [][2]string{{"X-Amz-Sdk-Checksum-Algorithm", "CRC32C"}, {"X-Amz-Trailer", "x-amz-checksum-crc32c"}}, want: Spec{Algorithm: CRC32C, InTrailer: true}, err: "ok"},
		{name: "trailer-case", headers: [][2]string{{"X-Amz-Trailer", " X-Amz-Checksum-CRC64NVME "}}, want: Spec{Algorithm: CRC64NVME, InTrailer: true}, err: "ok"},
		{name: "algorithm-only", headers: [][2]string{{"X-Amz-Checksum-Algorithm", "sha256"}}, want: Spec{Algorithm: SHA256}, err: "ok"},
		{name: "algorithm-and-type", headers: [][2]string{{"X-Amz-Checksum-Algorithm", "CRC32C"}, {"X-Amz-Checksum-Type", "FULL_OBJECT"}}, want: Spec{Algorithm: CRC32C, Type: TypeFullObject}, err: "ok"},
		{name: "content-md5", headers: [][2]string{{"Content-Md5", contentMD5}}, want: Spec{ContentMD5: contentMD5}, err: "ok"},
		{name: "md5-and-checksum", headers: [][2]string{{"Content-Md5", contentMD5}, {"X-Amz-Checksum-Crc32", crc}}, want: Spec{Algorithm: CRC32, Expected: crc, ContentMD5: contentMD5}, err: "ok"},
		{name: "checksum-mode-ignored", headers: [][2]string{{"X-Amz-Checksum-Mode", "ENABLED"}}, want: Spec{}, err: "ok"},

		{name: "md5-not-base64", headers: [][2]string{{"Content-Md5", "not base64!"}}, err: "InvalidDigest"},
		{name: "md5-wrong-size", headers: [][2]string{{"Content-Md5", crc}}, err: "InvalidDigest"},
		{name: "md5-twice", headers: [][2]string{{"Content-Md5", contentMD5}, {"Content-Md5", contentMD5}}, err: "InvalidDigest"},
		{name: "md5-empty", headers: [][2]string{{"Content-Md5", ""}}, err: "InvalidDigest"},
		{name: "two-checksum-headers", headers: [][2]string{{"X-Amz-Checksum-Crc32", crc}, {"X-Amz-Checksum-Sha256", sha}}, err: "InvalidRequest"},
		{name: "checksum-header-twice", headers: [][2]string{{"X-Amz-Checksum-Crc32", crc}, {"X-Amz-Checksum-Crc32", crc}}, err: "InvalidRequest"},
		{name: "checksum-wrong-size", headers: [][2]string{{"X-Amz-Checksum-Sha256", crc}}, err: "InvalidRequest"},
		{name: "checksum-not-base64", headers: [][2]string{{"X-Amz-Checksum-Crc32", "!!!!!!=="}}, err: "InvalidRequest"},
		{name: "checksum-unpadded", headers: [][2]string{{"X-Amz-Checksum-Crc32", strings.TrimRight(crc, "=")}}, err: "InvalidRequest"},
		{name: "header-and-trailer", headers: [][2]string{{"X-Amz-Checksum-Crc32", crc}, {"X-Amz-Trailer", "x-amz-checksum-crc32"}}, err: "InvalidRequest"},
		{name: "two-trailers", headers: [][2]string{{"X-Amz-Trailer", "x-amz-checksum-crc32,x-amz-checksum-sha1"}}, err: "InvalidRequest"},
		{name: "trailer-unknown-checksum", headers: [][2]string{{"X-Amz-Trailer", "x-amz-checksum-sha10"}}, err: "InvalidRequest"},
		{name: "trailer-not-checksum", headers: [][2]string{{"X-Amz-Trailer", "x-amz-meta-foo"}}, err: "InvalidRequest"},
		{name: "sdk-algorithm-alone", headers: [][2]string{{"X-Amz-Sdk-Checksum-Algorithm", "CRC32"}}, err: "InvalidRequest"},
		{name: "sdk-algorithm-unknown", headers: [][2]string{{"X-Amz-Sdk-Checksum-Algorithm", "MD5"}, {"X-Amz-Checksum-Crc32", crc}}, err: "InvalidChecksumAlgorithm"},
		{name: "algorithms-disagree", headers: [][2]string{{"X-Amz-Sdk-Checksum-Algorithm", "CRC32"}, {"X-Amz-Checksum-Algorithm", "SHA1"}}, err: "InvalidRequest"},
		{name: "type-unknown", headers: [][2]string{{"X-Amz-Checksum-Algorithm", "CRC32"}, {"X-Amz-Checksum-Type", "PARTIAL"}}, err: "InvalidRequest"},
		{name: "type-without-algorithm", headers: [][2]string{{"X-Amz-Checksum-Type", "COMPOSITE"}}, err: "InvalidRequest"},
		{name: "full-object-sha", headers: [][2]string{{"X-Amz-Checksum-Algorithm", "SHA256"}, {"X-Amz-Checksum-Type", "FULL_OBJECT"}}, err: "InvalidRequest"},
		{name: "composite-crc64nvme", headers: [][2]string{{"X-Amz-Checksum-Algorithm", "CRC64NVME"}, {"X-Amz-Checksum-Type", "COMPOSITE"}}, err: "InvalidRequest"},
	}
	for _, tc := range tests {
		t.Run("case="+tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, kv := range tc.headers {
				h.Add(kv[0], kv[1])
			}
			got, err := FromRequest(h)
			if k := kindOf(err); k != tc.err {
				t.Fatalf("FromRequest: %s (%v), want %s", k, err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Fatalf("Spec = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReader(t *testing.T) {
	body := []byte("The quick brown fox jumps over the lazy dog")
	md5sum := md5.Sum(body)
	goodMD5 := base64.StdEncoding.EncodeToString(md5sum[:])
	badMD5 := base64.StdEncoding.EncodeToString(make([]byte, 16))
	trailer := func(name, value string) func() http.Header {
		return func() http.Header { return http.Header{http.CanonicalHeaderKey(name): {value}} }
	}
	tests := []struct {
		name    string
		spec    Spec
		trailer func() http.Header
		err     string
	}{
		{name: "nothing", spec: Spec{}, err: "ok"},
		{name: "md5", spec: Spec{ContentMD5: goodMD5}, err: "ok"},
		{name: "md5-mismatch", spec: Spec{ContentMD5: badMD5}, err: "BadDigest"},
		{name: "md5-malformed", spec: Spec{ContentMD5: "xx"}, err: "InvalidDigest"},
		{name: "computed-only", spec: Spec{Algorithm: CRC64NVME}, err: "ok"},
		{name: "trailer", spec: Spec{Algorithm: CRC32, InTrailer: true}, trailer: trailer("x-amz-checksum-crc32", digest(CRC32, body)), err: "ok"},
		{name: "trailer-mismatch", spec: Spec{Algorithm: CRC32, InTrailer: true}, trailer: trailer("x-amz-checksum-crc32", digest(CRC32, body[1:])), err: "ChecksumMismatch"},
		{name: "trailer-missing", spec: Spec{Algorithm: CRC32, InTrailer: true}, trailer: trailer("x-amz-checksum-crc32c", digest(CRC32C, body)), err: "InvalidRequest"},
		{name: "trailer-nil-func", spec: Spec{Algorithm: CRC32, InTrailer: true}, err: "InvalidRequest"},
		{name: "trailer-nil-header", spec: Spec{Algorithm: CRC32, InTrailer: true}, trailer: func() http.Header { return nil }, err: "InvalidRequest"},
		{name: "trailer-malformed", spec: Spec{Algorithm: SHA1, InTrailer: true}, trailer: trailer("x-amz-checksum-sha1", "AAAA"), err: "InvalidRequest"},
		{name: "md5-checked-first", spec: Spec{Algorithm: CRC32, Expected: "AAAAAA==", ContentMD5: badMD5}, err: "BadDigest"},
		{name: "md5-ok-checksum-bad", spec: Spec{Algorithm: CRC32, Expected: "AAAAAA==", ContentMD5: goodMD5}, err: "ChecksumMismatch"},
	}
	for _, a := range Algorithms() {
		tests = append(tests,
			struct {
				name    string
				spec    Spec
				trailer func() http.Header
				err     string
			}{name: "header-" + string(a), spec: Spec{Algorithm: a, Expected: digest(a, body)}, err: "ok"},
			struct {
				name    string
				spec    Spec
				trailer func() http.Header
				err     string
			}{name: "header-mismatch-" + string(a), spec: Spec{Algorithm: a, Expected: digest(a, []byte("other"))}, err: "ChecksumMismatch"})
	}
	for _, tc := range tests {
		for _, src := range []string{"whole", "onebyte", "dataerr"} {
			t.Run("case="+tc.name+"/src="+src, func(t *testing.T) {
				var in io.Reader = bytes.NewReader(body)
				switch src {
				case "onebyte":
					in = iotest.OneByteReader(in)
				case "dataerr":
					in = iotest.DataErrReader(in)
				}
				called := false
				tr := tc.trailer
				if tr != nil {
					tr = func() http.Header { called = true; return tc.trailer() }
				}
				r := NewReader(in, tc.spec, tr)
				got, err := io.ReadAll(r)
				if k := kindOf(err); k != tc.err {
					t.Fatalf("reading: %s (%v), want %s", k, err, tc.err)
				}
				if !bytes.Equal(got, body) {
					t.Fatalf("read %q, want the whole body", got)
				}
				if _, err2 := r.Read(make([]byte, 8)); kindOf(err2) != tc.err && !(tc.err == "ok" && err2 == io.EOF) {
					t.Fatalf("read after the end: %v, want the same outcome", err2)
				}
				if tc.spec.InTrailer && tc.trailer != nil && !called {
					t.Fatal("trailer function not called")
				}
				alg, sum := r.Sum()
				if alg != tc.spec.Algorithm {
					t.Fatalf("Sum() algorithm %q, want %q", alg, tc.spec.Algorithm)
				}
				if alg != "" && sum != digest(alg, body) {
					t.Fatalf("Sum() = %s, want %s", sum, digest(alg, body))
				}
			})
		}
	}
}

// TestReaderTrailerNotCalledEarly: the trailer only exists after the body.
func TestReaderTrailerNotCalledEarly(t *testing.T) {
	calls := 0
	r := NewReader(strings.NewReader("abc"), Spec{Algorithm: CRC32, InTrailer: true}, func() http.Header {
		calls++
		return http.Header{"X-Amz-Checksum-Crc32": {digest(CRC32, []byte("abc"))}}
	})
	buf := make([]byte, 3)
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	if alg, sum := r.Sum(); alg != CRC32 || sum != "" {
		t.Fatalf("Sum() before the end = %s %q, want CRC32 \"\"", alg, sum)
	}
	if calls != 0 {
		t.Fatalf("trailer called %d times before the end", calls)
	}
	if _, err := r.Read(buf); err != io.EOF || calls != 1 {
		t.Fatalf("at the end: %v with %d trailer calls, want io.EOF and 1", err, calls)
	}
}

func TestReaderAllocs(t *testing.T) {
	data := make([]byte, 1<<20)
	buf := make([]byte, 64<<10)
	for _, a := range Algorithms() {
		src := bytes.NewReader(data)
		r := NewReader(src, Spec{Algorithm: a, ContentMD5: "1B2M2Y8AsgTpgAmY7PhCfg=="}, nil)
		allocs := testing.AllocsPerRun(100, func() {
			if src.Len() == 0 {
				src.Reset(data)
			}
			if _, err := r.Read(buf); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Read, want 0", a, allocs)
		}
	}
}

func TestFullObject(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	splits := [][]int{
		{len(data)},
		{0, len(data)},
		{1, len(data) - 1},
		{100_000, 100_000, 100_000},
		{5, 0, 7, 0, 299_988},
		{8192, 65536, 1, 226_271},
	}
	for i := 0; i < 20; i++ { // random splits
		var parts []int
		left := len(data)
		for left > 0 {
			n := rng.IntN(left + 1)
			if rng.IntN(4) == 0 {
				n = 0
			}
			parts = append(parts, n)
			left -= n
		}
		splits = append(splits, parts)
	}
	for _, a := range []Algorithm{CRC32, CRC32C, CRC64NVME} {
		for i, split := range splits {
			t.Run(fmt.Sprintf("alg=%s/split=%d", a, i), func(t *testing.T) {
				total := 0
				for _, n := range split {
					total += n
				}
				if total != len(data) {
					t.Fatalf("split %v covers %d bytes, not %d", split, total, len(data))
				}
				var sums []string
				var sizes []int64
				off := 0
				for _, n := range split {
					sums = append(sums, digest(a, data[off:off+n]))
					sizes = append(sizes, int64(n))
					off += n
				}
				got, err := FullObject(a, sums, sizes)
				if err != nil {
					t.Fatal(err)
				}
				if want := digest(a, data); got != want {
					t.Fatalf("FullObject = %s, want %s (parts %v)", got, want, split)
				}
			})
		}
	}
}

// TestCombineLarge combines across lengths too large to hash in a test,
// checked against the algebra: appending n zero bytes to A then B equals
// appending A‖zeros(n) with B.
func TestCombineLarge(t *testing.T) {
	for _, a := range []Algorithm{CRC32, CRC32C, CRC64NVME} {
		p := crcParamsOf(a)
		zeros := make([]byte, 1<<20)
		var crcZeros uint64
		for _, n := range []int{1, 1000, 1 << 20} {
			h := a.New()
			h.Write(zeros[:n])
			crcZeros = sumUint(h.Sum(nil))
			crcA := sumUint(mustSum(a, []byte("A")))
			direct := sumUint(mustSum(a, append([]byte("A"), zeros[:n]...)))
			if got := p.combine(crcA, crcZeros, int64(n)); got != direct {
				t.Fatalf("%s: combine over %d zero bytes = %x, want %x", a, n, got, direct)
			}
		}
		// x^(8n) for n = 2^40 computed two ways.
		n := uint64(1) << 40
		if p.x2nModP(n, 3) != p.multModP(p.x2nModP(n/2, 3), p.x2nModP(n/2, 3)) {
			t.Fatalf("%s: x^(8·2^40) is not the square of x^(8·2^39)", a)
		}
		if p.x2nModP(1<<62, 3) == 0 {
			t.Fatalf("%s: x^(8·2^62) mod P = 0", a)
		}
	}
}

func mustSum(a Algorithm, b []byte) []byte {
	h := a.New()
	h.Write(b)
	return h.Sum(nil)
}

func sumUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

func TestComposite(t *testing.T) {
	parts := [][]byte{[]byte("part one"), []byte("part two"), {}}
	for _, a := range []Algorithm{CRC32, CRC32C, SHA1, SHA256} {
		var sums []string
		var raw []byte
		for _, p := range parts {
			sums = append(sums, digest(a, p))
			raw = append(raw, mustSum(a, p)...)
		}
		got, err := Composite(a, sums)
		if err != nil {
			t.Fatal(err)
		}
		if want := digest(a, raw) + "-3"; got != want {
			t.Errorf("Composite(%s) = %s, want %s", a, got, want)
		}
	}
	errs := []struct {
		name string
		alg  Algorithm
		sums []string
		want string
	}{
		{"crc64nvme", CRC64NVME, []string{"AAAAAAAAAAA="}, "InvalidRequest"},
		{"no-parts", CRC32, nil, "InvalidRequest"},
		{"bad-part", SHA256, []string{"AAAAAA=="}, "InvalidRequest"},
		{"unknown-alg", "MD5", []string{"AAAAAA=="}, "InvalidChecksumAlgorithm"},
	}
	for _, tc := range errs {
		if _, err := Composite(tc.alg, tc.sums); kindOf(err) != tc.want {
			t.Errorf("Composite case %s: %v, want %s", tc.name, err, tc.want)
		}
	}
	fullErrs := []struct {
		name  string
		alg   Algorithm
		sums  []string
		sizes []int64
		want  string
	}{
		{"sha", SHA256, []string{digest(SHA256, nil)}, []int64{0}, "InvalidRequest"},
		{"length-mismatch", CRC32, []string{"AAAAAA=="}, []int64{1, 2}, "InvalidRequest"},
		{"no-parts", CRC32, nil, nil, "InvalidRequest"},
		{"negative-size", CRC32, []string{"AAAAAA==", "AAAAAA=="}, []int64{1, -1}, "InvalidRequest"},
		{"bad-part", CRC64NVME, []string{"AAAAAA=="}, []int64{1}, "InvalidRequest"},
	}
	for _, tc := range fullErrs {
		if _, err := FullObject(tc.alg, tc.sums, tc.sizes); kindOf(err) != tc.want {
			t.Errorf("FullObject case %s: %v, want %s", tc.name, err, tc.want)
		}
	}
}

func digestMD5(b []byte) string {
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}
