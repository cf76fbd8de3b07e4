package imapd

import (
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"

	"congthu/accountname"
	"congthu/imapd/wire"
	"congthu/store"
)

// delim is the hierarchy separator of mailbox names.
const delim = '/'

// Errors sent to clients. Details go to the log.
var (
	errTryLater  = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Temporary failure, try again later"}
	errNoMailbox = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such mailbox"}
	errReadOnly  = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Mailbox is read-only (EXAMINE)"}
	errOverQuota = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "Over quota: expunge messages to make room"}
	// errListPatternTooLong refuses LIST and LSUB patterns over maxListPattern bytes.
	errListPatternTooLong = &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Mailbox pattern too long"}
)

// fail maps a store error to a reply; unexpected ones are logged.
func (s *session) fail(op string, err error) error {
	switch {
	case errors.Is(err, errMailboxGone):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "Selected mailbox was deleted"}
	case errors.Is(err, store.ErrNotFound):
		return errNoMailbox
	case errors.Is(err, store.ErrExists):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists, Text: "Mailbox already exists"}
	case errors.Is(err, store.ErrMailboxInvalid), errors.Is(err, store.ErrInvalid):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Not allowed for this mailbox name"}
	case errors.Is(err, store.ErrOverQuota):
		// RFC 9208 section 4.3 (APPEND, COPY; the account is the
		// quota root): the message does not fit the storage quota.
		return errOverQuota
	}
	user := ""
	if s.acct != nil {
		user = s.acct.Address
	}
	s.srv.log.Error("imap command failed", "op", op, "user", user, "ip", s.ip, "err", err)
	return errTryLater
}

// Login checks the password through the store, throttled by the login
// limiter. It is only called over TLS (or with AllowInsecureAuth), for
// LOGIN and for AUTHENTICATE PLAIN (RFC 4616).
func (s *session) Login(username, password string) error {
	s.count()
	// The limiter counts the canonical name; the store refuses names
	// that are not canonical (accountname).
	account := accountname.Key(username)
	if s.srv.lim != nil {
		wait, locked := s.srv.lim.Check(s.addr, account)
		if locked {
			s.srv.opts.Metrics.login(loginLocked)
			s.srv.log.Info("imap login", "user", account, "ip", s.ip, "ok", false, "reason", "locked")
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Too many failed logins, try again later"}
		}
		if wait > 0 {
			sleep(s.ctx, wait)
		}
	}
	acct, err := s.authenticate(username, password)
	if err != nil {
		if errors.Is(err, store.ErrAuthFailed) || errors.Is(err, store.ErrDisabled) {
			if s.srv.lim != nil {
				s.srv.lim.Fail(s.addr, account)
			}
			s.srv.opts.Metrics.login(loginFailed)
			reason := "bad credentials"
			if errors.Is(err, store.ErrDisabled) {
				reason = "disabled"
			}
			s.srv.log.Info("imap login", "user", account, "ip", s.ip, "ok", false, "reason", reason)
			return errAuthFailed
		}
		s.srv.opts.Metrics.login(loginError)
		s.srv.log.Error("imap login", "user", account, "ip", s.ip, "ok", false, "err", err)
		return errTryLater
	}
	if s.srv.lim != nil {
		s.srv.lim.Succeed(s.addr, account)
	}
	s.srv.opts.Metrics.login(loginOK)
	s.acct = acct
	s.register(acct)
	s.authed.Store(true)
	s.srv.log.Info("imap login", "user", acct.Address, "ip", s.ip, "ok", true)
	return nil
}

// authenticate checks a password through the store (which bounds the
// argon2id verifications running at once, for SMTP and IMAP alike).
func (s *session) authenticate(account, password string) (*store.Account, error) {
	return s.srv.st.Authenticate(s.ctx, account, password)
}

// AppendLimit is announced as APPENDLIMIT=n (RFC 7889) and enforced by
// the decoder before the literal is read.
func (s *session) AppendLimit() uint32 { return s.srv.opts.appendLimit() }

