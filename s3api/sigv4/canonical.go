package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// canonicalInput is what the canonical request and string to sign are built
// from, besides the request itself.
type canonicalInput struct {
	path          string // canonical URI
	rawQuery      string
	presigned     bool // drop X-Amz-Signature from the canonical query
	signedHeaders string
	payloadHash   string
	amzDate       string
	scope         string
}

// scratch holds the buffers of one signature computation. They are pooled
// because Verify runs for every request and the canonical request is as
// large as the URL and the signed headers.
type scratch struct {
	buf   []byte
	arena []byte
	pairs []queryPair
	sum   [sha256.Size]byte
}

// queryPair locates an encoded key and value in scratch.arena.
type queryPair struct{ ks, ke, vs, ve int }

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 1024)} }}

// maxPooledBuffer keeps a request with a huge query string from pinning its
// buffers in the pool.
const maxPooledBuffer = 64 << 10

func putScratch(s *scratch) {
	if cap(s.buf) > maxPooledBuffer || cap(s.arena) > maxPooledBuffer || cap(s.pairs) > 1024 {
		return
	}
	scratchPool.Put(s)
}

// sign computes the signature of r under this key and reports whether it
// equals want, compared in constant time.
func (e *keyEntry) sign(r *http.Request, in *canonicalInput, want *[32]byte) bool {
	s := scratchPool.Get().(*scratch)
	defer putScratch(s)

	b := s.buf[:0]
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = append(b, in.path...)
	b = append(b, '\n')
	b = s.appendCanonicalQuery(b, in.rawQuery, in.presigned)
	b = append(b, '\n')
	b = appendCanonicalHeaders(b, r, in.signedHeaders)
	b = append(b, '\n')
	b = append(b, in.signedHeaders...)
	b = append(b, '\n')
	b = append(b, in.payloadHash...)
	s.sum = sha256.Sum256(b)

	b = b[:0]
	b = append(b, signingAlgorithm+"\n"...)
	b = append(b, in.amzDate...)
	b = append(b, '\n')
	b = append(b, in.scope...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, s.sum[:])
	s.buf = b

	mac := e.getMAC()
	mac.Write(b)
	got := mac.Sum(s.sum[:0])
	e.putMAC(mac)
	return hmac.Equal(got, want[:])
}

// appendCanonicalQuery appends the canonical query string: every parameter
// decoded, re-encoded per RFC 3986 (%20 for space, upper-case hex), sorted by
// encoded key then encoded value, key=value joined by '&'. A key without
// '=' gets an empty value ("acl" becomes "acl=").
func (s *scratch) appendCanonicalQuery(b []byte, raw string, presigned bool) []byte {
	if raw == "" {
		return b
	}
	arena, pairs := s.arena[:0], s.pairs[:0]
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		ks := len(arena)
		arena = appendQueryComponent(arena, k)
		ke := len(arena)
		if presigned && string(arena[ks:ke]) == "X-Amz-Signature" {
			arena = arena[:ks]
			continue
		}
		arena = appendQueryComponent(arena, v)
		pairs = append(pairs, queryPair{ks, ke, ke, len(arena)})
	}
	slices.SortFunc(pairs, func(x, y queryPair) int {
		if c := bytes.Compare(arena[x.ks:x.ke], arena[y.ks:y.ke]); c != 0 {
			return c
		}
		return bytes.Compare(arena[x.vs:x.ve], arena[y.vs:y.ve])
	})
	for i, p := range pairs {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, arena[p.ks:p.ke]...)
		b = append(b, '=')
		b = append(b, arena[p.vs:p.ve]...)
	}
	s.arena, s.pairs = arena, pairs
	return b
}

// appendQueryComponent decodes a raw query key or value ('+' is a space,
// %XX a byte; a '%' not followed by two hex digits stands for itself) and
// appends its RFC 3986 encoding.
func appendQueryComponent(dst []byte, raw string) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]):
			hi, _ := fromHex(raw[i+1])
			lo, _ := fromHex(raw[i+2])
			c = hi<<4 | lo
			i += 2
		}
		dst = appendEncodedByte(dst, c)
	}
	return dst
}

func appendEncodedByte(dst []byte, c byte) []byte {
	if isUnreserved(c) {
		return append(dst, c)
	}
	const upperHex = "0123456789ABCDEF"
	return append(dst, '%', upperHex[c>>4], upperHex[c&15])
}

