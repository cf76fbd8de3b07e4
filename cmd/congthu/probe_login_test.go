package main

// Probe tests of account names and revocation, through the built binary
// on loopback: a locked-out account cannot be reached through other
// spellings of its name, and "user passwd", "user disable" and "user
// remove" end the account's open SMTP and IMAP sessions within seconds,
// on every node.

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"congthu/internal/testenv"
)

// smtpAuth tries AUTH PLAIN over implicit TLS; nil on 235.
func smtpAuth(t *testing.T, addr, user, pass string) error {
	t.Helper()
	c, err := smtp.DialTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Auth(sasl.NewPlainClient("", user, pass))
}

// imapLogin tries LOGIN over implicit TLS; nil on OK.
func imapLogin(t *testing.T, addr, user, pass string) error {
	t.Helper()
	c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Login(user, pass).Wait()
}

func TestProbeLoginVariantsLockedOut(t *testing.T) {
	n := newNode(t, "CONGTHU_REDIS_URL="+testenv.Redis(t),
		"CONGTHU_AUTH_MAX_FAILURES_PER_ACCOUNT=3", "CONGTHU_AUTH_MAX_FAILURES_PER_IP=1000")
	n.admin(t, "", "domain", "add", "demo.gov.vn")
	const pw = "mat-khau-cua-can-bo"
	n.admin(t, pw+"\n", "user", "add", "--password-stdin", "canbo@demo.gov.vn")
	n.admin(t, pw+"\n", "user", "add", "--password-stdin", "vanthu@demo.gov.vn")
	n.start(t)
	defer n.stop(t)

	// Lock canbo out with wrong passwords.
	for i := 0; i < 3; i++ {
		if err := smtpAuth(t, n.addr["submissions"], "canbo@demo.gov.vn", "sai-mat-khau"); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	if err := smtpAuth(t, n.addr["submissions"], "canbo@demo.gov.vn", pw); err == nil {
		t.Fatal("canbo not locked out after 3 failures")
	}
	for _, v := range []string{"canbo@ demo.gov.vn", "canbo@demo.gov.vn.", " CanBo@Demo.gov.vn", "canbo @demo.gov.vn", "canbo@demo.gov.vn. "} {
		if err := smtpAuth(t, n.addr["submissions"], v, pw); err == nil {
			t.Errorf("SMTP AUTH as %q logged in to a locked-out account", v)
		} else if !strings.Contains(err.Error(), "454") {
			t.Errorf("SMTP AUTH as %q: %v, want 454 (locked)", v, err)
		}
		if err := imapLogin(t, n.addr["imaps"], v, pw); err == nil {
			t.Errorf("IMAP LOGIN as %q logged in to a locked-out account", v)
		}
	}

	// Names that are not canonical never log in, locked out or not
	// (each counts as a failure of vanthu, so a success in between
	// keeps it under the limit); the canonical name in any case does.
	for _, v := range []string{"vanthu@ demo.gov.vn", "vanthu@demo.gov.vn.", "van thu@demo.gov.vn"} {
		if err := smtpAuth(t, n.addr["submissions"], v, pw); err == nil {
			t.Errorf("SMTP AUTH as %q succeeded, want a failure (not a valid user name)", v)
		}
		if err := imapLogin(t, n.addr["imaps"], v, pw); err == nil {
			t.Errorf("IMAP LOGIN as %q succeeded, want a failure", v)
		}
		if err := smtpAuth(t, n.addr["submissions"], " VanThu@Demo.gov.vn ", pw); err != nil {
			t.Errorf("SMTP AUTH with the canonical name in capitals: %v", err)
		}
	}
	if err := imapLogin(t, n.addr["imaps"], "VANTHU@demo.gov.vn", pw); err != nil {
		t.Errorf("IMAP LOGIN with the canonical name in capitals: %v", err)
	}
}

// liveSession is a raw logged-in SMTP or IMAP connection.
type liveSession struct {
	proto string
	conn  net.Conn
	r     *bufio.Reader
}

func dialTLS(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// expect sends cmd (unless "") and reads lines until one starts with want.
func (s *liveSession) expect(t *testing.T, cmd, want string) {
	t.Helper()
	if cmd != "" {
		io.WriteString(s.conn, cmd+"\r\n")
	}
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: after %q: %v, want %q", s.proto, cmd, err, want)
		}
		if strings.HasPrefix(line, want) {
			return
		}
	}
}

