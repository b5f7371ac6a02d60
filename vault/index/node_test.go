package index

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// padded returns the bytes of h (hex, spaces ignored) padded with zeros to
// the next multiple of padTo.
func padded(h string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
	if err != nil {
		panic(err)
	}
	return append(b, make([]byte, roundUp(len(b), padTo)-len(b))...)
}

// The encodings of the format in doc.go, byte by byte.
var goldenNodes = []struct {
	name string
	n    *node
	enc  []byte
}{
	{
		name: "empty-leaf",
		n:    &node{keys: []string{}, vals: [][]byte{}},
		enc:  padded("01 00 00"),
	},
	{
		name: "leaf",
		n: &node{
			keys: []string{"a/b", "a/c", "b"},
			vals: [][]byte{{1}, {}, {2, 3}},
		},
		enc: padded("01 00 03" +
			"00 03 612f62 01 01" + // "a/b" -> 01
			"02 01 63 00" + // "a/" shared, "c" -> empty
			"00 01 62 02 0203"), // "b" -> 02 03
	},
	{
		name: "internal",
		n: &node{
			level: 1,
			keys:  []string{"", "b", "bc"},
			kids:  []uint64{1, 2, 0x0102030405060708},
		},
		enc: padded("01 01 03" +
			"0000000000000001" + // first child
			"00 01 62 0000000000000002" + // "b"
			"01 01 63 0102030405060708"), // "b" shared, "c"
	},
	{
		name: "leaf-of-two-blocks",
		n: &node{
			keys: []string{strings.Repeat("k", 300)},
			vals: [][]byte{nil},
		},
		enc: padded("01 00 01 00 ac02" + strings.Repeat("6b", 300) + "00"),
	},
}

func TestEncodeGolden(t *testing.T) {
	for _, g := range goldenNodes {
		t.Run("node="+g.name, func(t *testing.T) {
			if got := g.n.encode(); !bytes.Equal(got, g.enc) {
				t.Fatalf("encode =\n%x\nwant\n%x", got, g.enc)
			}
			if got, want := roundUp(g.n.size(), padTo), len(g.enc); got != want {
				t.Errorf("size = %d, padded to %d; want %d", g.n.size(), got, want)
			}
			n, err := decodeNode(g.enc)
			if err != nil {
				t.Fatalf("decodeNode: %v", err)
			}
			if !slices.Equal(n.keys, g.n.keys) || n.level != g.n.level || !slices.Equal(n.kids, g.n.kids) {
				t.Fatalf("decodeNode = level %d keys %q kids %x, want level %d keys %q kids %x", n.level, n.keys, n.kids, g.n.level, g.n.keys, g.n.kids)
			}
			for i := range g.n.vals {
				if !bytes.Equal(n.vals[i], g.n.vals[i]) {
					t.Errorf("value %d = %x, want %x", i, n.vals[i], g.n.vals[i])
				}
			}
		})
	}
}

