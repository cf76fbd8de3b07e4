package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Defaults of the Limits fields.
const (
	DefaultMaxLine           = 64 << 10
	DefaultMaxAppendLiteral  = 25 << 20
	DefaultMaxLiteral        = 64 << 10
	DefaultMaxDepth          = 50
	DefaultMaxItems          = 10000
	DefaultMaxAppendMessages = 1000
	DefaultMaxCommand        = 64 << 20

	// literalMinusMax is the largest non-synchronizing literal a LITERAL-
	// server accepts (RFC 7888 section 4).
	literalMinusMax = 4096
)

// Limits bound what one command may cost. A zero field takes its default.
type Limits struct {
	// MaxLine is the longest line, CRLF and literal data excluded.
	MaxLine int
	// MaxAppendLiteral is the largest message literal of APPEND (the
	// message size limit, RFC 7889 APPENDLIMIT).
	MaxAppendLiteral int64
	// MaxLiteral is the largest literal anywhere else (names, passwords,
	// search strings).
	MaxLiteral int64
	// MaxDepth is the deepest nesting of parenthesised lists and of search
	// keys (NOT, OR and parentheses).
	MaxDepth int
	// MaxItems is the most ranges in one sequence set and the most items in
	// one list or search program.
	MaxItems int
	// MaxAppendMessages is the most messages in one APPEND (RFC 3502
	// MULTIAPPEND).
	MaxAppendMessages int
	// MaxCommand is the most octets one command may span, lines and
	// literals together.
	MaxCommand int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultMaxLine
	}
	if l.MaxAppendLiteral <= 0 {
		l.MaxAppendLiteral = DefaultMaxAppendLiteral
	}
	if l.MaxLiteral <= 0 {
		l.MaxLiteral = DefaultMaxLiteral
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxItems <= 0 {
		l.MaxItems = DefaultMaxItems
	}
	if l.MaxAppendMessages <= 0 {
		l.MaxAppendMessages = DefaultMaxAppendMessages
	}
	if l.MaxCommand <= 0 {
		l.MaxCommand = DefaultMaxCommand
	}
	return l
}

// SyntaxError is a command the decoder refused. Its Msg is short and fit
// to follow "BAD" (or "NO" when Code is TOOBIG and the caller prefers it).
type SyntaxError struct {
	// Tag is the command's tag, empty when none could be read (the caller
	// answers with the untagged "* BAD").
	Tag string
	// Msg says what was wrong, without the offending bytes.
	Msg string
	// Code is a response code for the answer: "TOOBIG" for a refused
	// literal, "CANNOT" for a mailbox name or pattern that is not valid
	// modified UTF-7 (the caller may answer NO [CANNOT], as the name
	// names no mailbox), empty otherwise.
	Code string
	// Command is the command's name in upper case, when it was read.
	Command string
	// Fatal means the decoder could not find the start of the next
	// command (a refused non-synchronizing literal too large to discard):
	// the caller answers, then closes the connection.
	Fatal bool
}

func (e *SyntaxError) Error() string {
	if e.Code != "" {
		return "imap syntax: [" + e.Code + "] " + e.Msg
	}
	return "imap syntax: " + e.Msg
}

// ErrSASLCancelled is what ReadSASLResponse returns when the client
// cancels the exchange with "*" (RFC 9051 section 6.2.2).
var ErrSASLCancelled = errors.New("imap: authentication cancelled by the client")

// ioError carries a read error through the parser's panics.
type ioError struct{ err error }

// Decoder reads IMAP commands from a client. It is not safe for
// concurrent use.
type Decoder struct {
	r    *bufio.Reader
	lim  Limits
	cont func() error

	utf8Accept   bool
	literalMinus bool

	line []byte // the current line, CRLF excluded
	pos  int
	// litDone is set once the literal announced at the end of the
	// current line has been dealt with (read, or refused without a
	// continuation).
	litDone bool
	total   int64 // octets of the current command so far
	depth   int
	tag     string
	name    string // the command's name once read
	head    []byte // the first octets of a line too long to keep
}

