package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
)

// The constants of format version 1. docs/format.md ("Payload stream") is the
// normative description; the names below follow it.
const (
	// ChunkSize (64 KiB) is the plaintext size of every chunk but the final
	// one, which holds 1 to ChunkSize bytes (0 only in an empty stream).
	ChunkSize = 1 << chunkSizeLog2

	// HeaderSize (72) is the size of the stream header that starts every
	// blob: magic, version, chunk size, salt and key commitment.
	HeaderSize = headerPrefixSize + saltSize + commitSize

	// KeySize is the size of a data key (DEK).
	KeySize = 32

	// TagSize is the size of the authentication tag that follows each chunk.
	TagSize = 16

	// MaxPlaintextSize is the largest plaintext a stream may carry: its
	// ciphertext size still fits in an int64.
	MaxPlaintextSize = (math.MaxInt64 - HeaderSize) / encChunkSize * ChunkSize

	magic            = "coffre"
	formatVersion    = 1
	chunkSizeLog2    = 16
	headerPrefixSize = 8 // magic (6 bytes), version, log2(chunk size)
	saltSize         = 32
	commitSize       = 32
	encChunkSize     = ChunkSize + TagSize
	nonceSize        = 12
	lastChunkFlag    = 0x01

	// kdfInfo is the HKDF info string: it names the format and its version,
	// so keys derived for another use or version of the format never collide
	// with these.
	kdfInfo = "coffre payload v1"
)

// ErrIntegrity is the kind of every authentication failure: a header that is
// not a version 1 header or was not made with the given data key, a chunk
// that does not authenticate under the stream key, the associated data and
// its position, or a stream that ends before its final chunk. Errors of this
// kind name the header or the failing chunk; test with errors.Is.
var ErrIntegrity = errors.New("crypt: payload integrity check failed")

var errKeySize = fmt.Errorf("crypt: a data key is %d bytes", KeySize)

// failure classifies integrity errors the way the test vectors do (their
// "expect:" line). It is not exported: every failure is ErrIntegrity to a
// caller, and the class only sharpens messages and tests.
type failure int

const (
	failHeader    failure = iota + 1 // the header is malformed or made with another key
	failPayload                      // a chunk does not authenticate
	failTruncated                    // the blob ends before the stream does
)

func (f failure) String() string {
	switch f {
	case failHeader:
		return "header"
	case failPayload:
		return "payload"
	case failTruncated:
		return "truncation"
	}
	return fmt.Sprintf("failure(%d)", int(f))
}

// integrityError is an ErrIntegrity with the place it was found.
type integrityError struct {
	kind  failure
	chunk int64 // -1 for the header
	msg   string
}

func (e *integrityError) Error() string {
	if e.chunk < 0 {
		return "crypt: header: " + e.msg
	}
	return fmt.Sprintf("crypt: chunk %d: %s", e.chunk, e.msg)
}

func (e *integrityError) Unwrap() error { return ErrIntegrity }

func headerError(msg string) error {
	return &integrityError{kind: failHeader, chunk: -1, msg: msg}
}

func chunkError(kind failure, i uint64, format string, args ...any) error {
	return &integrityError{kind: kind, chunk: int64(i), msg: fmt.Sprintf(format, args...)}
}

// CiphertextSize returns the exact size of the blob that a stream of plain
// bytes of plaintext produces: the header, the plaintext, and one tag per
// chunk. It panics if plain is negative or above MaxPlaintextSize.
func CiphertextSize(plain int64) int64 {
	if plain < 0 || plain > MaxPlaintextSize {
		panic(fmt.Sprintf("crypt: plaintext size %d out of range", plain))
	}
	return HeaderSize + plain + TagSize*chunkCount(plain)
}

// PlaintextSize is the inverse of CiphertextSize. It returns an error of kind
// ErrIntegrity for a size that no stream has: shorter than a header and one
// tag, or ending with a chunk too short to hold a tag and a byte.
func PlaintextSize(cipher int64) (int64, error) {
	if cipher < HeaderSize+TagSize {
		return 0, &integrityError{kind: failTruncated, chunk: -1,
			msg: fmt.Sprintf("a blob of %d bytes is shorter than a header and one chunk (%d bytes)", cipher, HeaderSize+TagSize)}
	}
	body := cipher - HeaderSize
	n := body / encChunkSize
	if body%encChunkSize != 0 {
		n++
	}
	final := body - (n-1)*encChunkSize
	if n > 1 && final <= TagSize {
		return 0, chunkError(failTruncated, uint64(n-1),
			"a blob of %d bytes would end with a final chunk of %d bytes; a final chunk after the first holds at least %d",
			cipher, final, TagSize+1)
	}
	return body - n*TagSize, nil
}

