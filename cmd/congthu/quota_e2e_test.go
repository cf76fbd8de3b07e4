package main

import (
	"crypto/tls"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TestE2EQuota: the built binary with a quota set by `congthu user
// quota` while it runs: go-smtp's client gets 452 4.2.2 at DATA for a
// message that does not fit, Python's smtplib 452 4.2.2 at RCPT once the
// account is full, and `user quota` shows the use.
func TestE2EQuota(t *testing.T) {
	n := newNode(t, "CONGTHU_MAILBOX_QUOTA=1M")
	n.admin(t, "", "domain", "add", "hanoi.gov.vn")
	const pa, pb = "mat-khau-cua-an-1", "mat-khau-cua-binh-2"
	n.admin(t, pa+"\n", "user", "add", "--password-stdin", "an@hanoi.gov.vn")
	n.admin(t, pb+"\n", "user", "add", "--password-stdin", "binh@hanoi.gov.vn")
	n.admin(t, "", "user", "quota", "binh@hanoi.gov.vn", "3K")
	n.start(t)
	defer n.stop(t)

	msg := "From: an@hanoi.gov.vn\r\nTo: binh@hanoi.gov.vn\r\nSubject: quota\r\n\r\n" + strings.Repeat("Hồ sơ đã được tiếp nhận.\r\n", 60) + "\r\n"
	c, err := smtp.DialTLS(n.addr["submissions"], &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "an@hanoi.gov.vn", pa)); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("an@hanoi.gov.vn", []string{"binh@hanoi.gov.vn"}, strings.NewReader(msg)); err != nil {
		t.Fatalf("first message: %v", err)
	}
	err = c.SendMail("an@hanoi.gov.vn", []string{"binh@hanoi.gov.vn"}, strings.NewReader(msg))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 452 || se.EnhancedCode != (smtp.EnhancedCode{4, 2, 2}) {
		t.Fatalf("second message: got %v, want 452 4.2.2 at DATA", err)
	}
	c.Quit()

	out := n.admin(t, "", "user", "quota", "binh@hanoi.gov.vn")
	if !strings.Contains(out, "limit    3K, set for this account") || strings.Contains(out, "used     0 bytes") {
		t.Errorf("user quota: %q", out)
	}
	if out := n.admin(t, "", "user", "quota", "an@hanoi.gov.vn"); !strings.Contains(out, "limit    1M, the default") {
		t.Errorf("user quota of an account with the default: %q", out)
	}

	// Lowered below the use while serving: full at once.
	n.admin(t, "", "user", "quota", "binh@hanoi.gov.vn", "1K")
	host, port, _ := net.SplitHostPort(n.addr["submissions"])
	py := exec.Command("python3", "-c", `
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL(sys.argv[1], int(sys.argv[2]), context=ctx)
s.login(sys.argv[3], sys.argv[4])
s.mail(sys.argv[3])
code, text = s.rcpt(sys.argv[5])
print(code, text.decode())
s.quit()
`, host, port, "an@hanoi.gov.vn", pa, "binh@hanoi.gov.vn")
	got, err := py.CombinedOutput()
	if err != nil {
		t.Fatalf("smtplib: %v\n%s", err, got)
	}
	if !strings.HasPrefix(string(got), "452 4.2.2 Mailbox full") {
		t.Errorf("smtplib RCPT to a full mailbox: got %q, want 452 4.2.2 Mailbox full", got)
	}
}
