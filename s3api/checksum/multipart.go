package checksum

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Composite returns the COMPOSITE checksum of a multipart object: the
// checksum of the concatenated binary part checksums, in base64, followed
// by "-" and the number of parts. partSums are the parts' base64 checksums
// in part order. CRC64NVME supports only FULL_OBJECT (ErrInvalidRequest).
func Composite(alg Algorithm, partSums []string) (string, error) {
	if !alg.valid() {
		return "", fmt.Errorf("%w (got %q)", ErrInvalidChecksumAlgorithm, alg)
	}
	if alg == CRC64NVME {
		return "", fmt.Errorf("%w: the COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm", ErrInvalidRequest)
	}
	if len(partSums) == 0 {
		return "", fmt.Errorf("%w: a multipart checksum needs at least one part", ErrInvalidRequest)
	}
	h := alg.New()
	var buf [64]byte
	for i, s := range partSums {
		if !decodeDigest(buf[:], s, alg.Size()) {
			return "", fmt.Errorf("%w: part %d: %q is not a %s checksum", ErrInvalidRequest, i+1, truncate(s, 60), alg)
		}
		h.Write(buf[:alg.Size()])
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(partSums)), nil
}

// FullObject returns the FULL_OBJECT checksum of a multipart object: the CRC
// of the whole object, combined from the part CRCs and sizes (in part order)
// without the data. Only CRC algorithms support it (ErrInvalidRequest
// otherwise).
func FullObject(alg Algorithm, partSums []string, partSizes []int64) (string, error) {
	if !alg.valid() {
		return "", fmt.Errorf("%w (got %q)", ErrInvalidChecksumAlgorithm, alg)
	}
	if !alg.IsCRC() {
		return "", fmt.Errorf("%w: the FULL_OBJECT checksum type cannot be used with the %s checksum algorithm", ErrInvalidRequest, alg)
	}
	if len(partSums) == 0 || len(partSums) != len(partSizes) {
		return "", fmt.Errorf("%w: %d part checksums for %d part sizes", ErrInvalidRequest, len(partSums), len(partSizes))
	}
	p := crcParamsOf(alg)
	var crc uint64
	var buf [16]byte // base64 decoding wants room for a padded final block
	for i, s := range partSums {
		if partSizes[i] < 0 {
			return "", fmt.Errorf("%w: part %d has size %d", ErrInvalidRequest, i+1, partSizes[i])
		}
		if !decodeDigest(buf[:], s, alg.Size()) {
			return "", fmt.Errorf("%w: part %d: %q is not a %s checksum", ErrInvalidRequest, i+1, truncate(s, 60), alg)
		}
		var part uint64
		if p.width == 32 {
			part = uint64(binary.BigEndian.Uint32(buf[:4]))
		} else {
			part = binary.BigEndian.Uint64(buf[:8])
		}
		if i == 0 {
			crc = part
		} else {
			crc = p.combine(crc, part, partSizes[i])
		}
	}
	if p.width == 32 {
		binary.BigEndian.PutUint32(buf[:4], uint32(crc))
		return base64.StdEncoding.EncodeToString(buf[:4]), nil
	}
	binary.BigEndian.PutUint64(buf[:8], crc)
	return base64.StdEncoding.EncodeToString(buf[:8]), nil
}
