package sortthread

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Key is a string prepared for comparison under the collation
// i;unicode-casemap (RFC 5051 section 2): every character mapped to its
// titlecase and the result decomposed (NFKD). Two keys compare as the
// collation compares their strings, by a plain byte comparison, so a key
// is computed once per message and sorted cheaply.
type Key string

// NewKey computes the i;unicode-casemap key of s. Invalid UTF-8 is taken
// as U+FFFD, as the collation's first step does for octets that are not
// characters.
//
// The mapping is Unicode's simple titlecase (unicode.ToTitle) rather than
// case folding: RFC 5051 specifies titlecase, and the two order letters
// differently against the punctuation between "Z" and "a" ("_" sorts after
// every letter here, as in Dovecot). Decomposition is applied after the
// mapping and the mapping again after it, so characters that decompose
// into lower-case letters (U+01C6 "ǆ") come out titlecased too.
func NewKey(s string) Key {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// Titlecase of ASCII is upper case; NFKD leaves ASCII alone.
		return Key(strings.ToUpper(s))
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(unicode.ToTitle, s)
	s = norm.NFKD.String(s)
	return Key(strings.Map(unicode.ToTitle, s))
}

// Compare returns -1, 0 or +1 as k sorts before, equal to or after o.
func (k Key) Compare(o Key) int { return strings.Compare(string(k), string(o)) }
