// Package mailtext turns messages into text for searching: it folds text
// for accent- and case-insensitive matching (Vietnamese "Hà Nội" matches
// "ha noi"), extracts the readable text of a MIME message's body parts and
// decodes RFC 2047 encoded words in header values.
package mailtext

import (
	"io"
	"mime"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/unicode/norm"
)

// Fold returns s prepared for search matching: Unicode lower case without
// combining marks (diacritics), in NFC, with đ folded to d. Fold is
// idempotent, and Fold(a) containing Fold(b) is how text SEARCH matches.
func Fold(s string) string {
	if isPlainLowerASCII(s) {
		return s
	}
	if out, ok := foldFast(s); ok {
		return out
	}
	return foldSlow(s)
}

// foldSlow is the definition of Fold.
func foldSlow(s string) string {
	s = strings.ToLower(norm.NFC.String(s))
	s = norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == 'đ' || r == 'Đ':
			r = 'd'
		case r == utf8.RuneError:
			r = '\uFFFD'
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}

// foldFast folds text made only of runes from foldTable's ranges (ASCII,
// Latin letters with diacritics incl. Vietnamese, combining diacritical
// marks, general punctuation) rune by rune, which for these runes gives
// exactly foldSlow's result: none of them composes with a neighbour once
// the combining marks are gone. It reports false for other text.
func foldFast(s string) (string, bool) {
	tab := foldTable()
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		f, ok := tab.lookup(r)
		if !ok || (r == utf8.RuneError && size == 1) {
			return "", false
		}
		b = append(b, f...)
		i += size
	}
	return string(b), true
}

// foldRanges are the blocks foldFast handles.
var foldRanges = [][2]rune{
	{0x0080, 0x024F}, // Latin-1 Supplement, Latin Extended-A and -B
	{0x0300, 0x036F}, // Combining Diacritical Marks (all Mn: dropped)
	{0x1E00, 0x1EFF}, // Latin Extended Additional (Vietnamese)
	{0x2000, 0x206F}, // General Punctuation
	{0x20A0, 0x20CF}, // Currency Symbols
}

type runeTable struct {
	folded [][]string // per range, per rune
}

func (t *runeTable) lookup(r rune) (string, bool) {
	for i, rg := range foldRanges {
		if r >= rg[0] && r <= rg[1] {
			return t.folded[i][r-rg[0]], true
		}
	}
	return "", false
}

// foldTable is foldSlow of every rune in foldRanges, computed once.
var foldTable = sync.OnceValue(func() *runeTable {
	t := &runeTable{}
	for _, rg := range foldRanges {
		f := make([]string, rg[1]-rg[0]+1)
		for r := rg[0]; r <= rg[1]; r++ {
			f[r-rg[0]] = foldSlow(string(r))
		}
		t.folded = append(t.folded, f)
	}
	return t
})

// isPlainLowerASCII reports whether s is ASCII without upper-case letters,
// which Fold leaves alone.
func isPlainLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// wordDecoder decodes RFC 2047 encoded words in any charset that the WHATWG
// encoding index knows (utf-8, windows-1258, iso-8859-x, ...).
var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// charsetReader returns a reader decoding input from charset to UTF-8.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(strings.TrimSpace(charset))
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(input), nil
}

// DecodeHeader decodes RFC 2047 encoded words in a header value (for
// example "=?UTF-8?B?...?="). Values that cannot be decoded are returned
// unchanged.
func DecodeHeader(value string) string {
	if !strings.Contains(value, "=?") {
		return value
	}
	s, err := wordDecoder.DecodeHeader(value)
	if err != nil {
		return value
	}
	return s
}
