package imapd

import (
	"cmp"
	"errors"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/emersion/go-imap/v2"

	"congthu/imapd/sortthread"
	"congthu/imapd/wire"
	"congthu/store"
)

// CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 section 4).
//
// PARTIAL low:high returns the positions low..high of the result (of the
// sorted result for SORT). UPDATE keeps the search as an update context of
// the selected mailbox, named by the command's tag: when a message enters
// or leaves the result (it arrives, is expunged, or its flags change so
// that it matches or stops matching, by this session or any other) the
// client is told by an unsolicited ESEARCH with ADDTO or REMOVEFROM,
// written where the session writes its other untagged updates (after each
// command, during IDLE). A context ends with CANCELUPDATE or when the
// mailbox is left (SELECT, EXAMINE, CLOSE, UNSELECT, logout).
//
// A change costs the changed messages, not the mailbox: only they are
// matched again, with their texts read from the store when the criteria
// need them; a SORT context keeps its result's sort values in memory and
// places a message that enters it by binary search.

// maxUpdateContexts is how many update contexts a session may hold; one
// more is refused with NOUPDATE (RFC 5267 section 4.3.1).
const maxUpdateContexts = 16

// maxContextBytes bounds the memory the update contexts of a session
// keep: 4 bytes for each message of a result, and for SORT each
// message's sort values (some 290 bytes and the texts its sort keys
// read; see sortValueBytes), some 110,000 messages sorted by subject. A
// context that would take more is refused, or ended when a change makes
// it grow past the bound, with an untagged NO [NOUPDATE] (RFC 5267
// section 4.3.1). A variable for tests.
var maxContextBytes = 32 << 20

// searchContext is one search kept up to date (RFC 5267 section 4.3).
type searchContext struct {
	tag string
	uid bool // UID SEARCH or UID SORT: the numbers are UIDs
	// criteria and q are the search, compiled once by matching: its "*"
	// and "$" are those of the moment of the search, its sequence sets
	// UID sets.
	criteria *imap.SearchCriteria
	q        *query
	needs    searchNeeds
	modseq   bool // the criteria have MODSEQ (RFC 7162 section 3.1.5)
	// members are the UIDs of the result, ascending.
	members []uint32

	// SORT only: the result in sort order, each message with Seq set to
	// its UID (the tie-break of sequence order is that of UID order).
	sorted       bool
	sortCriteria []sortthread.Criterion
	needEnvelope bool
	order        []*sortthread.Message
	// orderBytes is what order keeps, by sortValueBytes.
	orderBytes int
	// orderUIDs are the UIDs of order, in its order: found by a scan of
	// 4-byte values rather than of pointers to messages all over memory.
	orderUIDs []uint32
}

// errPartialNegative refuses RFC 9394's ranges counted from the end,
// which the server does not offer (it advertises no PARTIAL).
var errPartialNegative = &imap.Error{Type: imap.StatusResponseTypeBad, Text: "PARTIAL range broken: negative ranges are not supported"}

// checkReturn refuses the RETURN options RFC 5267 and the server's
// limits do not allow together: PARTIAL with ALL, negative PARTIAL
// ranges, and UPDATE on a tag that already names an update context.
func (s *session) checkReturn(tag string, ret *wire.SearchReturn) error {
	if ret == nil {
		return nil
	}
	if p := ret.Partial; p != nil {
		if p.Low <= 0 || p.High <= 0 || p.Low > 1<<32-1 || p.High > 1<<32-1 {
			return errPartialNegative
		}
		if ret.ReturnAll {
			return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "PARTIAL conflicts with ALL"}
		}
	}
	if ret.Update && s.sel != nil && s.sel.context(tag) != nil {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Duplicate search update tag"}
	}
	return nil
}

// context returns the update context named tag, or nil.
func (sel *selection) context(tag string) *searchContext {
	for _, c := range sel.contexts {
		if c.tag == tag {
			return c
		}
	}
	return nil
}

