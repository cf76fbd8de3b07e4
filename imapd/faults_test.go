package imapd

import (
	"strings"
	"testing"
	"time"

	"congthu/imapd/wire"
)

// TestSyntaxErrorsAtOnce: an unterminated quoted string is BAD at once and
// does not swallow the next command; malformed modified UTF-7 in a name or
// a pattern is BAD, never NO [SERVERBUG].
func TestSyntaxErrorsAtOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := dialLoggedIn(t, e, "")
	start := time.Now()
	r.send("a2 LIST \"\" \"foo\r\n")
	if got := r.expect("a2 "); !strings.HasPrefix(got, "a2 BAD") {
		t.Errorf("unterminated quote: %q", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("BAD after %v", d)
	}
	r.send("a3 NOOP\r\n")
	r.expect("a3 OK")
	// A name that is not valid modified UTF-7 names no mailbox: NO
	// [CANNOT]; such a pattern matches none: OK with nothing listed.
	for _, tc := range []struct{ cmd, want string }{
		{`CREATE "bad&mUTF7"`, "a4 NO [CANNOT]"},
		{`SELECT "&AGE-"`, "a4 NO [CANNOT]"},
		{`RENAME INBOX "a&AOk-&AOk-"`, "a4 NO [CANNOT]"},
		{`SELECT !#$&'+,-.0123456789:;<=>?@^_` + "`" + `|[}`, "a4 NO [CANNOT]"},
		{`LIST "" "&Jjo!"`, "a4 OK"},
		{`LIST "" !#$&'+,-.0123456789:;<=>?@^_` + "`" + `|[}%*`, "a4 OK"},
		{`CREATE "Hồ sơ"`, "a4 BAD"}, // 8-bit without UTF8=ACCEPT
	} {
		r.send("a4 " + tc.cmd + "\r\n")
		if got := r.expect("a4 "); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %q, want %s", tc.cmd, got, tc.want)
		}
	}
}

// TestID: ID (RFC 2971) is answered before and after login.
func TestID(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := dialRaw(t, e)
	r.send("a1 ID (\"name\" \"Thunderbird\" \"version\" \"128\")\r\n")
	if got := r.expect("* ID "); !strings.Contains(got, `"name" "congthu"`) {
		t.Errorf("ID: %q", got)
	}
	r.expect("a1 OK")
	r.send("a2 ID NIL\r\n")
	r.expect("* ID ")
	r.expect("a2 OK")
}

// TestBinaryPartialOrigin: a partial BINARY answer names its origin (RFC
// 3516 section 4.3, as BODY[]<o> does), and decodes base64.
func TestBinaryPartialOrigin(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.deliver("", multipartMsg)
	r := dialLoggedIn(t, e, "INBOX")
	r.send("a3 FETCH 1 (BINARY.PEEK[1]<5.6>)\r\n")
	if got := r.expect("* 1 FETCH"); !strings.HasSuffix(got, "BINARY[1]<5> ~{6}\r\n") {
		t.Fatalf("BINARY partial: %q", got)
	}
	if got := r.expect(""); got != "tiếp)\r\n" {
		t.Errorf("BINARY[1]<5.6> = %q, want %q", got, "tiếp)\r\n")
	}
	r.expect("a3 OK")
	r.send("a4 FETCH 1 (BINARY.SIZE[1] BODY.PEEK[1]<0.4>)\r\n")
	if got := r.expect("* 1 FETCH"); !strings.HasSuffix(got, "BODY[1]<0> {4}\r\n") {
		t.Errorf("BODY partial: %q", got)
	}
	if got := r.expect(""); got != "xJDD BINARY.SIZE[1] 37)\r\n" {
		t.Errorf("after BODY[1]<0>: %q", got)
	}
	r.expect("a4 OK")
}

// TestNewKeywordFlagsFirst: the untagged FLAGS that announces a new
// keyword comes before the FETCH that first uses it, in the session that
// stored it and in another one (RFC 9051 section 7.3.5).
func TestNewKeywordFlagsFirst(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.deliver("", message("một", "vp@hanoi.gov.vn", "1"))
	r := dialLoggedIn(t, e, "INBOX")
	r2 := dialLoggedIn(t, e, "INBOX")
	r.send("a3 STORE 1 +FLAGS ($DaXuLy)\r\n")
	if got := r.expect("* "); !strings.HasPrefix(got, "* FLAGS (") || !strings.Contains(got, "$DaXuLy") {
		t.Errorf("first answer to STORE: %q, want FLAGS with the keyword", got)
	}
	if got := r.expect("* "); !strings.HasPrefix(got, "* 1 FETCH (FLAGS (") || !strings.Contains(got, "$DaXuLy") {
		t.Errorf("second answer to STORE: %q", got)
	}
	r.expect("a3 OK")
	r2.send("b3 NOOP\r\n")
	if got := r2.expect("* "); !strings.HasPrefix(got, "* FLAGS (") {
		t.Errorf("other session: %q, want FLAGS first", got)
	}
	if got := r2.expect("* "); !strings.HasPrefix(got, "* 1 FETCH") || !strings.Contains(got, "$DaXuLy") {
		t.Errorf("other session: %q, want FETCH", got)
	}
	r2.expect("b3 OK")
}

