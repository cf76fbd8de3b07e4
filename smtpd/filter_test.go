package smtpd

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"congthu/filter/clamd"
	"congthu/filter/rspamd"
	"congthu/internal/testenv"
)

// withAttachment is mxMessage with a base64 attachment.
func withAttachment(from, to, token string, attachment []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(attachment)
	return []byte("From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + token + "\r\nDate: Thu, 02 Jan 2025 08:00:00 +0700\r\n" +
		"Message-ID: <" + token + "@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nKính gửi.\r\n--b1\r\nContent-Type: application/octet-stream; name=tep.com\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + enc + "\r\n--b1--\r\n")
}

// withSubject replaces mxMessage's subject line.
func withSubject(msg []byte, subject string) []byte {
	s := string(msg)
	i := strings.Index(s, "Subject: ")
	j := strings.Index(s[i:], "\r\n")
	return []byte(s[:i] + "Subject: " + subject + s[i+j:])
}

// TestMXFilters: the MX with a real clamd and a real rspamd: malware and
// GTUBE refused and not stored, a clean message delivered with its score,
// an "add header" verdict to Junk (or INBOX), a forged verdict field
// dropped, and a filter down answered 451 or, when so configured,
// delivered marked as not scanned.
func TestMXFilters(t *testing.T) {
	cd := testenv.StartClamd(t)
	rs := testenv.StartRspamd(t, "")
	fx := newMXFixture(t, "sqlite")
	filters := FilterOptions{Virus: &clamd.Client{Addr: cd.Addr}, Spam: &rspamd.Client{URL: rs.URL}, Timeout: 5 * time.Second}
	e := newMX(t, fx, MXOptions{Common: Common{Filters: filters}})
	from, to := "sender@example.org", "bob@"+domain
	c := e.dial(t, "mta.example.org")

	tok := newToken("clean")
	if _, err := send(c, from, []string{to}, mxMessage(from, to, tok)); err != nil {
		t.Fatalf("clean: %v", err)
	}
	m := e.find(t, fx.bob, "INBOX", tok)
	if m == nil {
		t.Fatal("clean message not in INBOX")
	}
	if st := header(t, m.Raw).Get("X-Spam-Status"); !strings.HasPrefix(st, "No, score=") || !strings.Contains(st, `action="no action"`) {
		t.Errorf("clean X-Spam-Status: %q", st)
	}
	if !strings.Contains(e.logs.String(), `action="spam no action`) || !strings.Contains(e.logs.String(), "rspamd symbols ") {
		t.Errorf("the log line lacks the verdict or its symbols:\n%s", e.logs.String())
	}

	tok = newToken("gtube")
	_, err := send(c, from, []string{to}, append(mxMessage(from, to, tok), testenv.GTUBE+"\r\n"...))
	wantCode(t, err, 554, smtp.EnhancedCode{5, 7, 1})
	if !strings.Contains(err.Error(), "Gtube pattern") {
		t.Errorf("GTUBE reply: %v", err)
	}
	c.Reset()
	if w := e.where(t, fx.bob, tok); w != "" {
		t.Errorf("GTUBE stored in %s", w)
	}

	tok = newToken("eicar")
	_, err = send(c, from, []string{to}, withAttachment(from, to, tok, []byte(testenv.EICAR)))
	wantCode(t, err, 554, smtp.EnhancedCode{5, 7, 1})
	if !strings.Contains(err.Error(), testenv.EICARSignature) {
		t.Errorf("EICAR reply: %v", err)
	}
	c.Reset()
	if w := e.where(t, fx.bob, tok); w != "" {
		t.Errorf("EICAR stored in %s", w)
	}

	// "add header", with a forged verdict from outside.
	tok = newToken("spammy")
	msg := withSubject(mxMessage(from, to, tok), tok+" "+testenv.Spammy)
	msg = append([]byte("X-Spam-Status: No, score=-100\r\nX-Congthu-Scan: clean\r\n"), msg...)
	if _, err := send(c, from, []string{to}, msg); err != nil {
		t.Fatalf("spammy: %v", err)
	}
	m = e.find(t, fx.bob, "Junk", tok)
	if m == nil {
		t.Fatalf("spammy message not in Junk (in %q)", e.where(t, fx.bob, tok))
	}
	h := header(t, m.Raw)
	if st := h.Values("X-Spam-Status"); len(st) != 1 || !strings.HasPrefix(st[0], "Yes, score=") || !strings.Contains(st[0], "CONGTHU_TEST_SPAMMY(8.00)") {
		t.Errorf("spammy X-Spam-Status: %q", st)
	}
	if h.Get("X-Congthu-Scan") != "" {
		t.Error("a forged X-Congthu-Scan was kept")
	}
	if !slices.Contains(m.Flags, "$Junk") {
		t.Errorf("spammy flags %q, want $Junk", m.Flags)
	}

	// Submission: malware and spam from an account are refused, and
	// the malware logged with the account; clean mail goes.
	sub := newEnv(t, envConfig{opts: Options{Common: Common{Filters: filters}}})
	sc := sub.login(t, "alice@"+domain, alicePass)
	alice, ext := "alice@"+domain, "someone@example.net"
	_, err = send(sc, alice, []string{ext}, withAttachment(alice, ext, newToken("sub-eicar"), []byte(testenv.EICAR)))
	wantCode(t, err, 554, smtp.EnhancedCode{5, 7, 1})
	sc.Reset()
	if !strings.Contains(sub.logs.String(), "malware submitted") || !strings.Contains(sub.logs.String(), "account="+alice) {
		t.Errorf("malware submission not logged with the account:\n%s", sub.logs.String())
	}
	_, err = send(sc, alice, []string{ext}, append(mxMessage(alice, ext, newToken("sub-gtube")), testenv.GTUBE+"\r\n"...))
	wantCode(t, err, 554, smtp.EnhancedCode{5, 7, 1})
	sc.Reset()
	if _, err := send(sc, alice, []string{"bob@" + domain}, mxMessage(alice, "bob@"+domain, newToken("sub-clean"))); err != nil {
		t.Errorf("clean submission: %v", err)
	}

	// Filters down: 451, or delivery marked as not scanned.
	cd.Stop()
	tok = newToken("noclamd")
	_, err = send(c, from, []string{to}, mxMessage(from, to, tok))
	wantCode(t, err, 451, smtp.EnhancedCode{4, 7, 1})
	c.Reset()
	accepting := newMX(t, fx, MXOptions{Common: Common{Filters: FilterOptions{Virus: filters.Virus, Spam: filters.Spam, AcceptUnscanned: true, SpamToInbox: true, Timeout: 2 * time.Second}}})
	c2 := accepting.dial(t, "mta.example.org")
	if _, err := send(c2, from, []string{to}, mxMessage(from, to, tok)); err != nil {
		t.Fatalf("accept unscanned: %v", err)
	}
	m = accepting.find(t, fx.bob, "INBOX", tok)
	if m == nil || header(t, m.Raw).Get("X-Congthu-Scan") != "not scanned by clamd (unavailable)" || header(t, m.Raw).Get("X-Spam-Status") == "" {
		t.Fatalf("accepted unscanned: %v", m)
	}
	tok = newToken("spammy-inbox")
	if _, err := send(c2, from, []string{to}, withSubject(mxMessage(from, to, tok), tok+" "+testenv.Spammy)); err != nil {
		t.Fatal(err)
	}
	if w := accepting.where(t, fx.bob, tok); w != "INBOX" {
		t.Errorf("add header with SpamToInbox: in %q, want INBOX", w)
	}
	rs.Stop()
	tok = newToken("norspamd")
	if _, err := send(c2, from, []string{to}, mxMessage(from, to, tok)); err != nil {
		t.Fatalf("accept unscanned, both down: %v", err)
	}
	if m = accepting.find(t, fx.bob, "INBOX", tok); m == nil || len(header(t, m.Raw).Values("X-Congthu-Scan")) != 2 {
		t.Errorf("both down: %v", m)
	}
	_, err = send(c, from, []string{to}, mxMessage(from, to, newToken("down")))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 {
		t.Errorf("tempfail with both down: %v", err)
	}
}

// TestAccountRate: past its messages per hour an account's MAIL gets
// 451 4.7.1; another account is not held back.
func TestAccountRate(t *testing.T) {
	e := newEnv(t, envConfig{opts: Options{MaxMessagesPerAccountPerHour: 2}})
	alice, bob := "alice@"+domain, "bob@"+domain
	c := e.login(t, alice, alicePass)
	for i := 0; i < 2; i++ {
		if _, err := send(c, alice, []string{bob}, mxMessage(alice, bob, newToken("rate"))); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	_, err := send(c, alice, []string{bob}, mxMessage(alice, bob, newToken("rate")))
	wantCode(t, err, 451, smtp.EnhancedCode{4, 7, 1})
	if !strings.Contains(e.logs.String(), "account over its hourly message limit") {
		t.Errorf("not logged:\n%s", e.logs.String())
	}
	c.Reset()
	cb := e.login(t, bob, bobPass)
	if _, err := send(cb, bob, []string{alice}, mxMessage(bob, alice, newToken("rate"))); err != nil {
		t.Errorf("another account: %v", err)
	}
}
