package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"congthu/loginlimit"
)

const subjectVI = "Thông báo kết quả giải quyết hồ sơ số 000.00.12.H29-250101-0001"

type msgOpts struct {
	from, to    string
	date, msgID bool // include Date: / Message-ID:
	attachment  int  // bytes of binary attachment
	extraHeader string
	body        string
	omitFrom    bool
}

// testMessage builds a CRLF message with a RFC 2047 Vietnamese subject and,
// optionally, a base64 attachment.
func testMessage(o msgOpts) []byte {
	var b bytes.Buffer
	if !o.omitFrom {
		fmt.Fprintf(&b, "From: %s <%s>\r\n", mime.QEncoding.Encode("UTF-8", "Văn thư UBND"), o.from)
	}
	fmt.Fprintf(&b, "To: <%s>\r\n", o.to)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.BEncoding.Encode("UTF-8", subjectVI))
	if o.date {
		b.WriteString("Date: Thu, 02 Jan 2025 08:00:00 +0700\r\n")
	}
	if o.msgID {
		b.WriteString("Message-ID: <client-1234@ubnd.hcm.gov.vn>\r\n")
	}
	b.WriteString(o.extraHeader)
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: multipart/mixed; boundary=\"ranh-gioi\"\r\n\r\n")
	b.WriteString("--ranh-gioi\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	body := o.body
	if body == "" {
		body = "Kính gửi ông/bà,\r\nHồ sơ của ông/bà đã được giải quyết.\r\n.\r\n..dòng bắt đầu bằng dấu chấm\r\n"
	}
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(body))
	qp.Close()
	b.WriteString("\r\n")
	if o.attachment > 0 {
		b.WriteString("--ranh-gioi\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"quyet-dinh.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		data := make([]byte, o.attachment)
		r := rand.NewChaCha8([32]byte{1})
		r.Read(data)
		enc := base64.StdEncoding.EncodeToString(data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--ranh-gioi--\r\n")
	return b.Bytes()
}

// splitPrefix checks raw ends with msg and returns the header fields the
// server put before it.
func splitPrefix(t *testing.T, raw, msg []byte) textproto.MIMEHeader {
	t.Helper()
	if !bytes.HasSuffix(raw, msg) {
		t.Fatalf("stored message (%d bytes) does not end with the submitted one (%d bytes)", len(raw), len(msg))
	}
	prefix := raw[:len(raw)-len(msg)]
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(bytes.Clone(prefix), "\r\n"...)))).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("parse prepended header %q: %v", prefix, err)
	}
	return h
}

func TestSubmission(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, envConfig{backend: backend})
			c := e.login(t, "alice@"+domain, alicePass)
			msg := testMessage(msgOpts{from: "vanthu@" + domain, to: "bob@" + domain, date: true, msgID: true, attachment: 300 << 10})
			// bob twice (address and alias): one copy; one remote recipient.
			reply, err := send(c, "vanthu@"+domain, []string{"bob@" + domain, "Phong@" + strings.ToUpper(domain), "citizen@example.org"}, msg)
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			if !strings.HasPrefix(reply, "2.0.0 OK ") {
				t.Errorf("reply %q, want 2.0.0 OK <id>", reply)
			}
			id := strings.TrimPrefix(reply, "2.0.0 OK ")

			inbox := e.inbox(t, e.bob)
			if len(inbox) != 1 {
				t.Fatalf("bob has %d messages, want 1", len(inbox))
			}
			h := splitPrefix(t, inbox[0].Raw, msg)
			if len(h) != 1 || len(h["Received"]) != 1 {
				t.Errorf("prepended fields %v, want only Received", h)
			}
			rcv := h.Get("Received")
			for _, want := range []string{"from localhost ([127.0.0.1])", "by mail.ubnd.hcm.gov.vn", "with ESMTPSA id " + id, "(authenticated as alice@" + domain + ")", "(using TLS 1.3 with cipher TLS_"} {
				if !strings.Contains(rcv, want) {
					t.Errorf("Received: %q lacks %q", rcv, want)
				}
			}
			if strings.Contains(rcv, alicePass) {
				t.Error("password in Received")
			}
			if got := len(e.inbox(t, e.alice)); got != 0 {
				t.Errorf("alice has %d messages, want 0 (no Sent copy from SMTP)", got)
			}

			ctx := context.Background()
			ids, err := e.st.Outbox().DuePage(ctx, time.Now().Add(time.Hour), 0, 10)
			if err != nil || len(ids) != 1 {
				t.Fatalf("outbox due: %v, %v; want one", ids, err)
			}
			ob, err := e.st.Outbox().State(ctx, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			if ob.MailFrom != "vanthu@"+domain || len(ob.Recipients) != 1 || ob.Recipients[0].Address != "citizen@example.org" {
				t.Errorf("outbox %+v, want from vanthu@, to citizen@example.org", ob)
			}
			if !bytes.Equal(ob.Raw, inbox[0].Raw) {
				t.Error("outbox bytes differ from the inbox copy")
			}
			if err := c.Quit(); err != nil {
				t.Errorf("QUIT: %v", err)
			}
			if !e.logs.Contains("result=accepted") {
				t.Errorf("no transaction log line")
			}
		})
	}
}

func TestAddedFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	c := e.login(t, "bob@"+domain, bobPass)
	tests := []struct {
		name        string
		date, msgID bool
		want        []string
	}{
		{"both present", true, true, []string{"Received"}},
		{"no date", false, true, []string{"Received", "Date"}},
		{"no message-id", true, false, []string{"Received", "Message-Id"}},
		{"neither", false, false, []string{"Received", "Date", "Message-Id"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := testMessage(msgOpts{from: "bob@" + domain, to: "alice@" + domain, date: tt.date, msgID: tt.msgID})
			if _, err := send(c, "bob@"+domain, []string{"vanthu@" + domain}, msg); err != nil {
				t.Fatal(err)
			}
			inbox := e.inbox(t, e.alice)
			if len(inbox) != i+1 {
				t.Fatalf("%d messages, want %d", len(inbox), i+1)
			}
			h := splitPrefix(t, inbox[i].Raw, msg)
			var got []string
			for k := range h {
				got = append(got, k)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("prepended %v, want %v", got, tt.want)
			}
			for _, k := range tt.want {
				if h.Get(k) == "" {
					t.Errorf("prepended %v, want %v", got, tt.want)
				}
			}
			if d := h.Get("Date"); d != "" {
				if _, err := time.Parse(time.RFC1123Z, d); err != nil {
					t.Errorf("Date %q: %v", d, err)
				}
			}
			if id := h.Get("Message-Id"); id != "" && !strings.HasSuffix(id, "@mail.ubnd.hcm.gov.vn>") {
				t.Errorf("Message-ID %q", id)
			}
		})
	}
}

func TestAuthRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	c := e.dialStartTLS(t)
	err := c.Mail("alice@"+domain, nil)
	wantCode(t, err, 530, smtp.EnhancedCode{5, 7, 0})
}

func TestWrongPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	for _, user := range []string{"alice@" + domain, "nobody@" + domain} {
		c := e.dialStartTLS(t)
		err := c.Auth(sasl.NewPlainClient("", user, "wrong"))
		wantCode(t, err, 535, smtp.EnhancedCode{5, 7, 8})
	}
	if !e.logs.Contains("result=fail") {
		t.Error("failed login not logged")
	}
}

func tryLogin(e *env, t *testing.T, user, pass string) error {
	c := e.dialStartTLS(t)
	return c.Auth(sasl.NewPlainClient("", user, pass))
}