// chunkCount is the number of chunks of a stream of plain bytes: the final
// chunk holds 1 to ChunkSize bytes, and is empty only when plain is 0.
func chunkCount(plain int64) int64 {
	if plain == 0 {
		return 1
	}
	return (plain + ChunkSize - 1) / ChunkSize
}

// layout describes where the chunks of a stream of known size are.
type layout struct {
	size     int64  // plaintext size
	final    uint64 // index of the final chunk
	finalLen int    // plaintext size of the final chunk
}

func newLayout(plain int64) layout {
	n := chunkCount(plain)
	return layout{size: plain, final: uint64(n - 1), finalLen: int(plain - (n-1)*ChunkSize)}
}

// plainLen is the plaintext size of chunk i.
func (l layout) plainLen(i uint64) int {
	if i == l.final {
		return l.finalLen
	}
	return ChunkSize
}

// cipherOff is the offset of chunk i in the blob.
func cipherOff(i uint64) int64 { return HeaderSize + int64(i)*encChunkSize }

// CipherRange returns the byte range of the blob that holds plaintext bytes
// [off, off+n) of a stream of plainSize bytes: the whole chunks the range
// touches, clipped to the stream. Fetch those bytes from the backend and hand
// them, with the same off, n and plainSize, to NewRangeReader. The range does
// not include the header (see NewRangeReader). For an empty or out-of-bounds
// request (n <= 0, off < 0, off >= plainSize) it returns (0, 0): there is
// nothing to fetch.
func CipherRange(off, n, plainSize int64) (cipherOffset, cipherLen int64) {
	if off < 0 || n <= 0 || off >= plainSize {
		return 0, 0
	}
	end := plainSize
	if n < plainSize-off {
		end = off + n
	}
	l := newLayout(plainSize)
	first, last := uint64(off/ChunkSize), uint64((end-1)/ChunkSize)
	start := cipherOff(first)
	return start, cipherOff(last) + int64(l.plainLen(last)) + TagSize - start
}

// stream holds what every chunk of one stream shares: the AEAD under the
// stream key and the chunk associated data (header || caller's ad).
type stream struct {
	aead cipher.AEAD
	ad   []byte
}

// deriveKeys computes the stream key and the key commitment of a header's
// salt: the two halves of HKDF-SHA256(DEK, salt, "coffre payload v1", 64).
func deriveKeys(dek, salt []byte) (okm []byte, err error) {
	if len(dek) != KeySize {
		return nil, errKeySize
	}
	return hkdf.Key(sha256.New, dek, salt, kdfInfo, KeySize+commitSize)
}

// newStream builds the stream of a header whose prefix and salt are set,
// writing the commitment into hdr when seal is true and checking it
// otherwise.
func newStream(dek, ad []byte, hdr []byte, seal bool) (*stream, error) {
	if len(hdr) != HeaderSize {
		return nil, headerError(fmt.Sprintf("%d bytes, want %d", len(hdr), HeaderSize))
	}
	if !seal {
		if err := checkPrefix(hdr); err != nil {
			return nil, err
		}
	}
	okm, err := deriveKeys(dek, hdr[headerPrefixSize:headerPrefixSize+saltSize])
	if err != nil {
		return nil, err
	}
	defer clear(okm)
	commit := hdr[headerPrefixSize+saltSize:]
	if seal {
		copy(commit, okm[KeySize:])
	} else if subtle.ConstantTimeCompare(commit, okm[KeySize:]) != 1 {
		return nil, headerError("the key commitment does not match: wrong data key, or the salt or commitment was altered")
	}
	block, err := aes.NewCipher(okm[:KeySize])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	chunkAD := make([]byte, 0, HeaderSize+len(ad))
	chunkAD = append(append(chunkAD, hdr...), ad...)
	return &stream{aead: aead, ad: chunkAD}, nil
}