func isHex(c byte) bool { _, ok := fromHex(c); return ok }

// isUnreserved reports the RFC 3986 unreserved characters, the only ones
// SigV4 leaves unencoded.
func isUnreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '-' || c == '_' || c == '.' || c == '~'
}

// queryUnescape decodes a raw query component as appendQueryComponent does.
func queryUnescape(raw string) string {
	if !strings.ContainsAny(raw, "%+") {
		return raw
	}
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]):
			hi, _ := fromHex(raw[i+1])
			lo, _ := fromHex(raw[i+2])
			c = hi<<4 | lo
			i += 2
		}
		b = append(b, c)
	}
	return string(b)
}

// rawPath returns the path of r exactly as the client sent it: S3 signs the
// path as is, without normalising it or encoding it a second time.
func rawPath(r *http.Request) string {
	u := r.RequestURI
	if u == "" || u[0] != '/' {
		if i := strings.Index(u, "://"); i >= 0 {
			// Absolute form (a proxy request, or httptest.NewRequest):
			// drop scheme and authority.
			rest := u[i+3:]
			j := strings.IndexAny(rest, "/?")
			if j < 0 || rest[j] == '?' {
				return "/"
			}
			u = rest[j:]
		} else {
			p := r.URL.EscapedPath()
			if p == "" {
				return "/"
			}
			return p
		}
	}
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	if u == "" {
		return "/"
	}
	return u
}

// encodedPath encodes a decoded path the way the AWS SDKs encode object
// keys: every byte but the unreserved ones and '/' as %XX.
func encodedPath(p string) string {
	if p == "" {
		return "/"
	}
	clean := true
	for i := 0; i < len(p); i++ {
		if c := p[i]; c != '/' && !isUnreserved(c) {
			clean = false
			break
		}
	}
	if clean {
		return p
	}
	b := make([]byte, 0, len(p)+16)
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			b = append(b, '/')
		} else {
			b = appendEncodedByte(b, p[i])
		}
	}
	return string(b)
}

// appendCanonicalHeaders appends "name:value\n" for each signed header, in
// the order of SignedHeaders (which clients sort). Values are trimmed, runs
// of spaces collapsed, and repeated headers joined with ','.
func appendCanonicalHeaders(b []byte, r *http.Request, signed string) []byte {
	for signed != "" {
		var name string
		name, signed, _ = strings.Cut(signed, ";")
		start := len(b)
		b = append(b, name...)
		lowerASCII(b[start:])
		b = append(b, ':')
		lname := b[start : len(b)-1]
		switch {
		case string(lname) == "host":
			host := r.Host
			if host == "" {
				host = r.URL.Host
			}
			b = appendTrimmed(b, host)
		default:
			values := lookupHeader(r.Header, lname)
			if len(values) == 0 {
				// The server moves these two out of the header map.
				switch string(lname) {
				case "content-length":
					if r.ContentLength >= 0 {
						b = strconv.AppendInt(b, r.ContentLength, 10)
					}
				case "transfer-encoding":
					values = r.TransferEncoding
				}
			}
			for i, v := range values {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendTrimmed(b, v)
			}
		}
		b = append(b, '\n')
	}
	return b
}

func lowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// lookupHeader returns the values of a lower-case header name without
// allocating: the canonical MIME key is built on the stack, and a map index
// with string(bytes) does not copy.
func lookupHeader(h http.Header, lname []byte) []string {
	var buf [128]byte
	if len(lname) > len(buf) {
		return h.Values(string(lname))
	}
	upper := true
	for i, c := range lname {
		if !isTokenByte(c) {
			// textproto leaves such keys as they came.
			return h[string(lname)]
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
		upper = c == '-'
	}
	return h[string(buf[:len(lname)])]
}

// appendTrimmed appends v without leading and trailing spaces and tabs, with
// each run of inner spaces collapsed to one, as SigV4 canonicalises values.
func appendTrimmed(b []byte, v string) []byte {
	i, j := 0, len(v)
	for i < j && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	for j > i && (v[j-1] == ' ' || v[j-1] == '\t') {
		j--
	}
	v = v[i:j]
	if !strings.Contains(v, "  ") {
		return append(b, v...)
	}
	space := false
	for k := 0; k < len(v); k++ {
		c := v[k]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, c)
	}
	return b
}
