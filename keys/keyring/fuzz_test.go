package keyring

import (
	"bytes"
	"maps"
	"testing"

	"github.com/coffre-cloud/coffre/keys"
)

// FuzzParseKeyringFile feeds arbitrary bytes to the two decoders of a
// keyring file: its header (read before anything is decrypted) and its
// ring payload (read once decrypted). Neither may panic; what they accept
// encodes back to the same header, or to a ring that decodes to the same
// keys.
func FuzzParseKeyringFile(f *testing.F) {
	r := newRing()
	r.roots[1] = keys.Secret(bytes.Repeat([]byte{1}, keySize))
	r.roots[7] = keys.Secret(bytes.Repeat([]byte{7}, keySize))
	r.macs["audit"] = keys.Secret(bytes.Repeat([]byte{2}, keySize))
	r.signing["site"] = keys.Secret(bytes.Repeat([]byte{3}, keySize))
	f.Add([]byte(r.marshal()))
	h := &header{kdf: kdfHKDF}
	f.Add(append(h.marshal(), make([]byte, nonceSize+16)...))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := parseHeader(b); err == nil {
			if got := h.marshal(); !bytes.Equal(got, b[:len(got)]) {
				t.Fatalf("parseHeader(%x) = %+v, which encodes as %x", b, h, got)
			}
		}
		r, err := parseRing(b)
		if err != nil {
			return
		}
		again, err := parseRing(r.marshal())
		if err != nil {
			t.Fatalf("parseRing(%x) accepted a ring whose encoding it refuses: %v", b, err)
		}
		eq := func(a, b keys.Secret) bool { return bytes.Equal(a, b) }
		if !maps.EqualFunc(again.roots, r.roots, eq) || !maps.EqualFunc(again.macs, r.macs, eq) || !maps.EqualFunc(again.signing, r.signing, eq) {
			t.Fatalf("parseRing(%x) does not survive an encoding round trip", b)
		}
	})
}
