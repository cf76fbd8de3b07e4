package imapd

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestMultiAppend sends RFC 3502 MULTIAPPEND over a raw connection: the
// messages get consecutive UIDs in one APPENDUID with their own flags and
// dates; a command with one message over the quota, over the APPENDLIMIT
// or empty stores none of them; the count of messages is bounded.
func TestMultiAppend(t *testing.T) {
	backends(t, func(t *testing.T, eo envOptions) {
		eo.opts.AppendLimit = 64 << 10
		e := newEnv(t, eo)
		ctx := context.Background()
		m1 := message("Hồ sơ 1", "motcua@hanoi.gov.vn", "một")
		m2 := message("Hồ sơ 2", "motcua@hanoi.gov.vn", "hai")
		m3 := message("Hồ sơ 3", "motcua@hanoi.gov.vn", "ba")
		lit := func(m string) string { return fmt.Sprintf("{%d+}\r\n%s", len(m), m) }
		count := func() int {
			t.Helper()
			mb, err := e.st.Mailbox(ctx, e.acct.ID, "INBOX")
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := e.st.Messages(ctx, mb.ID)
			if err != nil {
				t.Fatal(err)
			}
			return len(msgs)
		}
		used := func() int64 {
			t.Helper()
			q, err := e.st.QuotaOf(ctx, testUser)
			if err != nil {
				t.Fatal(err)
			}
			return q.Used
		}
		r := dialLoggedIn(t, e, "")

		r.send(`m1 APPEND INBOX (\Seen) ` + lit(m1) + ` (\Flagged $Hoso) "06-Dec-2026 10:00:00 +0700" ` + lit(m2) + " " + lit(m3) + "\r\n")
		if got := r.expect("m1 "); !strings.HasPrefix(got, "m1 OK [APPENDUID ") || !strings.Contains(got, " 1:3]") {
			t.Fatalf("MULTIAPPEND: got %q, want OK [APPENDUID v 1:3]", got)
		}
		r.send("m2 SELECT INBOX\r\nm3 FETCH 1:3 (UID FLAGS INTERNALDATE)\r\n")
		r.expect("m2 OK")
		for i, want := range []string{`FLAGS (\Seen \Recent)`, `FLAGS ($Hoso \Flagged \Recent)`, `FLAGS (\Recent)`} {
			got := r.expect("* ")
			if !strings.Contains(got, fmt.Sprintf("UID %d ", i+1)) || !strings.Contains(got, want) {
				t.Errorf("message %d: got %q, want UID %d and %s", i+1, got, i+1, want)
			}
			if i == 1 && !strings.Contains(got, `INTERNALDATE " 6-Dec-2026 10:00:00 +0700"`) {
				t.Errorf("message 2: got %q, want INTERNALDATE \" 6-Dec-2026 10:00:00 +0700\"", got)
			}
		}
		r.expect("m3 OK")
		if n := count(); n != 3 {
			t.Fatalf("after MULTIAPPEND: %d messages, want 3", n)
		}

		// Over the quota: the first two fit, the third does not.
		before := used()
		if err := e.st.SetQuota(ctx, testUser, before+int64(len(m1)+len(m2))); err != nil {
			t.Fatal(err)
		}
		r.send("m4 APPEND INBOX " + lit(m1) + " " + lit(m2) + " " + lit(m3) + "\r\n")
		if got := r.expect("m4 "); !strings.HasPrefix(got, "m4 NO [OVERQUOTA]") {
			t.Errorf("MULTIAPPEND over the quota: got %q, want NO [OVERQUOTA]", got)
		}
		if n, u := count(), used(); n != 3 || u != before {
			t.Errorf("after refused MULTIAPPEND: %d messages using %d bytes, want 3 using %d", n, u, before)
		}
		if err := e.st.SetQuota(ctx, testUser, 0); err != nil {
			t.Fatal(err)
		}

		// An empty message among good ones.
		r.send("m5 APPEND INBOX " + lit(m1) + " {0+}\r\n\r\n")
		if got := r.expect("m5 "); !strings.HasPrefix(got, "m5 NO") {
			t.Errorf("MULTIAPPEND with an empty message: got %q, want NO", got)
		}
		// A message over the APPENDLIMIT, announced synchronously after
		// a good one: refused before its data is sent.
		r.send(fmt.Sprintf("m6 APPEND INBOX {%d}\r\n", len(m1)))
		r.expect("+ ")
		r.send(m1 + fmt.Sprintf(" {%d}\r\n", 65<<10))
		if got := r.expect("m6 "); !strings.HasPrefix(got, "m6 NO [TOOBIG]") {
			t.Errorf("MULTIAPPEND with a message too big: got %q, want NO [TOOBIG]", got)
		}
		if n := count(); n != 3 {
			t.Errorf("after refused MULTIAPPENDs: %d messages, want 3", n)
		}

		// At most 1,000 messages in one command.
		var b strings.Builder
		b.WriteString("m7 APPEND INBOX")
		for range 1001 {
			b.WriteString(" {1+}\r\nx")
		}
		b.WriteString("\r\n")
		r.send(b.String())
		if got := r.expect("m7 "); !strings.HasPrefix(got, "m7 BAD") || !strings.Contains(got, "too many messages") {
			t.Errorf("1,001 messages: got %q, want BAD too many messages", got)
		}
		r.send("m8 NOOP\r\n")
		r.expect("m8 OK")
		if n := count(); n != 3 {
			t.Errorf("after 1,001 messages refused: %d messages, want 3", n)
		}
	})
}
