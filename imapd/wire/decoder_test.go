package wire

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// decodeAll decodes every command of input and returns the results, a
// *Command or an error each, and how often the continuation was asked for.
func decodeAll(t *testing.T, input string, lim Limits, setup func(*Decoder)) (out []any, conts int) {
	t.Helper()
	d := NewDecoder(bufio.NewReader(strings.NewReader(input)), lim, func() error { conts++; return nil })
	if setup != nil {
		setup(d)
	}
	for range 1000 {
		cmd, err := d.Next()
		if errors.Is(err, io.EOF) {
			return out, conts
		}
		if err != nil {
			out = append(out, err)
			var se *SyntaxError
			if !errors.As(err, &se) || se.Fatal {
				return out, conts
			}
			continue
		}
		out = append(out, cmd)
	}
	t.Fatal("decoder does not advance")
	return nil, 0
}

func show(v any) string {
	switch v := v.(type) {
	case *Command:
		b, _ := json.Marshal(v.Args)
		s := v.Tag + " " + v.Name
		if v.UID {
			s += " uid"
		}
		s += " " + string(b)
		if len(s) > 1500 {
			s = s[:1500] + "…"
		}
		return s
	case *SyntaxError:
		b, _ := json.Marshal(v)
		return "error " + string(b)
	}
	return "?"
}

