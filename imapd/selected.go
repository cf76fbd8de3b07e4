package imapd

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"congthu/imapd/wire"
	"congthu/store"
)

// selection is a session's selected mailbox.
type selection struct {
	mb *mailboxState
	// view and pending are the client's messages and the changes not
	// yet told (tracker.go); guarded by mb.mu.
	view     []uint32
	pending  []update
	readOnly bool
	name     string
	// specialUse is the mailbox's (store.SpecialJunk, …), for the Learner.
	specialUse string

	// \Recent (RFC 3501 section 2.3.2): UID ranges [from, to) this session
	// claimed with store.ClaimRecent, and the UID from which new arrivals
	// have not been claimed yet.
	recent     [][2]uint32
	recentNext uint32

	searchRes imap.UIDSet // RFC 5182 SEARCHRES "$"

	// contexts are the searches kept up to date (RFC 5267, context.go);
	// ctxDirty the messages whose flags this session changed since the
	// contexts were last brought up to date.
	contexts []*searchContext
	ctxDirty []uint32
}

func (sel *selection) isRecent(uid uint32) bool {
	for _, r := range sel.recent {
		if uid >= r[0] && uid < r[1] {
			return true
		}
	}
	return false
}

func (sel *selection) addRecent(from, to uint32) {
	if to > from {
		sel.recent = append(sel.recent, [2]uint32{from, to})
	}
	if to > sel.recentNext {
		sel.recentNext = to
	}
}

// selectCmd opens a mailbox (RFC 9051 section 6.3.2); EXAMINE is
// read-only and claims no \Recent messages. A mailbox already selected is
// closed first, with the untagged OK [CLOSED] (section 7.1).
func (s *session) selectCmd(a *wire.Select) (result, error) {
	s.count()
	if a.QResync != nil {
		if !s.qresync {
			// RFC 7162 section 3.2.5: only after ENABLE QRESYNC.
			return result{}, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "QRESYNC is not enabled"}
		}
		a.Options.CondStore = true
	}
	if s.sel != nil {
		s.unselect()
		s.enc.Status("*", "OK", "CLOSED", "Previous mailbox is now closed")
	}
	mbox, err := s.srv.st.Mailbox(s.ctx, s.acct.ID, a.Mailbox)
	if err != nil {
		return result{}, s.fail("select", err)
	}
	mb, err := s.srv.acquire(s.ctx, mbox.ID)
	if err != nil {
		return result{}, s.fail("select", err)
	}
	mb.mu.Lock()
	if err := mb.syncLocked(s.ctx, nil, nil); err != nil {
		mb.mu.Unlock()
		s.srv.release(mb)
		return result{}, s.fail("select", err)
	}
	// The mailbox's row only: the messages are in mb already, and
	// Status would scan all of them.
	st, err := s.srv.st.MailboxHead(s.ctx, mbox.ID)
	if err != nil {
		mb.mu.Unlock()
		s.srv.release(mb)
		return result{}, s.fail("select", err)
	}
	// The messages at or above the first recent UID are \Recent.
	firstRecent, _ := slices.BinarySearchFunc(mb.msgs, st.FirstRecentUID, func(m msgEntry, uid uint32) int { return cmp.Compare(m.uid, uid) })
	nRecent := len(mb.msgs) - firstRecent
	readOnly := a.Options.ReadOnly
	sel := &selection{mb: mb, readOnly: readOnly, name: mbox.Name, specialUse: mbox.SpecialUse}
	if !readOnly && st.FirstRecentUID < st.UIDNext {
		from, to, err := s.srv.st.ClaimRecent(s.ctx, mbox.ID)
		if err != nil {
			mb.mu.Unlock()
			s.srv.release(mb)
			return result{}, s.fail("select", err)
		}
		sel.addRecent(from, to)
	}
	if readOnly && nRecent > 0 {
		// EXAMINE must not take \Recent away (RFC 3501 section 6.3.2),
		// but shows it.
		sel.addRecent(mb.msgs[firstRecent].uid, mb.lastUID()+1)
	}
	sel.recentNext = max(sel.recentNext, mb.lastUID()+1)
	sel.view = make([]uint32, len(mb.msgs))
	var firstUnseen, recent uint32
	for i, m := range mb.msgs {
		sel.view[i] = m.uid
		if firstUnseen == 0 && !slices.Contains(m.flags, store.FlagSeen) {
			firstUnseen = uint32(i + 1)
		}
		if sel.isRecent(m.uid) {
			recent++
		}
	}
	mb.sessions[sel] = struct{}{}
	flags := mb.flagList()
	uidNext := max(st.UIDNext, mb.lastUID()+1)
	highest := mb.modseq
	mb.mu.Unlock()
	s.sel = sel
	s.state = stateSelected

	e := s.enc
	e.Untagged().Atom("FLAGS ").Flags(flags).CRLF()
	e.Untagged().Number(uint32(len(sel.view))).Atom(" EXISTS").CRLF()
	if !s.rev2 {
		e.Untagged().Number(recent).Atom(" RECENT").CRLF()
		if firstUnseen != 0 {
			e.Status("*", "OK", "UNSEEN "+strconv.FormatUint(uint64(firstUnseen), 10), "First unseen message")
		}
	}
	e.Status("*", "OK", "UIDVALIDITY "+strconv.FormatUint(uint64(st.UIDValidity), 10), "UIDs valid")
	e.Status("*", "OK", "UIDNEXT "+strconv.FormatUint(uint64(uidNext), 10), "Predicted next UID")
	if a.Options.CondStore {
		s.condstore = true
	}
	if s.condstore {
		e.Status("*", "OK", "HIGHESTMODSEQ "+strconv.FormatInt(max(highest, 1), 10), "Highest")
	}
	if q := a.QResync; q != nil && q.UIDValidity == st.UIDValidity {
		if err := s.qresyncSelect(q); err != nil {
			return result{}, err
		}
	}
	if readOnly {
		e.Status("*", "OK", "PERMANENTFLAGS ()", "No permanent flags permitted")
		return result{code: "READ-ONLY", text: "EXAMINE completed"}, nil
	}
	perm := append(flags, imap.FlagWildcard)
	var b strings.Builder
	b.WriteString("PERMANENTFLAGS (")
	for i, f := range perm {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(f))
	}
	b.WriteString(")")
	e.Status("*", "OK", b.String(), "Flags permitted")
	return result{code: "READ-WRITE", text: "SELECT completed"}, nil
}

