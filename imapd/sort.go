package imapd

import (
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"congthu/envelope"
	"congthu/imapd/sortthread"
	"congthu/imapd/wire"
)

// sortOptions are the server's choices for SORT and THREAD: the base
// subject also drops the reply and forward leaders of Vietnamese mail
// clients ("TL:", "Trả lời:", "CT:", "Chuyển tiếp:"), as RFC 5256 drops
// "Re:" and "Fwd:".
func sortOptions(byUID bool) sortthread.Options {
	return sortthread.Options{UID: byUID, Vietnamese: true}
}

// sortFields maps the decoder's sort keys to sortthread's.
var sortFields = map[wire.SortKey]sortthread.Field{
	wire.SortArrival:     sortthread.Arrival,
	wire.SortCc:          sortthread.CC,
	wire.SortDate:        sortthread.Date,
	wire.SortFrom:        sortthread.From,
	wire.SortSize:        sortthread.Size,
	wire.SortSubject:     sortthread.Subject,
	wire.SortTo:          sortthread.To,
	wire.SortDisplayFrom: sortthread.DisplayFrom,
	wire.SortDisplayTo:   sortthread.DisplayTo,
}

// Sort implements SORT and UID SORT (RFC 5256 section 3) with the keys of
// SORT=DISPLAY (RFC 5957) and ESORT's RETURN options (RFC 5267 section
// 3): MIN, MAX, ALL and COUNT answered by ESEARCH, SAVE (RFC 5182
// section 2.4), and CONTEXT=SORT's PARTIAL and UPDATE (RFC 5267 section
// 4, context.go). The messages are those SEARCH would choose; their sort
// values come from the stored ENVELOPE, the reading FETCH ENVELOPE shows.
func (s *session) Sort(cmd *wire.Command) error {
	s.count()
	a := cmd.Args.(*wire.Sort)
	if err := checkCharset(a.Charset); err != nil {
		return err
	}
	ret := a.Return
	if err := s.checkReturn(cmd.Tag, ret); err != nil {
		return err
	}
	criteria := make([]sortthread.Criterion, len(a.Criteria))
	needEnvelope := false
	for i, c := range a.Criteria {
		f := sortFields[c.Key]
		criteria[i] = sortthread.Criterion{Field: f, Reverse: c.Reverse}
		if f != sortthread.Arrival && f != sortthread.Size {
			needEnvelope = true
		}
	}
	if usesModSeq(&a.Search) {
		s.enableCondStore()
	}
	matched, q, err := s.matching(&a.Search)
	if err != nil {
		return err
	}
	msgs, err := s.sortMessages(matched, needEnvelope, false)
	if err != nil {
		return err
	}
	nums := sortthread.Sort(msgs, criteria, sortOptions(cmd.UID))

	if ret != nil && ret.ReturnSave {
		var set imap.UIDSet
		for _, m := range matched {
			set.AddNum(imap.UID(m.ref.uid))
		}
		s.sel.searchRes = set
	}
	e := s.enc
	if ret == nil {
		e.Untagged().Atom("SORT")
		for _, n := range nums {
			e.SP().Number(n)
		}
		e.CRLF()
		return e.Err()
	}
	o := ret.SearchOptions
	if !o.ReturnMin && !o.ReturnMax && !o.ReturnAll && !o.ReturnCount && ret.Partial == nil {
		switch {
		case o.ReturnSave && !ret.Update:
			return nil // RFC 5182 section 2.1: SAVE alone gives no ESEARCH
		case !ret.Update:
			o.ReturnAll = true // RFC 4731 section 3.1: RETURN () means ALL
		}
	}
	e.Untagged().Atom("ESEARCH (TAG ").String(cmd.Tag).Atom(")")
	if cmd.UID {
		e.Atom(" UID")
	}
	// RFC 5267 section 3.2: MIN and MAX are the first and last messages
	// in sort order, ALL lists them in sort order.
	if o.ReturnMin && len(nums) > 0 {
		e.Atom(" MIN ").Number(nums[0])
	}
	if o.ReturnMax && len(nums) > 0 {
		e.Atom(" MAX ").Number(nums[len(nums)-1])
	}
	if o.ReturnAll && len(nums) > 0 {
		e.Atom(" ALL ")
		writeOrderedSet(e, nums)
	}
	if ret.Partial != nil {
		writePartial(e, ret.Partial, nums)
	}
	if o.ReturnCount {
		e.Atom(" COUNT ").Number(uint32(len(nums)))
	}
	e.CRLF()
	if ret.Update {
		s.addContext(cmd, &a.Search, q, matched, criteria, needEnvelope, msgs, nums)
	}
	return e.Err()
}

// writeOrderedSet writes nums, in their order, as a sequence-set: runs of
// consecutive ascending numbers as ranges ("3:5,1,2"), in pieces, so a
// large answer needs no string of its size.
func writeOrderedSet(e *wire.Encoder, nums []uint32) {
	var b []byte
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(nums[i]), 10)
		if j > i {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(nums[j]), 10)
		}
		i = j + 1
		if len(b) >= 32<<10 {
			e.Atom(string(b))
			b = b[:0]
		}
	}
	e.Atom(string(b))
}

