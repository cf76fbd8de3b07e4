package store

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// NormalizeAddress returns address trimmed and in lower case, after
// checking it is a plausible local@domain: no spaces or control
// characters, a non-empty local part of at most 64 bytes, and a valid
// domain name (see NormalizeDomain). It returns ErrInvalid otherwise.
func NormalizeAddress(address string) (string, error) {
	a := strings.ToLower(strings.TrimSpace(address))
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return "", fmt.Errorf("address %q: want local@domain: %w", address, ErrInvalid)
	}
	local, domain := a[:at], a[at+1:]
	if len(local) > 64 || !utf8.ValidString(local) {
		return "", fmt.Errorf("address %q: bad local part: %w", address, ErrInvalid)
	}
	for _, r := range local {
		if unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r) || strings.ContainsRune(`@"<>()[]\,;:`, r) {
			return "", fmt.Errorf("address %q: bad character %q: %w", address, r, ErrInvalid)
		}
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", fmt.Errorf("address %q: bad dots in local part: %w", address, ErrInvalid)
	}
	d, err := NormalizeDomain(domain)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", address, err)
	}
	return local + "@" + d, nil
}

// NormalizeDomain returns a domain name in lower case without a trailing
// dot, after checking it is an ASCII host name (IDNA A-labels; labels of
// letters, digits and hyphens, 1 to 63 bytes, not starting or ending with
// a hyphen; at most 253 bytes). It returns ErrInvalid otherwise.
func NormalizeDomain(name string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	if d == "" || len(d) > 253 {
		return "", fmt.Errorf("domain %q: bad length: %w", name, ErrInvalid)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("domain %q: bad label %q: %w", name, label, ErrInvalid)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return "", fmt.Errorf("domain %q: bad character %q: %w", name, c, ErrInvalid)
			}
		}
	}
	return d, nil
}

// domainOf returns the domain of a normalized address.
func domainOf(address string) string {
	return address[strings.LastIndexByte(address, '@')+1:]
}
