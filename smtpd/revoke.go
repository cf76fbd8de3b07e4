package smtpd

import (
	"io"
	"time"

	"github.com/emersion/go-smtp"

	"congthu/store"
)

// SessionRegistry ends logged-in sessions when their account's
// credentials are revoked (password changed, account disabled or removed);
// *revoke.Registry implements it.
type SessionRegistry interface {
	// Add registers a session of accountID that logged in with the
	// account read at stamp; end is called when it must end. remove
	// forgets the session.
	Add(accountID, stamp int64, end func()) (remove func())
}

// errRevoked refuses a message whose session was revoked before it was
// committed; the connection then closes.
var errRevoked = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Session ended: the account's credentials changed"}

// register puts the session into Options.Sessions after a successful AUTH.
func (s *session) register(acct *store.Account) {
	if s.srv.opts.Sessions == nil {
		return
	}
	s.unregister = s.srv.opts.Sessions.Add(acct.ID, acct.CredentialStamp(), s.revoke)
}

// revoke is the session's end function for the registry: outside the
// commit of a message the client is told 421 (RFC 5321 section 3.8) and
// the connection closed, which aborts any transaction (nothing of it was
// acknowledged); during a commit, the message is committed and answered,
// then Reset closes the connection.
func (s *session) revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revoked {
		return
	}
	s.revoked = true
	if s.committing {
		return
	}
	s.endRevokedLocked()
}

// endRevokedLocked tells the client (once) and closes the connection; s.mu
// is held.
func (s *session) endRevokedLocked() {
	if !s.closing {
		s.closing = true
		s.netConn.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(s.netConn, "421 4.7.0 Session ended: the account's credentials changed\r\n")
	}
	if s.tracked != nil {
		s.tracked.Close()
	} else {
		s.netConn.Close()
	}
}

// beginCommit marks the session as committing a message, unless it was
// revoked: then the message is refused with errRevoked.
func (s *session) beginCommit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revoked {
		s.closing = true // the 421 reply says it
		return false
	}
	s.committing = true
	return true
}

func (s *session) endCommit() {
	s.mu.Lock()
	s.committing = false
	s.mu.Unlock()
}

// closeIfRevoked closes a revoked session at a Reset: after the reply to
// a message committed while it was revoked.
func (s *session) closeIfRevoked() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revoked {
		s.endRevokedLocked()
	}
}