// Thread implements THREAD and UID THREAD (RFC 5256 section 3) with the
// algorithms ORDEREDSUBJECT and REFERENCES. An algorithm the server does
// not advertise is BAD (RFC 5256 section 3: "the server MUST return a
// tagged BAD response").
func (s *session) Thread(cmd *wire.Command) error {
	s.count()
	a := cmd.Args.(*wire.Thread)
	refs := false
	switch a.Algorithm {
	case "REFERENCES":
		refs = true
	case "ORDEREDSUBJECT":
	default:
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unsupported THREAD algorithm"}
	}
	if err := checkCharset(a.Charset); err != nil {
		return err
	}
	if usesModSeq(&a.Search) {
		s.enableCondStore()
	}
	matched, _, err := s.matching(&a.Search)
	if err != nil {
		return err
	}
	msgs, err := s.sortMessages(matched, true, refs)
	if err != nil {
		return err
	}
	opts := sortOptions(cmd.UID)
	var threads []*sortthread.Thread
	if refs {
		threads = sortthread.References(msgs, opts)
	} else {
		threads = sortthread.OrderedSubject(msgs, opts)
	}
	e := s.enc
	e.Untagged().Atom("THREAD")
	if len(threads) > 0 {
		e.SP()
		if err := sortthread.WriteThreads(atomWriter{e}, threads); err != nil {
			return err
		}
	}
	e.CRLF()
	return e.Err()
}

// atomWriter writes through the encoder as atoms (the thread list is
// digits, spaces and parentheses).
type atomWriter struct{ e *wire.Encoder }

func (w atomWriter) Write(p []byte) (int, error) {
	w.e.Atom(string(p))
	if err := w.e.Err(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// sortMessages reads what SORT and THREAD need of the matched messages:
// the internal date and size always; with withEnvelope the Date,
// Subject, first From, To and Cc addresses, Message-ID and In-Reply-To of
// the stored ENVELOPE (computed from the header by envelope.Extract when
// the stored one is missing or old, the reading FETCH ENVELOPE shows);
// with withReferences also the References header field, which the
// envelope does not hold, read in the same query. Messages expunged
// meanwhile by another session are kept with empty values, so every
// number the client knows is answered.
func (s *session) sortMessages(matched []*searchMsg, withEnvelope, withReferences bool) ([]sortthread.Message, error) {
	if len(matched) == 0 {
		return nil, nil
	}
	msgs := make([]sortthread.Message, len(matched))
	at := make(map[uint32]int, len(matched))
	uids := make([]uint32, len(matched))
	for i, m := range matched {
		msgs[i].Seq, msgs[i].UID = m.ref.seq, m.ref.uid
		at[m.ref.uid] = i
		uids[i] = m.ref.uid
	}
	fill := func(m *sortthread.Message, raw, header []byte) {
		var env *envelope.Envelope
		if envelope.Current(raw) {
			var err error
			if env, err = envelope.Decode(raw); err != nil {
				s.srv.log.Warn("imapd: undecodable stored envelope", "uid", m.UID, "err", err)
				env = nil
			}
		}
		if env == nil {
			if header == nil {
				return
			}
			env = envelope.Extract(header)
		}
		m.Date, m.Subject = env.Date, env.Subject
		m.From, m.To, m.CC = firstAddress(env.From), firstAddress(env.To), firstAddress(env.Cc)
		m.MessageID = env.MessageID
		if len(env.InReplyTo) > 0 {
			m.InReplyTo = msgIDList(env.InReplyTo)
		}
	}
	mbID := s.sel.mb.id
	if withReferences {
		for h, err := range s.srv.st.Headers(s.ctx, mbID, uids) {
			if err != nil {
				return nil, s.fail("thread", err)
			}
			i, ok := at[h.UID]
			if !ok {
				continue
			}
			m := &msgs[i]
			m.Arrival, m.Size = h.InternalDate, h.Size
			fill(m, h.Envelope, h.Header)
			if v := headerFields(h.Header, "References"); len(v) > 0 {
				m.References = v[0]
			}
		}
		return msgs, nil
	}
	for me, err := range s.srv.st.Envelopes(s.ctx, mbID, uids, withEnvelope) {
		if err != nil {
			return nil, s.fail("sort", err)
		}
		i, ok := at[me.UID]
		if !ok {
			continue
		}
		m := &msgs[i]
		m.Arrival, m.Size = me.InternalDate, me.Size
		if withEnvelope {
			fill(m, me.Envelope, nil)
		}
	}
	return msgs, nil
}

// firstAddress is the first address of an ENVELOPE address list (RFC
// 5256 section 3: "the first From address"), as ENVELOPE shows it: for a
// list that starts with a group, the group's start marker (RFC 9051
// section 7.5.2: the group's name as the mailbox, no host), so
// "Cc: user2: blah@domain1.org;" sorts as "user2", as in Dovecot.
func firstAddress(list []imap.Address) sortthread.Address {
	if len(list) == 0 {
		return sortthread.Address{}
	}
	a := list[0]
	return sortthread.Address{Name: a.Name, Mailbox: a.Mailbox, Host: a.Host}
}

// msgIDList writes the ids of an ENVELOPE's In-Reply-To (held without
// their angle brackets) back as a header value.
func msgIDList(ids []string) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('<')
		b.WriteString(id)
		b.WriteByte('>')
	}
	return b.String()
}
