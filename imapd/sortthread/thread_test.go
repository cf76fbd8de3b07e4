package sortthread

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// msg is a test message: sequence number (also its date's hour, so that
// sequence order is date order unless Date says otherwise), Message-ID,
// References, subject.
func msg(seq uint32, id, refs, subject string) Message {
	d := time.Date(2026, 3, 1, 0, 0, 0, 0, hanoi).Add(time.Duration(seq) * time.Minute)
	return Message{Seq: seq, UID: 100 + seq, Arrival: d, Date: d, MessageID: id, References: refs, Subject: subject}
}

func render(threads []*Thread) string { return string(AppendThreads(nil, threads)) }

func TestReferences(t *testing.T) {
	tests := []struct {
		name string
		msgs []Message
		vi   bool
		want string
	}{
		{"RFC 5256 example shape", []Message{
			msg(2, "<2@x>", "", "s2"),
			msg(3, "<3@x>", "", "s3"),
			msg(4, "<4@x>", "<3@x> <6@x>", "Re: s3"),
			msg(6, "<6@x>", "<3@x>", "Re: s3"),
			msg(7, "<7@x>", "<3@x> <6@x> <44@x>", "Re: s3"),
			msg(23, "<23@x>", "<3@x> <6@x> <4@x>", "Re: s3"),
			msg(44, "<44@x>", "<3@x> <6@x>", "Re: s3"),
			msg(96, "<96@x>", "<3@x> <6@x> <44@x> <7@x>", "Re: s3"),
		}, false, "(2)(3 6 (4 23)(44 7 96))"},
		{"dummy parent of two kept at the top", []Message{
			msg(3, "<3@x>", "<gone@x>", "a"),
			msg(5, "<5@x>", "<gone@x>", "b"),
		}, false, "((3)(5))"},
		{"dummy parent of one replaced by its child", []Message{
			msg(1, "<1@x>", "<gone@x>", "a"),
			msg(2, "<2@x>", "", "b"),
		}, false, "(1)(2)"},
		{"dummy in the middle of a chain pruned", []Message{
			msg(1, "<1@x>", "", "a"),
			msg(2, "<2@x>", "<1@x> <gone@x>", "Re: a"),
			msg(3, "<3@x>", "<1@x> <gone@x>", "Re: a"),
		}, false, "(1 (2)(3))"},
		{"In-Reply-To when no References", []Message{
			msg(1, "<a@x>", "", "a"),
			{Seq: 2, Date: msg(2, "", "", "").Date, MessageID: "<b@x>", InReplyTo: `"phrase" <a@x> (comment) <zz@x>`, Subject: "b"},
			{Seq: 3, Date: msg(3, "", "", "").Date, MessageID: "b3@x", References: "no ids here", InReplyTo: "<a@x>", Subject: "c"},
		}, false, "(1 (2)(3))"},
		{"duplicate Message-ID: the first message keeps it", []Message{
			msg(1, "<a@x>", "", "s1"),
			msg(2, "<a@x>", "", "s2"),
			msg(3, "<c@x>", "<a@x>", "s3"),
		}, false, "(1 3)(2)"},
		{"missing and invalid Message-IDs are unique", []Message{
			msg(1, "", "", "s1"),
			msg(2, "<>", "", "s2"),
			msg(3, "<c@x>", "<>", "s3"),
		}, false, "(1)(2)(3)"},
		{"loop between two messages", []Message{
			msg(1, "<a@x>", "<b@x>", "s1"),
			msg(2, "<b@x>", "<a@x>", "s2"),
		}, false, "(2 1)"},
		{"message referencing itself", []Message{
			msg(1, "<a@x>", "<a@x>", "s1"),
		}, false, "(1)"},
		{"loop through References", []Message{
			msg(1, "<a@x>", "<c@x> <b@x>", "s1"),
			msg(2, "<b@x>", "<a@x> <c@x>", "s2"),
			msg(3, "<c@x>", "<b@x> <a@x>", "s3"),
		}, false, "(3 2 1)"},
		{"truncated References keep the existing parent", []Message{
			msg(1, "<a@x>", "", "s"),
			msg(2, "<b@x>", "<a@x>", "Re: s"),
			msg(3, "<c@x>", "<a@x> <b@x>", "Re: s"),
			msg(4, "<d@x>", "<a@x> <c@x>", "Re: s"),
		}, false, "(1 2 3 4)"},
		{"the last reference replaces a parent from step 1.A", []Message{
			msg(1, "<a@x>", "", "s1"),
			msg(2, "<b@x>", "", "s2"),
			msg(3, "<z@x>", "<a@x> <c@x>", "s3"),
			msg(4, "<c@x>", "<b@x>", "s4"),
		}, false, "(1)(2 4 3)"},
		{"subject: a reply joins the original", []Message{
			msg(1, "<1@x>", "", "Hồ sơ 000.12"),
			msg(2, "<2@x>", "", "Re: HỒ SƠ 000.12"),
			msg(3, "<3@x>", "", "other"),
		}, false, "(1 2)(3)"},
		{"subject: the original becomes the parent of an earlier reply", []Message{
			msg(1, "<1@x>", "", "Re: x"),
			msg(2, "<2@x>", "", "x"),
		}, false, "(2 1)"},
		{"subject: two originals under a new dummy", []Message{
			msg(1, "<1@x>", "", "x"),
			msg(2, "<2@x>", "", "x"),
			msg(3, "<3@x>", "", "Re: x"),
		}, false, "((1)(2)(3))"},
		{"subject: two replies under a new dummy", []Message{
			msg(1, "<1@x>", "", "Re: x"),
			msg(2, "<2@x>", "", "Fwd: x"),
		}, false, "((1)(2))"},
		{"subject: a dummy's thread takes the others", []Message{
			msg(1, "<1@x>", "<gone@x>", "x"),
			msg(2, "<2@x>", "<gone@x>", "Re: x"),
			msg(3, "<3@x>", "", "Re: x"),
			msg(4, "<4@x>", "<gone2@x>", "x"),
			msg(5, "<5@x>", "<gone2@x>", "x"),
		}, false, "((1)(2)(3)(4)(5))"},
		{"subject: empty subjects are not gathered", []Message{
			msg(1, "<1@x>", "", ""),
			msg(2, "<2@x>", "", "Re: "),
		}, false, "(1)(2)"},
		{"subject: Vietnamese leaders only with the option", []Message{
			msg(1, "<1@x>", "", "Giấy hẹn"),
			msg(2, "<2@x>", "", "TL: Giấy hẹn"),
		}, false, "(1)(2)"},
		{"subject: Vietnamese leaders with the option", []Message{
			msg(1, "<1@x>", "", "Giấy hẹn"),
			msg(2, "<2@x>", "", "TL: Giấy hẹn"),
		}, true, "(1 2)"},
		{"siblings by sent date, not sequence", []Message{
			msg(1, "<1@x>", "", "s"),
			{Seq: 2, Date: msg(9, "", "", "").Date, MessageID: "<2@x>", References: "<1@x>"},
			{Seq: 3, Date: msg(5, "", "", "").Date, MessageID: "<3@x>", References: "<1@x>"},
			{Seq: 4, Date: msg(5, "", "", "").Date, MessageID: "<4@x>", References: "<1@x>"},
		}, false, "(1 (3)(4)(2))"},
		{"ids compare case-sensitively", []Message{
			msg(1, "<A@x>", "", "s1"),
			msg(2, "<2@x>", "<a@x>", "s2"),
		}, false, "(1)(2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(References(tt.msgs, Options{Vietnamese: tt.vi}))
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			checkAllOnce(t, tt.msgs, References(tt.msgs, Options{Vietnamese: tt.vi}))
		})
	}
}

