package checksum

// CRC combination: given crc(A), crc(B) and len(B), compute crc(A‖B)
// without the data, as zlib's crc32_combine does. A CRC with a
// reflected polynomial P, initial value ~0 and final xor ~0 satisfies
//
//	crc(A‖B) = crc(A)·x^(8·len(B)) mod P  ⊕  crc(B)
//
// (the inversions cancel), so combining costs one multiplication modulo P
// and x^(8n) mod P, computed by squaring: at most log₂(8n) multiplications
// of width steps each. The polynomials are in the reflected bit order of
// hash/crc32 and hash/crc64, where the most significant bit holds x⁰.

import "hash/crc32"

// crcParams describes a reflected CRC: its width in bits and polynomial.
type crcParams struct {
	width uint
	poly  uint64
	// x2n[k] = x^(2^k) mod P, enough entries for any int64 length in bits.
	x2n [67]uint64
}

func newCRCParams(width uint, poly uint64) *crcParams {
	p := &crcParams{width: width, poly: poly}
	p.x2n[0] = 1 << (width - 2) // x¹
	for k := 1; k < len(p.x2n); k++ {
		p.x2n[k] = p.multModP(p.x2n[k-1], p.x2n[k-1])
	}
	return p
}

var (
	crc32Params     = newCRCParams(32, crc32.IEEE)
	crc32cParams    = newCRCParams(32, crc32.Castagnoli)
	crc64NVMEParams = newCRCParams(64, crc64NVMEPoly)
)

func crcParamsOf(a Algorithm) *crcParams {
	switch a {
	case CRC32:
		return crc32Params
	case CRC32C:
		return crc32cParams
	case CRC64NVME:
		return crc64NVMEParams
	}
	return nil
}

// multModP returns a(x)·b(x) mod P.
func (p *crcParams) multModP(a, b uint64) uint64 {
	if a == 0 {
		return 0
	}
	m := uint64(1) << (p.width - 1)
	var prod uint64
	for {
		if a&m != 0 {
			prod ^= b
			if a&(m-1) == 0 {
				return prod
			}
		}
		m >>= 1
		if b&1 != 0 {
			b = b>>1 ^ p.poly
		} else {
			b >>= 1
		}
	}
}

// x2nModP returns x^(n·2^k) mod P.
func (p *crcParams) x2nModP(n uint64, k uint) uint64 {
	r := uint64(1) << (p.width - 1) // x⁰
	for n != 0 {
		if n&1 != 0 {
			r = p.multModP(p.x2n[k], r)
		}
		n >>= 1
		k++
	}
	return r
}

// combine returns crc(A‖B) from crc1 = crc(A), crc2 = crc(B) and lenB =
// len(B) in bytes.
func (p *crcParams) combine(crc1, crc2 uint64, lenB int64) uint64 {
	return p.multModP(p.x2nModP(uint64(lenB), 3), crc1) ^ crc2
}