func openSMTP(t *testing.T, addr, user, pass string, inTx bool) *liveSession {
	c, r := dialTLS(t, addr)
	s := &liveSession{proto: "smtp", conn: c, r: r}
	s.expect(t, "", "220 ")
	s.expect(t, "EHLO probe", "250 ")
	s.expect(t, "AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)), "235 ")
	if inTx {
		s.expect(t, "MAIL FROM:<"+user+">", "250 ")
		s.expect(t, "RCPT TO:<"+user+">", "250 ")
	}
	return s
}

func openIMAP(t *testing.T, addr, user, pass string, idle bool) *liveSession {
	c, r := dialTLS(t, addr)
	s := &liveSession{proto: "imap", conn: c, r: r}
	s.expect(t, "", "* OK")
	s.expect(t, `a LOGIN "`+user+`" "`+pass+`"`, "a OK")
	s.expect(t, "b SELECT INBOX", "b OK")
	if idle {
		s.expect(t, "c IDLE", "+ ")
	}
	return s
}

// ended waits until the server ends the session (SMTP 421 4.7.0, IMAP
// * BYE) and closes the connection, within limit.
func (s *liveSession) ended(t *testing.T, limit time.Duration) {
	t.Helper()
	want := "421 4.7.0"
	if s.proto == "imap" {
		want = "* BYE"
	}
	s.conn.SetReadDeadline(time.Now().Add(limit))
	got := false
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("%s session still open after %v (got %q: %v)", s.proto, limit, want, got)
			}
			if !got {
				t.Fatalf("%s connection closed without %q: %v", s.proto, want, err)
			}
			return
		}
		if strings.HasPrefix(line, want) {
			got = true
		}
	}
}

// checkRevocation opens sessions of user on the nodes in sessionsOn, runs
// the admin command on admin, and requires every session to end within
// limit.
func checkRevocation(t *testing.T, admin *node, sessionsOn []*node, user, pass string, limit time.Duration, stdin string, args ...string) {
	t.Helper()
	var ss []*liveSession
	for _, n := range sessionsOn {
		ss = append(ss,
			openSMTP(t, n.addr["submissions"], user, pass, false),
			openSMTP(t, n.addr["submissions"], user, pass, true),
			openIMAP(t, n.addr["imaps"], user, pass, false),
			openIMAP(t, n.addr["imaps"], user, pass, true),
		)
	}
	start := time.Now()
	admin.admin(t, stdin, args...)
	for _, s := range ss {
		s.ended(t, limit)
	}
	t.Logf("%v: %d sessions ended within %v of the command", args, len(ss), time.Since(start).Round(time.Millisecond))
}

func testRevocation(t *testing.T, extra ...string) {
	n := newNode(t, extra...)
	n.admin(t, "", "domain", "add", "demo.gov.vn")
	const pw, pw2 = "mat-khau-cua-can-bo", "mat-khau-moi-cua-can-bo"
	for _, u := range []string{"passwd@demo.gov.vn", "disable@demo.gov.vn", "remove@demo.gov.vn"} {
		n.admin(t, pw+"\n", "user", "add", "--password-stdin", u)
	}
	n.start(t)
	defer n.stop(t)
	nodes := []*node{n}
	checkRevocation(t, n, nodes, "passwd@demo.gov.vn", pw, 6*time.Second, pw2+"\n", "user", "passwd", "--password-stdin", "passwd@demo.gov.vn")
	checkRevocation(t, n, nodes, "disable@demo.gov.vn", pw, 6*time.Second, "", "user", "disable", "disable@demo.gov.vn")
	checkRevocation(t, n, nodes, "remove@demo.gov.vn", pw, 6*time.Second, "", "user", "remove", "remove@demo.gov.vn")

	// The new password logs in, and that session stays.
	s := openIMAP(t, n.addr["imaps"], "passwd@demo.gov.vn", pw2, false)
	time.Sleep(3 * time.Second)
	s.expect(t, "z NOOP", "z OK")
}

// Without Redis: the store check ends the sessions.
func TestProbeRevokeSessionsStore(t *testing.T) { testRevocation(t) }

// With Redis: the notice ends them at once.
func TestProbeRevokeSessionsRedis(t *testing.T) {
	testRevocation(t, "CONGTHU_REDIS_URL="+testenv.Redis(t))
}

// Two nodes share PostgreSQL and Redis; the admin command runs beside
// node A and the sessions on both nodes end within a second or two.
func TestProbeRevokeSessionsTwoNodes(t *testing.T) {
	pg, rd := testenv.Postgres(t), testenv.Redis(t)
	a := newNode(t, "CONGTHU_DATABASE_URL="+pg, "CONGTHU_REDIS_URL="+rd)
	b := newNode(t, "CONGTHU_DATABASE_URL="+pg, "CONGTHU_REDIS_URL="+rd)
	a.admin(t, "", "domain", "add", "demo.gov.vn")
	const pw, pw2 = "mat-khau-cua-can-bo", "mat-khau-moi-cua-can-bo"
	for _, u := range []string{"passwd@demo.gov.vn", "disable@demo.gov.vn", "remove@demo.gov.vn"} {
		a.admin(t, pw+"\n", "user", "add", "--password-stdin", u)
	}
	a.start(t)
	defer a.stop(t)
	b.start(t)
	defer b.stop(t)
	nodes := []*node{a, b}
	checkRevocation(t, a, nodes, "passwd@demo.gov.vn", pw, 6*time.Second, pw2+"\n", "user", "passwd", "--password-stdin", "passwd@demo.gov.vn")
	checkRevocation(t, a, nodes, "disable@demo.gov.vn", pw, 6*time.Second, "", "user", "disable", "disable@demo.gov.vn")
	checkRevocation(t, a, nodes, "remove@demo.gov.vn", pw, 6*time.Second, "", "user", "remove", "remove@demo.gov.vn")
}
