package imapd

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var modseqRE = regexp.MustCompile(`MODSEQ \(?(\d+)`)

// modseqIn returns the mod-sequence a response line names.
func modseqIn(t *testing.T, line string) int64 {
	t.Helper()
	m := modseqRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no MODSEQ in %q", line)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// TestCondStore: RFC 7162 CONDSTORE: HIGHESTMODSEQ at SELECT and in
// STATUS, FETCH MODSEQ and CHANGEDSINCE, STORE UNCHANGEDSINCE with
// MODIFIED, SEARCH MODSEQ, and MODSEQ in another session's unsolicited
// FETCH.
func TestCondStore(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, s := range []string{"một", "hai", "ba"} {
		e.deliver("", message(s, "vp@hanoi.gov.vn", s))
	}
	r := dialLoggedIn(t, e, "")
	r.send("a1 CAPABILITY\r\n")
	if got := r.expect("* CAPABILITY"); !strings.Contains(got, " CONDSTORE") {
		t.Errorf("CAPABILITY: %q", got)
	}
	r.send("a2 SELECT INBOX (CONDSTORE)\r\n")
	highest := modseqIn(t, r.expect("* OK [HIGHESTMODSEQ "))
	r.expect("a2 OK")

	r.send("a3 FETCH 1:* (UID MODSEQ)\r\n")
	var ms [4]int64
	for i := 1; i <= 3; i++ {
		line := r.expect(fmt.Sprintf("* %d FETCH", i))
		ms[i] = modseqIn(t, line)
		if ms[i] > highest {
			t.Errorf("message %d: MODSEQ %d above HIGHESTMODSEQ %d", i, ms[i], highest)
		}
	}
	r.expect("a3 OK")

	// STORE with the current mod-sequence succeeds, answers MODSEQ.
	r.send(fmt.Sprintf("a4 STORE 2 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)\r\n", ms[2]))
	got := r.expect("* 2 FETCH")
	if !strings.Contains(got, `\Flagged`) || modseqIn(t, got) <= highest {
		t.Errorf("STORE answer: %q, want \\Flagged and a MODSEQ above %d", got, highest)
	}
	ms2 := modseqIn(t, got)
	if got := r.expect("a4 "); !strings.HasPrefix(got, "a4 OK") || strings.Contains(got, "MODIFIED") {
		t.Errorf("STORE: %q", got)
	}
	// With the old one it fails: MODIFIED, nothing changed.
	r.send(fmt.Sprintf("a5 STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Deleted)\r\n", ms[2]))
	if got := r.expect("a5 "); !strings.HasPrefix(got, "a5 OK [MODIFIED 2]") {
		t.Errorf("stale UNCHANGEDSINCE: %q, want OK [MODIFIED 2]", got)
	}
	// FETCH CHANGEDSINCE: messages 1 and 2 changed since ms2-1... 1 got
	// \Deleted above, 2 \Flagged.
	r.send(fmt.Sprintf("a6 FETCH 1:* (FLAGS) (CHANGEDSINCE %d)\r\n", highest))
	var lines []string
	for {
		l := r.expect("")
		if strings.HasPrefix(l, "a6 ") {
			break
		}
		lines = append(lines, l)
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "* 1 FETCH") || !strings.HasPrefix(lines[1], "* 2 FETCH") || !strings.Contains(lines[0], "MODSEQ") {
		t.Errorf("CHANGEDSINCE %d: %q, want messages 1 and 2 with MODSEQ", highest, lines)
	}
	r.send(fmt.Sprintf("a7 SEARCH MODSEQ %d\r\n", ms2))
	if got := r.expect("* SEARCH"); !strings.HasPrefix(got, "* SEARCH") || !strings.Contains(got, " 2") || !strings.Contains(got, "(MODSEQ ") {
		t.Errorf("SEARCH MODSEQ: %q", got)
	}
	r.expect("a7 OK")
	r.send("a8 STATUS INBOX (HIGHESTMODSEQ MESSAGES)\r\n")
	if got := r.expect("* STATUS"); modseqIn(t, strings.Replace(got, "HIGHESTMODSEQ ", "MODSEQ ", 1)) <= highest {
		t.Errorf("STATUS: %q", got)
	}
	r.expect("a8 OK")

	// Another session's change reaches this one with MODSEQ.
	r2 := dialLoggedIn(t, e, "INBOX")
	r2.send("b3 STORE 3 +FLAGS.SILENT (\\Seen)\r\n")
	r2.expect("b3 OK")
	r.send("a9 NOOP\r\n")
	if got := r.expect("* 3 FETCH"); !strings.Contains(got, `\Seen`) || !strings.Contains(got, "MODSEQ (") {
		t.Errorf("unsolicited FETCH: %q", got)
	}
	r.expect("a9 OK")
}

// TestQResync: RFC 7162 QRESYNC: SELECT (QRESYNC ...) only after ENABLE,
// then VANISHED (EARLIER) and the changed flags since the client's
// mod-sequence; UID FETCH (CHANGEDSINCE n VANISHED); VANISHED in place of
// EXPUNGE.
func TestQResync(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, s := range []string{"một", "hai", "ba", "bốn"} {
		e.deliver("", message(s, "vp@hanoi.gov.vn", s))
	}
	v := uidValidity(t, e)
	r := dialLoggedIn(t, e, "")
	r.send("a2 SELECT INBOX (QRESYNC (" + v + " 1))\r\n")
	r.expect("a2 BAD")
	r.send("a3 ENABLE QRESYNC\r\n")
	if got := r.expect("* ENABLED"); !strings.Contains(got, "QRESYNC") {
		t.Errorf("ENABLE: %q", got)
	}
	r.expect("a3 OK")
	r.send("a4 SELECT INBOX\r\n")
	highest := modseqIn(t, r.expect("* OK [HIGHESTMODSEQ "))
	r.expect("a4 OK")
	r.send("a5 UNSELECT\r\n")
	r.expect("a5 OK")

	// Meanwhile another client expunges UID 1 and flags UID 3.
	r2 := dialLoggedIn(t, e, "INBOX")
	r2.send("b3 UID STORE 1 +FLAGS.SILENT (\\Deleted)\r\nb4 EXPUNGE\r\nb5 UID STORE 3 +FLAGS.SILENT (\\Flagged)\r\n")
	r2.expect("b5 OK")

	r.send(fmt.Sprintf("a6 SELECT INBOX (QRESYNC (%s %d 1:4))\r\n", v, highest))
	if got := r.expect("* VANISHED"); got != "* VANISHED (EARLIER) 1\r\n" {
		t.Errorf("VANISHED: %q", got)
	}
	if got := r.expect("* 2 FETCH"); !strings.Contains(got, "UID 3 ") || !strings.Contains(got, `\Flagged`) || !strings.Contains(got, "MODSEQ (") {
		t.Errorf("changed since: %q", got)
	}
	r.expect("a6 OK")

	r.send(fmt.Sprintf("a7 UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)\r\n", highest))
	if got := r.expect("* VANISHED"); got != "* VANISHED (EARLIER) 1\r\n" {
		t.Errorf("UID FETCH VANISHED: %q", got)
	}
	if got := r.expect("* "); !strings.HasPrefix(got, "* 2 FETCH (UID 3 ") {
		t.Errorf("UID FETCH CHANGEDSINCE: %q", got)
	}
	r.expect("a7 OK")

	// A live expunge is VANISHED, not EXPUNGE.
	r2.send("b6 UID STORE 2 +FLAGS.SILENT (\\Deleted)\r\nb7 EXPUNGE\r\n")
	r2.expect("b7 OK")
	r.send("a8 NOOP\r\n")
	if got := r.expect("* VANISHED"); got != "* VANISHED 2\r\n" {
		t.Errorf("after NOOP: %q, want * VANISHED 2", got)
	}
	if got := r.expect("a8 "); !strings.HasPrefix(got, "a8 OK") {
		t.Errorf("NOOP: %q", got)
	}
}
