package imapd

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"congthu/envelope"
	"congthu/imapd/wire"
	"congthu/mailtext"
	"congthu/store"
)

// searchNeeds says which data a criteria tree looks at.
type searchNeeds struct {
	meta, header, body bool
	sent               bool // the sent date, from the stored ENVELOPE
}

func (n *searchNeeds) add(c *imap.SearchCriteria) {
	if !c.Since.IsZero() || !c.Before.IsZero() || c.Larger != 0 || c.Smaller != 0 {
		n.meta = true
	}
	if len(c.Header) > 0 || len(c.Text) > 0 {
		n.header = true
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		n.sent = true
	}
	if len(c.Body) > 0 || len(c.Text) > 0 {
		n.body = true
	}
	for i := range c.Not {
		n.add(&c.Not[i])
	}
	for i := range c.Or {
		n.add(&c.Or[i][0])
		n.add(&c.Or[i][1])
	}
}

// searchMsg is one message being matched.
type searchMsg struct {
	ref    msgRef
	flags  []string
	modseq int64
	meta   *store.MessageMeta
	header []byte
	body   string // folded

	parsed     bool
	headerText string // whole header, encoded words decoded, folded

	sent time.Time // the sent date ENVELOPE shows (zero: none)
}

// decodeHeader decodes RFC 2047 encoded words; undecodable text stays.
var decodeHeader = mailtext.DecodeHeader

// text returns the whole header, unfolded, encoded words decoded, folded.
func (m *searchMsg) text() string {
	if !m.parsed {
		m.parsed = true
		h := strings.NewReplacer("\r\n ", " ", "\r\n\t", " ", "\n ", " ", "\n\t", " ").Replace(string(m.header))
		m.headerText = fold(decodeHeader(h))
	}
	return m.headerText
}

// headerFields returns the unfolded values of the fields named key in a
// raw header section (RFC 5322 section 2.2), without parsing the rest.
func headerFields(raw []byte, key string) []string {
	var out []string
	for len(raw) > 0 {
		end := bytes.IndexByte(raw, '\n')
		if end < 0 {
			end = len(raw) - 1
		}
		line := raw[:end+1]
		raw = raw[end+1:]
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			break // end of the header section
		}
		colon := bytes.IndexByte(trimmed, ':')
		if colon <= 0 || line[0] == ' ' || line[0] == '\t' || !strings.EqualFold(string(bytes.TrimRight(trimmed[:colon], " \t")), key) {
			continue
		}
		v := string(bytes.TrimSpace(trimmed[colon+1:]))
		for len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
			end := bytes.IndexByte(raw, '\n')
			if end < 0 {
				end = len(raw) - 1
			}
			v += " " + string(bytes.TrimSpace(raw[:end+1]))
			raw = raw[end+1:]
		}
		out = append(out, v)
	}
	return out
}

// query is a criteria tree with its strings folded once.
type query struct {
	c       *imap.SearchCriteria
	header  []string // folded values of c.Header
	body    []string
	text    []string
	not     []*query
	or      [][2]*query
	seqSets []imap.SeqSet
	uidSets []imap.UIDSet
}

// compile folds the strings and makes the number sets static: "*" is
// lastSeq or lastUID, the largest number in use when the search runs
// (RFC 9051 section 9, seq-number). With no message there is no such
// number, and a range with "*" names nothing, now or later: in an
// update context "UID 5:*" no more matches the messages that arrive
// after the search in an empty mailbox than in a full one.
func (sel *selection) compile(c *imap.SearchCriteria, lastSeq, lastUID uint32) *query {
	q := &query{c: c}
	for _, h := range c.Header {
		q.header = append(q.header, fold(h.Value))
	}
	for _, v := range c.Body {
		q.body = append(q.body, fold(v))
	}
	for _, v := range c.Text {
		q.text = append(q.text, fold(v))
	}
	for _, set := range c.SeqNum {
		if imap.IsSearchRes(set) {
			q.uidSets = append(q.uidSets, sel.searchRes)
			continue
		}
		st := imap.SeqSet{} // not nil: with no range it matches nothing
		for _, r := range set {
			if noStar(r.Start, r.Stop, lastSeq) {
				continue
			}
			a, b := static(r.Start, r.Stop, lastSeq)
			st.AddRange(a, b)
		}
		q.seqSets = append(q.seqSets, st)
	}
	for _, set := range c.UID {
		if imap.IsSearchRes(set) {
			q.uidSets = append(q.uidSets, sel.searchRes)
			continue
		}
		st := imap.UIDSet{}
		for _, r := range set {
			if noStar(uint32(r.Start), uint32(r.Stop), lastUID) {
				continue
			}
			a, b := static(uint32(r.Start), uint32(r.Stop), lastUID)
			st.AddRange(imap.UID(a), imap.UID(b))
		}
		q.uidSets = append(q.uidSets, st)
	}
	for i := range c.Not {
		q.not = append(q.not, sel.compile(&c.Not[i], lastSeq, lastUID))
	}
	for i := range c.Or {
		q.or = append(q.or, [2]*query{sel.compile(&c.Or[i][0], lastSeq, lastUID), sel.compile(&c.Or[i][1], lastSeq, lastUID)})
	}
	return q
}