func isInbox(name string) bool { return strings.EqualFold(name, "INBOX") }

// specialUses maps RFC 6154 attributes to the store's names.
var specialUses = map[imap.MailboxAttr]string{
	imap.MailboxAttrSent:    store.SpecialSent,
	imap.MailboxAttrDrafts:  store.SpecialDrafts,
	imap.MailboxAttrTrash:   store.SpecialTrash,
	imap.MailboxAttrJunk:    store.SpecialJunk,
	imap.MailboxAttrArchive: store.SpecialArchive,
}

// Create makes a mailbox and its missing parents (RFC 9051 section 6.3.4),
// with an RFC 6154 special-use attribute if asked (CREATE-SPECIAL-USE).
func (s *session) Create(name string, options *imap.CreateOptions) error {
	s.count()
	name = strings.TrimSuffix(name, string(delim))
	if isInbox(name) {
		return s.fail("create", store.ErrExists)
	}
	special := ""
	if options != nil && len(options.SpecialUse) > 0 {
		var ok bool
		special, ok = specialUses[options.SpecialUse[0]]
		if !ok || len(options.SpecialUse) > 1 {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: "USEATTR", Text: "Unsupported special-use attribute"}
		}
	}
	if _, err := s.srv.st.CreateMailbox(s.ctx, s.acct.ID, name, special); err != nil {
		return s.fail("create", err)
	}
	return nil
}

// Delete removes a mailbox; INBOX cannot be deleted (RFC 9051 6.3.5).
func (s *session) Delete(name string) error {
	s.count()
	if isInbox(name) {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "INBOX cannot be deleted"}
	}
	if err := s.srv.st.DeleteMailbox(s.ctx, s.acct.ID, name); err != nil {
		return s.fail("delete", err)
	}
	return nil
}

// Rename renames a mailbox and its children; renaming INBOX moves its
// messages (RFC 9051 section 6.3.6).
func (s *session) Rename(from, to string) error {
	s.count()
	to = strings.TrimSuffix(to, string(delim))
	if isInbox(to) {
		return s.fail("rename", store.ErrExists)
	}
	if err := s.srv.st.RenameMailbox(s.ctx, s.acct.ID, from, to); err != nil {
		return s.fail("rename", err)
	}
	return nil
}

// Subscribe adds a name to the subscriptions (RFC 9051 section 6.3.7).
func (s *session) Subscribe(name string) error {
	s.count()
	if err := s.srv.st.SetSubscribed(s.ctx, s.acct.ID, name, true); err != nil {
		return s.fail("subscribe", err)
	}
	return nil
}

// Unsubscribe removes a name from the subscriptions.
func (s *session) Unsubscribe(name string) error {
	s.count()
	if err := s.srv.st.SetSubscribed(s.ctx, s.acct.ID, name, false); err != nil {
		return s.fail("unsubscribe", err)
	}
	return nil
}

// listEntry is one name LIST may report.
type listEntry struct {
	name       string
	mbox       *store.Mailbox // nil: not a mailbox (implied parent, or subscribed only)
	children   bool
	subscribed bool
	// subOutside: has a subscribed descendant that the patterns do not
	// match (RFC 5258 CHILDINFO, the \Noselect parents of LSUB).
	subOutside bool
}

