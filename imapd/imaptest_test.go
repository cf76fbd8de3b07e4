package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// Cases of Dovecot's imaptest (src/tests at commit 924f619) that congthu
// once failed, each with the group's messages and expectations, over the
// raw protocol: APPEND each message, then the group's commands.

// imaptestMailbox creates mailbox and APPENDs msgs (header lines, joined
// with CRLF, then an empty line and "body"), with the internal dates in
// dates when given, then selects it.
func imaptestMailbox(t *testing.T, r *rawConn, mailbox string, dates []string, msgs ...string) {
	t.Helper()
	r.send("c CREATE " + mailbox + "\r\n")
	r.expect("c OK")
	for i, m := range msgs {
		raw := strings.ReplaceAll(m, "\n", "\r\n") + "\r\n\r\nbody\r\n"
		date := ""
		if dates != nil {
			date = ` "` + dates[i] + `"`
		}
		r.send(fmt.Sprintf("p APPEND %s%s {%d+}\r\n%s\r\n", mailbox, date, len(raw), raw))
		if got := r.expect("p "); !strings.HasPrefix(got, "p OK") {
			t.Fatalf("APPEND %d: %q", i+1, got)
		}
	}
	r.send("s SELECT " + mailbox + "\r\n")
	r.expect("s OK")
}

// imaptestExpect sends each command and compares its one untagged reply.
func imaptestExpect(t *testing.T, r *rawConn, cases [][2]string) {
	t.Helper()
	for _, tc := range cases {
		r.send("t " + tc[0] + "\r\n")
		if got := r.expect("* "); got != tc[1]+"\r\n" {
			t.Errorf("%s: got %q, want %q", tc[0], strings.TrimSuffix(got, "\r\n"), tc[1])
		}
		if got := r.expect("t "); !strings.HasPrefix(got, "t OK") {
			t.Errorf("%s: tagged %q", tc[0], got)
		}
	}
}

// TestImaptestSortAddresses: imaptest's sort-addresses. The first Cc of
// message 2 is a group ("user2: blah@domain1.org;"): SORT CC takes the
// first address of the ENVELOPE, the group's start marker, whose mailbox
// is the group's name "user2", equal to message 1's, so the tie goes by
// sequence number (or by the next criterion).
func TestImaptestSortAddresses(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := dialLoggedIn(t, e, "")
	imaptestMailbox(t, r, "sortaddr", []string{"22-Feb-2008 00:06:23 +0000", "22-Feb-2008 01:06:23 +0000", "22-Feb-2008 02:06:23 +0000"},
		"From: user2@domain2.org\nTo: foo bar <user2@domain2.org>\nCc: user2@domain2.org (foo bar)",
		"From: user2@domain1.org\nTo: user2@domain1.org\nCc: user2: blah@domain1.org;",
		"From: user1@domain1.org\nTo: user1@domain1.org\nCc: user1@domain1.org",
	)
	imaptestExpect(t, r, [][2]string{
		{"SORT (FROM) US-ASCII ALL", "* SORT 3 1 2"},
		{"SORT (TO) US-ASCII ALL", "* SORT 3 1 2"},
		{"SORT (CC) US-ASCII ALL", "* SORT 3 1 2"},
		{"SORT (REVERSE FROM) US-ASCII ALL", "* SORT 1 2 3"},
		{"SORT (REVERSE TO) US-ASCII ALL", "* SORT 1 2 3"},
		{"SORT (REVERSE CC) US-ASCII ALL", "* SORT 1 2 3"},
		{"SORT (FROM REVERSE ARRIVAL) US-ASCII ALL", "* SORT 3 2 1"},
		{"SORT (TO REVERSE ARRIVAL) US-ASCII ALL", "* SORT 3 2 1"},
		{"SORT (CC REVERSE ARRIVAL) US-ASCII ALL", "* SORT 3 2 1"},
	})
}

// TestImaptestSortDisplay: imaptest's sort-display-from and
// sort-display-to (RFC 5957). "d" is a local part without a domain, an
// address whose DISPLAY value is its addr-spec (d@.MISSING-HOST-NAME.);
// a group's value is its name ("a", "z", "empty").
func TestImaptestSortDisplay(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := dialLoggedIn(t, e, "")
	addrs := []string{"foo bar <a@b.c>", "b@c.d", "d", "=?iso-8859-1?q?foo_aar?= <e@f.g>", "=?iso-8859-1?q?foo_car?= <f@g.h>"}
	var from []string
	for _, a := range addrs {
		from = append(from, "From: "+a)
	}
	imaptestMailbox(t, r, "displayfrom", nil, from...)
	imaptestExpect(t, r, [][2]string{
		{"SORT (DISPLAYFROM) US-ASCII ALL", "* SORT 2 3 4 1 5"},
		{"SORT (REVERSE DISPLAYFROM) US-ASCII ALL", "* SORT 5 1 4 3 2"},
	})
	var to []string
	for _, a := range append(addrs, "a: xx@xx.org, yy@yy.org;", "z: aa@aa.org, bb@bb.org;", "empty:;") {
		to = append(to, "To: "+a)
	}
	imaptestMailbox(t, r, "displayto", nil, to...)
	imaptestExpect(t, r, [][2]string{
		{"SORT (DISPLAYTO) US-ASCII ALL", "* SORT 6 2 3 8 4 1 5 7"},
		{"SORT (REVERSE DISPLAYTO) US-ASCII ALL", "* SORT 7 5 1 4 8 3 2 6"},
		{"FETCH 3 (ENVELOPE)", `* 3 FETCH (ENVELOPE (NIL NIL NIL NIL NIL ((NIL NIL "d" ".MISSING-HOST-NAME.")) NIL NIL NIL NIL))`},
	})
}
