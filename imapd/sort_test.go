package imapd

import (
	"context"
	"fmt"
	"mime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"congthu/store"
)

// sortFixture is a message of the SORT and THREAD tests.
type sortFixture struct {
	subject, from, to, cc, date, id, inReplyTo, references string
}

// sortFixtures are delivered after one message that is expunged, so UIDs
// are sequence numbers plus one. Base subjects: 1 and 2 share "Hồ sơ đăng
// ký kinh doanh" ("Re: Fwd:" removed), 3 and 4 "Dự thảo công văn"
// (Outlook's Vietnamese "TL:" removed); 5 starts with Đ, which sorts
// after every ASCII letter under i;unicode-casemap (U+0110 has no
// decomposition).
var sortFixtures = []sortFixture{
	{subject: "Hồ sơ đăng ký kinh doanh", from: "Đặng Văn Bình <binh@hanoi.gov.vn>", to: "an@hanoi.gov.vn", cc: "cuc@hanoi.gov.vn",
		date: "Mon, 16 Mar 2026 09:00:00 +0700", id: "<1@hanoi.gov.vn>"},
	{subject: "Re: Fwd: Hồ sơ đăng ký kinh doanh", from: "An Nguyễn <an@hanoi.gov.vn>", to: "Đặng Văn Bình <binh@hanoi.gov.vn>", cc: "zeta@hanoi.gov.vn",
		date: "Mon, 16 Mar 2026 08:00:00 +0700", id: "<2@hanoi.gov.vn>", inReplyTo: "<1@hanoi.gov.vn>", references: "<1@hanoi.gov.vn>"},
	{subject: "Dự thảo công văn", from: "zeta@hanoi.gov.vn", to: "Văn thư <vanthu@hanoi.gov.vn>", cc: "",
		date: "Sun, 15 Mar 2026 10:00:00 +0700", id: "<3@hanoi.gov.vn>"},
	{subject: "TL: Dự thảo công văn", from: "Công an <dao@hanoi.gov.vn>", to: "zeta@hanoi.gov.vn", cc: "an@hanoi.gov.vn",
		date: "Tue, 17 Mar 2026 07:00:00 +0700", id: "<4@hanoi.gov.vn>", inReplyTo: "<3@hanoi.gov.vn>", references: "<3@hanoi.gov.vn>"},
	{subject: mime.BEncoding.Encode("utf-8", "Đơn đề nghị cấp bản sao"), from: mime.QEncoding.Encode("utf-8", "Đinh Thị Cúc") + " <cuc@hanoi.gov.vn>", to: "Ánh <anh@hanoi.gov.vn>", cc: "binh@hanoi.gov.vn",
		date: "Sat, 14 Mar 2026 16:00:00 +0700", id: "<5@hanoi.gov.vn>"},
}

