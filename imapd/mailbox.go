package imapd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"congthu/store"
)

// errMailboxGone is returned by sync when the mailbox was deleted under
// the sessions that have it selected.
var errMailboxGone = errors.New("imapd: selected mailbox was deleted")

// mailboxState is this process's view of one mailbox that at least one
// session has selected: the messages in UID order as of modseq, and the
// sessions it queues the differences on (tracker.go).
// Whichever session polls first reads the store's change log for all.
type mailboxState struct {
	srv       *Server
	id        int64
	refs      int       // sessions holding it; guarded by srv.mu
	idleSince time.Time // when refs dropped to 0; guarded by srv.mu

	sigMu    sync.Mutex
	changed  chan struct{} // closed (and replaced) when there may be news
	notified int64         // highest modseq announced by a signal
	dirty    bool          // a signal without a modseq came since the last sync

	mu       sync.Mutex // guards the fields below, and the sessions' views and queues; held across a sync
	loaded   bool
	sessions map[*selection]struct{} // that have it selected
	msgs     []msgEntry              // UID order
	modseq   int64                   // msgs reflects every change up to modseq
	synced   time.Time               // when the change log was last read
	flags    map[string]struct{}
	gone     bool
}

// msgEntry is one message in the shared view.
type msgEntry struct {
	uid    uint32
	flags  []string
	modseq int64 // RFC 7162 mod-sequence of the message's last change
}

// acquire returns the shared state of a mailbox, loading it on first use.
// Callers must release it.
func (s *Server) acquire(ctx context.Context, id int64) (*mailboxState, error) {
	s.mu.Lock()
	mb := s.mailboxes[id]
	if mb == nil {
		mb = &mailboxState{srv: s, id: id, changed: make(chan struct{})}
		s.mailboxes[id] = mb
	}
	mb.refs++
	s.mu.Unlock()

	mb.mu.Lock()
	defer mb.mu.Unlock()
	if !mb.loaded {
		if err := mb.loadLocked(ctx); err != nil {
			s.release(mb)
			return nil, err
		}
	}
	return mb, nil
}

// Mailbox states nobody has selected are kept a while, so that a client
// going back and forth between folders re-selects with one change-log read
// instead of reloading the message list.
const (
	idleKeep    = 2 * time.Minute
	idleKeepMax = 128
)

// release drops a reference taken by acquire.
func (s *Server) release(mb *mailboxState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb.refs--
	if mb.refs > 0 {
		return
	}
	now := time.Now()
	mb.idleSince = now
	var (
		idle   int
		oldest *mailboxState
	)
	for id, m := range s.mailboxes {
		if m.refs > 0 {
			continue
		}
		if now.Sub(m.idleSince) > idleKeep || !m.loaded {
			delete(s.mailboxes, id) // expired, or never loaded
			continue
		}
		idle++
		if oldest == nil || m.idleSince.Before(oldest.idleSince) {
			oldest = m
		}
	}
	if idle > idleKeepMax {
		delete(s.mailboxes, oldest.id)
	}
}

// loadLocked reads the mailbox's messages. The modseq is read first, so a
// change racing with the load is seen again by the next sync (harmlessly).
func (mb *mailboxState) loadLocked(ctx context.Context) error {
	st, err := mb.srv.st.Status(ctx, mb.id)
	if err != nil {
		return fmt.Errorf("imapd: load mailbox %d: %w", mb.id, err)
	}
	metas, err := mb.srv.st.Messages(ctx, mb.id)
	if err != nil {
		return fmt.Errorf("imapd: load mailbox %d: %w", mb.id, err)
	}
	mb.msgs = make([]msgEntry, len(metas))
	mb.flags = make(map[string]struct{})
	for i := range metas {
		mb.msgs[i] = msgEntry{uid: metas[i].UID, flags: metas[i].Flags, modseq: metas[i].ModSeq}
		for _, f := range metas[i].Flags {
			mb.flags[f] = struct{}{}
		}
	}
	mb.modseq = st.HighestModSeq
	mb.synced = time.Now()
	mb.loaded = true
	if mb.sessions == nil {
		mb.sessions = make(map[*selection]struct{})
	}
	return nil
}

