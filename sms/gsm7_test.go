package sms

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
)

type gsmEntry struct {
	septets []byte
	r       rune
}

// readGSM0338 reads testdata/GSM0338.TXT, written out independently of the
// tables in gsm7.go.
func readGSM0338(t *testing.T) []gsmEntry {
	t.Helper()
	f, err := os.Open("testdata/GSM0338.TXT")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []gsmEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Fields(line)
		s, err1 := strconv.ParseUint(fields[0], 0, 16)
		u, err2 := strconv.ParseUint(fields[1], 0, 32)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad line %q", line)
		}
		e := gsmEntry{r: rune(u)}
		if s > 0xFF {
			e.septets = []byte{byte(s >> 8), byte(s)}
		} else {
			e.septets = []byte{byte(s)}
		}
		out = append(out, e)
	}
	return out
}

func TestGSM0338Mapping(t *testing.T) {
	entries := readGSM0338(t)
	var basic, ext int
	inFile := map[rune]bool{}
	for _, e := range entries {
		inFile[e.r] = true
		if len(e.septets) == 1 {
			basic++
		} else {
			ext++
		}
		t.Run(strconv.QuoteRune(e.r), func(t *testing.T) {
			got, err := EncodeGSM7(string(e.r))
			if err != nil || !bytes.Equal(got, e.septets) {
				t.Errorf("EncodeGSM7(%q) = % X, %v; want % X", e.r, got, err, e.septets)
			}
			back, err := DecodeGSM7(e.septets)
			if err != nil || back != string(e.r) {
				t.Errorf("DecodeGSM7(% X) = %q, %v; want %q", e.septets, back, err, e.r)
			}
			if n := GSMSeptets(e.r); n != len(e.septets) {
				t.Errorf("GSMSeptets(%q) = %d, want %d", e.r, n, len(e.septets))
			}
		})
	}
	if basic != 127 || ext != 10 {
		t.Fatalf("got %d basic and %d extension entries in the file, want 127 and 10", basic, ext)
	}
	// Nothing outside the mapping is encodable.
	for r := rune(0); r < 0x10000; r++ {
		if n := GSMSeptets(r); (n > 0) != inFile[r] {
			t.Fatalf("GSMSeptets(%U) = %d, but in mapping = %v", r, n, inFile[r])
		}
	}
}

func TestEncodeGSM7Rejects(t *testing.T) {
	for _, s := range []string{"ç", "ồ", "đ", "😀", "`", "“quoted”", "\t"} {
		if b, err := EncodeGSM7("ok " + s); err == nil {
			t.Errorf("EncodeGSM7(%q) = % X, want ErrNotGSM7", s, b)
		}
	}
}

func TestDecodeGSM7Odd(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
		ok   bool
	}{
		{[]byte{0x1B, 0x41}, "A", true}, // unknown extension: basic char
		{[]byte{0x1B, 0x1B}, " ", true},
		{[]byte{0x41, 0x1B}, "", false},
		{[]byte{0x80}, "", false},
		{[]byte{0x1B, 0x80}, "", false},
	}
	for _, tt := range tests {
		got, err := DecodeGSM7(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("DecodeGSM7(% X) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestPackSeptets(t *testing.T) {
	tests := []struct {
		text string
		fill int
		want string
	}{
		{"hellohello", 0, "E8329BFD4697D9EC37"},
		{"hello", 0, "E8329BFD06"},
		{"", 0, ""},
		{"a", 0, "61"},
		{"12345678", 0, "31D98C56B3DD70"}, // 8 septets in 7 octets
		{"A", 1, "82"},                    // after a 6-octet UDH
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			s, err := EncodeGSM7(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.ToUpper(hex.EncodeToString(PackSeptets(s, tt.fill)))
			if got != tt.want {
				t.Fatalf("PackSeptets(%q, %d) = %s, want %s", tt.text, tt.fill, got, tt.want)
			}
			back, err := UnpackSeptets(PackSeptets(s, tt.fill), len(s), tt.fill)
			if err != nil || !bytes.Equal(back, s) {
				t.Fatalf("UnpackSeptets = % X, %v; want % X", back, err, s)
			}
		})
	}
}

func TestPackRoundTripAllSeptets(t *testing.T) {
	all := make([]byte, 128)
	for i := range all {
		all[i] = byte(i)
	}
	for fill := 0; fill <= 6; fill++ {
		for n := 0; n <= len(all); n++ {
			p := PackSeptets(all[:n], fill)
			if want := (fill + 7*n + 7) / 8; len(p) != want {
				t.Fatalf("fill %d n %d: got %d octets, want %d", fill, n, len(p), want)
			}
			back, err := UnpackSeptets(p, n, fill)
			if err != nil || !bytes.Equal(back, all[:n]) {
				t.Fatalf("fill %d n %d: round trip got % X, %v", fill, n, back, err)
			}
		}
	}
	if _, err := UnpackSeptets([]byte{1, 2}, 3, 0); err == nil {
		t.Fatal("UnpackSeptets of 2 octets for 3 septets: got no error")
	}
}

func TestUCS2(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"Hồ", "00481ED3"},
		{"đ", "0111"},
		{"😀", "D83DDE00"},
		{"a😀b", "0061D83DDE000062"},
	}
	for _, tt := range tests {
		got := strings.ToUpper(hex.EncodeToString(EncodeUCS2(tt.text)))
		if got != tt.want {
			t.Errorf("EncodeUCS2(%q) = %s, want %s", tt.text, got, tt.want)
		}
		b, _ := hex.DecodeString(tt.want)
		back, err := DecodeUCS2(b)
		if err != nil || back != tt.text {
			t.Errorf("DecodeUCS2(%s) = %q, %v; want %q", tt.want, back, err, tt.text)
		}
	}
	if _, err := DecodeUCS2([]byte{0}); err == nil {
		t.Error("DecodeUCS2 of 1 octet: got no error")
	}
}
