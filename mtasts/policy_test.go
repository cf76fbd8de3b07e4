package mtasts

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	p, err := Parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.Backup.Example.com.\r\nmax_age: 604800\r\nextension: ignored\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != Enforce || p.MaxAge != 604800 || !slices.Equal(p.MX, []string{"mail.example.com", "*.backup.example.com"}) {
		t.Fatalf("parsed %+v", p)
	}
	// LF line ends, spaces around values, max_age capped at a year.
	p, err = Parse("version:STSv1\nmode:  testing \nmx: mx.gov.vn\nmax_age: 99999999\n")
	if err != nil || p.Mode != Testing || p.MaxAge != MaxAge {
		t.Fatalf("parsed %+v, %v", p, err)
	}
	// Of a key given twice the first counts; a bad mx is skipped.
	p, err = Parse("version: STSv1\nmode: enforce\nmode: none\nmx: mail_1.gov.vn\nmx: mx.gov.vn\nmax_age: 600\nmax_age: 0\nversion: STSv2\n")
	if err != nil || p.Mode != Enforce || p.MaxAge != 600 || !slices.Equal(p.MX, []string{"mx.gov.vn"}) {
		t.Fatalf("lenient parse: %+v, %v", p, err)
	}
	// none needs no mx.
	if p, err := Parse("version: STSv1\nmode: none\nmax_age: 86400\n"); err != nil || p.Mode != None {
		t.Fatalf("none: %+v, %v", p, err)
	}
	bad := map[string]string{
		"no version":     "mode: enforce\nmx: a.example\nmax_age: 1\n",
		"wrong version":  "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
		"bad mode":       "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
		"no mode":        "version: STSv1\nmx: a.example\nmax_age: 1\n",
		"no max_age":     "version: STSv1\nmode: enforce\nmx: a.example\n",
		"negative age":   "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -5\n",
		"age not number": "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1d\n",
		"no mx":          "version: STSv1\nmode: enforce\nmax_age: 1\n",
		"only bad mx":    "version: STSv1\nmode: enforce\nmx: mail_server.example\nmax_age: 1\n",
		"one-label mx":   "version: STSv1\nmode: enforce\nmx: localhost\nmax_age: 1\n",
		"deep wildcard":  "version: STSv1\nmode: enforce\nmx: *.*.example.com\nmax_age: 1\n",
		"not key:value":  "version: STSv1\nmode enforce\nmx: a.example\nmax_age: 1\n",
		"html page":      "<html><body>Not found</body></html>",
	}
	for name, body := range bad {
		if p, err := Parse(body); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %+v, %v; want ErrInvalid", name, p, err)
		}
	}
}

func TestMatches(t *testing.T) {
	p := &Policy{Mode: Enforce, MX: []string{"mail.example.com", "*.mx.gov.vn"}}
	for host, want := range map[string]bool{
		"mail.example.com":      true,
		"MAIL.Example.COM.":     true,
		"mx1.mx.gov.vn":         true,
		"mx.gov.vn":             false, // the wildcard needs a label
		"a.b.mx.gov.vn":         false, // and only one
		"evil-mail.example.com": false,
		"example.com":           false,
		"mail.example.com.vn":   false,
	} {
		if got := p.Matches(host); got != want {
			t.Errorf("Matches(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestParseRecord(t *testing.T) {
	for txt, want := range map[string]string{
		"v=STSv1; id=20160831085700Z;":            "20160831085700Z",
		"v=STSv1;id=abc":                          "abc",
		"v=STSv1; id=1; ext=whatever;":            "1",
		"v=STSv1;\tid=" + strings.Repeat("a", 32): strings.Repeat("a", 32),
	} {
		if id, err := ParseRecord(txt); err != nil || id != want {
			t.Errorf("ParseRecord(%q) = %q, %v; want %q", txt, id, err, want)
		}
	}
	for _, txt := range []string{
		"v=STSv2; id=1",
		"id=1; v=STSv1",
		"v=STSv1;",
		"v=STSv1; id=",
		"v=STSv1; id=" + strings.Repeat("a", 33),
		"v=STSv1; id=2016-08-31",
		"v=STSv1; junk",
	} {
		if id, err := ParseRecord(txt); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRecord(%q) = %q, %v; want ErrInvalid", txt, id, err)
		}
	}
}

// A policy written out parses back to itself, and its record to its id.
func TestStringRoundTrip(t *testing.T) {
	p := &Policy{Mode: Enforce, MX: []string{"mail.hanoi.gov.vn", "*.mx.hanoi.gov.vn"}, MaxAge: 604800}
	body := p.String()
	q, err := Parse(body)
	if err != nil || q.Mode != p.Mode || q.MaxAge != p.MaxAge || !slices.Equal(q.MX, p.MX) {
		t.Fatalf("round trip: %+v, %v from %q", q, err, body)
	}
	id, err := ParseRecord(Record(body))
	if err != nil || id != ID(body) {
		t.Fatalf("record %q: id %q, %v", Record(body), id, err)
	}
	if ID(body) == ID(strings.Replace(body, "enforce", "testing", 1)) {
		t.Fatal("a changed policy kept its id")
	}
}