// sortEnv delivers the fixtures (message i with internal date i hours
// after a base and a body 600*(5-i) bytes long, so ARRIVAL is 1..5 and
// SIZE 5..1) after a message that is then expunged.
func sortEnv(t *testing.T, eo envOptions) *env {
	t.Helper()
	e := newEnv(t, eo)
	ctx := context.Background()
	first := e.deliver("", message("bỏ đi", "x@hanoi.gov.vn", "x"), `\Deleted`)
	if _, err := e.st.Expunge(ctx, first.MailboxID, []uint32{first.UID}); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 20, 8, 0, 0, 0, time.UTC)
	for i, f := range sortFixtures {
		var b strings.Builder
		fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\n", f.from, f.to)
		if f.cc != "" {
			fmt.Fprintf(&b, "Cc: %s\r\n", f.cc)
		}
		fmt.Fprintf(&b, "Subject: %s\r\nDate: %s\r\nMessage-ID: %s\r\n", f.subject, f.date, f.id)
		if f.inReplyTo != "" {
			fmt.Fprintf(&b, "In-Reply-To: %s\r\nReferences: %s\r\n", f.inReplyTo, f.references)
		}
		b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
		b.WriteString(strings.Repeat("x", 600*(len(sortFixtures)-i)))
		b.WriteString("\r\n")
		_, err := e.st.Deliver(ctx, &store.Delivery{Raw: []byte(b.String()), InternalDate: base.Add(time.Duration(i) * time.Hour),
			Local: []store.LocalTarget{{AccountID: e.acct.ID}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func TestSort(t *testing.T) {
	backends(t, testSort)
}

func testSort(t *testing.T, eo envOptions) {
	e := sortEnv(t, eo)
	c := e.client(nil)
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []imap.Cap{"SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "ESORT", "CONTEXT=SEARCH", "CONTEXT=SORT"} {
		if !caps.Has(want) {
			t.Errorf("capability %s missing from %v", want, caps)
		}
	}
	if caps.Has("PARTIAL") {
		t.Errorf("RFC 9394 PARTIAL advertised but not built: %v", caps)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	all := &imap.SearchCriteria{}
	for _, tc := range []struct {
		name     string
		criteria []imapclient.SortCriterion
		search   *imap.SearchCriteria
		want     []uint32
	}{
		{"subject", []imapclient.SortCriterion{{Key: imapclient.SortKeySubject}}, all, []uint32{3, 4, 1, 2, 5}},
		{"reverse subject", []imapclient.SortCriterion{{Key: imapclient.SortKeySubject, Reverse: true}}, all, []uint32{5, 1, 2, 3, 4}},
		{"date", []imapclient.SortCriterion{{Key: imapclient.SortKeyDate}}, all, []uint32{5, 3, 2, 1, 4}},
		{"reverse date", []imapclient.SortCriterion{{Key: imapclient.SortKeyDate, Reverse: true}}, all, []uint32{4, 1, 2, 3, 5}},
		{"arrival", []imapclient.SortCriterion{{Key: imapclient.SortKeyArrival}}, all, []uint32{1, 2, 3, 4, 5}},
		{"reverse arrival", []imapclient.SortCriterion{{Key: imapclient.SortKeyArrival, Reverse: true}}, all, []uint32{5, 4, 3, 2, 1}},
		{"size", []imapclient.SortCriterion{{Key: imapclient.SortKeySize}}, all, []uint32{5, 4, 3, 2, 1}},
		// Mailboxes: binh, an, zeta, dao, cuc.
		{"from", []imapclient.SortCriterion{{Key: imapclient.SortKeyFrom}}, all, []uint32{2, 1, 5, 4, 3}},
		// an, binh, vanthu, zeta, anh.
		{"to", []imapclient.SortCriterion{{Key: imapclient.SortKeyTo}}, all, []uint32{1, 5, 2, 3, 4}},
		// cuc, zeta, none, an, binh: a missing address sorts first.
		{"cc", []imapclient.SortCriterion{{Key: imapclient.SortKeyCc}}, all, []uint32{3, 4, 5, 1, 2}},
		// An Nguyễn, Công an, zeta@hanoi.gov.vn, Đặng Văn Bình, Đinh Thị Cúc.
		{"displayfrom", []imapclient.SortCriterion{{Key: "DISPLAYFROM"}}, all, []uint32{2, 4, 3, 1, 5}},
		// an@hanoi.gov.vn, Ánh (A and a combining accent sort after "AN@"), Văn thư, zeta@hanoi.gov.vn, Đặng Văn Bình.
		{"displayto", []imapclient.SortCriterion{{Key: "DISPLAYTO"}}, all, []uint32{1, 5, 3, 4, 2}},
		{"subject then reverse date", []imapclient.SortCriterion{{Key: imapclient.SortKeySubject}, {Key: imapclient.SortKeyDate, Reverse: true}}, all, []uint32{4, 3, 1, 2, 5}},
		// Search criteria folded as SEARCH folds them.
		{"date of ho so", []imapclient.SortCriterion{{Key: imapclient.SortKeyDate}},
			&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "ho so"}}}, []uint32{2, 1}},
		{"none", []imapclient.SortCriterion{{Key: imapclient.SortKeyDate}},
			&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "không có"}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Sort(&imapclient.SortOptions{SearchCriteria: tc.search, SortCriteria: tc.criteria}).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("SORT = %v, want %v", got, tc.want)
			}
			gotUID, err := c.UIDSort(&imapclient.SortOptions{SearchCriteria: tc.search, SortCriteria: tc.criteria}).Wait()
			if err != nil {
				t.Fatal(err)
			}
			var wantUID []uint32
			for _, n := range tc.want {
				wantUID = append(wantUID, n+1)
			}
			if !slices.Equal(gotUID, wantUID) {
				t.Errorf("UID SORT = %v, want %v", gotUID, wantUID)
			}
		})
	}

	t.Run("thread", func(t *testing.T) {
		for _, tc := range []struct {
			alg  imap.ThreadAlgorithm
			want string
		}{
			{imap.ThreadReferences, "[{5 []} {3 [{4 []}]} {1 [{2 []}]}]"},
			{imap.ThreadOrderedSubject, "[{5 []} {3 [{4 []}]} {2 [{1 []}]}]"},
		} {
			got, err := c.Thread(&imapclient.ThreadOptions{Algorithm: tc.alg, SearchCriteria: all}).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if s := threadString(got); s != tc.want {
				t.Errorf("THREAD %s = %s, want %s", tc.alg, s, tc.want)
			}
		}
		got, err := c.UIDThread(&imapclient.ThreadOptions{Algorithm: imap.ThreadReferences, SearchCriteria: all}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if s, want := threadString(got), "[{6 []} {4 [{5 []}]} {2 [{3 []}]}]"; s != want {
			t.Errorf("UID THREAD REFERENCES = %s, want %s", s, want)
		}
	})
}

