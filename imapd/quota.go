package imapd

import (
	"strconv"

	"github.com/emersion/go-imap/v2"

	"congthu/imapd/wire"
	"congthu/store"
)

// QUOTA extension (RFC 9208).
//
// An account has one quota root, named "" (RFC 9208 section 3.2 leaves
// the names to the server), which every mailbox of the account belongs
// to. Its one resource is STORAGE (section 5.1): the sum of the sizes of
// the account's messages, in units of 1024 octets, the usage rounded up
// and the limit rounded down, so a client never sees more room than the
// store grants. An account without a limit has no quota root: GETQUOTAROOT
// answers QUOTAROOT with no root name (section 4.3.2) and GETQUOTA ""
// answers NO. Quotas are set by the administrator (`congthu user
// quota`); SETQUOTA answers NO.

// quotaRoot is the name of an account's quota root.
const quotaRoot = ""

// errNoQuotaRoot answers GETQUOTA for a root that does not exist (RFC 9208
// section 4.2.1).
var errNoQuotaRoot = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such quota root"}

// quotaKiB converts the store's bytes to RFC 9208 storage units.
func quotaKiB(q *store.Quota) (usage, limit int64) {
	return (q.Used + 1023) / 1024, q.Limit / 1024
}

// accountQuota reads the logged-in account's usage and limit.
func (s *session) accountQuota() (*store.Quota, error) {
	q, err := s.srv.st.QuotaOf(s.ctx, s.acct.Address)
	if err != nil {
		return nil, s.fail("quota", err)
	}
	return q, nil
}

// writeQuota writes "* QUOTA "" (STORAGE usage limit)".
func (s *session) writeQuota(q *store.Quota) {
	usage, limit := quotaKiB(q)
	s.enc.Untagged().Atom("QUOTA ").String(quotaRoot).Atom(" (STORAGE ").
		Atom(strconv.FormatInt(usage, 10)).SP().Atom(strconv.FormatInt(limit, 10)).Atom(")").CRLF()
}

// getQuotaRoot is GETQUOTAROOT (RFC 9208 section 4.3): the mailbox's
// quota roots, then each root's QUOTA.
func (s *session) getQuotaRoot(a *wire.Mailbox) error {
	s.count()
	if _, err := s.srv.st.Mailbox(s.ctx, s.acct.ID, a.Mailbox); err != nil {
		return s.fail("getquotaroot", err)
	}
	q, err := s.accountQuota()
	if err != nil {
		return err
	}
	s.enc.Untagged().Atom("QUOTAROOT ").Mailbox(a.Mailbox)
	if q.Limit <= 0 {
		s.enc.CRLF()
		return nil
	}
	s.enc.SP().String(quotaRoot).CRLF()
	s.writeQuota(q)
	return nil
}

// getQuota is GETQUOTA (RFC 9208 section 4.2).
func (s *session) getQuota(a *wire.Quota) error {
	s.count()
	if a.Root != quotaRoot {
		return errNoQuotaRoot
	}
	q, err := s.accountQuota()
	if err != nil {
		return err
	}
	if q.Limit <= 0 {
		return errNoQuotaRoot
	}
	s.writeQuota(q)
	return nil
}

// setQuota is SETQUOTA (RFC 9208 section 4.1), which only the
// administrator may use, through the command line.
func (s *session) setQuota(*wire.Quota) error {
	s.count()
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNoPerm, Text: "Quotas are set by the administrator"}
}