func TestLockout(t *testing.T) {
	t.Parallel()
	t.Run("account", func(t *testing.T) {
		e := newEnv(t, envConfig{lim: &loginlimit.Options{AccountFailures: 2, IPFailures: 100, DelayAfter: -1}})
		for i := 0; i < 2; i++ {
			wantCode(t, tryLogin(e, t, "alice@"+domain, "wrong"), 535, smtp.EnhancedCode{5, 7, 8})
		}
		// Even the right password is not checked while locked.
		wantCode(t, tryLogin(e, t, "alice@"+domain, alicePass), 454, smtp.EnhancedCode{4, 7, 0})
		// Bob, from the same address, is fine.
		if err := tryLogin(e, t, "bob@"+domain, bobPass); err != nil {
			t.Fatalf("bob: %v", err)
		}
		if !e.logs.Contains("result=locked") {
			t.Error("lockout not logged")
		}
	})
	t.Run("address", func(t *testing.T) {
		e := newEnv(t, envConfig{lim: &loginlimit.Options{AccountFailures: 100, IPFailures: 3, DelayAfter: -1}})
		for _, user := range []string{"alice@" + domain, "bob@" + domain, "alice@" + domain} {
			wantCode(t, tryLogin(e, t, user, "wrong"), 535, smtp.EnhancedCode{5, 7, 8})
		}
		wantCode(t, tryLogin(e, t, "bob@"+domain, bobPass), 454, smtp.EnhancedCode{4, 7, 0})
	})
	t.Run("success resets account", func(t *testing.T) {
		e := newEnv(t, envConfig{lim: &loginlimit.Options{AccountFailures: 3, IPFailures: 100, DelayAfter: -1}})
		for i := 0; i < 2; i++ {
			tryLogin(e, t, "alice@"+domain, "wrong")
		}
		if err := tryLogin(e, t, "alice@"+domain, alicePass); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			tryLogin(e, t, "alice@"+domain, "wrong")
		}
		if err := tryLogin(e, t, "alice@"+domain, alicePass); err != nil {
			t.Fatalf("locked although a success came between: %v", err)
		}
	})
	t.Run("delay", func(t *testing.T) {
		e := newEnv(t, envConfig{lim: &loginlimit.Options{AccountFailures: 100, DelayAfter: 1, BaseDelay: 300 * time.Millisecond}})
		tryLogin(e, t, "alice@"+domain, "wrong")
		start := time.Now()
		wantCode(t, tryLogin(e, t, "alice@"+domain, "wrong"), 535, smtp.EnhancedCode{5, 7, 8})
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("second failure answered after %v, want at least 300ms", d)
		}
	})
}

func TestLoginMechanism(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	c := e.dialStartTLS(t)
	if !c.SupportsAuth("LOGIN") || !c.SupportsAuth("PLAIN") {
		t.Fatal("PLAIN and LOGIN not both advertised after STARTTLS")
	}
	if err := c.Auth(sasl.NewLoginClient("bob@"+domain, bobPass)); err != nil {
		t.Fatalf("AUTH LOGIN: %v", err)
	}
	msg := testMessage(msgOpts{from: "phong@" + domain, to: "alice@" + domain})
	if _, err := send(c, "phong@"+domain, []string{"alice@" + domain}, msg); err != nil {
		t.Fatal(err)
	}
	// PLAIN with an authorization identity other than the user.
	c2 := e.dialStartTLS(t)
	wantCode(t, c2.Auth(sasl.NewPlainClient("alice@"+domain, "bob@"+domain, bobPass)), 535, smtp.EnhancedCode{5, 7, 8})
}

func TestSpoofedSender(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice@"+domain, alicePass)
	for _, from := range []string{"bob@" + domain, "phong@" + domain, "director@example.org", ""} {
		wantCode(t, c.Mail(from, nil), 553, smtp.EnhancedCode{5, 7, 1})
	}
	tests := []struct {
		name string
		msg  msgOpts
		code int
		enh  smtp.EnhancedCode
	}{
		{"From not owned", msgOpts{from: "bob@" + domain}, 553, smtp.EnhancedCode{5, 7, 1}},
		{"second From address not owned", msgOpts{from: "alice@" + domain + ">, <bob@" + domain}, 553, smtp.EnhancedCode{5, 7, 1}},
		{"Sender not owned", msgOpts{from: "alice@" + domain, extraHeader: "Sender: phong@" + domain + "\r\n"}, 553, smtp.EnhancedCode{5, 7, 1}},
		{"no From", msgOpts{omitFrom: true}, 554, smtp.EnhancedCode{5, 6, 0}},
		{"two From", msgOpts{from: "alice@" + domain, extraHeader: "From: alice@" + domain + "\r\n"}, 554, smtp.EnhancedCode{5, 6, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.msg.to = "bob@" + domain
			_, err := send(c, "alice@"+domain, []string{"bob@" + domain}, testMessage(tt.msg))
			wantCode(t, err, tt.code, tt.enh)
		})
	}
	if n := len(e.inbox(t, e.bob)); n != 0 {
		t.Errorf("bob has %d messages, want 0", n)
	}
}

