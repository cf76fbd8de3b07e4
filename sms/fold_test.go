package sms

import (
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestFoldEveryVietnameseLetter(t *testing.T) {
	// The twelve vowels with their base letter, and the combining marks that
	// make them from the base (breve, circumflex, horn).
	vowels := []struct{ letter, base string }{
		{"a", "a"}, {"ă", "a"}, {"â", "a"}, {"e", "e"}, {"ê", "e"}, {"i", "i"},
		{"o", "o"}, {"ô", "o"}, {"ơ", "o"}, {"u", "u"}, {"ư", "u"}, {"y", "y"},
	}
	// No tone, huyền, sắc, hỏi, ngã, nặng.
	tones := []string{"", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"}
	count := 0
	for _, v := range vowels {
		for _, tone := range tones {
			for _, upper := range []bool{false, true} {
				letter, base := v.letter, v.base
				if upper {
					letter, base = toUpper(letter), toUpper(base)
				}
				nfc := norm.NFC.String(letter + tone)
				if utf8.RuneCountInString(nfc) != 1 {
					t.Fatalf("%q+%U has no precomposed form", letter, []rune(tone))
				}
				for _, in := range []string{nfc, norm.NFD.String(nfc), letter + tone} {
					if got := Fold(in); got != base {
						t.Errorf("Fold(%q) = %q, want %q", in, got, base)
					}
				}
				count++
			}
		}
	}
	if count != 144 {
		t.Fatalf("checked %d letters, want 144", count)
	}
	for in, want := range map[string]string{"đ": "d", "Đ": "D", "Đường": "Duong", "đồng": "dong"} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func toUpper(s string) string {
	m := map[string]string{"a": "A", "ă": "Ă", "â": "Â", "e": "E", "ê": "Ê", "i": "I", "o": "O", "ô": "Ô", "ơ": "Ơ", "u": "U", "ư": "Ư", "y": "Y"}
	return m[s]
}

func TestFoldSentences(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hồ sơ của ông/bà đã được tiếp nhận", "Ho so cua ong/ba da duoc tiep nhan"},
		{"Kính gửi Ông/Bà Nguyễn Văn An", "Kinh gui Ong/Ba Nguyen Van An"},
		{"Lệ phí: 1.500.000 đồng", "Le phi: 1.500.000 dong"},
		{"ĐẶNG THỊ HƯƠNG", "DANG THI HUONG"},
		{"Hẹn trả kết quả 15/03/2026 lúc 08:30", "Hen tra ket qua 15/03/2026 luc 08:30"},
		{"no change: @£$ {x}", "no change: @£$ {x}"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Fold(tt.in); got != tt.want {
				t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
