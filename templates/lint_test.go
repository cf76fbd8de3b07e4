package templates

import (
	"os"
	"strings"
	"testing"
	"unicode/utf16"
)

// gsmBasic and gsmExt are the GSM 03.38 default alphabet and its extension
// table (each extension character costs two septets).
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExt   = "^{}\\[~]|€\f"
)

// countParts is a small real PartCounter: GSM-7 (160 septets, 153 a part
// when concatenated) when every character is in the GSM alphabet, else
// UCS-2 (70 UTF-16 units, 67 a part).
func countParts(text string, doFold bool) (string, int, error) {
	if doFold {
		text = fold(text)
	}
	septets, gsm := 0, true
	for _, r := range text {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			septets++
		case strings.ContainsRune(gsmExt, r):
			septets += 2
		default:
			gsm = false
		}
	}
	if gsm {
		if septets <= 160 {
			return "GSM-7", 1, nil
		}
		return "GSM-7", (septets + 152) / 153, nil
	}
	units := len(utf16.Encode([]rune(text)))
	if units <= 70 {
		return "UCS-2", 1, nil
	}
	return "UCS-2", (units + 66) / 67, nil
}

func TestCountParts(t *testing.T) {
	tests := []struct {
		text  string
		fold  bool
		enc   string
		parts int
	}{
		{strings.Repeat("a", 160), false, "GSM-7", 1},
		{strings.Repeat("a", 161), false, "GSM-7", 2},
		{strings.Repeat("€", 80), false, "GSM-7", 1},
		{strings.Repeat("ồ", 70), false, "UCS-2", 1},
		{strings.Repeat("ồ", 71), false, "UCS-2", 2},
		{strings.Repeat("ồ", 71), true, "GSM-7", 1},
	}
	for _, tt := range tests {
		enc, parts, _ := countParts(tt.text, tt.fold)
		if enc != tt.enc || parts != tt.parts {
			t.Errorf("countParts(%d runes, fold %v): got %s %d, want %s %d", len([]rune(tt.text)), tt.fold, enc, parts, tt.enc, tt.parts)
		}
	}
}

func TestLintShippedSet(t *testing.T) {
	s := mustLoad(t)
	for _, p := range Lint(s, countParts) {
		t.Errorf("%s", p)
	}
	for _, p := range Lint(s, nil) {
		t.Errorf("without a counter: %s", p)
	}
}

func TestLintBadTemplates(t *testing.T) {
	s, err := LoadDir(os.DirFS("testdata/bad"))
	if err == nil {
		t.Fatalf("LoadDir(testdata/bad): got no error, want the unbalanced template reported")
	}
	if !strings.Contains(err.Error(), "bad-unbalanced-email.tmpl") {
		t.Errorf("got %v, want it to name bad-unbalanced-email.tmpl", err)
	}
	problems := Lint(s, countParts)
	want := []struct{ template, severity, msg string }{
		{"bad-unbalanced-email.tmpl", SeverityError, "((if reason)) started on line 8 has no ((end))"},
		{"bad-unknown-email", SeverityError, "unknown placeholder ((applicant_phone))"},
		{"bad-unknown-email", SeverityWarning, "declared field unused_field is never used"},
		{"bad-missing-sms", SeverityError, "sample data lacks required value(s): dossier_code"},
		{"bad-long-sms", SeverityError, "more than max_parts 4"},
		{"bad-long-sms", SeverityWarning, "folding diacritics would take"},
		{"bad-nosubject-email", SeverityError, "email template has no subject"},
		{"bad-nosample-sms", SeverityError, "no sample data"},
		{"bad-folded-ucs2-sms", SeverityWarning, "folded sample still needs UCS-2"},
		{"bad-id-email.tmpl", SeverityError, "does not match the file name"},
	}
	for _, w := range want {
		found := false
		for _, p := range problems {
			found = found || (p.Template == w.template && p.Severity == w.severity && strings.Contains(p.Message, w.msg))
		}
		if !found {
			t.Errorf("got no %s problem for %s containing %q; got:\n%s", w.severity, w.template, w.msg, problemList(problems))
		}
	}
	if _, ok := s.Get("bad-unknown-email"); !ok {
		t.Errorf("LoadDir dropped a good template because another file was bad")
	}
}

func problemList(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

func TestLintStatusCoverage(t *testing.T) {
	s := &Set{byID: map[string]*Template{}, byStatus: map[string]*Template{}}
	tp, err := Parse([]byte("id: dossier-received-sms\nversion: 1\nchannel: sms\nstatus: received\n---\n((dossier_code))"))
	if err != nil {
		t.Fatal(err)
	}
	tp.sample = map[string]any{"dossier_code": "A"}
	if err := s.add(tp); err != nil {
		t.Fatal(err)
	}
	problems := Lint(s, nil)
	if got, want := len(problems), 2*len(Statuses())-1+2; got != want {
		t.Errorf("got %d problems, want %d (every other status and channel uncovered, and both reminders):\n%s", got, want, problemList(problems))
	}
	if err := s.add(tp); err == nil {
		t.Errorf("adding the same template twice: got no error")
	}
}
