package checksum

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"

	"github.com/minio/crc64nvme"
	"net/http"
	"slices"
	"strings"
)

// Algorithm is an S3 additional checksum algorithm, named as in the
// x-amz-checksum-algorithm header.
type Algorithm string

// The algorithms S3 supports.
const (
	CRC32     Algorithm = "CRC32"
	CRC32C    Algorithm = "CRC32C"
	CRC64NVME Algorithm = "CRC64NVME"
	SHA1      Algorithm = "SHA1"
	SHA256    Algorithm = "SHA256"
)

// algorithms lists the supported algorithms in a fixed order.
var algorithms = [...]Algorithm{CRC32, CRC32C, CRC64NVME, SHA1, SHA256}

// Algorithms returns the supported algorithms.
func Algorithms() []Algorithm { return slices.Clone(algorithms[:]) }

// canonicalHeaderKeys are the header map keys of the algorithms' HeaderNames.
var canonicalHeaderKeys = func() []string {
	keys := make([]string, len(algorithms))
	for i, a := range algorithms {
		keys[i] = http.CanonicalHeaderKey(a.HeaderName())
	}
	return keys
}()

// crc64NVMEPoly is the CRC-64/NVME polynomial 0xAD93D23594C93659, bit
// reflected as hash/crc64 wants it. With hash/crc64's initial and final
// inversion this gives CRC-64/NVME (check value 0xAE8B14860A799888).
const crc64NVMEPoly = 0x9A6C9329AC4BC9B5

var (
	castagnoliTable = crc32.MakeTable(crc32.Castagnoli)
)

