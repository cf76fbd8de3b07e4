package imapd

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMoveIntoSelected: MOVE into the selected mailbox renumbers the
// messages (COPYUID, EXPUNGE, EXISTS), as Dovecot answers, and keeps their
// flags; the other messages are untouched.
func TestMoveIntoSelected(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.deliver("", message("một", "vp@hanoi.gov.vn", "1"), `\Flagged`)
	e.deliver("", message("hai", "vp@hanoi.gov.vn", "2"))
	r := dialLoggedIn(t, e, "INBOX")
	r.send("a3 UID MOVE 1 INBOX\r\n")
	if got, want := r.expect("* OK [COPYUID "), "* OK [COPYUID "+uidValidity(t, e)+" 1 3]"; !strings.HasPrefix(got, want) {
		t.Errorf("COPYUID: %q, want %q...", got, want)
	}
	r.expect("* 1 EXPUNGE")
	r.expect("* 2 EXISTS")
	r.expect("a3 OK")
	r.send("a4 UID FETCH 1:* (UID FLAGS)\r\n")
	if got := r.expect("* 1 FETCH"); !strings.HasPrefix(got, "* 1 FETCH (UID 2 FLAGS (") || strings.Contains(got, `\Flagged`) {
		t.Errorf("first message after the move: %q", got)
	}
	if got := r.expect("* 2 FETCH"); !strings.HasPrefix(got, "* 2 FETCH (UID 3 FLAGS (\\Flagged") {
		t.Errorf("the moved message: %q", got)
	}
	r.expect("a4 OK")
}

// uidValidity is the UIDVALIDITY of the test account's INBOX.
func uidValidity(t *testing.T, e *env) string {
	t.Helper()
	mb, err := e.st.Mailbox(t.Context(), e.acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(mb.UIDValidity)
}

// TestRecent: EXAMINE reports the \Recent messages without taking the
// flag away (RFC 3501 section 6.3.2), the SELECT after it claims them,
// and a message arriving in the selected mailbox is announced by EXISTS
// and then RECENT.
func TestRecent(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.deliver("", message("một", "vp@hanoi.gov.vn", "1"))
	e.deliver("", message("hai", "vp@hanoi.gov.vn", "2"))
	r := dialLoggedIn(t, e, "")
	r.send("a2 EXAMINE INBOX\r\n")
	if got := r.expect("* 2 RECENT"); got != "* 2 RECENT\r\n" {
		t.Errorf("EXAMINE: %q", got)
	}
	r.expect("a2 OK")
	r.send("a3 FETCH 2 FLAGS\r\n")
	if got := r.expect("* 2 FETCH"); !strings.Contains(got, `\Recent`) {
		t.Errorf("EXAMINE hides \\Recent: %q", got)
	}
	r.expect("a3 OK")
	r.send("a4 SELECT INBOX\r\n")
	if got := r.expect("* 2 RECENT"); got != "* 2 RECENT\r\n" {
		t.Errorf("SELECT after EXAMINE: %q (EXAMINE took \\Recent away?)", got)
	}
	r.expect("a4 OK")
	e.deliver("", message("ba", "vp@hanoi.gov.vn", "3"))
	r.send("a5 NOOP\r\n")
	r.expect("* 3 EXISTS")
	if got := r.expect("* "); got != "* 3 RECENT\r\n" {
		t.Errorf("after EXISTS: %q, want * 3 RECENT", got)
	}
	r.expect("a5 OK")
	// Another session's SELECT finds none recent: this one has them.
	r2 := dialLoggedIn(t, e, "")
	r2.send("b2 SELECT INBOX\r\n")
	if got := r2.expect("* 0 RECENT"); got != "* 0 RECENT\r\n" {
		t.Errorf("second session: %q", got)
	}
}

// TestSubscribedParents: LSUB with "%" returns the unsubscribed parent of
// a subscribed child as \Noselect (RFC 3501 section 6.3.9), and LIST
// (SUBSCRIBED RECURSIVEMATCH) gives CHILDINFO only to a parent whose
// subscribed descendant the pattern does not match (RFC 5258 section 3.5
// and its example 5.7).
func TestSubscribedParents(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := dialLoggedIn(t, e, "")
	for i, c := range []string{"CREATE Fruit/Banana", "CREATE Vegetable/Broccoli", "SUBSCRIBE Fruit/Banana",
		"SUBSCRIBE Vegetable", "SUBSCRIBE Vegetable/Broccoli"} {
		r.send(fmt.Sprintf("c%d %s\r\n", i, c))
		r.expect(fmt.Sprintf("c%d OK", i))
	}
	// results sends cmd and returns its untagged lines of kind about the
	// mailboxes above (not the default ones), in order.
	results := func(tag, cmd, kind string) []string {
		t.Helper()
		r.send(tag + " " + cmd + "\r\n")
		var got []string
		for {
			line := r.expect("")
			if strings.HasPrefix(line, tag+" ") {
				if !strings.HasPrefix(line, tag+" OK") {
					t.Fatalf("%s: %q", cmd, line)
				}
				return got
			}
			if strings.HasPrefix(line, "* "+kind+" ") && (strings.Contains(line, "Fruit") || strings.Contains(line, "Vegetable")) {
				got = append(got, strings.TrimSpace(line))
			}
		}
	}
	check := func(tag, cmd, kind string, want ...string) {
		t.Helper()
		if got := results(tag, cmd, kind); !slices.Equal(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", cmd, got, want)
		}
	}
	check("l1", `LSUB "" "%"`, "LSUB",
		`* LSUB (\Noselect \HasChildren) "/" "Fruit"`,
		`* LSUB (\HasChildren) "/" "Vegetable"`)
	check("l2", `LSUB "" "*"`, "LSUB",
		`* LSUB (\HasNoChildren) "/" "Fruit/Banana"`,
		`* LSUB (\HasChildren) "/" "Vegetable"`,
		`* LSUB (\HasNoChildren) "/" "Vegetable/Broccoli"`)
	check("l3", `LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"`, "LIST",
		`* LIST (\HasChildren) "/" "Fruit" (CHILDINFO ("SUBSCRIBED"))`,
		`* LIST (\HasChildren \Subscribed) "/" "Vegetable" (CHILDINFO ("SUBSCRIBED"))`)
	check("l4", `LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"`, "LIST",
		`* LIST (\HasNoChildren \Subscribed) "/" "Fruit/Banana"`,
		`* LIST (\HasChildren \Subscribed) "/" "Vegetable"`,
		`* LIST (\HasNoChildren \Subscribed) "/" "Vegetable/Broccoli"`)
	check("l5", `LIST (SUBSCRIBED) "" "%"`, "LIST",
		`* LIST (\HasChildren \Subscribed) "/" "Vegetable"`)
}

// TestIdleAutologout: an IDLE that lasts Options.IdleTimeout ends with
// BYE and the connection closes; an IDLE ended in time does not.
func TestIdleAutologout(t *testing.T) {
	e := newEnv(t, envOptions{opts: Options{IdleTimeout: 700 * time.Millisecond}})
	r := dialLoggedIn(t, e, "INBOX")
	r.send("a3 IDLE\r\n")
	r.expect("+ ")
	r.send("DONE\r\n")
	r.expect("a3 OK")
	r.send("a4 IDLE\r\n")
	r.expect("+ ")
	start := time.Now()
	if got := r.expect("* BYE"); !strings.Contains(got, "Autologout") {
		t.Errorf("BYE: %q", got)
	}
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Errorf("BYE after %v, before the timeout", d)
	}
	if !r.closed() {
		t.Error("connection still open after BYE")
	}
}