// unselect leaves the selected mailbox without expunging (RFC 3691
// UNSELECT; CLOSE has expunged before).
func (s *session) unselect() {
	sel := s.sel
	sel.mb.mu.Lock()
	delete(sel.mb.sessions, sel)
	sel.mb.mu.Unlock()
	s.srv.release(sel.mb)
	s.sel = nil
	if s.state == stateSelected {
		s.state = stateAuthenticated
	}
}

// msgRef is a message of the client's view: its sequence number as the
// client knows it and its UID.
type msgRef struct {
	seq uint32
	uid uint32
}

// static replaces "*" (0) by max and orders the range.
func static(start, stop, max uint32) (uint32, uint32) {
	if start == 0 {
		start = max
	}
	if stop == 0 {
		stop = max
	}
	if start > stop {
		start, stop = stop, start
	}
	return start, stop
}

func uidsOf(refs []msgRef) []uint32 {
	out := make([]uint32, len(refs))
	for i, r := range refs {
		out[i] = r.uid
	}
	return out
}

// resolve is resolveLocked under the mailbox lock.
func (sel *selection) resolve(numSet imap.NumSet) []msgRef {
	sel.mb.mu.Lock()
	defer sel.mb.mu.Unlock()
	return sel.resolveLocked(numSet)
}

// flagResult is what setFlags did.
type flagResult struct {
	refs    []msgRef
	flags   map[uint32][]string // the flags of every resolved message now
	modseq  map[uint32]int64    // and its mod-sequence
	changed map[uint32]bool     // whose flags this call changed
	// modified are the messages left alone because they changed after
	// UNCHANGEDSINCE (RFC 7162 section 3.1.3).
	modified []msgRef
}

