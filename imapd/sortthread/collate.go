package sortthread

import (
	"strings"
	"sync"
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
// into lower-case letters (U+01C6 "ǆ", U+FB01 "ﬁ") come out titlecased
// too.
//
// Text in the scripts below U+2000 (Latin with Vietnamese's letters,
// Greek, Cyrillic) is keyed character by character from a table built on
// first use; text with a combining mark of its own (decomposed input) or
// other scripts goes through the general normalisation, which gives the
// same key.
func NewKey(s string) Key {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		// Titlecase of ASCII is upper case; NFKD leaves ASCII alone.
		return Key(strings.ToUpper(s))
	}
	keyTableOnce.Do(buildKeyTable)
	buf := make([]byte, 0, len(s)+len(s)/2)
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			buf = append(buf, byte(r))
		case r < keyTableSize:
			e := keyTable[r]
			if e.slow {
				return slowKey(s)
			}
			buf = append(buf, keyBytes[e.off:e.off+uint32(e.n)]...)
		default:
			return slowKey(s)
		}
	}
	return Key(buf)
}

// slowKey is NewKey by the definition, for any text.
func slowKey(s string) Key {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(unicode.ToTitle, s)
	s = norm.NFKD.String(s)
	return Key(strings.Map(unicode.ToTitle, s))
}

// keyTableSize bounds the runes keyed from the table.
const keyTableSize = 0x2000

type keyEntry struct {
	off  uint32
	n    uint8
	slow bool // a non-starter, or decomposes to one first: needs reordering
}

var (
	keyTableOnce sync.Once
	keyTable     []keyEntry
	keyBytes     []byte
)

// buildKeyTable keys every rune below keyTableSize on its own. Keying a
// string rune by rune equals keying it whole as long as no rune's
// decomposition starts with a non-starter (a combining mark), since
// canonical reordering only moves non-starters past each other.
func buildKeyTable() {
	keyTable = make([]keyEntry, keyTableSize)
	for r := rune(0x80); r < keyTableSize; r++ {
		k := slowKey(string(r))
		p := norm.NFKD.PropertiesString(string(unicode.ToTitle(r)))
		if p.CCC() != 0 || p.LeadCCC() != 0 || len(k) > 255 || !utf8.ValidRune(r) {
			keyTable[r] = keyEntry{slow: true}
			continue
		}
		keyTable[r] = keyEntry{off: uint32(len(keyBytes)), n: uint8(len(k))}
		keyBytes = append(keyBytes, k...)
	}
}

// Compare returns -1, 0 or +1 as k sorts before, equal to or after o.
func (k Key) Compare(o Key) int { return strings.Compare(string(k), string(o)) }
