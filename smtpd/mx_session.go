package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"congthu/internal/mailaddr"
	"congthu/mailhdr"
	"congthu/store"
)

// MX replies (RFC 3463 enhanced codes). Texts are generic: the details are
// logged.
var (
	// RFC 5321 section 3.6.2 / RFC 7372: never relay.
	errRelayDenied = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relaying not permitted"}
	errRateLimited = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many messages from your address, try again later"}
	// RFC 5321 section 6.3: a message with too many Received: fields is
	// in a loop.
	errMailLoop = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 4, 6}, Message: "Too many hops, mail loop suspected"}
	// A DMARC decision that depends on a DNS answer we could not get.
	errAuthCheckTemp = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure, try again later"}
	errNoRcpt        = &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "Need MAIL and RCPT first"}
)

// errDMARCReject is the refusal of a message failing its From: domain's
// DMARC policy "reject" (RFC 7489 section 6.7, 10.3: 550 5.7.1).
func errDMARCReject(domain string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: dmarcReplyPrefix + sanitizeDomain(domain)}
}

// mxBackend creates an MX session per EHLO (and again after STARTTLS).
type mxBackend struct{ srv *MXServer }

func (b mxBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	srv := b.srv
	if srv.conns.isDraining() {
		return nil, errShuttingDown
	}
	s := &mxSession{srv: srv, sessionConn: newSessionConn(srv.ctx, c, srv.opts.Metrics.mx)}
	if s.tracked != nil {
		s.tracked.setSession(s)
	}
	return s, nil
}

// mxSession is one server's SMTP session between EHLO and QUIT/STARTTLS.
// go-smtp calls its methods from the connection's goroutine (Data on one
// of its own for BDAT, after the last RCPT); mu guards what Shutdown
// looks at.
type mxSession struct {
	srv *MXServer
	sessionConn

	// Per-session answers of the store (see also MXServer.dir).
	isLocal map[string]bool
	// rdns is the client's reverse-DNS name once rdnsDone (filter.go).
	rdns     string
	rdnsDone bool

	mu sync.Mutex // guards tx and sessionConn.closing
	tx *mxTx
}

// mxTx is one MAIL/RCPT/DATA exchange.
type mxTx struct {
	start     time.Time
	from      string
	local     []store.LocalTarget
	localSeen map[int64]bool
	// localRcpts: for a DSN about those over quota
	localRcpts []localRcpt
	rcptList   []string // accepted, for the log and Received: "for"
	rcpts      int
	rejected   int
	bounces    []string // notifications whose return path is a recipient (mx_roles.go)

	// The SPF check runs from MAIL on; checkCtx bounds it and the
	// other checks, and ends with the transaction.
	checkCtx    context.Context
	checkCancel context.CancelFunc
	spf         chan spfOutcome
	spfResult   *spfOutcome

	logged atomic.Bool
}

// Mail implements smtp.Session: MAIL FROM (RFC 5321 section 4.1.1.2). Any
// reverse-path is accepted, the null one (bounces) included.
func (s *mxSession) Mail(from string, opts *smtp.MailOptions) error {
	s.Reset()
	tx := &mxTx{start: time.Now(), from: from}
	s.mu.Lock()
	if s.closing || s.srv.conns.isDraining() {
		s.mu.Unlock()
		return errShuttingDown
	}
	s.tx = tx
	s.mu.Unlock()

	if r := s.srv.rate; r != nil && !s.srv.exempt(s.ip) && !r.allow(limitKey(s.ip), tx.start) {
		return s.rejectMail(errRateLimited, "message rate limit")
	}
	if !mailaddr.IsASCII(from) {
		return s.rejectMail(errNonASCII, "non-ASCII MAIL FROM")
	}
	tx.checkCtx, tx.checkCancel = context.WithTimeout(s.ctx, s.srv.opts.CheckTimeout)
	tx.spf = make(chan spfOutcome, 1)
	go func(ctx context.Context, ip netip.Addr, helo string) {
		defer func() {
			if r := recover(); r != nil {
				s.srv.log.Error("smtpd: panic in SPF check", "panic", r)
				tx.spf <- spfOutcome{result: "temperror", err: fmt.Errorf("panic: %v", r)}
			}
		}()
		tx.spf <- checkSPF(ctx, s.srv.res, ip, helo, from)
	}(tx.checkCtx, s.ip, s.helo)
	return nil
}

