package imapd

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"congthu/accountname"
	"congthu/loginlimit"
	"congthu/store"
)

// delim is the hierarchy separator of mailbox names.
const delim = '/'

// session is one IMAP connection. imapserver calls its methods one at a
// time (IDLE runs in a goroutine of its own while the connection only
// waits for DONE), so its fields need no lock.
type session struct {
	srv     *Server
	conn    *imapserver.Conn
	ip      string // for logs
	addr    netip.Addr
	ctx     context.Context
	cancel  context.CancelFunc
	started time.Time
	cmds    atomic.Int64
	authed  atomic.Bool // logged in (see startLoginTimer)

	acct *store.Account
	sel  *selection
	// unregister leaves Options.Sessions (revoke.go).
	unregister func()

	// imapserver runs Idle in a goroutine and, when the connection drops
	// during IDLE, calls Close without waiting for it; Close waits.
	idleMu   sync.Mutex
	closing  bool
	idleDone chan struct{}
}

var (
	_ imapserver.SessionIMAP4rev2   = (*session)(nil)
	_ imapserver.SessionAppendLimit = (*session)(nil)
)

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	addr := loginlimit.AddrOf(c.NetConn().RemoteAddr())
	ctx, cancel := context.WithCancel(s.ctx)
	sess := &session{srv: s, conn: c, ip: addr.String(), addr: addr, ctx: ctx, cancel: cancel, started: time.Now()}
	sess.startLoginTimer()
	return sess, nil, nil
}

func (s *session) count() { s.cmds.Add(1) }

// Close ends the session: it leaves the selected mailbox and logs one line.
func (s *session) Close() error {
	s.idleMu.Lock()
	s.closing = true
	idle := s.idleDone
	s.idleMu.Unlock()
	s.cancel()
	if s.unregister != nil {
		s.unregister()
	}
	if idle != nil {
		<-idle
	}
	if s.sel != nil {
		s.unselect()
	}
	user := ""
	if s.acct != nil {
		user = s.acct.Address
	}
	s.srv.log.Info("imap session end", "user", user, "ip", s.ip,
		"duration", time.Since(s.started).Round(time.Millisecond), "commands", s.cmds.Load())
	return nil
}

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
// limiter. imapserver only calls it over TLS (or with AllowInsecureAuth),
// for LOGIN and for AUTHENTICATE PLAIN (RFC 4616).
func (s *session) Login(username, password string) error {
	s.count()
	// The limiter counts the canonical name; the store refuses names
	// that are not canonical (accountname).
	account := accountname.Key(username)
	if s.srv.lim != nil {
		wait, locked := s.srv.lim.Check(s.addr, account)
		if locked {
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
			reason := "bad credentials"
			if errors.Is(err, store.ErrDisabled) {
				reason = "disabled"
			}
			s.srv.log.Info("imap login", "user", account, "ip", s.ip, "ok", false, "reason", reason)
			return imapserver.ErrAuthFailed
		}
		s.srv.log.Error("imap login", "user", account, "ip", s.ip, "ok", false, "err", err)
		return errTryLater
	}
	if s.srv.lim != nil {
		s.srv.lim.Succeed(s.addr, account)
	}
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
// imapserver before the literal is read.
func (s *session) AppendLimit() uint32 { return s.srv.opts.appendLimit() }

// Namespace: one personal namespace, no prefix (RFC 2342).
func (s *session) Namespace() (*imap.NamespaceData, error) {
	s.count()
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: delim}}}, nil
}

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
func (s *session) Rename(from, to string, _ *imap.RenameOptions) error {
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

// isLSub reports whether w answers LSUB rather than LIST (SUBSCRIBED):
// go-imap calls List for both with the same options and keeps the
// difference in an unexported field, which is read here until congthu
// parses IMAP commands itself.
func isLSub(w *imapserver.ListWriter) bool {
	f := reflect.ValueOf(w).Elem().FieldByName("lsub")
	return f.IsValid() && f.Kind() == reflect.Bool && f.Bool()
}

// List implements LIST and LSUB with the RFC 5258 selection and return
// options, RFC 6154 special-use attributes (always returned, section 2),
// RFC 3348 child attributes and RFC 5819 STATUS.
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	s.count()
	if len(patterns) == 0 || (len(patterns) == 1 && patterns[0] == "") {
		// RFC 9051 section 6.3.9: the hierarchy delimiter and root.
		// imapserver drops an empty pattern of a plain LIST (an empty
		// LIST-EXTENDED pattern list is its syntax error), so LIST ""
		// "" arrives without patterns; LSUB passes it as it is.
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim, Mailbox: ""})
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

	lsub := isLSub(w)
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
		if options.ReturnStatus != nil && e.mbox != nil {
			st, err := s.srv.st.Status(s.ctx, e.mbox.ID)
			if err != nil {
				return s.fail("list", err)
			}
			data.Status = s.statusData(name, st, options.ReturnStatus)
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// Status implements STATUS (RFC 9051 section 6.3.11) from one aggregate
// query of the store.
func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	s.count()
	mb, err := s.srv.st.Mailbox(s.ctx, s.acct.ID, name)
	if err != nil {
		return nil, s.fail("status", err)
	}
	st, err := s.srv.st.Status(s.ctx, mb.ID)
	if err != nil {
		return nil, s.fail("status", err)
	}
	return s.statusData(mb.Name, st, options), nil
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
	return d
}

// Append stores a message (RFC 9051 section 6.3.12) and returns its UID
// for APPENDUID (RFC 4315 section 3). A missing mailbox answers TRYCREATE.
func (s *session) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	s.count()
	mb, err := s.srv.st.Mailbox(s.ctx, s.acct.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	} else if err != nil {
		return nil, s.fail("append", err)
	}
	raw, err := io.ReadAll(io.LimitReader(r, int64(s.AppendLimit())+1))
	if err != nil {
		return nil, err // connection trouble: imapserver closes it
	}
	if len(raw) > int(s.AppendLimit()) {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "Message too big"}
	}
	if len(raw) == 0 {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Empty message"}
	}
	res, err := s.srv.st.Append(s.ctx, mb.ID, raw, storeFlags(options.Flags), options.Time)
	if err != nil {
		return nil, s.fail("append", err)
	}
	return &imap.AppendData{UID: imap.UID(res.UID), UIDValidity: res.UIDValidity}, nil
}
