package sms

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePhone(t *testing.T) {
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
		{"091234567", "", ErrInvalidPhone},    // 8 digits
		{"09123456789", "", ErrInvalidPhone},  // 10 digits
		{"0112 345 678", "", ErrInvalidPhone}, // no such prefix
		{"", "", ErrInvalidPhone},
		{"abc", "", ErrInvalidPhone},
		{"+", "", ErrInvalidPhone},
		{"0912345678 ext. 12", "", ErrInvalidPhone},
		{strings.Repeat("9", 200), "", ErrInvalidPhone},
		{"hello 0912345678", "", ErrInvalidPhone},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePhone(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParsePhone(%q) = %q, %v; want error %v", tt.in, got, err, tt.err)
				}
				var pe *PhoneError
				if !errors.As(err, &pe) {
					t.Fatalf("got error type %T, want *PhoneError", err)
				}
				if tt.in != "" && len(tt.in) > 6 && strings.Contains(err.Error(), tt.in) {
					t.Errorf("error %q repeats the number", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePhone(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParsePhone(%q) = %q, want %q", tt.in, got, tt.want)
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

func FuzzParsePhone(f *testing.F) {
	for _, s := range []string{"0912 345 678", "+84 912.345.678", "84912345678", "024 3825 1234", "+1 202 555 0143", "", "+84"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParsePhone(s)
		if err != nil {
			var pe *PhoneError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T, want *PhoneError", err)
			}
			return
		}
		if len(got) != 12 || !strings.HasPrefix(got, "+84") || !strings.ContainsRune("35789", rune(got[3])) {
			t.Fatalf("ParsePhone(%q) = %q, not a +84 mobile in E.164", s, got)
		}
		for _, c := range got[1:] {
			if c < '0' || c > '9' {
				t.Fatalf("ParsePhone(%q) = %q, non-digit", s, got)
			}
		}
		// Canonical form parses to itself.
		again, err := ParsePhone(got)
		if err != nil || again != got {
			t.Fatalf("ParsePhone(%q) = %q, %v; want %q", got, again, err, got)
		}
		if m := Mask(got); strings.Contains(m, got[5:10]) {
			t.Fatalf("Mask(%q) = %q shows the middle", got, m)
		}
	})
}
