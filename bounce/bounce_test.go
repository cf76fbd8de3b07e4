package bounce

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSamples(t *testing.T) {
	for _, tc := range []struct {
		file      string
		action    string
		permanent bool
		status    string
		diag      string // a part of Diagnostic
		rcpt      string
		standard  bool
	}{
		{"postfix_failed.eml", Failed, true, "5.1.1", "Recipient address rejected: User unknown in virtual mailbox table", "an@example.org", true},
		{"postfix_delayed.eml", Delayed, false, "4.2.2", "Mailbox full", "an@example.org", true},
		{"o365_failed.eml", Failed, true, "5.1.10", "RESOLVER.ADR.RecipientNotFound", "binh@contoso.com", true},
		{"exchange_text.eml", Failed, true, "5.1.1", "550 5.1.1 RESOLVER.ADR.RecipNotFound", "cuong.nv@sotnmt.hanoi.example", false},
		{"gmail_failed.eml", Failed, true, "5.1.1", "The email account that you tried to reach does not exist", "dung.tran.1990@gmail.com", true},
		{"gmail_text_failed.eml", Failed, true, "5.1.1", "550-5.1.1 The email account that you tried to reach does not exist", "dung.tran.1990@gmail.com", false},
		{"gmail_delayed.eml", Delayed, false, "4.7.0", "", "", false},
		{"qmail_failed.eml", Failed, true, "5.1.1", "Remote host said: 550 5.1.1 <hoa@example.net>... User unknown", "hoa@example.net", false},
		{"exim_failed.eml", Failed, true, "5.7.1", "550 5.7.1 Mailbox disabled for this recipient", "lan@example.com", false},
		{"autoreply.eml", "", false, "", "", "", false},
		{"success.eml", Delivered, false, "2.0.0", "250 2.0.0 Ok", "an@example.org", true},
		{"base64_dsn.eml", Failed, true, "5.2.2", "552 5.2.2 Mailbox over quota", "thu@example.vn", true},
		{"global_dsn.eml", Failed, true, "5.1.1", "no such mailbox", "nguyễn@thư.example.vn", true},
		{"expired_4xx.eml", Failed, false, "4.4.1", "Connection timed out", "an@example.org", true},
		{"sendmail_warning.eml", Delayed, false, "", "", "", false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			// Samples are written with LF; mail arrives with CRLF.
			for _, crlf := range []bool{false, true} {
				in := raw
				if crlf {
					in = bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))
				}
				r := Parse(bytes.NewReader(in))
				if r.Action != tc.action || r.Permanent() != tc.permanent || r.Standard != tc.standard {
					t.Errorf("crlf %v: got action %q permanent %v standard %v, want %q %v %v (%+v)", crlf, r.Action, r.Permanent(), r.Standard, tc.action, tc.permanent, tc.standard, r)
				}
				if tc.status != "" && r.Status != tc.status {
					t.Errorf("crlf %v: got status %q, want %q", crlf, r.Status, tc.status)
				}
				if !strings.Contains(r.Diagnostic, tc.diag) {
					t.Errorf("crlf %v: got diagnostic %q, want it to contain %q", crlf, r.Diagnostic, tc.diag)
				}
				if tc.rcpt != "" && r.Recipient != tc.rcpt {
					t.Errorf("crlf %v: got recipient %q, want %q", crlf, r.Recipient, tc.rcpt)
				}
			}
		})
	}
}

// The timeline line names the remote host, the status and the reply.
func TestReportString(t *testing.T) {
	raw, err := os.ReadFile("testdata/postfix_failed.eml")
	if err != nil {
		t.Fatal(err)
	}
	got := Parse(bytes.NewReader(raw)).String()
	want := "bounced by mailstore.example.org for an@example.org: 5.1.1 550 5.1.1 <an@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := (Report{}).String(); got != "unreadable bounce" {
		t.Errorf("empty report: got %q", got)
	}
}

// A report with a failed and a delayed recipient, or a failure whose
// explanation says it will be retried, is not a permanent failure.
func TestDelayWins(t *testing.T) {
	for name, msg := range map[string]string{
		"two blocks": dsn("Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no\r\n\r\nFinal-Recipient: rfc822; b@example.org\r\nAction: delayed\r\nStatus: 4.2.2", "Mail delivery failed"),
		"text":       dsn("Action: failed\r\nStatus: 5.1.1", "Delivery to this recipient will be retried for 2 days."),
		"no action":  dsn("Status: 4.4.1\r\nDiagnostic-Code: smtp; 450 4.4.1 try later", "Undelivered Mail"),
		"failed 4xx": dsn("Action: failed\r\nStatus: 4.4.7", "could not be delivered"),
	} {
		if r := Parse(strings.NewReader(msg)); r.Permanent() {
			t.Errorf("%s: got a permanent failure (%+v)", name, r)
		}
	}
}

// Bounded work: a huge message is read up to MaxBytes, deep nesting and
// many parts are cut off, and the result's fields stay short.
func TestBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@x\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n")
	for i := range 200 {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n", i, i+1)
	}
	b.WriteString("--b200\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\n")
	if r := Parse(strings.NewReader(b.String())); r.Action != "" {
		t.Errorf("report 200 levels deep: got %+v, want nothing read", r)
	}

	long := dsn("Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 "+strings.Repeat("x", 100000), "Undelivered") +
		strings.Repeat("y", 50<<20)
	start := time.Now()
	r := Parse(strings.NewReader(long))
	if !r.Permanent() || len(r.Diagnostic) > maxDiagnostic {
		t.Errorf("got permanent %v, diagnostic of %d bytes; want a failure with at most %d", r.Permanent(), len(r.Diagnostic), maxDiagnostic)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("50 MB message took %v", d)
	}
}

// dsn is a minimal multipart/report with one recipient block.
func dsn(block, text string) string {
	return "From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n" +
		"--R\r\nContent-Type: text/plain\r\n\r\n" + text + "\r\n" +
		"--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n" +
		"Final-Recipient: rfc822; an@example.org\r\n" + block + "\r\n\r\n--R--\r\n"
}