func TestReferencesUID(t *testing.T) {
	msgs := []Message{msg(1, "<a@x>", "", "s"), msg(2, "<b@x>", "<a@x>", "Re: s")}
	if got := render(References(msgs, Options{UID: true})); got != "(101 102)" {
		t.Errorf("got %s, want (101 102)", got)
	}
	if got := render(OrderedSubject(msgs, Options{UID: true})); got != "(101 102)" {
		t.Errorf("got %s, want (101 102)", got)
	}
}

func TestOrderedSubject(t *testing.T) {
	msgs := []Message{
		msg(1, "", "", "Giấy hẹn"),
		msg(2, "", "", "báo cáo"),
		msg(3, "", "", "Re: giấy hẹn"),
		msg(4, "", "", "Re: BÁO CÁO"),
		msg(5, "", "", "[Sở TP] giấy hẹn (fwd)"),
		msg(6, "", "", "lẻ"),
		msg(7, "", "", "TL: lẻ"),
	}
	msgs[4].Date = msgs[0].Date.Add(-time.Hour) // 5 is the earliest of its thread
	tests := []struct {
		vi   bool
		want string
	}{
		{false, "(5 (1)(3))(2 4)(6)(7)"},
		{true, "(5 (1)(3))(2 4)(6 7)"},
	}
	for _, tt := range tests {
		got := render(OrderedSubject(msgs, Options{Vietnamese: tt.vi}))
		if got != tt.want {
			t.Errorf("vi=%v: got %s, want %s", tt.vi, got, tt.want)
		}
	}
}

