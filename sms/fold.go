package sms

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Fold removes Vietnamese diacritics the way agencies write SMS without
// accents: "Hồ sơ của ông/bà đã được tiếp nhận" becomes
// "Ho so cua ong/ba da duoc tiep nhan", which fits GSM-7.
//
// It normalises to NFC (so text in any normal form folds alike), decomposes
// to NFD, drops every nonspacing mark (Unicode category Mn: the tone marks
// and the breve, circumflex and horn), recomposes to NFC, and maps đ→d and
// Đ→D, which have no decomposition. Other characters are left alone, so text
// with characters outside GSM-7 may still need UCS-2 after folding.
func Fold(text string) string {
	s := norm.NFD.String(norm.NFC.String(text))
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == 'đ':
			r = 'd'
		case r == 'Đ':
			r = 'D'
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}