// threadString prints imapclient's thread tree compactly.
func threadString(ts []imapclient.ThreadData) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, threadDataString(t))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func threadDataString(t imapclient.ThreadData) string {
	var b strings.Builder
	// A chain "1 2" comes as Chain [1 2]: print it as nested children.
	for i, n := range t.Chain {
		if i > 0 {
			b.WriteString(" [")
		}
		fmt.Fprintf(&b, "{%d", n)
	}
	b.WriteString(" [")
	for i, s := range t.SubThreads {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(threadDataString(s))
	}
	b.WriteString("]}")
	for i := 1; i < len(t.Chain); i++ {
		b.WriteString("]}")
	}
	return b.String()
}

// TestSortRaw checks the exact responses: ESORT's ESEARCH, the thread
// list, BADCHARSET, and BAD at once for malformed commands, after which
// the connection still works.
func TestSortRaw(t *testing.T) {
	e := sortEnv(t, envOptions{})
	r := dialLoggedIn(t, e, "")
	r.send("b1 SORT (DATE) UTF-8 ALL\r\n")
	r.expect("b1 BAD")
	r.send("b2 THREAD REFERENCES UTF-8 ALL\r\n")
	r.expect("b2 BAD")
	r.send("a2 SELECT INBOX\r\n")
	r.expect("a2 OK")
	for _, tc := range []struct {
		cmd, want string
	}{
		{"SORT (DATE) UTF-8 ALL", "* SORT 5 3 2 1 4\r\n"},
		{"SORT (DATE) US-ASCII ALL", "* SORT 5 3 2 1 4\r\n"},
		{"sort (reverse date) utf-8 all", "* SORT 4 1 2 3 5\r\n"},
		{"SORT (DATE) UTF-8 SUBJECT \"khong co\"", "* SORT\r\n"},
		{"SORT (SUBJECT) UTF-8 SUBJECT {3+}\r\nsơ", "* SORT 1 2\r\n"},
		{"UID SORT (DATE) UTF-8 2:3", "* SORT 4 3\r\n"},
		{"SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL", "* ESEARCH (TAG \"t\") MIN 5 MAX 4 ALL 5,3,2,1,4 COUNT 5\r\n"},
		{"SORT RETURN () (ARRIVAL) UTF-8 ALL", "* ESEARCH (TAG \"t\") ALL 1:5\r\n"},
		{"SORT RETURN (ALL) (REVERSE ARRIVAL) UTF-8 ALL", "* ESEARCH (TAG \"t\") ALL 5,4,3,2,1\r\n"},
		{"SORT RETURN (ALL) (SUBJECT) UTF-8 ALL", "* ESEARCH (TAG \"t\") ALL 3:4,1:2,5\r\n"},
		{"UID SORT RETURN (MIN COUNT) (SIZE) UTF-8 ALL", "* ESEARCH (TAG \"t\") UID MIN 6 COUNT 5\r\n"},
		{"SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 SUBJECT nothing", "* ESEARCH (TAG \"t\") COUNT 0\r\n"},
		{"THREAD REFERENCES UTF-8 ALL", "* THREAD (5)(3 4)(1 2)\r\n"},
		{"THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (5)(3 4)(2 1)\r\n"},
		{"THREAD REFERENCES UTF-8 SUBJECT nothing", "* THREAD\r\n"},
		{"UID THREAD ORDEREDSUBJECT UTF-8 1:2", "* THREAD (3 2)\r\n"},
	} {
		r.send("t " + tc.cmd + "\r\n")
		if got := r.expect("* "); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.cmd, got, tc.want)
		}
		if got := r.expect("t "); !strings.HasPrefix(got, "t OK") {
			t.Errorf("%s: tagged %q", tc.cmd, got)
		}
	}
	// SAVE keeps the matched messages for "$" (RFC 5182 section 2.4).
	r.send("s1 SORT RETURN (SAVE) (DATE) UTF-8 SUBJECT \"ho so\"\r\n")
	if got := r.expect("s1 "); !strings.HasPrefix(got, "s1 OK") {
		t.Errorf("SORT RETURN (SAVE): %q", got)
	}
	r.send("s2 UID SEARCH $\r\n")
	if got := r.expect("* "); got != "* SEARCH 2 3\r\n" {
		t.Errorf("SEARCH $ after SORT SAVE = %q", got)
	}
	r.expect("s2 OK")

	r.send("c1 SORT (DATE) KOI8-R ALL\r\n")
	if got := r.expect("c1 "); !strings.HasPrefix(got, "c1 NO [BADCHARSET (US-ASCII UTF-8)]") {
		t.Errorf("unknown charset: %q", got)
	}
	r.send("c2 THREAD REFERENCES ISO-2022-JP ALL\r\n")
	if got := r.expect("c2 "); !strings.HasPrefix(got, "c2 NO [BADCHARSET") {
		t.Errorf("THREAD unknown charset: %q", got)
	}
	for i, bad := range []string{
		"SORT DATE UTF-8 ALL",
		"SORT () UTF-8 ALL",
		"SORT (FOO) UTF-8 ALL",
		"SORT (REVERSE) UTF-8 ALL",
		"SORT (REVERSE REVERSE DATE) UTF-8 ALL",
		"SORT (DATE)",
		"SORT (DATE) UTF-8",
		"SORT (DATE) UTF-8 NOSUCHKEY",
		"SORT (DATE UTF-8 ALL",
		"SORT RETURN (PARTIAL -1:-10) (DATE) UTF-8 ALL",
		"SORT RETURN (PARTIAL 1:10 ALL) (DATE) UTF-8 ALL",
		"SORT RETURN (PARTIAL 0:10) (DATE) UTF-8 ALL",
		"SORT RETURN (FOO) (DATE) UTF-8 ALL",
		"THREAD",
		"THREAD REFERENCES",
		"THREAD REFERENCES UTF-8",
		"THREAD FOO UTF-8 ALL",
		"THREAD (REFERENCES) UTF-8 ALL",
		"UID THREAD REFERENCES UTF-8 ALL extra)",
	} {
		tag := fmt.Sprintf("m%d", i)
		r.send(tag + " " + bad + "\r\n")
		if got := r.expect(tag + " "); !strings.HasPrefix(got, tag+" BAD") {
			t.Errorf("%q: got %q, want BAD", bad, got)
		}
		if i%5 == 4 {
			r.send("n NOOP\r\n") // below maxBadCommands in a row
			r.expect("n OK")
		}
	}
	r.send("z SORT (ARRIVAL) UTF-8 ALL\r\n")
	if got := r.expect("* "); got != "* SORT 1 2 3 4 5\r\n" {
		t.Errorf("SORT after the malformed ones = %q", got)
	}
	r.expect("z OK")
}