// setFlags changes flags and brings the shared view up to date, keeping
// the change from being echoed back to this session as an unsolicited
// FETCH. With unchangedSince > 0, a message whose mod-sequence is higher
// is left alone and reported in modified.
func (s *session) setFlags(numSet imap.NumSet, op store.StoreOp, flags []string, unchangedSince int64) (*flagResult, error) {
	sel := s.sel
	mb := sel.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if err := mb.syncLocked(s.ctx, nil, nil); err != nil {
		return nil, err
	}
	res := &flagResult{refs: sel.resolveLocked(numSet), changed: map[uint32]bool{}}
	todo := res.refs
	if unchangedSince > 0 {
		todo = nil
		for _, r := range res.refs {
			if i, ok := mb.index(r.uid); ok && mb.msgs[i].modseq > unchangedSince {
				res.modified = append(res.modified, r)
			} else {
				todo = append(todo, r)
			}
		}
	}
	if len(todo) > 0 && (len(flags) > 0 || op == store.FlagsSet) && (unchangedSince > 0 || mb.flagsWouldChange(todo, op, flags)) {
		ups, err := s.srv.st.SetFlags(s.ctx, mb.id, uidsOf(todo), op, flags, unchangedSince)
		if err != nil {
			return nil, err
		}
		own := make(map[uint32]int64, len(ups))
		for _, u := range ups {
			own[u.UID] = u.ModSeq
			res.changed[u.UID] = true
		}
		sel.flagsChanged(res.changed)
		if err := mb.syncLocked(s.ctx, own, sel); err != nil {
			return nil, err
		}
		if unchangedSince > 0 {
			// Changed by another session between the check and the
			// store's own: the store left them alone.
			for _, r := range todo {
				if i, ok := mb.index(r.uid); ok && !res.changed[r.uid] && mb.msgs[i].modseq > unchangedSince {
					res.modified = append(res.modified, r)
				}
			}
		}
	}
	res.flags = make(map[uint32][]string, len(res.refs))
	res.modseq = make(map[uint32]int64, len(res.refs))
	for _, r := range res.refs {
		if i, ok := mb.index(r.uid); ok {
			res.flags[r.uid] = mb.msgs[i].flags
			res.modseq[r.uid] = mb.msgs[i].modseq
		}
	}
	return res, nil
}

// flagsWouldChange says whether adding or removing system flags changes
// any of the messages as the (just synced) shared view has them, so that
// a STORE or a FETCH BODY[] that changes nothing (the common \Seen on an
// already read message) costs no write transaction. It answers true
// when unsure: for FlagsSet, keywords (the store validates them) and
// messages not in the view. mb.mu must be held.
func (mb *mailboxState) flagsWouldChange(refs []msgRef, op store.StoreOp, flags []string) bool {
	if op != store.FlagsAdd && op != store.FlagsRemove {
		return true
	}
	for _, f := range flags {
		switch f {
		case store.FlagSeen, store.FlagAnswered, store.FlagFlagged, store.FlagDeleted, store.FlagDraft:
		default:
			return true
		}
	}
	for _, r := range refs {
		i, ok := mb.index(r.uid)
		if !ok {
			return true
		}
		for _, f := range flags {
			if slices.Contains(mb.msgs[i].flags, f) != (op == store.FlagsAdd) {
				return true
			}
		}
	}
	return false
}

// Store implements STORE (RFC 9051 section 6.4.6) with RFC 7162's
// UNCHANGEDSINCE. Without .SILENT it answers FETCH (FLAGS) for every
// message named, after the untagged FLAGS of any keyword new to the
// mailbox; with CONDSTORE on, each FETCH carries MODSEQ, and .SILENT still
// answers the changed messages' MODSEQ (RFC 7162 section 3.1.3). Messages
// that failed UNCHANGEDSINCE are listed in OK [MODIFIED ...].
func (s *session) Store(a *wire.Store, byUID bool) (result, error) {
	s.count()
	if s.sel.readOnly {
		return result{}, errReadOnly
	}
	unchangedSince := int64(-1)
	if a.HasUnchangedSince {
		s.enableCondStore()
		unchangedSince = int64(min(a.Options.UnchangedSince, 1<<62))
	}
	var op store.StoreOp
	switch a.Flags.Op {
	case imap.StoreFlagsSet:
		op = store.FlagsSet
	case imap.StoreFlagsAdd:
		op = store.FlagsAdd
	case imap.StoreFlagsDel:
		op = store.FlagsRemove
	}
	// What is queued goes first (see Fetch): the FETCH answers below
	// show the flags of the moment they are set, the newest.
	if err := s.poll(false); err != nil {
		return result{}, err
	}
	var res *flagResult
	var err error
	if unchangedSince == 0 {
		// UNCHANGEDSINCE 0 fails for every message (RFC 7162 section 3.1.3).
		res = &flagResult{refs: s.sel.resolve(a.NumSet)}
		res.modified = res.refs
	} else {
		res, err = s.setFlags(a.NumSet, op, storeFlags(a.Flags.Flags), max(unchangedSince, 0))
		if err != nil {
			return result{}, s.fail("store", err)
		}
	}
	s.writeMailboxFlags()
	modified := make(map[uint32]bool, len(res.modified))
	for _, r := range res.modified {
		modified[r.uid] = true
	}
	for _, r := range res.refs {
		f, ok := res.flags[r.uid]
		if !ok || modified[r.uid] || (a.Flags.Silent && !(s.condstore && res.changed[r.uid])) {
			continue
		}
		e := s.enc.Untagged().Number(r.seq).Atom(" FETCH (")
		if byUID {
			e.Atom("UID ").Number(r.uid).SP()
		}
		if !a.Flags.Silent {
			e.Atom("FLAGS ").Flags(s.clientFlags(r.uid, f))
			if s.condstore {
				e.SP()
			}
		}
		if s.condstore {
			e.Atom("MODSEQ (").Number64(uint64(max(res.modseq[r.uid], 0))).Atom(")")
		}
		e.Atom(")").CRLF()
	}
	if err := s.enc.Err(); err != nil {
		return result{}, err
	}
	if len(res.modified) > 0 {
		var set imap.SeqSet
		for _, r := range res.modified {
			if byUID {
				set.AddNum(r.uid)
			} else {
				set.AddNum(r.seq)
			}
		}
		return result{code: "MODIFIED " + set.String(), text: "Some messages were modified since"}, nil
	}
	return result{}, nil
}