// NewDecoder returns a decoder reading from r. cont is called before the
// data of every accepted synchronizing literal; it must write a
// continuation request ("+ Ready") and flush it. It is never called for a
// refused literal.
func NewDecoder(r *bufio.Reader, lim Limits, cont func() error) *Decoder {
	return &Decoder{r: r, lim: lim.withDefaults(), cont: cont}
}

// SetUTF8Accept turns RFC 6855 UTF8=ACCEPT on or off: when on, quoted
// strings, atoms and mailbox names may carry UTF-8; when off, 8-bit
// octets outside literals are a syntax error, and so are 8-bit mailbox
// names in any form. The caller turns it on after "ENABLE UTF8=ACCEPT".
func (d *Decoder) SetUTF8Accept(on bool) { d.utf8Accept = on }

// SetLiteralMinus gives non-synchronizing literals RFC 7888 LITERAL-
// semantics (at most 4096 octets) instead of LITERAL+ (any size within
// the limits).
func (d *Decoder) SetLiteralMinus(on bool) { d.literalMinus = on }

// Limits returns the limits in force, defaults filled in.
func (d *Decoder) Limits() Limits { return d.lim }

// Next reads the next command. Its error is a *SyntaxError for a
// malformed command (the rest of that command has been consumed and the
// next call starts on the next command unless the error is Fatal), or the
// reader's error (io.EOF when the client has gone between commands).
func (d *Decoder) Next() (cmd *Command, err error) {
	d.line, d.pos, d.total, d.depth, d.tag, d.name = d.line[:0], 0, 0, 0, "", ""
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		switch e := r.(type) {
		case *SyntaxError:
			e.Tag, e.Command = d.tag, d.name
			cmd, err = nil, e
			if !e.Fatal {
				if ferr := d.skipRest(); ferr != nil {
					if se, ok := ferr.(*SyntaxError); ok {
						se.Tag = d.tag
						err = se
					} else {
						err = ferr
					}
				}
			}
		case ioError:
			cmd, err = nil, e.err
		default:
			panic(r)
		}
	}()
	for {
		if err := d.readLine(); err != nil {
			if se, ok := err.(*SyntaxError); ok {
				d.tag = headTag(d.head)
				panic(se)
			}
			return nil, err
		}
		if len(d.line) > 0 {
			break
		}
		// An empty line between commands is ignored; it still counts
		// towards MaxCommand, so a stream of them ends in an error.
	}
	return d.command(), nil
}

// ReadSASLResponse reads one client line of an AUTHENTICATE exchange
// (RFC 9051 section 6.2.2) and returns it base64-decoded; "*" gives
// ErrSASLCancelled, and a line that is not base64 a *SyntaxError.
func (d *Decoder) ReadSASLResponse() ([]byte, error) {
	d.line, d.pos, d.total = d.line[:0], 0, 0
	if err := d.readLine(); err != nil {
		return nil, err
	}
	s := string(d.line)
	if s == "*" {
		return nil, ErrSASLCancelled
	}
	b, err := decodeBase64(s)
	if err != nil {
		return nil, &SyntaxError{Msg: "invalid base64"}
	}
	return b, nil
}

// ReadDone reads the line that ends IDLE (RFC 2177): "DONE" in any case,
// or a *SyntaxError for anything else.
func (d *Decoder) ReadDone() error {
	d.line, d.pos, d.total = d.line[:0], 0, 0
	if err := d.readLine(); err != nil {
		return err
	}
	if !strings.EqualFold(string(d.line), "DONE") {
		return &SyntaxError{Msg: "expected DONE"}
	}
	return nil
}

