package imapd

import (
	"time"

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

// byeRevoked is the text of the untagged BYE (RFC 9051 section 7.1.5)
// that ends a revoked session.
const byeRevoked = "Session ended: the account's credentials changed"

// register puts the session into Options.Sessions after a successful login.
func (s *session) register(acct *store.Account) {
	if s.srv.opts.Sessions == nil {
		return
	}
	s.unregister = s.srv.opts.Sessions.Add(acct.ID, acct.CredentialStamp(), s.revoke)
}

// revoke ends the session: * BYE, the connection closed, the session's
// context cancelled (a command in progress stops; an APPEND not yet
// committed is not acknowledged). A client that does not read gets its
// connection closed without the BYE after 5 s.
func (s *session) revoke() {
	s.srv.log.Info("imap session revoked", "user", s.acct.Address, "ip", s.ip)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.bye(byeRevoked)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.nc.Close()
	}
	s.cancel()
}
