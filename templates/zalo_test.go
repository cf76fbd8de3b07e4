package templates

import (
	"strings"
	"testing"
)

func TestZaloTemplate(t *testing.T) {
	src := "id: z\nversion: 2\nchannel: zalo\nstatus: received\nzns_template_id: 248001\n---\n" +
		"customer_name (customer_name): ((applicant.name))\n\n" +
		"appointment (time): ((appointment_at|date))\n"
	tm, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r, err := tm.Render(map[string]any{"applicant": map[string]any{"name": "Nguyễn  Văn An"}, "appointment_at": "2026-03-29T16:00:00+07:00"})
	if err != nil {
		t.Fatal(err)
	}
	if r.ZNSTemplateID != "248001" || len(r.ZNSParams) != 2 {
		t.Fatalf("rendered %+v", r)
	}
	if p := r.ZNSParams[0]; p.Name != "customer_name" || p.Type != "customer_name" || p.Value != "Nguyễn Văn An" || p.Max != 30 {
		t.Errorf("param 0 = %+v", p)
	}
	if p := r.ZNSParams[1]; p.Value != "29/03/2026" || p.Max != 20 {
		t.Errorf("param 1 = %+v", p)
	}
	if r.Text != "customer_name: Nguyễn Văn An\nappointment: 29/03/2026" {
		t.Errorf("text %q", r.Text)
	}
	if _, err := tm.Render(map[string]any{}); err == nil || !strings.Contains(err.Error(), "applicant.name") {
		t.Errorf("missing values: %v", err)
	}
	req, _ := tm.Fields()
	if strings.Join(req, ",") != "applicant.name,appointment_at" {
		t.Errorf("fields %v", req)
	}
}

func TestZaloTemplateErrors(t *testing.T) {
	head := "id: z\nversion: 1\nchannel: zalo\n"
	for _, c := range []struct{ src, want string }{
		{head + "---\na (code): x", "zns_template_id"},
		{head + "zns_template_id: 1\n---\n", "at least one parameter"},
		{head + "zns_template_id: 1\n---\na: x", `want "name (type): value"`},
		{head + "zns_template_id: 1\n---\na (colour): x", "unknown ZNS parameter type"},
		{head + "zns_template_id: 1\n---\na (code): x\na (code): y", "given twice"},
		{head + "zns_template_id: 1\n---\na (code): ((x", "body line 6"},
		{head + "zns_template_id: a b\n---\na (code): x", "zns_template_id must be"},
		{head + "zns_template_id: 1\nmax_parts: 2\n---\na (code): x", "for sms templates"},
		{"id: z\nversion: 1\nchannel: sms\nzns_template_id: 1\n---\nx", "for zalo templates"},
		{head + "zns_template_id: 1\n---\n" + strings.Repeat("a (code): x\n", 1), ""},
	} {
		_, err := Parse([]byte(c.src))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.src, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: got %v, want an error containing %q", c.src, err, c.want)
		}
	}
	var many strings.Builder
	many.WriteString(head + "zns_template_id: 1\n---\n")
	for i := range maxZNSParams + 1 {
		many.WriteString("p" + strings.Repeat("x", i) + " (code): v\n")
	}
	if _, err := Parse([]byte(many.String())); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("too many parameters: %v", err)
	}
}

// TestLintZalo: every status needs a zalo template once one has it; a
// sample over a parameter's limit is a warning.
func TestLintZalo(t *testing.T) {
	s := mustLoad(t)
	for _, p := range Lint(s, nil) {
		t.Errorf("shipped templates: %s", p)
	}
	long := &Template{ID: "dossier-received-zalo", Version: 1, Channel: Zalo, Status: StatusReceived, ZNSTemplateID: "1",
		sample: map[string]any{"applicant": map[string]any{"name": strings.Repeat("Nguyễn ", 10)}}}
	long.params, _ = parseZNSParams("customer_name (customer_name): ((applicant.name))", 1)
	var found bool
	for _, p := range lintTemplate(long, nil) {
		found = found || (p.Severity == SeverityWarning && strings.Contains(p.Message, "would be shortened"))
	}
	if !found {
		t.Error("no warning for a sample over the limit")
	}
}
