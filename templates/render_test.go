package templates

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// event is what the back office posts for a dossier, decoded as the HTTP API
// decodes it (plain encoding/json: numbers are float64, times are strings).
func event(t testing.TB, status string) map[string]any {
	t.Helper()
	common := `{
		"dossier_code": "000.34.05.H26-260402-0017",
		"applicant": {"name": "Lê Thị Hồng Nhung"},
		"procedure": "Đăng ký khai sinh",
		"agency": "Ủy ban nhân dân phường Tràng Tiền",
		"agency_short": "UBND P.Tràng Tiền",
		"received_at": "2026-04-02T02:15:00Z",
		"appointment_at": "2026-04-03T09:00:00Z",
		"handling_unit": "tuphap.trangtien@hanoi.gov.vn"
	}`
	extra := map[string]string{
		StatusReceived: `{"lookup_url": "https://dichvucong.hanoi.gov.vn/tra-cuu-ho-so"}`,
		StatusSupplementRequested: `{
			"missing_documents": ["Giấy chứng sinh (bản chính)", "Bản sao Giấy chứng nhận kết hôn của cha, mẹ"],
			"deadline": "2026-04-09T10:00:00Z"}`,
		StatusRefused: `{
			"reason": "Trẻ đã được đăng ký khai sinh tại Ủy ban nhân dân phường Hàng Bạc",
			"legal_basis": "Điều 16 Luật Hộ tịch năm 2014"}`,
		StatusDelayed: `{
			"reason": "Cần xác minh thông tin nơi cư trú của mẹ tại địa phương khác",
			"new_appointment_at": "2026-04-06T17:30:00Z"}`,
		StatusProcessing:  `{}`,
		StatusResultReady: `{"delivery_note": "Giấy khai sinh bản chính đã được gửi qua dịch vụ bưu chính công ích đến địa chỉ Ông/Bà đã đăng ký."}`,
		StatusFeeDue: `{
			"amount": 8000,
			"fee_name": "lệ phí cấp bản sao trích lục khai sinh",
			"payment_instructions": "Chuyển khoản đến tài khoản 3511.0.1234567 tại Kho bạc Nhà nước Hoàn Kiếm.\nNội dung: mã hồ sơ và họ tên người nộp."}`,
	}
	var data, more map[string]any
	if err := json.Unmarshal([]byte(common), &data); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(extra[status]), &more); err != nil {
		t.Fatalf("%s: %v", status, err)
	}
	for k, v := range more {
		data[k] = v
	}
	return data
}

