package envelope

import (
	"mime"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message/charset"
)

// ParseAddressList reads the value of an address header field (From, To,
// Cc, ...; unfolded) the way ENVELOPE shows it (RFC 9051 section 7.5.2):
//
//   - a group (RFC 5322 section 3.4, "Team: a@x, b@y;") becomes a start
//     marker (Mailbox = the group's name, no Host), its members and an
//     end marker (all fields empty); "undisclosed-recipients:;" is the two
//     markers alone;
//   - an obsolete route ("<@relay1,@relay2:user@host>", section 4.4) is
//     left out of the address (AddressRoutes gives it: ENVELOPE's adl);
//   - comments are skipped wherever CFWS may stand, also inside an
//     addr-spec ("user(dept)@host"); an address with no display name takes
//     the text of a comment after it ("user@host (Name)"), as net/mail does;
//   - display names are decoded (RFC 2047, in any charset go-message
//     knows), quoted strings unquoted;
//   - a local part without "@domain" ("To: d") is an address with the
//     host MissingHost, as UW-IMAP shows it;
//   - an element that is not an address ("<>", a phrase of several words
//     with no address) is left out and the ones after it are still read,
//     where net/mail gives up on the whole field.
//
// For a field net/mail reads, the addresses are the same, with the same
// names; groups add their markers.
func ParseAddressList(v string) []imap.Address {
	out, _, _ := parseList(v)
	return out
}

// AddressRoutes reads v as ParseAddressList does and also returns the
// obsolete source route of each address ("@relay1,@relay2", without the
// colon; "" for none), ENVELOPE's adl (RFC 3501 section 7.4.2): routes is
// nil when no address has one, else as long as the addresses. A route is
// kept for an address outside a group only.
func AddressRoutes(v string) (addrs []imap.Address, routes []string) {
	addrs, routes, _ = parseList(v)
	return addrs, routes
}

// Mailboxes reads v exactly as ParseAddressList does and returns the
// addresses it shows, without group markers and addresses without a
// domain. complete is false when some element of v is not an address (or
// has no domain) and was left out: a check that must see
// everything a reader sees refuses such a field.
func Mailboxes(v string) (addrs []imap.Address, complete bool) {
	list, _, skipped := parseList(v)
	for _, a := range list {
		if a.Host != "" && a.Host != MissingHost {
			addrs = append(addrs, a)
		}
	}
	return addrs, !skipped
}

// parseList is AddressRoutes that also says whether an element was
// skipped.
func parseList(v string) (out []imap.Address, routes []string, skipped bool) {
	p := addrParser{s: v}
	for len(out) < maxAddresses {
		p.skipSeparators()
		if p.eof() {
			return out, routes, p.skipped
		}
		start := p.i
		p.route = ""
		l, ok := p.address()
		if ok {
			if len(l) == 1 && p.route != "" {
				for len(routes) < len(out) {
					routes = append(routes, "")
				}
				routes = append(routes, p.route)
			}
			out = append(out, l...)
			continue
		}
		p.i = start
		p.skipped = true
		p.skipElement()
	}
	if routes != nil {
		for len(routes) < len(out) {
			routes = append(routes, "")
		}
	}
	return out, routes, true
}

// maxAddresses bounds what one field yields; a header section is at most
// mailhdr.MaxSize bytes, so this is only a guard against a pathological
// field made of separators and markers.
const maxAddresses = 10000

// addrParser reads an address list from s, position i.
type addrParser struct {
	s string
	i int
	// comment is the text of the last comment skipped, for the
	// "addr (Name)" form.
	comment string
	// skipped: an element or group member was not an address.
	skipped bool
	// route is the obsolete route of the last angle address read.
	route string
}

func (p *addrParser) eof() bool { return p.i >= len(p.s) }

func (p *addrParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

// skipCFWS skips white space and comments, remembering the last comment.
func (p *addrParser) skipCFWS() {
	for !p.eof() {
		switch c := p.s[p.i]; c {
		case ' ', '\t', '\r', '\n':
			p.i++
		case '(':
			p.comment = p.readComment()
		default:
			return
		}
	}
}

// readComment reads a (possibly nested) comment at p.i and returns its
// text without the outer parentheses. An unclosed comment runs to the end.
func (p *addrParser) readComment() string {
	depth := 0
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\' && !p.eof():
			b.WriteByte(p.s[p.i])
			p.i++
			continue
		case c == '(':
			depth++
			if depth == 1 {
				continue
			}
		case c == ')':
			depth--
			if depth == 0 {
				return strings.TrimSpace(b.String())
			}
		}
		b.WriteByte(c)
	}
	return strings.TrimSpace(b.String())
}

