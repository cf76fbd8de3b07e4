// Package bounce reads the bounces that come back to the return path of
// notification mail (bounce+<id>@<sender domain>, see notify.EnvelopeSender)
// and says what they report: a permanent failure, a delay, a success, or
// nothing it can tell.
//
// It reads, in this order:
//
//   - RFC 3464 delivery status notifications: a message/delivery-status
//     part (message/global-delivery-status, RFC 6533), normally inside a
//     multipart/report; report-type=delivery-status (RFC 6522), with its
//     per-recipient fields Action, Status (RFC 3463), Diagnostic-Code,
//     Final-Recipient and Remote-MTA. Postfix, Exim, Exchange and Office
//     365, Gmail, Sendmail and congthu itself send these.
//   - Otherwise a best-effort scan of the human-readable text (qmail's
//     "failure notice", Exchange's and Gmail's older text-only reports,
//     Exim's and Postfix's text when the report part is missing): a
//     failure phrase ("could not be delivered", "permanent error", ...)
//     and an SMTP reply or enhanced status code of class 5 must both
//     appear, before the copy of the original message that most such
//     reports append, in a message from a mail system (MAILER-DAEMON@,
//     postmaster@, "Mail Delivery System").
//
// The rule that matters most: a report that says anywhere that delivery
// is only delayed (Action: delayed, a status of class 4 alone, "will
// retry", "warning only", ...) is never a permanent failure. Out-of-office
// replies and other automatic answers, which also go to the return path
// (RFC 3834), carry neither a failure phrase with a 5xx code nor a report
// part, and read as nothing.
//
// Parse reads at most MaxBytes of a message, looks at most maxDepth levels
// and maxParts parts into its MIME structure, and does work linear in what
// it read.
package bounce

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxBytes is how much of a message Parse reads. Reports are a few
// kilobytes; what follows them is the returned original message.
const MaxBytes = 256 << 10

const (
	maxDepth = 4  // nested multiparts
	maxParts = 32 // parts looked at in all
	// maxDiagnostic bounds Report.Diagnostic and the other text fields.
	maxDiagnostic = 500
)

// Actions of Report.Action (RFC 3464 section 2.3.3).
const (
	Failed    = "failed"
	Delayed   = "delayed"
	Delivered = "delivered"
	Relayed   = "relayed"
	Expanded  = "expanded"
)

// Report is what a bounce says about the one message it returns.
type Report struct {
	// Action is Failed, Delayed, Delivered, Relayed, Expanded, or ""
	// when the message says nothing Parse understands. A report that
	// mentions a delay anywhere has Action Delayed, whatever else it
	// says.
	Action string
	// Status is the RFC 3463 enhanced status code ("5.1.1"), from the
	// Status field, else from the diagnostic ("550" gives "5.0.0"); ""
	// when there is none.
	Status string
	// Diagnostic is the remote server's reply (Diagnostic-Code without
	// its type, or the text line carrying the code), on one line.
	Diagnostic string
	// Recipient is the Final-Recipient address (or the address the text
	// names), ReportingMTA and RemoteMTA the host names the report gives.
	Recipient    string
	ReportingMTA string
	RemoteMTA    string
	// Standard is true when the report came from an RFC 3464 part,
	// false when from the text scan.
	Standard bool
}

// Permanent reports whether the report is a permanent failure: Action
// failed with a status of class 5.
func (r Report) Permanent() bool {
	return r.Action == Failed && strings.HasPrefix(r.Status, "5.")
}

// String describes the report in one line, for a notification's
// timeline and the log: "bounced by mx.example.org: 5.1.1 550 5.1.1
// <an@example.org>: Recipient address rejected: User unknown".
func (r Report) String() string {
	var b strings.Builder
	switch r.Action {
	case Failed:
		b.WriteString("bounced")
	case "":
		b.WriteString("unreadable bounce")
	default:
		b.WriteString("report: " + r.Action)
	}
	if by := r.RemoteMTA; by != "" {
		b.WriteString(" by " + by)
	} else if r.ReportingMTA != "" {
		b.WriteString(" (reported by " + r.ReportingMTA + ")")
	}
	if r.Recipient != "" {
		b.WriteString(" for " + r.Recipient)
	}
	if r.Status != "" || r.Diagnostic != "" {
		b.WriteString(":")
	}
	if r.Status != "" {
		b.WriteString(" " + r.Status)
	}
	if r.Diagnostic != "" {
		b.WriteString(" " + r.Diagnostic)
	}
	return b.String()
}