// TestSortImaplib sorts and threads with Python's imaplib.
func TestSortImaplib(t *testing.T) {
	e := sortEnv(t, envOptions{})
	const user, pass = "py.sort@hanoi.gov.vn", "Py-pass-2026"
	acct, err := e.st.AddAccount(context.Background(), user, pass)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range sortFixtures[:4] {
		raw := fmt.Sprintf("From: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: %s\r\n", f.from, f.subject, f.date, f.id)
		if f.inReplyTo != "" {
			raw += "References: " + f.references + "\r\n"
		}
		if _, err := e.st.Deliver(context.Background(), &store.Delivery{Raw: []byte(raw + "\r\nx\r\n"), Local: []store.LocalTarget{{AccountID: acct.ID}}}); err != nil {
			t.Fatal(err)
		}
	}
	got := runImaplib(t, e, "imaplib_sort.py", user, pass)
	for _, want := range []string{
		"sort date: 3 2 1 4",
		"sort subject: 3 4 1 2",
		"uid sort reverse date: 4 1 2 3",
		"sort ho so: 2 1",
		"thread references: (3 4)(1 2)",
		"thread orderedsubject: (3 4)(2 1)",
		"badcharset: NO",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("imaplib output lacks %q:\n%s", want, got)
		}
	}
}