// skipSeparators skips CFWS and empty list elements (obs-addr-list).
func (p *addrParser) skipSeparators() {
	for {
		p.skipCFWS()
		if p.peek() != ',' {
			return
		}
		p.i++
	}
}

// skipElement skips to the end of the current list element: the next
// comma outside quotes, comments, angle brackets and groups, or past the
// ";" of a group.
func (p *addrParser) skipElement() {
	angle := false
	for !p.eof() {
		switch c := p.s[p.i]; c {
		case '"':
			p.quoted()
			continue
		case '(':
			p.readComment()
			continue
		case '<':
			angle = true
		case '>':
			angle = false
		case ',', ';':
			if !angle {
				p.i++
				return
			}
		}
		p.i++
	}
}

// isAtext reports whether c may appear in an atom (RFC 5322 section
// 3.2.3); bytes of UTF-8 (RFC 6532) are allowed too.
func isAtext(c byte) bool {
	if c >= 0x80 {
		return true
	}
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// atom reads an atom at p.i ("" if there is none).
func (p *addrParser) atom() string {
	j := p.i
	for j < len(p.s) && isAtext(p.s[j]) {
		j++
	}
	a := p.s[p.i:j]
	p.i = j
	return a
}

// quoted reads a quoted string at p.i (which is '"') and returns its
// content, quoted pairs resolved. An unclosed one runs to the end.
func (p *addrParser) quoted() string {
	p.i++
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\' && !p.eof():
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return b.String()
		case c == '\r' || c == '\n':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// word is one word of a phrase or local part.
type word struct {
	text   string
	quoted bool
	dot    bool // a "." (obs-phrase, dotted local part)
	space  bool // white space or a comment came before it
}

// words reads words and dots, with CFWS between them, until something
// else.
func (p *addrParser) words() []word {
	var ws []word
	for {
		start := p.i
		p.skipCFWS()
		space := p.i > start
		switch c := p.peek(); {
		case c == '"':
			ws = append(ws, word{text: p.quoted(), quoted: true, space: space})
		case c == '.':
			p.i++
			ws = append(ws, word{text: ".", dot: true, space: space})
		case isAtext(c) && !p.eof():
			ws = append(ws, word{text: p.atom(), space: space})
		default:
			return ws
		}
	}
}

var wordDecoder = mime.WordDecoder{CharsetReader: charset.Reader}

// phrase renders words as a display name: words separated by one space
// where the field had white space (or a comment) between them, so that
// "John Q. Public" keeps its dot; adjacent encoded words are joined
// without a space (RFC 2047 section 6.2).
func phrase(ws []word) string {
	var b strings.Builder
	prevEncoded := false
	for i, w := range ws {
		text, encoded := w.text, false
		if !w.quoted && !w.dot && strings.HasPrefix(text, "=?") && strings.HasSuffix(text, "?=") {
			if d, err := wordDecoder.Decode(text); err == nil {
				text, encoded = d, true
			}
		}
		if i > 0 && w.space && !(encoded && prevEncoded) {
			b.WriteByte(' ')
		}
		b.WriteString(text)
		prevEncoded = encoded
	}
	return b.String()
}

// localPart renders words as a local part: concatenated as written.
func localPart(ws []word) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString(w.text)
	}
	return b.String()
}

// domain reads a domain after "@": dot-atoms or a domain literal.
func (p *addrParser) domain() (string, bool) {
	p.skipCFWS()
	if p.peek() == '[' {
		j := strings.IndexByte(p.s[p.i:], ']')
		if j < 0 {
			return "", false
		}
		d := p.s[p.i : p.i+j+1]
		p.i += j + 1
		return d, true
	}
	var b strings.Builder
	for {
		p.skipCFWS()
		a := p.atom()
		if a == "" {
			break
		}
		b.WriteString(a)
		save := p.i
		p.skipCFWS()
		if p.peek() != '.' {
			p.i = save // a comment after the domain may be the name
			break
		}
		p.i++
		b.WriteByte('.')
	}
	d := strings.TrimSuffix(b.String(), ".")
	return d, d != ""
}

