package imapd

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"congthu/store"
)

// benchQResync50k is a SQLite store with 50,000 messages in one INBOX, 10 of
// them changed (7 flag changes, 3 expunged) after modseq, and a server on
// it.
var benchQResync50k = struct {
	benchFixture
	validity uint32
	modseq   int64
}{benchFixture: benchFixture{name: "benchQResync50k"}}

// The fill function records validity and modseq in the fixture.
func init() { benchQResync50k.fill = fillQResync50k }

func fillQResync50k(ctx context.Context, st *store.Store, acct *store.Account) error {
	f := &benchQResync50k
	mb, err := st.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		return err
	}
	// 50 transactions of 1,000 messages (store.AppendAll).
	const n, chunk = 50000, 1000
	for i := 0; i < n; i += chunk {
		msgs := make([]store.AppendMessage, chunk)
		for j := range msgs {
			body := fmt.Sprintf("Hồ sơ 000.%05d của Ông/Bà đang được xử lý tại Sở Tư pháp.\r\n", i+j)
			msgs[j] = store.AppendMessage{Raw: []byte(message(fmt.Sprintf("Thông báo số %d", i+j), "Một cửa <motcua@hanoi.gov.vn>", body))}
		}
		if _, err := st.AppendAll(ctx, mb.ID, msgs); err != nil {
			return err
		}
	}
	status, err := st.Status(ctx, mb.ID)
	if err != nil {
		return err
	}
	f.validity, f.modseq = status.UIDValidity, status.HighestModSeq
	for _, uid := range []uint32{17, 4000, 12345, 25000, 33333, 41000, 49999} {
		if _, err := st.SetFlags(ctx, mb.ID, []uint32{uid}, store.FlagsAdd, []string{`\Seen`}, 0); err != nil {
			return err
		}
	}
	gone := []uint32{100, 20000, 45000}
	if _, err := st.SetFlags(ctx, mb.ID, gone, store.FlagsAdd, []string{`\Deleted`}, 0); err != nil {
		return err
	}
	_, err = st.Expunge(ctx, mb.ID, gone)
	return err
}

// BenchmarkSelectQResync50k: SELECT INBOX (QRESYNC (uidvalidity modseq))
// of a 50,000-message mailbox with 10 changes since modseq (7 FETCH FLAGS,
// 1 VANISHED (EARLIER) of 3 UIDs), then UNSELECT (target < 20 ms).
func BenchmarkSelectQResync50k(b *testing.B) {
	benchQResync50k.open(b)
	f := &benchQResync50k
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	// cmd sends a command and returns its untagged responses.
	cmd := func(tag, line string) []string {
		if _, err := fmt.Fprintf(c, "%s %s\r\n", tag, line); err != nil {
			b.Fatal(err)
		}
		var untagged []string
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if strings.HasPrefix(l, tag+" ") {
				if !strings.HasPrefix(l, tag+" OK") {
					b.Fatalf("%s: %q", line, l)
				}
				return untagged
			}
			untagged = append(untagged, l)
		}
	}
	br.ReadString('\n') // greeting
	cmd("l", fmt.Sprintf("LOGIN %s %q", testUser, testPass))
	cmd("e", "ENABLE QRESYNC")
	sel := fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", f.validity, f.modseq)
	check := func(untagged []string) {
		fetches, vanished := 0, ""
		for _, l := range untagged {
			switch {
			case strings.Contains(l, " FETCH ("):
				fetches++
			case strings.HasPrefix(l, "* VANISHED (EARLIER) "):
				vanished = strings.TrimSpace(strings.TrimPrefix(l, "* VANISHED (EARLIER) "))
			}
		}
		if fetches != 7 || vanished != "100,20000,45000" {
			b.Fatalf("SELECT QRESYNC: %d FETCH, VANISHED %q; want 7 and 100,20000,45000:\n%s", fetches, vanished, strings.Join(untagged, ""))
		}
	}
	check(cmd("s", sel))
	cmd("u", "UNSELECT")
	for b.Loop() {
		cmd("s", sel)
		cmd("u", "UNSELECT")
	}
}
