package smtpd

import (
	"strings"
	"sync/atomic"

	"github.com/emersion/go-smtp"

	"congthu/internal/metrics"
	"congthu/loginlimit"
)

// The listeners, as the metrics' listener label names them.
const (
	ListenerSubmission  = "submission"  // Server.Serve: STARTTLS, port 587
	ListenerSubmissions = "submissions" // Server.ServeTLS: implicit TLS, port 465
	ListenerMX          = "mx"          // MXServer.Serve: port 25
)

// Metrics are the SMTP servers' counters: connections, mail transactions
// and recipients by listener and outcome, and logins. Build them once
// with NewMetrics and give the same Metrics to submission and the MX
// (Common.Metrics). Counting is an atomic add on a counter resolved in
// advance.
//
// A transaction's result is accepted (250), rejected (a 5xx reply),
// deferred (a 4xx reply: the client is to try again) or aborted (the
// client reset, quit or lost the connection before the end of DATA); its
// reason says which check answered (the reasons table in metricReasons).
type Metrics struct {
	submission, submissions, mx *listenerMetrics
	logins                      *loginlimit.Attempts
}

// listenerMetrics are one listener's counters.
type listenerMetrics struct {
	name                  string
	connAccepted          *metrics.Counter
	connTooMany           *metrics.Counter
	connTooManyFromClient *metrics.Counter
	open                  *metrics.Gauge
	msgs                  outcomeCounters
	rcpts                 outcomeCounters
}

// NewMetrics registers the SMTP families in reg.
func NewMetrics(reg *metrics.Registry) *Metrics {
	conns := reg.CounterVec("congthu_smtp_connections_total",
		"SMTP connections by listener and result: accepted, or refused before the greeting (too_many: the server's cap; too_many_from_client: the per-address cap).",
		"listener", "result")
	open := reg.GaugeVec("congthu_smtp_connections_open", "SMTP connections open now, by listener.", "listener")
	reasons := strings.Join(metricReasons[1:], ", ")
	msgs := reg.CounterVec("congthu_smtp_messages_total",
		"SMTP mail transactions (MAIL FROM to the reply after DATA) by listener (submission, submissions, mx), result (accepted; rejected: a 5xx reply; deferred: a 4xx reply; aborted: reset, or the connection lost, before the end of DATA) and reason (which check answered, absent when accepted: "+reasons+").",
		"listener", "result", "reason")
	rcpts := reg.CounterVec("congthu_smtp_recipients_total",
		"SMTP RCPT TO commands by listener, result (accepted, rejected, deferred) and reason (as for congthu_smtp_messages_total; relay, unknown, quota, too_many and syntax are the usual ones).",
		"listener", "result", "reason")
	lm := func(name string) *listenerMetrics {
		m := &listenerMetrics{
			name:                  name,
			connAccepted:          conns.With(name, "accepted"),
			connTooMany:           conns.With(name, "too_many"),
			connTooManyFromClient: conns.With(name, "too_many_from_client"),
			open:                  open.With(name),
			msgs:                  outcomeCounters{vec: msgs, listener: name},
			rcpts:                 outcomeCounters{vec: rcpts, listener: name},
		}
		// The series every server has, at zero from the start.
		m.msgs.counter(resultAccepted, reasonNone)
		m.rcpts.counter(resultAccepted, reasonNone)
		return m
	}
	return &Metrics{
		submission:  lm(ListenerSubmission),
		submissions: lm(ListenerSubmissions),
		mx:          lm(ListenerMX),
		logins:      loginlimit.NewAttempts(reg, "smtp"),
	}
}

// orNew returns m, or Metrics of a registry of their own (nobody reads
// them) when m is nil.
func (m *Metrics) orNew() *Metrics {
	if m != nil {
		return m
	}
	return NewMetrics(metrics.NewRegistry())
}

// result is a transaction's or recipient's outcome, the result label.
type result uint8

const (
	resultAccepted result = iota
	resultRejected
	resultDeferred
	resultAborted
	numResults
)

var resultNames = [numResults]string{"accepted", "rejected", "deferred", "aborted"}

// reason is which check answered, the reason label.
type reason uint8

const (
	reasonNone       reason = iota // accepted
	reasonAuth                     // MAIL before AUTH, credentials revoked during the session
	reasonSender                   // MAIL FROM, From: or Sender: not owned by the account
	reasonSyntax                   // non-ASCII address, bad address, malformed header, bare CR/LF, line too long
	reasonSize                     // message larger than SIZE
	reasonRate                     // per-account (submission) or per-address (MX) message rate
	reasonRelay                    // MX: recipient in a domain not ours
	reasonUnknown                  // no such local recipient (or no postmaster account)
	reasonTooMany                  // too many recipients, too many refused RCPTs on the connection
	reasonQuota                    // mailbox full
	reasonDMARC                    // MX: DMARC reject (or local domain spoofed), or its DNS pending
	reasonLoop                     // MX: too many Received: fields
	reasonMalware                  // clamd found malware
	reasonSpam                     // rspamd: reject, soft reject, greylist
	reasonFilter                   // a content filter failed or timed out
	reasonTemporary                // the store or another internal temporary failure
	reasonShutdown                 // the server is shutting down
	reasonProtocol                 // commands out of order (DATA without recipients)
	reasonReset                    // aborted: RSET, QUIT or a new EHLO before the end of DATA
	reasonConnection               // aborted: the connection failed or timed out during DATA
	reasonOther
	numReasons
)