// writePartial writes " PARTIAL (low:high numbers)" (RFC 5267 section
// 4.4): the positions low..high (1-based, swapped when given high first)
// of nums, in their order, or NIL when none is in range.
func writePartial(e *wire.Encoder, p *wire.Partial, nums []uint32) {
	lo, hi := uint32(p.Low), uint32(p.High)
	if lo > hi {
		lo, hi = hi, lo
	}
	e.Atom(" PARTIAL (").Number(lo).Atom(":").Number(hi).SP()
	if int(lo) > len(nums) {
		e.Atom("NIL)")
		return
	}
	writeOrderedSet(e, nums[lo-1:min(int(hi), len(nums))])
	e.Atom(")")
}

// addContext keeps a search as an update context. q is the search as
// matching compiled it and matched its result in sequence order; for
// SORT, sorted is it in sort order (numbers as sortthread.Sort returned
// them) with msgs their sort values. Over the bounds the search stands
// but is not kept, and the client is told with an untagged NO [NOUPDATE
// "tag"] (RFC 5267 section 4.3.1).
func (s *session) addContext(cmd *wire.Command, criteria *imap.SearchCriteria, q *query, matched []*searchMsg, sortCriteria []sortthread.Criterion, needEnvelope bool, msgs []sortthread.Message, sorted []uint32) {
	sel := s.sel
	if len(sel.contexts) >= maxUpdateContexts {
		s.noUpdate(cmd.Tag, "Too many update contexts")
		return
	}
	c := &searchContext{tag: cmd.Tag, uid: cmd.UID, criteria: criteria, q: q, modseq: usesModSeq(criteria)}
	c.needs.add(criteria)
	c.members = make([]uint32, len(matched))
	for i, m := range matched {
		c.members[i] = m.ref.uid
	}
	if sortCriteria != nil {
		c.sorted, c.sortCriteria, c.needEnvelope = true, sortCriteria, needEnvelope
		at := make(map[uint32]int, len(msgs))
		for i := range msgs {
			n := msgs[i].Seq
			if cmd.UID {
				n = msgs[i].UID
			}
			at[n] = i
		}
		c.order = make([]*sortthread.Message, 0, len(sorted))
		c.orderUIDs = make([]uint32, 0, len(sorted))
		for _, n := range sorted {
			m := &msgs[at[n]]
			m.Seq = m.UID // sequence order is UID order
			c.keepSortValues(m)
			c.order = append(c.order, m)
			c.orderUIDs = append(c.orderUIDs, m.UID)
			c.orderBytes += sortValueBytes(m)
		}
	}
	if sel.contextBytes()+c.bytes() > maxContextBytes {
		s.noUpdate(cmd.Tag, "Result too large to keep up to date")
		return
	}
	sel.contexts = append(sel.contexts, c)
}

// noUpdate tells the client that the update context tag is not kept, or
// no longer (RFC 5267 section 4.3.1).
func (s *session) noUpdate(tag, text string) {
	s.enc.Untagged().Atom("NO [NOUPDATE ").String(tag).Atom("] ").Atom(text).CRLF()
}

// bytes is the memory context c keeps, as maxContextBytes counts it.
func (c *searchContext) bytes() int {
	return 4*len(c.members) + c.orderBytes
}

// contextBytes is the memory the session's update contexts keep.
func (sel *selection) contextBytes() int {
	n := 0
	for _, c := range sel.contexts {
		n += c.bytes()
	}
	return n
}

// sortValueBytes is the memory a message of a SORT context keeps: its
// sort values, their texts, and its place in order and orderUIDs.
func sortValueBytes(m *sortthread.Message) int {
	n := int(unsafe.Sizeof(*m)) + int(unsafe.Sizeof(m)) + 4
	n += len(m.Subject) + len(m.MessageID) + len(m.InReplyTo) + len(m.References)
	for _, a := range [...]*sortthread.Address{&m.From, &m.To, &m.CC} {
		n += len(a.Name) + len(a.Mailbox) + len(a.Host)
	}
	return n
}

