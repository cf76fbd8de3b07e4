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
