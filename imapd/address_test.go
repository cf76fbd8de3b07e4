package imapd

import (
	"reflect"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestEnvelopeGroupsAndSearchFrom: ENVELOPE keeps RFC 5322 groups (start
// and end markers) and obsolete routes, and SEARCH FROM finds an address
// written with a comment inside it, through a real imapclient.
func TestEnvelopeGroupsAndSearchFrom(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.deliver("INBOX", "From: vanthu(phong hanh chinh)@hanoi.gov.vn\r\n"+
		"To: Phong ban: a@hanoi.gov.vn, \"B\" <@relay.hanoi.gov.vn:b@hanoi.gov.vn>;\r\n"+
		"Cc: undisclosed-recipients:;\r\nSubject: nhom\r\n\r\nbody\r\n")
	e.deliver("INBOX", message("other", "khac@hanoi.gov.vn", "x"))
	c := e.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH ENVELOPE: %v, %v", msgs, err)
	}
	env := msgs[0].Envelope
	if want := []imap.Address{{Mailbox: "vanthu", Host: "hanoi.gov.vn"}}; !reflect.DeepEqual(env.From, want) {
		t.Errorf("From = %#v, want %#v", env.From, want)
	}
	wantTo := []imap.Address{{Mailbox: "Phong ban"}, {Mailbox: "a", Host: "hanoi.gov.vn"}, {Name: "B", Mailbox: "b", Host: "hanoi.gov.vn"}, {}}
	if !reflect.DeepEqual(env.To, wantTo) {
		t.Errorf("To = %#v, want %#v", env.To, wantTo)
	}
	if want := []imap.Address{{Mailbox: "undisclosed-recipients"}, {}}; !reflect.DeepEqual(env.Cc, want) {
		t.Errorf("Cc = %#v, want %#v", env.Cc, want)
	}
	for _, q := range []string{"vanthu@hanoi.gov.vn", "b@hanoi.gov.vn"} {
		key := "From"
		if q[0] == 'b' {
			key = "To"
		}
		d, err := c.Search(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: key, Value: q}}}, nil).Wait()
		if err != nil || !slices.Equal(d.AllSeqNums(), []uint32{1}) {
			t.Errorf("SEARCH %s %s = %v, %v; want [1]", key, q, d.AllSeqNums(), err)
		}
	}
}

// TestEnvelopeRoute: an obsolete source route is ENVELOPE's adl (RFC 3501
// section 7.4.2), written as Dovecot does (imaptest's fetch-envelope),
// also in the Sender and Reply-To that default to From; SEARCH FROM still
// finds the address.
func TestEnvelopeRoute(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.deliver("INBOX", "Date: Thu, 01 Feb 2007 01:02:03 +0200\r\nFrom: <@route:user@domain>\r\n"+
		"To: A <@r1.vn,@r2.vn:a@hanoi.gov.vn>, b@hanoi.gov.vn\r\n\r\nbody\r\n")
	r := dialLoggedIn(t, e, "INBOX")
	r.send("f1 FETCH 1 ENVELOPE\r\n")
	got := r.expect("* 1 FETCH")
	want := `* 1 FETCH (ENVELOPE ("Thu, 01 Feb 2007 01:02:03 +0200" NIL ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) (("A" "@r1.vn,@r2.vn" "a" "hanoi.gov.vn") (NIL NIL "b" "hanoi.gov.vn")) NIL NIL NIL NIL))` + "\r\n"
	if got != want {
		t.Errorf("FETCH ENVELOPE:\n got %q\nwant %q", got, want)
	}
	r.expect("f1 OK")
	r.send("f2 SEARCH FROM user@domain\r\n")
	if got := r.expect("* SEARCH"); got != "* SEARCH 1\r\n" {
		t.Errorf("SEARCH FROM: got %q, want * SEARCH 1", got)
	}
	r.expect("f2 OK")
}
