package imapd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"congthu/store"
)

// TestContextImaplib: a third-party client's view of CONTEXT=SEARCH.
// Python's imaplib keeps a search with RETURN (ALL UPDATE), reads the
// ADDTO of a message delivered meanwhile among the untagged responses of
// its next NOOP, cancels the context and then hears nothing of the next
// arrival; a second CANCELUPDATE of the same tag is refused.
func TestContextImaplib(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	const user, pass = "py.context@hanoi.gov.vn", "Py-pass-2026"
	acct, err := e.st.AddAccount(ctx, user, pass)
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(subject string) uint32 {
		res, err := e.st.Deliver(ctx, &store.Delivery{Raw: []byte(message(subject, "a@hanoi.gov.vn", "x")),
			Local: []store.LocalTarget{{AccountID: acct.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Local[0].UID
	}
	first, second := deliver("Hồ sơ 1"), deliver("Hồ sơ 2")

	cmd := imaplibCmd(t, e, "imaplib_context.py", user, pass)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(stdout)
	var arrived []uint32
	for sc.Scan() {
		line := sc.Text()
		if line != "ready" {
			out = append(out, line)
			continue
		}
		arrived = append(arrived, deliver(fmt.Sprintf("Hồ sơ %d", len(arrived)+3)))
		fmt.Fprintln(stdin, "go")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("imaplib: %v\n%s", err, strings.Join(out, "\n"))
	}
	if len(arrived) != 2 {
		t.Fatalf("the script asked for %d deliveries, want 2:\n%s", len(arrived), strings.Join(out, "\n"))
	}
	got := strings.Join(out, "\n")
	tag := ""
	if i := strings.Index(got, "search: (TAG \""); i >= 0 {
		tag, _, _ = strings.Cut(got[i+len("search: (TAG \""):], "\"")
	}
	if tag == "" {
		t.Fatalf("no ESEARCH for the search:\n%s", got)
	}
	for _, want := range []string{
		"context: True",
		fmt.Sprintf("search: (TAG %q) UID ALL %d:%d", tag, first, second),
		fmt.Sprintf("update: (TAG %q) UID ADDTO (0 %d)", tag, arrived[0]),
		"cancel: OK",
		"after cancel: None",
		"cancel again: BAD",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("imaplib output lacks %q:\n%s", want, got)
		}
	}
}