// keepSortValues makes m hold only what the context's sort keys read,
// in memory of its own: the texts of a decoded envelope are parts of
// one string of the whole envelope, which a kept substring would keep
// whole; Message-ID and In-Reply-To are THREAD's, and times lose their
// zone (the keys read instants).
func (c *searchContext) keepSortValues(m *sortthread.Message) {
	var subject, from, to, cc bool
	for _, k := range c.sortCriteria {
		switch k.Field {
		case sortthread.Subject:
			subject = true
		case sortthread.From, sortthread.DisplayFrom:
			from = true
		case sortthread.To, sortthread.DisplayTo:
			to = true
		case sortthread.CC:
			cc = true
		}
	}
	keep := func(a *sortthread.Address, need bool) {
		if !need {
			*a = sortthread.Address{}
			return
		}
		a.Name, a.Mailbox, a.Host = strings.Clone(a.Name), strings.Clone(a.Mailbox), strings.Clone(a.Host)
	}
	if subject {
		m.Subject = strings.Clone(m.Subject)
	} else {
		m.Subject = ""
	}
	keep(&m.From, from)
	keep(&m.To, to)
	keep(&m.CC, cc)
	m.MessageID, m.InReplyTo, m.References = "", "", ""
	m.Arrival, m.Date = m.Arrival.UTC(), m.Date.UTC()
}

// compare orders two messages of a SORT context as SORT does, by asking
// sortthread.Sort to order the pair (each message's Seq is its UID).
func (c *searchContext) compare(a, b *sortthread.Message) int {
	if a.UID == b.UID {
		return 0
	}
	nums := sortthread.Sort([]sortthread.Message{*a, *b}, c.sortCriteria, sortOptions(true))
	if nums[0] == a.UID {
		return -1
	}
	return 1
}

// cancelUpdate is CANCELUPDATE (RFC 5267 section 4.3.5): the named update
// contexts end. A tag that names none is BAD ("no such search"), and then
// none of the tags given is cancelled.
func (s *session) cancelUpdate(a *wire.CancelUpdate) error {
	s.count()
	sel := s.sel
	for _, tag := range a.Tags {
		if sel == nil || sel.context(tag) == nil {
			return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "No such update context: " + tag}
		}
	}
	for _, tag := range a.Tags {
		sel.contexts = slices.DeleteFunc(sel.contexts, func(c *searchContext) bool { return c.tag == tag })
	}
	if len(sel.contexts) == 0 {
		sel.contexts, sel.ctxDirty = nil, nil
	}
	return nil
}

// flagsChanged notes messages whose flags this session changed: its own
// changes reach it through no queue, and may move them into or out of a
// context.
func (sel *selection) flagsChanged(uids map[uint32]bool) {
	if len(sel.contexts) == 0 {
		return
	}
	for uid := range uids {
		sel.ctxDirty = append(sel.ctxDirty, uid)
	}
}

// writeWithContexts writes the responses taken from the session's queue
// with what they change in its update contexts: REMOVEFROM for expunged
// members just before their EXPUNGE (while their sequence numbers are
// valid), then, after them all, ADDTO and REMOVEFROM for the messages
// that arrived or whose flags changed, numbered in the final view.
// arrived are the UIDs the responses add to the view.
func (s *session) writeWithContexts(res []out, arrived []uint32) {
	sel := s.sel
	changed := sel.ctxDirty
	sel.ctxDirty = nil
	start := 0
	for i := 0; i < len(res); {
		switch res[i].kind {
		case upExpunge:
			j := i
			for j < len(res) && res[j].kind == upExpunge {
				j++
			}
			s.writeUpdates(res[start:i])
			s.contextsExpunged(res[i:j])
			s.writeUpdates(res[i:j])
			start, i = j, j
			continue
		case upFlags:
			changed = append(changed, res[i].uid)
		}
		i++
	}
	s.writeUpdates(res[start:])
	s.contextsMatch(append(changed, arrived...))
}

