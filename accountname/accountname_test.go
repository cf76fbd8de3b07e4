package accountname

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string // want "" for invalid
	}{
		{"canbo@demo.gov.vn", "canbo@demo.gov.vn"},
		{" CanBo@Demo.GOV.vn\t", "canbo@demo.gov.vn"},
		{"a.b+c@x.vn", "a.b+c@x.vn"},
		{"cán.bộ@demo.gov.vn", "cán.bộ@demo.gov.vn"},
		{"canbo@bộ-tư-pháp.gov.vn", "canbo@xn--b-t-php-mwa37p164l.gov.vn"},
		{"canbo@BỘ-TƯ-PHÁP.gov.vn", "canbo@xn--b-t-php-mwa37p164l.gov.vn"},
		{"canbo@xn--b-t-php-mwa37p164l.gov.vn", "canbo@xn--b-t-php-mwa37p164l.gov.vn"},
		{"canbo@ｄｅｍｏ.gov.vn", "canbo@demo.gov.vn"}, // full-width, mapped by UTS #46
		// Not valid user names.
		{"canbo@ demo.gov.vn", ""},
		{"canbo @demo.gov.vn", ""},
		{"canbo@demo.gov.vn.", ""},
		{"canbo@demo.gov.vn. ", ""},
		{"canbo@demo .gov.vn", ""},
		{"can bo@demo.gov.vn", ""},
		{"canbo@demo.gov.vn\x00", ""},
		{"can\x00bo@demo.gov.vn", ""},
		{"canbo@@demo.gov.vn", ""},
		{"canbo@demo.gov.vn@demo.gov.vn", ""},
		{"canbo", ""},
		{"@demo.gov.vn", ""},
		{"canbo@", ""},
		{".canbo@demo.gov.vn", ""},
		{"can..bo@demo.gov.vn", ""},
		{"canbo@demo..gov.vn", ""},
		{"canbo@-demo.gov.vn", ""},
		{"canbo@demo_x.gov.vn", ""},
		{"canbo@xn--zz.gov.vn", ""}, // bad punycode
		{"canbo@demo。gov。vn。", ""},  // ideographic full stops, trailing
		{strings.Repeat("a", 65) + "@demo.gov.vn", ""},
		{"canbo@" + strings.Repeat("a.", 127) + "vn", ""},
		{"can\xffbo@demo.gov.vn", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if tt.want == "" {
				if err == nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("got %q, %v, want an error wrapping ErrInvalid", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"canbo@demo.gov.vn", "canbo@demo.gov.vn"},
		{" CANBO@demo.gov.vn ", "canbo@demo.gov.vn"},
		{"canbo@ demo.gov.vn", "canbo@demo.gov.vn"},
		{"canbo @demo.gov.vn", "canbo@demo.gov.vn"},
		{"canbo@demo.gov.vn.", "canbo@demo.gov.vn"},
		{"canbo@demo.gov.vn..", "canbo@demo.gov.vn"},
		{"canbo@de mo.gov.vn.", "canbo@demo.gov.vn"},
		{"Canbo@\tDEMO.gov.vn\r\n", "canbo@demo.gov.vn"},
		{"canbo@demo.gov.vn\x00", "canbo@demo.gov.vn"},
		{"canbo@bộ-tư-pháp.gov.vn.", "canbo@xn--b-t-php-mwa37p164l.gov.vn"},
		{"canbo@demo。gov。vn。", "canbo@demo.gov.vn"},
		{"a@b@c", "a@b@c"},
		{"  ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Key(tt.in); got != tt.want {
				t.Errorf("Key(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if k := Key(strings.Repeat("ộ", 1000)); len(k) > maxKey || !utf8.ValidString(k) {
		t.Errorf("Key of a long name: %d bytes, valid UTF-8 %v", len(k), utf8.ValidString(k))
	}
}

// FuzzNormalize: a valid name's key is its canonical form, the canonical
// form is a fixed point, and every key is bounded and valid UTF-8.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"canbo@demo.gov.vn", "canbo@ demo.gov.vn", "canbo@demo.gov.vn.", " CanBo@Demo.GOV.vn",
		"cán.bộ@bộ-tư-pháp.gov.vn", "canbo@xn--b-t-php-mwa37p164l.gov.vn", "canbo@ｄｅｍｏ.gov.vn",
		"a@b@c", "canbo@demo。gov。vn", "\x00@\xff", "canbo@demo.gov.vn\u200b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Key(s)
		if len(k) > maxKey || !utf8.ValidString(k) {
			t.Fatalf("Key(%q) = %q: %d bytes, valid UTF-8 %v", s, k, len(k), utf8.ValidString(k))
		}
		c, err := Normalize(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Normalize(%q): %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if k != c {
			t.Fatalf("Key(%q) = %q, Normalize = %q", s, k, c)
		}
		if c2, err := Normalize(c); err != nil || c2 != c {
			t.Fatalf("Normalize(%q) = %q, then %q, %v: not a fixed point", s, c, c2, err)
		}
		if Key(c) != c {
			t.Fatalf("Key(%q) = %q, want the name itself", c, Key(c))
		}
	})
}