// noStar reports whether a range has "*" (0) and there is no largest
// number for it to stand for.
func noStar(start, stop, largest uint32) bool {
	return largest == 0 && (start == 0 || stop == 0)
}

// hasSeqSets reports whether q or a query under it has sequence sets.
func (q *query) hasSeqSets() bool {
	if len(q.seqSets) > 0 {
		return true
	}
	for _, n := range q.not {
		if n.hasSeqSets() {
			return true
		}
	}
	for _, o := range q.or {
		if o[0].hasSeqSets() || o[1].hasSeqSets() {
			return true
		}
	}
	return false
}

func dateOnly(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func inDates(t, since, before time.Time) bool {
	d := dateOnly(t)
	if !since.IsZero() && d.Before(dateOnly(since)) {
		return false
	}
	if !before.IsZero() && !d.Before(dateOnly(before)) {
		return false
	}
	return true
}

func hasFlag(flags []string, f imap.Flag) bool {
	for _, x := range flags {
		if strings.EqualFold(x, string(f)) {
			return true
		}
	}
	return false
}

// match evaluates q on m (RFC 9051 section 6.4.4).
func (sel *selection) match(q *query, m *searchMsg) bool {
	c := q.c
	for _, s := range q.seqSets {
		if !s.Contains(m.ref.seq) {
			return false
		}
	}
	for _, s := range q.uidSets {
		if !s.Contains(imap.UID(m.ref.uid)) {
			return false
		}
	}
	for _, f := range c.Flag {
		if strings.EqualFold(string(f), `\Recent`) {
			if !sel.isRecent(m.ref.uid) {
				return false
			}
		} else if !hasFlag(m.flags, f) {
			return false
		}
	}
	if c.ModSeq != nil && uint64(max(m.modseq, 0)) < c.ModSeq.ModSeq {
		return false // RFC 7162 section 3.1.5: at least the given mod-sequence
	}
	for _, f := range c.NotFlag {
		if strings.EqualFold(string(f), `\Recent`) {
			if sel.isRecent(m.ref.uid) {
				return false
			}
		} else if hasFlag(m.flags, f) {
			return false
		}
	}
	if m.meta != nil {
		// The date of the internal date in its own zone, the one it
		// was appended with (RFC 3501 section 6.4.4 ignores time and
		// zone; Dovecot and imaptest's search-intdate read it so).
		if !inDates(m.meta.InternalDate, c.Since, c.Before) {
			return false
		}
		if c.Larger != 0 && m.meta.Size <= c.Larger {
			return false
		}
		if c.Smaller != 0 && m.meta.Size >= c.Smaller {
			return false
		}
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		// The date ENVELOPE shows and SORT (DATE) uses, from the
		// stored envelope (none for a message expunged meanwhile).
		t := m.sent
		if t.IsZero() || !inDates(t, c.SentSince, c.SentBefore) {
			return false
		}
	}
	for i, h := range c.Header {
		if !headerMatch(m.header, h.Key, q.header[i]) {
			return false
		}
	}
	for _, v := range q.body {
		if !foldedMatch(m.body, v) {
			return false
		}
	}
	for _, v := range q.text {
		if foldedMatch(m.body, v) {
			continue
		}
		if !foldedMatch(m.text(), v) {
			return false
		}
	}
	for _, n := range q.not {
		if sel.match(n, m) {
			return false
		}
	}
	for _, o := range q.or {
		if !sel.match(o[0], m) && !sel.match(o[1], m) {
			return false
		}
	}
	return true
}

// headerMatch: a field named key whose decoded value contains the folded
// value; an empty value asks only that the field be present. An address
// field (From, To, ...) also matches through its addresses as ENVELOPE
// reads them (envelope.ParseAddressList): "name <mailbox@host>" without
// the comments, obsolete routes and quoting of the raw field, so that
// SEARCH FROM user@host finds "user(unit)@host".
func headerMatch(raw []byte, key, foldedValue string) bool {
	values := headerFields(raw, key)
	if foldedValue == "" {
		return len(values) > 0
	}
	for _, v := range values {
		if foldedMatch(fold(decodeHeader(v)), foldedValue) {
			return true
		}
	}
	if !addressField(key) {
		return false
	}
	for _, v := range values {
		for _, a := range envelope.ParseAddressList(v) {
			if a.Host == "" {
				continue // a group marker
			}
			addr := a.Mailbox
			if a.Host != envelope.MissingHost { // a bare local part matches as written
				addr += "@" + a.Host
			}
			if foldedMatch(fold(a.Name+" <"+addr+">"), foldedValue) {
				return true
			}
		}
	}
	return false
}

// addressField reports whether key names a header field that holds
// addresses.
func addressField(key string) bool {
	switch strings.ToLower(key) {
	case "from", "sender", "reply-to", "to", "cc", "bcc":
		return true
	}
	return false
}

// Search implements SEARCH and UID SEARCH (RFC 9051 section 6.4.4) with
// ESEARCH return options (RFC 4731), SAVE (RFC 5182), and PARTIAL and
// UPDATE (RFC 5267 section 4, context.go). Flag criteria are
// answered from memory; dates and sizes from the message list; header and
// text criteria from store.SearchTexts, whose body text is pre-folded.
// The answer is SEARCH, or ESEARCH when the client gave RETURN or enabled
// IMAP4rev2.
func (s *session) Search(cmd *wire.Command) error {
	s.count()
	a := cmd.Args.(*wire.Search)
	if err := checkCharset(a.Charset); err != nil {
		return err
	}
	if err := s.checkReturn(cmd.Tag, a.Return); err != nil {
		return err
	}
	byUID := cmd.UID
	sel := s.sel

	var (
		nums      []uint32
		modseqs   []int64
		uidSet    imap.UIDSet
		lo, hi    uint32
		maxModSeq int64
	)
	withModSeq := usesModSeq(&a.Criteria)
	if withModSeq {
		s.enableCondStore()
	}
	matched, q, err := s.matching(&a.Criteria)
	if err != nil {
		return err
	}
	for _, m := range matched {
		uidSet.AddNum(imap.UID(m.ref.uid))
		num := m.ref.seq
		if byUID {
			num = m.ref.uid
		}
		nums = append(nums, num)
		modseqs = append(modseqs, m.modseq)
		maxModSeq = max(maxModSeq, m.modseq)
		if lo == 0 || num < lo {
			lo = num
		}
		hi = num
	}
	ret := a.Return
	if ret != nil && ret.ReturnSave {
		sel.searchRes = uidSet
	}
	e := s.enc
	if ret == nil && !s.rev2 {
		e.Untagged().Atom("SEARCH")
		for _, n := range nums {
			e.SP().Number(n)
		}
		if withModSeq && len(nums) > 0 {
			// RFC 7162 section 3.1.5: the highest mod-sequence of the result.
			e.Atom(" (MODSEQ ").Number64(uint64(maxModSeq)).Atom(")")
		}
		e.CRLF()
		return e.Err()
	}
	o := imap.SearchOptions{}
	var partial *wire.Partial
	update := false
	if ret != nil {
		o, partial, update = ret.SearchOptions, ret.Partial, ret.Update
	}
	if !o.ReturnMin && !o.ReturnMax && !o.ReturnAll && !o.ReturnCount && partial == nil {
		switch {
		case o.ReturnSave && !update:
			return nil // RFC 5182 section 2.1: SAVE alone gives no ESEARCH
		case !update:
			o.ReturnAll = true
		}
		// RFC 5267 section 4.3: UPDATE alone answers an ESEARCH without
		// data; the result comes as ADDTO and REMOVEFROM.
	}
	e.Untagged().Atom("ESEARCH (TAG ").String(cmd.Tag).Atom(")")
	if byUID {
		e.Atom(" UID")
	}
	if o.ReturnMin && len(nums) > 0 {
		e.Atom(" MIN ").Number(lo)
	}
	if o.ReturnMax && len(nums) > 0 {
		e.Atom(" MAX ").Number(hi)
	}
	if o.ReturnAll && len(nums) > 0 {
		var set imap.SeqSet
		for _, n := range nums {
			set.AddNum(n)
		}
		e.Atom(" ALL ").Atom(set.String())
	}
	if partial != nil {
		writePartial(e, partial, nums)
	}
	if o.ReturnCount {
		e.Atom(" COUNT ").Number(uint32(len(nums)))
	}
	if withModSeq && len(nums) > 0 {
		if !o.ReturnAll && !o.ReturnCount && partial == nil {
			// RFC 7162 section 3.1.5: of the messages MIN and MAX name.
			maxModSeq = 0
			if o.ReturnMin {
				maxModSeq = modseqs[0]
			}
			if o.ReturnMax {
				maxModSeq = max(maxModSeq, modseqs[len(modseqs)-1])
			}
		}
		e.Atom(" MODSEQ ").Number64(uint64(maxModSeq))
	}
	e.CRLF()
	if update {
		s.addContext(cmd, &a.Criteria, q, matched, nil, false, nil, nil)
	}
	return e.Err()
}

// checkCharset answers a CHARSET other than those SEARCH, SORT and THREAD
// read (RFC 9051 section 6.4.4: NO [BADCHARSET] with the ones supported).
func checkCharset(charset string) error {
	switch charset {
	case "", "US-ASCII", "UTF-8":
		return nil
	}
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: "BADCHARSET (US-ASCII UTF-8)", Text: "Unsupported charset"}
}

