package main

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"congthu/internal/testdns"
	"congthu/internal/testenv"
)

// probeConn is a raw SMTP connection to the built binary.
type probeConn struct {
	t *testing.T
	c net.Conn
	r *textproto.Reader
}

func dialProbe(t *testing.T, c net.Conn) *probeConn {
	t.Helper()
	t.Cleanup(func() { c.Close() })
	p := &probeConn{t: t, c: c, r: textproto.NewReader(bufio.NewReader(c))}
	p.expect(220)
	p.cmd("EHLO probe.example", 250)
	return p
}

func (p *probeConn) expect(code int) string {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	got, msg, err := p.r.ReadResponse(0)
	if err != nil || got != code {
		p.t.Fatalf("got %d %q (%v), want %d", got, msg, err, code)
	}
	return msg
}

func (p *probeConn) cmd(line string, code int) string {
	p.t.Helper()
	if _, err := p.c.Write([]byte(line + "\r\n")); err != nil {
		p.t.Fatal(err)
	}
	return p.expect(code)
}

// send runs one transaction and returns the final reply's code and text.
func (p *probeConn) send(from, to, msg string) (int, string) {
	p.t.Helper()
	p.cmd("MAIL FROM:<"+from+">", 250)
	p.cmd("RCPT TO:<"+to+">", 250)
	p.cmd("DATA", 354)
	p.c.Write([]byte(msg + ".\r\n"))
	p.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	code, text, _ := p.r.ReadResponse(0)
	return code, text
}

// TestProbeHeaders: posing as a local user through header syntax (a
// second From written "From :", "From\t:", "from :", "Sender :", two From)
// is refused with 554 5.6.0 on the MX and on submission, and forged trust
// fields are gone from an accepted message read back over IMAP.
func TestProbeHeaders(t *testing.T) {
	dns := testdns.Start(t)
	mxAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePorts(t, 1)[0])
	n := newNode(t, "CONGTHU_REDIS_URL="+testenv.Redis(t), "CONGTHU_MX_ADDR="+mxAddr,
		"CONGTHU_DNS_RESOLVER="+dns.Addr(), "CONGTHU_HOSTNAME=mx.demo.gov.vn")
	n.addr["mx"] = mxAddr
	n.admin(t, "", "domain", "add", "demo.gov.vn")
	const pw = "mat-khau-can-bo-1"
	n.admin(t, pw+"\n", "user", "add", "--password-stdin", "canbo@demo.gov.vn")
	n.admin(t, pw+"\n", "user", "add", "--password-stdin", "giamdoc@demo.gov.vn")
	n.start(t)
	defer n.stop(t)

	spoofs := func(own string) []string {
		return []string{
			"From : Giam doc <giamdoc@demo.gov.vn>\r\nFrom: " + own + "\r\n",
			"From\t: giamdoc@demo.gov.vn\r\nFrom: " + own + "\r\n",
			"from : giamdoc@demo.gov.vn\r\nFrom: " + own + "\r\n",
			"From: " + own + "\r\nSender : giamdoc@demo.gov.vn\r\n",
			"From: " + own + "\r\nFrom: giamdoc@demo.gov.vn\r\n",
			"From: " + own + "\r\nSender: " + own + "\r\nSender: giamdoc@demo.gov.vn\r\n",
		}
	}
	check := func(t *testing.T, p *probeConn, from, own string) {
		for _, h := range spoofs(own) {
			code, text := p.send(from, "canbo@demo.gov.vn", h+"To: canbo@demo.gov.vn\r\nSubject: spoof\r\n\r\nbody\r\n")
			if code != 554 || !strings.HasPrefix(text, "5.6.0 ") {
				t.Errorf("header %q: got %d %q, want 554 5.6.0", h, code, text)
			}
		}
	}
	t.Run("MX", func(t *testing.T) {
		c, err := net.Dial("tcp", mxAddr)
		if err != nil {
			t.Fatal(err)
		}
		check(t, dialProbe(t, c), "x@attacker.example", "x@attacker.example")
	})
	t.Run("submission", func(t *testing.T) {
		c, err := tls.Dial("tcp", n.addr["submissions"], &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		p := dialProbe(t, c)
		p.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00canbo@demo.gov.vn\x00"+pw)), 235)
		check(t, p, "canbo@demo.gov.vn", "canbo@demo.gov.vn")
	})

	// An accepted message with forged trust fields in several spellings.
	c, err := net.Dial("tcp", mxAddr)
	if err != nil {
		t.Fatal(err)
	}
	p := dialProbe(t, c)
	msg := "Authentication-Results: mx.demo.gov.vn; dmarc=pass header.from=demo.gov.vn\r\n" +
		"Authentication-Results: (x) mx.demo.gov.vn; dkim=pass\r\n" +
		"Authentication-Results: MX.DEMO.GOV.VN.; spf=pass\r\n" +
		"Authentication-Results:\r\n\tmx.demo.gov.vn; arc=pass\r\n" +
		"X-Congthu-Quarantine: none\r\n" +
		"x-congthu-anything: yes\r\n" +
		"From: Nguoi gui <x@attacker.example>\r\nTo: canbo@demo.gov.vn\r\nSubject: probe-trust\r\n\r\nbody\r\n"
	if code, text := p.send("x@attacker.example", "canbo@demo.gov.vn", msg); code != 250 {
		t.Fatalf("trust-field message: %d %q, want 250", code, text)
	}
	ic, err := imapclient.DialTLS(n.addr["imaps"], &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if err := ic.Login("canbo@demo.gov.vn", pw).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := ic.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 1 {
		t.Fatalf("INBOX has %d messages, want 1 (the refused ones must not be stored)", sel.NumMessages)
	}
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	msgs, err := ic.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}, Envelope: true}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH: %v, %d messages", err, len(msgs))
	}
	hdr := strings.ToLower(string(msgs[0].FindBodySection(section)))
	if n := strings.Count(hdr, "authentication-results:"); n != 1 {
		t.Errorf("%d Authentication-Results fields, want only ours:\n%s", n, hdr)
	}
	for _, bad := range []string{"dmarc=pass", "dkim=pass", "spf=pass", "arc=pass", "x-congthu"} {
		if strings.Contains(hdr, bad) {
			t.Errorf("forged %q still in the header:\n%s", bad, hdr)
		}
	}
	if env := msgs[0].Envelope; env == nil || len(env.From) != 1 || env.From[0].Addr() != "x@attacker.example" {
		t.Errorf("ENVELOPE From %+v, want x@attacker.example", env)
	}
}
