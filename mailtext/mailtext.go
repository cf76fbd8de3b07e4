// Package mailtext turns messages into text for searching: it folds text
// for accent- and case-insensitive matching (Vietnamese "Hà Nội" matches
// "ha noi"), extracts the readable text of a MIME message's body parts and
// decodes RFC 2047 encoded words in header values.
package mailtext

import (
	"io"
	"mime"
	"strings"
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