// esearchHead starts an unsolicited ESEARCH of context c.
func (s *session) esearchHead(c *searchContext) *wire.Encoder {
	e := s.enc.Untagged().Atom("ESEARCH (TAG ").String(c.tag).Atom(")")
	if c.uid {
		e.Atom(" UID")
	}
	return e
}

// contextsExpunged takes expunged messages (a run of upExpunge, each
// numbered as valid before the run) out of the contexts and tells the
// client, before the EXPUNGEs.
func (s *session) contextsExpunged(run []out) {
	for _, c := range s.sel.contexts {
		var gone []out
		for _, o := range run {
			if _, ok := slices.BinarySearch(c.members, o.uid); ok {
				gone = append(gone, o)
			}
		}
		if len(gone) == 0 {
			continue
		}
		slices.SortFunc(gone, func(a, b out) int { return cmp.Compare(a.uid, b.uid) })
		uids := make([]uint32, len(gone))
		byUID := make(map[uint32]out, len(gone))
		for i, o := range gone {
			uids[i] = o.uid
			byUID[o.uid] = o
		}
		c.members = removeSorted(c.members, uids)
		var removed []placed
		if c.sorted {
			removed = c.removeOrdered(uids)
		}
		e := s.esearchHead(c)
		if c.sorted {
			writeRuns(e, "REMOVEFROM", runs(removed, false), func(uid uint32) uint32 { return c.number(byUID[uid]) })
		} else {
			var set imap.SeqSet
			for _, o := range gone {
				set.AddNum(c.number(o))
			}
			e.Atom(" REMOVEFROM (0 ").Atom(set.String()).Atom(")")
		}
		e.CRLF()
	}
}

// number is how context c names an expunged message.
func (c *searchContext) number(o out) uint32 {
	if c.uid {
		return o.uid
	}
	return o.n
}

// placed is a message of a SORT context and its 1-based position.
type placed struct {
	pos int
	uid uint32
}

// removeOrdered takes uids (ascending) out of a SORT context's order in
// one pass and returns them in the order of their places, each with the
// position it has once those before it are gone: read in that order,
// each REMOVEFROM is valid.
func (c *searchContext) removeOrdered(uids []uint32) []placed {
	var out []placed
	w := 0
	for r, uid := range c.orderUIDs {
		if _, ok := slices.BinarySearch(uids, uid); ok {
			out = append(out, placed{pos: w + 1, uid: uid})
			c.orderBytes -= sortValueBytes(c.order[r])
			continue
		}
		if w != r {
			c.order[w], c.orderUIDs[w] = c.order[r], uid
		}
		w++
	}
	clear(c.order[w:])
	c.order, c.orderUIDs = c.order[:w], c.orderUIDs[:w]
	return out
}

// insertOrdered puts msgs into a SORT context's order in one pass and
// returns them in the order of their places, each with its final
// position: read in that order, each ADDTO is valid.
func (c *searchContext) insertOrdered(msgs []*sortthread.Message) []placed {
	for _, m := range msgs {
		c.orderBytes += sortValueBytes(m)
	}
	if len(msgs) > bulkInsert {
		return c.resort(msgs)
	}
	slices.SortFunc(msgs, c.compare)
	// Where each goes in the old order; ascending, as msgs are sorted.
	at := make([]int, len(msgs))
	lo := 0
	for i, m := range msgs {
		lo += sort.Search(len(c.order)-lo, func(j int) bool { return c.compare(m, c.order[lo+j]) < 0 })
		at[i] = lo
	}
	// Merge in place from the back: old message i goes after msgs[j]
	// when i >= at[j].
	n := len(c.order)
	c.order = append(c.order, make([]*sortthread.Message, len(msgs))...)
	c.orderUIDs = append(c.orderUIDs, make([]uint32, len(msgs))...)
	i, w := n-1, n+len(msgs)-1
	for j := len(msgs) - 1; j >= 0; w-- {
		if i >= at[j] {
			c.order[w], c.orderUIDs[w] = c.order[i], c.orderUIDs[i]
			i--
		} else {
			c.order[w], c.orderUIDs[w] = msgs[j], msgs[j].UID
			j--
		}
	}
	out := make([]placed, len(msgs))
	for j, m := range msgs {
		out[j] = placed{pos: at[j] + j + 1, uid: m.UID}
	}
	return out
}

