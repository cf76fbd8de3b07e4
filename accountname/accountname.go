// Package accountname is the one definition of an account's name: what a
// user types as the user name of SMTP AUTH or IMAP LOGIN, what the store
// looks accounts up by, what the login limiter counts failures against and
// what the auth cache remembers.
//
// A valid name is local@domain after trimming the outer white space and
// lowering the case, with exactly one "@", no white space or control
// character inside, a local part of at most 64 bytes without an empty
// dot-separated part, and a domain that IDNA (RFC 5891, UTS #46 mapping for
// lookup) turns into a host name of letters, digits and hyphens, without a
// trailing dot. Normalize returns its canonical form: the local part in
// lower case and the domain as IDNA A-labels.
//
// Anything else is not a valid user name: no login succeeds with it. Key
// maps every string, valid or not, to the canonical name it would stand for
// (white space and trailing dots dropped), so a failure with
// "canbo@ demo.gov.vn" or "canbo@demo.gov.vn." counts against
// canbo@demo.gov.vn and a lockout of that account covers every spelling.
package accountname

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"congthu/internal/mailaddr"
)

// ErrInvalid is wrapped by every error of Normalize and Domain.
var ErrInvalid = errors.New("invalid account name")

// Limits of RFC 5321 section 4.5.3.1.
const (
	maxLocal  = 64
	maxDomain = 253
	// maxKey bounds Key's result for names that are not valid (a valid
	// name is at most maxLocal+1+maxDomain bytes).
	maxKey = 320
)

// profile maps a domain for lookup (case, width, NFC; UTS #46) and checks
// the labels and the DNS length limits.
var profile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.VerifyDNSLength(true),
	idna.StrictDomainName(true),
)

// Normalize returns the canonical form of an account name, or an error
// wrapping ErrInvalid that says what is wrong with it.
func Normalize(name string) (string, error) {
	a := strings.ToLower(strings.TrimSpace(name))
	if strings.Count(a, "@") != 1 {
		return "", fmt.Errorf("%q: want exactly one @: %w", name, ErrInvalid)
	}
	at := strings.IndexByte(a, '@')
	local, domain := a[:at], a[at+1:]
	if local == "" || domain == "" {
		return "", fmt.Errorf("%q: want local@domain: %w", name, ErrInvalid)
	}
	if len(local) > maxLocal || !utf8.ValidString(local) {
		return "", fmt.Errorf("%q: bad local part: %w", name, ErrInvalid)
	}
	for _, r := range local {
		if r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r) || strings.ContainsRune(`@"<>()[]\,;:`, r) {
			return "", fmt.Errorf("%q: bad character %q: %w", name, r, ErrInvalid)
		}
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", fmt.Errorf("%q: bad dots in local part: %w", name, ErrInvalid)
	}
	d, err := Domain(domain)
	if err != nil {
		return "", fmt.Errorf("%q: %w", name, err)
	}
	return local + "@" + d, nil
}

// Domain returns the canonical form of the domain of an account name: IDNA
// A-labels in lower case, each label of letters, digits and hyphens, 1 to
// 63 bytes, not starting or ending with a hyphen, at most 253 bytes, no
// trailing dot, no white space. It returns an error wrapping ErrInvalid
// otherwise.
func Domain(name string) (string, error) {
	if name == "" || len(name) > 4*maxDomain {
		return "", fmt.Errorf("domain %q: bad length: %w", name, ErrInvalid)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			return "", fmt.Errorf("domain %q: bad character %q: %w", name, r, ErrInvalid)
		}
	}
	if strings.TrimRight(name, dots) != name {
		return "", fmt.Errorf("domain %q: trailing dot: %w", name, ErrInvalid)
	}
	d := strings.ToLower(name)
	if !mailaddr.IsASCII(d) || strings.Contains(d, "xn--") {
		a, err := profile.ToASCII(d)
		if err != nil {
			return "", fmt.Errorf("domain %q: not a valid internationalised name: %w", name, ErrInvalid)
		}
		d = strings.ToLower(a)
	}
	if d == "" || len(d) > maxDomain {
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

// Key returns the canonical name that name stands for, for counting
// failed logins and remembering verifications: Normalize's result when
// name is valid. Otherwise, the canonical form of name without its white
// space, control characters and trailing dots, if that is valid, else that
// cleaned-up string in lower case, at most 320 bytes. Key never fails; ""
// only for a name with nothing left.
func Key(name string) string {
	if c, err := Normalize(name); err == nil {
		return c
	}
	var b strings.Builder
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			continue
		}
		b.WriteRune(r)
	}
	s := b.String()
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		s = s[:at+1] + strings.TrimRight(s[at+1:], dots)
	}
	if c, err := Normalize(s); err == nil {
		return c
	}
	s = strings.ToLower(s)
	if len(s) > maxKey {
		s = s[:maxKey]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// dots are the label separators of IDNA (RFC 3490 section 3.1): a name
// ending in one of them has a trailing dot.
const dots = ".\u3002\uff0e\uff61"