// matching returns the messages of the client's view (with flags as of
// the last sync) that match c, in sequence-number order, and c compiled:
// SEARCH, SORT and THREAD all choose their messages here, and an update
// context keeps the query matching used (context.go). The query's "*" is
// the last message of the view and its "$" the saved result, both as
// they are before the command; its sequence sets are made UID sets (see
// seqSetsToUIDs), so it names the same messages after the view changes.
func (s *session) matching(c *imap.SearchCriteria) ([]*searchMsg, *query, error) {
	sel := s.sel
	mb := sel.mb
	mb.mu.Lock()
	msgs := make([]*searchMsg, 0, len(sel.view))
	for i, uid := range sel.view {
		if k, ok := mb.index(uid); ok {
			msgs = append(msgs, &searchMsg{ref: msgRef{seq: uint32(i + 1), uid: uid}, flags: mb.msgs[k].flags, modseq: mb.msgs[k].modseq})
		}
	}
	var lastSeq, lastUID uint32
	if n := len(sel.view); n > 0 {
		lastSeq, lastUID = uint32(n), sel.view[n-1]
	}
	mb.mu.Unlock()
	q := sel.compile(c, lastSeq, lastUID)
	if q.hasSeqSets() {
		// The view changes only on this session's goroutine, so it is
		// the one just read; this costs the ranges, not the view.
		mb.mu.Lock()
		sel.seqSetsToUIDs(q)
		mb.mu.Unlock()
	}
	if len(msgs) == 0 {
		return nil, q, nil
	}
	var needs searchNeeds
	needs.add(c)
	if err := s.loadSearchData(msgs, needs); err != nil {
		return nil, nil, s.fail("search", err)
	}
	out := msgs[:0]
	for _, m := range msgs {
		if sel.match(q, m) {
			out = append(out, m)
		}
	}
	return out, q, nil
}