// List implements LIST and LSUB with the RFC 5258 selection and return
// options, RFC 6154 special-use attributes (always returned, section 2),
// RFC 3348 child attributes and RFC 5819 STATUS.
func (s *session) List(a *wire.List, lsub bool) error {
	s.count()
	ref, patterns, options := a.Reference, a.Patterns, &a.Options
	if lsub {
		// LSUB is LIST (SUBSCRIBED) answered as RFC 3501 section 6.3.9 says.
		options.SelectSubscribed = true
	}
	if !a.Extended && len(patterns) == 1 && patterns[0] == "" {
		// RFC 9051 section 6.3.9: the hierarchy delimiter and root.
		s.writeList(lsub, &imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim, Mailbox: ""})
		return s.enc.Err()
	}
	if listPatternsTooLong(patterns) {
		return errListPatternTooLong
	}
	mboxes, err := s.srv.st.Mailboxes(s.ctx, s.acct.ID)
	if err != nil {
		return s.fail("list", err)
	}
	subs, err := s.srv.st.Subscriptions(s.ctx, s.acct.ID)
	if err != nil {
		return s.fail("list", err)
	}
	entries := map[string]*listEntry{}
	get := func(name string) *listEntry {
		e := entries[name]
		if e == nil {
			e = &listEntry{name: name}
			entries[name] = e
		}
		return e
	}
	for i := range mboxes {
		get(mboxes[i].Name).mbox = &mboxes[i]
	}
	for _, n := range subs {
		if isInbox(n) {
			n = "INBOX"
		}
		get(n).subscribed = true
	}
	for name, e := range entries {
		// Parents: implied ones are listed as \Noselect.
		for i := strings.LastIndexByte(name, delim); i > 0; i = strings.LastIndexByte(name[:i], delim) {
			p := get(name[:i])
			if e.mbox != nil {
				p.children = true
			}
		}
	}
	compiled := make([]*listPattern, len(patterns))
	for i, p := range patterns {
		compiled[i] = compileListPattern(delim, ref, p)
	}
	matches := func(name string) bool {
		for _, p := range compiled {
			if p.match(name) {
				return true
			}
		}
		return false
	}
	// A parent is reported for its subscribed descendants (LSUB's
	// \Noselect parent, RFC 3501 section 6.3.9; RECURSIVEMATCH's
	// CHILDINFO, RFC 5258 section 3.5) only when one of them is not a
	// result itself, because the pattern does not match it.
	if options.SelectSubscribed {
		for name, e := range entries {
			if !e.subscribed || matches(name) {
				continue
			}
			for i := strings.LastIndexByte(name, delim); i > 0; i = strings.LastIndexByte(name[:i], delim) {
				entries[name[:i]].subOutside = true
			}
		}
	}
	names := make([]string, 0, len(entries))
	for n, e := range entries {
		if e.mbox == nil && !e.children && !e.subscribed && !e.subOutside {
			continue
		}
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == "INBOX") != (names[j] == "INBOX") {
			return names[i] == "INBOX"
		}
		return names[i] < names[j]
	})

	for _, name := range names {
		e := entries[name]
		if !matches(name) {
			continue
		}
		data := &imap.ListData{Mailbox: name, Delim: delim}
		switch {
		case lsub && !e.subscribed:
			if !e.subOutside {
				continue
			}
			data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
		case options.SelectSubscribed && !e.subscribed:
			if !options.SelectRecursiveMatch || !e.subOutside {
				continue
			}
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		case options.SelectRecursiveMatch && e.subOutside:
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		}
		if options.SelectSpecialUse && (e.mbox == nil || e.mbox.SpecialUse == "") {
			continue
		}
		if !options.SelectSubscribed && e.mbox == nil && !e.children {
			continue // subscribed only: not a LIST result without SUBSCRIBED
		}
		switch {
		case e.mbox == nil && e.children && !slices.Contains(data.Attrs, imap.MailboxAttrNoSelect):
			data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
		case e.mbox == nil && !e.children:
			data.Attrs = append(data.Attrs, imap.MailboxAttrNonExistent)
		}
		if e.children {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if e.subscribed && !lsub && (options.SelectSubscribed || options.ReturnSubscribed) {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		if e.mbox != nil && e.mbox.SpecialUse != "" {
			data.Attrs = append(data.Attrs, imap.MailboxAttr(e.mbox.SpecialUse))
		}
		s.writeList(lsub, data)
		if options.ReturnStatus != nil && e.mbox != nil {
			st, err := s.srv.st.Status(s.ctx, e.mbox.ID)
			if err != nil {
				return s.fail("list", err)
			}
			s.writeStatus(s.statusData(name, st, options.ReturnStatus))
		}
		if err := s.enc.Err(); err != nil {
			return err
		}
	}
	return nil
}

// writeList writes one LIST or LSUB response (RFC 9051 section 7.3.1,
// RFC 5258 section 3.5 CHILDINFO).
func (s *session) writeList(lsub bool, d *imap.ListData) {
	e := s.enc.Untagged()
	if lsub {
		e.Atom("LSUB (")
	} else {
		e.Atom("LIST (")
	}
	for i, a := range d.Attrs {
		if i > 0 {
			e.SP()
		}
		e.Atom(string(a))
	}
	e.Atom(`) "/" `).Mailbox(d.Mailbox)
	if d.ChildInfo != nil && !lsub {
		e.Atom(` (CHILDINFO ("SUBSCRIBED"))`)
	}
	e.CRLF()
}

// writeStatus writes a STATUS response (RFC 9051 section 7.3.3).
func (s *session) writeStatus(d *imap.StatusData) {
	e := s.enc.Untagged().Atom("STATUS ").Mailbox(d.Mailbox).Atom(" (")
	first := true
	item := func(name string, v uint64) {
		if !first {
			e.SP()
		}
		first = false
		e.Atom(name).SP().Number64(v)
	}
	if d.NumMessages != nil {
		item("MESSAGES", uint64(*d.NumMessages))
	}
	if d.NumRecent != nil {
		item("RECENT", uint64(*d.NumRecent))
	}
	if d.UIDNext != 0 {
		item("UIDNEXT", uint64(d.UIDNext))
	}
	if d.UIDValidity != 0 {
		item("UIDVALIDITY", uint64(d.UIDValidity))
	}
	if d.NumUnseen != nil {
		item("UNSEEN", uint64(*d.NumUnseen))
	}
	if d.NumDeleted != nil {
		item("DELETED", uint64(*d.NumDeleted))
	}
	if d.Size != nil {
		item("SIZE", uint64(max(*d.Size, 0)))
	}
	if d.AppendLimit != nil {
		item("APPENDLIMIT", uint64(*d.AppendLimit))
	}
	if d.HighestModSeq != 0 {
		item("HIGHESTMODSEQ", d.HighestModSeq)
	}
	e.Atom(")").CRLF()
}

// Status implements STATUS (RFC 9051 section 6.3.11) from one aggregate
// query of the store.
func (s *session) Status(name string, options *imap.StatusOptions) error {
	s.count()
	mb, err := s.srv.st.Mailbox(s.ctx, s.acct.ID, name)
	if err != nil {
		return s.fail("status", err)
	}
	st, err := s.srv.st.Status(s.ctx, mb.ID)
	if err != nil {
		return s.fail("status", err)
	}
	s.writeStatus(s.statusData(mb.Name, st, options))
	return s.enc.Err()
}

func (s *session) statusData(name string, st *store.MailboxStatus, o *imap.StatusOptions) *imap.StatusData {
	d := &imap.StatusData{Mailbox: name}
	if o.NumMessages {
		d.NumMessages = &st.Messages
	}
	if o.UIDNext {
		d.UIDNext = imap.UID(st.UIDNext)
	}
	if o.UIDValidity {
		d.UIDValidity = st.UIDValidity
	}
	if o.NumUnseen {
		d.NumUnseen = &st.Unseen
	}
	if o.NumDeleted {
		d.NumDeleted = &st.Deleted
	}
	if o.Size {
		d.Size = &st.Size
	}
	if o.NumRecent {
		d.NumRecent = &st.Recent
	}
	if o.AppendLimit {
		l := s.AppendLimit()
		d.AppendLimit = &l
	}
	if o.HighestModSeq {
		s.enableCondStore()
		d.HighestModSeq = uint64(max(st.HighestModSeq, 1))
	}
	return d
}
