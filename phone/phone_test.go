package phone

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{"0912 345 678", "+84912345678", nil},
		{"0912345678", "+84912345678", nil},
		{"0912.345.678", "+84912345678", nil},
		{"+84 912.345.678", "+84912345678", nil},
		{"+84 912 345 678", "+84912345678", nil},
		{"84912345678", "+84912345678", nil},
		{"+84912345678", "+84912345678", nil},
		{"  0912-345-678 ", "+84912345678", nil},
		{"0983 123 456", "+84983123456", nil}, // Viettel 98x
		{"0363 123 456", "+84363123456", nil}, // Viettel 3x
		{"0703 123 456", "+84703123456", nil}, // MobiFone 70x
		{"0812 345 678", "+84812345678", nil}, // VinaPhone 81x
		{"0523 456 789", "+84523456789", nil}, // Vietnamobile 52x
		{"(+84) 388 123 456", "+84388123456", nil},
		{"024 3825 1234", "", ErrNotMobile},    // Hà Nội landline
		{"+84 24 3825 1234", "", ErrNotMobile}, // same, international
		{"028 3829 5555", "", ErrNotMobile},    // TP.HCM landline
		{"1900 1234", "", ErrNotMobile},        // service number
		{"+1 202 555 0143", "", ErrNotVietnamese},
		{"+44 7911 123456", "", ErrNotVietnamese},
		{"091234567", "", ErrInvalid},    // 8 digits
		{"09123456789", "", ErrInvalid},  // 10 digits
		{"0112 345 678", "", ErrInvalid}, // no such prefix
		{"", "", ErrInvalid},
		{"abc", "", ErrInvalid},
		{"+", "", ErrInvalid},
		{"0912345678 ext. 12", "", ErrInvalid},
		{strings.Repeat("9", 200), "", ErrInvalid},
		{"hello 0912345678", "", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Parse(%q) = %q, %v; want error %v", tt.in, got, err, tt.err)
				}
				var pe *Error
				if !errors.As(err, &pe) {
					t.Fatalf("got error type %T, want *Error", err)
				}
				if tt.in != "" && len(tt.in) > 6 && strings.Contains(err.Error(), tt.in) {
					t.Errorf("error %q repeats the number", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+84912345678", "+8491*****78"},
		{"+84388123456", "+8438*****56"},
		{"", ""},
		{"12", "**"},
		{"0912345", "0*****5"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0912 345 678", "+84 912.345.678", "84912345678", "024 3825 1234", "+1 202 555 0143", "", "+84"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		// The remembered prefixes answer as the library does for the
		// number's canonical form.
		trimmed := strings.TrimSpace(s)
		plain := trimmed != "" && len(trimmed) <= maxPhoneInput && strings.Trim(trimmed, "0123456789 .-()+/") == ""
		if nsn, ok := mobileForm(trimmed); ok && plain {
			want, werr := parseLibrary("+84" + nsn)
			if got != want || (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
				t.Fatalf("Parse(%q) = %q, %v; the library says %q, %v for +84%s", s, got, err, want, werr, nsn)
			}
		}
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T, want *Error", err)
			}
			return
		}
		if len(got) != 12 || !strings.HasPrefix(got, "+84") || !strings.ContainsRune("35789", rune(got[3])) {
			t.Fatalf("Parse(%q) = %q, not a +84 mobile in E.164", s, got)
		}
		for _, c := range got[1:] {
			if c < '0' || c > '9' {
				t.Fatalf("Parse(%q) = %q, non-digit", s, got)
			}
		}
		// Canonical form parses to itself.
		again, err := Parse(got)
		if err != nil || again != got {
			t.Fatalf("Parse(%q) = %q, %v; want %q", got, again, err, got)
		}
		if m := Mask(got); strings.Contains(m, got[5:10]) {
			t.Fatalf("Mask(%q) = %q shows the middle", got, m)
		}
	})
}

// TestParsePrefixVerdict checks what Parse's prefix memory
// rests on: for 9 digits after +84, the phone number library's verdict
// depends only on the first five. Every 3-digit prefix of a mobile network
// digit is tried with several endings, and a sample of 5-digit prefixes
// with two; each must get the same answer from the library.
func TestParsePrefixVerdict(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	verdict := func(nsn string) string {
		e, err := parseLibrary("+84" + nsn)
		if err != nil {
			return err.Error()
		}
		if e != "+84"+nsn {
			t.Fatalf("library: +84%s -> %s", nsn, e)
		}
		return "ok"
	}
	valid := 0
	for _, first := range "35789" {
		for p := range 100 {
			prefix := fmt.Sprintf("%c%02d", first, p)
			want := verdict(prefix + "000000")
			if want == "ok" {
				valid++
			}
			for range 4 {
				nsn := fmt.Sprintf("%s%06d", prefix, rng.IntN(1000000))
				if got := verdict(nsn); got != want {
					t.Errorf("+84%s: %s, but +84%s000000: %s", nsn, got, prefix, want)
				}
			}
		}
	}
	if valid < 50 {
		t.Fatalf("only %d valid 3-digit mobile prefixes: the library's data looks wrong", valid)
	}
	for range 1500 {
		prefix := fmt.Sprintf("%c%04d", "35789"[rng.IntN(5)], rng.IntN(10000))
		a, b := fmt.Sprintf("%s%04d", prefix, rng.IntN(10000)), fmt.Sprintf("%s%04d", prefix, rng.IntN(10000))
		if va, vb := verdict(a), verdict(b); va != vb {
			t.Errorf("+84%s: %s, +84%s: %s", a, va, b, vb)
		}
	}
}

// TestParseMemory: the remembered verdicts give the library's answer,
// whatever the separators, for valid and refused prefixes alike.
func TestParseMemory(t *testing.T) {
	for _, in := range []string{"0912 345 678", "0912.345.679", "+84 912-345-670", "84912345671", "(091) 234 5672",
		"0199 123 456", "0599 123 456", "+84 599 123 457", "0399999999", "03 9999 9998"} {
		for range 2 { // the second call is answered from memory
			got, err := Parse(in)
			want, werr := parseLibrary(in)
			if got != want || (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
				t.Errorf("Parse(%q) = %q, %v; the library says %q, %v", in, got, err, want, werr)
			}
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for range b.N {
		if _, err := Parse("0912 345 678"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseLibrary(b *testing.B) {
	for range b.N {
		if _, err := parseLibrary("0912 345 678"); err != nil {
			b.Fatal(err)
		}
	}
}
