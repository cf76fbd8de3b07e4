package console

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want query
		ok   bool
	}{
		{"000.00.12.H26-260301-0001", query{DossierCode: "000.00.12.H26-260301-0001", Kind: "dossier"}, true},
		{" 0912.345.678 ", query{Recipient: "+84912345678", Kind: "phone"}, true},
		{"+84 912 345 678", query{Recipient: "+84912345678", Kind: "phone"}, true},
		{"84912345678", query{Recipient: "+84912345678", Kind: "phone"}, true},
		{"An.Nguyen@Example.COM", query{Recipient: "an.nguyen@example.com", Kind: "email"}, true},
		{"", query{}, false},
		{"   ", query{}, false},
		{strings.Repeat("x", 65), query{}, false},
		{strings.Repeat("x", 321) + "@a", query{}, false},
	} {
		got, ok := parseQuery(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseQuery(%q): got %+v %v, want %+v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFormats(t *testing.T) {
	at := time.Date(2026, 3, 15, 2, 5, 0, 0, time.UTC) // 09:05 in Hà Nội
	if got := formatDateTime(at); got != "15/03/2026 09:05" {
		t.Errorf("formatDateTime: got %q", got)
	}
	for n, want := range map[int64]string{0: "0 đồng", 1500000: "1.500.000 đồng", 999: "999 đồng", -25000: "-25.000 đồng"} {
		if got := formatDong(n); got != want {
			t.Errorf("formatDong(%d): got %q, want %q", n, got, want)
		}
	}
	if got := formatDuration(2400 * time.Millisecond); got != "2,4 giây" {
		t.Errorf("formatDuration: got %q", got)
	}
	if got := maskedRecipient("+84912345678"); got != "+84 912 345 678" {
		t.Errorf("maskedRecipient: got %q", got)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/admin/lookup?q=1": "/admin/lookup?q=1", "https://evil.example/": "/admin/", "//evil.example/admin/": "/admin/",
		"/admin/\\evil": "/admin/", "": "/admin/", "/other": "/admin/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q): got %q, want %q", in, got, want)
		}
	}
}

// FuzzParseQuery: whatever is typed in the lookup box is read as one of
// the three kinds, bounded, or refused.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"000.00.12.H26-260301-0001", "0912 345 678", "+84912345678", "a@b.vn", "", "Đ@đ", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, ok := parseQuery(s)
		if !ok {
			return
		}
		switch q.Kind {
		case "dossier":
			if q.DossierCode == "" || len(q.DossierCode) > 64 || q.Recipient != "" {
				t.Fatalf("%q: %+v", s, q)
			}
		case "phone":
			if !strings.HasPrefix(q.Recipient, "+84") || !utf8.ValidString(q.Recipient) {
				t.Fatalf("%q: %+v", s, q)
			}
		case "email":
			if !strings.Contains(q.Recipient, "@") || len(q.Recipient) > 4*320 {
				t.Fatalf("%q: %+v", s, q)
			}
		default:
			t.Fatalf("%q: kind %q", s, q.Kind)
		}
	})
}
