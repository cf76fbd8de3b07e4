package imapd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/emersion/go-imap/v2"

	"congthu/imapd/sortthread"
	"congthu/store"
)

// contextEnv is a mailbox of five messages, the third and fifth about
// "hồ sơ"; subjects sort e, a, d, b, c by arrival. It returns their
// UIDs.
func contextEnv(t *testing.T, eo envOptions) (*env, []uint32) {
	t.Helper()
	e := newEnv(t, eo)
	var uids []uint32
	for i, subj := range []string{"e trả lời", "a công văn", "d hồ sơ đất đai", "b thông báo", "c hồ sơ hộ tịch"} {
		body := "nội dung " + fmt.Sprint(i)
		if strings.Contains(subj, "hồ sơ") {
			body = "Hồ sơ số " + fmt.Sprint(i)
		}
		uids = append(uids, e.deliver("", message(subj, "vp@hanoi.gov.vn", body)).UID)
	}
	return e, uids
}

// lines reads until the tagged answer of tag and returns every line, the
// tagged one last, without CRLF.
func (r *rawConn) lines(tag string) []string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out []string
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("waiting for %q: %v (after %q)", tag, err, out)
		}
		out = append(out, strings.TrimRight(line, "\r\n"))
		if strings.HasPrefix(line, tag+" ") {
			return out
		}
	}
}

// command sends "tag cmd" and returns the lines of its answer; the tagged
// one must start with "tag want".
func (r *rawConn) command(tag, cmd, want string) []string {
	r.t.Helper()
	r.send(tag + " " + cmd + "\r\n")
	ls := r.lines(tag)
	if got := ls[len(ls)-1]; !strings.HasPrefix(got, tag+" "+want) {
		r.t.Fatalf("%s: got %q, want %s (after %q)", cmd, got, want, ls[:len(ls)-1])
	}
	return ls
}

// esearch returns the ESEARCH lines among ls.
func esearch(ls []string) []string {
	var out []string
	for _, l := range ls {
		if strings.HasPrefix(l, "* ESEARCH") {
			out = append(out, l)
		}
	}
	return out
}