// TestUTF8AcceptEnforced: a UTF-8 mailbox name is BAD until ENABLE
// UTF8=ACCEPT (RFC 6855 section 3); after it names go both ways in UTF-8,
// and a client that did not enable it sees modified UTF-7.
func TestUTF8AcceptEnforced(t *testing.T) {
	e := newEnv(t, envOptions{})
	const name = "Hồ sơ đã xử lý"
	r := dialLoggedIn(t, e, "")
	r.send("a2 CREATE \"" + name + "\"\r\n")
	r.expect("a2 BAD")
	r.send("a3 ENABLE UTF8=ACCEPT\r\n")
	if got := r.expect("* ENABLED"); !strings.Contains(got, "UTF8=ACCEPT") {
		t.Errorf("ENABLE: %q", got)
	}
	r.expect("a3 OK")
	r.send("a4 CREATE \"" + name + "\"\r\n")
	r.expect("a4 OK")
	r.send("a5 LIST \"\" \"Hồ*\"\r\n")
	if got := r.expect("* LIST"); !strings.Contains(got, `"`+name+`"`) {
		t.Errorf("LIST with UTF8=ACCEPT: %q", got)
	}
	r.expect("a5 OK")
	r2 := dialLoggedIn(t, e, "")
	r2.send("b2 LIST \"\" \"H*\"\r\n")
	if got := r2.expect("* LIST"); !strings.Contains(got, `"`+wire.EncodeMUTF7(name)+`"`) {
		t.Errorf("LIST without UTF8=ACCEPT: %q, want %q", got, wire.EncodeMUTF7(name))
	}
	r2.expect("b2 OK")
}

// TestIdleTimeoutBetweenCommands: Options.IdleTimeout bounds the wait for
// a command as it bounds IDLE.
func TestIdleTimeoutBetweenCommands(t *testing.T) {
	e := newEnv(t, envOptions{opts: Options{IdleTimeout: 700 * time.Millisecond}})
	r := dialLoggedIn(t, e, "INBOX")
	start := time.Now()
	if got := r.expect("* BYE"); !strings.Contains(got, "Autologout") {
		t.Errorf("BYE: %q", got)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("BYE after %v, before the timeout", d)
	}
	if !r.closed() {
		t.Error("connection still open after BYE")
	}
}

// TestExpungeHeldDuringFetch: another session's expunge is not announced
// after FETCH, STORE or SEARCH (RFC 9051 section 7.5.1), but after NOOP,
// and the sequence numbers stay the client's until then.
func TestExpungeHeldDuringFetch(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, s := range []string{"một", "hai", "ba"} {
		e.deliver("", message(s, "vp@hanoi.gov.vn", s))
	}
	r := dialLoggedIn(t, e, "INBOX")
	r2 := dialLoggedIn(t, e, "INBOX")
	r2.send("b3 STORE 1 +FLAGS.SILENT (\\Deleted)\r\nb4 EXPUNGE\r\n")
	r2.expect("* 1 EXPUNGE")
	r2.expect("b4 OK")
	r.send("a3 FETCH 3 (UID)\r\n")
	// The other session's \Deleted may be told first; the expunge not.
	if got := r.expect("* 3 "); got != "* 3 FETCH (UID 3)\r\n" {
		t.Errorf("FETCH before the expunge is told: %q", got)
	}
	r.expect("a3 OK")
	r.send("a4 SEARCH ALL\r\n")
	if got := r.expect("* "); !strings.HasPrefix(got, "* SEARCH 2 3") {
		t.Errorf("SEARCH: %q", got)
	}
	r.expect("a4 OK")
	r.send("a5 NOOP\r\n")
	if got := r.expect("* "); got != "* 1 EXPUNGE\r\n" {
		t.Errorf("NOOP: %q, want the EXPUNGE", got)
	}
	r.expect("a5 OK")
	r.send("a6 FETCH 2 (UID)\r\n")
	if got := r.expect("* "); got != "* 2 FETCH (UID 3)\r\n" {
		t.Errorf("FETCH after the expunge: %q", got)
	}
	r.expect("a6 OK")
}
