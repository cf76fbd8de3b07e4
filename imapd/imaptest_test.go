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

// TestImaptestFetchEnvelope: imaptest's fetch-envelope, with the Date of
// message 1 given a wrong weekday (1 February 2007 was a Thursday) and
// folded: ENVELOPE's date is the field as written (RFC 3501 section
// 7.4.2), unfolded, from the stored envelope (ENVELOPE alone), from the
// header (with a body section) and for a message/rfc822 part. (imaptest
// takes "(a)(b)" and "(a) (b)" alike; congthu writes the space.)
func TestImaptestFetchEnvelope(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := dialLoggedIn(t, e, "")
	const date = "Date: Thu, 15 Feb 2007 01:02:03 +0200"
	msgs := []string{
		"Message-ID: <msg@id>\nIn-Reply-To: <reply@to.id>\nDate: Sat, 01 Feb\n 2007 01:02:03 +0200\nSubject: subject header\nFrom: From Real <fromuser@fromdomain.org>\nTo: To Real <touser@todomain.org>\nCc: Cc Real <ccuser@ccdomain.org>\nBcc: Bcc Real <bccuser@bccdomain.org>\nSender: Sender Real <senderuser@senderdomain.org>\nReply-To: ReplyTo Real <replytouser@replytodomain.org>",
		date + "\nFrom: user@domain",
		date + "\nFrom: user@domain",
		date + "\nFrom: user@domain (Real Name)\nTo: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\nCc: group:;, group2: (foo) ;",
		date + "\nFrom: user@domain (Real Name)\nSender: \nReply-To: ",
		date + "\nFrom: <@route:user@domain>",
		"Subject: fwd\nMIME-Version: 1.0\nContent-Type: message/rfc822\n\n" + date[:len(date)-5] + "+0200 (EET)\nFrom: <@route:user@domain>",
	}
	imaptestMailbox(t, r, "envelope", nil, msgs...)
	want := []string{
		`* 1 FETCH (ENVELOPE ("Sat, 01 Feb 2007 01:02:03 +0200" "subject header" (("From Real" NIL "fromuser" "fromdomain.org")) (("Sender Real" NIL "senderuser" "senderdomain.org")) (("ReplyTo Real" NIL "replytouser" "replytodomain.org")) (("To Real" NIL "touser" "todomain.org")) (("Cc Real" NIL "ccuser" "ccdomain.org")) (("Bcc Real" NIL "bccuser" "bccdomain.org")) "<reply@to.id>" "<msg@id>"))`,
		`* 2 FETCH (ENVELOPE ("Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL NIL "user" "domain")) ((NIL NIL "user" "domain")) ((NIL NIL "user" "domain")) NIL NIL NIL NIL NIL))`,
		`* 3 FETCH (ENVELOPE ("Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL NIL "user" "domain")) ((NIL NIL "user" "domain")) ((NIL NIL "user" "domain")) NIL NIL NIL NIL NIL))`,
		`* 4 FETCH (ENVELOPE ("Thu, 15 Feb 2007 01:02:03 +0200" NIL (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) ((NIL NIL "group" NIL) (NIL NIL "g1" "d1.org") (NIL NIL "g2" "d2.org") (NIL NIL NIL NIL) (NIL NIL "group2" NIL) (NIL NIL "g3" "d3.org") (NIL NIL NIL NIL)) ((NIL NIL "group" NIL) (NIL NIL NIL NIL) (NIL NIL "group2" NIL) (NIL NIL NIL NIL)) NIL NIL NIL))`,
		`* 5 FETCH (ENVELOPE ("Thu, 15 Feb 2007 01:02:03 +0200" NIL (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) NIL NIL NIL NIL NIL))`,
		`* 6 FETCH (ENVELOPE ("Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) NIL NIL NIL NIL NIL))`,
	}
	r.send("t FETCH 1:6 ENVELOPE\r\n")
	for _, w := range want {
		if got := r.expect("* "); got != w+"\r\n" {
			t.Errorf("FETCH ENVELOPE:\n got %s\nwant %s", strings.TrimSuffix(got, "\r\n"), w)
		}
	}
	r.expect("t OK")
	// The same from the header read with a body section.
	r.send("u FETCH 1 (ENVELOPE BODY.PEEK[HEADER.FIELDS (X)])\r\n")
	if got := r.expect("* "); !strings.HasPrefix(got, `* 1 FETCH (ENVELOPE ("Sat, 01 Feb 2007 01:02:03 +0200" "subject header"`) {
		t.Errorf("ENVELOPE beside a body section: %q", got)
	}
	r.expect("u OK")
	// A nested message's ENVELOPE in BODYSTRUCTURE: its Date text and
	// its route.
	r.send("v FETCH 7 BODYSTRUCTURE\r\n")
	got := r.expect("* ")
	if w := `("message" "rfc822" NIL NIL NIL "7bit" 81 ("Thu, 15 Feb 2007 01:02:03 +0200 (EET)" NIL ((NIL "@route" "user" "domain"))`; !strings.Contains(got, w) {
		t.Errorf("BODYSTRUCTURE %q\nwant it to hold %s", got, w)
	}
	r.expect("v OK")
}