// Parse reads a bounce (at most MaxBytes of it) and returns what it
// reports. It never fails: a message it cannot read is a Report with
// Action "".
func Parse(r io.Reader) Report {
	buf, _ := io.ReadAll(io.LimitReader(r, MaxBytes))
	return parse(buf)
}

func parse(buf []byte) Report {
	var c collector
	subject, daemon := "", true
	if msg, err := mail.ReadMessage(bytes.NewReader(buf)); err == nil {
		daemon = fromDaemon(msg.Header.Get("From"))
		subject = msg.Header.Get("Subject")
		if dec, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
			subject = dec
		}
		c.walk(textproto.MIMEHeader(msg.Header), msg.Body, 0)
	} else {
		// Not even a header section: scan it all as text.
		c.texts = append(c.texts, buf)
	}

	human := humanText(subject, c.texts)
	var rep Report
	if len(c.reports) > 0 {
		rep = fromDSN(c.reports)
	}
	if rep.Action == "" && daemon {
		rep = scanText(human)
	}
	// Whatever the report part said, a delay mentioned in the report
	// (its explanation, or a report field) is not a failure. The
	// returned original is not read: a notification may well speak of
	// a delayed dossier.
	if rep.Action == Failed && (mentionsDelay(human) || anyDelayed(c.reports)) {
		rep.Action = Delayed
	}
	rep.Diagnostic = oneLine(rep.Diagnostic)
	rep.Recipient = oneLine(rep.Recipient)
	rep.ReportingMTA = oneLine(rep.ReportingMTA)
	rep.RemoteMTA = oneLine(rep.RemoteMTA)
	return rep
}

// collector gathers the report parts and the human-readable text of a
// message, skipping the returned original.
type collector struct {
	reports [][]byte // decoded message/delivery-status bodies
	texts   [][]byte // decoded text/plain, and text/html without tags
	parts   int
}

func (c *collector) walk(h textproto.MIMEHeader, body io.Reader, depth int) {
	c.parts++
	if c.parts > maxParts {
		return
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt = "text/plain"
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if depth >= maxDepth || params["boundary"] == "" {
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for c.parts < maxParts {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			c.walk(p.Header, p, depth+1)
		}
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		c.reports = append(c.reports, decode(h, body))
	case mt == "text/plain" || mt == "text/html" || mt == "text/enriched":
		b := decode(h, body)
		if mt == "text/html" {
			b = stripTags(b)
		}
		c.texts = append(c.texts, b)
	}
	// message/rfc822, text/rfc822-headers, message/global and
	// message/global-headers are the original message: not read.
}

// decode reads a part's body, undoing its Content-Transfer-Encoding.
func decode(h textproto.MIMEHeader, body io.Reader) []byte {
	var r io.Reader = body
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &base64Clean{r: bufio.NewReader(body)})
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	}
	b, _ := io.ReadAll(io.LimitReader(r, MaxBytes))
	return b
}

// base64Clean drops what base64 bodies may contain besides the
// alphabet (line breaks, spaces), which encoding/base64 refuses.
type base64Clean struct{ r *bufio.Reader }

func (b *base64Clean) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c, err := b.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
			p[n] = c
			n++
		}
	}
	return n, nil
}

var tagRE = regexp.MustCompile(`(?s)<[^>]{0,1000}>`)

// stripTags turns HTML into rough text: tags become line breaks,
// entities are decoded.
func stripTags(b []byte) []byte {
	return []byte(html.UnescapeString(string(tagRE.ReplaceAll(b, []byte("\n")))))
}

// ---- RFC 3464

// fields is one block of a delivery-status body: lower-case field name
// to value (the first occurrence).
type fields map[string]string

// parseBlocks splits a delivery-status body into its blocks (RFC 3464
// section 2.1: the per-message fields, then one block per recipient,
// separated by blank lines), unfolding continuation lines.
func parseBlocks(b []byte) []fields {
	var out []fields
	cur := fields{}
	last := ""
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, last = fields{}, ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last != "" && len(cur[last]) < MaxBytes {
				cur[last] += " " + strings.TrimSpace(line)
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, seen := cur[k]; seen {
			last = ""
			continue
		}
		cur[k], last = strings.TrimSpace(v), k
		if len(out) > 1000 {
			break
		}
	}
	flush()
	return out
}

