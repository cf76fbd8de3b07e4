// Package envelope computes a message's IMAP ENVELOPE (RFC 9051 section
// 7.5.2) once, when the message is stored, and keeps it in a compact binary
// form, so that FETCH ENVELOPE over a large mailbox does not parse every
// header again.
//
// The subject and message ids are read as go-imap's
// imapserver.ExtractEnvelope reads them (go-message's mail.Header). The
// date is kept twice: the Date field's text as written, which ENVELOPE
// shows (RFC 3501 section 7.4.2: env-date is the header's value, so a
// wrong weekday stays wrong), and its time by ParseDate, for SORT and
// SEARCH. The address fields are read by ParseAddressList, which keeps
// RFC 5322 groups (as the start and end markers of RFC 9051), drops
// obsolete routes and skips comments inside an address, where go-imap's
// reading loses such fields whole. Every envelope FETCH shows, stored or computed on the fly, comes
// from Extract.
//
// Encoding (version 4; version 1 was go-imap's reading, version 2 had no
// routes, and both are computed again when read; version 3 had no date
// text and is still decoded, its date written as the time formatted), all
// integers as encoding/binary varints:
//
//	version byte (4)
//	hasDate byte; if 1: unix seconds (signed), nanoseconds, zone offset
//	  in seconds (signed)
//	date text string (not in version 3)
//	subject string
//	6 address lists: From, Sender, Reply-To, To, Cc, Bcc; each is a count
//	  n (0 means nil, else n-1 addresses), then name, route, mailbox, host
//	In-Reply-To: count n (0 means nil, else n-1 strings)
//	Message-ID string
//
// A string is its length (unsigned) and its bytes.
package envelope

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Version is the first byte of an encoded envelope. Readers treat an
// envelope of another version as missing and compute it again (Current);
// Decode still reads version 3.
const Version = 4

// version3 is the encoding before the date text was kept.
const version3 = 3

// ErrInvalid is returned by Decode for bytes that are not a valid
// envelope of this Version.
var ErrInvalid = errors.New("envelope: invalid encoding")

// Envelope is an IMAP ENVELOPE with the obsolete source routes of its
// addresses, which imap.Address has no field for.
type Envelope struct {
	imap.Envelope
	// DateText is the Date field's value as written (unfolded, white
	// space around it trimmed, NUL, CR and LF left out; "" without the
	// field): what ENVELOPE shows. Envelope.Date is its time by ParseDate, zero when it does
	// not parse.
	DateText string
	// Routes holds the routes (AddressRoutes) of the six address lists,
	// From, Sender, Reply-To, To, Cc, Bcc: nil for a list without any,
	// else one per address.
	Routes [6][]string
}

// Lists returns the six address lists in the order of Routes.
func (e *Envelope) Lists() [6][]imap.Address {
	return [6][]imap.Address{e.From, e.Sender, e.ReplyTo, e.To, e.Cc, e.Bcc}
}

// Route returns the route of address i of list l ("" for none).
func (e *Envelope) Route(l, i int) string {
	if r := e.Routes[l]; i < len(r) {
		return r[i]
	}
	return ""
}

// Extract builds the ENVELOPE of a message from its header section.
func Extract(header []byte) *Envelope {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(header)))
	if err != nil && h.Len() == 0 {
		return &Envelope{}
	}
	return ExtractHeader(h)
}