// clientFlags adds \Recent for IMAP4rev1 clients (it is gone in rev2).
func (s *session) clientFlags(uid uint32, flags []string) []imap.Flag {
	out := imapFlags(flags)
	if s.sel.isRecent(uid) && !s.rev2 {
		out = append(out, imap.Flag(`\Recent`))
	}
	return out
}

// Expunge removes \Deleted messages (RFC 9051 section 6.4.3), or those of
// them in uids (UID EXPUNGE, RFC 4315 section 2.1). The EXPUNGE responses
// reach this session through its queue, written by the poll before the
// tagged OK. In a read-only mailbox it does nothing (CLOSE after EXAMINE
// must not expunge, RFC 9051 section 6.4.1).
func (s *session) Expunge(uids *imap.UIDSet) error {
	s.count()
	sel := s.sel
	if sel.readOnly {
		return nil
	}
	mb := sel.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if err := mb.syncLocked(s.ctx, nil, nil); err != nil {
		return s.fail("expunge", err)
	}
	var list []uint32
	if uids != nil {
		list = uidsOf(sel.resolveLocked(*uids))
		if len(list) == 0 {
			return nil
		}
	}
	if _, err := s.srv.st.Expunge(s.ctx, mb.id, list); err != nil {
		return s.fail("expunge", err)
	}
	if err := mb.syncLocked(s.ctx, nil, nil); err != nil {
		return s.fail("expunge", err)
	}
	return nil
}

// destination finds the target of COPY/MOVE; TRYCREATE if missing (RFC
// 9051 section 6.4.7).
func (s *session) destination(name string) (*store.Mailbox, error) {
	dst, err := s.srv.st.Mailbox(s.ctx, s.acct.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	} else if err != nil {
		return nil, s.fail("copy", err)
	}
	return dst, nil
}

// filed tells the Learner of messages copied or moved into dst (see
// Learner).
func (s *session) filed(dst *store.Mailbox, res *store.CopyResult, move bool) {
	l := s.srv.opts.Learner
	if l == nil || res == nil || len(res.DstUIDs) == 0 {
		return
	}
	switch {
	case dst.SpecialUse == store.SpecialJunk:
		l.Filed(s.ctx, dst.ID, res.DstUIDs, true)
	case move && dst.SpecialUse != store.SpecialTrash && s.sel.specialUse == store.SpecialJunk:
		l.Filed(s.ctx, dst.ID, res.DstUIDs, false)
	}
}

func copyData(res *store.CopyResult) *imap.CopyData {
	if res == nil || len(res.DstUIDs) == 0 {
		return nil
	}
	d := &imap.CopyData{UIDValidity: res.UIDValidity}
	for i := range res.SrcUIDs {
		d.SourceUIDs.AddNum(imap.UID(res.SrcUIDs[i]))
		d.DestUIDs.AddNum(imap.UID(res.DstUIDs[i]))
	}
	return d
}

// Copy implements COPY with COPYUID (RFC 4315 section 3).
func (s *session) Copy(numSet imap.NumSet, dest string) (result, error) {
	s.count()
	dst, err := s.destination(dest)
	if err != nil {
		return result{}, err
	}
	refs := s.sel.resolve(numSet)
	if len(refs) == 0 {
		return result{}, nil
	}
	res, err := s.srv.st.Copy(s.ctx, s.sel.mb.id, uidsOf(refs), dst.ID)
	if err != nil {
		return result{}, s.fail("copy", err)
	}
	s.filed(dst, res, false)
	if d := copyData(res); d != nil {
		return result{code: copyUIDCode(d), text: "COPY completed"}, nil
	}
	return result{}, nil
}

