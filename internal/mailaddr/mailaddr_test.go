package mailaddr

import "testing"

func TestDomain(t *testing.T) {
	for in, want := range map[string]string{
		"an@Hanoi.GOV.vn":             "hanoi.gov.vn",
		"an@hanoi.gov.vn.":            "hanoi.gov.vn",
		`"a@b"@c.example`:             "c.example",
		"no-at":                       "",
		"trailing@":                   "",
		"bộ@bộ-tư-pháp.gov.vn":        "bộ-tư-pháp.gov.vn",
		"x@XN--B-T-PHP-MWA37P164L.VN": "xn--b-t-php-mwa37p164l.vn",
	} {
		if got := Domain(in); got != want {
			t.Errorf("Domain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsASCII(t *testing.T) {
	for in, want := range map[string]bool{"": true, "an@hanoi.gov.vn": true, "\x7f": true, "Hồ sơ": false, "\x80": false} {
		if got := IsASCII(in); got != want {
			t.Errorf("IsASCII(%q) = %v, want %v", in, got, want)
		}
	}
}