// ExtractHeader builds the ENVELOPE of a header already read (that of a
// message/rfc822 part, for BODYSTRUCTURE).
func ExtractHeader(h textproto.Header) *Envelope {
	mh := mail.Header{Header: message.Header{Header: h}}
	// The Date field as written: unfolded, without NUL, CR or LF.
	dt := strings.Map(func(r rune) rune {
		if r == 0 || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, h.Get("Date"))
	subject, _ := mh.Subject()
	inReplyTo, _ := mh.MsgIDList("In-Reply-To")
	messageID, _ := mh.MessageID()
	e := &Envelope{Envelope: imap.Envelope{
		Date:      ParseDate(dt),
		Subject:   subject,
		InReplyTo: inReplyTo,
		MessageID: messageID,
	}, DateText: dt}
	for i, l := range [...]*[]imap.Address{&e.From, &e.Sender, &e.ReplyTo, &e.To, &e.Cc, &e.Bcc} {
		if k := fields[i]; h.Has(k) {
			*l, e.Routes[i] = AddressRoutes(h.Get(k))
		}
	}
	return e
}

// ParseDate reads a Date field's value (RFC 5322 section 3.3, with the
// obsolete forms net/mail accepts): the one reading of the sent date for
// ENVELOPE, SORT (RFC 5256 section 2.2) and SEARCH SENTBEFORE and
// friends. It is zero for an empty or unreadable value.
func ParseDate(v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	t, err := netmail.ParseDate(v)
	if err != nil {
		return time.Time{}
	}
	return t
}

// fields are the header fields of the address lists, in the order of
// Envelope.Routes.
var fields = [6]string{"From", "Sender", "Reply-To", "To", "Cc", "Bcc"}

// FromHeader extracts the envelope of a header section and encodes it.
func FromHeader(header []byte) []byte {
	return Encode(nil, Extract(header))
}

// Current reports whether b is an envelope of this Version.
func Current(b []byte) bool { return len(b) > 0 && b[0] == Version }

// Newer reports whether b is an envelope of a later version than this
// one (written by a newer congthu): readers compute their own but do not
// store it over b.
func Newer(b []byte) bool { return len(b) > 0 && b[0] > Version }

// Encode appends the encoding of e to dst.
func Encode(dst []byte, e *Envelope) []byte {
	dst = append(dst, Version)
	if e.Date.IsZero() {
		dst = append(dst, 0)
	} else {
		_, off := e.Date.Zone()
		dst = append(dst, 1)
		dst = binary.AppendVarint(dst, e.Date.Unix())
		dst = binary.AppendUvarint(dst, uint64(e.Date.Nanosecond()))
		dst = binary.AppendVarint(dst, int64(off))
	}
	dst = appendString(dst, e.DateText)
	dst = appendString(dst, e.Subject)
	for li, l := range e.Lists() {
		if l == nil {
			dst = append(dst, 0)
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(len(l))+1)
		for i, a := range l {
			dst = appendString(dst, a.Name)
			dst = appendString(dst, e.Route(li, i))
			dst = appendString(dst, a.Mailbox)
			dst = appendString(dst, a.Host)
		}
	}
	if e.InReplyTo == nil {
		dst = append(dst, 0)
	} else {
		dst = binary.AppendUvarint(dst, uint64(len(e.InReplyTo))+1)
		for _, id := range e.InReplyTo {
			dst = appendString(dst, id)
		}
	}
	return appendString(dst, e.MessageID)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// DecodeDate decodes only the date of an encoded envelope (Decode's
// Date, zero when the message has none): what SEARCH SENTBEFORE, SENTON
// and SENTSINCE compare, without the rest.
func DecodeDate(b []byte) (time.Time, error) {
	if len(b) == 0 || b[0] != Version && b[0] != version3 {
		return time.Time{}, ErrInvalid
	}
	d := decoder{s: string(b[:min(len(b), 32)]), i: 1}
	t, ok := d.date()
	if !ok {
		return time.Time{}, ErrInvalid
	}
	return t, nil
}

// date decodes the date that starts an envelope: 0 for none, or 1, the
// Unix seconds, the nanoseconds and the UTC offset in seconds.
func (d *decoder) date() (time.Time, bool) {
	switch d.byte() {
	case 0:
		return time.Time{}, !d.bad
	case 1:
		sec := d.varint()
		nsec := d.uvarint()
		off := d.varint()
		if d.bad || nsec >= 1e9 || off < -86400 || off > 86400 {
			return time.Time{}, false
		}
		return time.Unix(sec, int64(nsec)).In(zone(int(off))), true
	}
	return time.Time{}, false
}

// Decode decodes an envelope made by Encode, or by the Encode of version
// 3, whose date text is the time formatted as RFC 5322 writes it. The
// strings of the result share one allocation.
func Decode(b []byte) (*Envelope, error) {
	if len(b) == 0 || b[0] != Version && b[0] != version3 {
		return nil, ErrInvalid
	}
	d := decoder{s: string(b), i: 1}
	e := &Envelope{}
	var ok bool
	if e.Date, ok = d.date(); !ok {
		return nil, ErrInvalid
	}
	if b[0] == version3 {
		if !e.Date.IsZero() {
			e.DateText = e.Date.Format(DateLayout)
		}
	} else {
		e.DateText = d.string()
	}
	e.Subject = d.string()
	for li, l := range [...]*[]imap.Address{&e.From, &e.Sender, &e.ReplyTo, &e.To, &e.Cc, &e.Bcc} {
		n := d.count()
		if n < 0 {
			continue
		}
		*l = make([]imap.Address, n)
		for i := range *l {
			name, route := d.string(), d.string()
			(*l)[i] = imap.Address{Name: name, Mailbox: d.string(), Host: d.string()}
			if route != "" {
				if e.Routes[li] == nil {
					e.Routes[li] = make([]string, n)
				}
				e.Routes[li][i] = route
			}
		}
	}
	if n := d.count(); n >= 0 {
		e.InReplyTo = make([]string, n)
		for i := range e.InReplyTo {
			e.InReplyTo[i] = d.string()
		}
	}
	e.MessageID = d.string()
	if d.bad || d.i != len(d.s) {
		return nil, ErrInvalid
	}
	return e, nil
}

// DateLayout is RFC 5322's date-time, the form ENVELOPE gave a date
// before the text was kept.
const DateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// zone returns a fixed zone for a UTC offset; the common Vietnamese one
// (+0700) and UTC are shared.
func zone(off int) *time.Location {
	switch off {
	case 0:
		return utc
	case 7 * 3600:
		return ict
	}
	return time.FixedZone("", off)
}

var (
	utc = time.FixedZone("", 0)
	ict = time.FixedZone("", 7*3600)
)

// decoder reads an encoded envelope; bad is set on malformed input and
// every later read returns zero values.
type decoder struct {
	s   string
	i   int
	bad bool
}

func (d *decoder) byte() byte {
	if d.bad || d.i >= len(d.s) {
		d.bad = true
		return 0
	}
	c := d.s[d.i]
	d.i++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	var x uint64
	var shift uint
	for n := 0; n < binary.MaxVarintLen64; n++ {
		if d.i >= len(d.s) {
			break
		}
		c := d.s[d.i]
		d.i++
		if c < 0x80 {
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.bad = true
	return 0
}

func (d *decoder) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// count reads a list length: -1 for nil.
func (d *decoder) count() int {
	n := d.uvarint()
	if d.bad || n == 0 {
		return -1
	}
	// Every element takes at least one byte.
	if n-1 > uint64(len(d.s)-d.i) {
		d.bad = true
		return -1
	}
	return int(n - 1)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.s)-d.i) {
		d.bad = true
		return ""
	}
	s := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return s
}