var (
	enhancedRE = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)
	replyRE    = regexp.MustCompile(`(?:^|[^\d.])([245])\d\d(?:[ \-]|$)`)
)

// statusOf finds an enhanced status code in s, else derives one from an
// SMTP reply code ("550" gives "5.0.0").
func statusOf(s string) string {
	if m := enhancedRE.FindString(s); m != "" {
		return m
	}
	if m := replyRE.FindStringSubmatch(s); m != nil {
		return m[1] + ".0.0"
	}
	return ""
}

// typed drops the type of a typed field value ("rfc822; a@b" → "a@b",
// "smtp; 550 ..." → "550 ...").
func typed(v string) string {
	if t, rest, ok := strings.Cut(v, ";"); ok && !strings.ContainsAny(t, " \t<>@") {
		return strings.TrimSpace(rest)
	}
	return strings.TrimSpace(v)
}

// fromDSN reads the delivery-status parts: the recipient block that
// matters is the first delayed one, else the first permanent failure,
// else the first one with an action.
func fromDSN(parts [][]byte) Report {
	var best Report
	rank := func(r Report) int {
		switch {
		case r.Action == Delayed:
			return 4
		case r.Permanent():
			return 3
		case r.Action == Failed:
			return 2
		case r.Action != "":
			return 1
		}
		return 0
	}
	for _, p := range parts {
		blocks := parseBlocks(p)
		reporting := ""
		for i, f := range blocks {
			if i == 0 && f["reporting-mta"] != "" {
				reporting = typed(f["reporting-mta"])
			}
			_, hasAction := f["action"]
			_, hasStatus := f["status"]
			if !hasAction && !hasStatus {
				continue
			}
			r := Report{Standard: true, ReportingMTA: reporting}
			r.Recipient = strings.Trim(typed(f["final-recipient"]), "<> ")
			if r.Recipient == "" {
				r.Recipient = strings.Trim(typed(f["original-recipient"]), "<> ")
			}
			r.RemoteMTA = typed(f["remote-mta"])
			r.Diagnostic = typed(f["diagnostic-code"])
			r.Status = enhancedRE.FindString(f["status"])
			if r.Status == "" {
				r.Status = statusOf(r.Diagnostic)
			}
			action := strings.ToLower(strings.TrimSpace(f["action"]))
			if i := strings.IndexAny(action, " \t(;"); i >= 0 {
				action = action[:i]
			}
			switch action {
			case Failed, Delayed, Delivered, Relayed, Expanded:
				r.Action = action
			case "":
				// RFC 3464 requires Action; infer it from the
				// status class when missing.
				switch {
				case strings.HasPrefix(r.Status, "5."):
					r.Action = Failed
				case strings.HasPrefix(r.Status, "4."):
					r.Action = Delayed
				case strings.HasPrefix(r.Status, "2."):
					r.Action = Delivered
				}
			}
			if r.Action == Failed && strings.HasPrefix(r.Status, "4.") && strings.Contains(strings.ToLower(r.Diagnostic+f["status"]), "delay") {
				r.Action = Delayed
			}
			if rank(r) > rank(best) {
				best = r
			}
		}
	}
	return best
}

// ---- the text scan

// originalMarkers start the copy of the original message in text-only
// reports; the scan stops there.
var originalMarkers = []string{
	"below this line is a copy of the message",
	"this is a copy of the message",
	"original message follows",
	"----- original message -----",
	"------ original message ------",
	"-----original message-----",
	"--- the header of the original message is following. ---",
	"----- transcript of session follows -----\n\n----- original message",
	"----- the following addresses had permanent fatal errors",
}

// delayMarkers say that delivery is delayed, not given up.
var delayMarkers = []string{
	"action: delayed",
	"delayed",
	"delay)",
	"will retry",
	"will be retried",
	"will keep trying",
	"will continue trying",
	"will continue to try",
	"still trying",
	"still being retried",
	"not yet been delivered",
	"warning message only",
	"this is a warning",
	"warning only",
	"do not need to resend",
	"delivery incomplete",
	"temporary problem",
	"warning: could not send",
}

// failurePhrases say that delivery failed.
var failurePhrases = []string{
	"could not be delivered",
	"couldn't be delivered",
	"could not deliver",
	"was not delivered",
	"wasn't delivered",
	"delivery has failed",
	"delivery failed",
	"delivery to the following recipient failed",
	"failed permanently",
	"permanent error",
	"permanent failure",
	"permanent fatal error",
	"undeliverable",
	"undelivered mail",
	"address not found",
	"wasn't able to deliver",
	"was not able to deliver",
	"unable to deliver",
	"the following address(es) failed",
	"failure notice",
	"returned mail",
	"mail delivery failed",
	"non-delivery",
	"message not delivered",
	"user unknown",
	"no such user",
	"does not exist",
	"mailbox unavailable",
}

