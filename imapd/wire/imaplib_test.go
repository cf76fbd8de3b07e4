package wire

import (
	"context"
	"io"
	"net"
	"os/exec"
	"reflect"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// imaplibScript is what Python's imaplib sends: a second client, written
// by others, whose bytes the decoder must read as meant.
const imaplibScript = `
import imaplib, sys
c = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
c.login("can.bo@so.gov.vn", "mat khau")
c.select("INBOX")
c.select('"L&AbA-u tr&Hu8-"', readonly=True)
c.create("Archive/2024")
c.rename("Archive/2024", "Archive/2025")
c.list('""', "*")
c.lsub('""', "%")
c.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)")
c.append("Sent", "(\\Seen)", imaplib.Time2Internaldate(1709600950), b"Subject: x\r\n\r\nbody\r\n")
c.search(None, "UNSEEN", "SINCE", "1-Feb-2024")
c.uid("SEARCH", "CHARSET", "UTF-8", "TEXT", "abc")
c.fetch("1:3", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
c.uid("FETCH", "5:*", "(UID FLAGS)")
c.store("2", "+FLAGS", "(\\Deleted)")
c.copy("1,3", "Trash")
c.expunge()
c.check()
c.close()
c.namespace()
c.logout()
`

func TestImaplib(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	results := make(chan *responder, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			close(results)
			return
		}
		results <- startResponder(t, conn, "IMAP4rev1 NAMESPACE UIDPLUS")
	}()
	addr := ln.Addr().(*net.TCPAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", "-c", imaplibScript, "127.0.0.1", itoa(addr.Port))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
	r := <-results
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		t.Fatal("server side did not finish")
	}
	close(r.got)
	var got []*Command
	for v := range r.got {
		if v == io.EOF {
			continue
		}
		c, ok := v.(*Command)
		if !ok {
			t.Fatalf("got %v", v)
		}
		if c.Name != "CAPABILITY" {
			c.Tag = ""
			got = append(got, c)
		}
	}
	uid := func(set imap.UIDSet) imap.NumSet { return set }
	want := []*Command{
		{Name: "LOGIN", Args: &Login{Username: "can.bo@so.gov.vn", Password: "mat khau"}},
		{Name: "SELECT", Args: &Select{Mailbox: "INBOX"}},
		{Name: "EXAMINE", Args: &Select{Mailbox: "Lưu trữ", Options: imap.SelectOptions{ReadOnly: true}}},
		{Name: "CREATE", Args: &Create{Mailbox: "Archive/2024"}},
		{Name: "RENAME", Args: &Rename{From: "Archive/2024", To: "Archive/2025"}},
		{Name: "LIST", Args: &List{Patterns: []string{"*"}}},
		{Name: "LSUB", Args: &List{Patterns: []string{"%"}}},
		{Name: "STATUS", Args: &Status{Mailbox: "INBOX", Options: imap.StatusOptions{NumMessages: true, NumUnseen: true, UIDNext: true}}},
		{Name: "APPEND", Args: &Append{Mailbox: "Sent", Messages: []AppendMessage{{
			Options: imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: time.Unix(1709600950, 0)},
			Literal: []byte("Subject: x\r\n\r\nbody\r\n")}}}},
		{Name: "SEARCH", Args: &Search{Criteria: imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}, Since: mustTime("2-Jan-2006", "1-Feb-2024")}}},
		{Name: "SEARCH", UID: true, Args: &Search{Charset: "UTF-8", Criteria: imap.SearchCriteria{Text: []string{"abc"}}}},
		{Name: "FETCH", Args: &Fetch{NumSet: imap.SeqSet{{Start: 1, Stop: 3}}, Options: imap.FetchOptions{Flags: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"SUBJECT"}}}}}},
		{Name: "FETCH", UID: true, Args: &Fetch{NumSet: uid(imap.UIDSet{{Start: 5, Stop: 0}}), Options: imap.FetchOptions{UID: true, Flags: true}}},
		{Name: "STORE", Args: &Store{NumSet: imap.SeqSet{{Start: 2, Stop: 2}}, Flags: imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}}},
		{Name: "COPY", Args: &Copy{NumSet: imap.SeqSet{{Start: 1, Stop: 1}, {Start: 3, Stop: 3}}, Mailbox: "Trash"}},
		{Name: "EXPUNGE"},
		{Name: "CHECK"},
		{Name: "CLOSE"},
		{Name: "NAMESPACE"},
		{Name: "LOGOUT"},
	}
	if len(got) != len(want) {
		for _, c := range got {
			t.Log(show(c))
		}
		t.Fatalf("got %d commands, want %d", len(got), len(want))
	}
	for i := range want {
		w := want[i]
		if a, ok := w.Args.(*Append); ok {
			// imaplib writes the local time zone; compare the instant.
			g := got[i].Args.(*Append)
			if g.Messages[0].Options.Time.Equal(a.Messages[0].Options.Time) {
				g.Messages[0].Options.Time = a.Messages[0].Options.Time
			}
		}
		if !reflect.DeepEqual(got[i], w) {
			t.Errorf("\n got %s\nwant %s", show(got[i]), show(w))
		}
	}
}
