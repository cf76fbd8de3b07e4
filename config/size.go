package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes written as "2G", "500M", "750K", "1048576"
// or "none" (0) in the file; see ParseSize.
type Size int64

// UnmarshalText parses a size with ParseSize.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = Size(v)
	return nil
}

// MarshalText formats a Size with FormatSize.
func (s Size) MarshalText() ([]byte, error) { return []byte(FormatSize(int64(s))), nil }

// sizeUnits are the unit suffixes ParseSize accepts, by power of 1024.
var sizeUnits = map[string]int{
	"": 0, "b": 0,
	"k": 1, "kb": 1, "kib": 1,
	"m": 2, "mb": 2, "mib": 2,
	"g": 3, "gb": 3, "gib": 3,
	"t": 4, "tb": 4, "tib": 4,
}

// ParseSize reads a size in bytes: a whole number with an optional unit
// K, M, G or T (also KB/KiB...; any case; powers of 1024, as mail
// servers count quotas), or "none" for 0. "2G" is 2147483648.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "none" {
		return 0, nil
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	unit := strings.TrimSpace(t[i:])
	pow, ok := sizeUnits[unit]
	if i == 0 || !ok {
		return 0, fmt.Errorf("not a size like 2G, 500M, 750K, 1048576 or none: %q", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	for range pow {
		if n > math.MaxInt64/1024 {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		n *= 1024
	}
	return n, nil
}

// FormatSize writes n bytes in the largest unit that keeps it whole:
// 2147483648 is "2G", 1500 is "1500"; 0 is "none".
func FormatSize(n int64) string {
	if n == 0 {
		return "none"
	}
	units := []string{"", "K", "M", "G", "T"}
	u := 0
	for u < len(units)-1 && n%1024 == 0 {
		n /= 1024
		u++
	}
	return strconv.FormatInt(n, 10) + units[u]
}