// signal wakes every session waiting on the mailbox (IDLE): the mailbox
// changed up to modseq (0 if unknown).
func (mb *mailboxState) signal(modseq int64) {
	mb.sigMu.Lock()
	if modseq > 0 {
		mb.notified = max(mb.notified, modseq)
	} else {
		mb.dirty = true
	}
	close(mb.changed)
	mb.changed = make(chan struct{})
	mb.sigMu.Unlock()
}

// waitChan returns a channel closed at the next signal.
func (mb *mailboxState) waitChan() <-chan struct{} {
	mb.sigMu.Lock()
	defer mb.sigMu.Unlock()
	return mb.changed
}

// currentLocked says whether an IDLE session may skip reading the change
// log: another session read it less than maxAge ago and no signal has
// announced a change since. (IDLE reads the log periodically only to make
// up for a lost notice; commands always read it.) mb.mu must be held.
func (mb *mailboxState) currentLocked(maxAge time.Duration) bool {
	mb.sigMu.Lock()
	defer mb.sigMu.Unlock()
	return !mb.dirty && mb.notified <= mb.modseq && time.Since(mb.synced) < maxAge
}

// syncLocked brings msgs up to the store's highest modseq and queues the
// differences on its sessions (tracker.go): FLAGS when new keywords
// appear (RFC 9051 section 7.3.5), before any FETCH that uses them;
// EXPUNGE; FETCH FLAGS for changed messages; then the new messages.
// Flag changes listed in own (UID to modseq) were made by the session
// source and are not queued back to it: it answers them itself (STORE)
// or was asked not to (STORE .SILENT).
func (mb *mailboxState) syncLocked(ctx context.Context, own map[uint32]int64, source *selection) error {
	if mb.gone {
		return errMailboxGone
	}
	mb.sigMu.Lock()
	dirty := mb.dirty
	mb.dirty = false // a signal from now on is after this read
	mb.sigMu.Unlock()
	ch, err := mb.srv.st.ChangesSince(ctx, mb.id, mb.modseq)
	if errors.Is(err, store.ErrNotFound) {
		mb.gone = true
		return errMailboxGone
	}
	if err != nil {
		if dirty {
			mb.sigMu.Lock()
			mb.dirty = true
			mb.sigMu.Unlock()
		}
		return fmt.Errorf("imapd: changes of mailbox %d: %w", mb.id, err)
	}
	mb.synced = time.Now()
	if ch.HighestModSeq <= mb.modseq && len(ch.Changed) == 0 && len(ch.Expunged) == 0 {
		return nil
	}
	queued := false

	// New keywords first.
	newFlag := false
	for i := range ch.Changed {
		for _, f := range ch.Changed[i].Flags {
			if _, ok := mb.flags[f]; !ok {
				mb.flags[f] = struct{}{}
				// System flags are always in FLAGS.
				newFlag = newFlag || !slices.Contains(systemFlags, f)
			}
		}
	}
	if newFlag {
		mb.queueLocked(update{kind: upMailboxFlags, flags: mb.flagNames()}, nil)
		queued = true
	}

	// Expunges, highest UID first.
	if len(ch.Expunged) > 0 {
		gone := make(map[int]struct{}, len(ch.Expunged))
		exp := slices.Clone(ch.Expunged)
		slices.Sort(exp)
		for k := len(exp) - 1; k >= 0; k-- {
			i, ok := mb.index(exp[k])
			if !ok {
				continue // added and expunged before we saw it, or a repeat
			}
			if _, dup := gone[i]; dup {
				continue
			}
			gone[i] = struct{}{}
			mb.queueLocked(update{kind: upExpunge, uid: exp[k]}, nil)
			queued = true
		}
		if len(gone) > 0 {
			kept := mb.msgs[:0]
			for i, m := range mb.msgs {
				if _, ok := gone[i]; !ok {
					kept = append(kept, m)
				}
			}
			clear(mb.msgs[len(kept):])
			mb.msgs = kept
		}
	}

	// Flag changes of known messages; new messages at the end.
	oldCount := len(mb.msgs)
	for _, meta := range ch.Changed {
		last := uint32(0)
		if n := len(mb.msgs); n > 0 {
			last = mb.msgs[n-1].uid
		}
		if meta.UID > last {
			mb.msgs = append(mb.msgs, msgEntry{uid: meta.UID, flags: meta.Flags, modseq: meta.ModSeq})
			continue
		}
		i, ok := mb.index(meta.UID)
		if !ok {
			// A UID below the highest we know that we never saw: the
			// store must allocate UIDs in commit order; it did not.
			mb.srv.log.Warn("imapd: message appeared out of UID order, not shown until reselect",
				"mailbox", mb.id, "uid", meta.UID)
			continue
		}
		mb.msgs[i].modseq = max(mb.msgs[i].modseq, meta.ModSeq)
		if slices.Equal(mb.msgs[i].flags, meta.Flags) {
			continue
		}
		mb.msgs[i].flags = meta.Flags
		if i >= oldCount {
			continue // new in this very sync: the client will FETCH it
		}
		var src *selection
		if ms, ok := own[meta.UID]; ok && ms == meta.ModSeq {
			src = source
		}
		mb.queueLocked(update{kind: upFlags, uid: meta.UID, flags: meta.Flags, modseq: meta.ModSeq}, src)
		queued = true
	}
	for _, m := range mb.msgs[oldCount:] {
		mb.queueLocked(update{kind: upExists, uid: m.uid}, nil)
		queued = true
	}
	if ch.HighestModSeq > mb.modseq {
		mb.modseq = ch.HighestModSeq
	}
	if queued {
		mb.signal(mb.modseq) // other sessions' IDLE has news in its queue
	}
	return nil
}

