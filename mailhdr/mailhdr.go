// Package mailhdr reads the header section of a message (RFC 5322 section
// 2.2) once, and the one way every check in congthu reads it: the sender
// ownership rule of submission, the MX's RFC5322.From for DMARC and the
// local-domain anti-spoofing rule, and the removal of trust fields
// (Authentication-Results, X-Congthu-*).
//
// Its reading of From and Sender is the one IMAP's ENVELOPE shows: the
// same field boundaries and unfolding, and the same address-list reader
// (envelope.Mailboxes, beside envelope.ParseAddressList), so no checked
// sender is read two ways. A From or Sender with an element that reader
// skips is refused, since a client would show less than was checked; the
// members of a group count as its addresses. Where readers of
// mail disagree it refuses instead of guessing: a field name must be
// 1*ftext (RFC 5322 section 3.6.8: printable US-ASCII except ":") followed
// directly by the colon. The obsolete syntax of section 4.5 allows
// whitespace before the colon; net/textproto then reads "From :" as a
// field named "From " while go-message, IMAP's ENVELOPE and mail clients
// read it as From, which is how a second, unchecked From slipped past the
// sender checks. RFC 5322 section 3.6 allows exactly one From and at most
// one Sender.
//
// Lines end in LF, with or without a CR before it, as in go-message; the
// SMTP servers refuse bare CR and LF before they get here.
package mailhdr

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"congthu/envelope"
)

// MaxSize bounds the header section Parse reads.
const MaxSize = 1 << 20

// Errors of Parse and Senders; each is wrapped with the detail (an offset,
// a field name) for the log.
var (
	// ErrMalformed: no header section, a line without a colon, a first
	// line starting with whitespace, or a header section over MaxSize.
	ErrMalformed = errors.New("malformed header section")
	// ErrFieldName: a field name with a character outside ftext, or
	// empty.
	ErrFieldName = errors.New("malformed header field name")
	// ErrSpaceBeforeColon: a field name followed by whitespace (or a
	// line break) before its colon, RFC 5322 section 4.5's obsolete
	// syntax.
	ErrSpaceBeforeColon = errors.New("header field name followed by whitespace before the colon")
	ErrNoFrom           = errors.New("no From header field")
	ErrManyFrom         = errors.New("more than one From header field")
	// ErrFromAddress: the From field has no address that parses, or an
	// address with more than one "@".
	ErrFromAddress   = errors.New("no valid address in the From header field")
	ErrManySender    = errors.New("more than one Sender header field")
	ErrSenderAddress = errors.New("the Sender header field is not exactly one valid address")
)

// field locates one header field in Header.data: the name is
// data[start:colon], the value data[colon+1:end] with its line breaks.
type field struct{ start, colon, end int }

// Header is the header section of a message as Parse read it. It refers
// to the message's bytes, which must not change while it is used.
type Header struct {
	data   []byte
	fields []field
	size   int
}

// Parse reads the header section at the start of msg, up to the first
// empty line (all of msg when there is none). It does not copy msg.
func Parse(msg []byte) (*Header, error) {
	h := &Header{data: msg, fields: make([]field, 0, 16)}
	i := 0
	for {
		if i >= len(msg) {
			h.size = len(msg)
			break
		}
		if n := blankLine(msg, i); n > 0 {
			h.size = i + n
			break
		}
		if i > MaxSize {
			return nil, fmt.Errorf("%w: header section over %d bytes", ErrMalformed, MaxSize)
		}
		if msg[i] == ' ' || msg[i] == '\t' {
			// Continuation lines are taken with their field: only the
			// first line can get here.
			return nil, fmt.Errorf("%w: first line starts with whitespace", ErrMalformed)
		}
		end := fieldEnd(msg, i)
		colon := bytes.IndexByte(msg[i:end], ':')
		if colon < 0 {
			return nil, fmt.Errorf("%w: line without a colon at offset %d", ErrMalformed, i)
		}
		colon += i
		if err := checkName(msg[i:colon]); err != nil {
			return nil, fmt.Errorf("%w: %s at offset %d", err, quoteName(msg[i:colon]), i)
		}
		h.fields = append(h.fields, field{i, colon, end})
		i = end
	}
	if h.size > MaxSize {
		return nil, fmt.Errorf("%w: header section over %d bytes", ErrMalformed, MaxSize)
	}
	if len(h.fields) == 0 {
		return nil, fmt.Errorf("%w: no header fields", ErrMalformed)
	}
	return h, nil
}

// SectionLen returns the length of msg's header section including the
// empty line that ends it (all of msg when there is none): where Parse
// stops, for messages Parse may refuse. A line ends in LF, with or without
// a CR before it.
func SectionLen(msg []byte) int {
	for i := 0; i < len(msg); i = lineEnd(msg, i) {
		if n := blankLine(msg, i); n > 0 {
			return i + n
		}
	}
	return len(msg)
}

// blankLine returns the length of the empty line at msg[i:] (1 for LF, 2
// for CRLF), or 0.
func blankLine(msg []byte, i int) int {
	switch {
	case msg[i] == '\n':
		return 1
	case msg[i] == '\r' && i+1 < len(msg) && msg[i+1] == '\n':
		return 2
	}
	return 0
}

// lineEnd returns the offset after the LF ending the line at msg[i:], or
// len(msg).
func lineEnd(msg []byte, i int) int {
	j := bytes.IndexByte(msg[i:], '\n')
	if j < 0 {
		return len(msg)
	}
	return i + j + 1
}

// fieldEnd returns the end of the field starting at msg[i:]: its first
// line and the lines after it that start with SP or HTAB.
func fieldEnd(msg []byte, i int) int {
	end := lineEnd(msg, i)
	for end < len(msg) && (msg[end] == ' ' || msg[end] == '\t') {
		end = lineEnd(msg, end)
	}
	return end
}