func TestRecipients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{opts: Options{Common: Common{MaxRecipients: 3}}})
	c := e.login(t, "alice@"+domain, alicePass)
	if err := c.Mail("alice@"+domain, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Rcpt("nobody@"+domain, nil), 550, smtp.EnhancedCode{5, 1, 1})
	for _, r := range []string{"bob@" + domain, "a@example.org", "b@example.org"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatalf("RCPT %s: %v", r, err)
		}
	}
	wantCode(t, c.Rcpt("c@example.org", nil), 452, smtp.EnhancedCode{4, 5, 3})
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
}

func TestOversize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{opts: Options{Common: Common{MaxMessageBytes: 100 << 10}}})
	c := e.login(t, "alice@"+domain, alicePass)
	if size, ok := c.MaxMessageSize(); !ok || size != 100<<10 {
		t.Errorf("SIZE %d %v, want %d", size, ok, 100<<10)
	}
	wantCode(t, c.Mail("alice@"+domain, &smtp.MailOptions{Size: 200 << 10}), 552, smtp.EnhancedCode{5, 3, 4})
	msg := testMessage(msgOpts{from: "alice@" + domain, to: "bob@" + domain, attachment: 200 << 10})
	_, err := send(c, "alice@"+domain, []string{"bob@" + domain}, msg)
	wantCode(t, err, 552, smtp.EnhancedCode{5, 3, 4})
	// The session goes on.
	msg = testMessage(msgOpts{from: "alice@" + domain, to: "bob@" + domain, attachment: 10 << 10})
	if _, err := send(c, "alice@"+domain, []string{"bob@" + domain}, msg); err != nil {
		t.Fatal(err)
	}
	if n := len(e.inbox(t, e.bob)); n != 1 {
		t.Errorf("bob has %d messages, want 1", n)
	}
}

func TestAuthWithoutTLS(t *testing.T) {
	t.Parallel()
	t.Run("refused", func(t *testing.T) {
		e := newEnv(t, envConfig{})
		c := e.dial(t)
		if err := c.Hello("client.test"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := c.Extension("AUTH"); ok {
			t.Error("AUTH advertised before TLS")
		}
		if ok, _ := c.Extension("STARTTLS"); !ok {
			t.Error("STARTTLS not advertised")
		}
		wantCode(t, c.Auth(sasl.NewPlainClient("", "alice@"+domain, alicePass)), 538, smtp.EnhancedCode{5, 7, 11})
	})
	t.Run("loopback allowed", func(t *testing.T) {
		e := newEnv(t, envConfig{opts: Options{AllowInsecureAuth: true}})
		c := e.dial(t)
		if err := c.Auth(sasl.NewPlainClient("", "alice@"+domain, alicePass)); err != nil {
			t.Fatal(err)
		}
		msg := testMessage(msgOpts{from: "alice@" + domain, to: "bob@" + domain})
		if _, err := send(c, "alice@"+domain, []string{"bob@" + domain}, msg); err != nil {
			t.Fatal(err)
		}
		h := splitPrefix(t, e.inbox(t, e.bob)[0].Raw, msg)
		if rcv := h.Get("Received"); !strings.Contains(rcv, "with ESMTPA id") || strings.Contains(rcv, "using TLS") {
			t.Errorf("Received %q, want ESMTPA without TLS", rcv)
		}
	})
	t.Run("policy", func(t *testing.T) {
		tests := []struct {
			ip       string
			tls      bool
			insecure bool
			want     bool
		}{
			{"127.0.0.1", false, false, false},
			{"127.0.0.1", false, true, true},
			{"::1", false, true, true},
			{"192.0.2.1", false, true, false},
			{"192.0.2.1", true, false, true},
		}
		for _, tt := range tests {
			s := &session{srv: &Server{opts: Options{AllowInsecureAuth: tt.insecure}}, sessionConn: sessionConn{ip: netip.MustParseAddr(tt.ip)}}
			if tt.tls {
				s.tls = &tls.ConnectionState{}
			}
			if got := s.authAllowed(); got != tt.want {
				t.Errorf("authAllowed(ip %s, tls %v, insecure %v) = %v, want %v", tt.ip, tt.tls, tt.insecure, got, tt.want)
			}
		}
	})
}

// rawConn is a hand-driven SMTP connection on the implicit-TLS listener,
// for what well-behaved clients cannot send.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *textproto.Reader
}

