package imapd

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestListWildcards: patterns that make a backtracking matcher run for
// minutes or for ever against a 40-character name are answered, and a
// pattern over maxListPattern is refused with BAD.
func TestListWildcards(t *testing.T) {
	backends(t, func(t *testing.T, eo envOptions) {
		e := newEnv(t, eo)
		c := e.client(nil)
		long, longX := strings.Repeat("a", 40), strings.Repeat("a", 39)+"x"
		for _, name := range []string{long, longX, "Hồ sơ/" + long} {
			if err := c.Create(name, nil).Wait(); err != nil {
				t.Fatalf("CREATE %s: %v", name, err)
			}
		}

		l, err := c.List("", strings.Repeat("%", 16)+"x", nil).Collect()
		if err != nil {
			t.Fatalf("LIST %%…x: %v", err)
		}
		if got := listNames(l); len(got) != 1 || got[0] != longX {
			t.Errorf("LIST %%x16…x = %q, want [%s]", got, longX)
		}
		l, err = c.List("", "*"+strings.Repeat("%", 20)+"a", nil).Collect()
		if err != nil {
			t.Fatalf("LIST *%%…a: %v", err)
		}
		if got := listNames(l); len(got) != 2 || got[0] != "Hồ sơ/"+long || got[1] != long {
			t.Errorf("LIST *%%…a = %q, want the two names ending in a", got)
		}
		l, err = c.List("Hồ sơ", strings.Repeat("%a", 40), nil).Collect()
		if err != nil {
			t.Fatalf("LIST with reference: %v", err)
		}
		if got := listNames(l); len(got) != 1 || got[0] != "Hồ sơ/"+long {
			t.Errorf("LIST \"Hồ sơ\" %%a… = %q, want [Hồ sơ/%s]", got, long)
		}

		// Just under the bound: answered (no name matches).
		l, err = c.List("", strings.Repeat("%", maxListPattern-1)+"x", nil).Collect()
		if got := listNames(l); err != nil || len(got) != 1 || got[0] != longX {
			t.Errorf("LIST of %d bytes: %v, %q", maxListPattern, err, got)
		}
		// Over it: BAD, and the session goes on.
		_, err = c.List("", strings.Repeat("%", 3000)+"x", nil).Collect()
		var ierr *imap.Error
		if !errors.As(err, &ierr) || ierr.Type != imap.StatusResponseTypeBad {
			t.Errorf("LIST of 3001 bytes: %v, want BAD", err)
		}
		if err := c.Noop().Wait(); err != nil {
			t.Fatalf("NOOP after the long LIST: %v", err)
		}

		r := dialLoggedIn(t, e, "")
		r.send("a2 LIST \"\" \"" + strings.Repeat("%", 3000) + "x\"\r\n")
		if line := r.expect("a2 "); !strings.HasPrefix(line, "a2 BAD") {
			t.Errorf("long LIST: %q, want BAD", line)
		}
		r.send("a3 LSUB \"\" \"" + strings.Repeat("%", 3000) + "x\"\r\n")
		if line := r.expect("a3 "); !strings.HasPrefix(line, "a3 BAD") {
			t.Errorf("long LSUB: %q, want BAD", line)
		}
		r.send("a4 SUBSCRIBE " + longX + "\r\n")
		r.expect("a4 OK")
		r.send("a5 LSUB \"\" \"" + strings.Repeat("%", 16) + "x\"\r\n")
		if line := r.expect("* LSUB"); !strings.Contains(line, longX) {
			t.Errorf("LSUB %%…x: %q, want %s", line, longX)
		}
		r.expect("a5 OK")
	})
}

// deepMultipart is a message whose multiparts nest n deep.
func deepMultipart(n int) string {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nTo: " + testUser + "\r\nSubject: deep\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/plain\r\n\r\nhi\r\n", n-1)
	for i := n - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.String()
}

// deepRFC822 is a message whose message/rfc822 parts nest n deep.
func deepRFC822(n int) string {
	s := "Subject: inner\r\n\r\nhi\r\n"
	for i := 0; i < n; i++ {
		s = "Content-Type: message/rfc822\r\n\r\n" + s
	}
	return "From: a@example.com\r\nTo: " + testUser + "\r\nSubject: deep rfc822\r\nMIME-Version: 1.0\r\n" + s
}

const (
	emptyMultipartMsg = "From: a@example.com\r\nTo: nva.stp@hanoi.gov.vn\r\nSubject: empty\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=x\r\n\r\nno boundary line here\r\n"
	unclosedMultipartMsg = "From: a@example.com\r\nTo: nva.stp@hanoi.gov.vn\r\nSubject: unclosed\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	closedOnlyMsg = "From: a@example.com\r\nTo: nva.stp@hanoi.gov.vn\r\nSubject: closed only\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=x\r\n\r\n--x--\r\n"
)

// mimeDepth counts the nesting of a body structure (multiparts and
// encapsulated messages).
func mimeDepth(bs imap.BodyStructure) int {
	switch b := bs.(type) {
	case *imap.BodyStructureMultiPart:
		d := 0
		for _, c := range b.Children {
			d = max(d, mimeDepth(c))
		}
		return d + 1
	case *imap.BodyStructureSinglePart:
		if b.MessageRFC822 != nil {
			return mimeDepth(b.MessageRFC822.BodyStructure) + 1
		}
	}
	return 0
}

