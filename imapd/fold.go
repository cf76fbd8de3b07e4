package imapd

import (
	"strings"

	"congthu/mailtext"
)

// fold prepares text for matching: lower case, no diacritics, đ → d, so
// "Hồ sơ" and "ho so" compare equal. The store folds body text for
// SearchTexts with the same function, so queries must fold this way too.
// ASCII text takes a shortcut (the same result, without normalisation).
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return mailtext.Fold(s)
		}
	}
	return strings.ToLower(s)
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