func index(ls []string, prefix string) int {
	for i, l := range ls {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}

func TestContextPartial(t *testing.T) {
	e, uids := contextEnv(t, envOptions{})
	r := dialLoggedIn(t, e, "INBOX")
	for _, tc := range []struct{ cmd, want string }{
		{"SEARCH RETURN (PARTIAL 1:1) ALL", `PARTIAL (1:1 1)`},
		{"SEARCH RETURN (PARTIAL 2:4) ALL", `PARTIAL (2:4 2:4)`},
		{"SEARCH RETURN (PARTIAL 4:2) ALL", `PARTIAL (2:4 2:4)`},
		{"SEARCH RETURN (PARTIAL 3:10) ALL", `PARTIAL (3:10 3:5)`},
		{"SEARCH RETURN (PARTIAL 6:9) ALL", `PARTIAL (6:9 NIL)`},
		{"SEARCH RETURN (PARTIAL 2:3 COUNT) 1:2,4:5", `PARTIAL (2:3 2,4) COUNT 4`},
		{"SEARCH RETURN (PARTIAL 1:5) BODY \"hồ sơ\"", `PARTIAL (1:5 3,5)`},
		{"SEARCH RETURN (PARTIAL 1:5) SUBJECT khongco", `PARTIAL (1:5 NIL)`},
		{"UID SEARCH RETURN (PARTIAL 2:2) ALL", fmt.Sprintf(`UID PARTIAL (2:2 %d)`, uids[1])},
		// SORT's positions are those of the sorted result.
		{"SORT RETURN (PARTIAL 1:5) (SUBJECT) UTF-8 ALL", `PARTIAL (1:5 2,4:5,3,1)`},
		{"SORT RETURN (PARTIAL 2:3) (SUBJECT) UTF-8 ALL", `PARTIAL (2:3 4:5)`},
		{"SORT RETURN (PARTIAL 2:2 MIN MAX) (REVERSE SUBJECT) UTF-8 ALL", `MIN 1 MAX 2 PARTIAL (2:2 3)`},
		{"UID SORT RETURN (PARTIAL 1:1) (SUBJECT) UTF-8 ALL", fmt.Sprintf(`UID PARTIAL (1:1 %d)`, uids[1])},
	} {
		ls := r.command("p", tc.cmd, "OK")
		es := esearch(ls)
		want := `* ESEARCH (TAG "p") ` + tc.want
		if len(es) != 1 || es[0] != want {
			t.Errorf("%s: got %q, want %q", tc.cmd, es, want)
		}
	}
}

// TestContextUpdate: session A keeps UID SEARCH RETURN (UPDATE ALL) BODY
// "hồ sơ" SEEN while session B, A itself and the store (as another node
// would) change flags, append and expunge.
func TestContextUpdate(t *testing.T) {
	backends(t, testContextUpdate)
}

func testContextUpdate(t *testing.T, eo envOptions) {
	e, uids := contextEnv(t, eo)
	a := dialLoggedIn(t, e, "INBOX")
	b := dialLoggedIn(t, e, "INBOX")
	ctx := context.Background()
	mbox, err := e.st.Mailbox(ctx, e.acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}

	ls := a.command("u1", `UID SEARCH RETURN (UPDATE ALL) BODY "hồ sơ" SEEN`, "OK")
	if es := esearch(ls); len(es) != 1 || es[0] != `* ESEARCH (TAG "u1") UID` {
		t.Fatalf("first answer %q, want an empty UID ESEARCH", es)
	}

	// Another session marks all read: 3 and 5 enter.
	b.command("b1", `STORE 1:5 +FLAGS.SILENT (\Seen)`, "OK")
	ls = a.command("n1", "NOOP", "OK")
	want := fmt.Sprintf(`* ESEARCH (TAG "u1") UID ADDTO (0 %d,%d)`, uids[2], uids[4])
	if es := esearch(ls); len(es) != 1 || es[0] != want {
		t.Errorf("after B's STORE: %q, want %q", es, want)
	}

	// A's own STORE: 3 leaves (no queue brings A its own change).
	ls = a.command("s1", `STORE 3 -FLAGS (\Seen)`, "OK")
	want = fmt.Sprintf(`* ESEARCH (TAG "u1") UID REMOVEFROM (0 %d)`, uids[2])
	if es := esearch(ls); len(es) != 1 || es[0] != want {
		t.Errorf("after A's STORE: %q, want %q", es, want)
	}

	// A delivery (through the store, as another node would make it):
	// EXISTS first, then ADDTO.
	nu := e.deliver("", message("f hồ sơ mới", "vp@hanoi.gov.vn", "Hồ sơ mới"), `\Seen`).UID
	e.deliver("", message("g khác", "vp@hanoi.gov.vn", "khác"), `\Seen`)
	ls = a.command("n2", "NOOP", "OK")
	want = fmt.Sprintf(`* ESEARCH (TAG "u1") UID ADDTO (0 %d)`, nu)
	if es := esearch(ls); len(es) != 1 || es[0] != want {
		t.Errorf("after a delivery: %q, want %q", es, want)
	} else if i, j := index(ls, "* 7 EXISTS"), index(ls, "* ESEARCH"); i < 0 || i > j {
		t.Errorf("ADDTO before EXISTS: %q", ls)
	}

	// A flag change from the store that leaves the result.
	if _, err := e.st.SetFlags(ctx, mbox.ID, []uint32{uids[4]}, store.FlagsRemove, []string{store.FlagSeen}, 0); err != nil {
		t.Fatal(err)
	}
	ls = a.command("n3", "NOOP", "OK")
	want = fmt.Sprintf(`* ESEARCH (TAG "u1") UID REMOVEFROM (0 %d)`, uids[4])
	if es := esearch(ls); len(es) != 1 || es[0] != want {
		t.Errorf("after the store's flag change: %q, want %q", es, want)
	}

	// A sequence-number search on A: an expunge is told before EXPUNGE,
	// with the number the message had.
	ls = a.command("u2", "SEARCH RETURN (UPDATE) SEEN", "OK")
	if es := esearch(ls); len(es) != 1 || es[0] != `* ESEARCH (TAG "u2")` {
		t.Fatalf("UPDATE alone: %q", es)
	}
	b.command("b2", `STORE 2 +FLAGS.SILENT (\Deleted)`, "OK")
	b.command("b3", "EXPUNGE", "OK")
	ls = a.command("n4", "NOOP", "OK")
	es := esearch(ls)
	if len(es) != 1 || es[0] != `* ESEARCH (TAG "u2") REMOVEFROM (0 2)` {
		t.Errorf("after B's EXPUNGE: %q", es)
	} else if i, j := index(ls, "* ESEARCH"), index(ls, "* 2 EXPUNGE"); j < 0 || i > j {
		t.Errorf("REMOVEFROM after EXPUNGE: %q", ls)
	}

	// CANCELUPDATE ends u1 (and then an unknown tag is BAD).
	a.command("c1", `CANCELUPDATE "u1"`, "OK")
	a.command("c2", `CANCELUPDATE "u1"`, "BAD")
	b.command("b4", `STORE 1:* +FLAGS.SILENT (\Seen)`, "OK")
	ls = a.command("n5", "NOOP", "OK")
	if es := esearch(ls); len(es) != 1 || !strings.HasPrefix(es[0], `* ESEARCH (TAG "u2") ADDTO (0 `) {
		t.Errorf("after CANCELUPDATE u1: %q, want only u2's ADDTO", es)
	}

	// SELECT ends the rest.
	a.command("s2", "SELECT INBOX", "OK")
	a.command("c3", `CANCELUPDATE "u2"`, "BAD")
	b.command("b5", `STORE 1:* -FLAGS.SILENT (\Seen)`, "OK")
	if es := esearch(a.command("n6", "NOOP", "OK")); len(es) != 0 {
		t.Errorf("after SELECT: %q", es)
	}
}

// TestContextSortUpdate: the positions of SORT's ADDTO and REMOVEFROM
// are those a new SORT gives.
func TestContextSortUpdate(t *testing.T) {
	e, uids := contextEnv(t, envOptions{})
	a := dialLoggedIn(t, e, "INBOX")
	b := dialLoggedIn(t, e, "INBOX")
	ls := a.command("s1", "UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 NOT DELETED", "OK")
	want := fmt.Sprintf(`* ESEARCH (TAG "s1") UID ALL %d,%d:%d,%d,%d`, uids[1], uids[3], uids[4], uids[2], uids[0])
	if es := esearch(ls); len(es) != 1 || es[0] != want {
		t.Fatalf("SORT: %q, want %q", es, want)
	}
	// "bb" sorts third, "0" first, "zz" last.
	n1 := e.deliver("", message("bb chỉ thị", "vp@hanoi.gov.vn", "x")).UID
	n2 := e.deliver("", message("0 khẩn", "vp@hanoi.gov.vn", "x")).UID
	n3 := e.deliver("", message("zz lưu", "vp@hanoi.gov.vn", "x")).UID
	ls = a.command("n1", "NOOP", "OK")
	want = fmt.Sprintf(`* ESEARCH (TAG "s1") UID ADDTO (1 %d) ADDTO (4 %d) ADDTO (8 %d)`, n2, n1, n3)
	if es := esearch(ls); len(es) != 1 || es[0] != want {
		t.Errorf("after deliveries: %q, want %q", es, want)
	}
	// \Deleted takes "b thông báo" (position 3) out.
	b.command("b1", fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Deleted)`, uids[3]), "OK")
	ls = a.command("n2", "NOOP", "OK")
	want = fmt.Sprintf(`* ESEARCH (TAG "s1") UID REMOVEFROM (3 %d)`, uids[3])
	if es := esearch(ls); len(es) != 1 || es[0] != want {
		t.Errorf("after \\Deleted: %q, want %q", es, want)
	}
	// The kept order is what SORT says now.
	ls = a.command("s2", "UID SORT RETURN (ALL) (SUBJECT) UTF-8 NOT DELETED", "OK")
	want = fmt.Sprintf(`* ESEARCH (TAG "s2") UID ALL %d,%d,%d,%d,%d,%d,%d`, n2, uids[1], n1, uids[4], uids[2], uids[0], n3)
	if es := esearch(ls); len(es) != 1 || es[0] != want {
		t.Errorf("SORT again: %q, want %q", es, want)
	}
	// An expunge of a member: REMOVEFROM at its position.
	b.command("b2", fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Deleted)`, uids[2]), "OK")
	a.command("n3", "NOOP", "OK")
	b.command("b3", "EXPUNGE", "OK")
	ls = a.command("n4", "NOOP", "OK")
	if es := esearch(ls); len(es) != 0 {
		t.Errorf("expunge of a message already out: %q", es)
	}
	b.command("b4", fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Deleted)`, n1), "OK")
	b.command("b5", fmt.Sprintf(`UID EXPUNGE %d`, n1), "OK")
	ls = a.command("n5", "NOOP", "OK")
	// Flagged \Deleted and expunged between two polls: one REMOVEFROM,
	// before the expunge, at its position (3).
	want = fmt.Sprintf(`* ESEARCH (TAG "s1") UID REMOVEFROM (3 %d)`, n1)
	if es := esearch(ls); len(es) != 1 || es[0] != want {
		t.Errorf("after an expunge: %q, want %q", es, want)
	}
	// Neighbours in the order leave and come back as one item each way:
	// the order is now 0, a, c, e, zz.
	b.command("b6", fmt.Sprintf(`UID STORE %d,%d +FLAGS.SILENT (\Deleted)`, uids[4], uids[0]), "OK")
	want = fmt.Sprintf(`* ESEARCH (TAG "s1") UID REMOVEFROM (3 %d,%d)`, uids[4], uids[0])
	if es := esearch(a.command("n6", "NOOP", "OK")); len(es) != 1 || es[0] != want {
		t.Errorf("two neighbours out: %q, want %q", es, want)
	}
	b.command("b7", fmt.Sprintf(`UID STORE %d,%d -FLAGS.SILENT (\Deleted)`, uids[4], uids[0]), "OK")
	want = fmt.Sprintf(`* ESEARCH (TAG "s1") UID ADDTO (3 %d,%d)`, uids[4], uids[0])
	if es := esearch(a.command("n7", "NOOP", "OK")); len(es) != 1 || es[0] != want {
		t.Errorf("two neighbours back: %q, want %q", es, want)
	}
}

// TestContextIdle: a session in IDLE hears ADDTO as the change happens.
func TestContextIdle(t *testing.T) {
	e, uids := contextEnv(t, envOptions{opts: Options{IdlePoll: 200 * time.Millisecond}})
	a := dialLoggedIn(t, e, "INBOX")
	b := dialLoggedIn(t, e, "INBOX")
	a.command("u1", "UID SEARCH RETURN (UPDATE) FLAGGED", "OK")
	a.send("i1 IDLE\r\n")
	a.expect("+ ")
	b.command("b1", fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Flagged)`, uids[3]), "OK")
	want := fmt.Sprintf(`* ESEARCH (TAG "u1") UID ADDTO (0 %d)`, uids[3])
	if got := strings.TrimRight(a.expect("* ESEARCH"), "\r\n"); got != want {
		t.Errorf("in IDLE: %q, want %q", got, want)
	}
	a.send("DONE\r\n")
	a.expect("i1 OK")
}