// index finds a UID in msgs.
func (mb *mailboxState) index(uid uint32) (int, bool) {
	i := sort.Search(len(mb.msgs), func(i int) bool { return mb.msgs[i].uid >= uid })
	return i, i < len(mb.msgs) && mb.msgs[i].uid == uid
}

// lastUID is the highest UID in the view, 0 when empty.
func (mb *mailboxState) lastUID() uint32 {
	if n := len(mb.msgs); n > 0 {
		return mb.msgs[n-1].uid
	}
	return 0
}

// systemFlags are always defined (RFC 9051 section 2.3.2).
var systemFlags = []string{store.FlagAnswered, store.FlagDeleted, store.FlagDraft, store.FlagFlagged, store.FlagSeen}

// flagList is the FLAGS response: system flags and keywords in use.
func (mb *mailboxState) flagList() []imap.Flag { return imapFlags(mb.flagNames()) }

// flagNames is flagList in the store's strings.
func (mb *mailboxState) flagNames() []string {
	set := make(map[string]struct{}, len(mb.flags)+len(systemFlags))
	for _, f := range systemFlags {
		set[f] = struct{}{}
	}
	for f := range mb.flags {
		set[f] = struct{}{}
	}
	l := make([]string, 0, len(set))
	for f := range set {
		l = append(l, f)
	}
	sort.Strings(l)
	return l
}

func imapFlags(l []string) []imap.Flag {
	out := make([]imap.Flag, len(l))
	for i, f := range l {
		out[i] = imap.Flag(f)
	}
	return out
}

// storeFlags turns client flags into the store's spelling: system flags in
// their canonical case, \Recent dropped (the server sets it, RFC 3501
// section 2.3.2), keywords as given, no duplicates.
func storeFlags(in []imap.Flag) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range in {
		s := string(f)
		if strings.HasPrefix(s, `\`) {
			switch strings.ToLower(s) {
			case `\seen`:
				s = store.FlagSeen
			case `\answered`:
				s = store.FlagAnswered
			case `\flagged`:
				s = store.FlagFlagged
			case `\deleted`:
				s = store.FlagDeleted
			case `\draft`:
				s = store.FlagDraft
			default:
				continue // \Recent and unknown system flags
			}
		}
		if k := strings.ToLower(s); !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}