// address reads one address or group at p.i.
func (p *addrParser) address() ([]imap.Address, bool) {
	p.comment = ""
	ws := p.words()
	switch p.peek() {
	case ':':
		p.i++
		return p.group(phrase(ws))
	case '<':
		a, ok := p.angleAddr()
		if !ok {
			return nil, false
		}
		a.Name = phrase(ws)
		return []imap.Address{a}, true
	case '@':
		if len(ws) == 0 {
			return nil, false
		}
		p.i++
		host, ok := p.domain()
		if !ok {
			return nil, false
		}
		p.comment = ""
		p.skipCFWS()
		if c := p.peek(); c != ',' && c != ';' && !p.eof() {
			return nil, false
		}
		return []imap.Address{{Name: decodedComment(p.comment), Mailbox: localPart(ws), Host: host}}, true
	}
	// A dot-atom local part alone ("To: d"): an address without its
	// domain, shown with MissingHost, as c-client does. It counts as
	// skipped, so Mailboxes leaves it out and says the field was not
	// complete.
	if len(ws) == 0 || ws[0].dot {
		return nil, false
	}
	for i, w := range ws {
		if w.quoted || i > 0 && w.space {
			return nil, false // a phrase, not a dot-atom local part
		}
	}
	p.skipCFWS()
	if c := p.peek(); c != ',' && c != ';' && !p.eof() {
		return nil, false
	}
	p.skipped = true
	return []imap.Address{{Name: decodedComment(p.comment), Mailbox: localPart(ws), Host: MissingHost}}, true
}

// MissingHost is the host ENVELOPE gives an address written without a
// domain ("To: d"), as UW-IMAP's c-client does: no domain the parser reads
// can start with a dot, so it never stands for a real one.
const MissingHost = ".MISSING-HOST-NAME."

// decodedComment is the display name a trailing comment gives an address
// ("a@b.vn (Name)"), RFC 2047 words decoded.
func decodedComment(name string) string {
	if strings.HasPrefix(name, "=?") {
		if d, err := wordDecoder.DecodeHeader(name); err == nil {
			return d
		}
	}
	return name
}

// angleAddr reads "<" [obs-route] addr-spec ">" at p.i.
func (p *addrParser) angleAddr() (imap.Address, bool) {
	p.i++ // "<"
	p.skipCFWS()
	if p.peek() == '@' || p.peek() == ',' {
		// obs-route: "@domain" list up to ":", kept apart (p.route).
		j := strings.IndexByte(p.s[p.i:], ':')
		k := strings.IndexByte(p.s[p.i:], '>')
		if j < 0 || (k >= 0 && k < j) {
			return imap.Address{}, false
		}
		p.route = strings.TrimSpace(p.s[p.i : p.i+j])
		p.i += j + 1
	}
	ws := p.words()
	if len(ws) == 0 || p.peek() != '@' {
		return imap.Address{}, false
	}
	p.i++
	host, ok := p.domain()
	if !ok {
		return imap.Address{}, false
	}
	p.skipCFWS()
	if p.peek() != '>' {
		return imap.Address{}, false
	}
	p.i++
	p.skipCFWS()
	return imap.Address{Mailbox: localPart(ws), Host: host}, true
}

// group reads a group's members after "name:" up to its ";" (or the end of
// the field) and returns them between the start and end markers.
func (p *addrParser) group(name string) ([]imap.Address, bool) {
	if name == "" {
		return nil, false
	}
	out := []imap.Address{{Mailbox: name}}
	for len(out) < maxAddresses {
		p.skipSeparators()
		if p.eof() {
			break
		}
		if p.peek() == ';' {
			p.i++
			break
		}
		start := p.i
		a, ok := p.mailbox()
		if ok {
			out = append(out, a)
			continue
		}
		p.i = start
		p.skipped = true
		// Skip the bad member, but not past the group's end.
		for !p.eof() && p.peek() != ',' && p.peek() != ';' {
			switch p.peek() {
			case '"':
				p.quoted()
			case '(':
				p.readComment()
			default:
				p.i++
			}
		}
	}
	return append(out, imap.Address{}), true
}

// mailbox reads one member of a group: an address that is not a group.
func (p *addrParser) mailbox() (imap.Address, bool) {
	start := p.i
	if p.words(); p.peek() == ':' {
		return imap.Address{}, false // groups do not nest
	}
	p.i = start
	l, ok := p.address()
	if !ok || len(l) != 1 {
		return imap.Address{}, false
	}
	return l[0], true
}