// TestContextNoInteraction: UPDATE with MIN and COUNT answers them once;
// the updates are ADDTO and REMOVEFROM, not new MIN or COUNT values (RFC
// 5267 section 4.3: "no interaction between UPDATE and any other return
// options").
func TestContextNoInteraction(t *testing.T) {
	e, _ := contextEnv(t, envOptions{})
	a := dialLoggedIn(t, e, "INBOX")
	b := dialLoggedIn(t, e, "INBOX")
	ls := a.command("m1", "SEARCH RETURN (UPDATE MIN COUNT) UNSEEN", "OK")
	if es := esearch(ls); len(es) != 1 || es[0] != `* ESEARCH (TAG "m1") MIN 1 COUNT 5` {
		t.Fatalf("first answer: %q", es)
	}
	b.command("b1", `STORE 1,4 +FLAGS.SILENT (\Seen)`, "OK")
	if es := esearch(a.command("n1", "NOOP", "OK")); len(es) != 1 || es[0] != `* ESEARCH (TAG "m1") REMOVEFROM (0 1,4)` {
		t.Errorf("after STORE 1,4: %q", es)
	}
	b.command("b2", `STORE 4 +FLAGS.SILENT (\Flagged)`, "OK")
	if es := esearch(a.command("n2", "NOOP", "OK")); len(es) != 0 {
		t.Errorf("a change that moves nothing: %q", es)
	}
}