// isFtext reports whether c may appear in a field name (RFC 5322 section
// 3.6.8).
func isFtext(c byte) bool { return c >= 33 && c <= 126 && c != ':' }

func checkName(name []byte) error {
	n := len(name)
	for n > 0 && isWSPOrEOL(name[n-1]) {
		n--
	}
	for _, c := range name[:n] {
		if !isFtext(c) {
			return ErrFieldName
		}
	}
	switch {
	case n == 0:
		return ErrFieldName
	case n < len(name):
		return ErrSpaceBeforeColon
	}
	return nil
}

func isWSPOrEOL(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// quoteName quotes a field name, shortened, for an error message.
func quoteName(name []byte) string {
	if len(name) > 40 {
		return fmt.Sprintf("%q...", name[:40])
	}
	return fmt.Sprintf("%q", name)
}

// Len is the length of the header section, the empty line that ends it
// included.
func (h *Header) Len() int { return h.size }

// Count returns the number of fields named name (ASCII case-insensitive).
func (h *Header) Count(name string) int {
	n := 0
	for _, f := range h.fields {
		if equalFold(h.data[f.start:f.colon], name) {
			n++
		}
	}
	return n
}

// Has reports whether there is a field named name.
func (h *Header) Has(name string) bool {
	for _, f := range h.fields {
		if equalFold(h.data[f.start:f.colon], name) {
			return true
		}
	}
	return false
}

// Value returns the unfolded value of the first field named name, and
// whether there is one.
func (h *Header) Value(name string) (string, bool) {
	for _, f := range h.fields {
		if equalFold(h.data[f.start:f.colon], name) {
			return unfold(h.data[f.colon+1 : f.end]), true
		}
	}
	return "", false
}

// Values returns the unfolded values of the fields named name, in order.
func (h *Header) Values(name string) []string {
	var vs []string
	for _, f := range h.fields {
		if equalFold(h.data[f.start:f.colon], name) {
			vs = append(vs, unfold(h.data[f.colon+1:f.end]))
		}
	}
	return vs
}

// unfold turns a raw field value into the string go-message's
// textproto.ReadHeader makes of it: each line without its line break and
// the SP and HTAB around it, the non-empty ones joined by one space.
func unfold(v []byte) string {
	var b strings.Builder
	b.Grow(len(v))
	for {
		i := bytes.IndexByte(v, '\n')
		line := v
		if i >= 0 {
			line = v[:i]
			// go-message's line reader takes the CR of a CRLF away;
			// a last line without LF keeps its CR.
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
		}
		line = bytes.Trim(line, " \t")
		if len(line) > 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.Write(line)
		}
		if i < 0 {
			return b.String()
		}
		v = v[i+1:]
	}
}

// equalFold compares a field name with name, ASCII case-insensitively.
func equalFold(b []byte, name string) bool {
	if len(b) != len(name) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(name[i]) {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether b starts with prefix, ASCII
// case-insensitively.
func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && equalFold(b[:len(prefix)], prefix)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Senders is who a message says sent it.
type Senders struct {
	// From holds the addresses of the From field, in order (at least
	// one).
	From []string
	// Sender is the address of the Sender field, "" without one.
	Sender string
}

// All returns the From addresses and the Sender address, if any.
func (s Senders) All() []string {
	if s.Sender == "" {
		return s.From
	}
	return append(s.From[:len(s.From):len(s.From)], s.Sender)
}

// Senders returns the addresses of the one From field and of the Sender
// field, if there is one (RFC 5322 section 3.6.2), parsed as IMAP's
// ENVELOPE parses them.
func (h *Header) Senders() (Senders, error) {
	var s Senders
	from, sender := -1, -1
	for i, f := range h.fields {
		name := h.data[f.start:f.colon]
		switch {
		case equalFold(name, "From"):
			if from >= 0 {
				return s, ErrManyFrom
			}
			from = i
		case equalFold(name, "Sender"):
			if sender >= 0 {
				return s, ErrManySender
			}
			sender = i
		}
	}
	if from < 0 {
		return s, ErrNoFrom
	}
	f := h.fields[from]
	list, err := parseAddressList(unfold(h.data[f.colon+1 : f.end]))
	if err == nil && len(list) == 0 {
		err = errors.New("no address")
	}
	if err != nil {
		return s, fmt.Errorf("%w: %v", ErrFromAddress, err)
	}
	s.From = list
	if sender >= 0 {
		f := h.fields[sender]
		list, err := parseAddressList(unfold(h.data[f.colon+1 : f.end]))
		if err != nil || len(list) != 1 {
			if err == nil {
				err = fmt.Errorf("%d addresses", len(list))
			}
			return Senders{}, fmt.Errorf("%w: %v", ErrSenderAddress, err)
		}
		s.Sender = list[0]
	}
	return s, nil
}

// parseAddressList reads v with the reading behind IMAP's ENVELOPE
// (envelope.Mailboxes), so the checks see the addresses a mail client
// shows. A field with an element that is not an address is refused, as is
// an address with more than one "@": IMAP splits an address at its first
// "@", DMARC at its last.
func parseAddressList(v string) ([]string, error) {
	list, complete := envelope.Mailboxes(v)
	if !complete {
		return nil, errors.New("an element is not an address")
	}
	addrs := make([]string, len(list))
	for i, a := range list {
		addr := a.Mailbox + "@" + a.Host
		if strings.Count(addr, "@") != 1 {
			return nil, fmt.Errorf("address %q has more than one @", addr)
		}
		addrs[i] = addr
	}
	return addrs, nil
}
