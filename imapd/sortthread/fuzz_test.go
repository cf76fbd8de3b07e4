package sortthread

import (
	"strings"
	"testing"
	"time"
)

// FuzzBaseSubject: extraction never panics, finishes quickly, never grows
// the subject, leaves no blank at either end (unless a blob that is kept
// ends with one) and gives keys that compare as equal to themselves; the
// key's fast path agrees with the definition.
func FuzzBaseSubject(f *testing.F) {
	for _, s := range []string{
		"Re: hello", "[PATCH] [v2] Re: Fwd: hi (fwd)", "[Fwd: [fwd: x]]", "TL: CT: Hồ sơ",
		"Trả lời: [Sở] giấy hẹn", "[a][b]", "Re [x]: y", "\t\r\n", "[[[[", "(fwd)(fwd)",
		strings.Repeat("[fwd:", 100) + strings.Repeat("]", 100), strings.Repeat("[a]", 500),
		strings.Repeat("Re: ", 500) + "x", "\xff\xfe Re: \x00",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, vi bool) {
		start := time.Now()
		base, _ := BaseSubject(s, Options{Vietnamese: vi})
		if el := time.Since(start); el > time.Second {
			t.Fatalf("%d octets took %v", len(s), el)
		}
		if !vi && len(base) > len(s) {
			t.Errorf("base %q longer than subject %q", base, s)
		}
		if strings.HasPrefix(base, " ") {
			t.Errorf("base %q of %q starts with a blank", base, s)
		}
		if strings.HasSuffix(base, " ") && !strings.HasSuffix(strings.TrimRight(base, " "), "]") {
			t.Errorf("base %q of %q ends with a blank", base, s)
		}
		if k := NewKey(base); k.Compare(k) != 0 {
			t.Errorf("key of %q not equal to itself", base)
		}
		if got, want := NewKey(s), slowKey(s); got != want {
			t.Errorf("NewKey(%q) = %q, by the definition %q", s, got, want)
		}
		_ = DecodeSubject(s)
	})
}

// FuzzParseMsgIDs: the References parser never panics, finishes quickly
// and returns only ids within the limits.
func FuzzParseMsgIDs(f *testing.F) {
	for _, s := range []string{
		"<a@x> <b@x>", `"p" <a@x> (c <x@y>) <b@x>`, "((((", `("\`, "<<<>>>", "<a\r\n @x>",
		strings.Repeat("(", 10000), strings.Repeat("<a@x>", 2000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start := time.Now()
		ids := ParseMsgIDs(s)
		if el := time.Since(start); el > time.Second {
			t.Fatalf("%d octets took %v", len(s), el)
		}
		if len(ids) > MaxReferences {
			t.Errorf("%d ids, limit %d", len(ids), MaxReferences)
		}
		for _, id := range ids {
			if id == "" || len(id) > MaxMsgIDLen || strings.ContainsAny(id, " \t\r\n<>") {
				t.Errorf("id %q from %q", id, s)
			}
		}
	})
}

// FuzzThread threads a few messages whose Message-ID, References,
// In-Reply-To and subject come from the input (lines of "id|refs|irt|
// subject"): every message appears exactly once, whatever loops or
// duplicates the headers make, and the encoding is balanced.
func FuzzThread(f *testing.F) {
	f.Add("<a>|<b>||x\n<b>|<a>||Re: x\n<a>|||x\n|<a> <b>||[fwd: x]")
	f.Add("<1>|||s\n<2>|<1>||Re: s\n<3>|<1> <gone>||Re: s\n<4>||<gone>|TL: s")
	f.Add("<a>|<a>|<a>|\n<a>|<a>|<a>|\n<a>|<a>|<a>|")
	f.Fuzz(func(t *testing.T, data string) {
		lines := strings.Split(data, "\n")
		if len(lines) > 200 {
			lines = lines[:200]
		}
		msgs := make([]Message, len(lines))
		for i, l := range lines {
			p := strings.SplitN(l, "|", 4)
			for len(p) < 4 {
				p = append(p, "")
			}
			// Sequence numbers against the input order, dates that collide.
			seq := uint32(len(lines) - i)
			msgs[i] = Message{Seq: seq, Date: time.Unix(int64(i%3), 0), MessageID: p[0], References: p[1], InReplyTo: p[2], Subject: p[3]}
		}
		for _, vi := range []bool{false, true} {
			for _, threads := range [][]*Thread{References(msgs, Options{Vietnamese: vi}), OrderedSubject(msgs, Options{Vietnamese: vi})} {
				checkAllOnce(t, msgs, threads)
				enc := string(AppendThreads(nil, threads))
				if depth := balance(enc); depth != 0 {
					t.Errorf("unbalanced encoding %q", enc)
				}
			}
		}
	})
}

// balance returns the final parenthesis depth of s, or -1 if it ever
// closes more than it opened.
func balance(s string) int {
	d := 0
	for _, c := range s {
		switch c {
		case '(':
			d++
		case ')':
			d--
			if d < 0 {
				return -1
			}
		}
	}
	return d
}