func mustTime(layout, s string) time.Time {
	t, err := time.Parse(layout, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestDecodeForms covers the forms imapclient never sends, byte for byte
// as RFC examples and other clients write them.
func TestDecodeForms(t *testing.T) {
	all := imap.SearchCriteria{}
	cases := []struct {
		name, in string
		want     *Command
	}{
		{"STARTTLS", "a STARTTLS\r\n", &Command{Tag: "a", Name: "STARTTLS"}},
		{"CHECK lower case", "a1 check\r\n", &Command{Tag: "a1", Name: "CHECK"}},
		{"bare LF", "a NOOP\n", &Command{Tag: "a", Name: "NOOP"}},
		{"AUTHENTICATE empty initial", "a AUTHENTICATE plain =\r\n",
			&Command{Tag: "a", Name: "AUTHENTICATE", Args: &Authenticate{Mechanism: "PLAIN", HasInitial: true, Initial: []byte{}}}},
		{"AUTHENTICATE no initial", "a AUTHENTICATE XOAUTH2\r\n",
			&Command{Tag: "a", Name: "AUTHENTICATE", Args: &Authenticate{Mechanism: "XOAUTH2"}}},
		{"LOGIN literals", "a LOGIN {3}\r\nabc {4}\r\nd\"\\e\r\n",
			&Command{Tag: "a", Name: "LOGIN", Args: &Login{Username: "abc", Password: "d\"\\e"}}},
		{"SELECT QRESYNC full", "A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1,3:5 5,6:8)))\r\n",
			&Command{Tag: "A02", Name: "SELECT", Args: &Select{Mailbox: "INBOX", QResync: &QResync{
				UIDValidity: 67890007, ModSeq: 20050715194045000,
				KnownUIDs: imap.UIDSet{{Start: 41, Stop: 41}, {Start: 43, Stop: 211}, {Start: 214, Stop: 541}},
				SeqMatch: &SeqMatch{SeqNums: imap.SeqSet{{Start: 1, Stop: 1}, {Start: 3, Stop: 5}},
					UIDs: imap.UIDSet{{Start: 5, Stop: 5}, {Start: 6, Stop: 8}}}}}}},
		{"SELECT QRESYNC short", "a EXAMINE \"Sent\" (CONDSTORE QRESYNC (1 2))\r\n",
			&Command{Tag: "a", Name: "EXAMINE", Args: &Select{Mailbox: "Sent", Options: imap.SelectOptions{ReadOnly: true, CondStore: true},
				QResync: &QResync{UIDValidity: 1, ModSeq: 2}}}},
		{"SELECT QRESYNC seq-match only", "a SELECT x (QRESYNC (1 2 (1:2 4:5)))\r\n",
			&Command{Tag: "a", Name: "SELECT", Args: &Select{Mailbox: "x", QResync: &QResync{UIDValidity: 1, ModSeq: 2,
				SeqMatch: &SeqMatch{SeqNums: imap.SeqSet{{Start: 1, Stop: 2}}, UIDs: imap.UIDSet{{Start: 4, Stop: 5}}}}}}},
		{"SELECT mUTF-7", "a SELECT \"L&AbA-u tr&Hu8-\"\r\n",
			&Command{Tag: "a", Name: "SELECT", Args: &Select{Mailbox: "Lưu trữ"}}},
		{"SELECT inbox", "a SELECT iNbOx\r\n", &Command{Tag: "a", Name: "SELECT", Args: &Select{Mailbox: "INBOX"}}},
		{"CREATE USE", "a CREATE Spam (USE (\\Junk))\r\n",
			&Command{Tag: "a", Name: "CREATE", Args: &Create{Mailbox: "Spam", Options: imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrJunk}}}}},
		{"LIST extended", "a LIST (SUBSCRIBED REMOTE) \"\" (\"INBOX\" \"Sent/%\" *) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n",
			&Command{Tag: "a", Name: "LIST", Args: &List{Patterns: []string{"INBOX", "Sent/%", "*"}, Extended: true, Options: imap.ListOptions{
				SelectSubscribed: true, SelectRemote: true, ReturnChildren: true,
				ReturnStatus: &imap.StatusOptions{NumMessages: true, NumUnseen: true}}}}},
		{"LIST empty selection", "a LIST () \"\" % RETURN ()\r\n",
			&Command{Tag: "a", Name: "LIST", Args: &List{Patterns: []string{"%"}, Extended: true}}},
		{"LIST pattern with ]", "a LIST \"\" foo]%\r\n",
			&Command{Tag: "a", Name: "LIST", Args: &List{Patterns: []string{"foo]%"}}}},
		{"LSUB", "a LSUB \"\" \"x/%\"\r\n", &Command{Tag: "a", Name: "LSUB", Args: &List{Patterns: []string{"x/%"}}}},
		{"STATUS all", "a STATUS x (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ DELETED-STORAGE APPENDLIMIT)\r\n",
			&Command{Tag: "a", Name: "STATUS", Args: &Status{Mailbox: "x", Options: imap.StatusOptions{NumMessages: true, NumRecent: true,
				UIDNext: true, UIDValidity: true, NumUnseen: true, NumDeleted: true, Size: true, HighestModSeq: true, DeletedStorage: true, AppendLimit: true}}}},
		{"MULTIAPPEND", "a APPEND x (\\Seen) \" 5-Mar-2024 08:09:10 +0700\" {3+}\r\nabc ~{2}\r\nd\x00 UTF8 (~{1+}\r\ne)\r\n",
			&Command{Tag: "a", Name: "APPEND", Args: &Append{Mailbox: "x", Messages: []AppendMessage{
				{Options: imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: mustTime(time.RFC3339, "2024-03-05T08:09:10+07:00")}, Literal: []byte("abc")},
				{Literal: []byte("d\x00"), Binary: true},
				{Literal: []byte("e"), Binary: true, UTF8: true},
			}}}},
		{"SEARCH every key", "a SEARCH CHARSET utf-8 ALL ANSWERED BCC b BEFORE 1-Feb-2024 BODY \"x y\" CC c DELETED DRAFT FLAGGED FROM f " +
			"HEADER X-Y \"\" KEYWORD $k LARGER 5 NEW NOT SEEN OLD ON \"3-Feb-2024\" OR RECENT UNSEEN SENTBEFORE 1-Jan-2025 SENTON 2-Jan-2024 " +
			"SENTSINCE 1-Jan-2023 SINCE 1-Jan-2020 SMALLER 9 SUBJECT s TEXT t TO o UID 1:* UNANSWERED UNDELETED UNDRAFT UNFLAGGED " +
			"UNKEYWORD $j 1,2:3 (SEEN FLAGGED) MODSEQ 5\r\n",
			&Command{Tag: "a", Name: "SEARCH", Args: &Search{Charset: "UTF-8", Criteria: imap.SearchCriteria{
				SeqNum:     []imap.SeqSet{{{Start: 1, Stop: 1}, {Start: 2, Stop: 3}}},
				UID:        []imap.UIDSet{{{Start: 1, Stop: 0}}},
				Since:      mustTime("2-Jan-2006", "3-Feb-2024"),
				Before:     mustTime("2-Jan-2006", "1-Feb-2024"),
				SentSince:  mustTime("2-Jan-2006", "2-Jan-2024"),
				SentBefore: mustTime("2-Jan-2006", "3-Jan-2024"),
				Header: []imap.SearchCriteriaHeaderField{{Key: "Bcc", Value: "b"}, {Key: "Cc", Value: "c"}, {Key: "From", Value: "f"},
					{Key: "X-Y", Value: ""}, {Key: "Subject", Value: "s"}, {Key: "To", Value: "o"}},
				Body:    []string{"x y"},
				Text:    []string{"t"},
				Flag:    []imap.Flag{imap.FlagAnswered, imap.FlagDeleted, imap.FlagDraft, imap.FlagFlagged, "$k", "\\Recent", imap.FlagSeen, imap.FlagFlagged},
				NotFlag: []imap.Flag{imap.FlagSeen, "\\Recent", imap.FlagAnswered, imap.FlagDeleted, imap.FlagDraft, imap.FlagFlagged, "$j"},
				Larger:  5, Smaller: 9,
				Not:    []imap.SearchCriteria{{Flag: []imap.Flag{imap.FlagSeen}}},
				Or:     [][2]imap.SearchCriteria{{{Flag: []imap.Flag{"\\Recent"}}, {NotFlag: []imap.Flag{imap.FlagSeen}}}},
				ModSeq: &imap.SearchCriteriaModSeq{ModSeq: 5},
			}}}},
		{"SEARCH RETURN SAVE", "a SEARCH RETURN (SAVE) FLAGGED\r\n",
			&Command{Tag: "a", Name: "SEARCH", Args: &Search{Return: &SearchReturn{SearchOptions: imap.SearchOptions{ReturnSave: true}},
				Criteria: imap.SearchCriteria{Flag: []imap.Flag{imap.FlagFlagged}}}}},
		{"SEARCH RETURN ()", "a UID SEARCH RETURN () ALL\r\n",
			&Command{Tag: "a", Name: "SEARCH", UID: true, Args: &Search{Return: &SearchReturn{}, Criteria: all}}},
		{"SEARCH CONTEXT", "a UID SEARCH RETURN (UPDATE CONTEXT COUNT PARTIAL 1:100) $\r\n",
			&Command{Tag: "a", Name: "SEARCH", UID: true, Args: &Search{Return: &SearchReturn{SearchOptions: imap.SearchOptions{ReturnCount: true},
				Update: true, Context: true, Partial: &Partial{Low: 1, High: 100}}, Criteria: imap.SearchCriteria{UID: []imap.UIDSet{imap.SearchRes()}}}}},
		{"SEARCH PARTIAL negative", "a SEARCH RETURN (PARTIAL -1:-100) ALL\r\n",
			&Command{Tag: "a", Name: "SEARCH", Args: &Search{Return: &SearchReturn{Partial: &Partial{Low: -1, High: -100}}, Criteria: all}}},
		{"SEARCH literal UTF-8", "a SEARCH CHARSET UTF-8 SUBJECT {8}\r\nHồ sơ\r\n",
			&Command{Tag: "a", Name: "SEARCH", Args: &Search{Charset: "UTF-8", Criteria: imap.SearchCriteria{
				Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "Hồ sơ"}}}}}},
		{"FETCH ALL", "a FETCH 1:* ALL\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{NumSet: imap.SeqSet{{Start: 1, Stop: 0}},
			Options: imap.FetchOptions{Flags: true, InternalDate: true, RFC822Size: true, Envelope: true}}}},
		{"FETCH FAST", "a FETCH 2 fast\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{NumSet: imap.SeqSet{{Start: 2, Stop: 2}},
			Options: imap.FetchOptions{Flags: true, InternalDate: true, RFC822Size: true}}}},
		{"FETCH FULL", "a FETCH * FULL\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{NumSet: imap.SeqSet{{Start: 0, Stop: 0}},
			Options: imap.FetchOptions{Flags: true, InternalDate: true, RFC822Size: true, Envelope: true, BodyStructure: &imap.FetchItemBodyStructure{}}}}},
		{"FETCH single att", "a FETCH 5:3 BODY[]\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{NumSet: imap.SeqSet{{Start: 3, Stop: 5}},
			Options: imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}}}},
		{"FETCH RFC822 forms", "a FETCH $ (RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE)\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{
			NumSet: imap.SearchRes(), RFC822: true, RFC822Header: true, RFC822Text: true, Options: imap.FetchOptions{RFC822Size: true}}}},
		{"FETCH sections", "a FETCH 1 (BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.10> BODY[1.2.TEXT] BODY[3.HEADER] BINARY.PEEK[1.2]<5.6> BINARY[] BINARY.SIZE[4])\r\n",
			&Command{Tag: "a", Name: "FETCH", Args: &Fetch{NumSet: imap.SeqSet{{Start: 1, Stop: 1}}, Options: imap.FetchOptions{
				BodySection: []*imap.FetchItemBodySection{
					{Peek: true, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"From", "To"}, Partial: &imap.SectionPartial{Offset: 0, Size: 10}},
					{Part: []int{1, 2}, Specifier: imap.PartSpecifierText},
					{Part: []int{3}, Specifier: imap.PartSpecifierHeader},
				},
				BinarySection:     []*imap.FetchItemBinarySection{{Part: []int{1, 2}, Peek: true, Partial: &imap.SectionPartial{Offset: 5, Size: 6}}, {}},
				BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{4}}},
			}}}},
		{"UID FETCH VANISHED", "a1 UID FETCH 1:* (FLAGS UID MODSEQ) (CHANGEDSINCE 12345 VANISHED)\r\n",
			&Command{Tag: "a1", Name: "FETCH", UID: true, Args: &Fetch{NumSet: imap.UIDSet{{Start: 1, Stop: 0}}, Vanished: true,
				Options: imap.FetchOptions{Flags: true, UID: true, ModSeq: true, ChangedSince: 12345}}}},
		{"STORE without parentheses", "a STORE 1 FLAGS \\seen \\Flagged $x\r\n",
			&Command{Tag: "a", Name: "STORE", Args: &Store{NumSet: imap.SeqSet{{Start: 1, Stop: 1}},
				Flags: imap.StoreFlags{Op: imap.StoreFlagsSet, Flags: []imap.Flag{imap.FlagSeen, imap.FlagFlagged, "$x"}}}}},
		{"STORE UNCHANGEDSINCE", "a UID STORE 1:3 (UNCHANGEDSINCE 0) -FLAGS.SILENT (\\Deleted)\r\n",
			&Command{Tag: "a", Name: "STORE", UID: true, Args: &Store{NumSet: imap.UIDSet{{Start: 1, Stop: 3}},
				Flags: imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, HasUnchangedSince: true}}},
		{"UID COPY $", "a UID COPY $ Trash\r\n", &Command{Tag: "a", Name: "COPY", UID: true, Args: &Copy{NumSet: imap.SearchRes(), Mailbox: "Trash"}}},
		{"SORT ESORT", "a UID SORT RETURN (MIN COUNT) (REVERSE ARRIVAL DISPLAYFROM DISPLAYTO CC TO SIZE FROM) UTF-8 UNDELETED SINCE 1-Feb-1994\r\n",
			&Command{Tag: "a", Name: "SORT", UID: true, Args: &Sort{
				Return: &SearchReturn{SearchOptions: imap.SearchOptions{ReturnMin: true, ReturnCount: true}},
				Criteria: []SortCriterion{{Key: SortArrival, Reverse: true}, {Key: SortDisplayFrom}, {Key: SortDisplayTo},
					{Key: SortCc}, {Key: SortTo}, {Key: SortSize}, {Key: SortFrom}},
				Charset: "UTF-8", Search: imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}, Since: mustTime("2-Jan-2006", "1-Feb-1994")}}}},
		{"THREAD ORDEREDSUBJECT", "a THREAD orderedsubject US-ASCII ALL\r\n",
			&Command{Tag: "a", Name: "THREAD", Args: &Thread{Algorithm: imap.ThreadOrderedSubject, Charset: "US-ASCII"}}},
		{"ID NIL", "a ID NIL\r\n", &Command{Tag: "a", Name: "ID", Args: &ID{}}},
		{"ID NIL value", "a ID (\"name\" NIL \"os\" \"linux\")\r\n",
			&Command{Tag: "a", Name: "ID", Args: &ID{Params: []IDParam{{Field: "name"}, {Field: "os", Value: ptr("linux")}}}}},
		{"SETQUOTA", "a SETQUOTA \"\" (STORAGE 512 message 100)\r\n", &Command{Tag: "a", Name: "SETQUOTA",
			Args: &Quota{Limits: []QuotaLimit{{Resource: "STORAGE", Limit: 512}, {Resource: "MESSAGE", Limit: 100}}}}},
		{"CANCELUPDATE", "a CANCELUPDATE \"A1\" \"A2\"\r\n", &Command{Tag: "a", Name: "CANCELUPDATE", Args: &CancelUpdate{Tags: []string{"A1", "A2"}}}},
		{"unknown command", "a XYZZY foo {3+}\r\nabc bar\r\n", &Command{Tag: "a", Name: "XYZZY", Args: &Unknown{}}},
		{"empty lines ignored", "\r\n\r\na NOOP\r\n", &Command{Tag: "a", Name: "NOOP"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := decodeAll(t, tc.in+"z NOOP\r\n", Limits{}, nil)
			if len(got) != 2 {
				t.Fatalf("got %d results, want 2: %v", len(got), got)
			}
			if !reflect.DeepEqual(got[0], tc.want) {
				t.Errorf("\n got %s\nwant %s", show(got[0]), show(tc.want))
			}
			if c, ok := got[1].(*Command); !ok || c.Tag != "z" || c.Name != "NOOP" {
				t.Errorf("next command: got %s, want z NOOP", show(got[1]))
			}
		})
	}
}