// placedRun is messages of a SORT context at consecutive positions from
// pos, in order: one ADDTO or REMOVEFROM item (RFC 5267 sections 4.3.3
// and 4.3.4).
type placedRun struct {
	pos  int
	uids []uint32
}

// runs groups placed messages, as removeOrdered or insertOrdered return
// them, into items: insertions at pos, pos+1, ... are one run, and so
// are removals each at the position the one before left (pos, pos, ...).
func runs(ps []placed, adding bool) []placedRun {
	var out []placedRun
	for i, p := range ps {
		if i > 0 {
			prev := ps[i-1].pos
			if adding && p.pos == prev+1 || !adding && p.pos == prev {
				r := &out[len(out)-1]
				r.uids = append(r.uids, p.uid)
				continue
			}
		}
		out = append(out, placedRun{pos: p.pos, uids: []uint32{p.uid}})
	}
	return out
}

// writeRuns writes runs as " kind (pos numbers)" items, numbers in order.
func writeRuns(e *wire.Encoder, kind string, rs []placedRun, num func(uint32) uint32) {
	for _, r := range rs {
		nums := make([]uint32, len(r.uids))
		for i, uid := range r.uids {
			nums[i] = num(uid)
		}
		e.SP().Atom(kind).Atom(" (").Number(uint32(r.pos)).SP()
		writeOrderedSet(e, nums)
		e.Atom(")")
	}
}

// bulkInsert is how many messages insertOrdered places one by one (each
// a binary search of pairwise comparisons, which compute both messages'
// keys); more are merged by one sortthread.Sort of the whole result.
const bulkInsert = 64

// resort is insertOrdered for many messages: the result and msgs sorted
// together once.
func (c *searchContext) resort(msgs []*sortthread.Message) []placed {
	all := make([]sortthread.Message, 0, len(c.order)+len(msgs))
	byUID := make(map[uint32]*sortthread.Message, len(c.order)+len(msgs))
	for _, m := range c.order {
		all = append(all, *m)
		byUID[m.UID] = m
	}
	isNew := make(map[uint32]bool, len(msgs))
	for _, m := range msgs {
		all = append(all, *m)
		byUID[m.UID] = m
		isNew[m.UID] = true
	}
	uids := sortthread.Sort(all, c.sortCriteria, sortOptions(true))
	c.order = c.order[:0]
	c.orderUIDs = c.orderUIDs[:0]
	out := make([]placed, 0, len(msgs))
	for i, uid := range uids {
		c.order = append(c.order, byUID[uid])
		c.orderUIDs = append(c.orderUIDs, uid)
		if isNew[uid] {
			out = append(out, placed{pos: i + 1, uid: uid})
		}
	}
	return out
}

// removeSorted removes the sorted values del from the sorted list.
func removeSorted(list, del []uint32) []uint32 {
	out := list[:0]
	j := 0
	for _, v := range list {
		for j < len(del) && del[j] < v {
			j++
		}
		if j < len(del) && del[j] == v {
			continue
		}
		out = append(out, v)
	}
	return out
}