// loadSearchData fills in what the criteria need.
func (s *session) loadSearchData(msgs []*searchMsg, needs searchNeeds) error {
	mbID := s.sel.mb.id
	byUID := make(map[uint32]*searchMsg, len(msgs))
	uids := make([]uint32, len(msgs))
	for i, m := range msgs {
		byUID[m.ref.uid] = m
		uids[i] = m.ref.uid
	}
	switch {
	case needs.body:
		for t, err := range s.srv.st.SearchTexts(s.ctx, mbID, uids) {
			if err != nil {
				return err
			}
			if m := byUID[t.UID]; m != nil {
				m.header, m.body = t.Header, t.Body
			}
		}
	case needs.header:
		for msg, err := range s.srv.st.MessagesByUID(s.ctx, mbID, uids, true) {
			if err != nil {
				return err
			}
			if m := byUID[msg.UID]; m != nil {
				m.header = msg.Raw[:min(max(msg.HeaderLen, 0), len(msg.Raw))]
				m.meta = &msg.MessageMeta
			}
		}
	}
	if needs.sent {
		for me, err := range s.srv.st.Envelopes(s.ctx, mbID, uids, true) {
			if err != nil {
				return err
			}
			m := byUID[me.UID]
			if m == nil {
				continue
			}
			t, err := envelope.DecodeDate(me.Envelope)
			if err != nil {
				return fmt.Errorf("imapd: envelope of UID %d: %w", me.UID, err)
			}
			m.sent = t
			if m.meta == nil {
				meta := me.MessageMeta
				m.meta = &meta
			}
		}
	}
	if needs.meta {
		missing := false
		for _, m := range msgs {
			if m.meta == nil {
				missing = true
				break
			}
		}
		if missing {
			metas, err := s.srv.st.Messages(s.ctx, mbID)
			if err != nil {
				return err
			}
			for i := range metas {
				if m := byUID[metas[i].UID]; m != nil {
					m.meta = &metas[i]
				}
			}
		}
		for _, m := range msgs {
			if m.meta == nil {
				m.meta = &store.MessageMeta{} // expunged meanwhile: matches nothing dated
			}
		}
	}
	return nil
}

// usesModSeq reports whether a criteria tree has the MODSEQ key.
func usesModSeq(c *imap.SearchCriteria) bool {
	if c.ModSeq != nil {
		return true
	}
	for i := range c.Not {
		if usesModSeq(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if usesModSeq(&c.Or[i][0]) || usesModSeq(&c.Or[i][1]) {
			return true
		}
	}
	return false
}
