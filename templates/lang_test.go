package templates

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// smsTemplate parses an SMS template with body (no folding), failing the test on error.
func smsTemplate(t testing.TB, body string) *Template {
	t.Helper()
	tp, err := Parse([]byte("id: t\nversion: 1\nchannel: sms\n---\n" + body))
	if err != nil {
		t.Fatalf("Parse(%q): %v", body, err)
	}
	return tp
}

// emailTemplate parses an email template, failing the test on error.
func emailTemplate(t testing.TB, subject, body string) *Template {
	t.Helper()
	tp, err := Parse([]byte("id: t\nversion: 1\nchannel: email\nsubject: " + subject + "\n---\n" + body))
	if err != nil {
		t.Fatalf("Parse(%q): %v", body, err)
	}
	return tp
}

func TestRenderPlaceholders(t *testing.T) {
	data := map[string]any{
		"name":      "Nguyễn Văn An",
		"code":      "000.00.12.H26-260315-0001",
		"applicant": map[string]any{"name": "Trần Thị Bình", "phone": map[string]string{"mobile": "0912"}},
		"flat.key":  "phẳng",
		"empty":     "  ",
		"no":        false,
		"yes":       true,
		"zero":      0,
		"list":      []string{"A", "B"},
		"when":      "2026-03-14T18:30:00Z",
	}
	tests := []struct {
		name, body, want string
	}{
		{"plain", "Chào ((name))", "Chào Nguyễn Văn An"},
		{"spaces in tag", "Chào (( name ))", "Chào Nguyễn Văn An"},
		{"nested object", "((applicant.name)) ((applicant.phone.mobile))", "Trần Thị Bình 0912"},
		{"flat dotted key", "((flat.key))", "phẳng"},
		{"filter", "Ngày ((when|date)) lúc ((when|time))", "Ngày 15/03/2026 lúc 01:30"},
		{"if true with inner placeholder", "A((if code)) mã ((code))((end)).", "A mã 000.00.12.H26-260315-0001."},
		{"if false skips missing inner", "A((if missing)) mã ((missing))((end)).", "A."},
		{"if else", "((if missing))có((else))không có ((name))((end))", "không có Nguyễn Văn An"},
		{"blank is false", "((if empty))x((else))y((end))", "y"},
		{"bool false", "((if no))x((else))y((end))", "y"},
		{"bool true", "((if yes))x((else))y((end))", "x"},
		{"zero is true", "((if zero))x((end))", "x"},
		{"nested ifs", "((if name))1((if missing))2((else))3((if code))4((end))((end))((end))", "134"},
		{"short form", "Hồ sơ((code?? mã ((code)) của ((name)))).", "Hồ sơ mã 000.00.12.H26-260315-0001 của Nguyễn Văn An."},
		{"short form false", "Hồ sơ((missing?? mã ((missing)))).", "Hồ sơ."},
		{"list inline", "Cần: ((list)).", "Cần: A, B."},
		{"count", "((list|count)) mục", "2 mục"},
		{"triple paren", "(((name)))", "(Nguyễn Văn An)"},
		{"single parens are text", "(a) (b)", "(a) (b)"},
		{"standalone if lines vanish", "a\n((if name))\nb\n((end))\nc", "a\nb\nc"},
		{"standalone false", "a\n  ((if missing))\nb\n  ((end))  \nc", "a\nc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := smsTemplate(t, tt.body)
			tp.FoldDiacritics = false
			r, err := tp.Render(data)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if r.Text != tt.want {
				t.Errorf("got %q, want %q", r.Text, tt.want)
			}
		})
	}
}

func TestRenderMissing(t *testing.T) {
	data := map[string]any{"name": "An", "blank": " ", "nilv": nil, "none": []string{}, "cond": "x"}
	tests := []struct {
		name, body string
		want       []string
	}{
		{"absent", "((name)) ((code))", []string{"code"}},
		{"blank, nil and empty list", "((blank))((nilv))((none))", []string{"blank", "nilv", "none"}},
		{"inside true branch", "((if cond))((code))((end))", []string{"code"}},
		{"inside else branch taken", "((if absent))x((else))((code))((end))", []string{"code"}},
		{"dotted", "((applicant.name))", []string{"applicant.name"}},
		{"each once, sorted", "((z)) ((a)) ((z))", []string{"a", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := smsTemplate(t, tt.body).Render(data)
			var me *MissingError
			if !errors.As(err, &me) {
				t.Fatalf("got error %v, want *MissingError", err)
			}
			if !reflect.DeepEqual(me.Fields, tt.want) {
				t.Errorf("got fields %q, want %q", me.Fields, tt.want)
			}
		})
	}
}

