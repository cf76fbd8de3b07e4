package sms

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEncodeChoosesAlphabet(t *testing.T) {
	const vn = "Hồ sơ của ông/bà đã được tiếp nhận"
	tests := []struct {
		name  string
		text  string
		opts  Options
		enc   Encoding
		parts int
		units int
	}{
		{"ascii", "Ho so 000.12 da duoc tiep nhan", Options{}, GSM7, 1, 30},
		{"vietnamese", vn, Options{}, UCS2, 1, 34},
		{"vietnamese folded", vn, Options{Fold: true}, GSM7, 1, 34},
		{"extension chars", "{€}", Options{}, GSM7, 1, 6},
		{"gsm accents", "à é", Options{}, GSM7, 1, 3},
		{"forced UCS-2", "abc", Options{UCS2: true}, UCS2, 1, 3},
		{"emoji", "ok 😀", Options{}, UCS2, 1, 5},
		{"fold keeps emoji", "đã 😀", Options{Fold: true}, UCS2, 1, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(tt.text, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got.Encoding != tt.enc || len(got.Parts) != tt.parts || got.Units != tt.units {
				t.Errorf("got %v, %d parts, %d units; want %v, %d parts, %d units", got.Encoding, len(got.Parts), got.Units, tt.enc, tt.parts, tt.units)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	if _, err := Encode("", Options{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("Encode(\"\"): got %v, want ErrEmpty", err)
	}
	if _, err := Encode("\xff", Options{}); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("Encode(invalid): got %v, want ErrInvalidUTF8", err)
	}
	long := strings.Repeat("ư", 67*4+1)
	enc, err := Encode(long, Options{})
	var tm *TooManyPartsError
	if !errors.As(err, &tm) || !errors.Is(err, ErrTooManyParts) {
		t.Fatalf("got %v, want *TooManyPartsError", err)
	}
	if tm.Parts != 5 || tm.Max != 4 || tm.Encoding != UCS2 || len(enc.Parts) != 5 {
		t.Errorf("got %+v with %d parts, want 5 UCS-2 parts of max 4", tm, len(enc.Parts))
	}
	if want := "sms: message needs 5 UCS-2 parts, at most 4 allowed"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if _, err := Encode(long, Options{MaxParts: 5}); err != nil {
		t.Errorf("MaxParts 5: got %v, want nil", err)
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		text  string
		fold  bool
		enc   string
		parts int
		err   error
	}{
		{"Hồ sơ của ông/bà đã được tiếp nhận", true, "GSM-7", 1, nil},
		{"Hồ sơ của ông/bà đã được tiếp nhận", false, "UCS-2", 1, nil},
		{strings.Repeat("a", 160), false, "GSM-7", 1, nil},
		{strings.Repeat("a", 161), false, "GSM-7", 2, nil},
		{strings.Repeat("a", 153*4), false, "GSM-7", 4, nil},
		{strings.Repeat("a", 153*4+1), false, "GSM-7", 5, ErrTooManyParts},
		{strings.Repeat("ê", 70), false, "UCS-2", 1, nil},
		{strings.Repeat("ê", 71), false, "UCS-2", 2, nil},
		{strings.Repeat("ê", 71), true, "GSM-7", 1, nil},
		{"", false, "", 0, ErrEmpty},
	}
	for _, tt := range tests {
		name := tt.text
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(name, func(t *testing.T) {
			enc, parts, err := Count(tt.text, tt.fold)
			if enc != tt.enc || parts != tt.parts || !errors.Is(err, tt.err) {
				t.Errorf("Count = %q, %d, %v; want %q, %d, %v", enc, parts, err, tt.enc, tt.parts, tt.err)
			}
		})
	}
}

// partSizes returns each part's length in septets or UTF-16 units.
func partSizes(e Encoded) []int {
	var n []int
	for _, p := range e.Parts {
		if e.Encoding == UCS2 {
			n = append(n, len(p)/2)
		} else {
			n = append(n, len(p))
		}
	}
	return n
}

func TestSegmentBoundaries(t *testing.T) {
	a := strings.Repeat
	tests := []struct {
		name  string
		text  string
		ref16 bool
		sizes []int
		// first bytes of the second part, if any
		part2 []byte
	}{
		{"gsm 160 single", a("a", 160), false, []int{160}, nil},
		{"gsm 161", a("a", 161), false, []int{153, 8}, []byte{'a'}},
		{"gsm 306", a("a", 306), false, []int{153, 153}, nil},
		{"gsm 158+euro fits single", a("a", 158) + "€", false, []int{160}, nil},
		{"gsm 159+euro", a("a", 159) + "€", false, []int{153, 8}, nil},
		{"gsm escape pair straddles 153", a("a", 152) + "€" + a("b", 10), false, []int{152, 12}, []byte{0x1B, 0x65}},
		{"gsm escape pair ends at 153", a("a", 151) + "€" + a("b", 10), false, []int{153, 10}, []byte{'b'}},
		{"gsm escape straddles 152 ref16", a("a", 151) + "€" + a("b", 10), true, []int{151, 12}, []byte{0x1B, 0x65}},
		{"gsm ref16 161", a("a", 161), true, []int{152, 9}, nil},
		{"ucs2 70 single", a("ư", 70), false, []int{70}, nil},
		{"ucs2 71", a("ư", 71), false, []int{67, 4}, nil},
		{"ucs2 68+emoji fits single", a("ư", 68) + "😀", false, []int{70}, nil},
		{"ucs2 surrogate straddles 67", a("ư", 66) + "😀" + a("ư", 10), false, []int{66, 12}, []byte{0xD8, 0x3D}},
		{"ucs2 surrogate ends at 67", a("ư", 65) + "😀" + a("ư", 10), false, []int{67, 10}, []byte{0x01, 0xB0}},
		{"ucs2 surrogate straddles 66 ref16", a("ư", 65) + "😀" + a("ư", 10), true, []int{65, 12}, []byte{0xD8, 0x3D}},
		{"ucs2 ref16 71", a("ư", 71), true, []int{66, 5}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := Encode(tt.text, Options{Ref16: tt.ref16})
			if err != nil {
				t.Fatal(err)
			}
			got := partSizes(enc)
			if !equalInts(got, tt.sizes) {
				t.Fatalf("got part sizes %v, want %v", got, tt.sizes)
			}
			if tt.part2 != nil && !bytes.HasPrefix(enc.Parts[1], tt.part2) {
				t.Errorf("part 2 starts % X, want % X", enc.Parts[1][:len(tt.part2)], tt.part2)
			}
			checkParts(t, tt.text, enc)
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkParts checks the invariants of an Encoded: parts within limits, no
// pair split, decoded parts join to the text.
func checkParts(t *testing.T, text string, enc Encoded) {
	t.Helper()
	single, multi := PartLimits(enc.Encoding, enc.Ref16)
	limit := single
	if len(enc.Parts) > 1 {
		limit = multi
	}
	var joined strings.Builder
	total := 0
	for i, p := range enc.Parts {
		n := len(p)
		if enc.Encoding == UCS2 {
			n /= 2
			if len(p) >= 2 {
				if first := uint16(p[0])<<8 | uint16(p[1]); first >= 0xDC00 && first <= 0xDFFF {
					t.Fatalf("part %d starts with a low surrogate", i+1)
				}
			}
		} else if len(p) > 0 && splitsPair(GSM7, p, len(p)) {
			t.Fatalf("part %d ends inside an escape pair", i+1)
		}
		if n > limit || n == 0 {
			t.Fatalf("part %d has %d units, limit %d", i+1, n, limit)
		}
		total += n
		s, err := Decode(enc.Encoding, p)
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		joined.WriteString(s)
	}
	if total != enc.Units {
		t.Fatalf("parts hold %d units, Units = %d", total, enc.Units)
	}
	if joined.String() != text {
		t.Fatalf("decoded parts give %q, want %q", joined.String(), text)
	}
}

func TestConcatUDH(t *testing.T) {
	if got, want := ConcatUDH(0xAB, 3, 2, false), []byte{0x05, 0x00, 0x03, 0xAB, 0x03, 0x02}; !bytes.Equal(got, want) {
		t.Errorf("8-bit UDH = % X, want % X", got, want)
	}
	if got, want := ConcatUDH(0x1234, 3, 1, true), []byte{0x06, 0x08, 0x04, 0x12, 0x34, 0x03, 0x01}; !bytes.Equal(got, want) {
		t.Errorf("16-bit UDH = % X, want % X", got, want)
	}
}

func FuzzEncode(f *testing.F) {
	f.Add("Hồ sơ của ông/bà đã được tiếp nhận", false, false)
	f.Add("Hồ sơ của ông/bà đã được tiếp nhận", true, false)
	f.Add(strings.Repeat("a", 152)+"€"+strings.Repeat("b", 10), false, false)
	f.Add(strings.Repeat("ư", 66)+"😀"+strings.Repeat("ư", 10), false, true)
	f.Add("{[~]}|^\\€\f", false, true)
	f.Fuzz(func(t *testing.T, text string, fold, ref16 bool) {
		enc, err := Encode(text, Options{Fold: fold, Ref16: ref16, MaxParts: 1000})
		if !utf8.ValidString(text) {
			if !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("invalid UTF-8: got %v", err)
			}
			return
		}
		want := text
		if fold {
			want = Fold(text)
		}
		if want == "" {
			if !errors.Is(err, ErrEmpty) {
				t.Fatalf("empty: got %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		_, gsmErr := EncodeGSM7(want)
		if (gsmErr == nil) != (enc.Encoding == GSM7) {
			t.Fatalf("encoding %v, but GSM-7 error %v", enc.Encoding, gsmErr)
		}
		checkParts(t, want, enc)
	})
}

func BenchmarkEncode(b *testing.B) {
	cases := []struct {
		name string
		text string
		opts Options
	}{
		{"gsm7-short", "Ho so 000.12.34.H26 da duoc tiep nhan. Hen tra ket qua 15/03/2026.", Options{}},
		{"ucs2-3parts", strings.Repeat("Hồ sơ của ông/bà đã được tiếp nhận. ", 5), Options{}},
		{"fold-3parts", strings.Repeat("Hồ sơ của ông/bà đã được tiếp nhận. ", 10), Options{Fold: true}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Encode(c.text, c.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