func (e *env) raw(t *testing.T, user, pass string) *rawConn {
	c, err := tls.Dial("tcp", e.tlsAddr, e.clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawConn{t: t, c: c, r: textproto.NewReader(bufio.NewReader(c))}
	rc.expect(220)
	rc.cmd("EHLO client.test", 250)
	rc.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)), 235)
	return rc
}

func (rc *rawConn) expect(code int) string {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := rc.r.ReadResponse(code)
	if err != nil {
		rc.t.Fatalf("want %d: %v", code, err)
	}
	return msg
}

func (rc *rawConn) cmd(line string, code int) string {
	rc.t.Helper()
	if _, err := rc.c.Write([]byte(line + "\r\n")); err != nil {
		rc.t.Fatal(err)
	}
	return rc.expect(code)
}

func TestBareLineEndings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	rc := e.raw(t, "alice@"+domain, alicePass)
	good := "From: alice@" + domain + "\r\nSubject: x\r\n\r\nhello\r\n"
	tests := []struct {
		name string
		data string
	}{
		{"bare LF in body", "From: alice@" + domain + "\r\n\r\nline one\nline two\r\n"},
		{"bare LF in header", "From: alice@" + domain + "\nSubject: x\r\n\r\nbody\r\n"},
		{"bare CR", "From: alice@" + domain + "\r\n\r\nline one\rline two\r\n"},
		{"smuggling LF.LF", "From: alice@" + domain + "\r\n\r\nhi\n.\nMAIL FROM:<bob@" + domain + ">\r\n"},
		{"smuggling CR.CR", "From: alice@" + domain + "\r\n\r\nhi\r.\rMAIL FROM:<bob@" + domain + ">\r\n"},
		{"smuggling LF.CRLF", "From: alice@" + domain + "\r\n\r\nhi\n.\r\nRSET\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc.t = t
			rc.cmd("MAIL FROM:<alice@"+domain+">", 250)
			rc.cmd("RCPT TO:<bob@"+domain+">", 250)
			rc.cmd("DATA", 354)
			rc.c.Write([]byte(tt.data + ".\r\n"))
			msg := rc.expect(554)
			if !strings.HasPrefix(msg, "5.6.0 ") {
				t.Errorf("reply %q, want 5.6.0", msg)
			}
		})
	}
	rc.t = t
	// CHUNKING (RFC 3030), which go-smtp always offers, gets the same check.
	bad := "From: alice@" + domain + "\r\n\r\nline one\nline two\r\n"
	rc.cmd("MAIL FROM:<alice@"+domain+">", 250)
	rc.cmd("RCPT TO:<bob@"+domain+">", 250)
	rc.c.Write([]byte(fmt.Sprintf("BDAT %d LAST\r\n%s", len(bad), bad)))
	rc.expect(554)
	rc.cmd("MAIL FROM:<alice@"+domain+">", 250)
	rc.cmd("RCPT TO:<bob@"+domain+">", 250)
	rc.c.Write([]byte(fmt.Sprintf("BDAT %d\r\n%s", 10, good[:10])))
	rc.expect(250)
	rc.c.Write([]byte(fmt.Sprintf("BDAT %d LAST\r\n%s", len(good)-10, good[10:])))
	rc.expect(250)
	// The session still works, and nothing else was stored.
	rc.cmd("MAIL FROM:<alice@"+domain+">", 250)
	rc.cmd("RCPT TO:<bob@"+domain+">", 250)
	rc.cmd("DATA", 354)
	rc.c.Write([]byte(good + ".\r\n"))
	rc.expect(250)
	if n := len(e.inbox(t, e.bob)); n != 2 {
		t.Errorf("bob has %d messages, want 2", n)
	}
}

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	c, err := smtp.DialTLS(e.tlsAddr, e.clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS advertised inside TLS")
	}
	if err := c.Auth(sasl.NewPlainClient("", "bob@"+domain, bobPass)); err != nil {
		t.Fatal(err)
	}
	msg := testMessage(msgOpts{from: "bob@" + domain, to: "alice@" + domain, date: true, msgID: true})
	if _, err := send(c, "bob@"+domain, []string{"alice@" + domain}, msg); err != nil {
		t.Fatal(err)
	}
	if n := len(e.inbox(t, e.alice)); n != 1 {
		t.Errorf("alice has %d messages, want 1", n)
	}
}

