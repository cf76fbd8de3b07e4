package wire

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func encode(utf8 bool, f func(e *Encoder)) string {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	e := NewEncoder(bw)
	e.SetUTF8Accept(utf8)
	f(e)
	if err := e.Flush(); err != nil {
		panic(err)
	}
	return buf.String()
}

func TestEncoderBytes(t *testing.T) {
	cases := []struct {
		name string
		f    func(e *Encoder)
		want string
	}{
		{"tagged OK with code", func(e *Encoder) { e.Status("a1", "OK", "APPENDUID 38505 3955", "APPEND completed") },
			"a1 OK [APPENDUID 38505 3955] APPEND completed\r\n"},
		{"BAD without text", func(e *Encoder) { e.Status("*", "BAD", "", "") }, "* BAD BAD\r\n"},
		{"CRLF in text", func(e *Encoder) { e.Status("a", "NO", "TOOBIG", "x\r\ny") }, "a NO [TOOBIG] x  y\r\n"},
		{"continuation", func(e *Encoder) { e.Continue("Ready") }, "+ Ready\r\n"},
		{"empty continuation", func(e *Encoder) { e.Continue("") }, "+ \r\n"},
		{"untagged list", func(e *Encoder) {
			e.Untagged().Number(3).SP().Atom("FETCH").SP().Open().Atom("FLAGS").SP().Flags([]imap.Flag{imap.FlagSeen, "$x"}).
				SP().Atom("MODSEQ").SP().Open().Number64(1 << 40).Close().SP().Atom("BODY[]").SP().NIL().Close().CRLF()
		}, "* 3 FETCH (FLAGS (\\Seen $x) MODSEQ (1099511627776) BODY[] NIL)\r\n"},
		{"quoted escapes", func(e *Encoder) { e.String(`a"b\c`) }, `"a\"b\\c"`},
		{"literal for CRLF", func(e *Encoder) { e.String("a\r\nb") }, "{4}\r\na\r\nb"},
		{"literal for 8-bit", func(e *Encoder) { e.String("Hồ") }, "{4}\r\nHồ"},
		{"quoted UTF-8 under UTF8=ACCEPT", func(e *Encoder) { e.String("Hồ") }, `"Hồ"`},
		{"literal8 for NUL", func(e *Encoder) { e.Literal([]byte("a\x00")) }, "~{2}\r\na\x00"},
		{"NString nil", func(e *Encoder) { e.NString(nil) }, "NIL"},
		{"mailbox mUTF-7", func(e *Encoder) { e.Mailbox("Lưu trữ & x") }, `"L&AbA-u tr&Hu8- &- x"`},
		{"mailbox UTF-8", func(e *Encoder) { e.Mailbox("Lưu trữ") }, `"Lưu trữ"`},
		{"mailbox inbox", func(e *Encoder) { e.Mailbox("inbox") }, "INBOX"},
		{"sequence set", func(e *Encoder) { e.NumSet(imap.SeqSet{{Start: 1, Stop: 3}, {Start: 5, Stop: 0}}) }, "1:3,5:*"},
		{"search result", func(e *Encoder) { e.NumSet(imap.SearchRes()) }, "$"},
		{"list", func(e *Encoder) { e.List(3, func(i int) { e.Number(uint32(i)) }) }, "(0 1 2)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := encode(strings.Contains(tc.name, "UTF8") || strings.HasSuffix(tc.name, "UTF-8"), tc.f)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEncoderRoundTrip writes values with the encoder into command lines
// and reads them back with the decoder.
func TestEncoderRoundTrip(t *testing.T) {
	strs := []string{"", "x", "a b", `q"\`, "a\r\nb", strings.Repeat("y", 2000), "Hồ sơ", "tab\there", "{3}", "NIL", "]"}
	names := []string{"INBOX", "Lưu trữ", "a&b", "日本/語", "&-", "Sent Items", "~x"}
	for _, utf8 := range []bool{false, true} {
		for _, s := range strs {
			line := encode(utf8, func(e *Encoder) { e.Atom("a LOGIN ").String(s).SP().String(s).CRLF() })
			got, _ := decodeAll(t, line, Limits{}, func(d *Decoder) { d.SetUTF8Accept(utf8) })
			if len(got) != 1 {
				t.Fatalf("%q: got %v", s, got)
			}
			c, ok := got[0].(*Command)
			if !ok || c.Args.(*Login).Username != s || c.Args.(*Login).Password != s {
				t.Errorf("utf8=%v %q: got %s", utf8, s, show(got[0]))
			}
		}
		for _, n := range names {
			line := encode(utf8, func(e *Encoder) { e.Atom("a CREATE ").Mailbox(n).CRLF() })
			got, _ := decodeAll(t, line, Limits{}, func(d *Decoder) { d.SetUTF8Accept(utf8) })
			if c, ok := got[0].(*Command); !ok || c.Args.(*Create).Mailbox != n {
				t.Errorf("utf8=%v %q: %q gave %s", utf8, n, line, show(got[0]))
			}
		}
	}
	flags := []imap.Flag{imap.FlagSeen, imap.FlagDeleted, "$Forwarded", "NonJunk"}
	set := imap.SeqSet{{Start: 1, Stop: 3}, {Start: 7, Stop: 7}, {Start: 9, Stop: 0}}
	line := encode(false, func(e *Encoder) { e.Atom("a STORE ").NumSet(set).Atom(" FLAGS ").Flags(flags).CRLF() })
	got, _ := decodeAll(t, line, Limits{}, nil)
	want := &Command{Tag: "a", Name: "STORE", Args: &Store{NumSet: set, Flags: imap.StoreFlags{Flags: flags}}}
	if c, ok := got[0].(*Command); !ok || show(c) != show(want) {
		t.Errorf("got %s, want %s", show(got[0]), show(want))
	}
	msg := []byte("bin\x00ary\r\n")
	line = encode(false, func(e *Encoder) { e.Atom("a APPEND x ").Literal(msg).CRLF() })
	got, _ = decodeAll(t, line, Limits{}, nil)
	if c, ok := got[0].(*Command); !ok || !bytes.Equal(c.Args.(*Append).Messages[0].Literal, msg) || !c.Args.(*Append).Messages[0].Binary {
		t.Errorf("literal8: got %s", show(got[0]))
	}
}
