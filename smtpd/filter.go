package smtpd

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"congthu/filter/clamd"
	"congthu/filter/rspamd"
)

// Content filtering at the MX: after the SPF, DKIM and DMARC checks, the
// message goes to ClamAV's clamd (malware: 554 5.7.1 naming the
// signature, nothing stored), then to rspamd, whose action decides:
//
//	reject                       554 5.7.1 with rspamd's SMTP message
//	soft reject, greylist        451 4.7.1, the sender retries
//	add header, rewrite subject  Junk with $Junk (or INBOX, FilterOptions.SpamToInbox)
//	no action                    INBOX
//
// Every message rspamd scored carries an X-Spam-Status field with the
// score, the threshold, the action and the symbols; one arriving from
// outside is dropped (mailhdr.TrustField). A filter that fails or does not
// answer within FilterOptions.Timeout gives 451 4.7.1 (the sender tries
// again later) or, with AcceptUnscanned, delivery with an
// X-Congthu-Scan field saying what was not scanned.

// VirusScanner scans a message for malware; *clamd.Client satisfies it.
type VirusScanner interface {
	Scan(ctx context.Context, msg []byte) (clamd.Result, error)
}

// SpamChecker gives a verdict on a message; *rspamd.Client satisfies it.
type SpamChecker interface {
	Check(ctx context.Context, msg []byte, env rspamd.Envelope) (rspamd.Result, error)
}

// FilterOptions configure the MX's content filters. The zero value
// filters nothing.
type FilterOptions struct {
	Virus VirusScanner // nil: no malware scan
	Spam  SpamChecker  // nil: no spam check
	// SpamToInbox delivers an "add header" or "rewrite subject" verdict
	// to INBOX (with its X-Spam-Status: Yes) instead of Junk.
	SpamToInbox bool
	// AcceptUnscanned delivers a message a filter failed on, with an
	// X-Congthu-Scan field, instead of answering 451 4.7.1.
	AcceptUnscanned bool
	// Timeout bounds each filter's call; default 20 s.
	Timeout time.Duration
	// OnFailure, if set, is told of each failed or timed-out call:
	// the filter ("clamd", "rspamd") and the server ("smtp", "mx").
	OnFailure func(filter, server string)
}

var (
	errUnscanned = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "The message could not be scanned; try again later"}
	errSpamLater = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Try again later"}
)

// errMalware refuses a message carrying malware, naming it.
func errMalware(signature string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: malwareReplyPrefix + " (" + replyText(signature, 100) + ")"}
}

// errSpam refuses spam with rspamd's message, if it gave one.
func errSpam(msg string) *smtp.SMTPError {
	text := spamReplyPrefix
	if m := replyText(msg, 200); m != "" {
		text += ": " + m
	}
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: text}
}