// TestBrokenMIME: messages whose MIME structure is broken (a multipart
// with no part, never closed, nested 2,000 deep) are fetched like any
// other: BODYSTRUCTURE, BODY, sections, BINARY and ENVELOPE answer OK and
// the connection stays usable.
func TestBrokenMIME(t *testing.T) {
	backends(t, func(t *testing.T, eo envOptions) {
		e := newEnv(t, eo)
		c := e.client(nil)
		// The first through APPEND, the others through local delivery.
		cmd := c.Append("INBOX", int64(len(emptyMultipartMsg)), nil)
		cmd.Write([]byte(emptyMultipartMsg))
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatalf("APPEND: %v", err)
		}
		msgs := []string{emptyMultipartMsg, unclosedMultipartMsg, closedOnlyMsg, deepMultipart(2000), deepRFC822(2000), multipartMsg}
		for _, m := range msgs[1:] {
			e.deliver("", m)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}

		opts := &imap.FetchOptions{
			Envelope:      true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			BodySection: []*imap.FetchItemBodySection{
				{},
				{Part: []int{1}},
				{Part: []int{1}, Specifier: imap.PartSpecifierMIME},
				{Part: []int{1, 1}},
				{Specifier: imap.PartSpecifierText},
			},
			BinarySection:     []*imap.FetchItemBinarySection{{Part: []int{1}}},
			BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{1}}},
		}
		for i, raw := range msgs {
			seq := uint32(i + 1)
			got, err := c.Fetch(imap.SeqSetNum(seq), opts).Collect()
			if err != nil || len(got) != 1 {
				t.Fatalf("FETCH %d (%.20q…): %v, %d answers", seq, raw, err, len(got))
			}
			m := got[0]
			if m.Envelope == nil || m.Envelope.Subject == "" {
				t.Errorf("message %d: envelope %+v", seq, m.Envelope)
			}
			if whole := m.FindBodySection(&imap.FetchItemBodySection{}); string(whole) != raw {
				t.Errorf("message %d: BODY[] is %d bytes, stored %d", seq, len(whole), len(raw))
			}
			if d := mimeDepth(m.BodyStructure); d > maxMIMEDepth+1 {
				t.Errorf("message %d: BODYSTRUCTURE %d deep", seq, d)
			}
			// BODY (the non-extensible form) too.
			got, err = c.Fetch(imap.SeqSetNum(seq), &imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{}}).Collect()
			if err != nil || len(got) != 1 || got[0].BodyStructure == nil {
				t.Fatalf("FETCH %d BODY: %v", seq, err)
			}
			if err := c.Noop().Wait(); err != nil {
				t.Fatalf("NOOP after message %d: %v", seq, err)
			}
		}

		// The exact form for a multipart without parts, as Dovecot gives it.
		r := dialLoggedIn(t, e, "INBOX")
		r.send("a3 FETCH 1 BODYSTRUCTURE\r\n")
		want := `BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" ("boundary" "x") NIL NIL NIL)`
		if line := r.expect("* 1 FETCH"); !strings.Contains(line, want) {
			t.Errorf("empty multipart: %q, want %s", line, want)
		}
		r.expect("a3 OK")
		r.send("a4 FETCH 3 BODY\r\n")
		want = `BODY (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "alternative")`
		if line := r.expect("* 3 FETCH"); !strings.Contains(line, want) {
			t.Errorf("closed-only multipart: %q, want %s", line, want)
		}
		r.expect("a4 OK")
		r.send("a5 FETCH 1:* (BODYSTRUCTURE BODY[1] BINARY.SIZE[1])\r\n")
		r.expect("a5 OK")
		r.send("a6 NOOP\r\n")
		r.expect("a6 OK")
	})
}

// FuzzBodyStructure feeds raw message bytes to the structure walk: no
// input may panic, nest past the bound, or give a structure the
// writer would panic on (checkWritable).
func FuzzBodyStructure(f *testing.F) {
	for _, m := range []string{emptyMultipartMsg, unclosedMultipartMsg, closedOnlyMsg, multipartMsg, deepMultipart(5), deepRFC822(5),
		"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\n----\r\n", "Content-Type: message/rfc822\r\n\r\n", ""} {
		f.Add([]byte(m))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		bs := bodyStructure(raw)
		if d := mimeDepth(bs); d > maxMIMEDepth+1 {
			t.Fatalf("structure %d deep", d)
		}
		checkWritable(t, bs)
	})
}

// checkWritable asserts what the BODYSTRUCTURE writer needs of a structure.
func checkWritable(t *testing.T, bs imap.BodyStructure) {
	t.Helper()
	switch b := bs.(type) {
	case *imap.BodyStructureMultiPart:
		if len(b.Children) == 0 || b.Extended == nil {
			t.Fatalf("multipart %+v not writable", b)
		}
		for _, c := range b.Children {
			checkWritable(t, c)
		}
	case *imap.BodyStructureSinglePart:
		if b.Extended == nil || strings.EqualFold(b.Type, "multipart") {
			t.Fatalf("single part %+v not writable", b)
		}
		if b.MessageRFC822 != nil {
			if b.MessageRFC822.Envelope == nil {
				t.Fatal("encapsulated message without envelope")
			}
			checkWritable(t, b.MessageRFC822.BodyStructure)
		} else if strings.EqualFold(b.Type, "message") && (strings.EqualFold(b.Subtype, "rfc822") || strings.EqualFold(b.Subtype, "global")) {
			t.Fatalf("message/%s leaf without its structure", b.Subtype)
		}
	default:
		t.Fatalf("unknown structure %T", bs)
	}
}