// TestContextSequenceSet: sequence numbers in the criteria name the
// messages they named when the search ran, whatever expunges do later.
func TestContextSequenceSet(t *testing.T) {
	e, _ := contextEnv(t, envOptions{})
	a := dialLoggedIn(t, e, "INBOX")
	b := dialLoggedIn(t, e, "INBOX")
	a.command("q1", "SEARCH RETURN (UPDATE) 2:3 FLAGGED", "OK")
	b.command("b1", `STORE 1 +FLAGS.SILENT (\Deleted)`, "OK")
	b.command("b2", "EXPUNGE", "OK")
	a.command("n1", "NOOP", "OK")
	// Message 3 of the search is 2 now, and 4 is 3.
	b.command("b3", `STORE 2:3 +FLAGS.SILENT (\Flagged)`, "OK")
	if es := esearch(a.command("n2", "NOOP", "OK")); len(es) != 1 || es[0] != `* ESEARCH (TAG "q1") ADDTO (0 2)` {
		t.Errorf("after STORE 2:3: %q, want only the message named 3 at the search", es)
	}
}

// TestContextBounds: the number of contexts is bounded, tags are unique,
// and malformed RETURN options and CANCELUPDATE are BAD at once.
func TestContextBounds(t *testing.T) {
	e, _ := contextEnv(t, envOptions{})
	a := dialLoggedIn(t, e, "INBOX")
	for i := 1; i <= maxUpdateContexts; i++ {
		ls := a.command(fmt.Sprintf("u%d", i), "SEARCH RETURN (UPDATE) SEEN", "OK")
		if index(ls, "* NO") >= 0 {
			t.Fatalf("context %d refused: %q", i, ls)
		}
	}
	ls := a.command("over", "SEARCH RETURN (UPDATE COUNT) ALL", "OK")
	if index(ls, `* NO [NOUPDATE "over"]`) < 0 || index(ls, `* ESEARCH (TAG "over") COUNT 5`) < 0 {
		t.Errorf("context %d: %q, want the result and NO [NOUPDATE]", maxUpdateContexts+1, ls)
	}
	a.command("c1", `CANCELUPDATE "over"`, "BAD")
	a.command("u1", "SEARCH RETURN (UPDATE) ALL", "BAD") // u1 is live
	a.command("c2", `CANCELUPDATE "u1" "u2"`, "OK")
	a.command("u1", "SEARCH RETURN (UPDATE) ALL", "OK")
	a.command("u3", "SORT RETURN (UPDATE) (DATE) UTF-8 ALL", "BAD")

	bad := regexp.MustCompile(`^b\d+ BAD`)
	for i, cmd := range []string{
		"SEARCH RETURN (PARTIAL 1) ALL",
		"SEARCH RETURN (PARTIAL 1:*) ALL",
		"SEARCH RETURN (PARTIAL *:1) ALL",
		"SEARCH RETURN (PARTIAL 0:1) ALL",
		"SEARCH RETURN (PARTIAL -1:-5) ALL",
		"SEARCH RETURN (PARTIAL 1:5 ALL) ALL",
		"SEARCH RETURN (PARTIAL 99999999999:1) ALL",
		"SEARCH RETURN (UPDATE UPDATE) ALL",
		"SORT RETURN (PARTIAL -1:-2) (DATE) UTF-8 ALL",
		"CANCELUPDATE",
		`CANCELUPDATE "nosuch"`,
	} {
		tag := fmt.Sprintf("b%d", i)
		a.send(tag + " " + cmd + "\r\n")
		if got := a.expect(tag + " "); !bad.MatchString(got) {
			t.Errorf("%q: got %q, want BAD", cmd, got)
		}
		if i%5 == 4 {
			a.command("n", "NOOP", "OK") // below maxBadCommands in a row
		}
	}
}