// TestImaptestSearchIntdate: imaptest's broken/search-intdate, whose file
// has no "messages:" header, so imaptest appends nothing and the group
// fails against any server (Dovecot's too). Here its 16 messages are
// appended with their mbox dates, across the EET/EEST changes of 2007,
// and every SEARCH BEFORE/ON/SINCE of the file answers as it expects.
func TestImaptestSearchIntdate(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := dialLoggedIn(t, e, "")
	dates := []string{"24-Mar-2007 23:00:00 +0200", "25-Mar-2007 00:00:00 +0200", "25-Mar-2007 01:00:00 +0200", "25-Mar-2007 02:00:00 +0200", "25-Mar-2007 04:00:00 +0300", "25-Mar-2007 23:00:00 +0300", "26-Mar-2007 00:00:00 +0300", "27-Oct-2007 23:00:00 +0300", "28-Oct-2007 00:00:00 +0300", "28-Oct-2007 01:00:00 +0300", "28-Oct-2007 02:00:00 +0300", "28-Oct-2007 03:00:00 +0300", "28-Oct-2007 03:00:00 +0200", "28-Oct-2007 04:00:00 +0200", "28-Oct-2007 23:00:00 +0200", "29-Oct-2007 00:00:00 +0200"}
	msgs := make([]string, len(dates))
	for i := range msgs {
		msgs[i] = "Date: Sat, 24 Mar 2007 23:00:00 +0200"
	}
	imaptestMailbox(t, r, "intdate", dates, msgs...)
	imaptestExpect(t, r, [][2]string{
		{"SEARCH BEFORE 24-MAR-2007", "* SEARCH"},
		{"SEARCH BEFORE 25-MAR-2007", "* SEARCH 1"},
		{"SEARCH BEFORE 26-MAR-2007", "* SEARCH 1 2 3 4 5 6"},
		{"SEARCH BEFORE 27-MAR-2007", "* SEARCH 1 2 3 4 5 6 7"},
		{"SEARCH ON 23-MAR-2007", "* SEARCH"},
		{"SEARCH ON 24-MAR-2007", "* SEARCH 1"},
		{"SEARCH ON 25-MAR-2007", "* SEARCH 2 3 4 5 6"},
		{"SEARCH ON 26-MAR-2007", "* SEARCH 7"},
		{"SEARCH 1:7 SINCE 24-MAR-2007", "* SEARCH 1 2 3 4 5 6 7"},
		{"SEARCH 1:7 SINCE 25-MAR-2007", "* SEARCH 2 3 4 5 6 7"},
		{"SEARCH 1:7 SINCE 26-MAR-2007", "* SEARCH 7"},
		{"SEARCH 1:7 SINCE 27-MAR-2007", "* SEARCH"},
		{"SEARCH 8:* BEFORE 27-OCT-2007", "* SEARCH"},
		{"SEARCH 8:* BEFORE 28-OCT-2007", "* SEARCH 8"},
		{"SEARCH 8:* BEFORE 29-OCT-2007", "* SEARCH 8 9 10 11 12 13 14 15"},
		{"SEARCH 8:* BEFORE 30-OCT-2007", "* SEARCH 8 9 10 11 12 13 14 15 16"},
		{"SEARCH 8:* ON 26-OCT-2007", "* SEARCH"},
		{"SEARCH 8:* ON 27-OCT-2007", "* SEARCH 8"},
		{"SEARCH 8:* ON 28-OCT-2007", "* SEARCH 9 10 11 12 13 14 15"},
		{"SEARCH 8:* ON 29-OCT-2007", "* SEARCH 16"},
		{"SEARCH 8:* SINCE 27-OCT-2007", "* SEARCH 8 9 10 11 12 13 14 15 16"},
		{"SEARCH 8:* SINCE 28-OCT-2007", "* SEARCH 9 10 11 12 13 14 15 16"},
		{"SEARCH 8:* SINCE 29-OCT-2007", "* SEARCH 16"},
		{"SEARCH 8:* SINCE 30-OCT-2007", "* SEARCH"},
		{"SEARCH 1:7 NOT BEFORE 26-MAR-2007", "* SEARCH 7"},
		{"SEARCH 1:7 NOT ON 25-MAR-2007", "* SEARCH 1 7"},
		{"SEARCH 8:* NOT SINCE 28-OCT-2007", "* SEARCH 8"},
		{"SEARCH 8:* NOT ON 28-OCT-2007", "* SEARCH 8 16"},
	})
}
