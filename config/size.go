package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes, written in the file as a number or with a
// unit: "500GB" (10^9), "10TiB" (2^40), "1.5 PB".
type Size int64

var sizeUnits = []struct {
	suffix string
	factor float64
}{
	// Longest suffixes first, so that "KiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"PiB", 1 << 50}, {"EiB", 1 << 60},
	{"KB", 1e3}, {"kB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"PB", 1e15}, {"EB", 1e18},
	{"B", 1},
}

// ParseSize parses a Size.
func ParseSize(s string) (Size, error) {
	s = strings.TrimSpace(s)
	num, factor := s, 1.0
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, factor = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.factor
			break
		}
	}
	num = strings.ReplaceAll(num, "_", "")
	if n, err := strconv.ParseInt(num, 10, 64); err == nil && factor == 1 {
		if n < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		return Size(n), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || num == "" {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	v := f * factor
	switch {
	case v < 0:
		return 0, fmt.Errorf("%q is negative", s)
	case v >= math.MaxInt64:
		return 0, fmt.Errorf("%q is too large", s)
	}
	return Size(math.Round(v)), nil
}

// String formats s with the largest binary unit that divides it, e.g.
// "10TiB", or in bytes.
func (s Size) String() string {
	for i := len(sizeUnits[:6]) - 1; i >= 0; i-- {
		u := sizeUnits[i]
		if f := int64(u.factor); s != 0 && int64(s)%f == 0 {
			return strconv.FormatInt(int64(s)/f, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10)
}