// TestDecodeErrors checks malformed commands: each gives a *SyntaxError
// with its tag at once, and the next command ("z NOOP") decodes as alone.
func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, in string
		tag      string
		code     string
		lim      Limits
		utf8     bool
		minus    bool
	}{
		{"unterminated quoted string", "a LIST \"\" \"foo\r\n", "a", "", Limits{}, false, false},
		{"bad mUTF-7 in CREATE", "a CREATE \"bad&mUTF7\"\r\n", "a", "CANNOT", Limits{}, false, false},
		{"mUTF-7 printable in run", "a CREATE \"&AGE-\"\r\n", "a", "CANNOT", Limits{}, false, false},
		{"mUTF-7 adjacent runs", "a CREATE \"&AOk-&AOk-\"\r\n", "a", "CANNOT", Limits{}, false, false},
		{"bad mUTF-7 in pattern", "a LIST \"\" \"&Jjo!\"\r\n", "a", "CANNOT", Limits{}, false, false},
		{"8-bit mailbox in a literal", "a CREATE {6}\r\nHồ sơ\r\n", "a", "", Limits{}, false, false},
		{"8-bit quoted mailbox without UTF8=ACCEPT", "a SELECT \"cán\"\r\n", "a", "", Limits{}, false, false},
		{"invalid UTF-8 quoted", "a LOGIN \"\xff\" x\r\n", "a", "", Limits{}, false, false},
		{"8-bit atom without UTF8=ACCEPT", "a SELECT Hồ\r\n", "a", "", Limits{}, false, false},
		{"invalid UTF-8 with UTF8=ACCEPT", "a SELECT \"\xff\"\r\n", "a", "", Limits{}, true, false},
		{"sync literal too big", "a LOGIN {99999999}\r\n", "a", "TOOBIG", Limits{}, false, false},
		{"APPEND too big", "a APPEND x {1001}\r\n", "a", "TOOBIG", Limits{MaxAppendLiteral: 1000}, false, false},
		{"non-sync literal too big, discarded", "a LOGIN {10+}\r\n0123456789 pass\r\n", "a", "TOOBIG", Limits{MaxLiteral: 5}, false, false},
		{"LITERAL- over 4096", "a APPEND x {5000+}\r\n" + strings.Repeat("x", 5000) + "\r\n", "a", "TOOBIG", Limits{}, false, true},
		{"error before a non-sync literal", "a LOGIN (x) {3+}\r\nabc\r\n", "a", "", Limits{}, false, false},
		{"unterminated string before non-sync literals", "a LOGIN \"x {3+}\r\nabc {2+}\r\nde\r\n", "a", "", Limits{}, false, false},
		{"line too long", "a NOOP " + strings.Repeat("x", 200) + "\r\n", "a", "", Limits{MaxLine: 100}, false, false},
		{"line too long, then literal", "a LOGIN " + strings.Repeat("x", 200) + " {3+}\r\nabc\r\n", "a", "", Limits{MaxLine: 100}, false, false},
		{"nesting 2000 deep", "a SEARCH " + strings.Repeat("(", 2000) + "ALL" + strings.Repeat(")", 2000) + "\r\n", "a", "", Limits{}, false, false},
		{"NOT 2000 deep", "a SEARCH " + strings.Repeat("NOT ", 2000) + "ALL\r\n", "a", "", Limits{}, false, false},
		{"too many ranges", "a FETCH " + strings.Repeat("1,", 20) + "1 FLAGS\r\n", "a", "", Limits{MaxItems: 10}, false, false},
		{"missing argument", "a SELECT\r\n", "a", "", Limits{}, false, false},
		{"trailing text", "a NOOP x\r\n", "a", "", Limits{}, false, false},
		{"no tag", "NOOP\r\n", "NOOP", "", Limits{}, false, false},
		{"bad tag", "+ NOOP\r\n", "", "", Limits{}, false, false},
		{"literal not at end", "a LOGIN {3}x\r\n", "a", "", Limits{}, false, false},
		{"literal8 outside APPEND", "a LOGIN ~{3}\r\n", "a", "", Limits{}, false, false},
		{"NUL in a literal", "a LOGIN {3+}\r\na\x00b x\r\n", "a", "", Limits{}, false, false},
		{"bad FETCH section", "a FETCH 1 (BODY[)\r\n", "a", "", Limits{}, false, false},
		{"BODY.PEEK without section", "a FETCH 1 BODY.PEEK\r\n", "a", "", Limits{}, false, false},
		{"VANISHED without UID", "a FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)\r\n", "a", "", Limits{}, false, false},
		{"zero sequence number", "a FETCH 0 FLAGS\r\n", "a", "", Limits{}, false, false},
		{"number overflow", "a FETCH 4294967296 FLAGS\r\n", "a", "", Limits{}, false, false},
		{"unknown search key", "a SEARCH FOO\r\n", "a", "", Limits{}, false, false},
		{"bad date", "a SEARCH SINCE 32-Feb-2024\r\n", "a", "", Limits{}, false, false},
		{"PARTIAL twice", "a SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL\r\n", "a", "", Limits{}, false, false},
		{"UPDATE twice", "a SORT RETURN (UPDATE UPDATE) (DATE) UTF-8 ALL\r\n", "a", "", Limits{}, false, false},
		{"PARTIAL star", "a SEARCH RETURN (PARTIAL 1:*) ALL\r\n", "a", "", Limits{}, false, false},
		{"unknown UID command", "a UID NOOP\r\n", "a", "", Limits{}, false, false},
		{"STORE \\*", "a STORE 1 FLAGS (\\*)\r\n", "a", "", Limits{}, false, false},
		{"ID field too long", "a ID (\"" + strings.Repeat("n", 31) + "\" NIL)\r\n", "a", "", Limits{}, false, false},
		{"bad base64", "a AUTHENTICATE PLAIN !!!\r\n", "a", "", Limits{}, false, false},
		{"command too long", "a LOGIN {50}\r\n" + strings.Repeat("x", 50) + " {50+}\r\n" + strings.Repeat("y", 50) + "\r\n", "a", "TOOBIG", Limits{MaxCommand: 80}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got, conts := decodeAll(t, tc.in+"z NOOP\r\n", tc.lim, func(d *Decoder) {
				d.SetUTF8Accept(tc.utf8)
				d.SetLiteralMinus(tc.minus)
			})
			if time.Since(start) > time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			if len(got) == 0 {
				t.Fatal("no result")
			}
			se, ok := got[0].(*SyntaxError)
			if !ok {
				t.Fatalf("got %s, want a syntax error", show(got[0]))
			}
			if se.Tag != tc.tag || se.Code != tc.code {
				t.Errorf("got tag %q code %q, want %q %q (%s)", se.Tag, se.Code, tc.tag, tc.code, se.Msg)
			}
			if se.Code == "TOOBIG" && conts > 0 && strings.Contains(tc.in, "{99999999}") {
				t.Errorf("continuation requested for a refused literal")
			}
			if se.Fatal {
				return
			}
			if len(got) != 2 {
				t.Fatalf("got %d results, want 2: %s …", len(got), show(got[len(got)-1]))
			}
			if c, ok := got[1].(*Command); !ok || c.Tag != "z" || c.Name != "NOOP" {
				t.Errorf("next command: got %s, want z NOOP", show(got[1]))
			}
		})
	}
}