// readLine reads one line into d.line (replacing it), without its CRLF.
// A bare LF ends a line too. A line longer than MaxLine is consumed to its
// end and reported as a *SyntaxError, with any non-synchronizing literal
// it announces discarded.
func (d *Decoder) readLine() error {
	d.line, d.pos, d.litDone = d.line[:0], 0, false
	var tail []byte // the last octets of a line too long to keep
	long := false
	d.head = d.head[:0]
	for {
		chunk, err := d.r.ReadSlice('\n')
		d.total += int64(len(chunk))
		if !long && len(d.line)+len(chunk) > d.lim.MaxLine+2 {
			long = true
			// Keep the start, where the tag is.
			d.head = append(append(d.head[:0], d.line...), chunk...)
			d.head = d.head[:min(len(d.head), 64)]
			d.line = d.line[:0]
		}
		if long {
			tail = append(tail, chunk...)
			if len(tail) > 64 {
				tail = append(tail[:0], tail[len(tail)-64:]...)
			}
		} else {
			d.line = append(d.line, chunk...)
		}
		if d.total > d.lim.MaxCommand {
			// Stop reading: the rest of this line is not ours to wait for.
			d.line, d.pos = d.line[:0], 0
			return &SyntaxError{Msg: "command too long", Code: "TOOBIG", Fatal: true}
		}
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && (len(d.line) > 0 || long):
			return io.ErrUnexpectedEOF
		default:
			return err
		}
		break
	}
	if long {
		// Keep the tail: skipRest looks there for a literal to discard.
		d.line = append(d.line[:0], trimEOL(tail)...)
		d.pos = len(d.line)
		return &SyntaxError{Msg: "line too long"}
	}
	d.line = trimEOL(d.line)
	return nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// literalSuffix reports whether line ends with a literal announcement
// "{n}" or "{n+}" (with or without the "~" of literal8).
func literalSuffix(line []byte) (n int64, sync, ok bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false, false
	}
	num := line[i+1 : len(line)-1]
	sync = true
	if len(num) > 0 && num[len(num)-1] == '+' {
		sync = false
		num = num[:len(num)-1]
	}
	if len(num) == 0 || len(num) > 19 {
		return 0, false, false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return 0, false, false
	}
	return n, sync, true
}

// skipRest consumes what is left of a refused command: the rest of its
// line and, while that line ends with a non-synchronizing literal the
// client sends regardless (RFC 7888 section 4), the literal and the line
// after it. A synchronizing literal at the end needs no skipping: the
// client waits for a continuation that never comes and reads the answer.
func (d *Decoder) skipRest() (err error) {
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case *SyntaxError:
				err = e
			case ioError:
				err = e.err
			default:
				panic(r)
			}
		}
	}()
	for {
		// The whole line counts, not only what follows the error: an
		// unterminated string may have run over the announcement.
		if d.litDone {
			d.pos = len(d.line)
			return nil
		}
		n, sync, ok := literalSuffix(d.line)
		if !ok || sync {
			d.pos = len(d.line)
			return nil
		}
		if n > d.lim.MaxAppendLiteral || d.total+n > d.lim.MaxCommand {
			return &SyntaxError{Msg: "literal too big", Code: "TOOBIG", Fatal: true}
		}
		m, err := io.CopyN(io.Discard, d.r, n)
		d.total += m
		if err != nil {
			return ioError{noEOF(err)}.err
		}
		if err := d.readLine(); err != nil {
			if se, ok := err.(*SyntaxError); ok && se.Fatal {
				return se
			}
			if _, ok := err.(*SyntaxError); !ok {
				return noEOF(err)
			}
			// A line too long was consumed; its literal, if any, is next.
		}
	}
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// fail refuses the command.
func (d *Decoder) fail(format string, args ...any) {
	panic(&SyntaxError{Msg: fmt.Sprintf(format, args...)})
}

// Lexing. Each method works on d.line at d.pos and fails on mismatch.

func (d *Decoder) peek() byte {
	if d.pos < len(d.line) {
		return d.line[d.pos]
	}
	return 0
}

func (d *Decoder) atEnd() bool { return d.pos >= len(d.line) }