func TestAppendThreads(t *testing.T) {
	n := func(num uint32, kids ...*Thread) *Thread { return &Thread{Num: num, Children: kids} }
	tests := []struct {
		threads []*Thread
		want    string
	}{
		{nil, ""},
		{[]*Thread{n(1)}, "(1)"},
		{[]*Thread{n(1, n(2, n(3)))}, "(1 2 3)"},
		{[]*Thread{n(3, n(6, n(4, n(23)), n(44, n(7, n(96)))))}, "(3 6 (4 23)(44 7 96))"},
		{[]*Thread{n(0, n(3), n(5))}, "((3)(5))"},
		{[]*Thread{n(0, n(3, n(4)), n(5, n(6), n(7)))}, "((3 4)(5 (6)(7)))"},
		{[]*Thread{n(0, n(9))}, "(9)"},
		{[]*Thread{n(0)}, ""},
		{[]*Thread{n(1, n(2), n(3, n(4), n(5)))}, "(1 (2)(3 (4)(5)))"},
	}
	for _, tt := range tests {
		if got := render(tt.threads); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
		var b bytes.Buffer
		if err := WriteThreads(&b, tt.threads); err != nil || b.String() != tt.want {
			t.Errorf("WriteThreads: got %q, %v; want %q", b.String(), err, tt.want)
		}
	}
}

// TestDeepChains threads 10,000-deep chains of replies, given parent first
// and child first, and a comb whose encoding nests 10,000 parentheses: no
// walk may recurse.
func TestDeepChains(t *testing.T) {
	const depth = 10000
	forward := make([]Message, depth)
	backward := make([]Message, depth)
	comb := make([]Message, 0, 2*depth)
	var want, wantBack strings.Builder
	want.WriteString("(")
	wantBack.WriteString("(")
	for i := 1; i <= depth; i++ {
		// forward: i replies to i-1, with References of the last three.
		var refs []string
		for j := max(1, i-3); j < i; j++ {
			refs = append(refs, fmt.Sprintf("<%d@x>", j))
		}
		forward[i-1] = msg(uint32(i), fmt.Sprintf("<%d@x>", i), strings.Join(refs, " "), "Re: deep")
		// backward: i replies to i+1 (In-Reply-To only), dates descending.
		b := msg(uint32(i), fmt.Sprintf("<%d@x>", i), "", "Re: deep")
		b.InReplyTo = fmt.Sprintf("<%d@x>", i+1)
		b.Date = b.Date.Add(-time.Duration(2*i) * time.Minute)
		backward[i-1] = b
		if i > 1 {
			want.WriteByte(' ')
			wantBack.WriteByte(' ')
		}
		want.WriteString(strconv.Itoa(i))
		wantBack.WriteString(strconv.Itoa(depth + 1 - i))
		// comb: spine message 2i-1 replies to spine 2i-3; leaf 2i to it too.
		parent := ""
		if i > 1 {
			parent = fmt.Sprintf("<%d@x>", 2*i-3)
		}
		comb = append(comb, msg(uint32(2*i-1), fmt.Sprintf("<%d@x>", 2*i-1), parent, "c"))
		comb = append(comb, msg(uint32(2*i), fmt.Sprintf("<%d@x>", 2*i), fmt.Sprintf("<%d@x>", 2*i-1), "c"))
	}
	want.WriteString(")")
	wantBack.WriteString(")")
	start := time.Now()
	if got := render(References(forward, Options{})); got != want.String() {
		t.Errorf("forward chain: got %.60s…, want %.60s…", got, want.String())
	}
	if got := render(References(backward, Options{})); got != wantBack.String() {
		t.Errorf("backward chain: got %.60s…, want %.60s…", got, wantBack.String())
	}
	combThreads := References(comb, Options{})
	got := render(combThreads)
	if !strings.HasPrefix(got, "(1 (2)(3 (4)(5 (6)(7") || strings.Count(got, "(") != strings.Count(got, ")") ||
		strings.Count(got, "(") != 2*depth-1 {
		t.Errorf("comb: got %.60s… with %d \"(\" and %d \")\", want %d of each", got, strings.Count(got, "("), strings.Count(got, ")"), 2*depth-1)
	}
	checkAllOnce(t, comb, combThreads)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("three 10,000-deep threads took %v", d)
	}
}