func TestRenderMissingAcrossSubjectAndBody(t *testing.T) {
	tp := emailTemplate(t, "Hồ sơ ((dossier_code))", "Kính gửi ((applicant.name))")
	_, err := tp.Render(nil)
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("got %v, want *MissingError", err)
	}
	if want := []string{"applicant.name", "dossier_code"}; !reflect.DeepEqual(me.Fields, want) {
		t.Errorf("got %q, want %q", me.Fields, want)
	}
	if !strings.Contains(err.Error(), "applicant.name, dossier_code") {
		t.Errorf("got message %q, want both names", err.Error())
	}
}

func TestRenderValueError(t *testing.T) {
	_, err := smsTemplate(t, "((amount|vnd))").Render(map[string]any{"amount": "nhiều"})
	var ve *ValueError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want *ValueError", err)
	}
	if ve.Field != "amount" || ve.Filter != "vnd" {
		t.Errorf("got field %q filter %q, want amount vnd", ve.Field, ve.Filter)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"unclosed if", "a ((if x)) b", "has no ((end))"},
		{"stray end", "a ((end))", "without ((if"},
		{"stray else", "((else))", "without ((if"},
		{"two elses", "((if x))a((else))b((else))c((end))", "second ((else))"},
		{"unclosed tag", "((name", `expected "))"`},
		{"empty tag", "(())", "expected a name"},
		{"bad name", "((1abc))", "bad placeholder name"},
		{"bad dotted name", "((a..b))", "bad placeholder name"},
		{"unknown filter", "((a|money))", `unknown filter "money"`},
		{"empty filter", "((a|))", "expected a filter name"},
		{"unclosed short form", "((a?? text", "unclosed"},
		{"else in short form", "((a?? x ((else)) y))", "inside ((a??"},
		{"if without name", "((if ))", "needs a name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte("id: t\nversion: 1\nchannel: sms\n---\n" + tt.body))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want *SyntaxError", err)
			}
			if !strings.Contains(se.Msg, tt.want) {
				t.Errorf("got %q, want it to contain %q", se.Msg, tt.want)
			}
		})
	}
}

func TestSyntaxErrorLine(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
	}{
		{"body", "id: a\nversion: 1\nchannel: sms\n---\nx\n((if a))\n", 6},
		{"body after blank lines", "id: a\nversion: 1\nchannel: sms\n---\n\n\nx ((b", 7},
		{"subject", "id: a\nsubject: ((x\nversion: 1\nchannel: email\n---\nx", 2},
		{"header", "id: a\nversion: 1\nchannel: sms\nnonsense\n---\nx", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want *SyntaxError", err)
			}
			if se.Line != tt.line {
				t.Errorf("got line %d, want %d (%v)", se.Line, tt.line, err)
			}
		})
	}
}

func TestParseDeepNesting(t *testing.T) {
	body := strings.Repeat("((if a))", maxDepth+1) + strings.Repeat("((end))", maxDepth+1)
	if _, err := Parse([]byte("id: t\nversion: 1\nchannel: sms\n---\n" + body)); err == nil {
		t.Errorf("got no error for %d nested conditionals, want one", maxDepth+1)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"no separator", "id: a\nversion: 1\nchannel: sms\nbody", `no "---"`},
		{"no id", "version: 1\nchannel: sms\n---\nx", "missing id"},
		{"bad id", "id: A B\nversion: 1\nchannel: sms\n---\nx", "bad id"},
		{"no version", "id: a\nchannel: sms\n---\nx", "missing version"},
		{"bad version", "id: a\nversion: v2\nchannel: sms\n---\nx", "positive integer"},
		{"bad channel", "id: a\nversion: 1\nchannel: fax\n---\nx", "email, sms or zalo"},
		{"bad status", "id: a\nversion: 1\nchannel: sms\nstatus: lost\n---\nx", "unknown status"},
		{"unknown key", "id: a\nversion: 1\nchannel: sms\ncolour: red\n---\nx", "unknown header key"},
		{"duplicate key", "id: a\nid: b\nversion: 1\nchannel: sms\n---\nx", "given twice"},
		{"sms subject", "id: a\nversion: 1\nchannel: sms\nsubject: x\n---\nx", "no subject"},
		{"email fold", "id: a\nversion: 1\nchannel: email\nfold_diacritics: true\n---\nx", "for sms"},
		{"bad bool", "id: a\nversion: 1\nchannel: sms\nfold_diacritics: yes please\n---\nx", "true or false"},
		{"subject syntax", "id: a\nversion: 1\nchannel: email\nsubject: ((if x))\n---\nx", "no ((end))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestTemplateFields(t *testing.T) {
	tp := emailTemplate(t, "Hồ sơ ((dossier_code))", "((applicant.name)) ((if reason))((reason)) ((legal_basis))((end)) ((dossier_code)) ((x?? ((y))))")
	req, opt := tp.Fields()
	if want := []string{"applicant.name", "dossier_code"}; !reflect.DeepEqual(req, want) {
		t.Errorf("required: got %q, want %q", req, want)
	}
	if want := []string{"legal_basis", "reason", "x", "y"}; !reflect.DeepEqual(opt, want) {
		t.Errorf("optional: got %q, want %q", opt, want)
	}
}