func checkPrefix(hdr []byte) error {
	switch {
	case string(hdr[:len(magic)]) != magic:
		return headerError(fmt.Sprintf("magic %q, want %q: not a coffre payload stream", hdr[:len(magic)], magic))
	case hdr[len(magic)] != formatVersion:
		return headerError(fmt.Sprintf("format version %d, want %d", hdr[len(magic)], formatVersion))
	case hdr[len(magic)+1] != chunkSizeLog2:
		return headerError(fmt.Sprintf("chunk size 2^%d, want 2^%d", hdr[len(magic)+1], chunkSizeLog2))
	}
	return nil
}

// CheckHeader reports whether header is a version 1 stream header written
// with dek. A nil result proves the key (the header commits to it); the
// associated data is only checked by the chunks. Failures are ErrIntegrity.
func CheckHeader(header, dek []byte) error {
	_, err := newStream(dek, nil, header, false)
	return err
}

// setNonce writes the nonce of chunk i: an 11-byte big-endian counter and
// the final-chunk flag.
func setNonce(nonce *[nonceSize]byte, i uint64, final bool) {
	nonce[0], nonce[1], nonce[2] = 0, 0, 0 // counter bits 64..87: always zero for int64 sizes
	binary.BigEndian.PutUint64(nonce[3:11], i)
	nonce[11] = 0
	if final {
		nonce[11] = lastChunkFlag
	}
}

// seal encrypts chunk i of plaintext plain into dst[:0], which must have room
// for len(plain)+TagSize bytes and either be plain[:0] or not overlap it.
func (s *stream) seal(dst []byte, nonce *[nonceSize]byte, plain []byte, i uint64, final bool) []byte {
	setNonce(nonce, i, final)
	return s.aead.Seal(dst[:0], nonce[:], plain, s.ad)
}

// open authenticates and decrypts chunk i into dst[:0] (dst may be ct[:0]).
// A final chunk must hold a tag and, unless it is the first, at least one
// byte.
//
// When a final chunk fails and it has the size of a full chunk, open checks
// whether it authenticates as a non-final chunk, to tell a blob cut at a
// chunk boundary (truncation) from tampering. That second attempt needs the
// ciphertext intact, so callers never open a full-size final chunk in place.
func (s *stream) open(dst []byte, nonce *[nonceSize]byte, ct []byte, i uint64, final bool) ([]byte, error) {
	if final && (len(ct) < TagSize || (i > 0 && len(ct) == TagSize)) {
		if len(ct) == TagSize {
			// Either a cut right after a tag's worth of bytes or an empty
			// final chunk, which the format forbids after the first chunk.
			return nil, chunkError(failTruncated, i, "the final chunk has no plaintext, which only the first chunk may have (the blob was cut)")
		}
		return nil, chunkError(failTruncated, i, "the blob ends %d bytes into the chunk, before its tag", len(ct))
	}
	setNonce(nonce, i, final)
	pt, err := s.aead.Open(dst[:0], nonce[:], ct, s.ad)
	if err == nil {
		return pt, nil
	}
	if final && len(ct) == encChunkSize && &dst[:1][0] != &ct[0] {
		setNonce(nonce, i, false)
		_, err := s.aead.Open(dst[:0], nonce[:], ct, s.ad)
		clear(dst[:ChunkSize])
		if err == nil {
			return nil, chunkError(failTruncated, i, "the blob ends after this chunk, which is not the final chunk of its stream (truncated)")
		}
	}
	return nil, chunkError(failPayload, i, "authentication failed: the chunk was altered or moved, or the associated data or key is wrong")
}

// chunkBuf is a reusable chunk buffer with its own nonce, so that concurrent
// users of one stream never share one. Writers use all of it (header and a
// sealed chunk); readers use a chunk and one byte of look-ahead.
type chunkBuf struct {
	b     [HeaderSize + encChunkSize]byte
	nonce [nonceSize]byte
}

var chunkPool = sync.Pool{New: func() any { return new(chunkBuf) }}

// plainBuf receives full-size final chunks, which are never opened in place
// (see stream.open).
type plainBuf [ChunkSize]byte

var plainPool = sync.Pool{New: func() any { return new(plainBuf) }}