// TestNoTLSResumption: the IMAP listeners issue no TLS session tickets, so
// a client's second connection makes a full handshake (offlineimap failed
// at random after STARTTLS with tickets on).
func TestNoTLSResumption(t *testing.T) {
	e := newEnv(t, envOptions{})
	cache := tls.NewLRUClientSessionCache(4)
	for i := range 2 {
		c, err := tls.Dial("tcp", e.tlsAddr, &tls.Config{InsecureSkipVerify: true, ClientSessionCache: cache})
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		// Reading the greeting also reads a ticket sent after the handshake.
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "* OK") {
			t.Fatalf("greeting %q: %v", line, err)
		}
		if c.ConnectionState().DidResume {
			t.Errorf("connection %d resumed a TLS session", i+1)
		}
		c.Close()
	}
}

// TestBodyWithoutNUL: a part with NUL bytes (Content-Transfer-Encoding:
// binary) is sent by BODY[] with each NUL as 0x80, as Dovecot does (a
// plain literal must not hold NUL), and unchanged by BINARY[] (literal8).
func TestBodyWithoutNUL(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.deliver("", "From: vp@hanoi.gov.vn\r\nSubject: nul\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"+
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\nA\x00B\x00C\r\n--b--\r\n")
	r := dialLoggedIn(t, e, "INBOX")
	r.send("a3 FETCH 1 (BODY.PEEK[1])\r\n")
	if got := r.expect("* 1 FETCH"); !strings.HasSuffix(got, "BODY[1] {5}\r\n") {
		t.Fatalf("BODY[1]: %q", got)
	}
	if got := r.expect("A"); got != "A\x80B\x80C)\r\n" {
		t.Errorf("BODY[1] bytes %q, want A\\x80B\\x80C", got)
	}
	r.expect("a3 OK")
	r.send("a4 FETCH 1 (BINARY.PEEK[1])\r\n")
	if got := r.expect("* 1 FETCH"); !strings.HasSuffix(got, "BINARY[1] ~{5}\r\n") {
		t.Fatalf("BINARY[1]: %q", got)
	}
	if got := r.expect("A"); got != "A\x00B\x00C)\r\n" {
		t.Errorf("BINARY[1] bytes %q, want the NULs", got)
	}
	r.expect("a4 OK")
}

// TestListDelimiter: LIST "" "" answers the hierarchy delimiter and the
// root (RFC 3501 section 6.3.8), as clients ask it before naming a child.
func TestListDelimiter(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := dialLoggedIn(t, e, "")
	for _, cmd := range []string{`a2 LIST "" ""`, `a3 LSUB "" ""`} {
		r.send(cmd + "\r\n")
		tag := cmd[:2]
		if got := r.expect("* "); got != `* `+cmd[3:7]+` (\Noselect) "/" ""`+"\r\n" {
			t.Errorf("%s: %q", cmd, got)
		}
		r.expect(tag + " OK")
	}
}