// checkAllOnce checks that every message is in the threads exactly once
// and that only top-level threads are dummies.
func checkAllOnce(t *testing.T, msgs []Message, threads []*Thread) {
	t.Helper()
	seen := make(map[uint32]int)
	type item struct {
		t   *Thread
		top bool
	}
	var stack []item
	for _, th := range threads {
		stack = append(stack, item{th, true})
	}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.t.Num == 0 {
			if !it.top || len(it.t.Children) < 2 {
				t.Errorf("dummy with %d children (top %v)", len(it.t.Children), it.top)
			}
		} else {
			seen[it.t.Num]++
		}
		for _, k := range it.t.Children {
			stack = append(stack, item{k, false})
		}
	}
	for _, m := range msgs {
		if seen[m.Seq] != 1 {
			t.Errorf("message %d appears %d times", m.Seq, seen[m.Seq])
		}
	}
	if len(seen) != len(msgs) {
		t.Errorf("%d numbers in the threads, %d messages", len(seen), len(msgs))
	}
}

// TestHostileLoopChecks: a 10,000-deep chain and 40,000 messages whose
// References would each make a link from its bottom to its top, a loop
// found only by walking the whole chain. The walks are bounded over the
// command, so this stays fast.
func TestHostileLoopChecks(t *testing.T) {
	const depth, hostile = 10000, 40000
	msgs := make([]Message, 0, depth+hostile)
	for i := 1; i <= depth; i++ {
		refs := ""
		if i > 1 {
			refs = fmt.Sprintf("<%d@x>", i-1)
		}
		msgs = append(msgs, msg(uint32(i), fmt.Sprintf("<%d@x>", i), refs, "chain"))
	}
	for i := depth + 1; i <= depth+hostile; i++ {
		msgs = append(msgs, msg(uint32(i), fmt.Sprintf("<%d@x>", i), fmt.Sprintf("<%d@x> <1@x>", depth), "hostile"))
	}
	start := time.Now()
	threads := References(msgs, Options{})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	checkAllOnce(t, msgs, threads)
	t.Logf("%d messages in %v", len(msgs), time.Since(start))
}

// TestDummyBound: messages naming thousands of ids that no message has
// make at most maxDummies dummies, and every message is still threaded.
func TestDummyBound(t *testing.T) {
	var msgs []Message
	for i := 1; i <= 100; i++ {
		var refs []string
		for j := range MaxReferences {
			refs = append(refs, fmt.Sprintf("<gone.%d.%d@x>", i, j))
		}
		msgs = append(msgs, msg(uint32(i), fmt.Sprintf("<%d@x>", i), strings.Join(refs, " "), fmt.Sprint("s", i)))
	}
	// 100 × 256 unknown ids, more than the bound of 16 × 100 + 1024.
	threads := References(msgs, Options{})
	checkAllOnce(t, msgs, threads)
	if got := render(threads); !strings.HasPrefix(got, "(1)(2)(3)") {
		t.Errorf("got %.40s…", got)
	}
}