// copyUIDCode is the COPYUID response code (RFC 4315 section 3).
func copyUIDCode(d *imap.CopyData) string {
	return fmt.Sprintf("COPYUID %d %s %s", d.UIDValidity, d.SourceUIDs.String(), d.DestUIDs.String())
}

// Move implements MOVE (RFC 6851): the untagged COPYUID first, then the
// EXPUNGEs (through the session's queue, by the poll before the tagged
// OK). A move
// into the selected mailbox itself gives the messages new UIDs, as
// Dovecot does: COPYUID, the EXPUNGEs of the old UIDs and the EXISTS of
// the new ones.
func (s *session) Move(numSet imap.NumSet, dest string) error {
	s.count()
	sel := s.sel
	if sel.readOnly {
		return errReadOnly
	}
	dst, err := s.destination(dest)
	if err != nil {
		return err
	}
	mb := sel.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if err := mb.syncLocked(s.ctx, nil, nil); err != nil {
		return s.fail("move", err)
	}
	refs := sel.resolveLocked(numSet)
	if len(refs) == 0 {
		return nil
	}
	res, err := s.srv.st.Move(s.ctx, mb.id, uidsOf(refs), dst.ID)
	if err != nil {
		return s.fail("move", err)
	}
	s.filed(dst, res, true)
	if d := copyData(res); d != nil {
		s.enc.Status("*", "OK", copyUIDCode(d), "Moved")
	}
	if err := mb.syncLocked(s.ctx, nil, nil); err != nil {
		return s.fail("move", err)
	}
	return nil
}

// poll brings the selected mailbox up to date and writes what changed
// since this session last heard (RFC 9051 section 7: after every command;
// no EXPUNGE after FETCH, STORE and SEARCH, section 7.5.1), then RECENT
// for new arrivals this session claimed (IMAP4rev1 only). A mailbox
// deleted under the session ends it with BYE.
func (s *session) poll(allowExpunge bool) error {
	claimed, err := s.catchUp()
	if err != nil {
		return s.pollFailed(err)
	}
	s.writeTaken(allowExpunge, claimed)
	return s.enc.Err()
}

func (s *session) pollFailed(err error) error {
	if errors.Is(err, errMailboxGone) {
		s.enc.Status("*", "BYE", "", "Selected mailbox was deleted").Flush()
		s.closed = true
		s.nc.Close()
	}
	return s.fail("poll", err)
}

// writeTaken writes the session's queued changes and, when it claimed
// new arrivals as \Recent, the untagged RECENT after their EXISTS.
func (s *session) writeTaken(allowExpunge, claimed bool) {
	sel := s.sel
	sel.mb.mu.Lock()
	var lastUID uint32
	if n := len(sel.view); n > 0 {
		lastUID = sel.view[n-1]
	}
	res := sel.takeLocked(allowExpunge)
	var arrived []uint32
	if len(sel.contexts) > 0 {
		for i := len(sel.view) - 1; i >= 0 && sel.view[i] > lastUID; i-- {
			arrived = append(arrived, sel.view[i])
		}
	}
	var recent uint32
	if claimed {
		for _, uid := range sel.view {
			if sel.isRecent(uid) {
				recent++
			}
		}
	}
	sel.mb.mu.Unlock()
	if len(sel.contexts) > 0 {
		s.writeWithContexts(res, arrived)
	} else {
		s.writeUpdates(res)
	}
	if claimed && !s.rev2 {
		s.enc.Untagged().Number(recent).Atom(" RECENT").CRLF()
	}
}

// catchUp syncs the shared view and claims \Recent for new arrivals;
// claimed says whether it claimed any.
func (s *session) catchUp() (claimed bool, err error) {
	sel := s.sel
	mb := sel.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if err := mb.syncLocked(s.ctx, nil, nil); err != nil {
		return false, err
	}
	if !sel.readOnly && mb.lastUID() >= sel.recentNext && mb.lastUID() > 0 {
		from, to, err := s.srv.st.ClaimRecent(s.ctx, mb.id)
		if err != nil {
			return false, err
		}
		sel.addRecent(from, to)
		claimed = to > from
		if sel.recentNext <= mb.lastUID() {
			sel.recentNext = mb.lastUID() + 1
		}
	}
	return claimed, nil
}

