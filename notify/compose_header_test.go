package notify

import (
	"bytes"
	"mime"
	"net/mail"
	"strings"
	"testing"
)

// checkHeader checks that the header section of raw is lines of at most max
// octets, each ended by CR LF with no other CR or LF, and returns it
// parsed.
func checkHeader(t testing.TB, raw []byte, max int) *mail.Message {
	t.Helper()
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		t.Fatalf("no end of header in %q", raw)
	}
	for _, line := range strings.Split(string(raw[:end]), "\r\n") {
		if len(line) > max {
			t.Errorf("header line of %d octets (max %d): %.120q…", len(line), max, line)
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Errorf("bare CR or LF in header line %q", line)
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	return m
}

// collapse is s with every run of white space made one space, as header
// unfolding leaves it.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// Long display names and subjects, ASCII or not, fold onto lines of at most
// 78 octets and decode back to themselves.
func TestComposeLongHeaders(t *testing.T) {
	long := strings.Repeat("A", 2000)
	for _, c := range []struct{ name, from, subject string }{
		{"long ascii word", long, long},
		{"long vietnamese", strings.Repeat("Nguyễn Văn An ", 150), strings.Repeat("Hồ sơ đã được tiếp nhận ", 100)},
		{"long vietnamese word", strings.Repeat("ữ", 800), strings.Repeat("đ", 900)},
		{"ascii words", strings.Repeat("Uy ban nhan dan quan Hoan Kiem ", 60), strings.Repeat("Ho so da duoc tiep nhan ", 80)},
		{"encoded-word lookalike", "=?UTF-8?B?R2nDoW0gxJHhu5Fj?= <giamdoc@hanoi.gov.vn>", "=?utf-8?q?Th=C3=B4ng_b=C3=A1o?="},
		{"specials", `"Phòng" (một cửa), <x@y> \ ; :`, `a "quoted" \ subject`},
		{"tab", "Nguyễn\tVăn An", "tab\there"},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw, _, err := Compose(Email{NotificationID: "0195-abc", From: mail.Address{Name: c.from, Address: "noreply@hanoi.gov.vn"},
				To: "an@example.com", ToName: c.name + " " + c.from, Subject: c.subject, Text: "t", HTML: "<p>t</p>"})
			if err != nil {
				t.Fatal(err)
			}
			m := checkHeader(t, raw, 78+maxPlainWord)
			from, err := m.Header.AddressList("From")
			if err != nil || len(from) != 1 || collapse(from[0].Name) != collapse(c.from) || from[0].Address != "noreply@hanoi.gov.vn" {
				t.Errorf("From: got %+v %v, want %.60q", from, err, c.from)
			}
			to, err := m.Header.AddressList("To")
			if err != nil || len(to) != 1 || collapse(to[0].Name) != collapse(c.name+" "+c.from) || to[0].Address != "an@example.com" {
				t.Errorf("To: got %+v %v", to, err)
			}
			subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			if err != nil || collapse(subj) != collapse(c.subject) {
				t.Errorf("Subject: got %.80q %v, want %.80q", subj, err, c.subject)
			}
		})
	}
}

// FuzzComposeHeaders: whatever display names and subject without line
// breaks (the API refuses those), the header section has lines of at most
// 998 octets (RFC 5322 §2.1.1) ended by CR LF, and the names and subject
// read back as given.
func FuzzComposeHeaders(f *testing.F) {
	f.Add("Ủy ban nhân dân quận Hoàn Kiếm", "Nguyễn Văn An", "Hồ sơ HS-1 đã được tiếp nhận")
	f.Add(strings.Repeat("A", 1500), strings.Repeat("x ", 700), strings.Repeat("=?", 400))
	f.Add(`a"b\c`, "(comment) <x@y>", "\x00\x01\x7f")
	f.Fuzz(func(t *testing.T, from, to, subject string) {
		if strings.ContainsAny(from+to+subject, "\r\n") || len(from)+len(to)+len(subject) > 20000 {
			return
		}
		raw, _, err := Compose(Email{NotificationID: "0195-abc", From: mail.Address{Name: from, Address: "noreply@hanoi.gov.vn"},
			To: "an@example.com", ToName: to, Subject: subject, Text: "t", HTML: "<p>t</p>"})
		if err != nil {
			t.Fatal(err)
		}
		m := checkHeader(t, raw, 998)
		if from, err := m.Header.AddressList("From"); err != nil || len(from) != 1 || from[0].Address != "noreply@hanoi.gov.vn" {
			t.Fatalf("From: %+v %v in %q", from, err, m.Header.Get("From"))
		}
		if to, err := m.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "an@example.com" {
			t.Fatalf("To: %+v %v in %q", to, err, m.Header.Get("To"))
		}
	})
}