// TestDecodeRejects lists the ways a plaintext can be other than what
// encode makes; each must be an error.
func TestDecodeRejects(t *testing.T) {
	leaf := goldenNodes[1].enc
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"version", padded("02 00 00"), "version"},
		{"level", padded("01 31 00"), "level 49"},
		{"count-not-minimal", padded("01 00 8000"), "minimally"},
		{"count-over-input", padded("01 00 ff01"), "entry count"},
		{"count-overflows", padded("01 00 ffffffffffffffffffff01"), "varint"},
		{"first-key-shares", padded("01 00 01 01 01 61 00"), "shared prefix"},
		{"shared-not-longest", padded("01 00 02 00 02 6162 00 00 02 6163 00"), "not the longest"},
		{"keys-descending", padded("01 00 02 00 01 62 00 00 01 61 00"), "not after"},
		{"keys-descending-shared", padded("01 00 02 00 02 6162 00 01 01 61 00"), "not after"},
		{"key-repeated", padded("01 00 02 00 01 61 00 01 00 00"), "not after"},
		{"key-prefix-of-previous", padded("01 00 02 00 02 6161 00 01 00 00"), "not after"},
		{"key-empty", padded("01 00 01 00 00 00"), "not after"},
		{"key-too-long", padded("01 00 01 00 8108" + strings.Repeat("61", 1025) + "00"), "over 1024"},
		{"shared-too-long", padded("01 00 02 00 01 61 00 01 8008" + strings.Repeat("61", 1024) + "00"), "over 1023"},
		{"value-too-long", padded("01 00 01 00 01 61 8101" + strings.Repeat("00", 129)), "over 128"},
		{"internal-without-children", padded("01 01 00"), "without children"},
		{"internal-key-not-after", padded("01 01 02 0000000000000001 00 00 0000000000000002"), "not after"},
		{"not-padded", bytes.TrimRight(leaf, "\x00"), "padding"},
		{"padded-too-much", append(slices.Clone(leaf), make([]byte, padTo)...), "padding"},
		{"padding-not-zeros", append(slices.Clone(leaf[:padTo-1]), 1), "not zeros"},
		{"truncated-in-entry", []byte{1, 0, 1, 0, 5, 'a'}, "wanted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := decodeNode(tt.b)
			if err == nil {
				t.Fatalf("decodeNode = level %d, %d keys; want an error", n.level, n.count())
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("decodeNode error %q, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestSeparator(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{"a", "b", "b"},
		{"abc", "abd", "abd"},
		{"ab", "abc", "abc"},
		{"a/x/1", "a/y", "a/y"},
		{"a/x/1", "a/yyyyyy", "a/y"},
		{"photos/2025/12/z.jpg", "photos/2026/01/a.jpg", "photos/2026"},
		{"a\xff\xff", "b", "b"},
		{"é", "ê", "\xc3\xaa"},
	}
	for _, tt := range tests {
		if got := separator(tt.a, tt.b); got != tt.want {
			t.Errorf("separator(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
	g := newGen(7)
	for range 10000 {
		a, b := g.key(), g.key()
		if a == b {
			continue
		}
		if a > b {
			a, b = b, a
		}
		if s := separator(a, b); !(a < s && s <= b) || len(s) > lcp(a, b)+1 {
			t.Fatalf("separator(%q, %q) = %q: want a < s <= b, as short as can be", a, b, s)
		}
	}
}

// TestSplit checks that split cuts nodes by bytes, into pieces that fit.
func TestSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := &node{}
		for i := range 2 + r.IntN(60) {
			n.keys = append(n.keys, strings.Repeat("k", r.IntN(100))+string(rune('A'+i)))
			n.vals = append(n.vals, make([]byte, r.IntN(MaxValueLen+1)))
		}
		slices.Sort(n.keys)
		n.keys = slices.Compact(n.keys)
		n.vals = n.vals[:len(n.keys)]
		max := 64 + r.IntN(1024)
		pieces := split(n, max, r.IntN(2) == 0)
		var keys []string
		for i, p := range pieces {
			if p.n.size() > max && p.n.count() > 1 {
				t.Fatalf("piece %d of %d: %d bytes, %d keys, over %d", i, len(pieces), p.n.size(), p.n.count(), max)
			}
			if i > 0 && !(pieces[i-1].n.keys[pieces[i-1].n.count()-1] < p.lo && p.lo <= p.n.keys[0]) {
				t.Fatalf("piece %d: lower bound %q not between the pieces", i, p.lo)
			}
			keys = append(keys, p.n.keys...)
		}
		if !slices.Equal(keys, n.keys) {
			t.Fatal("the pieces do not hold the node's keys in order")
		}
		if n.size() <= max && len(pieces) != 1 {
			t.Fatalf("a node that fits was split in %d", len(pieces))
		}
	}
	// Halves by bytes: one large entry and many small ones make two
	// pieces of unequal counts.
	n := &node{keys: []string{strings.Repeat("a", 500)}, vals: [][]byte{nil}}
	for i := range 50 {
		n.keys = append(n.keys, "b"+strings.Repeat("c", 8)+string(rune('A'+i)))
		n.vals = append(n.vals, nil)
	}
	pieces := split(n, n.size()-1, false)
	if len(pieces) != 2 || pieces[0].n.count() > 3 {
		t.Errorf("split of a 500-byte entry and 50 small ones: %d pieces, the first of %d entries; want 2, the first with the large entry alone or nearly", len(pieces), pieces[0].n.count())
	}
}

// BenchmarkDecodeNode decodes a full leaf of DefaultMaxNodeBytes, with
// the names of the other benchmarks.
func BenchmarkDecodeNode(b *testing.B) {
	n := &node{}
	for i := 0; n.size() < DefaultMaxNodeBytes; i++ {
		n.insert(i, benchKey(i), benchVal(i))
	}
	enc := n.encode()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeNode(enc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n.count()), "keys/node")
}