// contextsMatch matches the messages uids (changed or arrived, in the
// session's view) against every context again and tells the client of
// those that entered or left a result. Their texts are read from the
// store once, when some context needs them. A context whose messages
// cannot be read ends with NOUPDATE.
func (s *session) contextsMatch(uids []uint32) {
	sel := s.sel
	if len(uids) == 0 || len(sel.contexts) == 0 {
		return
	}
	slices.Sort(uids)
	uids = slices.Compact(uids)
	mb := sel.mb
	mb.mu.Lock()
	msgs := make([]*searchMsg, 0, len(uids))
	for _, uid := range uids {
		k, inView := sel.viewIndex(uid)
		j, ok := mb.index(uid)
		if !inView || !ok {
			continue // expunged: its EXPUNGE will say it
		}
		msgs = append(msgs, &searchMsg{ref: msgRef{seq: uint32(k + 1), uid: uid}, flags: mb.msgs[j].flags, modseq: mb.msgs[j].modseq})
	}
	mb.mu.Unlock()
	if len(msgs) == 0 {
		return
	}
	var needs searchNeeds
	for _, c := range sel.contexts {
		needs.meta = needs.meta || c.needs.meta
		needs.header = needs.header || c.needs.header
		needs.body = needs.body || c.needs.body
		needs.sent = needs.sent || c.needs.sent
	}
	if err := s.loadContextData(msgs, needs); err != nil {
		s.srv.log.Warn("imapd: update contexts end", "err", err)
		for _, c := range sel.contexts {
			s.noUpdate(c.tag, "Search updates stopped")
		}
		sel.contexts = nil
		return
	}
	var failed []*searchContext
	for _, c := range sel.contexts {
		err := s.contextMatch(c, msgs)
		switch {
		case errors.Is(err, errContextFull):
			s.noUpdate(c.tag, "Result too large to keep up to date")
			failed = append(failed, c)
		case err != nil:
			s.srv.log.Warn("imapd: update context ends", "tag", c.tag, "err", err)
			s.noUpdate(c.tag, "Search updates stopped")
			failed = append(failed, c)
		}
	}
	sel.contexts = slices.DeleteFunc(sel.contexts, func(c *searchContext) bool { return slices.Contains(failed, c) })
}

// loadContextData is loadSearchData for a few messages: dates and sizes
// come from their own rows, not from the whole mailbox's.
func (s *session) loadContextData(msgs []*searchMsg, needs searchNeeds) error {
	if needs.meta {
		byUID := make(map[uint32]*searchMsg, len(msgs))
		uids := make([]uint32, len(msgs))
		for i, m := range msgs {
			byUID[m.ref.uid] = m
			uids[i] = m.ref.uid
		}
		for me, err := range s.srv.st.Envelopes(s.ctx, s.sel.mb.id, uids, false) {
			if err != nil {
				return err
			}
			if m := byUID[me.UID]; m != nil {
				meta := me.MessageMeta
				m.meta = &meta
			}
		}
		for _, m := range msgs {
			if m.meta == nil {
				m.meta = &store.MessageMeta{} // expunged meanwhile
			}
		}
	}
	return s.loadSearchData(msgs, needs)
}

// errContextFull ends an update context that a change made grow past
// maxContextBytes.
var errContextFull = errors.New("update contexts over their memory bound")

