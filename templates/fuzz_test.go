package templates

import (
	"strings"
	"testing"
)

// FuzzRender feeds arbitrary template text and data values to the parser
// and renderer: nothing may panic, the HTML never carries a <script tag or
// a javascript: link (template text and values are both escaped), and the
// subject stays one line.
func FuzzRender(f *testing.F) {
	seeds := []struct{ body, value string }{
		{"Kính gửi Ông/Bà ((a)),\n\n- ((b|date))\n- ((c))", "<script>alert(1)</script>"},
		{"((if a))((b))((else))((c))((end))", "2026-03-15T09:00:00+07:00"},
		{"((a?? x ((b)) y))", "\r\nBcc: x@y"},
		{"[x](((a))) https://x.vn/((b)) **((c))**", "javascript:alert(1)"},
		{"# ((a))\n^ ((b))\n1. ((c|count))\n---", "**x** [y](z)"},
		{"(((a)))((d.e|vnd))", "1500000"},
		{"((n|join))\n((n))", "\uE0000\uE001"},
		{"<script>((a))</script>", "<scr<script>ipt>"},
	}
	for _, s := range seeds {
		f.Add(s.body, s.value)
	}
	f.Fuzz(func(t *testing.T, body, value string) {
		data := map[string]any{
			"a": value, "b": value, "c": []any{value, "x"}, "n": []string{value},
			"d": map[string]any{"e": value},
		}
		for _, ch := range []string{Email, SMS} {
			src := "id: fuzz\nversion: 1\nchannel: " + ch + "\n"
			if ch == Email {
				src += "subject: ((a)) ((if b))((b))((end))\n"
			}
			tp, err := Parse([]byte(src + "---\n" + body))
			if err != nil {
				continue
			}
			tp.FoldDiacritics = true
			tp.Fields()
			r, err := tp.Render(data)
			if err != nil {
				continue
			}
			lower := strings.ToLower(r.HTML)
			if strings.Contains(lower, "<script") {
				t.Fatalf("HTML carries a <script tag:\n%s", r.HTML)
			}
			if strings.Contains(lower, `href="javascript`) {
				t.Fatalf("HTML carries a javascript: link:\n%s", r.HTML)
			}
			if strings.ContainsAny(r.Subject, "\r\n") {
				t.Fatalf("subject %q has a line break", r.Subject)
			}
			if strings.ContainsRune(r.HTML, markOpen) || strings.ContainsRune(r.Text, markOpen) {
				t.Fatalf("a value marker leaked into the output")
			}
		}
	})
}

// FuzzParse feeds whole template files, header included, to Parse.
func FuzzParse(f *testing.F) {
	f.Add([]byte("id: a\nversion: 1\nchannel: email\nsubject: ((x))\n---\n((if y))((z|date))((end))"))
	f.Add([]byte("id: a\nversion: 1\nchannel: sms\nfold_diacritics: true\nmax_parts: 2\nfields: a, b.c\n---\n((a))"))
	f.Add([]byte("---\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		tp, err := Parse(src)
		if err != nil {
			return
		}
		if tp.ID == "" || tp.Version < 1 || (tp.Channel != Email && tp.Channel != SMS) {
			t.Fatalf("Parse accepted a template without id, version or channel: %+v", tp)
		}
		_, _ = tp.Render(map[string]any{})
	})
}
