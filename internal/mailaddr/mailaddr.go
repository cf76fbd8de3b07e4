// Package mailaddr holds the small readings of mail addresses and text
// that several packages make, so each has one definition: the domain of
// an address, and whether text is plain ASCII (what decides SMTPUTF8 in
// SMTP and RFC 2047 encoding in header fields).
package mailaddr

import "strings"

// Domain returns the domain of addr (after its last "@"), in lower case
// and without a trailing dot; "" when addr has no domain.
func Domain(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || at == len(addr)-1 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(addr[at+1:], "."))
}

// IsASCII reports whether s has only US-ASCII bytes.
func IsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