// mentionsDelay reports whether b (read as lower-case ASCII) contains a
// delay marker.
func mentionsDelay(b []byte) bool {
	lower := bytes.ToLower(b)
	for _, m := range delayMarkers {
		if bytes.Contains(lower, []byte(m)) {
			return true
		}
	}
	return false
}

var addrRE = regexp.MustCompile(`<?([A-Za-z0-9._%+\-=]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})+)>?`)

// humanText is the subject and the text parts of a report, each up to
// the copy of the original message, with LF line ends.
func humanText(subject string, texts [][]byte) []byte {
	var all []byte
	all = append(all, subject...)
	all = append(all, '\n')
	for _, t := range texts {
		t = bytes.ReplaceAll(t, []byte("\r\n"), []byte("\n"))
		lower := bytes.ToLower(t)
		end := len(t)
		for _, m := range originalMarkers {
			if i := bytes.Index(lower, []byte(m)); i >= 0 && i < end {
				end = i
			}
		}
		all = append(all, t[:end]...)
		all = append(all, '\n')
	}
	return all
}

// anyDelayed reports whether a delivery-status part has a field line
// "Action: delayed".
func anyDelayed(parts [][]byte) bool {
	for _, p := range parts {
		if delayedRE.Match(p) {
			return true
		}
	}
	return false
}

var delayedRE = regexp.MustCompile(`(?im)^[ \t]*action[ \t]*:[ \t]*delayed`)

// scanText is the best-effort reading of text-only reports.
func scanText(all []byte) Report {
	if mentionsDelay(all) {
		return Report{Action: Delayed, Status: statusOf(string(all))}
	}
	lower := bytes.ToLower(all)
	phrase := false
	for _, p := range failurePhrases {
		if bytes.Contains(lower, []byte(p)) {
			phrase = true
			break
		}
	}
	if !phrase {
		return Report{}
	}
	// The first line that carries a class-5 code is the diagnostic;
	// a class-4 code alone is not a permanent failure.
	var r Report
	lines := strings.Split(string(all), "\n")
	for i, line := range lines {
		st := ""
		if m := enhancedRE.FindString(line); m != "" {
			st = m
		} else if m := replyRE.FindStringSubmatch(line); m != nil {
			st = m[1] + ".0.0"
		}
		if st == "" {
			continue
		}
		if !strings.HasPrefix(st, "5.") {
			if r.Status == "" {
				r.Status = st
			}
			continue
		}
		r.Action, r.Status = Failed, st
		r.Diagnostic = strings.TrimSpace(line)
		// qmail and Exim put the address on the line before.
		for j := i; j >= 0 && j >= i-3 && r.Recipient == ""; j-- {
			if m := addrRE.FindStringSubmatch(lines[j]); m != nil && !isDaemon(m[1]) {
				r.Recipient = m[1]
			}
		}
		break
	}
	if r.Action == "" {
		return Report{Status: r.Status}
	}
	if r.Recipient == "" {
		for _, m := range addrRE.FindAllStringSubmatch(string(all), 20) {
			if !isDaemon(m[1]) {
				r.Recipient = m[1]
				break
			}
		}
	}
	return r
}

// fromDaemon reports whether a From field names a mail system rather
// than a person (MAILER-DAEMON@, postmaster@, "Mail Delivery System"):
// the text scan reads only such messages, so an out-of-office reply that
// quotes an error is not taken for a bounce. A From that cannot be
// parsed counts as a mail system.
func fromDaemon(from string) bool {
	l := strings.ToLower(from)
	if l == "" {
		return true
	}
	for _, w := range []string{"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "mail delivery", "mail system", "mdaemon"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	_, err := mail.ParseAddress(from)
	return err != nil
}

func isDaemon(addr string) bool {
	l := strings.ToLower(addr)
	return strings.HasPrefix(l, "mailer-daemon@") || strings.HasPrefix(l, "postmaster@")
}

// oneLine makes s a single line of valid UTF-8 without control
// characters, at most maxDiagnostic bytes.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ' ' }), " ")
	if len(s) > maxDiagnostic {
		s = s[:maxDiagnostic]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}