// ParseAlgorithm parses an algorithm name, ignoring case. Unknown names
// return ErrInvalidChecksumAlgorithm.
func ParseAlgorithm(s string) (Algorithm, error) {
	for _, a := range algorithms {
		if strings.EqualFold(s, string(a)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("%w (got %q)", ErrInvalidChecksumAlgorithm, truncate(s, 40))
}

// valid reports whether a is a supported algorithm.
func (a Algorithm) valid() bool {
	for _, b := range algorithms {
		if a == b {
			return true
		}
	}
	return false
}

// HeaderName is the header (or trailer) carrying a checksum of this
// algorithm, such as x-amz-checksum-crc32.
func (a Algorithm) HeaderName() string { return "x-amz-checksum-" + strings.ToLower(string(a)) }

// Size is the length in bytes of a digest of this algorithm.
func (a Algorithm) Size() int {
	switch a {
	case CRC32, CRC32C:
		return 4
	case CRC64NVME:
		return 8
	case SHA1:
		return sha1.Size
	case SHA256:
		return sha256.Size
	}
	return 0
}

// IsCRC reports the CRC algorithms, the only ones that support FULL_OBJECT
// checksums of multipart uploads.
func (a Algorithm) IsCRC() bool { return a == CRC32 || a == CRC32C || a == CRC64NVME }

// New returns a hash computing this checksum, its Sum in big-endian order
// as S3 encodes it; nil for an unknown algorithm.
func (a Algorithm) New() hash.Hash {
	switch a {
	case CRC32:
		return crc32.NewIEEE()
	case CRC32C:
		return crc32.New(castagnoliTable)
	case CRC64NVME:
		// minio/crc64nvme uses carry-less multiplication (about 60 GB/s);
		// hash/crc64 rebuilds its slicing table for custom polynomials and
		// runs under 1 GB/s.
		return crc64nvme.New()
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	}
	return nil
}

// Type is the checksum type of a multipart upload (x-amz-checksum-type).
type Type string

// The checksum types of multipart uploads.
const (
	TypeComposite  Type = "COMPOSITE"
	TypeFullObject Type = "FULL_OBJECT"
)

// Spec is what a request asks to verify.
type Spec struct {
	// Algorithm is the additional checksum of the request, "" for none. It
	// can be set with an empty Expected, as for CreateMultipartUpload's
	// x-amz-checksum-algorithm: the checksum is then computed, not checked.
	Algorithm Algorithm
	// Expected is the base64 value from the x-amz-checksum-<alg> header; ""
	// when it comes in the trailer or there is none.
	Expected string
	// InTrailer reports that the value comes in the x-amz-checksum-<alg>
	// trailer of an aws-chunked body (declared by x-amz-trailer).
	InTrailer bool
	// ContentMD5 is the base64 Content-MD5 header, "" if none.
	ContentMD5 string
	// Type is the x-amz-checksum-type header, "" if absent.
	Type Type
}

// FromRequest reads the checksum headers of an upload: x-amz-checksum-<alg>,
// x-amz-sdk-checksum-algorithm and x-amz-checksum-algorithm, x-amz-trailer,
// x-amz-checksum-type and Content-MD5. Errors wrap ErrInvalidDigest
// (malformed Content-MD5), ErrInvalidChecksumAlgorithm or ErrInvalidRequest
// (anything else contradictory or malformed).
func FromRequest(h http.Header) (Spec, error) {
	var s Spec
	if v, ok := h["Content-Md5"]; ok {
		if len(v) != 1 || !validDigest(v[0], md5.Size) {
			return s, fmt.Errorf("%w (got %q)", ErrInvalidDigest, truncate(strings.Join(v, ","), 60))
		}
		s.ContentMD5 = v[0]
	}

	// A value in a header.
	for i, a := range algorithms {
		v, ok := h[canonicalHeaderKeys[i]]
		if !ok {
			continue
		}
		if s.Algorithm != "" || len(v) != 1 {
			return s, fmt.Errorf("%w: expecting a single x-amz-checksum- header; multiple checksum types are not allowed", ErrInvalidRequest)
		}
		if !validDigest(v[0], a.Size()) {
			return s, fmt.Errorf("%w: value for %s header is invalid", ErrInvalidRequest, a.HeaderName())
		}
		s.Algorithm, s.Expected = a, v[0]
	}

	// A value announced for the trailer.
	for _, v := range h["X-Amz-Trailer"] {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			a, ok := trailerAlgorithm(name)
			if !ok {
				return s, fmt.Errorf("%w: the value specified in the x-amz-trailer header is not supported (%q)", ErrInvalidRequest, truncate(name, 60))
			}
			if s.Algorithm != "" {
				return s, fmt.Errorf("%w: expecting a single x-amz-checksum- header or trailer; multiple checksum types are not allowed", ErrInvalidRequest)
			}
			s.Algorithm, s.InTrailer = a, true
		}
	}

	// The algorithm alone.
	declared, err := declaredAlgorithm(h)
	if err != nil {
		return s, err
	}
	if s.Algorithm == "" && declared != "" {
		if _, sdk := h["X-Amz-Sdk-Checksum-Algorithm"]; sdk {
			// The SDKs send this header only with a value, in a header
			// or a trailer; alone it means the value was lost.
			return s, fmt.Errorf("%w: x-amz-sdk-checksum-algorithm %s without an x-amz-checksum-%s header or trailer", ErrInvalidRequest, declared, strings.ToLower(string(declared)))
		}
		s.Algorithm = declared
	}
	// When a value is given, S3 ignores a different declared algorithm.

	if v := h.Get("X-Amz-Checksum-Type"); v != "" {
		switch t := Type(strings.ToUpper(v)); t {
		case TypeComposite, TypeFullObject:
			s.Type = t
		default:
			return s, fmt.Errorf("%w: x-amz-checksum-type must be COMPOSITE or FULL_OBJECT, not %q", ErrInvalidRequest, truncate(v, 40))
		}
		if err := checkType(s.Algorithm, s.Type); err != nil {
			return s, err
		}
	}
	return s, nil
}

// declaredAlgorithm returns the algorithm of x-amz-sdk-checksum-algorithm or
// x-amz-checksum-algorithm, which must agree when both are present.
func declaredAlgorithm(h http.Header) (Algorithm, error) {
	var declared Algorithm
	for _, key := range []string{"X-Amz-Sdk-Checksum-Algorithm", "X-Amz-Checksum-Algorithm"} {
		v, ok := h[key]
		if !ok {
			continue
		}
		if len(v) != 1 {
			return "", fmt.Errorf("%w: %s given %d times", ErrInvalidRequest, strings.ToLower(key), len(v))
		}
		a, err := ParseAlgorithm(v[0])
		if err != nil {
			return "", fmt.Errorf("%s: %w", strings.ToLower(key), err)
		}
		if declared != "" && a != declared {
			return "", fmt.Errorf("%w: x-amz-sdk-checksum-algorithm %s and x-amz-checksum-algorithm %s disagree", ErrInvalidRequest, declared, a)
		}
		declared = a
	}
	return declared, nil
}

// checkType enforces the algorithm/type pairs S3 supports: SHA checksums are
// COMPOSITE only, CRC64NVME is FULL_OBJECT only.
func checkType(a Algorithm, t Type) error {
	switch {
	case a == "":
		return fmt.Errorf("%w: x-amz-checksum-type %s requires a checksum algorithm", ErrInvalidRequest, t)
	case t == TypeFullObject && !a.IsCRC():
		return fmt.Errorf("%w: the FULL_OBJECT checksum type cannot be used with the %s checksum algorithm", ErrInvalidRequest, strings.ToLower(string(a)))
	case t == TypeComposite && a == CRC64NVME:
		return fmt.Errorf("%w: the COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm", ErrInvalidRequest)
	}
	return nil
}

// trailerAlgorithm maps a lower-case trailer name to its algorithm.
func trailerAlgorithm(name string) (Algorithm, bool) {
	for _, a := range algorithms {
		if name == a.HeaderName() {
			return a, true
		}
	}
	return "", false
}

// validDigest reports whether s is the standard base64 of size bytes.
func validDigest(s string, size int) bool {
	var buf [64]byte
	if base64.StdEncoding.EncodedLen(size) != len(s) {
		return false
	}
	n, err := base64.StdEncoding.Decode(buf[:], []byte(s))
	return err == nil && n == size
}

// decodeDigest decodes the base64 of a size-byte digest into dst.
func decodeDigest(dst []byte, s string, size int) bool {
	if base64.StdEncoding.EncodedLen(size) != len(s) || len(dst) < base64.StdEncoding.DecodedLen(len(s)) {
		return false
	}
	n, err := base64.StdEncoding.Decode(dst, []byte(s))
	return err == nil && n == size
}

// truncate bounds client-supplied text quoted in error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
