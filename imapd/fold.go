package imapd

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// TODO(mailtext): switch fold to mailtext.Fold once it lands; the store
// folds body text with it, so queries must fold the same way.

// foldTable maps a precomposed letter to its lower-case base letter
// (Vietnamese: "Ồ" → "o", "Đ" → "d"), for the Latin blocks.
var foldTable = func() map[rune]rune {
	m := map[rune]rune{'đ': 'd', 'Đ': 'd', 'ð': 'd', 'Ð': 'd'}
	for _, block := range [][2]rune{{0x00C0, 0x024F}, {0x1E00, 0x1EFF}} {
		for r := block[0]; r <= block[1]; r++ {
			if _, ok := m[r]; ok {
				continue
			}
			d := norm.NFD.String(string(r))
			base, _ := utf8.DecodeRuneInString(d)
			if base != utf8.RuneError && base < 0x80 {
				m[r] = unicode.ToLower(base)
			}
		}
	}
	return m
}()

// fold lower-cases s and strips diacritics (đ → d) for text matching,
// so "Hồ sơ" and "ho so" compare equal.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r < 0x80:
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
		case unicode.Is(unicode.Mn, r):
			continue // a combining mark of decomposed (NFD) text
		default:
			if f, ok := foldTable[r]; ok {
				r = f
			} else {
				r = unicode.ToLower(r)
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// textMatch reports whether query occurs in text, compared
// case-insensitively and ignoring Vietnamese diacritics. An empty query
// matches everything (RFC 9051 section 6.4.4 searches substrings).
func textMatch(text, query string) bool {
	return foldedMatch(fold(text), fold(query))
}

// foldedMatch is textMatch for a text and a query that are already folded.
func foldedMatch(foldedText, foldedQuery string) bool {
	return strings.Contains(foldedText, foldedQuery)
}
