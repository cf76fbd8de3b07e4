package imapd

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"congthu/store"
)

// selection is a session's selected mailbox.
type selection struct {
	mb       *mailboxState
	tracker  *imapserver.SessionTracker
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

// Select opens a mailbox (RFC 9051 section 6.3.2); EXAMINE is read-only
// and claims no \Recent messages.
func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	s.count()
	if s.sel != nil {
		s.unselect()
	}
	mbox, err := s.srv.st.Mailbox(s.ctx, s.acct.ID, name)
	if err != nil {
		return nil, s.fail("select", err)
	}
	mb, err := s.srv.acquire(s.ctx, mbox.ID)
	if err != nil {
		return nil, s.fail("select", err)
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if err := mb.syncLocked(s.ctx, nil, nil); err != nil {
		s.srv.release(mb)
		return nil, s.fail("select", err)
	}
	st, err := s.srv.st.Status(s.ctx, mbox.ID)
	if err != nil {
		s.srv.release(mb)
		return nil, s.fail("select", err)
	}
	sel := &selection{mb: mb, readOnly: options != nil && options.ReadOnly, name: mbox.Name, specialUse: mbox.SpecialUse}
	if !sel.readOnly && st.Recent > 0 {
		from, to, err := s.srv.st.ClaimRecent(s.ctx, mbox.ID)
		if err != nil {
			s.srv.release(mb)
			return nil, s.fail("select", err)
		}
		sel.addRecent(from, to)
	}
	if sel.readOnly && st.Recent > 0 && int(st.Recent) <= len(mb.msgs) {
		// EXAMINE must not take \Recent away (RFC 3501 section 6.3.2),
		// but shows it: the newest st.Recent messages are the ones at or
		// above the mailbox's first recent UID.
		sel.addRecent(mb.msgs[len(mb.msgs)-int(st.Recent)].uid, mb.lastUID()+1)
	}
	sel.recentNext = max(sel.recentNext, mb.lastUID()+1)
	sel.tracker = mb.tracker.NewSession()
	s.sel = sel

	data := &imap.SelectData{
		Flags:          mb.flagList(),
		NumMessages:    uint32(len(mb.msgs)),
		UIDNext:        imap.UID(max(st.UIDNext, mb.lastUID()+1)),
		UIDValidity:    st.UIDValidity,
		PermanentFlags: append(mb.flagList(), imap.FlagWildcard),
	}
	if sel.readOnly {
		data.PermanentFlags = nil
	}
	for i, m := range mb.msgs {
		if data.FirstUnseenSeqNum == 0 && !slices.Contains(m.flags, store.FlagSeen) {
			data.FirstUnseenSeqNum = uint32(i + 1)
		}
		if sel.isRecent(m.uid) {
			data.NumRecent++
		}
	}
	return data, nil
}

// Unselect leaves the mailbox without expunging (RFC 3691; CLOSE has
// expunged before calling it).
func (s *session) Unselect() error {
	s.count()
	if s.sel != nil {
		s.unselect()
	}
	return nil
}

func (s *session) unselect() {
	s.sel.tracker.Close()
	s.srv.release(s.sel.mb)
	s.sel = nil
}

// msgRef is a message of the client's view: its sequence number as the
// client knows it and its UID.
type msgRef struct {
	seq uint32
	uid uint32
}

// resolveLocked turns a sequence or UID set into the messages the client
// knows, in ascending order. "*" is the last message the client knows
// (RFC 9051 section 9, seq-number); "$" is the saved search result.
// mb.mu must be held.
func (sel *selection) resolveLocked(numSet imap.NumSet) []msgRef {
	mb := sel.mb
	if imap.IsSearchRes(numSet) {
		numSet = sel.searchRes
	}
	// The last server-view message the client knows.
	lastIdx, lastSeq := -1, uint32(0)
	for i := len(mb.msgs) - 1; i >= 0; i-- {
		if cs := sel.tracker.EncodeSeqNum(uint32(i + 1)); cs != 0 {
			lastIdx, lastSeq = i, cs
			break
		}
	}
	if lastIdx < 0 {
		return nil
	}
	var refs []msgRef
	switch set := numSet.(type) {
	case imap.SeqSet:
		for _, r := range set {
			start, stop := static(r.Start, r.Stop, lastSeq)
			for cs := start; cs <= stop && cs <= lastSeq; cs++ {
				if ss := sel.tracker.DecodeSeqNum(cs); ss != 0 {
					refs = append(refs, msgRef{seq: cs, uid: mb.msgs[ss-1].uid})
				}
				if cs == ^uint32(0) {
					break
				}
			}
		}
	case imap.UIDSet:
		maxUID := mb.msgs[lastIdx].uid
		for _, r := range set {
			start, stop := static(uint32(r.Start), uint32(r.Stop), maxUID)
			i, _ := mb.index(start)
			for ; i <= lastIdx && mb.msgs[i].uid <= stop; i++ {
				if cs := sel.tracker.EncodeSeqNum(uint32(i + 1)); cs != 0 {
					refs = append(refs, msgRef{seq: cs, uid: mb.msgs[i].uid})
				}
			}
		}
	}
	slices.SortFunc(refs, func(a, b msgRef) int { return int(int64(a.uid) - int64(b.uid)) })
	return slices.CompactFunc(refs, func(a, b msgRef) bool { return a.uid == b.uid })
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

// setFlags changes flags and brings the shared view up to date, keeping
// the change from being echoed back to this session as an unsolicited
// FETCH. It returns the new flags of every resolved message.
func (s *session) setFlags(numSet imap.NumSet, op store.StoreOp, flags []string) ([]msgRef, map[uint32][]string, map[uint32]bool, error) {
	sel := s.sel
	mb := sel.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if err := mb.syncLocked(s.ctx, nil, nil); err != nil {
		return nil, nil, nil, err
	}
	refs := sel.resolveLocked(numSet)
	changed := map[uint32]bool{}
	if len(refs) > 0 && (len(flags) > 0 || op == store.FlagsSet) && mb.flagsWouldChange(refs, op, flags) {
		ups, err := s.srv.st.SetFlags(s.ctx, mb.id, uidsOf(refs), op, flags, 0)
		if err != nil {
			return nil, nil, nil, err
		}
		own := make(map[uint32]int64, len(ups))
		for _, u := range ups {
			own[u.UID] = u.ModSeq
			changed[u.UID] = true
		}
		if err := mb.syncLocked(s.ctx, own, sel.tracker); err != nil {
			return nil, nil, nil, err
		}
	}
	now := make(map[uint32][]string, len(refs))
	for _, r := range refs {
		if i, ok := mb.index(r.uid); ok {
			now[r.uid] = mb.msgs[i].flags
		}
	}
	return refs, now, changed, nil
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

// Store implements STORE (RFC 9051 section 6.4.6). Without .SILENT it
// answers FETCH (FLAGS) for every message named.
func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, _ *imap.StoreOptions) error {
	s.count()
	if s.sel.readOnly {
		return errReadOnly
	}
	var op store.StoreOp
	switch flags.Op {
	case imap.StoreFlagsSet:
		op = store.FlagsSet
	case imap.StoreFlagsAdd:
		op = store.FlagsAdd
	case imap.StoreFlagsDel:
		op = store.FlagsRemove
	}
	refs, now, _, err := s.setFlags(numSet, op, storeFlags(flags.Flags))
	if err != nil {
		return s.fail("store", err)
	}
	if flags.Silent {
		return nil
	}
	_, byUID := numSet.(imap.UIDSet)
	for _, r := range refs {
		f, ok := now[r.uid]
		if !ok {
			continue
		}
		mw := w.CreateMessage(r.seq)
		if byUID {
			mw.WriteUID(imap.UID(r.uid))
		}
		mw.WriteFlags(s.clientFlags(r.uid, f))
		if err := mw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// clientFlags adds \Recent for IMAP4rev1 clients (it is gone in rev2).
func (s *session) clientFlags(uid uint32, flags []string) []imap.Flag {
	out := imapFlags(flags)
	if s.sel.isRecent(uid) && !s.conn.EnabledCaps().Has(imap.CapIMAP4rev2) {
		out = append(out, imap.Flag(`\Recent`))
	}
	return out
}

// Expunge removes \Deleted messages (RFC 9051 section 6.4.3), or those of
// them in uids (UID EXPUNGE, RFC 4315 section 2.1). The EXPUNGE responses
// reach this session through its tracker, written by the poll imapserver
// runs before the tagged OK. In a read-only mailbox it does nothing (CLOSE
// after EXAMINE must not expunge, RFC 9051 section 6.4.1).
func (s *session) Expunge(_ *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
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
func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	s.count()
	dst, err := s.destination(dest)
	if err != nil {
		return nil, err
	}
	refs := s.sel.resolve(numSet)
	if len(refs) == 0 {
		return nil, nil
	}
	res, err := s.srv.st.Copy(s.ctx, s.sel.mb.id, uidsOf(refs), dst.ID)
	if err != nil {
		return nil, s.fail("copy", err)
	}
	s.filed(dst, res, false)
	return copyData(res), nil
}

// Move implements MOVE (RFC 6851): the untagged COPYUID first, then the
// EXPUNGEs (through the tracker, by the poll before the tagged OK). A move
// into the selected mailbox itself gives the messages new UIDs, as
// Dovecot does: COPYUID, the EXPUNGEs of the old UIDs and the EXISTS of
// the new ones.
func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
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
		if err := w.WriteCopyData(d); err != nil {
			return err
		}
	}
	if err := mb.syncLocked(s.ctx, nil, nil); err != nil {
		return s.fail("move", err)
	}
	return nil
}

// Poll brings the selected mailbox up to date and writes what changed
// since this session last heard (RFC 9051 section 7: after every command;
// no EXPUNGE after FETCH, STORE and SEARCH, section 7.5.1).
func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.sel == nil {
		return nil
	}
	claimed, err := s.catchUp()
	if err != nil {
		if errors.Is(err, errMailboxGone) {
			s.conn.Bye("Selected mailbox was deleted")
		}
		return s.fail("poll", err)
	}
	if err := s.sel.tracker.Poll(w, allowExpunge); err != nil {
		return err
	}
	return s.writeRecent(w, claimed)
}

// writeRecent writes the untagged RECENT (IMAP4rev1 only; go-imap leaves
// it out for IMAP4rev2) after the EXISTS of new arrivals this session
// claimed as \Recent.
func (s *session) writeRecent(w *imapserver.UpdateWriter, claimed bool) error {
	if !claimed {
		return nil
	}
	sel := s.sel
	sel.mb.mu.Lock()
	var n uint32
	for _, m := range sel.mb.msgs {
		if sel.isRecent(m.uid) {
			n++
		}
	}
	sel.mb.mu.Unlock()
	return w.WriteNumRecent(n)
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

// Idle implements IDLE (RFC 2177): it writes updates as soon as the store
// (through MailboxChanged), another node (through Redis) or another session of
// this process reports a change, and re-reads the change log every
// Options.IdlePoll in case a notice was lost. An IDLE that lasts
// Options.IdleTimeout ends the connection with BYE.
func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	s.idleMu.Lock()
	if s.closing {
		s.idleMu.Unlock()
		return nil
	}
	done := make(chan struct{})
	s.idleDone = done
	s.idleMu.Unlock()
	defer close(done)
	s.count()
	autologout := time.NewTimer(s.srv.opts.idleTimeout())
	defer autologout.Stop()
	if s.sel == nil {
		select {
		case <-stop:
		case <-s.ctx.Done():
		case <-autologout.C:
			s.conn.Bye("Autologout: idle for too long")
		}
		return nil
	}
	poll := s.srv.opts.idlePoll()
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		ch := s.sel.mb.waitChan()
		if err := s.idlePoll(w, poll/2); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-autologout.C:
			s.conn.Bye("Autologout: idle for too long")
			return nil
		case <-s.ctx.Done():
			return nil
		case <-ch:
		case <-t.C:
			t.Reset(poll)
		}
	}
}

// idlePoll is Poll for IDLE: it skips reading the change log when the
// shared view is current (see mailboxState.currentLocked), which is the
// rule when IDLE starts right after a command and when a sibling session
// has just read the log for a change that woke them all. The store work
// runs on a goroutine of its own, so the long-lived IDLE goroutine keeps
// a small stack (the SQLite driver's frames are large).
func (s *session) idlePoll(w *imapserver.UpdateWriter, maxAge time.Duration) error {
	sel := s.sel
	mb := sel.mb
	mb.mu.Lock()
	current := mb.currentLocked(maxAge) && !(!sel.readOnly && mb.lastUID() >= sel.recentNext && mb.lastUID() > 0)
	mb.mu.Unlock()
	if current {
		return sel.tracker.Poll(w, true)
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
		if errors.Is(err, errMailboxGone) {
			s.conn.Bye("Selected mailbox was deleted")
		}
		return s.fail("poll", err)
	}
	if err := sel.tracker.Poll(w, true); err != nil {
		return err
	}
	return s.writeRecent(w, claimed)
}
