package templates

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestFormatFilters(t *testing.T) {
	tests := []struct {
		filter string
		in     any
		want   string
	}{
		{"vnd", 1500000, "1.500.000 đồng"},
		{"vnd", int64(0), "0 đồng"},
		{"vnd", 999, "999 đồng"},
		{"vnd", 1000, "1.000 đồng"},
		{"vnd", float64(75000), "75.000 đồng"}, // encoding/json's number type
		{"vnd", json.Number("1234567890"), "1.234.567.890 đồng"},
		{"vnd", "2500000", "2.500.000 đồng"},
		{"vnd", -1500000, "-1.500.000 đồng"},
		{"number", uint32(100000), "100.000"},
		{"date", "2026-03-15T09:00:00+07:00", "15/03/2026"},
		{"date", "2026-03-14T18:30:00Z", "15/03/2026"},      // UTC evening is the next day in Hà Nội
		{"date", "2026-03-14T16:59:59Z", "14/03/2026"},      // one second before midnight +07:00
		{"date", "2026-03-14T17:00:00Z", "15/03/2026"},      // midnight +07:00
		{"date", "2026-12-31T20:00:00-05:00", "01/01/2027"}, // across a year, from another zone
		{"date", "2026-03-15", "15/03/2026"},
		{"date", time.Date(2026, 3, 14, 23, 0, 0, 0, time.UTC), "15/03/2026"},
		{"time", "2026-03-15T02:05:00Z", "09:05"},
		{"time", "2026-03-15T16:30:00+07:00", "16:30"},
		{"datetime", "2026-03-14T18:30:00Z", "01:30 15/03/2026"},
		{"join", []any{"a", " ", "b"}, "a, b"},
		{"count", []string{"a", "b", ""}, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.filter+"/"+stringOf(tt.in), func(t *testing.T) {
			got, err := applyFilter(tt.filter, tt.in)
			if err != nil {
				t.Fatalf("applyFilter(%q, %#v): %v", tt.filter, tt.in, err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func stringOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestFormatFilterErrors(t *testing.T) {
	tests := []struct {
		filter string
		in     any
		want   error
	}{
		{"vnd", 1500000.5, errNotInteger},
		{"vnd", "1,5 triệu", errNotInteger},
		{"vnd", true, errNotInteger},
		{"date", "15/03/2026", errNotTime},
		{"date", 20260315, errNotTime},
		{"count", "x", errNotList},
	}
	for _, tt := range tests {
		t.Run(tt.filter+"/"+stringOf(tt.in), func(t *testing.T) {
			_, err := applyFilter(tt.filter, tt.in)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hồ sơ đã được tiếp nhận", "Ho so da duoc tiep nhan"},
		{"ĐỒNG Đức Nguyễn", "DONG Duc Nguyen"},
		{"UBND Q.Hoàn Kiếm", "UBND Q.Hoan Kiem"},
		{"Ho\u0302\u0300 so\u031b", "Ho so"}, // decomposed input
		{"1.500.000 đồng", "1.500.000 dong"},
		{"ASCII only 123", "ASCII only 123"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := fold(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCleanValue(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		oneLine bool
		want    string
	}{
		{"crlf body", "a\r\nb\rc", false, "a\nb\nc"},
		{"crlf one line", "a\r\nBcc: x@y", true, "a Bcc: x@y"},
		{"controls", "a\x00b\x1bc\x7f", false, "abc"},
		{"bidi override", "abc\u202Edef", false, "abcdef"},
		{"markers", "x\uE0000\uE001y", false, "x0y"},
		{"nfc", "Nguye\u0302\u0303n", false, "Nguyễn"},
		{"tab", "a\tb", false, "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cleanValue(tt.in, tt.oneLine); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Hồ sơ \r\nBcc: x@y  ", "Hồ sơ Bcc: x@y"},
		{"a\u2028b\u0085c", "a b c"},
		{"a\t\tb", "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := oneLine(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFoldTable: fold's table gives what the full algorithm gives, for
// every letter in it, for Vietnamese text, and for text the table cannot
// take (combining marks, other scripts).
func TestFoldTable(t *testing.T) {
	if len(foldTable) < 200 {
		t.Fatalf("foldTable has %d letters: Vietnamese alone has 134 with diacritics", len(foldTable))
	}
	for r, c := range foldTable {
		if got, want := fold(string(r)), foldSlow(string(r)); got != want || got != string(c) {
			t.Errorf("%q: fold %q, full algorithm %q, table %q", r, got, want, c)
		}
	}
	for _, s := range []string{
		"", "ASCII only 123", "Kính gửi Ông/Bà Nguyễn Văn An, hồ sơ 000.12 đã được tiếp nhận ngày 15/03/2026.",
		"ĐÀ NẴNG – Ủy ban nhân dân", "e\u0301 combining", "Tiếng Việt và 中文", "tab\tand\nnewline ắ", "Ỹỹ ỵ Ỷ",
	} {
		if got, want := fold(s), foldSlow(s); got != want {
			t.Errorf("fold(%q) = %q, full algorithm %q", s, got, want)
		}
	}
}

func BenchmarkFold(b *testing.B) {
	s := "Kinh gui Ong/Ba Nguyễn Văn An, hồ sơ 000.00.12.H26-260315-0001 đã được tiếp nhận; hẹn trả kết quả ngày 29/03/2026 tại Bộ phận một cửa UBND quận Hoàn Kiếm."
	for range b.N {
		fold(s)
	}
}
