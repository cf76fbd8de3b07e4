package smtpd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	"github.com/emersion/go-smtp"

	"congthu/store"
)

// Bounces takes the bounces coming back to notification mail's return
// path bounce+<id>@<served domain> (notify.Bounces implements it).
type Bounces interface {
	// ReturnPath reports whether address is of the form bounce+<id>@
	// and, if so, the notification it names ("" when none).
	ReturnPath(ctx context.Context, address string) (id string, isReturnPath bool, err error)
	// Record reads a bounce for notification id and records what it
	// says, durably; the MX answers 250 only after it returned nil.
	Record(ctx context.Context, id string, msg io.Reader) (outcome string, err error)
}

// RFC 5321 section 4.5.1 requires postmaster@ of every domain; a domain
// with no account has nowhere to put it.
var errNoPostmaster = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No mailbox receives postmaster mail for this domain yet"}

// roleRcpt handles the recipients the MX knows besides accounts and
// aliases: bounce+<id>@ (a notification's return path) and postmaster@
// and abuse@ (read afresh from the store, not the shared cache). done
// false: an ordinary recipient, for Rcpt to resolve.
func (s *mxSession) roleRcpt(tx *mxTx, to, addr string) (done bool, err error) {
	if b := s.srv.opts.Bounces; b != nil && strings.HasPrefix(addr, "bounce+") {
		id, ok, err := b.ReturnPath(s.ctx, addr)
		if ok || err != nil {
			if err != nil {
				tx.rejected++
				s.srv.log.Error("smtpd: mx recipient", "remote", s.ip.String(), "rcpt", to, "err", err)
				return true, errTemporary
			}
			if id == "" {
				tx.rejected++
				s.srv.log.Info("smtpd: mx recipient", "remote", s.ip.String(), "helo", s.helo, "from", tx.from, "rcpt", to, "result", "unknown return path")
				return true, errNoSuchUser
			}
			tx.bounces = append(tx.bounces, id)
			tx.rcptList = append(tx.rcptList, to)
			tx.rcpts++
			return true, nil
		}
	}
	if !store.IsRoleAddress(addr) {
		return false, nil
	}
	acct, err := s.srv.st.ResolveRecipient(s.ctx, addr)
	switch {
	case errors.Is(err, store.ErrNoPostmaster):
		tx.rejected++
		s.srv.log.Warn("smtpd: mx recipient", "remote", s.ip.String(), "rcpt", to, "result", "no postmaster account")
		return true, errNoPostmaster
	case errors.Is(err, store.ErrNotFound):
		tx.rejected++
		return true, errNoSuchUser
	case err != nil:
		tx.rejected++
		s.srv.log.Error("smtpd: mx recipient", "remote", s.ip.String(), "rcpt", to, "err", err)
		return true, errTemporary
	}
	if !tx.localSeen[acct.ID] {
		if tx.localSeen == nil {
			tx.localSeen = map[int64]bool{}
		}
		tx.localSeen[acct.ID] = true
		tx.local = append(tx.local, store.LocalTarget{AccountID: acct.ID})
	}
	tx.localRcpts = append(tx.localRcpts, localRcpt{addr: to, account: acct.ID})
	tx.rcptList = append(tx.rcptList, to)
	tx.rcpts++
	return true, nil
}

// takeBounces records the transaction's bounces, after the checks and
// before the reply. It returns nil when the message must still go to
// local mailboxes, the 250 when there are none, or the error reply.
func (s *mxSession) takeBounces(tx *mxTx, data []byte, id string, l *txLog) *smtp.SMTPError {
	if len(tx.bounces) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.srv.opts.DeliverTimeout)
	defer cancel()
	var outcomes []string
	for _, n := range tx.bounces {
		out, err := s.srv.opts.Bounces.Record(ctx, n, bytes.NewReader(data))
		if err != nil {
			l.result, l.reply, l.detail = "failed", errTemporary, "record bounce "+n+": "+err.Error()
			s.logTx(tx, *l)
			return errTemporary
		}
		outcomes = append(outcomes, n+": "+out)
	}
	l.action = "bounce " + strings.Join(outcomes, "; ")
	if len(tx.local) > 0 {
		return nil
	}
	ok := &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK " + id}
	l.result, l.reply = "accepted", ok
	s.logTx(tx, *l)
	return ok
}
