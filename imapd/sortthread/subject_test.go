package sortthread

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

func TestBaseSubject(t *testing.T) {
	tests := []struct {
		in    string
		vi    bool
		base  string
		reply bool
	}{
		{"hello", false, "hello", false},
		{"Re: hello", false, "hello", true},
		{"RE: Re: re: hello", false, "hello", true},
		{"Fw: hello", false, "hello", true},
		{"FWD: hello", false, "hello", true},
		{"Fwd : hello", false, "hello", true},
		{"Re [2]: hello", false, "hello", true},
		{"Re:hello", false, "hello", true},
		{"hello (fwd)", false, "hello", true},
		{"hello (FWD) (fwd)  ", false, "hello", true},
		{"Re: hello(fwd)", false, "hello", true},
		{"[PATCH] hello", false, "hello", false},
		{"[PATCH] [v2] hello", false, "hello", false},
		{"[PATCH]", false, "[PATCH]", false},
		{"[a][b]", false, "[b]", false},
		{"[a] [b] ", false, "[b]", false},
		{"Re: [list] Re: hello", false, "hello", true},
		{"[list] Re: hello", false, "hello", true},
		{"[list] Results", false, "Results", false},
		{"[Fwd: hello]", false, "hello", true},
		{"[fwd: Re: [list] hello (fwd)]", false, "hello", true},
		{"[Fwd: [Fwd: hello]]", false, "hello", true},
		{"[Fwd: hello", false, "[Fwd: hello", false},
		{"  hello\t\r\n  world  ", false, "hello world", false},
		{"Results: hello", false, "Results: hello", false},
		{"Refwd: hello", false, "Refwd: hello", false},
		{"Fwdx: hello", false, "Fwdx: hello", false},
		{"Re: ", false, "", true},
		{"", false, "", false},
		{"[unclosed Re: hello", false, "[unclosed Re: hello", false},
		{"Re: [a[b]: x", false, "[a[b]: x", true},
		// Vietnamese clients' leaders: kept without the option.
		{"TL: Hồ sơ 000.12.01", false, "TL: Hồ sơ 000.12.01", false},
		{"TL: Hồ sơ 000.12.01", true, "Hồ sơ 000.12.01", true},
		{"tl: CT: Hồ sơ", true, "Hồ sơ", true},
		{"Trả lời: Chuyển tiếp: Giấy tiếp nhận hồ sơ", true, "Giấy tiếp nhận hồ sơ", true},
		{"TRẢ LỜI: Giấy hẹn", true, "Giấy hẹn", true},
		{"Trả  lời :Giấy hẹn", true, "Giấy hẹn", true},
		{norm.NFD.String("Trả lời: Giấy hẹn"), true, "Giấy hẹn", true},
		{"[Sở Tư pháp] TL: Re: Giấy hẹn", true, "Giấy hẹn", true},
		{"Ctrl: x", true, "Ctrl: x", false},
		{"TLx: x", true, "TLx: x", false},
		{"Trả lời thư: x", true, "Trả lời thư: x", false},
	}
	for _, tt := range tests {
		base, reply := BaseSubject(tt.in, Options{Vietnamese: tt.vi})
		if tt.vi {
			base = norm.NFC.String(base)
		}
		if base != tt.base || reply != tt.reply {
			t.Errorf("BaseSubject(%q, vi=%v) = %q, %v; want %q, %v", tt.in, tt.vi, base, reply, tt.base, tt.reply)
		}
	}
}

func TestDecodeSubject(t *testing.T) {
	cp1258, err := charmap.Windows1258.NewEncoder().String("Hô\u0300 sơ") // the code page writes ồ as ô and a combining grave
	if err != nil {
		t.Fatal(err)
	}
	var q strings.Builder
	for i := 0; i < len(cp1258); i++ {
		c := cp1258[i]
		if c < 0x80 && c != ' ' && c != '=' && c != '?' && c != '_' {
			q.WriteByte(c)
		} else {
			q.WriteString("=" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"=?UTF-8?B?VEw6IEjhu5Mgc8ahIDAwMC4xMg==?=", "TL: Hồ sơ 000.12"},
		{"=?ISO-8859-1?Q?caf=E9?= (fwd)", "café (fwd)"},
		{"=?windows-1258?Q?" + q.String() + "?=", "Hồ sơ"},
		{"=?x-unknown?Q?abc?=", "=?x-unknown?Q?abc?="},
	}
	for _, tt := range tests {
		if got := norm.NFC.String(DecodeSubject(tt.in)); got != tt.want {
			t.Errorf("DecodeSubject(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestKey(t *testing.T) {
	equal := [][2]string{
		{"hello", "HELLO"},
		{"Hồ sơ", "HỒ SƠ"},
		{"Hồ sơ", norm.NFD.String("hồ sơ")},
		{"Ａ", "a"},  // fullwidth: NFKD
		{"ǆ", "Ǆ"},  // titlecase ǅ, decomposed to D ž
		{"ﬁ", "FI"}, // ligature: NFKD
		{"\xff", "\uFFFD"},
	}
	for _, p := range equal {
		if a, b := NewKey(p[0]), NewKey(p[1]); a != b {
			t.Errorf("NewKey(%q) = %q, NewKey(%q) = %q; want equal", p[0], a, p[1], b)
		}
	}
	less := [][2]string{
		{"", "a"},
		{"a", "b"},
		{"Z", "_"},       // titlecase: "_" after the letters
		{"An", "Ánh"},    // a decomposed accent sorts after the plain letter
		{"Dương", "Đào"}, // Đ does not decompose: after every ASCII letter
		{"z", "Đ"},
	}
	for _, p := range less {
		if a, b := NewKey(p[0]), NewKey(p[1]); a.Compare(b) >= 0 {
			t.Errorf("NewKey(%q).Compare(NewKey(%q)) = %d, want < 0", p[0], p[1], a.Compare(b))
		}
	}
}

// TestBaseSubjectHostile: subjects of about 64 KiB built to make the
// extraction rescan are still handled in linear time (well under the
// bound here, which only catches quadratic behaviour).
func TestBaseSubjectHostile(t *testing.T) {
	const n = 64 << 10
	for name, s := range map[string]string{
		"nested [fwd:":   strings.Repeat("[fwd:", n/6) + "x" + strings.Repeat("]", n/6),
		"blobs":          strings.Repeat("[a]", n/3),
		"blobs and text": strings.Repeat("[a] ", n/4) + "x",
		"leaders":        strings.Repeat("Re: ", n/4) + "x",
		"blob leaders":   strings.Repeat("[a] Re: ", n/8) + "x",
		"trailers":       "x" + strings.Repeat(" (fwd)", n/6),
		"open brackets":  strings.Repeat("[", n),
		"vi leaders":     strings.Repeat("Trả lời: ", n/12) + "x",
	} {
		start := time.Now()
		BaseSubject(s, Options{Vietnamese: true})
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Errorf("%s: %d octets took %v", name, len(s), d)
		}
	}
}

// TestKeyTable: the per-rune table gives the key the definition gives,
// for every rune it holds, alone and between letters.
func TestKeyTable(t *testing.T) {
	for r := rune(0x80); r < keyTableSize; r++ {
		for _, s := range []string{string(r), "a" + string(r) + "b", string(r) + string(r)} {
			if got, want := NewKey(s), slowKey(s); got != want {
				t.Fatalf("NewKey(%q) = %q, want %q", s, got, want)
			}
		}
	}
}
