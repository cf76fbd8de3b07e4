package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"congthu/accountname"
	"congthu/internal/mailaddr"
	"congthu/mailhdr"
	"congthu/store"
)

// Replies. Texts are generic on purpose: the details are logged.
var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	// RFC 4954 section 6.
	errEncryptionRequired = &smtp.SMTPError{Code: 538, EnhancedCode: smtp.EnhancedCode{5, 7, 11}, Message: "Encryption required for requested authentication mechanism"}
	errAuthInvalid        = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
	errAuthLocked         = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many failed logins, try again later"}
	errAuthTemp           = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure"}
	errAuthzid            = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authorization identity not supported"}
	errSenderNotOwned     = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender address not allowed for this account"}
	errAccountRate        = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many messages from this account, try again later"}
	errNonASCII           = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 6, 7}, Message: "Non-ASCII addresses are not supported"}
	errBadRecipient       = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad recipient address syntax"}
	errNoSuchUser         = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	errTooManyRcpts       = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Too many recipients"}
	errTemporary          = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
	errShuttingDown       = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down"}
	errLineTooLong        = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Line too long"}
)

// backend creates a session per EHLO (and again after STARTTLS).
type backend struct{ srv *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	srv := b.srv
	if srv.isDraining() {
		return nil, errShuttingDown
	}
	s := &session{srv: srv, sessionConn: newSessionConn(srv.ctx, c, srv.opts.Metrics.submission)}
	if s.tracked != nil {
		s.tracked.setSession(s)
	}
	return s, nil
}

// session is one client's SMTP session between EHLO and QUIT/STARTTLS.
// go-smtp calls its methods from the connection's goroutine; mu guards
// what Shutdown looks at from its own goroutine.
type session struct {
	srv *Server
	sessionConn

	account *store.Account // set by a successful AUTH

	// Per-session answers of the store, so that a client sending many
	// messages over one connection costs one Deliver each. Used by one
	// goroutine at a time: for BDAT, go-smtp runs Data on a goroutine of
	// its own but waits for it after the last chunk, and Data looks at
	// these only after reading that chunk.
	sendAs   map[string]bool
	isLocal  map[string]bool
	resolved map[string]int64 // local address -> account ID

	mu sync.Mutex   // guards tx, sessionConn.closing, revoked and committing
	tx *transaction // from MAIL until the transaction ends

	// Revocation (revoke.go): unregister leaves Options.Sessions;
	// revoked is set when the account's credentials were revoked;
	// committing while Data commits a message.
	unregister func()
	revoked    bool
	committing bool
}

// transaction is one MAIL/RCPT/DATA exchange. Mail and Rcpt fill it in on
// the connection's goroutine; Data only reads it (go-smtp runs Data on a
// goroutine of its own for BDAT, after the last RCPT).
type transaction struct {
	start      time.Time
	from       string
	local      []store.LocalTarget
	localSeen  map[int64]bool
	localRcpts []localRcpt // for a DSN about those over quota
	remote     []string
	remoteSeen map[string]bool
	rcpts      int // accepted RCPTs
	rejected   int // refused RCPTs
	logged     atomic.Bool
}

// authAllowed: over TLS, or from loopback when AllowInsecureAuth is set.
func (s *session) authAllowed() bool {
	return s.tls != nil || (s.srv.opts.AllowInsecureAuth && s.ip.IsLoopback())
}

func (s *session) user() string {
	if s.account == nil {
		return ""
	}
	return s.account.Address
}

// AuthMechanisms implements smtp.AuthSession. Nothing is advertised before
// TLS (RFC 4954 section 4: no plaintext mechanisms over an unencrypted
// connection).
func (s *session) AuthMechanisms() []string {
	if !s.authAllowed() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth implements smtp.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if !s.authAllowed() {
		s.srv.log.Info("smtpd: login", "remote", s.ip.String(), "mech", mech, "result", "refused", "reason", "no TLS")
		s.srv.opts.Metrics.logins.Refused.Inc()
		return nil, errEncryptionRequired
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			// RFC 4616 section 2: we do not support acting as another
			// user; an authzid equal to the authcid is fine.
			if identity != "" && identity != username {
				s.srv.log.Info("smtpd: login", "remote", s.ip.String(), "user", logUser(username), "mech", mech, "result", "fail", "reason", "authzid")
				s.srv.opts.Metrics.logins.Failed.Inc()
				return errAuthzid
			}
			return s.login(mech, username, password)
		}), nil
	case sasl.Login:
		return &loginServer{auth: func(username, password string) error {
			return s.login(mech, username, password)
		}}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// login verifies a password through the limiter and the store. The