func (d *Decoder) take(c byte) bool {
	if d.pos < len(d.line) && d.line[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

func (d *Decoder) expect(c byte) {
	if !d.take(c) {
		if d.atEnd() {
			d.fail("expected %q, got end of line", c)
		}
		d.fail("expected %q", c)
	}
}

func (d *Decoder) sp() { d.expect(' ') }

// takeFold consumes s if it comes next, in any case.
func (d *Decoder) takeFold(s string) bool {
	if len(d.line)-d.pos >= len(s) && strings.EqualFold(string(d.line[d.pos:d.pos+len(s)]), s) {
		d.pos += len(s)
		return true
	}
	return false
}

func (d *Decoder) end() {
	if !d.atEnd() {
		d.fail("unexpected text after the command")
	}
}

// enter and leave bound the nesting depth.
func (d *Decoder) enter() {
	d.depth++
	if d.depth > d.lim.MaxDepth {
		d.fail("nested too deep")
	}
}

func (d *Decoder) leave() { d.depth-- }

// isAtomChar reports whether c is an ATOM-CHAR (RFC 9051 section 9); 8-bit
// octets count when UTF8=ACCEPT is on.
func (d *Decoder) isAtomChar(c byte) bool {
	if c >= 0x80 {
		return d.utf8Accept
	}
	if c <= 0x20 || c == 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', '%', '*', '"', '\\', ']':
		return false
	}
	return true
}

// atom reads an atom (never empty).
func (d *Decoder) atom() string {
	start := d.pos
	for d.pos < len(d.line) && d.isAtomChar(d.line[d.pos]) {
		d.pos++
	}
	if d.pos == start {
		d.fail("expected an atom")
	}
	s := string(d.line[start:d.pos])
	d.checkUTF8(s)
	return s
}

// upperAtom reads an atom and returns it in upper case.
func (d *Decoder) upperAtom() string {
	start := d.pos
	w := d.upperWord(d.isAtomChar)
	if w == "" {
		d.fail("expected an atom")
	}
	d.checkUTF8(string(d.line[start:d.pos]))
	return w
}

// astringChars reads 1*ASTRING-CHAR (atom chars and "]").
func (d *Decoder) astringChars() string {
	start := d.pos
	for d.pos < len(d.line) && (d.isAtomChar(d.line[d.pos]) || d.line[d.pos] == ']') {
		d.pos++
	}
	if d.pos == start {
		d.fail("expected a string")
	}
	s := string(d.line[start:d.pos])
	d.checkUTF8(s)
	return s
}

func (d *Decoder) checkUTF8(s string) {
	if !utf8.ValidString(s) {
		d.fail("invalid UTF-8")
	}
}

// tagString reads a tag: 1*<any ASTRING-CHAR except "+">, 7-bit.
func (d *Decoder) tagString() string {
	start := d.pos
	for d.pos < len(d.line) {
		c := d.line[d.pos]
		if c >= 0x80 || c == '+' || !(d.isAtomChar(c) || c == ']') {
			break
		}
		d.pos++
	}
	if d.pos == start {
		d.fail("missing tag")
	}
	return string(d.line[start:d.pos])
}

// quoted reads a quoted string. It ends at the end of the line at the
// latest: an unterminated string is refused there.
func (d *Decoder) quoted() string {
	d.expect('"')
	start := d.pos
	var esc []byte // the unescaped text once an escape has been seen
	escaped := false
	for {
		if d.atEnd() {
			d.fail("unterminated quoted string")
		}
		c := d.line[d.pos]
		switch c {
		case '"':
			s := string(d.line[start:d.pos])
			if escaped {
				s = string(esc)
			}
			d.pos++
			// 8-bit text is taken in UTF-8 with or without UTF8=ACCEPT,
			// as Dovecot does: clients quote UTF-8 passwords and search
			// strings. Mailbox names stay strict (decodeName).
			d.checkUTF8(s)
			return s
		case '\\':
			if !escaped {
				esc = append(esc, d.line[start:d.pos]...)
				escaped = true
			}
			d.pos++
			if d.atEnd() || (d.line[d.pos] != '"' && d.line[d.pos] != '\\') {
				d.fail("bad escape in a quoted string")
			}
			esc = append(esc, d.line[d.pos])
			d.pos++
		case 0:
			d.fail("NUL in a quoted string")
		default:
			if escaped {
				esc = append(esc, c)
			}
			d.pos++
		}
	}
}

// literal reads a literal announced at the end of the current line,
// "{n}", "{n+}" or, when binary is allowed, "~{n}"; max is the limit for
// this literal. It returns the data and whether it was a literal8.
func (d *Decoder) literal(max int64, binaryOK bool) ([]byte, bool) {
	binary := d.take('~')
	if binary && !binaryOK {
		d.fail("literal8 not allowed here")
	}
	d.expect('{')
	numStart := d.pos
	for d.pos < len(d.line) && d.line[d.pos] >= '0' && d.line[d.pos] <= '9' {
		d.pos++
	}
	if d.pos == numStart || d.pos-numStart > 19 {
		d.fail("bad literal length")
	}
	n, err := strconv.ParseInt(string(d.line[numStart:d.pos]), 10, 64)
	if err != nil {
		d.fail("bad literal length")
	}
	sync := !d.take('+')
	d.expect('}')
	if !d.atEnd() {
		d.fail("literal not at the end of the line")
	}
	refuse := n > max || d.total+n > d.lim.MaxCommand || (!sync && d.literalMinus && n > literalMinusMax)
	if refuse {
		// A synchronizing literal is not sent without a continuation;
		// the octets of a non-synchronizing one come regardless and
		// skipRest discards them.
		d.litDone = sync
		panic(&SyntaxError{Msg: "literal too big", Code: "TOOBIG"})
	}
	d.litDone = true
	if sync && d.cont != nil {
		if err := d.cont(); err != nil {
			panic(ioError{err})
		}
	}
	data, err := d.readN(n)
	if err != nil {
		panic(ioError{noEOF(err)})
	}
	if err := d.readLine(); err != nil {
		if se, ok := err.(*SyntaxError); ok {
			panic(se)
		}
		panic(ioError{noEOF(err)})
	}
	if binary {
		return data, true
	}
	if bytes.IndexByte(data, 0) >= 0 {
		d.fail("NUL in a literal")
	}
	return data, false
}

// astring reads an atom, quoted string or literal (RFC 9051 astring).
// 8-bit octets in a literal are allowed (CHAR8).
func (d *Decoder) astring() string {
	switch d.peek() {
	case '"':
		return d.quoted()
	case '{':
		b, _ := d.literal(d.lim.MaxLiteral, false)
		return string(b)
	}
	return d.astringChars()
}

// str reads a quoted string or literal (RFC 9051 string).
func (d *Decoder) str() string {
	switch d.peek() {
	case '"':
		return d.quoted()
	case '{':
		b, _ := d.literal(d.lim.MaxLiteral, false)
		return string(b)
	}
	d.fail("expected a string")
	return ""
}

// nstring reads a string or NIL.
func (d *Decoder) nstring() *string {
	if d.takeNIL() {
		return nil
	}
	s := d.str()
	return &s
}

func (d *Decoder) takeNIL() bool {
	if d.takeFold("NIL") {
		if d.atEnd() || !d.isAtomChar(d.peek()) {
			return true
		}
		d.pos -= 3
	}
	return false
}

// number reads a 32-bit number.
func (d *Decoder) number() uint32 {
	n := d.number64()
	if n > 1<<32-1 {
		d.fail("number too large")
	}
	return uint32(n)
}

// number64 reads a number of up to 63 bits (mod-sequence-value, sizes).
func (d *Decoder) number64() uint64 {
	start := d.pos
	for d.pos < len(d.line) && d.line[d.pos] >= '0' && d.line[d.pos] <= '9' {
		d.pos++
	}
	if d.pos == start {
		d.fail("expected a number")
	}
	if d.pos-start > 19 {
		d.fail("number too large")
	}
	n, err := strconv.ParseUint(string(d.line[start:d.pos]), 10, 63)
	if err != nil {
		d.fail("number too large")
	}
	return n
}

func (d *Decoder) nzNumber() uint32 {
	n := d.number()
	if n == 0 {
		d.fail("zero where a non-zero number is required")
	}
	return n
}

// list reads a parenthesised, space-separated list, calling item for each
// element; empty lists are allowed when emptyOK.
func (d *Decoder) list(emptyOK bool, item func()) {
	d.expect('(')
	d.enter()
	if d.take(')') {
		if !emptyOK {
			d.fail("empty list")
		}
		d.leave()
		return
	}
	for n := 1; ; n++ {
		if n > d.lim.MaxItems {
			d.fail("too many items")
		}
		item()
		if d.take(')') {
			break
		}
		d.sp()
	}
	d.leave()
}

// words are the keywords of the grammar, so that reading one costs no
// allocation.
var words = map[string]string{}

func init() {
	for _, w := range strings.Fields(`CAPABILITY NOOP LOGOUT STARTTLS AUTHENTICATE LOGIN ENABLE SELECT EXAMINE
		CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE LIST LSUB NAMESPACE STATUS APPEND IDLE CHECK CLOSE
		UNSELECT EXPUNGE SEARCH FETCH STORE COPY MOVE UID SORT THREAD ID GETQUOTA GETQUOTAROOT SETQUOTA
		CANCELUPDATE ENVELOPE FLAGS INTERNALDATE RFC822.SIZE MODSEQ BODYSTRUCTURE RFC822 RFC822.HEADER
		RFC822.TEXT BODY BODY.PEEK BINARY BINARY.PEEK BINARY.SIZE CHANGEDSINCE VANISHED UNCHANGEDSINCE
		FLAGS.SILENT CONDSTORE QRESYNC MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE
		HIGHESTMODSEQ ALL FAST FULL PLAIN XOAUTH2 OAUTHBEARER UTF8=ACCEPT IMAP4REV2`) {
		words[w] = w
	}
}

// upperWord reads the longest run of octets ok accepts and returns it in
// upper case, interned when it is a keyword.
func (d *Decoder) upperWord(ok func(c byte) bool) string {
	start := d.pos
	for d.pos < len(d.line) && ok(d.line[d.pos]) {
		d.pos++
	}
	raw := d.line[start:d.pos]
	if len(raw) <= 32 {
		var buf [32]byte
		for i, c := range raw {
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			buf[i] = c
		}
		if w, ok := words[string(buf[:len(raw)])]; ok {
			return w
		}
	}
	return strings.ToUpper(string(raw))
}

// readN reads n octets of literal data. Up to 64 KiB the buffer is
// allocated at once; beyond, it grows as the octets arrive, so that an
// announced size costs memory only once the client sends it.
func (d *Decoder) readN(n int64) ([]byte, error) {
	if n <= 64<<10 {
		b := make([]byte, n)
		m, err := io.ReadFull(d.r, b)
		d.total += int64(m)
		return b, err
	}
	var buf bytes.Buffer
	buf.Grow(64 << 10)
	m, err := io.CopyN(&buf, d.r, n)
	d.total += m
	return buf.Bytes(), err
}

// headTag returns the tag at the start of a line too long to read whole,
// if the line starts with one.
func headTag(head []byte) string {
	d := &Decoder{line: head}
	for d.pos < len(d.line) {
		c := d.line[d.pos]
		if c >= 0x80 || c == '+' || !(d.isAtomChar(c) || c == ']') {
			break
		}
		d.pos++
	}
	if d.pos == 0 || d.pos >= len(head) || head[d.pos] != ' ' {
		return ""
	}
	return string(head[:d.pos])
}
