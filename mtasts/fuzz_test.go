package mtasts

import (
	"slices"
	"testing"
)

// Policies come from other domains' web servers: Parse never panics, and
// what it accepts writes out (String) to a body that parses to the same
// policy, whose matching never panics either.
func FuzzParse(f *testing.F) {
	f.Add(enforcePolicy)
	f.Add("version: STSv1\nmode: testing\nmx: *.mx.gov.vn\nmx: mail.gov.vn.\nmax_age: 31557600\n")
	f.Add("version: STSv1\r\nmode: none\r\nmax_age: 0\r\n")
	f.Add("version: STSv1\nmode: enforce\nmode: none\nmx: a_b.c\nmx: x.y\nmax_age: 1\nmax_age: 2\n")
	f.Add("<html>404</html>")
	f.Fuzz(func(t *testing.T, body string) {
		p, err := Parse(body)
		if err != nil {
			return
		}
		q, err := Parse(p.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, whose String %q does not parse: %v", body, p, p.String(), err)
		}
		if q.Mode != p.Mode || q.MaxAge != p.MaxAge || !slices.Equal(q.MX, p.MX) {
			t.Fatalf("round trip of %q: %+v then %+v", body, p, q)
		}
		for _, mx := range p.MX {
			p.Matches(mx)
			p.Matches("a." + mx)
		}
	})
}

// TXT records come from other domains' DNS: ParseRecord never panics, and
// an id it returns is what a record needs (1 to 32 letters and digits).
func FuzzParseRecord(f *testing.F) {
	f.Add("v=STSv1; id=20160831085700Z;")
	f.Add("v=STSv1;id=a;id=b")
	f.Add("v=STSv1; id=; x=y")
	f.Fuzz(func(t *testing.T, txt string) {
		id, err := ParseRecord(txt)
		if err != nil {
			return
		}
		if len(id) < 1 || len(id) > 32 {
			t.Fatalf("ParseRecord(%q) = %q", txt, id)
		}
		for _, c := range id {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				t.Fatalf("ParseRecord(%q) = %q", txt, id)
			}
		}
	})
}