// TestRefusedLiteralNoContinuation checks the continuation callback runs
// before an accepted synchronizing literal and never for a refused one.
func TestRefusedLiteralNoContinuation(t *testing.T) {
	_, conts := decodeAll(t, "a LOGIN {99999999}\r\n", Limits{}, nil)
	if conts != 0 {
		t.Errorf("refused literal: got %d continuations, want 0", conts)
	}
	_, conts = decodeAll(t, "a LOGIN {1}\r\nx {1}\r\ny\r\n", Limits{}, nil)
	if conts != 2 {
		t.Errorf("accepted literals: got %d continuations, want 2", conts)
	}
	_, conts = decodeAll(t, "a LOGIN {1+}\r\nx {1+}\r\ny\r\n", Limits{}, nil)
	if conts != 0 {
		t.Errorf("non-synchronizing literals: got %d continuations, want 0", conts)
	}
}

// TestWildcardPattern: a pattern of 3000 "%" decodes at once (matching it
// is the server's business).
func TestWildcardPattern(t *testing.T) {
	pat := strings.Repeat("%", 3000) + "x"
	start := time.Now()
	got, _ := decodeAll(t, "a LIST \"\" \""+pat+"\"\r\n", Limits{}, nil)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("took %v", d)
	}
	if len(got) != 1 {
		t.Fatalf("got %d results", len(got))
	}
	c, ok := got[0].(*Command)
	if !ok || c.Args.(*List).Patterns[0] != pat {
		t.Errorf("got %s", show(got[0]))
	}
}