// contextMatch tells the client of the messages of msgs that entered or
// left context c: REMOVEFROM then ADDTO, on one ESEARCH line. When that
// makes the session's contexts keep more than maxContextBytes, it says
// nothing and returns errContextFull: c is to end.
func (s *session) contextMatch(c *searchContext, msgs []*searchMsg) error {
	var added, removed []*searchMsg
	for _, m := range msgs {
		_, was := slices.BinarySearch(c.members, m.ref.uid)
		if is := s.sel.match(c.q, m); is != was {
			if is {
				added = append(added, m)
			} else {
				removed = append(removed, m)
			}
		}
	}
	if len(added) == 0 && len(removed) == 0 {
		return nil
	}
	num := func(m *searchMsg) uint32 {
		if c.uid {
			return m.ref.uid
		}
		return m.ref.seq
	}
	var gone []uint32
	for _, m := range removed {
		gone = append(gone, m.ref.uid)
	}
	c.members = removeSorted(c.members, gone)
	for _, m := range added {
		i, _ := slices.BinarySearch(c.members, m.ref.uid)
		c.members = slices.Insert(c.members, i, m.ref.uid)
	}
	if !c.sorted {
		if s.sel.contextBytes() > maxContextBytes {
			return errContextFull
		}
		e := s.esearchHead(c)
		if len(removed) > 0 {
			var set imap.SeqSet
			for _, m := range removed {
				set.AddNum(num(m))
			}
			e.Atom(" REMOVEFROM (0 ").Atom(set.String()).Atom(")")
		}
		if len(added) > 0 {
			var set imap.SeqSet
			var highest int64
			for _, m := range added {
				set.AddNum(num(m))
				highest = max(highest, m.modseq)
			}
			e.Atom(" ADDTO (0 ").Atom(set.String()).Atom(")")
			if c.modseq {
				// RFC 7162 section 3.1.5: the highest mod-sequence of
				// the messages the response names.
				e.Atom(" MODSEQ ").Number64(uint64(max(highest, 0)))
			}
		}
		e.CRLF()
		return e.Err()
	}
	byUID := make(map[uint32]*searchMsg, len(msgs))
	for _, m := range msgs {
		byUID[m.ref.uid] = m
	}
	out := c.removeOrdered(gone)
	var in []placed
	if len(added) > 0 {
		sm, err := s.sortMessages(added, c.needEnvelope, false)
		if err != nil {
			return err
		}
		ptrs := make([]*sortthread.Message, len(sm))
		for i := range sm {
			sm[i].Seq = sm[i].UID // sequence order is UID order
			c.keepSortValues(&sm[i])
			ptrs[i] = &sm[i]
		}
		in = c.insertOrdered(ptrs)
	}
	if s.sel.contextBytes() > maxContextBytes {
		return errContextFull
	}
	e := s.esearchHead(c)
	numOf := func(uid uint32) uint32 { return num(byUID[uid]) }
	writeRuns(e, "REMOVEFROM", runs(out, false), numOf)
	writeRuns(e, "ADDTO", runs(in, true), numOf)
	e.CRLF()
	return e.Err()
}

// seqSetsToUIDs makes the sequence-number criteria of a query (compiled
// against the current view) name the messages they name now as UIDs:
// later expunges shift sequence numbers, and in an update context a
// message keeps matching or not by what it is, not by where it moved.
// The range lo:hi of the view is the UID range view[lo-1]:view[hi-1]:
// the view is in UID order and a message joins it with a UID above all
// of it (RFC 9051 section 2.3.1.1), so no other message ever falls in
// that range. The cost is the ranges, whatever the size of the view.
// mb.mu must be held.
func (sel *selection) seqSetsToUIDs(q *query) {
	n := len(sel.view)
	for _, set := range q.seqSets {
		uids := imap.UIDSet{} // with no range it matches nothing
		for _, r := range set {
			lo, hi := max(int(r.Start), 1), min(int(r.Stop), n)
			if lo > hi {
				continue
			}
			// The ranges of a set are ascending and apart, so are these.
			uids = append(uids, imap.UIDRange{Start: imap.UID(sel.view[lo-1]), Stop: imap.UID(sel.view[hi-1])})
		}
		q.uidSets = append(q.uidSets, uids)
	}
	q.seqSets = nil
	for _, n := range q.not {
		sel.seqSetsToUIDs(n)
	}
	for _, o := range q.or {
		sel.seqSetsToUIDs(o[0])
		sel.seqSetsToUIDs(o[1])
	}
}
