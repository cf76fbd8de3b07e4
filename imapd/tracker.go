package imapd

import (
	"slices"
	"sort"

	"github.com/emersion/go-imap/v2"
)

// Sequence numbers. Every session that has a mailbox selected keeps its
// own view: the UIDs of the messages its client knows, in order, so a
// message's sequence number is its place in the view plus one. The shared
// mailboxState reads the store's change log (for all its sessions at
// once) and queues what changed on each session; the session applies its
// queue to its view when it may tell the client: after each command, but
// not an EXPUNGE after FETCH, STORE or SEARCH (RFC 9051 section 7.5.1),
// and at once during IDLE.

// updateKind is the kind of a queued change.
type updateKind uint8

const (
	upExpunge      updateKind = iota + 1 // message uid is gone
	upExists                             // message uid arrived (UIDs only grow)
	upFlags                              // message uid has flags now
	upMailboxFlags                       // the FLAGS list is flags now
)

// update is one change queued on a session.
type update struct {
	kind   updateKind
	uid    uint32
	flags  []string
	modseq int64 // of an upFlags change
}

// queueLocked adds u to every session of the mailbox but source (nil:
// every session). mb.mu must be held.
func (mb *mailboxState) queueLocked(u update, source *selection) {
	for sel := range mb.sessions {
		if sel != source {
			sel.pending = append(sel.pending, u)
		}
	}
}

// out is one untagged response computed under the mailbox lock and
// written after it.
type out struct {
	kind   updateKind
	n      uint32 // sequence number; for upExists the message count
	uid    uint32
	flags  []string
	modseq int64
}

// takeLocked applies the session's queued changes to its view, up to the
// first expunge unless allowExpunge, and returns the responses that tell
// the client. Consecutive arrivals give one EXISTS; consecutive expunges
// are numbered from the highest down, so each number is valid when sent
// and the view is compacted once. mb.mu must be held.
func (sel *selection) takeLocked(allowExpunge bool) []out {
	var res []out
	q := sel.pending
	i := 0
	for i < len(q) {
		u := q[i]
		switch u.kind {
		case upExpunge:
			if !allowExpunge {
				// The rest waits for the expunge, but a FLAGS names no
				// message: it goes now, so no FETCH the command answers
				// shows a keyword the client has not been told of.
				kept := sel.pending[:0]
				for _, u := range q[i:] {
					if u.kind == upMailboxFlags {
						res = append(res, out{kind: upMailboxFlags, flags: u.flags})
					} else {
						kept = append(kept, u)
					}
				}
				clear(sel.pending[len(kept):])
				sel.pending = kept
				return res
			}
			j := i
			for j < len(q) && q[j].kind == upExpunge {
				j++
			}
			idx := make([]int, 0, j-i)
			for _, e := range q[i:j] {
				if k, ok := sel.viewIndex(e.uid); ok {
					idx = append(idx, k)
				}
			}
			slices.Sort(idx)
			idx = slices.Compact(idx)
			for k := len(idx) - 1; k >= 0; k-- {
				res = append(res, out{kind: upExpunge, n: uint32(idx[k] + 1), uid: sel.view[idx[k]]})
			}
			if len(idx) > 0 {
				kept := sel.view[:0]
				next := 0
				for k, uid := range sel.view {
					if next < len(idx) && idx[next] == k {
						next++
						continue
					}
					kept = append(kept, uid)
				}
				sel.view = kept
			}
			i = j
		case upExists:
			for i < len(q) && q[i].kind == upExists {
				if n := len(sel.view); n == 0 || q[i].uid > sel.view[n-1] {
					sel.view = append(sel.view, q[i].uid)
				}
				i++
			}
			res = append(res, out{kind: upExists, n: uint32(len(sel.view))})
		case upFlags:
			// The flags as they are now, not as queued: a FETCH
			// answered meanwhile may have shown newer ones, and a client
			// must not see flags or MODSEQ go back. A message gone from
			// the mailbox gets its EXPUNGE, not stale flags.
			k, ok := sel.viewIndex(u.uid)
			j, ok2 := sel.mb.index(u.uid)
			if ok && ok2 {
				m := &sel.mb.msgs[j]
				res = append(res, out{kind: upFlags, n: uint32(k + 1), uid: u.uid, flags: m.flags, modseq: m.modseq})
			}
			i++
		case upMailboxFlags:
			res = append(res, out{kind: upMailboxFlags, flags: u.flags})
			i++
		default:
			i++
		}
	}
	clear(sel.pending)
	sel.pending = sel.pending[:0]
	return res
}

// viewIndex finds a UID in the session's view.
func (sel *selection) viewIndex(uid uint32) (int, bool) {
	i := sort.Search(len(sel.view), func(i int) bool { return sel.view[i] >= uid })
	return i, i < len(sel.view) && sel.view[i] == uid
}