func TestShutdownLetsDataFinish(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	busy := e.login(t, "alice@"+domain, alicePass)
	idle := e.login(t, "bob@"+domain, bobPass)

	msg := testMessage(msgOpts{from: "alice@" + domain, to: "bob@" + domain, attachment: 50 << 10})
	if err := busy.Mail("alice@"+domain, nil); err != nil {
		t.Fatal(err)
	}
	if err := busy.Rcpt("bob@"+domain, nil); err != nil {
		t.Fatal(err)
	}
	w, err := busy.Data()
	if err != nil {
		t.Fatal(err)
	}
	half := len(msg) / 2
	if _, err := w.Write(msg[:half]); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	// The idle session is told 421 and closed; new connections are refused.
	deadline := time.Now().Add(5 * time.Second)
	for idle.Noop() == nil {
		if time.Now().After(deadline) {
			t.Fatal("idle connection still open during shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if c, err := smtp.Dial(e.addr); err == nil {
		c.Close()
		t.Error("new connection accepted during shutdown")
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a transaction open", err)
	case <-time.After(100 * time.Millisecond):
	}

	if _, err := w.Write(msg[half:]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.CloseWithResponse(); err != nil {
		t.Fatalf("DATA during shutdown: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after the transaction ended")
	}
	if n := len(e.inbox(t, e.bob)); n != 1 {
		t.Errorf("bob has %d messages, want 1", n)
	}
}

func TestMaxConnections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{opts: Options{Common: Common{MaxConnections: 2}}})
	e.dial(t)
	e.dial(t)
	c, err := smtp.Dial(e.addr)
	if err == nil {
		defer c.Close()
		err = c.Hello("client.test")
	}
	wantCode(t, err, 421, smtp.EnhancedCode{4, 7, 0})
}

func TestConcurrentSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		c := e.login(t, "alice@"+domain, alicePass)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				msg := testMessage(msgOpts{from: "alice@" + domain, to: "bob@" + domain, body: fmt.Sprintf("thư %d-%d\r\n", i, j)})
				if _, err := send(c, "alice@"+domain, []string{"bob@" + domain}, msg); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := len(e.inbox(t, e.bob)); n != 40 {
		t.Errorf("bob has %d messages, want 40", n)
	}
}

// With Options.Sign, a message with remote recipients is stored as Sign
// returned it (the outbox holds the signed bytes); a message only for
// local recipients is not passed to Sign.
func TestSubmissionSignsRemoteMail(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var gotFrom atomic.Value
	e := newEnv(t, envConfig{opts: Options{Signer: SignerFunc(func(ctx context.Context, mailFrom string, msg []byte) []byte {
		calls.Add(1)
		gotFrom.Store(mailFrom)
		return append([]byte("DKIM-Signature: v=1; d="+domain+"; b=test\r\n"), msg...)
	})}})
	c := e.login(t, "alice@"+domain, alicePass)
	msg := testMessage(msgOpts{from: "alice@" + domain, to: "bob@" + domain, date: true, msgID: true})
	if _, err := send(c, "alice@"+domain, []string{"bob@" + domain}, msg); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("Sign called %d times for local-only mail", n)
	}
	if _, err := send(c, "alice@"+domain, []string{"citizen@example.org"}, msg); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 || gotFrom.Load() != "alice@"+domain {
		t.Fatalf("Sign called %d times with %v, want once with alice@", n, gotFrom.Load())
	}
	ctx := context.Background()
	ids, err := e.st.Outbox().DuePage(ctx, time.Now().Add(time.Hour), 0, 10)
	if err != nil || len(ids) != 1 {
		t.Fatalf("outbox due: %v, %v; want one", ids, err)
	}
	ob, err := e.st.Outbox().State(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	raw := ob.Raw
	if !bytes.HasPrefix(raw, []byte("DKIM-Signature: v=1; d="+domain+"; b=test\r\nReceived:")) || !bytes.HasSuffix(raw, msg) {
		t.Fatalf("outbox bytes are not the signed message: %.120q", raw)
	}
}
