package crypt_test

// This file is a second implementation of the payload stream written from
// docs/format.md alone, with crypto/aes, crypto/cipher and crypto/hkdf and
// none of package crypt: it decrypts and re-encrypts the vectors, which
// shows that the document is sufficient, and it classifies failures by the
// document's rules.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The numbers of docs/format.md, restated.
const (
	specHeaderLen = 72
	specChunk     = 65536
	specTag       = 16
	specEncChunk  = specChunk + specTag
)

type specFailure struct{ class, why string }

func (e *specFailure) Error() string { return e.class + ": " + e.why }

func specKeys(dek, salt []byte) (key, commitment []byte) {
	okm, err := hkdf.Key(sha256.New, dek, salt, "coffre payload v1", 64)
	if err != nil {
		panic(err)
	}
	return okm[:32], okm[32:]
}

func specAEAD(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

func specNonce(i int, final bool) []byte {
	nonce := make([]byte, 12) // 11-byte big-endian counter, then the flag
	binary.BigEndian.PutUint64(nonce[3:11], uint64(i))
	if final {
		nonce[11] = 1
	}
	return nonce
}

// specOpen decrypts a whole blob by the rules of docs/format.md.
func specOpen(dek, ad, blob []byte) ([]byte, error) {
	if len(blob) < specHeaderLen {
		return nil, &specFailure{"truncation", "shorter than the header"}
	}
	hdr := blob[:specHeaderLen]
	if string(hdr[0:6]) != "coffre" || hdr[6] != 1 || hdr[7] != 16 {
		return nil, &specFailure{"header", "not a version 1 header with 64 KiB chunks"}
	}
	key, commitment := specKeys(dek, hdr[8:40])
	if !hmac.Equal(commitment, hdr[40:72]) {
		return nil, &specFailure{"header", "key commitment mismatch"}
	}
	aead := specAEAD(key)
	chunkAD := append(append([]byte{}, hdr...), ad...)

	var out []byte
	rest := blob[specHeaderLen:]
	for i := 0; ; i++ {
		final := len(rest) <= specEncChunk // nothing follows this chunk
		ct := rest[:min(len(rest), specEncChunk)]
		rest = rest[len(ct):]
		if final && (len(ct) < specTag || (i > 0 && len(ct) == specTag)) {
			return out, &specFailure{"truncation", "final chunk too short"}
		}
		pt, err := aead.Open(nil, specNonce(i, final), ct, chunkAD)
		if err != nil {
			if final && len(ct) == specEncChunk {
				if _, err := aead.Open(nil, specNonce(i, false), ct, chunkAD); err == nil {
					return out, &specFailure{"truncation", "the last chunk is not final"}
				}
			}
			return out, &specFailure{"payload", "chunk " + strconv.Itoa(i)}
		}
		out = append(out, pt...)
		if final {
			return out, nil
		}
	}
}

// specSeal encrypts by the rules of docs/format.md, with a given salt.
func specSeal(dek, ad, salt, plain []byte) []byte {
	key, commitment := specKeys(dek, salt)
	hdr := append(append([]byte("coffre\x01\x10"), salt...), commitment...)
	aead := specAEAD(key)
	chunkAD := append(append([]byte{}, hdr...), ad...)
	out := append([]byte{}, hdr...)
	for i := 0; ; i++ {
		n := min(len(plain), specChunk)
		final := n == len(plain) // the final chunk holds the last 1..65536 bytes, or nothing at all
		out = aead.Seal(out, specNonce(i, final), plain[:n], chunkAD)
		plain = plain[n:]
		if final {
			return out
		}
	}
}

func TestSpecDecryptsVectors(t *testing.T) {
	paths, _ := filepath.Glob("testdata/vectors/*.txt")
	if len(paths) == 0 {
		t.Fatal("no vectors in testdata/vectors")
	}
	for _, path := range paths {
		f := readSpecVector(t, path)
		got, err := specOpen(f["dek"], f["ad"], f["ciphertext"])
		expect := string(f["expect"])
		if expect != "success" {
			var sf *specFailure
			if !errors.As(err, &sf) || sf.class != expect {
				t.Errorf("%s: spec decryption gave %v, want a %s failure", path, err, expect)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: spec decryption failed: %v", path, err)
			continue
		}
		sum := sha256.Sum256(got)
		if !bytes.Equal(sum[:], f["plaintext-sha256"]) || strconv.Itoa(len(got)) != string(f["plaintext-size"]) {
			t.Errorf("%s: spec decryption gave other bytes", path)
		}
		if again := specSeal(f["dek"], f["ad"], f["ciphertext"][8:40], got); !bytes.Equal(again, f["ciphertext"]) {
			t.Errorf("%s: spec encryption with the vector's salt gives another blob", path)
		}
	}
}

// readSpecVector parses a vector file: "name: value" lines (hex for keys and
// bytes), a blank line, then the ciphertext in base64.
func readSpecVector(t *testing.T, path string) map[string][]byte {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(string(data), "\n\n")
	f := map[string][]byte{}
	for _, line := range strings.Split(head, "\n") {
		name, value, _ := strings.Cut(line, ": ")
		switch name {
		case "dek", "ad", "plaintext", "plaintext-sha256":
			f[name], err = hex.DecodeString(value)
		default:
			f[name] = []byte(value)
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", path, name, err)
		}
	}
	f["ciphertext"], err = base64.StdEncoding.DecodeString(strings.ReplaceAll(body, "\n", ""))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}
