package notify

import (
	"bytes"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"
)

func TestCompose(t *testing.T) {
	subject := "Hồ sơ 000.00.12.H26-260315-0001 đã được tiếp nhận và đang chờ bổ sung giấy tờ theo quy định hiện hành"
	raw, env, err := Compose(Email{NotificationID: "0195-abc", From: mail.Address{Name: "Ủy ban nhân dân quận Hoàn Kiếm, Hà Nội", Address: "noreply@hanoi.gov.vn"},
		To: "an@example.com", ToName: "Nguyễn Văn An", ReplyTo: "motcua.hoankiem@hanoi.gov.vn", Subject: subject,
		Text: "Kính gửi Ông/Bà", HTML: "<p>Kính gửi Ông/Bà</p>", DossierCode: "000.00.12.H26-260315-0001", Date: time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if env != "bounce+0195-abc@hanoi.gov.vn" {
		t.Errorf("envelope sender %q", env)
	}
	if id, ok := NotificationFromBounce(env); !ok || id != "0195-abc" {
		t.Errorf("NotificationFromBounce: %q %v", id, ok)
	}
	hdr := raw[:bytes.Index(raw, []byte("\r\n\r\n"))]
	for _, line := range strings.Split(string(hdr), "\r\n") {
		if len(line) > 78 {
			t.Errorf("header line of %d characters: %q", len(line), line)
		}
		for _, c := range line {
			if c > 127 {
				t.Errorf("8-bit header: %q", line)
				break
			}
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	if s, err := dec.DecodeHeader(m.Header.Get("Subject")); err != nil || s != subject {
		t.Errorf("subject %q %v", s, err)
	}
	from, err := m.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Ủy ban nhân dân quận Hoàn Kiếm, Hà Nội" || from[0].Address != "noreply@hanoi.gov.vn" {
		t.Errorf("From %+v %v", from, err)
	}
	if to, err := m.Header.AddressList("To"); err != nil || to[0].Name != "Nguyễn Văn An" {
		t.Errorf("To %+v %v", to, err)
	}
	if rt, err := m.Header.AddressList("Reply-To"); err != nil || rt[0].Address != "motcua.hoankiem@hanoi.gov.vn" {
		t.Errorf("Reply-To %+v %v", rt, err)
	}
	if m.Header.Get("Message-Id") != "<0195-abc@hanoi.gov.vn>" || m.Header.Get("Date") == "" || m.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("headers %v", m.Header)
	}
	if ct := m.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("content type %q", ct)
	}
	// The code is added to a subject that lacks it.
	raw, _, _ = Compose(Email{NotificationID: "x", From: mail.Address{Address: "a@b.vn"}, To: "c@d.vn", Subject: "Thông báo", DossierCode: "HS-1", Text: "t", HTML: "<p>t</p>"})
	m, _ = mail.ReadMessage(bytes.NewReader(raw))
	if s, _ := dec.DecodeHeader(m.Header.Get("Subject")); s != "Thông báo [HS-1]" {
		t.Errorf("subject with code: %q", s)
	}
	if _, _, err := Compose(Email{NotificationID: "x", From: mail.Address{Address: "a@b.vn"}, To: "c@d.vn", Subject: "a\r\nBcc: x@y"}); err == nil {
		t.Error("header injection accepted")
	}
}
