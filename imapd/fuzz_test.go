package imapd

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzSession sends arbitrary bytes to a logged-in session with INBOX
// selected: whatever they are, the server answers and, once the client
// stops sending, closes the connection within a bounded time, and never
// panics.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"a NOOP\r\n",
		"a FETCH 1:* (FLAGS BODY.PEEK[1.MIME] BINARY.PEEK[1]<0.5> BODYSTRUCTURE ENVELOPE)\r\n",
		"a LIST \"\" \"foo\r\nb NOOP\r\n",
		"a UID STORE 1:* (UNCHANGEDSINCE 1) +FLAGS ($x)\r\n",
		"a SEARCH OR (FROM x) NOT MODSEQ 2 TEXT {3+}\r\nabc\r\n",
		"a IDLE\r\nDONE\r\n",
		"a APPEND INBOX {5+}\r\nHello\r\n",
		"a SELECT INBOX (CONDSTORE)\r\na EXPUNGE\r\nb CLOSE\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"a ENABLE QRESYNC UTF8=ACCEPT\r\na UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)\r\n",
		"u SEARCH RETURN (UPDATE PARTIAL 1:5) UNSEEN\r\nv UID SORT RETURN (UPDATE MIN) (SUBJECT) UTF-8 ALL\r\nb STORE 1 +FLAGS (\\Seen)\r\nc EXPUNGE\r\nd CANCELUPDATE \"u\" \"v\"\r\n",
	} {
		f.Add([]byte(s))
	}
	// One server for the run (a test's temporary directory would hold
	// the "#" of the input's name, which the SQLite path refuses).
	e := newEnv(f, envOptions{opts: Options{AllowInsecureAuth: true, MaxConnectionsPerIP: -1}})
	e.deliver("", multipartMsg)
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "l1 LOGIN %s \"%s\"\r\nl2 SELECT INBOX\r\n", testUser, testPass)
		c.Write(in)
		c.(*net.TCPConn).CloseWrite()
		start := time.Now()
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("the server did not close the connection (%v) after %v; it said %q", err, time.Since(start), tail(b))
		}
		if strings.Contains(e.log.String(), "panic") {
			t.Fatalf("panic in the server log:\n%s", e.log)
		}
	})
}

func tail(b []byte) []byte {
	if len(b) > 300 {
		return b[len(b)-300:]
	}
	return b
}
