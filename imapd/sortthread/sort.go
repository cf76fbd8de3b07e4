package sortthread

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Address is the first address of a From, To or Cc header, as the
// ENVELOPE gives it (imap.Address): the display name decoded, the mailbox
// (local part) and the host.
type Address struct {
	Name    string
	Mailbox string
	Host    string
}

// Message is what SORT and THREAD need of one message. The server fills
// it from the stored envelope and header; nothing here is read again.
type Message struct {
	Seq uint32 // sequence number in the selected mailbox; ties are broken by it
	UID uint32
	// Arrival is the internal date (ARRIVAL, and the sent date when Date
	// is zero).
	Arrival time.Time
	// Date is the Date header's time, zero when the header is missing or
	// cannot be parsed (RFC 5256 section 2.2 then uses Arrival).
	Date time.Time
	Size int64
	// Subject is the decoded Subject header (imap.Envelope's; see
	// DecodeSubject for a raw one).
	Subject string
	From    Address
	To      Address
	CC      Address
	// MessageID, InReplyTo and References are the header values, raw
	// ("<a@b>", parsed with ParseMsgIDs); MessageID may also be the bare
	// id, as imap.Envelope holds it.
	MessageID  string
	InReplyTo  string
	References string
}

// Field is one SORT key (RFC 5256 section 3, RFC 5957 section 3).
type Field int

// The SORT keys.
const (
	Arrival Field = iota + 1
	CC
	Date
	From
	Size
	Subject
	To
	DisplayFrom
	DisplayTo
)

var fieldNames = [...]string{
	Arrival: "ARRIVAL", CC: "CC", Date: "DATE", From: "FROM", Size: "SIZE",
	Subject: "SUBJECT", To: "TO", DisplayFrom: "DISPLAYFROM", DisplayTo: "DISPLAYTO",
}

// String returns the key's name as the SORT command spells it.
func (f Field) String() string {
	if f > 0 && int(f) < len(fieldNames) {
		return fieldNames[f]
	}
	return fmt.Sprintf("Field(%d)", int(f))
}

// ParseField returns the SORT key an atom names, in any case.
func ParseField(atom string) (Field, bool) {
	for f := Arrival; int(f) < len(fieldNames); f++ {
		if strings.EqualFold(atom, fieldNames[f]) {
			return f, true
		}
	}
	return 0, false
}

// Criterion is one sort criterion: a key, reversed when Reverse (the
// REVERSE modifier applies to the key it precedes only).
type Criterion struct {
	Field   Field
	Reverse bool
}

// sortKey holds one message's values for the criteria of one Sort call,
// computed once.
type sortKey struct {
	seq, num uint32
	ints     []int64
	keys     []Key
}

// Sort orders msgs by criteria and returns their numbers (sequence
// numbers, or UIDs with opts.UID) in that order. Messages equal under
// every criterion are in sequence-number order (RFC 5256 section 3: "the
// order in which they appear in the mailbox"), whatever REVERSE says.
//
// String keys compare under i;unicode-casemap: the base subject for
// SUBJECT; the first address's mailbox (local part, RFC 5256) for FROM, TO
// and CC; for DISPLAYFROM and DISPLAYTO the first address's display name,
// or its "mailbox@host" when it has none or only blanks (RFC 5957 section
// 3). The first address of a list that starts with a group is the group's
// start marker: its mailbox is the group's name, and so is its display
// value. A missing address sorts as the empty string, first.
func Sort(msgs []Message, criteria []Criterion, opts Options) []uint32 {
	nInts, nKeys := 0, 0
	for _, c := range criteria {
		if isIntField(c.Field) {
			nInts++
		} else {
			nKeys++
		}
	}
	keys := make([]sortKey, len(msgs))
	ints := make([]int64, len(msgs)*nInts)
	strs := make([]Key, len(msgs)*nKeys)
	for i := range msgs {
		m := &msgs[i]
		k := &keys[i]
		k.seq, k.num = m.Seq, number(m, opts)
		k.ints, ints = ints[:nInts:nInts], ints[nInts:]
		k.keys, strs = strs[:nKeys:nKeys], strs[nKeys:]
		ii, ki := 0, 0
		for _, c := range criteria {
			switch c.Field {
			case Arrival:
				k.ints[ii] = m.Arrival.Unix()
			case Date:
				k.ints[ii] = sentDate(m)
			case Size:
				k.ints[ii] = m.Size
			case Subject:
				base, _ := BaseSubject(m.Subject, opts)
				k.keys[ki] = NewKey(base)
			case From:
				k.keys[ki] = NewKey(m.From.Mailbox)
			case To:
				k.keys[ki] = NewKey(m.To.Mailbox)
			case CC:
				k.keys[ki] = NewKey(m.CC.Mailbox)
			case DisplayFrom:
				k.keys[ki] = NewKey(displayName(m.From))
			case DisplayTo:
				k.keys[ki] = NewKey(displayName(m.To))
			}
			if isIntField(c.Field) {
				ii++
			} else {
				ki++
			}
		}
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		ii, ki := 0, 0
		for _, c := range criteria {
			var r int
			if isIntField(c.Field) {
				r = cmp.Compare(a.ints[ii], b.ints[ii])
				ii++
			} else {
				r = a.keys[ki].Compare(b.keys[ki])
				ki++
			}
			if c.Reverse {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]uint32, len(keys))
	for i := range keys {
		out[i] = keys[i].num
	}
	return out
}

func isIntField(f Field) bool { return f == Arrival || f == Date || f == Size }

func number(m *Message, opts Options) uint32 {
	if opts.UID {
		return m.UID
	}
	return m.Seq
}

// sentDate is the message's sent date (RFC 5256 section 2.2) in seconds
// since the epoch, so that zones compare as instants (and a date in the
// year 9999 does not overflow); messages of the same second are in
// sequence-number order.
func sentDate(m *Message) int64 {
	if m.Date.IsZero() {
		return m.Arrival.Unix()
	}
	return m.Date.Unix()
}

// displayName is the DISPLAY sort value of an address (RFC 5957 section
// 3): its display name, else its addr-spec; a group's start marker (no
// host) is the group's name.
func displayName(a Address) string {
	if strings.TrimSpace(a.Name) != "" {
		return a.Name
	}
	if a.Host == "" {
		return a.Mailbox
	}
	return a.Mailbox + "@" + a.Host
}
