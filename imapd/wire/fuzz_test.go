package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzLimits are small so that the fuzzer reaches them.
var fuzzLimits = Limits{MaxLine: 512, MaxLiteral: 256, MaxAppendLiteral: 2048, MaxDepth: 20, MaxItems: 50, MaxCommand: 8192}

// countingReader counts what the decoder's bufio.Reader takes.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// fuzzDecode decodes a whole stream and checks each step. It returns the
// results and whether the stream ended cleanly between commands.
func fuzzDecode(t *testing.T, data []byte, utf8, minus bool) ([]any, bool) {
	cr := &countingReader{r: bytes.NewReader(data)}
	br := bufio.NewReaderSize(cr, 4096)
	d := NewDecoder(br, fuzzLimits, func() error { return nil })
	d.SetUTF8Accept(utf8)
	d.SetLiteralMinus(minus)
	var out []any
	for i := 0; ; i++ {
		before := cr.n - int64(br.Buffered())
		start := time.Now()
		cmd, err := d.Next()
		if el := time.Since(start); el > time.Second {
			t.Fatalf("one command took %v", el)
		}
		used := cr.n - int64(br.Buffered()) - before
		// A command reads at most MaxCommand octets (the last line read
		// may overshoot by one bufio chunk before the check fires).
		if used > fuzzLimits.MaxCommand+4096 {
			t.Fatalf("one command consumed %d octets", used)
		}
		if len(d.line) > fuzzLimits.MaxLine+2+64 {
			t.Fatalf("line buffer of %d octets", len(d.line))
		}
		var se *SyntaxError
		switch {
		case err == nil:
			if cmd == nil || cmd.Tag == "" || cmd.Name == "" {
				t.Fatalf("empty command %#v", cmd)
			}
			checkLiterals(t, cmd)
			out = append(out, cmd)
		case errors.As(err, &se):
			if se.Msg == "" {
				t.Fatal("syntax error without a message")
			}
			out = append(out, se)
			if se.Fatal {
				return out, false
			}
		case errors.Is(err, io.EOF):
			return out, true
		case errors.Is(err, io.ErrUnexpectedEOF):
			return out, false
		default:
			t.Fatalf("unexpected error %v", err)
		}
		if used == 0 {
			t.Fatal("Next consumed nothing")
		}
	}
}

func checkLiterals(t *testing.T, cmd *Command) {
	if a, ok := cmd.Args.(*Append); ok {
		for _, m := range a.Messages {
			if int64(len(m.Literal)) > fuzzLimits.MaxAppendLiteral {
				t.Fatalf("APPEND literal of %d octets", len(m.Literal))
			}
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder as a client stream: it
// never panics, every result is a command or a *SyntaxError, no command
// reads past the limits, and a stream that ends between commands, when a
// command follows on a later line, gives the same results and then that
// command, decoded as it would be alone.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"a NOOP\r\n",
		"a LOGIN {3}\r\nabc \"p\"\r\n",
		"a LOGIN {3+}\r\nabc {1+}\r\nd\r\n",
		"a LIST \"\" \"foo\r\nb NOOP\r\n",
		"a CREATE \"bad&mUTF7\"\r\n",
		"a SELECT INBOX (QRESYNC (1 2 1:5 (1,3 4,6)))\r\n",
		"a1 UID FETCH 1:* (FLAGS UID MODSEQ BODY.PEEK[HEADER.FIELDS (From)]<0.5>) (CHANGEDSINCE 12345 VANISHED)\r\n",
		"a APPEND x (\\Seen) \" 5-Mar-2024 08:09:10 +0700\" {3+}\r\nabc ~{2+}\r\nd\x00 UTF8 (~{1+}\r\ne)\r\n",
		"a SEARCH RETURN (MIN PARTIAL 1:5) CHARSET UTF-8 OR NOT (SEEN FROM x) UID 1:* MODSEQ \"/flags/\\\\seen\" all 5\r\n",
		"a UID SORT RETURN (ALL) (REVERSE DATE DISPLAYFROM) UTF-8 ALL\r\n",
		"a UID SORT RETURN (UPDATE PARTIAL 4:2) (SUBJECT) UTF-8 UNSEEN\r\nb CANCELUPDATE \"a\" \"x\"\r\n",
		"a SEARCH RETURN (UPDATE PARTIAL -1:-9 PARTIAL 1:2) ALL\r\n",
		"a THREAD REFERENCES UTF-8 SINCE 1-Feb-2024\r\n",
		"a LIST (SUBSCRIBED) \"\" (\"%\" \"*\") RETURN (STATUS (MESSAGES))\r\n",
		"a ID (\"name\" NIL)\r\na STORE 1 +FLAGS.SILENT (\\Deleted)\r\n",
		"a XYZ {3+}\r\nabc\r\n",
		"a LOGIN {99999}\r\nb NOOP\r\n",
		"a SEARCH ((((((((((((((((((((((((ALL))))))))))))))))))))))))\r\n",
	} {
		f.Add([]byte(s), false, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, utf8, minus bool) {
		out, clean := fuzzDecode(t, data, utf8, minus)
		if !clean {
			return
		}
		more := append(append([]byte{}, data...), "zz9 NOOP\r\n"...)
		out2, _ := fuzzDecode(t, more, utf8, minus)
		if len(out2) != len(out)+1 || (len(out) > 0 && !reflect.DeepEqual(out2[:len(out)], out)) {
			t.Fatalf("appending a command changed what came before:\n%v\n%v", out, out2)
		}
		if c, ok := out2[len(out)].(*Command); !ok || c.Tag != "zz9" || c.Name != "NOOP" || c.Args != nil {
			t.Fatalf("the command after: got %v", out2[len(out)])
		}
	})
}

// FuzzMUTF7: decoding never panics, what decodes encodes back to the same
// octets (the strict decoder accepts only the one canonical form), and
// every UTF-8 name survives encoding and decoding.
func FuzzMUTF7(f *testing.F) {
	for _, s := range []string{"INBOX", "L&AbA-u tr&Hu8-", "&-", "&2D3eAA-", "Hồ sơ", "&AOk-x&AOk-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if dec, err := DecodeMUTF7(s); err == nil {
			if enc := EncodeMUTF7(dec); enc != s {
				t.Fatalf("%q decodes to %q, which encodes to %q", s, dec, enc)
			}
		}
		if utf8.ValidString(s) {
			enc := EncodeMUTF7(s)
			if dec, err := DecodeMUTF7(enc); err != nil || dec != s {
				t.Fatalf("%q encodes to %q, which decodes to %q, %v", s, enc, dec, err)
			}
		}
	})
}
