package imapd

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTextMatch(t *testing.T) {
	cases := []struct {
		text, query string
		want        bool
	}{
		{"Hồ sơ của ông/bà Nguyễn Văn An", "ho so", true},
		{"Hồ sơ của ông/bà Nguyễn Văn An", "HỒ SƠ CỦA ÔNG/BÀ", true},
		{"Hồ sơ của ông/bà Nguyễn Văn An", "nguyen van an", true},
		{"ĐÃ TIẾP NHẬN", "da tiep nhan", true},
		{"Đề nghị bổ sung", "đề nghị", true},
		{"Đề nghị bổ sung", "de nghi bo sung", true},
		{"Hồ sơ", "hồ sớ", true}, // diacritics are ignored both ways
		{"Hồ sơ", "ho sơ x", false},
		{"Phiếu hẹn", "", true},
		{"", "x", false},
		{"Ho\u0302\u0300 so\u031b", "hồ sơ", true}, // decomposed input
		{"ASCII Subject", "ascii subj", true},
	}
	for _, tc := range cases {
		if got := textMatch(tc.text, tc.query); got != tc.want {
			t.Errorf("textMatch(%q, %q) = %v, want %v", tc.text, tc.query, got, tc.want)
		}
	}
}

// FuzzMatch checks the SEARCH matcher's invariants on any input: it does
// not panic, a text matches itself and every piece of itself (after
// folding), folding is idempotent and matching ignores case.
func FuzzMatch(f *testing.F) {
	f.Add("Hồ sơ của ông/bà Nguyễn Văn An", "ho so")
	f.Add("ĐÃ TIẾP NHẬN", "đã")
	f.Add("\xff\xfe", "\xff")
	f.Add("Ho\u0302\u0300", "\u0300")
	f.Fuzz(func(t *testing.T, text, query string) {
		got := textMatch(text, query)
		if !textMatch(text, text) {
			t.Errorf("%q does not match itself", text)
		}
		if !textMatch(text, "") {
			t.Errorf("%q does not match the empty query", text)
		}
		ft, fq := fold(text), fold(query)
		if fold(ft) != ft {
			t.Errorf("fold not idempotent on %q: %q then %q", text, ft, fold(ft))
		}
		if got != strings.Contains(ft, fq) {
			t.Errorf("textMatch(%q, %q) = %v, folded contains = %v", text, query, got, !got)
		}
		if utf8.ValidString(text) && utf8.ValidString(query) && got && !textMatch(strings.ToUpper(text), query) && fold(strings.ToUpper(text)) == ft {
			t.Errorf("case changes the match of %q in %q", query, text)
		}
		if n := len(ft); n > 0 {
			if !foldedMatch(ft, ft[:n/2]) {
				t.Errorf("%q does not contain its own prefix", ft)
			}
		}
	})
}

func TestHeaderFields(t *testing.T) {
	raw := []byte("From: a@b\r\nSUBJECT: =?utf-8?q?H=E1=BB=93_s=C6=A1?=\r\n  tiep nhan\r\nX-A:1\r\nsubject:second\n\r\nSubject: body, not header\r\n")
	cases := []struct {
		key  string
		want []string
	}{
		{"Subject", []string{"=?utf-8?q?H=E1=BB=93_s=C6=A1?= tiep nhan", "second"}},
		{"x-a", []string{"1"}},
		{"To", nil},
	}
	for _, tc := range cases {
		if got := headerFields(raw, tc.key); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("headerFields(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
	if !headerMatch(raw, "subject", fold("hồ sơ tiếp")) {
		t.Error("decoded, folded Subject did not match")
	}
	if headerMatch(raw, "subject", "body") {
		t.Error("matched the body as a header")
	}
}