// replyText keeps printable ASCII of s, at most n bytes, for an SMTP reply
// or a header field.
func replyText(s string, n int) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if b.Len() >= n {
			break
		}
		if c >= ' ' && c < 0x7f {
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// scanned is what the filters said of a message.
type scanned struct {
	reply     *smtp.SMTPError // refuse the message with this
	spam      *rspamd.Result  // rspamd's verdict; nil when not asked or failed
	unscanned []string        // the filters that failed (under AcceptUnscanned)
	detail    string          // for the log line
	action    string          // for the log line
}

// scan runs the configured filters on data: clamd first (malware ends it),
// then rspamd with env. log reports failures.
func (o FilterOptions) scan(ctx context.Context, log *slog.Logger, server string, data []byte, env rspamd.Envelope) scanned {
	var r scanned
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	failed := func(which string, err error) bool {
		r.detail = joinDetail(r.detail, which+": "+err.Error())
		log.Warn("smtpd: content filter failed", "filter", which, "server", server, "err", err, "id", env.QueueID)
		if o.OnFailure != nil {
			o.OnFailure(which, server)
		}
		if !o.AcceptUnscanned {
			r.reply = errUnscanned
			return true
		}
		r.unscanned = append(r.unscanned, which)
		return false
	}
	if o.Virus != nil {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		res, err := o.Virus.Scan(cctx, data)
		cancel()
		switch {
		case err != nil:
			if failed("clamd", err) {
				return r
			}
		case res.Infected():
			r.action = "malware " + replyText(res.Signature, 100)
			r.reply = errMalware(res.Signature)
			return r
		}
	}
	if o.Spam != nil {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		res, err := o.Spam.Check(cctx, data, env)
		cancel()
		if err != nil {
			failed("rspamd", err)
			return r
		}
		r.spam = &res
		r.action = fmt.Sprintf("spam %s %.2f/%.2f", res.Action, res.Score, res.RequiredScore)
		if syms := res.SymbolList(); syms != "" {
			r.detail = joinDetail(r.detail, "rspamd symbols "+replyText(syms, 500))
		}
		switch res.Action {
		case rspamd.ActionReject:
			r.reply = errSpam(res.SMTPMessage)
		case rspamd.ActionSoftReject, rspamd.ActionGreylist:
			r.reply = errSpamLater
		}
	}
	return r
}

// filterVerdict is what the filters decided about a message the MX
// delivers: header fields to prepend and whether it goes to Junk.
type filterVerdict struct {
	fields []byte
	junk   bool
}

// filter runs the MX's filters on data; a non-nil reply refuses the
// message. l collects what the log line reports.
func (s *mxSession) filter(ctx context.Context, tx *mxTx, data []byte, id string, l *txLog) (filterVerdict, *smtp.SMTPError) {
	var v filterVerdict
	o := s.srv.opts.Filters
	if o.Virus == nil && o.Spam == nil {
		return v, nil
	}
	env := rspamd.Envelope{From: tx.from, Rcpts: tx.rcptList, IP: s.ip.String(), Helo: s.helo, QueueID: id}
	if o.Spam != nil {
		env.Hostname = s.clientName(ctx)
	}
	r := o.scan(ctx, s.srv.log, "mx", data, env)
	l.detail = joinDetail(l.detail, r.detail)
	l.action = joinDetail(l.action, r.action)
	if r.reply != nil {
		return v, r.reply
	}
	for _, which := range r.unscanned {
		v.fields = append(v.fields, "X-Congthu-Scan: not scanned by "+which+" (unavailable)\r\n"...)
	}
	if r.spam != nil {
		spam := r.spam.Action == rspamd.ActionAddHeader || r.spam.Action == rspamd.ActionRewrite
		v.junk = spam && !o.SpamToInbox
		v.fields = append(v.fields, spamStatus(spam, *r.spam)...)
	}
	return v, nil
}

// clientName is the client's name by reverse DNS ("" when it has none or
// the lookup fails within 5 s), looked up once per session: rspamd counts
// a client without one against the message (RDNS_NONE,
// HFILTER_HOSTNAME_UNKNOWN), so it is told the name rather than left to
// assume there is none. A session's transactions run one after another.
func (s *mxSession) clientName(ctx context.Context) string {
	if s.rdnsDone {
		return s.rdns
	}
	s.rdnsDone = true
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if names, err := s.srv.opts.Resolver.LookupAddr(ctx, s.ip.String()); err == nil && len(names) > 0 {
		s.rdns = strings.TrimSuffix(names[0], ".")
	}
	return s.rdns
}

// scanSubmission runs the filters on a submitted message: malware is
// refused (and logged at warning level with the account: a password that
// sends malware is likely stolen), as is rspamd's reject, soft reject or
// greylist for an authenticated sender (User set, so its rules for them
// apply). Nothing is added to the message: it leaves for other servers.
func (s *session) scanSubmission(ctx context.Context, tx *transaction, data []byte, id string) (*smtp.SMTPError, string) {
	o := s.srv.opts.Filters
	if o.Virus == nil && o.Spam == nil {
		return nil, ""
	}
	rcpts := make([]string, 0, len(tx.remote)+len(tx.localRcpts))
	rcpts = append(rcpts, tx.remote...)
	for _, r := range tx.localRcpts {
		rcpts = append(rcpts, r.addr)
	}
	r := o.scan(ctx, s.srv.log, "smtp", data, rspamd.Envelope{From: tx.from, Rcpts: rcpts, IP: s.ip.String(), Helo: s.helo, QueueID: id, User: s.account.Address})
	if r.reply != nil && r.reply.Code == 554 && strings.HasPrefix(r.action, "malware") {
		s.srv.log.Warn("smtpd: malware submitted; the account may be compromised", "account", s.account.Address, "ip", s.ip.String(), "signature", r.action, "id", id)
	}
	return r.reply, joinDetail(r.detail, r.action)
}

// spamStatus is the X-Spam-Status field of a verdict, folded.
func spamStatus(spam bool, res rspamd.Result) string {
	yes := "No"
	if spam {
		yes = "Yes"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "X-Spam-Status: %s, score=%.2f required=%.2f action=%q", yes, res.Score, res.RequiredScore, replyText(res.Action, 40))
	line := b.Len()
	syms := strings.Split(res.SymbolList(), ",")
	if len(syms) > 50 {
		syms = append(syms[:50], "...")
	}
	b.WriteString(" tests=")
	line += len(" tests=")
	for i, sym := range syms {
		sym = replyText(sym, 100)
		if sym == "" {
			continue
		}
		if i > 0 {
			b.WriteByte(',')
			line++
		}
		if line+len(sym) > 76 {
			b.WriteString("\r\n\t")
			line = 1
		}
		b.WriteString(sym)
		line += len(sym)
	}
	b.WriteString("\r\n")
	return b.String()
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