// TestContextOrderModel applies random batches of removals and
// insertions to a SORT context's order and replays the positions it
// reports as a client would: the client's list, the context's order and
// a new sortthread.Sort must agree after every batch.
func TestContextOrderModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := &searchContext{sorted: true, sortCriteria: []sortthread.Criterion{{Field: sortthread.Size}, {Field: sortthread.Subject, Reverse: true}}}
	all := map[uint32]*sortthread.Message{}
	var client []uint32
	next := uint32(1)
	for round := range 200 {
		// Remove some members.
		var del []uint32
		for _, m := range c.order {
			if rng.IntN(8) == 0 {
				del = append(del, m.UID)
			}
		}
		slices.Sort(del)
		for _, r := range runs(c.removeOrdered(del), false) {
			if end := r.pos - 1 + len(r.uids); end > len(client) || !slices.Equal(client[r.pos-1:end], r.uids) {
				t.Fatalf("round %d: REMOVEFROM (%d %v) but the client has %v", round, r.pos, r.uids, client)
			}
			client = slices.Delete(client, r.pos-1, r.pos-1+len(r.uids))
			for _, uid := range r.uids {
				delete(all, uid)
			}
		}
		// Insert new ones, sizes colliding often, in random order.
		var add []*sortthread.Message
		n := rng.IntN(6)
		if round%10 == 9 {
			n = bulkInsert + 1 + rng.IntN(20) // the resort path
		}
		for range n {
			m := &sortthread.Message{UID: next, Seq: next, Size: int64(rng.IntN(10)), Subject: fmt.Sprintf("s%d", rng.IntN(3))}
			next++
			add = append(add, m)
			all[m.UID] = m
		}
		for _, r := range runs(c.insertOrdered(add), true) {
			client = slices.Insert(client, r.pos-1, r.uids...)
		}
		var msgs []sortthread.Message
		for _, m := range all {
			msgs = append(msgs, *m)
		}
		want := sortthread.Sort(msgs, c.sortCriteria, sortOptions(true))
		got := make([]uint32, len(c.order))
		for i, m := range c.order {
			got[i] = m.UID
		}
		if !slices.Equal(got, want) || !slices.Equal(c.orderUIDs, want) || !slices.Equal(client, want) {
			t.Fatalf("round %d: order %v, client %v, SORT %v", round, got, client, want)
		}
	}
}

