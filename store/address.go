package store

import (
	"fmt"
	"strings"

	"congthu/accountname"
)

// NormalizeAddress returns the canonical form of an account or alias
// address (accountname.Normalize: trimmed, lower case, the domain as IDNA
// A-labels, exactly one @, no inner white space, no trailing dot). It
// returns an error wrapping ErrInvalid otherwise. Every lookup of an
// account by name goes through it, as do the login limiter's keys
// (accountname.Key), so both agree on which account a name means.
func NormalizeAddress(address string) (string, error) {
	a, err := accountname.Normalize(address)
	if err != nil {
		return "", fmt.Errorf("address %w: %w", err, ErrInvalid)
	}
	return a, nil
}

// NormalizeDomain returns a domain name as accountname.Domain does (lower
// case IDNA A-labels of letters, digits and hyphens), after trimming white
// space and one trailing dot, as an operator may copy a name from a zone
// file. It returns ErrInvalid otherwise.
func NormalizeDomain(name string) (string, error) {
	d, err := accountname.Domain(strings.TrimSuffix(strings.TrimSpace(name), "."))
	if err != nil {
		return "", fmt.Errorf("%w: %w", err, ErrInvalid)
	}
	return d, nil
}