// writeUpdates writes responses taken by takeLocked. With QRESYNC on, a
// run of expunges is one VANISHED of their UIDs (RFC 7162 section 3.2.10).
func (s *session) writeUpdates(res []out) {
	e := s.enc
	for i := 0; i < len(res); i++ {
		o := res[i]
		switch o.kind {
		case upExpunge:
			if s.qresync {
				var set imap.UIDSet
				for ; i < len(res) && res[i].kind == upExpunge; i++ {
					set.AddNum(imap.UID(res[i].uid))
				}
				i--
				e.Untagged().Atom("VANISHED ").Atom(set.String()).CRLF()
				continue
			}
			e.Untagged().Number(o.n).Atom(" EXPUNGE").CRLF()
		case upExists:
			e.Untagged().Number(o.n).Atom(" EXISTS").CRLF()
		case upFlags:
			e.Untagged().Number(o.n).Atom(" FETCH (UID ").Number(o.uid).Atom(" FLAGS ").Flags(s.clientFlags(o.uid, o.flags))
			if s.condstore {
				// RFC 7162 section 3.1.4: with FLAGS, MODSEQ.
				e.Atom(" MODSEQ (").Number64(uint64(max(o.modseq, 0))).Atom(")")
			}
			e.Atom(")").CRLF()
		case upMailboxFlags:
			e.Untagged().Atom("FLAGS ").Flags(imapFlags(o.flags)).CRLF()
		}
	}
}

// numRange is a range of positions in a view, both ends included.
type numRange struct{ lo, hi int }

// resolveLocked turns a sequence or UID set into the messages the client
// knows that still exist, in ascending order. "*" is the last message the
// client knows (RFC 9051 section 9, seq-number); "$" is the saved search
// result (RFC 5182). Ranges are merged before the view is walked, so a
// set of many overlapping ranges costs no more than the view. mb.mu must
// be held.
func (sel *selection) resolveLocked(numSet imap.NumSet) []msgRef {
	mb := sel.mb
	if imap.IsSearchRes(numSet) {
		numSet = sel.searchRes
	}
	n := len(sel.view)
	if n == 0 {
		return nil
	}
	var rs []numRange
	switch set := numSet.(type) {
	case imap.SeqSet:
		for _, r := range set {
			lo, hi := static(r.Start, r.Stop, uint32(n))
			if lo > uint32(n) {
				continue
			}
			rs = append(rs, numRange{int(lo) - 1, int(min(hi, uint32(n))) - 1})
		}
	case imap.UIDSet:
		maxUID := sel.view[n-1]
		for _, r := range set {
			lo, hi := static(uint32(r.Start), uint32(r.Stop), maxUID)
			i := sort.Search(n, func(i int) bool { return sel.view[i] >= lo })
			j := sort.Search(n, func(i int) bool { return sel.view[i] > hi })
			if i < j {
				rs = append(rs, numRange{i, j - 1})
			}
		}
	}
	slices.SortFunc(rs, func(a, b numRange) int { return a.lo - b.lo })
	var refs []msgRef
	next := 0
	for _, r := range rs {
		for k := max(r.lo, next); k <= r.hi; k++ {
			if _, ok := mb.index(sel.view[k]); ok {
				refs = append(refs, msgRef{seq: uint32(k + 1), uid: sel.view[k]})
			}
		}
		next = max(next, r.hi+1)
	}
	return refs
}

// resolveView is resolve with each message's flags and mod-sequence in
// the shared view, whose keywords the session's queue announces.
func (sel *selection) resolveView(numSet imap.NumSet) ([]msgRef, map[uint32][]string, map[uint32]int64) {
	mb := sel.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	refs := sel.resolveLocked(numSet)
	fl := make(map[uint32][]string, len(refs))
	ms := make(map[uint32]int64, len(refs))
	for _, r := range refs {
		if i, ok := mb.index(r.uid); ok {
			fl[r.uid] = mb.msgs[i].flags
			ms[r.uid] = mb.msgs[i].modseq
		}
	}
	return refs, fl, ms
}

// writeMailboxFlags writes the FLAGS responses queued on the session,
// leaving its other changes queued: a command announces new keywords
// before its own FETCH answers (RFC 9051 section 7.3.5).
func (s *session) writeMailboxFlags() {
	sel := s.sel
	sel.mb.mu.Lock()
	var res []out
	kept := sel.pending[:0]
	for _, u := range sel.pending {
		if u.kind == upMailboxFlags {
			res = append(res, out{kind: upMailboxFlags, flags: u.flags})
		} else {
			kept = append(kept, u)
		}
	}
	clear(sel.pending[len(kept):])
	sel.pending = kept
	sel.mb.mu.Unlock()
	s.writeUpdates(res)
}