// metricReasons are the reason label's values.
var metricReasons = [numReasons]string{
	"", "auth", "sender", "syntax", "size", "rate", "relay", "unknown", "too_many", "quota",
	"dmarc", "loop", "malware", "spam", "filter", "temporary", "shutdown", "protocol", "reset", "connection", "other",
}

// The beginnings of the replies made per message (errMalware, errSpam,
// errDMARCReject), by which reasonOf knows them.
const (
	malwareReplyPrefix = "Message refused: it contains malware"
	spamReplyPrefix    = "Message refused as spam"
	dmarcReplyPrefix   = "Rejected by DMARC policy of "
)

// replyReasons are the reasons of the package's fixed replies.
var replyReasons = map[*smtp.SMTPError]reason{
	errAuthRequired: reasonAuth, errRevoked: reasonAuth,
	errSenderNotOwned: reasonSender,
	errNonASCII:       reasonSyntax, errBadRecipient: reasonSyntax, errLineTooLong: reasonSyntax, errBareNewline: reasonSyntax,
	errBadHeader: reasonSyntax, errBadFrom: reasonSyntax, errSpaceBeforeColon: reasonSyntax, errBadFieldName: reasonSyntax,
	errManyFrom: reasonSyntax, errFromAddress: reasonSyntax, errManySender: reasonSyntax, errSenderAddress: reasonSyntax,
	smtp.ErrDataTooLarge: reasonSize,
	errAccountRate:       reasonRate, errRateLimited: reasonRate,
	errRelayDenied: reasonRelay,
	errNoSuchUser:  reasonUnknown, errNoPostmaster: reasonUnknown,
	errTooManyRcpts: reasonTooMany, errTooManyErrors: reasonTooMany,
	errMailboxFull:   reasonQuota,
	errAuthCheckTemp: reasonDMARC,
	errMailLoop:      reasonLoop,
	errSpamLater:     reasonSpam,
	errUnscanned:     reasonFilter,
	errTemporary:     reasonTemporary,
	errShuttingDown:  reasonShutdown,
	errNoRcpt:        reasonProtocol,
}

// reasonOf names the check behind reply e.
func reasonOf(e *smtp.SMTPError) reason {
	if e == nil {
		return reasonOther
	}
	if r, ok := replyReasons[e]; ok {
		return r
	}
	switch {
	case e.Code == 552:
		return reasonSize
	case strings.HasPrefix(e.Message, malwareReplyPrefix):
		return reasonMalware
	case strings.HasPrefix(e.Message, spamReplyPrefix):
		return reasonSpam
	case strings.HasPrefix(e.Message, dmarcReplyPrefix):
		return reasonDMARC
	}
	return reasonOther
}

// outcomeCounters are a family's counters of one listener by result and
// reason, each resolved the first time it is counted.
type outcomeCounters struct {
	vec      *metrics.CounterVec
	listener string
	c        [numResults][numReasons]atomic.Pointer[metrics.Counter]
}

func (o *outcomeCounters) counter(res result, why reason) *metrics.Counter {
	p := &o.c[res][why]
	c := p.Load()
	if c == nil {
		c = o.vec.With(o.listener, resultNames[res], metricReasons[why])
		p.Store(c)
	}
	return c
}

// countReply counts an outcome from its reply: accepted for a 2xx,
// deferred for a 4xx, rejected for a 5xx.
func (o *outcomeCounters) countReply(e *smtp.SMTPError) {
	switch {
	case e == nil || e.Code/100 == 2:
		o.counter(resultAccepted, reasonNone).Inc()
	case e.Code/100 == 4:
		o.counter(resultDeferred, reasonOf(e)).Inc()
	default:
		o.counter(resultRejected, reasonOf(e)).Inc()
	}
}

// countTx counts a transaction's end as its log line states it (logTx:
// "accepted", "rejected", "deferred", "failed" or "aborted", and the
// reply; an abort without a reply is a reset).
func (lm *listenerMetrics) countTx(logResult string, e *smtp.SMTPError) {
	if logResult == "aborted" {
		why := reasonConnection
		if e == nil || e.Code == 0 {
			why = reasonReset
		}
		lm.msgs.counter(resultAborted, why).Inc()
		return
	}
	lm.msgs.countReply(e)
}

// countRcpt counts a RCPT command's outcome (err nil: accepted).
func (lm *listenerMetrics) countRcpt(err error) {
	if err == nil {
		lm.rcpts.countReply(nil)
		return
	}
	e, ok := err.(*smtp.SMTPError)
	if !ok {
		e = errTemporary
	}
	lm.rcpts.countReply(e)
}