// TestUTF8Accept: with UTF8=ACCEPT on, raw UTF-8 names and quoted strings
// are accepted and taken verbatim.
func TestUTF8Accept(t *testing.T) {
	got, _ := decodeAll(t, "a CREATE \"Hồ sơ/&AOk-\"\r\nb LOGIN cán.bộ \"mật khẩu\"\r\n", Limits{}, func(d *Decoder) { d.SetUTF8Accept(true) })
	want := []any{
		&Command{Tag: "a", Name: "CREATE", Args: &Create{Mailbox: "Hồ sơ/&AOk-"}},
		&Command{Tag: "b", Name: "LOGIN", Args: &Login{Username: "cán.bộ", Password: "mật khẩu"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSASLAndDone(t *testing.T) {
	d := NewDecoder(bufio.NewReader(strings.NewReader("AHUAcA==\r\n*\r\n!!\r\ndone\r\nDONX\r\n")), Limits{}, nil)
	if b, err := d.ReadSASLResponse(); err != nil || string(b) != "\x00u\x00p" {
		t.Errorf("got %q, %v", b, err)
	}
	if _, err := d.ReadSASLResponse(); !errors.Is(err, ErrSASLCancelled) {
		t.Errorf("got %v, want ErrSASLCancelled", err)
	}
	var se *SyntaxError
	if _, err := d.ReadSASLResponse(); !errors.As(err, &se) {
		t.Errorf("got %v, want a syntax error", err)
	}
	if err := d.ReadDone(); err != nil {
		t.Errorf("DONE: %v", err)
	}
	if err := d.ReadDone(); !errors.As(err, &se) {
		t.Errorf("got %v, want a syntax error", err)
	}
}

func TestEOF(t *testing.T) {
	for _, in := range []string{"", "a NOOP", "a LOGIN {5}\r\nab", "a LOGIN \"x"} {
		d := NewDecoder(bufio.NewReader(strings.NewReader(in)), Limits{}, nil)
		_, err := d.Next()
		if in == "" && !errors.Is(err, io.EOF) || in != "" && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: got %v", in, err)
		}
	}
}

func TestMUTF7(t *testing.T) {
	for _, s := range []string{"", "INBOX", "a&b", "Lưu trữ", "日本語", "😀 x", "&&", "~/&-"} {
		enc := EncodeMUTF7(s)
		dec, err := DecodeMUTF7(enc)
		if err != nil || dec != s {
			t.Errorf("%q: encoded %q, decoded %q, %v", s, enc, dec, err)
		}
	}
	for _, bad := range []string{"&", "&Jjo", "&AGE-", "&AOk-&AOk-", "&2D3-", "&AOk", "é", "&AOl-"} {
		if got, err := DecodeMUTF7(bad); err == nil {
			t.Errorf("%q: decoded to %q, want an error", bad, got)
		}
	}
}

// TestNoReadAhead checks the decoder answers from what the client has
// sent, without waiting for more: the connection stays open after each
// input, as a real client's would.
func TestNoReadAhead(t *testing.T) {
	for _, tc := range []struct{ name, in, code string }{
		{"unterminated quoted string", "a LIST \"\" \"foo\r\n", ""},
		{"refused synchronizing literal", "a LOGIN {99999999}\r\n", "TOOBIG"},
		{"refused non-synchronizing literal after its octets", "a LOGIN {70000+}\r\n" + strings.Repeat("x", 70000) + " y\r\n", "TOOBIG"},
		{"bad mUTF-7", "a CREATE \"bad&mUTF7\"\r\n", "CANNOT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pw.Close()
			go pw.Write([]byte(tc.in))
			d := NewDecoder(bufio.NewReader(pr), Limits{}, func() error { t.Error("continuation requested"); return nil })
			done := make(chan error, 1)
			go func() { _, err := d.Next(); done <- err }()
			select {
			case err := <-done:
				var se *SyntaxError
				if !errors.As(err, &se) || se.Tag != "a" || se.Code != tc.code {
					t.Errorf("got %v, want a syntax error for a with code %q", err, tc.code)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("the decoder waits for more input")
			}
			go pw.Write([]byte("b NOOP\r\n"))
			go func() { _, err := d.Next(); done <- err }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("next command: %v", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("the next command was not decoded")
			}
		})
	}
}

func TestSearchSmallerZero(t *testing.T) {
	got, _ := decodeAll(t, "a SEARCH SMALLER 0\r\n", Limits{}, nil)
	want := &Command{Tag: "a", Name: "SEARCH", Args: &Search{Criteria: imap.SearchCriteria{Not: []imap.SearchCriteria{{}}}}}
	if !reflect.DeepEqual(got, []any{want}) {
		t.Errorf("got %s, want %s", show(got[0]), show(want))
	}
}