// limiter counts the canonical name (accountname.Key), the store refuses
// any name that is not canonical after trimming and lowering its case.
func (s *session) login(mech, username, password string) error {
	log := s.srv.log.With("remote", s.ip.String(), "user", logUser(username), "mech", mech, "tls", s.tlsVersion())
	key := accountname.Key(username)
	lim := s.srv.lim
	count := s.srv.opts.Metrics.logins
	if lim != nil {
		wait, locked := lim.Check(s.ip, key)
		if locked {
			log.Warn("smtpd: login", "result", "locked")
			count.Locked.Inc()
			return errAuthLocked
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return errShuttingDown
			}
		}
	}
	acct, err := s.srv.st.Authenticate(s.ctx, username, password)
	switch {
	case err == nil:
		if lim != nil {
			lim.Succeed(s.ip, key)
		}
		s.account = acct
		s.register(acct)
		log.Info("smtpd: login", "result", "ok")
		count.OK.Inc()
		return nil
	case errors.Is(err, store.ErrAuthFailed), errors.Is(err, store.ErrDisabled):
		if lim != nil {
			lim.Fail(s.ip, key)
		}
		log.Info("smtpd: login", "result", "fail", "reason", err.Error())
		count.Failed.Inc()
		return errAuthInvalid
	default:
		log.Error("smtpd: login", "result", "error", "err", err)
		count.Error.Inc()
		return errAuthTemp
	}
}

// logUser bounds what an unauthenticated client can put in the log.
func logUser(u string) string {
	if len(u) > 100 {
		u = u[:100] + "..."
	}
	return u
}

// Mail implements smtp.Session: MAIL FROM (RFC 5321 section 4.1.1.2).
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	s.Reset() // a MAIL without RSET starts over
	tx := &transaction{start: time.Now(), from: from}
	s.mu.Lock()
	if s.closing || s.srv.isDraining() {
		s.mu.Unlock()
		return errShuttingDown
	}
	s.tx = tx
	s.mu.Unlock()

	if s.account == nil {
		return s.rejectMail(errAuthRequired, "not authenticated")
	}
	if !mailaddr.IsASCII(from) {
		return s.rejectMail(errNonASCII, "non-ASCII MAIL FROM")
	}
	if from == "" {
		// An authenticated user has no business sending bounces.
		return s.rejectMail(errSenderNotOwned, "null reverse-path")
	}
	ok, err := s.canSendAs(s.ctx, from)
	if err != nil {
		return s.rejectMail(errTemporary, "can send as: "+err.Error())
	}
	if !ok {
		return s.rejectMail(errSenderNotOwned, "MAIL FROM not owned")
	}
	if r := s.srv.perAccount; r != nil && !r.allow(s.account.ID, tx.start) {
		s.srv.log.Warn("smtpd: account over its hourly message limit", "account", s.account.Address, "ip", s.ip.String(),
			"limit", s.srv.opts.MaxMessagesPerAccountPerHour)
		return s.rejectMail(errAccountRate, "account message rate")
	}
	return nil
}

func (s *session) rejectMail(e *smtp.SMTPError, detail string) error {
	s.logTx(s.transaction(), "rejected", e, detail, 0, "")
	s.endTx()
	return e
}

// transaction returns the current transaction (nil outside one).
func (s *session) transaction() *transaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tx
}

