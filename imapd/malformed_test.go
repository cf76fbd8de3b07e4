package imapd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// rawConn is a line-oriented IMAP connection for hand-written commands.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, e *env) *rawConn {
	t.Helper()
	c, err := tls.Dial("tcp", e.tlsAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawConn{t: t, c: c, br: bufio.NewReader(c)}
	r.expect("* OK")
	return r
}

// dialLoggedIn dials, logs in (tag a1) and, unless mailbox is "", selects
// mailbox (tag a2).
func dialLoggedIn(t *testing.T, e *env, mailbox string) *rawConn {
	t.Helper()
	r := dialRaw(t, e)
	r.send(fmt.Sprintf("a1 LOGIN %s \"%s\"\r\n", testUser, testPass))
	r.expect("a1 OK")
	if mailbox != "" {
		r.send("a2 SELECT " + mailbox + "\r\n")
		r.expect("a2 OK")
	}
	return r
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatalf("write %q: %v", s, err)
	}
}

// expect reads lines until one starts with prefix; it returns that line.
func (r *rawConn) expect(prefix string) string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var seen []string
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("waiting for %q: %v (after %q)", prefix, err, seen)
		}
		if strings.HasPrefix(line, prefix) {
			return line
		}
		seen = append(seen, line)
	}
}

// closed reports whether the server closes the connection within a few
// seconds (whatever it says before).
func (r *rawConn) closed() bool {
	r.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		if _, err := r.br.ReadString('\n'); err != nil {
			var ne net.Error
			return !errors.As(err, &ne) || !ne.Timeout()
		}
	}
}

// TestMalformed sends bad input over a raw TLS connection: the server
// answers BAD or NO, keeps the session going when it can, closes it
// cleanly when it must, and the mailbox is unharmed.
func TestMalformed(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.deliver("", message("Hồ sơ", "vp@hanoi.gov.vn", "x"))

	t.Run("before login", func(t *testing.T) {
		r := dialRaw(t, e)
		r.send("a1 LOGIN\r\n")
		r.expect("a1 BAD")
		r.send("a2 SELECT INBOX\r\n")
		r.expect("a2 BAD")
		r.send(fmt.Sprintf("a3 LOGIN %s \"wrong\"\r\n", testUser))
		r.expect("a3 NO")
		// An unknown command before login is answered BAD and the
		// session goes on (RFC 9051 section 7.1.5 keeps BYE for ending).
		r.send("a4 FROB x\r\n")
		r.expect("a4 BAD")
		r.send("a5 NOOP\r\n")
		r.expect("a5 OK")
		// Another protocol's request (cross-protocol attacks) is a run
		// of bad commands, which ends the connection.
		r.send("GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: y\r\nAccept: */*\r\n" + strings.Repeat("X-A: b\r\n", 10) + "\r\n")
		if got := r.expect("* BYE"); !strings.Contains(got, "invalid") {
			t.Errorf("BYE: %q", got)
		}
		if !r.closed() {
			t.Error("connection still open after an HTTP request")
		}
	})

	t.Run("after login", func(t *testing.T) {
		r := dialRaw(t, e)
		r.send(fmt.Sprintf("a1 LOGIN %s \"%s\"\r\n", testUser, testPass))
		r.expect("a1 OK")
		cases := []struct{ cmd, want string }{
			{"FROB\r\n", "BAD"},
			{"FETCH 1 FLAGS\r\n", "BAD"}, // not selected
			{"SELECT\r\n", "BAD"},
			{"SELECT INBOX\r\n", "OK"},
			{"FETCH 1:* (FLAGS\r\n", "BAD"},
			{"UID FETCH 1:* BODY[\r\n", "BAD"},
			{"FETCH 0 FLAGS\r\n", "BAD"},
			{"STORE 1 +FLAGS (\\Seen\r\n", "BAD"},
			{"STORE 1 +BOGUS (\\Seen)\r\n", "BAD"},
			{"SEARCH CHARSET KOI8-R ALL\r\n", "NO"},
			{"SEARCH FROB\r\n", "BAD"},
			{"LOGIN a b\r\n", "BAD"},
			{"APPEND INBOX {99999999999}\r\n", "NO"},
			{"APPEND INBOX (\\Seen) {30000000}\r\n", "NO"}, // over APPENDLIMIT
			// A UTF-8 name without ENABLE UTF8=ACCEPT is refused (RFC
			// 6855 section 3); its modified UTF-7 form is a name.
			{"COPY 1 \"Không có\"\r\n", "BAD"},
			{"COPY 1 \"Kh&APQ-ng c&APM-\"\r\n", "NO"},
			{"CREATE INBOX\r\n", "NO"},
			{"RENAME Nothing Else\r\n", "NO"},
			{"NOOP\r\n", "OK"},
		}
		for i, tc := range cases {
			tag := fmt.Sprintf("b%d", i)
			r.send(tag + " " + tc.cmd)
			line := r.expect(tag + " ")
			if !strings.HasPrefix(line, tag+" "+tc.want) {
				t.Errorf("%q: got %q, want %s", tc.cmd, strings.TrimSpace(line), tc.want)
			}
		}
		// A huge line: the server drops the connection, nothing else. It
		// may close while the line is still being written, so a write
		// error is what is expected too.
		r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		r.c.Write([]byte("c1 SEARCH TEXT \"" + strings.Repeat("x", 200<<10) + "\"\r\n"))
		if !r.closed() {
			t.Log("server answered a 200 KiB command line instead of closing")
		}
	})

	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", e.log)
		}
	}()
	t.Run("still fine", func(t *testing.T) {
		c := e.client(nil)
		d, err := c.Select("INBOX", nil).Wait()
		if err != nil || d.NumMessages != 1 {
			t.Fatalf("SELECT after the abuse = %+v, %v", d, err)
		}
	})
}

// TestPythonImaplib drives the server with Python's imaplib over TLS.
func TestPythonImaplib(t *testing.T) {
	e := newEnv(t, envOptions{})
	// imaplib sends LOGIN arguments as ASCII only.
	const user, pass = "py.stp@hanoi.gov.vn", "Py-pass-2026"
	acct, err := e.st.AddAccount(context.Background(), user, pass)
	if err != nil {
		t.Fatal(err)
	}
	e.acct = acct
	e.deliver("", message(hoSoSubject, "Một cửa <motcua@hanoi.gov.vn>", "Hồ sơ đã được tiếp nhận."))
	e.deliver("", message("Thông báo khác", "vp@hanoi.gov.vn", "x"))
	got := runImaplib(t, e, "imaplib_client.py", user, pass)
	for _, want := range []string{"login OK", "select OK 2", "search ho so: 1", "fetch OK", "subject: =?utf-8?q?h=e1=bb=93_s", "uid search all: 2", "logout BYE"} {
		if !strings.Contains(got, want) {
			t.Errorf("imaplib output lacks %q:\n%s", want, got)
		}
	}
}