// idlePoll is poll for IDLE: it skips reading the change log when the
// shared view is current (see mailboxState.currentLocked), which is the
// rule when IDLE starts right after a command and when a sibling session
// has just read the log for a change that woke them all. The store work
// runs on a goroutine of its own, so the long-lived IDLE goroutine keeps
// a small stack (the SQLite driver's frames are large).
func (s *session) idlePoll(maxAge time.Duration) error {
	sel := s.sel
	mb := sel.mb
	mb.mu.Lock()
	current := mb.currentLocked(maxAge) && !(!sel.readOnly && mb.lastUID() >= sel.recentNext && mb.lastUID() > 0)
	mb.mu.Unlock()
	if current {
		s.writeTaken(true, false)
		return s.enc.Err()
	}
	done := make(chan error, 1)
	var claimed bool
	go func() {
		defer func() {
			if v := recover(); v != nil {
				s.srv.log.Error("imapd: panic in IDLE poll", "panic", v)
				done <- fmt.Errorf("imapd: panic in IDLE poll: %v", v)
			}
		}()
		var err error
		claimed, err = s.catchUp()
		done <- err
	}()
	if err := <-done; err != nil {
		return s.pollFailed(err)
	}
	s.writeTaken(true, claimed)
	return s.enc.Err()
}

// qresyncSelect tells a client that selected with QRESYNC what changed
// since its mod-sequence (RFC 7162 section 3.2.5.1): the UIDs expunged
// since, as VANISHED (EARLIER), then the flags of the messages changed
// since, each limited to the client's known UIDs when it gave them.
func (s *session) qresyncSelect(q *wire.QResync) error {
	sel := s.sel
	since := int64(min(q.ModSeq, 1<<62))
	ch, err := s.srv.st.ChangesSince(s.ctx, sel.mb.id, since)
	if err != nil {
		return s.fail("select", err)
	}
	known := func(uid uint32) bool { return q.KnownUIDs == nil || q.KnownUIDs.Contains(imap.UID(uid)) }
	var gone imap.UIDSet
	for _, uid := range ch.Expunged {
		if known(uid) {
			gone.AddNum(imap.UID(uid))
		}
	}
	if len(gone) > 0 {
		s.enc.Untagged().Atom("VANISHED (EARLIER) ").Atom(gone.String()).CRLF()
	}
	type changed struct {
		seq, uid uint32
		flags    []string
		modseq   int64
	}
	var list []changed
	mb := sel.mb
	mb.mu.Lock()
	for i, uid := range sel.view {
		if k, ok := mb.index(uid); ok && mb.msgs[k].modseq > since && known(uid) {
			list = append(list, changed{uint32(i + 1), uid, mb.msgs[k].flags, mb.msgs[k].modseq})
		}
	}
	mb.mu.Unlock()
	for _, c := range list {
		s.enc.Untagged().Number(c.seq).Atom(" FETCH (UID ").Number(c.uid).Atom(" FLAGS ").Flags(s.clientFlags(c.uid, c.flags)).
			Atom(" MODSEQ (").Number64(uint64(max(c.modseq, 0))).Atom("))").CRLF()
	}
	return s.enc.Err()
}

// writeVanishedSince answers UID FETCH's VANISHED modifier (RFC 7162
// section 3.2.6): the UIDs of set expunged after since, before the FETCH
// responses.
func (s *session) writeVanishedSince(set imap.NumSet, since uint64) error {
	uids, ok := set.(imap.UIDSet)
	if !ok {
		return nil
	}
	ch, err := s.srv.st.ChangesSince(s.ctx, s.sel.mb.id, int64(min(since, 1<<62)))
	if err != nil {
		return s.fail("fetch", err)
	}
	var gone imap.UIDSet
	for _, uid := range ch.Expunged {
		if uids.Contains(imap.UID(uid)) || containsStar(uids, uid) {
			gone.AddNum(imap.UID(uid))
		}
	}
	if len(gone) > 0 {
		s.enc.Untagged().Atom("VANISHED (EARLIER) ").Atom(gone.String()).CRLF()
	}
	return s.enc.Err()
}

// containsStar: a range ending in "*" (0) covers every UID from its start.
func containsStar(set imap.UIDSet, uid uint32) bool {
	for _, r := range set {
		if r.Stop == 0 && uid >= uint32(r.Start) || r.Start == 0 && uid >= uint32(r.Stop) {
			return true
		}
	}
	return false
}