// rcpt is Rcpt's checks (RFC 5321 section 4.1.1.3).
func (s *session) rcpt(to string, opts *smtp.RcptOptions) error {
	tx := s.transaction()
	if s.account == nil || tx == nil {
		return errAuthRequired
	}
	if tx.rcpts >= s.srv.opts.MaxRecipients {
		tx.rejected++
		return errTooManyRcpts
	}
	if !mailaddr.IsASCII(to) {
		tx.rejected++
		return errNonASCII
	}
	at := strings.LastIndexByte(to, '@')
	if at <= 0 || at == len(to)-1 {
		tx.rejected++
		return errBadRecipient
	}
	addr := strings.ToLower(to)
	local, ok := s.isLocal[addr[at+1:]]
	var err error
	if !ok {
		local, err = s.srv.st.IsLocalDomain(s.ctx, addr[at+1:])
		if err == nil {
			s.isLocal = remember(s.isLocal, addr[at+1:], local)
		}
	}
	if err != nil {
		tx.rejected++
		s.srv.log.Error("smtpd: recipient", "remote", s.ip.String(), "user", s.user(), "err", err)
		return errTemporary
	}
	if !local {
		if !tx.remoteSeen[addr] {
			if tx.remoteSeen == nil {
				tx.remoteSeen = map[string]bool{}
			}
			tx.remoteSeen[addr] = true
			tx.remote = append(tx.remote, to)
		}
		tx.rcpts++
		return nil
	}
	id, ok := s.resolved[addr]
	if !ok {
		var acct *store.Account
		acct, err = s.srv.st.ResolveRecipient(s.ctx, addr)
		if err == nil {
			id = acct.ID
			s.resolved = remember(s.resolved, addr, id)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		tx.rejected++
		s.srv.log.Info("smtpd: recipient", "remote", s.ip.String(), "user", s.user(), "rcpt", to, "result", "unknown")
		return errNoSuchUser
	}
	if err != nil {
		tx.rejected++
		s.srv.log.Error("smtpd: recipient", "remote", s.ip.String(), "user", s.user(), "err", err)
		return errTemporary
	}
	if full, err := s.srv.st.OverQuota(s.ctx, id); err != nil || full {
		tx.rejected++
		if err != nil {
			s.srv.log.Error("smtpd: recipient", "remote", s.ip.String(), "user", s.user(), "err", err)
			return errTemporary
		}
		s.srv.log.Info("smtpd: recipient", "remote", s.ip.String(), "user", s.user(), "rcpt", to, "result", "mailbox full")
		return errMailboxFull
	}
	tx.localRcpts = append(tx.localRcpts, localRcpt{addr: to, account: id})
	if !tx.localSeen[id] {
		if tx.localSeen == nil {
			tx.localSeen = map[int64]bool{}
		}
		tx.localSeen[id] = true
		tx.local = append(tx.local, store.LocalTarget{AccountID: id})
	}
	tx.rcpts++
	return nil
}

// canSendAs asks the store (once per session and address) whether the
// account may send as address.
func (s *session) canSendAs(ctx context.Context, address string) (bool, error) {
	address = strings.ToLower(address)
	if ok, found := s.sendAs[address]; found {
		return ok, nil
	}
	ok, err := s.srv.st.CanSendAs(ctx, s.account.ID, address)
	if err != nil {
		return false, err
	}
	s.sendAs = remember(s.sendAs, address, ok)
	return ok, nil
}

// maxRemembered bounds each per-session cache.
const maxRemembered = 1000

func remember[V any](m map[string]V, k string, v V) map[string]V {
	if m == nil {
		m = map[string]V{}
	}
	if len(m) < maxRemembered {
		m[k] = v
	}
	return m
}

// Data implements smtp.Session: the message (RFC 5321 section 4.1.1.4).
func (s *session) Data(r io.Reader) error {
	tx := s.transaction()
	if s.account == nil || tx == nil {
		return errAuthRequired
	}
	// Spooled (spool.go), then read back with room in front for the
	// fields we prepend.
	sp, err := s.srv.spool.receive(newDataReader(r, s.netConn, s.srv.opts.DataTimeout, s.srv.opts.Resources.MinDataRate))
	//lint:ignore SA5001 receive returns the spool, with the bytes read so far, even on error
	defer sp.Close()
	if err != nil {
		var se *smtp.SMTPError
		switch {
		case errors.As(err, &se): // too large
			s.logTx(tx, "rejected", se, "message too large", int(sp.n), "")
			return se
		case errors.Is(err, smtp.ErrTooLongLine):
			s.logTx(tx, "rejected", errLineTooLong, "line too long", int(sp.n), "")
			return errLineTooLong
		default:
			s.logTx(tx, "aborted", errTemporary, "read data: "+err.Error(), int(sp.n), "")
			return errTemporary
		}
	}
	lctx, lcancel := context.WithTimeout(s.ctx, s.srv.opts.DeliverTimeout)
	buf, release, err := sp.load(lctx)
	lcancel()
	if err != nil {
		s.logTx(tx, "failed", errTemporary, err.Error(), int(sp.n), "")
		return errTemporary
	}
	defer release()
	data := buf[headroom:]
	id := newID()
	now := time.Now()
	prefix, e, detail := s.checkMessage(data, id, now)
	if e != nil {
		s.logTx(tx, "rejected", e, detail, len(data), id)
		return e
	}
	if e, detail := s.scanSubmission(s.ctx, tx, data, id); e != nil {
		s.logTx(tx, "rejected", e, detail, len(data), id)
		return e
	}
	data, changed := removeTrustFields(data, s.srv.opts.Hostname)
	var raw []byte
	if len(prefix) <= headroom && !changed {
		raw = buf[headroom-len(prefix):]
		copy(raw, prefix)
	} else {
		raw = append(prefix, data...)
	}

	if !s.beginCommit() {
		s.logTx(tx, "rejected", errRevoked, "credentials revoked", len(raw), id)
		return errRevoked
	}
	defer s.endCommit()
	ctx, cancel := context.WithTimeout(s.ctx, s.srv.opts.DeliverTimeout)
	defer cancel()
	if len(tx.remote) > 0 && s.srv.opts.Signer != nil {
		raw = s.srv.opts.Signer.Sign(ctx, tx.from, raw)
	}
	res, err := s.srv.st.Deliver(ctx, &store.Delivery{
		Raw:          raw,
		InternalDate: now,
		Local:        tx.local,
		MailFrom:     tx.from,
		Remote:       tx.remote,
		PartialQuota: true,
	})
	if errors.Is(err, store.ErrOverQuota) {
		s.logTx(tx, "deferred", errMailboxFull, "over quota: every recipient", len(raw), id)
		return errMailboxFull
	}
	if err != nil {
		s.logTx(tx, "failed", errTemporary, "deliver: "+err.Error(), len(raw), id)
		return errTemporary
	}
	ok := &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK " + id}
	if len(res.OverQuota) > 0 {
		// The sender learns about the recipients left out in its INBOX.
		full := refused(tx.localRcpts, res.OverQuota)
		dsn := quotaDSN(s.srv.opts.Hostname, tx.from, full, raw[:mailhdr.SectionLen(raw)], id, now, time.Now())
		_, derr := s.srv.st.Deliver(ctx, &store.Delivery{Raw: dsn, Local: []store.LocalTarget{{AccountID: s.account.ID}}})
		s.logTx(tx, "accepted", ok, "over quota: "+strings.Join(full, ","), len(raw), id, "outbox", res.OutboxID, "dsn_error", errString(derr))
		return ok
	}
	s.logTx(tx, "accepted", ok, "", len(raw), id, "outbox", res.OutboxID)
	return ok
}

// headroom is the space reserved in front of the message for the fields
// we prepend (Received:, Date:, Message-ID: take about 400 bytes).
const headroom = 1024

// checkMessage applies the submission policy to the message and returns the
// header fields to prepend, or the reply refusing it.
func (s *session) checkMessage(data []byte, id string, now time.Time) (prefix []byte, _ *smtp.SMTPError, detail string) {
	if err := checkLineEndings(data); err != nil {
		return nil, errBareNewline, err.Error()
	}
	h, senders, e, detail := readHeader(data)
	if e != nil {
		return nil, e, detail
	}
	for _, a := range senders.All() {
		ok, err := s.canSendAs(s.ctx, a)
		if err != nil {
			return nil, errTemporary, "can send as: " + err.Error()
		}
		if !ok {
			return nil, errSenderNotOwned, "From/Sender header not owned"
		}
	}
	var b []byte
	b = append(b, s.received(id, now)...)
	// RFC 6409 sections 8.2 and 8.3: an MSA may add a missing Date and
	// Message-ID.
	if v, _ := h.Value("Date"); v == "" {
		b = append(b, "Date: "+now.Format(time.RFC1123Z)+"\r\n"...)
	}
	if v, _ := h.Value("Message-Id"); v == "" {
		b = append(b, "Message-ID: <"+newMessageID()+"@"+s.srv.opts.Hostname+">\r\n"...)
	}
	return b, nil, ""
}

// received builds the trace field, RFC 5321 section 4.4, with the protocol
// name of RFC 3848 (ESMTPSA: ESMTP with STARTTLS/TLS and AUTH).
func (s *session) received(id string, now time.Time) string {
	proto := "ESMTPA"
	if s.tls != nil {
		proto = "ESMTPSA"
	}
	var b strings.Builder
	b.WriteString("Received: from ")
	b.WriteString(sanitizeDomain(s.helo))
	b.WriteString(" (")
	b.WriteString(addressLiteral(s.ip))
	b.WriteString(")\r\n\tby ")
	b.WriteString(sanitizeDomain(s.srv.opts.Hostname))
	b.WriteString(" (congthu) with ")
	b.WriteString(proto)
	b.WriteString(" id ")
	b.WriteString(id)
	b.WriteString("\r\n\t(authenticated as ")
	b.WriteString(sanitizeComment(s.account.Address))
	b.WriteString(")")
	if s.tls != nil {
		b.WriteString("\r\n\t(using ")
		b.WriteString(tls.VersionName(s.tls.Version))
		b.WriteString(" with cipher ")
		b.WriteString(tls.CipherSuiteName(s.tls.CipherSuite))
		b.WriteString(")")
	}
	b.WriteString(";\r\n\t")
	b.WriteString(now.Format(time.RFC1123Z))
	b.WriteString("\r\n")
	return b.String()
}

// logTx writes the one log line of a mail transaction.
func (s *session) logTx(tx *transaction, result string, e *smtp.SMTPError, detail string, size int, id string, extra ...any) {
	if tx == nil || !tx.logged.CompareAndSwap(false, true) {
		return
	}
	s.lm.countTx(result, e)
	level := slog.LevelInfo
	if e != nil && e.Code/100 == 4 && e.Code != 452 {
		level = slog.LevelWarn
	}
	attrs := []any{
		"remote", s.ip.String(), "user", s.user(), "from", tx.from,
		"rcpts", tx.rcpts, "rcpts_rejected", tx.rejected, "size", size,
		"result", result, "code", e.Code, "tls", s.tlsVersion(),
		"duration", time.Since(tx.start).Round(time.Microsecond),
	}
	if id != "" {
		attrs = append(attrs, "id", id)
	}
	if detail != "" {
		attrs = append(attrs, "detail", detail)
	}
	attrs = append(attrs, extra...)
	s.srv.log.Log(s.ctx, level, "smtpd: transaction", attrs...)
}

// Reset implements smtp.Session: RSET, a new EHLO, or the end of DATA.
func (s *session) Reset() {
	s.logTx(s.transaction(), "aborted", &smtp.SMTPError{}, "reset before end of DATA", 0, "")
	s.endTx()
	s.closeIfRevoked()
}

func (s *session) endTx() {
	s.mu.Lock()
	s.tx = nil
	s.mu.Unlock()
}

// Logout implements smtp.Session: the connection closed or STARTTLS.
func (s *session) Logout() error {
	if s.unregister != nil {
		s.unregister()
	}
	s.Reset()
	s.end(s)
	return nil
}

// closeIfIdle is called by Shutdown: outside a transaction, the session is
// marked closing, told 421 (RFC 5321 section 3.8) and true returned so
// that the caller closes the connection.
func (s *session) closeIfIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeIdle(s.tx != nil)
}

// loginServer is the server side of the LOGIN SASL mechanism
// (draft-murchison-sasl-login), which go-sasl only has a client for.
type loginServer struct {
	auth     func(username, password string) error
	state    int
	username string
}

func (a *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch a.state {
	case 0:
		a.state = 1
		if len(response) == 0 {
			return []byte("Username:"), false, nil
		}
		a.username = string(response)
		a.state = 2
		return []byte("Password:"), false, nil
	case 1:
		a.username = string(response)
		a.state = 2
		return []byte("Password:"), false, nil
	case 2:
		a.state = 3
		return nil, true, a.auth(a.username, string(response))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}
