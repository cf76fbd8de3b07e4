package wire

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
)

// maxQuoted is the longest string the encoder writes quoted; longer ones
// go as literals.
const maxQuoted = 1024

// Encoder writes server responses. Its methods chain and remember the
// first write error, which Err and Flush return. It is not safe for
// concurrent use.
type Encoder struct {
	w   *bufio.Writer
	err error
	// utf8 is RFC 6855 UTF8=ACCEPT: mailbox names and quoted strings in
	// UTF-8.
	utf8 bool
}

// NewEncoder returns an encoder writing to w.
func NewEncoder(w *bufio.Writer) *Encoder { return &Encoder{w: w} }

// SetUTF8Accept makes mailbox names go out in UTF-8 rather than modified
// UTF-7, and lets quoted strings carry UTF-8 (RFC 6855 section 3).
func (e *Encoder) SetUTF8Accept(on bool) { e.utf8 = on }

func (e *Encoder) write(s string) *Encoder {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
	return e
}

func (e *Encoder) writeBytes(b []byte) *Encoder {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
	return e
}

// Err returns the first write error.
func (e *Encoder) Err() error { return e.err }

// Flush flushes the writer and returns the first error.
func (e *Encoder) Flush() error {
	if e.err == nil {
		e.err = e.w.Flush()
	}
	return e.err
}

// Status writes a complete status response and its CRLF: tag (or "*" for
// untagged) SP kind (OK, NO, BAD, PREAUTH, BYE) [SP "[" code "]"] SP text
// (RFC 9051 section 7.1). code may carry arguments ("APPENDUID 1 2").
// CR and LF in text are replaced by spaces.
func (e *Encoder) Status(tag, kind, code, text string) *Encoder {
	e.write(tag).SP().write(kind).SP()
	if code != "" {
		e.write("[").write(code).write("] ")
	}
	if text == "" {
		text = kind // resp-text needs text
	}
	return e.write(strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, text)).CRLF()
}

// Untagged starts an untagged response, "* ".
func (e *Encoder) Untagged() *Encoder { return e.write("* ") }

// Continue writes a continuation request "+ text" and its CRLF.
func (e *Encoder) Continue(text string) *Encoder {
	if text == "" {
		return e.write("+ ").CRLF()
	}
	return e.write("+ ").write(text).CRLF()
}

// CRLF ends the response line.
func (e *Encoder) CRLF() *Encoder { return e.write("\r\n") }

// SP writes a space.
func (e *Encoder) SP() *Encoder { return e.write(" ") }

// Atom writes s as it is; the caller makes sure it is an atom (or a
// keyword such as "FETCH" or "BODY[1.2]").
func (e *Encoder) Atom(s string) *Encoder { return e.write(s) }

// Number writes a decimal number.
func (e *Encoder) Number(n uint32) *Encoder { return e.write(strconv.FormatUint(uint64(n), 10)) }

// Number64 writes a decimal number of up to 64 bits (mod-sequences, sizes).
func (e *Encoder) Number64(n uint64) *Encoder { return e.write(strconv.FormatUint(n, 10)) }

// NIL writes NIL.
func (e *Encoder) NIL() *Encoder { return e.write("NIL") }

// Open and Close write the parentheses of a list.
func (e *Encoder) Open() *Encoder { return e.write("(") }

// Close ends a list opened with Open.
func (e *Encoder) Close() *Encoder { return e.write(")") }

// List writes "(" item(0) SP item(1) ... ")".
func (e *Encoder) List(n int, item func(i int)) *Encoder {
	e.Open()
	for i := range n {
		if i > 0 {
			e.SP()
		}
		item(i)
	}
	return e.Close()
}

// String writes s quoted when that is safe (no CR, LF or NUL, 7-bit or
// UTF-8 under UTF8=ACCEPT, at most 1024 octets), as a literal otherwise,
// and as a literal8 when it holds NUL (RFC 3516).
func (e *Encoder) String(s string) *Encoder {
	if e.quotable(s) {
		return e.quoted(s)
	}
	return e.Literal([]byte(s))
}

// NString writes a string, or NIL for nil.
func (e *Encoder) NString(s *string) *Encoder {
	if s == nil {
		return e.NIL()
	}
	return e.String(*s)
}

func (e *Encoder) quotable(s string) bool {
	if len(s) > maxQuoted {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0 || c == '\r' || c == '\n':
			return false
		case c >= 0x80 && !e.utf8:
			return false
		}
	}
	return !e.utf8 || utf8.ValidString(s)
}

func (e *Encoder) quoted(s string) *Encoder {
	e.write(`"`)
	for {
		i := strings.IndexAny(s, `"\`)
		if i < 0 {
			break
		}
		e.write(s[:i]).write(`\`).write(s[i : i+1])
		s = s[i+1:]
	}
	return e.write(s).write(`"`)
}

// Literal writes b as a literal "{n}" CRLF data, or as a literal8 "~{n}"
// when it holds NUL.
func (e *Encoder) Literal(b []byte) *Encoder {
	if bytes.IndexByte(b, 0) >= 0 {
		e.write("~")
	}
	return e.write("{").write(strconv.Itoa(len(b))).write("}\r\n").writeBytes(b)
}

// Mailbox writes a mailbox name given in UTF-8: in modified UTF-7 unless
// UTF8=ACCEPT is on.
func (e *Encoder) Mailbox(name string) *Encoder {
	if strings.EqualFold(name, "INBOX") {
		return e.write("INBOX")
	}
	if !e.utf8 {
		name = EncodeMUTF7(name)
	}
	return e.String(name)
}

// Flag writes a flag.
func (e *Encoder) Flag(f imap.Flag) *Encoder { return e.write(string(f)) }

// Flags writes a parenthesised flag list.
func (e *Encoder) Flags(flags []imap.Flag) *Encoder {
	return e.List(len(flags), func(i int) { e.Flag(flags[i]) })
}

// NumSet writes a sequence set, "$" for imap.SearchRes().
func (e *Encoder) NumSet(set imap.NumSet) *Encoder { return e.write(set.String()) }

// Literal8 writes b as a literal8 "~{n}" CRLF data (RFC 3516), as BINARY
// answers are sent whether or not they hold NUL.
func (e *Encoder) Literal8(b []byte) *Encoder {
	return e.write("~{").write(strconv.Itoa(len(b))).write("}\r\n").writeBytes(b)
}

// Reset makes the encoder write to w, forgetting any error, keeping
// UTF8=ACCEPT. A server may so lend a connection a pooled buffer only
// while it writes.
func (e *Encoder) Reset(w *bufio.Writer) {
	e.w, e.err = w, nil
}