// TestContextModSeq: a MODSEQ criterion is matched against each change's
// new mod-sequence, and the ADDTO carries the highest of them (RFC 7162
// section 3.1.5).
func TestContextModSeq(t *testing.T) {
	e, uids := contextEnv(t, envOptions{})
	a := dialLoggedIn(t, e, "INBOX")
	b := dialLoggedIn(t, e, "INBOX")
	modseq := func(uid uint32) int64 {
		t.Helper()
		ls := b.command("f", fmt.Sprintf(`UID FETCH %d (MODSEQ)`, uid), "OK")
		m := regexp.MustCompile(`MODSEQ \((\d+)\)`).FindStringSubmatch(strings.Join(ls, "\n"))
		if m == nil {
			t.Fatalf("FETCH MODSEQ: %q", ls)
		}
		var n int64
		fmt.Sscan(m[1], &n)
		return n
	}
	before := modseq(uids[4])
	ls := a.command("s", fmt.Sprintf("UID SEARCH RETURN (UPDATE) MODSEQ %d", before+1), "OK")
	if es := esearch(ls); len(es) != 1 || !strings.HasPrefix(es[0], `* ESEARCH (TAG "s") UID`) || strings.Contains(es[0], "ALL") {
		t.Fatalf("first answer: %q", es)
	}
	b.command("b1", fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Flagged)`, uids[1]), "OK")
	after := modseq(uids[1])
	ls = a.command("n", "NOOP", "OK")
	want := fmt.Sprintf(`* ESEARCH (TAG "s") UID ADDTO (0 %d) MODSEQ %d`, uids[1], after)
	if es := esearch(ls); len(es) != 1 || es[0] != want {
		t.Errorf("after STORE: %q, want %q", es, want)
	}
}

// TestContextSeqSetsCost: a context's sequence sets become UID sets at a
// cost of their ranges, not of the view: a hundred "1:*" over a view of
// 100,000 messages with every other UID expunged are a hundred UID
// ranges, made with an allocation each (expanding each set over the
// view made 50,000 ranges per set, under the mailbox's shared lock).
func TestContextSeqSetsCost(t *testing.T) {
	const n, sets = 100_000, 100
	sel := &selection{}
	for i := range n {
		sel.view = append(sel.view, uint32(2*i+1))
	}
	newQuery := func() *query {
		q := &query{}
		for range sets {
			var s imap.SeqSet
			s.AddRange(1, n)
			q.seqSets = append(q.seqSets, s)
		}
		return q
	}
	q := newQuery()
	sel.seqSetsToUIDs(q)
	if len(q.uidSets) != sets || len(q.seqSets) != 0 {
		t.Fatalf("got %d UID sets and %d sequence sets, want %d and 0", len(q.uidSets), len(q.seqSets), sets)
	}
	for i, u := range q.uidSets {
		if len(u) != 1 || u[0].Start != 1 || u[0].Stop != 2*n-1 {
			t.Fatalf("set %d: got %d ranges from %v, want 1:%d", i, len(u), u[0], 2*n-1)
		}
	}
	allocs := testing.AllocsPerRun(5, func() {
		q := &query{seqSets: make([]imap.SeqSet, sets)}
		for i := range q.seqSets {
			q.seqSets[i] = imap.SeqSet{{Start: 1, Stop: n}}
		}
		sel.seqSetsToUIDs(q)
	})
	// The query above is 1 + sets allocations; the UID sets 2 per set at
	// most (the set and its growth to one range), plus the list of sets.
	if allocs > 4*sets {
		t.Errorf("got %.0f allocations for %d sets, want at most %d", allocs, sets, 4*sets)
	}
}

// TestContextSeqSetsToUIDs: a sequence range names the messages of the
// view it covered, by UID, and not the UIDs in the gaps between them nor
// those of later arrivals.
func TestContextSeqSetsToUIDs(t *testing.T) {
	sel := &selection{view: []uint32{3, 7, 8, 20, 21, 40}}
	var set imap.SeqSet
	set.AddRange(2, 3)
	set.AddNum(5)
	q := &query{seqSets: []imap.SeqSet{set, {{Start: 4, Stop: 9}}, {{Start: 8, Stop: 9}}}}
	sel.seqSetsToUIDs(q)
	for i, want := range []string{"7:8,21", "20:40", ""} {
		if got := q.uidSets[i].String(); got != want {
			t.Errorf("set %d: got %q, want %q", i, got, want)
		}
	}
	for _, uid := range []imap.UID{9, 19, 22, 41} {
		if q.uidSets[0].Contains(uid) {
			t.Errorf("set 0 has UID %d", uid)
		}
	}
}

// TestContextSaveDollar: "$" in a search that also saves its result
// (RETURN (SAVE UPDATE)) is the saved result before the search, for the
// search and for its update context alike (RFC 5182 section 2.4).
func TestContextSaveDollar(t *testing.T) {
	e, uids := contextEnv(t, envOptions{})
	a := dialLoggedIn(t, e, "INBOX")
	b := dialLoggedIn(t, e, "INBOX")
	a.command("s1", "SEARCH RETURN (SAVE) 1:2", "OK")
	want := fmt.Sprintf(`* ESEARCH (TAG "u1") UID ALL %d:%d`, uids[2], uids[4])
	if es := esearch(a.command("u1", "UID SEARCH RETURN (SAVE UPDATE ALL) NOT $", "OK")); len(es) != 1 || es[0] != want {
		t.Fatalf("got %q, want %q", es, want)
	}
	b.command("b1", `STORE 3 +FLAGS (\Flagged)`, "OK")
	b.command("b2", `STORE 1 +FLAGS (\Flagged)`, "OK")
	if es := esearch(a.command("n1", "NOOP", "OK")); len(es) != 0 {
		t.Errorf("flags of messages 1 and 3 changed: got %q, want no change to the result", es)
	}
	// The saved result is now the search's, 3:5.
	b.command("b3", `STORE 1:5 +FLAGS (\Seen)`, "OK")
	want = fmt.Sprintf(`* ESEARCH (TAG "u2") UID ALL %d:%d`, uids[2], uids[4])
	if es := esearch(a.command("u2", "UID SEARCH RETURN (ALL) $ SEEN", "OK")); len(es) != 1 || es[0] != want {
		t.Errorf("got %q, want %q", es, want)
	}
}

// TestContextStar: "*" is the largest number in use when the search
// runs, and a range with "*" in an empty mailbox names nothing: in both
// cases messages that arrive later are not in the result.
func TestContextStar(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := dialLoggedIn(t, e, "INBOX")
	a.command("u1", "UID SEARCH RETURN (UPDATE) UID 2:*", "OK")
	a.command("u2", "SEARCH RETURN (UPDATE) 1:*", "OK")
	a.command("u3", "SEARCH RETURN (UPDATE) NOT UID *", "OK")
	var uids []uint32
	for i := range 3 {
		uids = append(uids, e.deliver("", message(fmt.Sprint("s", i), "vp@hanoi.gov.vn", "x")).UID)
	}
	want := `* ESEARCH (TAG "u3") ADDTO (0 1:3)`
	if es := esearch(a.command("n1", "NOOP", "OK")); len(es) != 1 || es[0] != want {
		t.Errorf("empty mailbox, then 3 arrivals: got %q, want only %q", es, want)
	}
	a.command("c", `CANCELUPDATE "u1" "u2" "u3"`, "OK")
	want = fmt.Sprintf(`* ESEARCH (TAG "v1") UID ALL %d:%d`, uids[1], uids[2])
	if es := esearch(a.command("v1", "UID SEARCH RETURN (UPDATE ALL) UID 2:*", "OK")); len(es) != 1 || es[0] != want {
		t.Fatalf("got %q, want %q", es, want)
	}
	a.command("v2", "SEARCH RETURN (UPDATE) 2:*", "OK")
	for i := range 3 {
		e.deliver("", message(fmt.Sprint("t", i), "vp@hanoi.gov.vn", "x"))
	}
	if es := esearch(a.command("n2", "NOOP", "OK")); len(es) != 0 {
		t.Errorf("3 messages, then 3 arrivals: got %q, want no change to the results", es)
	}
}

// setMaxContextBytes sets the memory bound of update contexts for a test.
func setMaxContextBytes(t *testing.T, n int) {
	old := maxContextBytes
	maxContextBytes = n
	t.Cleanup(func() { maxContextBytes = old })
}

// TestContextMemoryBound: the memory the contexts of a session keep is
// bounded when a context is made and when a change makes it grow: over
// the bound the context is refused, or ends, with NO [NOUPDATE].
func TestContextMemoryBound(t *testing.T) {
	t.Run("search", func(t *testing.T) {
		e, _ := contextEnv(t, envOptions{})
		a := dialLoggedIn(t, e, "INBOX")
		setMaxContextBytes(t, 4*6) // the UIDs of six messages
		ls := a.command("u1", "SEARCH RETURN (UPDATE) ALL", "OK")
		if index(ls, "* NO") >= 0 {
			t.Fatalf("five messages refused: %q", ls)
		}
		ls = a.command("u2", "SEARCH RETURN (UPDATE COUNT) 1:2", "OK")
		if index(ls, `* NO [NOUPDATE "u2"]`) < 0 || index(ls, `* ESEARCH (TAG "u2") COUNT 2`) < 0 {
			t.Errorf("seven messages in all: got %q, want the result and NO [NOUPDATE]", ls)
		}
		e.deliver("", message("f", "vp@hanoi.gov.vn", "x"))
		want := `* ESEARCH (TAG "u1") ADDTO (0 6)`
		if es := esearch(a.command("n1", "NOOP", "OK")); len(es) != 1 || es[0] != want {
			t.Errorf("sixth message: got %q, want %q", es, want)
		}
		e.deliver("", message("g", "vp@hanoi.gov.vn", "x"))
		ls = a.command("n2", "NOOP", "OK")
		if index(ls, `* NO [NOUPDATE "u1"]`) < 0 || len(esearch(ls)) != 0 {
			t.Errorf("seventh message: got %q, want NO [NOUPDATE] and no ESEARCH", ls)
		}
		a.command("c", `CANCELUPDATE "u1"`, "BAD") // ended
	})
	t.Run("sort", func(t *testing.T) {
		e, _ := contextEnv(t, envOptions{})
		a := dialLoggedIn(t, e, "INBOX")
		// Five messages sorted by subject keep 1,490 to 1,550 bytes, one
		// more up to some 1,850, two more over 2,000.
		setMaxContextBytes(t, 2000)
		ls := a.command("u1", "SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL", "OK")
		if index(ls, "* NO") >= 0 {
			t.Fatalf("five messages refused: %q", ls)
		}
		e.deliver("", message("f", "vp@hanoi.gov.vn", "x"))
		want := `* ESEARCH (TAG "u1") ADDTO (6 6)`
		if es := esearch(a.command("n1", "NOOP", "OK")); len(es) != 1 || es[0] != want {
			t.Errorf("sixth message: got %q, want %q", es, want)
		}
		e.deliver("", message("g", "vp@hanoi.gov.vn", "x"))
		ls = a.command("n2", "NOOP", "OK")
		if index(ls, `* NO [NOUPDATE "u1"]`) < 0 || len(esearch(ls)) != 0 {
			t.Errorf("seventh message: got %q, want NO [NOUPDATE] and no ESEARCH", ls)
		}
		ls = a.command("u2", "SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL", "OK")
		if index(ls, `* NO [NOUPDATE "u2"]`) < 0 {
			t.Errorf("seven messages: got %q, want NO [NOUPDATE]", ls)
		}
	})
}

// TestContextSortValuesKept: a SORT context keeps the texts its keys
// read in memory of their own, not the envelope they were cut from, and
// drops the others.
func TestContextSortValuesKept(t *testing.T) {
	whole := strings.Repeat("x", 1<<16) + "Công văn số 12" + "vp" + "hanoi.gov.vn" + "<id@a>"
	i := len(whole) - len("Công văn số 12vphanoi.gov.vn<id@a>")
	m := sortthread.Message{
		UID:       7,
		Subject:   whole[i : i+len("Công văn số 12")],
		From:      sortthread.Address{Mailbox: whole[len(whole)-20 : len(whole)-18], Host: "hanoi.gov.vn"},
		To:        sortthread.Address{Mailbox: "to"},
		MessageID: whole[len(whole)-6:],
		Date:      time.Date(2026, 12, 6, 9, 0, 0, 0, time.FixedZone("ICT", 7*3600)),
	}
	before := sortValueBytes(&m)
	c := &searchContext{sortCriteria: []sortthread.Criterion{{Field: sortthread.Subject}, {Field: sortthread.DisplayFrom}}}
	date := m.Date
	c.keepSortValues(&m)
	inWhole := func(s string) bool {
		if s == "" {
			return false
		}
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		b := uintptr(unsafe.Pointer(unsafe.StringData(whole)))
		return p >= b && p < b+uintptr(len(whole))
	}
	if m.Subject != "Công văn số 12" || inWhole(m.Subject) {
		t.Errorf("subject %q kept in the whole envelope: %v", m.Subject, inWhole(m.Subject))
	}
	if m.From.Mailbox != "vp" || inWhole(m.From.Mailbox) || m.From.Host != "hanoi.gov.vn" {
		t.Errorf("from %+v, want vp@hanoi.gov.vn in its own memory", m.From)
	}
	if m.To != (sortthread.Address{}) || m.MessageID != "" {
		t.Errorf("kept To %+v and Message-ID %q, which no key reads", m.To, m.MessageID)
	}
	if !m.Date.Equal(date) {
		t.Errorf("date %v, want %v", m.Date, date)
	}
	if after := sortValueBytes(&m); after >= before {
		t.Errorf("got %d bytes kept, want fewer than %d", after, before)
	}
}
