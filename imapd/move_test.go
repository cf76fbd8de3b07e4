package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// TestMoveIntoSelected: MOVE into the selected mailbox renumbers the
// messages (COPYUID, EXPUNGE, EXISTS), as Dovecot answers, and keeps their
// flags; the other messages are untouched.
func TestMoveIntoSelected(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.deliver("", message("một", "vp@hanoi.gov.vn", "1"), `\Flagged`)
	e.deliver("", message("hai", "vp@hanoi.gov.vn", "2"))
	r := dialRaw(t, e)
	r.send(fmt.Sprintf("a1 LOGIN %s %s\r\n", testUser, testPass))
	r.expect("a1 OK")
	r.send("a2 SELECT INBOX\r\n")
	r.expect("a2 OK")
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
	r := dialRaw(t, e)
	r.send(fmt.Sprintf("a1 LOGIN %s %s\r\n", testUser, testPass))
	r.expect("a1 OK")
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
	r2 := dialRaw(t, e)
	r2.send(fmt.Sprintf("b1 LOGIN %s %s\r\n", testUser, testPass))
	r2.expect("b1 OK")
	r2.send("b2 SELECT INBOX\r\n")
	if got := r2.expect("* 0 RECENT"); got != "* 0 RECENT\r\n" {
		t.Errorf("second session: %q", got)
	}
}