func mustLoad(t testing.TB) *Set {
	t.Helper()
	s, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./templates -run Golden -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestShippedTemplatesGolden(t *testing.T) {
	s := mustLoad(t)
	for _, status := range Statuses() {
		for _, ch := range []string{Email, SMS} {
			t.Run(status+"/"+ch, func(t *testing.T) {
				tp, ok := s.ForStatus(status, ch)
				if !ok {
					t.Fatalf("no %s template for %s", ch, status)
				}
				if want := "dossier-" + status + "-" + ch; tp.ID != want {
					t.Errorf("got id %q, want %q", tp.ID, want)
				}
				r, err := tp.Render(event(t, status))
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				if r.ID != tp.ID || r.Version != tp.Version || r.Channel != ch {
					t.Errorf("got %s v%d %s, want %s v%d %s", r.ID, r.Version, r.Channel, tp.ID, tp.Version, ch)
				}
				if ch == Email {
					checkEmail(t, r)
					golden(t, tp.ID+".html", r.HTML)
					golden(t, tp.ID+".txt", "Subject: "+r.Subject+"\n\n"+r.Text)
					return
				}
				checkSMS(t, r)
				golden(t, tp.ID+".txt", r.Text+"\n")
				golden(t, tp.ID+".sms.txt", r.SMSText+"\n")
			})
		}
	}
}

func checkEmail(t *testing.T, r *Rendered) {
	t.Helper()
	for _, want := range []string{"<!DOCTYPE html>", `<html lang="vi">`, `<meta charset="utf-8">`, "Kính gửi Ông/Bà Lê Thị Hồng Nhung", "000.34.05.H26-260402-0017", "Đăng ký khai sinh", "Ủy ban nhân dân phường Tràng Tiền"} {
		if !strings.Contains(r.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, bad := range []string{"<img", "<link", "<script", "<style", "((", "))", "\uE000"} {
		if strings.Contains(r.HTML, bad) || strings.Contains(r.Text, bad) {
			t.Errorf("output contains %q", bad)
		}
	}
	if !strings.Contains(r.Text, "Kính gửi Ông/Bà Lê Thị Hồng Nhung,") {
		t.Errorf("text lacks the polite address:\n%s", r.Text)
	}
	if r.Subject == "" || strings.ContainsAny(r.Subject, "\r\n") {
		t.Errorf("got subject %q, want one non-empty line", r.Subject)
	}
}

func checkSMS(t *testing.T, r *Rendered) {
	t.Helper()
	if !r.Folded {
		t.Errorf("got Folded false, want true for a dossier SMS")
	}
	enc, parts, err := countParts(r.SMSText, false)
	if err != nil {
		t.Fatal(err)
	}
	if enc != "GSM-7" || parts > 2 {
		t.Errorf("got %d %s parts for %q, want 1-2 GSM-7", parts, enc, r.SMSText)
	}
	if !strings.Contains(r.SMSText, "000.34.05.H26-260402-0017") || !strings.HasPrefix(r.SMSText, "UBND P.Trang Tien: ") {
		t.Errorf("got %q, want the sender and the dossier code", r.SMSText)
	}
}

func TestShippedTemplatesPreview(t *testing.T) {
	s := mustLoad(t)
	for _, tp := range s.List() {
		t.Run(tp.ID, func(t *testing.T) {
			if tp.Sample() == nil {
				t.Fatal("no sample data")
			}
			if _, err := tp.Preview(); err != nil {
				t.Errorf("Preview: %v", err)
			}
		})
	}
	for _, id := range []string{"generic-email", "generic-sms"} {
		if _, ok := s.Get(id); !ok {
			t.Errorf("no template %q", id)
		}
	}
}

func TestShippedTemplatesRequireDomainFields(t *testing.T) {
	s := mustLoad(t)
	must := map[string][]string{
		StatusReceived:            {"dossier_code", "procedure", "agency", "received_at", "appointment_at"},
		StatusSupplementRequested: {"dossier_code", "missing_documents"},
		StatusRefused:             {"dossier_code", "reason"},
		StatusDelayed:             {"dossier_code", "reason", "new_appointment_at"},
		StatusProcessing:          {"dossier_code"},
		StatusResultReady:         {"dossier_code"},
		StatusFeeDue:              {"dossier_code", "amount"},
	}
	for status, fields := range must {
		for _, ch := range []string{Email, SMS} {
			tp, _ := s.ForStatus(status, ch)
			req, _ := tp.Fields()
			for _, f := range fields {
				if ch == SMS && (f == "procedure" || f == "agency") {
					continue // SMS names the agency short and skips the procedure
				}
				found := false
				for _, r := range req {
					found = found || r == f
				}
				if !found {
					t.Errorf("%s: got required %q, want it to include %s", tp.ID, req, f)
				}
			}
		}
	}
}

func TestEscapeHTML(t *testing.T) {
	s := mustLoad(t)
	tp, _ := s.ForStatus(StatusRefused, Email)
	data := event(t, StatusRefused)
	data["applicant"] = map[string]any{"name": "<script>alert(1)</script>"}
	data["reason"] = `"><img src=x onerror=alert(1)> **đậm** [x](javascript:alert(1))`
	data["legal_basis"] = "javascript:alert(1) & <b>"
	r, err := tp.Render(data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(r.HTML), "<script") || strings.Contains(r.HTML, "<img") || strings.Contains(r.HTML, "<b>") {
		t.Errorf("HTML carries markup from data:\n%s", r.HTML)
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x", "**đậm**", "javascript:alert(1) &amp; &lt;b&gt;"} {
		if !strings.Contains(r.HTML, want) {
			t.Errorf("HTML lacks %q (values are text, not Markdown or HTML)", want)
		}
	}
	if strings.Contains(r.HTML, `href="javascript`) {
		t.Errorf("HTML links to javascript:")
	}
	if !strings.Contains(r.Text, "<script>alert(1)</script>") {
		t.Errorf("text alternative should carry the value as is")
	}
}

func TestLinkFromData(t *testing.T) {
	tp := emailTemplate(t, "x", "[Tra cứu](((url))) và ((url))")
	tests := []struct {
		url, want, notWant string
	}{
		{"https://dichvucong.gov.vn/a?b=1&c=2", `<a href="https://dichvucong.gov.vn/a?b=1&amp;c=2" style=`, ""},
		{"javascript:alert(1)", "Tra cứu và javascript:alert(1)", "href"},
		{`https://x.vn/"onmouseover="alert(1)`, "", `"onmouseover`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			r, err := tp.Render(map[string]any{"url": tt.url})
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && !strings.Contains(r.HTML, tt.want) {
				t.Errorf("HTML lacks %q:\n%s", tt.want, r.HTML)
			}
			if tt.notWant != "" && strings.Contains(r.HTML, tt.notWant) {
				t.Errorf("HTML contains %q:\n%s", tt.notWant, r.HTML)
			}
		})
	}
}

func TestSubjectInjection(t *testing.T) {
	s := mustLoad(t)
	tp, _ := s.ForStatus(StatusReceived, Email)
	data := event(t, StatusReceived)
	data["dossier_code"] = "X\r\nBcc: x@y\u2028\u0085\x00"
	r, err := tp.Render(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Hồ sơ X Bcc: x@y đã được tiếp nhận"; r.Subject != want {
		t.Errorf("got subject %q, want %q", r.Subject, want)
	}
	if strings.ContainsAny(r.Subject, "\r\n\x00\u2028\u0085") {
		t.Errorf("subject %q holds a control character", r.Subject)
	}
}

func TestSMSValuesOneLine(t *testing.T) {
	tp := smsTemplate(t, "Mã: ((code)).")
	r, err := tp.Render(map[string]any{"code": "A\r\nB\tC"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Mã: A B C."; r.Text != want {
		t.Errorf("got %q, want %q", r.Text, want)
	}
}

func TestNFC(t *testing.T) {
	tp := smsTemplate(t, "((name))")
	r, err := tp.Render(map[string]any{"name": "Nguye\u0302\u0303n"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != "Nguyễn" {
		t.Errorf("got %q, want NFC %q", r.Text, "Nguyễn")
	}
}

func TestMarkdown(t *testing.T) {
	data := map[string]any{"docs": []string{"Tờ khai", "Bản sao <CCCD>"}, "v": "**không đậm**", "multi": "Đoạn một.\n\nĐoạn hai\ndòng hai.", "code": "000.12-A"}
	tests := []struct {
		name, body, html, text string
	}{
		{"paragraph with line break", "a\nb\n\nc", "<p style=\"" + styleP + "\">a<br>\nb</p>\n<p style=\"" + styleP + "\">c</p>\n", "a\nb\n\nc\n"},
		{"headings", "# Một\n## Hai", "<h1 style=\"" + styleH1 + "\">Một</h1>\n<h2 style=\"" + styleH2 + "\">Hai</h2>\n", "Một\n===\n\nHai\n---\n"},
		{"bold", "a **b** c", "a <strong style=\"" + styleStrong + "\">b</strong> c", "a b c\n"},
		{"unclosed bold", "a ** b", "a ** b", "a ** b\n"},
		{"bullets", "- a\n* b", "<li style=\"" + styleLI + "\">a</li>\n<li style=\"" + styleLI + "\">b</li>", "• a\n• b\n"},
		{"numbered", "1. a\n2. b\n   tiếp", "<ol style=", "1. a\n2. b tiếp\n"},
		{"numbered start", "3. a", `<ol start="3"`, "3. a\n"},
		{"rule", "a\n\n---\n\nb", "<hr style=", "a\n\n" + strings.Repeat("-", 40) + "\n\nb\n"},
		{"inset", "^ Lưu ý\n^ dòng hai", "<blockquote style=\"" + styleInset + "\">Lưu ý<br>\ndòng hai</blockquote>", "    Lưu ý\n    dòng hai\n"},
		{"link", "[Cổng DVC](https://dichvucong.gov.vn)", `<a href="https://dichvucong.gov.vn" style="` + styleA + `">Cổng DVC</a>`, "Cổng DVC (https://dichvucong.gov.vn)\n"},
		{"mailto link text", "[a@b.vn](mailto:a@b.vn)", `href="mailto:a@b.vn"`, "a@b.vn\n"},
		{"bare url", "Xem https://a.vn/x?y=1.", `Xem <a href="https://a.vn/x?y=1" style="` + styleA + `">https://a.vn/x?y=1</a>.`, "Xem https://a.vn/x?y=1.\n"},
		{"url with value", "https://a.vn/tra-cuu?ma=((code))", `<a href="https://a.vn/tra-cuu?ma=000.12-A" style="` + styleA + `">https://a.vn/tra-cuu?ma=000.12-A</a>`, "https://a.vn/tra-cuu?ma=000.12-A\n"},
		{"url with unsafe value is text", "https://a.vn/((v))", `<p style="` + styleP + `">https://a.vn/**không đậm**</p>`, "https://a.vn/**không đậm**\n"},
		{"escape", `\*\*a\*\* \# b`, "**a** # b", "**a** # b\n"},
		{"html in template is text", "<b>x</b> & y", "&lt;b&gt;x&lt;/b&gt; &amp; y", "<b>x</b> & y\n"},
		{"list value on own line", "Cần:\n\n((docs))", "<li style=\"" + styleLI + "\">Bản sao &lt;CCCD&gt;</li>", "Cần:\n\n• Tờ khai\n• Bản sao <CCCD>\n"},
		{"list value inline", "Cần: ((docs))", "Cần: Tờ khai, Bản sao &lt;CCCD&gt;", "Cần: Tờ khai, Bản sao <CCCD>\n"},
		{"value is not markdown", "- ((v))", "<li style=\"" + styleLI + "\">**không đậm**</li>", "• **không đậm**\n"},
		{"multi-paragraph value", "((multi))", "Đoạn một.</p>\n<p style=\"" + styleP + "\">Đoạn hai<br>\ndòng hai.</p>", "Đoạn một.\n\nĐoạn hai\ndòng hai.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := emailTemplate(t, "s", tt.body).Render(data)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(r.HTML, tt.html) {
				t.Errorf("HTML: got\n%s\nwant it to contain\n%s", r.HTML, tt.html)
			}
			if r.Text != tt.text {
				t.Errorf("text: got %q, want %q", r.Text, tt.text)
			}
		})
	}
}

func TestSetLookups(t *testing.T) {
	s := mustLoad(t)
	if got, want := len(s.List()), 3*len(Statuses())+2+3; got != want {
		t.Errorf("got %d templates, want %d", got, want)
	}
	if _, ok := s.ForStatus("lost", Email); ok {
		t.Errorf("ForStatus(lost) found a template")
	}
	if _, ok := s.Get("nope"); ok {
		t.Errorf("Get(nope) found a template")
	}
	tp, ok := s.Get("dossier-fee_due-sms")
	if !ok || tp.Status != StatusFeeDue || tp.Channel != SMS || !tp.FoldDiacritics || tp.MaxParts != 2 || tp.Version < 1 {
		t.Errorf("got %+v, want the fee_due SMS template", tp)
	}
	list := s.List()
	for i := 1; i < len(list); i++ {
		if list[i-1].ID >= list[i].ID {
			t.Errorf("List not sorted: %s before %s", list[i-1].ID, list[i].ID)
		}
	}
}

func BenchmarkRenderDossierEmail(b *testing.B) {
	s := mustLoad(b)
	tp, _ := s.ForStatus(StatusSupplementRequested, Email)
	data := event(b, StatusSupplementRequested)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Render(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderDossierSMS(b *testing.B) {
	s := mustLoad(b)
	tp, _ := s.ForStatus(StatusSupplementRequested, SMS)
	data := event(b, StatusSupplementRequested)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Render(data); err != nil {
			b.Fatal(err)
		}
	}
}