func (s *mxSession) rejectMail(e *smtp.SMTPError, detail string) error {
	s.logTx(s.transaction(), txLog{result: "rejected", reply: e, detail: detail})
	s.endTx()
	return e
}

func (s *mxSession) transaction() *mxTx {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tx
}

// rcpt is Rcpt's checks (RFC 5321 section 4.1.1.3). Only
// existing local recipients are accepted; an MX never relays.
func (s *mxSession) rcpt(to string, opts *smtp.RcptOptions) error {
	tx := s.transaction()
	if tx == nil {
		return errNoRcpt
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
	local, err := s.localDomain(addr[at+1:], true)
	if err != nil {
		tx.rejected++
		s.srv.log.Error("smtpd: mx recipient", "remote", s.ip.String(), "rcpt", to, "err", err)
		return errTemporary
	}
	if !local {
		tx.rejected++
		s.srv.log.Info("smtpd: mx recipient", "remote", s.ip.String(), "helo", s.helo, "from", tx.from, "rcpt", to, "result", "relay denied")
		return errRelayDenied
	}
	if done, err := s.roleRcpt(tx, to, addr); done {
		return err
	}
	now := time.Now()
	id, ok := s.srv.dir.recipient(addr, now)
	if !ok {
		var acct *store.Account
		acct, err = s.srv.st.ResolveRecipient(s.ctx, addr)
		if err == nil {
			id = acct.ID
			s.srv.dir.setRecipient(addr, id, now)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		tx.rejected++
		s.srv.log.Info("smtpd: mx recipient", "remote", s.ip.String(), "helo", s.helo, "from", tx.from, "rcpt", to, "result", "unknown")
		return errNoSuchUser
	}
	if err != nil {
		tx.rejected++
		s.srv.log.Error("smtpd: mx recipient", "remote", s.ip.String(), "rcpt", to, "err", err)
		return errTemporary
	}
	if !s.srv.dir.hasRoom(id, now) {
		full, err := s.srv.st.OverQuota(s.ctx, id)
		if err != nil || full {
			tx.rejected++
			if err != nil {
				s.srv.log.Error("smtpd: mx recipient", "remote", s.ip.String(), "rcpt", to, "err", err)
				return errTemporary
			}
			s.srv.log.Info("smtpd: mx recipient", "remote", s.ip.String(), "helo", s.helo, "from", tx.from, "rcpt", to, "result", "mailbox full")
			return errMailboxFull
		}
		s.srv.dir.setRoom(id, now)
	}
	tx.localRcpts = append(tx.localRcpts, localRcpt{addr: to, account: id})
	if !tx.localSeen[id] {
		if tx.localSeen == nil {
			tx.localSeen = map[int64]bool{}
		}
		tx.localSeen[id] = true
		tx.local = append(tx.local, store.LocalTarget{AccountID: id})
	}
	tx.rcptList = append(tx.rcptList, to)
	tx.rcpts++
	return nil
}

// localDomain asks the store whether d is local: once per session, and
// once per dirCacheTTL for all sessions. forRcpt: an answer "not local"
// is not taken from the shared cache (a domain just added must receive
// mail at once).
func (s *mxSession) localDomain(d string, forRcpt bool) (bool, error) {
	d = strings.ToLower(d)
	if local, ok := s.isLocal[d]; ok {
		return local, nil
	}
	now := time.Now()
	if local, ok := s.srv.dir.localDomain(d, now); ok && (local || !forRcpt) {
		return local, nil
	}
	local, err := s.srv.st.IsLocalDomain(s.ctx, d)
	if err != nil {
		return false, err
	}
	s.srv.dir.setLocalDomain(d, local, now)
	s.isLocal = remember(s.isLocal, d, local)
	return local, nil
}

// Data implements smtp.Session: the message (RFC 5321 section 4.1.1.4),
// checked, authenticated and committed before the reply.
func (s *mxSession) Data(r io.Reader) error {
	tx := s.transaction()
	if tx == nil || (len(tx.local) == 0 && len(tx.bounces) == 0) {
		return errNoRcpt
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
			s.logTx(tx, txLog{result: "rejected", reply: se, detail: "message too large", size: int(sp.n)})
			return se
		case errors.Is(err, smtp.ErrTooLongLine):
			s.logTx(tx, txLog{result: "rejected", reply: errLineTooLong, detail: "line too long", size: int(sp.n)})
			return errLineTooLong
		default:
			s.logTx(tx, txLog{result: "aborted", reply: errTemporary, detail: "read data: " + err.Error(), size: int(sp.n)})
			return errTemporary
		}
	}
	lctx, lcancel := context.WithTimeout(s.ctx, s.srv.opts.DeliverTimeout)
	buf, release, err := sp.load(lctx)
	lcancel()
	if err != nil {
		s.logTx(tx, txLog{result: "failed", reply: errTemporary, detail: err.Error(), size: int(sp.n)})
		return errTemporary
	}
	defer release()
	data := buf[headroom:]
	id := newID()
	now := time.Now()
	l := txLog{size: len(data), id: id}
	prefix, targets, e := s.checkMX(tx, data, id, now, &l)
	if e != nil {
		l.result, l.reply = "rejected", e
		if e.Code/100 == 4 {
			l.result = "deferred"
		}
		s.logTx(tx, l)
		return e
	}
	if reply := s.takeBounces(tx, data, id, &l); reply != nil {
		return reply
	}
	data, changed := removeTrustFields(data, s.srv.opts.Hostname)
	var raw []byte
	if len(prefix) <= headroom && !changed {
		raw = buf[headroom-len(prefix):]
		copy(raw, prefix)
	} else {
		raw = append(prefix, data...)
	}

	ctx, cancel := context.WithTimeout(s.ctx, s.srv.opts.DeliverTimeout)
	defer cancel()
	res, err := s.srv.st.Deliver(ctx, &store.Delivery{Raw: raw, InternalDate: now, Local: targets, PartialQuota: true})
	if errors.Is(err, store.ErrOverQuota) {
		l.result, l.reply, l.detail, l.size = "deferred", errMailboxFull, "over quota: every recipient", len(raw)
		s.logTx(tx, l)
		return errMailboxFull
	}
	if err != nil {
		l.result, l.reply, l.detail, l.size = "failed", errTemporary, "deliver: "+err.Error(), len(raw)
		s.logTx(tx, l)
		return errTemporary
	}
	ok := &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK " + id}
	l.result, l.reply, l.size = "accepted", ok, len(raw)
	if len(res.OverQuota) > 0 {
		full := refused(tx.localRcpts, res.OverQuota)
		l.detail = "over quota: " + strings.Join(full, ",")
		if from := strings.TrimSpace(tx.from); from != "" {
			// To the envelope sender through the outbox, from the null
			// reverse-path.
			dsn := quotaDSN(s.srv.opts.Hostname, from, full, data[:mailhdr.SectionLen(data)], id, now, time.Now())
			if _, err := s.srv.st.Deliver(ctx, &store.Delivery{Raw: dsn, Remote: []string{from}}); err != nil {
				l.detail += "; DSN not queued: " + err.Error()
			}
		}
	}
	s.logTx(tx, l)
	return ok
}

// checkMX applies the MX policy and the authentication checks to a
// message: the header fields to prepend and where to deliver, or the
// reply refusing it. l collects what the log line reports.
func (s *mxSession) checkMX(tx *mxTx, data []byte, id string, now time.Time, l *txLog) (prefix []byte, targets []store.LocalTarget, _ *smtp.SMTPError) {
	if err := checkLineEndings(data); err != nil {
		l.detail = err.Error()
		return nil, nil, errBareNewline
	}
	h, err := mailhdr.Parse(data)
	if err != nil {
		l.detail = err.Error()
		return nil, nil, headerReply(err)
	}
	if n := h.Count("Received"); n > s.srv.opts.MaxReceived {
		l.detail = fmt.Sprintf("%d Received fields", n)
		return nil, nil, errMailLoop
	}
	// RFC 5322 section 3.6 and RFC 7489 section 6.6.1: exactly one From
	// field; DMARC applies to each of its domains. Read as IMAP's
	// ENVELOPE reads it.
	senders, err := h.Senders()
	if err != nil {
		l.detail = err.Error()
		return nil, nil, headerReply(err)
	}
	var fromDomains []string
	for _, a := range senders.From {
		at := strings.LastIndexByte(a, '@')
		d := strings.ToLower(a[at+1:])
		if at < 0 || d == "" {
			l.detail = "From address without domain"
			return nil, nil, errBadFrom
		}
		if !slices.Contains(fromDomains, d) {
			fromDomains = append(fromDomains, d)
		}
	}
	if len(fromDomains) > 5 {
		l.detail = fmt.Sprintf("From in %d domains", len(fromDomains))
		return nil, nil, errBadFrom
	}

	// DKIM in the background while DMARC policies are looked up.
	ctx := tx.checkCtx
	res := s.srv.res
	var dk []dkimOutcome
	dkDone := make(chan struct{})
	if h.Has("Dkim-Signature") {
		go func() {
			defer close(dkDone)
			defer func() {
				if r := recover(); r != nil {
					s.srv.log.Error("smtpd: panic in DKIM check", "panic", r)
					dk = []dkimOutcome{{result: "temperror", err: fmt.Errorf("panic: %v", r)}}
				}
			}()
			dk = verifyDKIM(ctx, res, data)
		}()
	} else {
		close(dkDone)
	}
	recs := make([]dmarcRecord, len(fromDomains))
	locals := make([]bool, len(fromDomains))
	for i, d := range fromDomains {
		recs[i] = lookupDMARC(ctx, res, d)
		if locals[i], err = s.localDomain(d, false); err != nil {
			<-dkDone
			l.detail = "is local domain: " + err.Error()
			return nil, nil, errTemporary
		}
	}
	<-dkDone
	sp := s.spfOutcome(tx)
	pol := dmarcPolicy{quarantineToInbox: s.srv.opts.QuarantineToInbox, noReject: s.srv.opts.NoDMARCReject, rejectLocalSpoof: !s.srv.opts.AllowLocalSpoofing}
	dm := make([]dmarcOutcome, len(fromDomains))
	worst := 0
	for i, d := range fromDomains {
		dm[i] = evaluateDMARC(d, locals[i], sp, dk, recs[i], pol)
		if dm[i].verdict > dm[worst].verdict {
			worst = i
		}
	}
	l.spf, l.dkim, l.dmarc = string(sp.result), dkimSummary(dk), dmarcSummary(dm)
	l.action = dm[worst].reason
	var details []string
	if sp.err != nil && (sp.result == "temperror" || sp.result == "permerror") {
		details = append(details, "spf: "+sp.err.Error())
	}
	for _, r := range recs {
		if r.err != nil {
			details = append(details, "dmarc "+r.domain+": "+r.err.Error())
		}
	}
	for _, d := range dk {
		if d.err != nil {
			details = append(details, "dkim "+d.domain+": "+d.err.Error())
		}
	}
	l.detail = strings.Join(details, "; ")

	switch dm[worst].verdict {
	case verdictReject:
		return nil, nil, errDMARCReject(dm[worst].domain)
	case verdictTempFail:
		return nil, nil, errAuthCheckTemp
	}
	fv, e := s.filter(ctx, tx, data, id, l)
	if e != nil {
		return nil, nil, e
	}
	mailbox, flags := "", []string(nil)
	var b []byte
	b = append(b, authResults(s.srv.opts.Hostname, sp, dk, dm)...)
	b = append(b, fv.fields...)
	if fv.junk {
		mailbox, flags = "Junk", []string{"$Junk"}
		l.action = joinDetail(l.action, "to Junk")
	} else if dm[worst].verdict == verdictJunk {
		if s.srv.opts.QuarantineToInbox {
			b = append(b, "X-Congthu-Quarantine: DMARC policy of "+sanitizeDomain(dm[worst].domain)+"\r\n"...)
			l.action += ", to INBOX"
		} else {
			mailbox, flags = "Junk", []string{"$Junk"}
			l.action += ", to Junk"
		}
	}
	b = append(b, s.received(tx, id, now)...)
	targets = make([]store.LocalTarget, len(tx.local))
	for i, t := range tx.local {
		targets[i] = store.LocalTarget{AccountID: t.AccountID, Mailbox: mailbox, Flags: flags}
	}
	return b, targets, nil
}

// spfOutcome waits for the transaction's SPF check.
func (s *mxSession) spfOutcome(tx *mxTx) spfOutcome {
	if tx.spfResult == nil {
		o := <-tx.spf
		tx.spfResult = &o
	}
	return *tx.spfResult
}

// received builds the trace field (RFC 5321 section 4.4) with the protocol
// name of RFC 3848 (ESMTPS when TLS was used); the "for" clause only for a
// single recipient, so as not to disclose the others.
func (s *mxSession) received(tx *mxTx, id string, now time.Time) string {
	proto := "ESMTP"
	if s.tls != nil {
		proto = "ESMTPS"
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
	if len(tx.rcptList) == 1 {
		b.WriteString("\r\n\tfor <")
		b.WriteString(sanitizeComment(strings.Map(func(r rune) rune {
			if r == '<' || r == '>' || r == ';' || r == ' ' {
				return -1
			}
			return r
		}, tx.rcptList[0])))
		b.WriteString(">")
	}
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

// txLog is what the log line of a transaction reports.
type txLog struct {
	result           string
	reply            *smtp.SMTPError
	detail           string
	size             int
	id               string
	spf, dkim, dmarc string
	action           string
}

// logTx writes the one log line of a mail transaction.
func (s *mxSession) logTx(tx *mxTx, l txLog) {
	if tx == nil || !tx.logged.CompareAndSwap(false, true) {
		return
	}
	s.lm.countTx(l.result, l.reply)
	level := slog.LevelInfo
	if l.reply != nil && l.reply.Code/100 == 4 && l.reply.Code != 452 {
		level = slog.LevelWarn
	}
	rcpts := tx.rcptList
	if len(rcpts) > 10 {
		rcpts = rcpts[:10]
	}
	code := 0
	if l.reply != nil {
		code = l.reply.Code
	}
	attrs := []any{
		"remote", s.ip.String(), "helo", logUser(s.helo), "from", logUser(tx.from),
		"rcpts", strings.Join(rcpts, ","), "rcpts_n", tx.rcpts, "rcpts_rejected", tx.rejected,
		"size", l.size, "result", l.result, "code", code, "tls", s.tlsVersion(),
		"duration", time.Since(tx.start).Round(time.Microsecond),
	}
	if l.spf != "" {
		attrs = append(attrs, "spf", l.spf, "dkim", l.dkim, "dmarc", l.dmarc, "action", l.action)
	}
	if l.id != "" {
		attrs = append(attrs, "id", l.id)
	}
	if l.detail != "" {
		attrs = append(attrs, "detail", l.detail)
	}
	s.srv.log.Log(s.ctx, level, "smtpd: mx transaction", attrs...)
}

// Reset implements smtp.Session: RSET, a new EHLO, or the end of DATA.
func (s *mxSession) Reset() {
	s.logTx(s.transaction(), txLog{result: "aborted", detail: "reset before end of DATA"})
	s.endTx()
}

func (s *mxSession) endTx() {
	s.mu.Lock()
	tx := s.tx
	s.tx = nil
	s.mu.Unlock()
	if tx != nil && tx.checkCancel != nil {
		tx.checkCancel()
	}
}

// Logout implements smtp.Session: the connection closed or STARTTLS.
func (s *mxSession) Logout() error {
	s.Reset()
	s.end(s)
	return nil
}

// closeIfIdle implements idleCloser for Shutdown.
func (s *mxSession) closeIfIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeIdle(s.tx != nil)
}
