package notify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jordan-wright/email"

	"congthu/internal/mailaddr"
	"congthu/notify/notifydb"
)

// Email is a notification email to compose.
type Email struct {
	// NotificationID names the Message-ID and the envelope sender.
	NotificationID string
	// From is the sender: an address on one of our domains (e.g.
	// noreply@hanoi.gov.vn) with the agency as display name.
	From mail.Address
	// To is the applicant's address; ToName their name (may be empty).
	To, ToName string
	// ReplyTo is the handling unit's mailbox (may be empty).
	ReplyTo string
	// Subject, Text and HTML are the rendered template.
	Subject, Text, HTML string
	// DossierCode is put in the subject when the template did not, so a
	// reply can be routed to the dossier.
	DossierCode string
	// Date is the Date header (zero: now).
	Date time.Time
}

// NotificationEmail is the Email of a stored notification: its rendered
// content and the sender fields the API recorded, dated when it was
// created (so every attempt carries the same Date and Message-ID).
func NotificationEmail(n *notifydb.Notification) Email {
	return Email{NotificationID: n.ID, From: mail.Address{Name: n.FromName, Address: n.FromAddress},
		To: n.Recipient, ToName: n.ToName, ReplyTo: n.ReplyTo, Subject: n.Subject, Text: n.Text, HTML: n.HTML,
		DossierCode: n.DossierCode, Date: n.CreatedAt}
}

// EnvelopeSender returns the per-notification envelope sender
// bounce+<id>@<domain>: a DSN coming back to it names the notification
// (see NotificationFromBounce).
func EnvelopeSender(notificationID, domain string) string {
	return "bounce+" + notificationID + "@" + domain
}

// NotificationFromBounce returns the notification ID in an envelope
// recipient of the form bounce+<id>@domain, and whether it had that form.
func NotificationFromBounce(rcpt string) (string, bool) {
	local, _, ok := strings.Cut(rcpt, "@")
	if !ok {
		return "", false
	}
	id, ok := strings.CutPrefix(strings.ToLower(local), "bounce+")
	return id, ok && id != ""
}

// Compose builds the message (RFC 5322, multipart/alternative text and
// HTML in UTF-8 quoted-printable) with jordan-wright/email, and returns it
// with its envelope sender.
//
// Fix-ups over the library: every header value is encoded here, not by the
// library (which Q-encodes a whole Reply-To "Name <addr>" as one word and
// splits From on commas inside display names): the subject is RFC 2047
// B-encoded (shorter than Q for Vietnamese) in words of at most 75
// characters, display names go through net/mail (RFC 2047 Q), and the
// header section is then folded at spaces so that no line exceeds 78
// characters (RFC 5322 §2.1.1; the library writes one line per header).
// ASCII text that would not fold (a word longer than a line, which RFC
// 5322 §2.1.1 caps at 998 octets, or text that looks like an encoded
// word) is B-encoded too, in words short enough to fold between them.
// Message-ID is <id@domain> instead of the library's host-based one, and
// Auto-Submitted: auto-generated (RFC 3834) keeps vacation responders quiet.
func Compose(m Email) (raw []byte, envelopeFrom string, err error) {
	domain, err := m.Check()
	if err != nil {
		return nil, "", err
	}
	subject := m.Subject
	if m.DossierCode != "" && !strings.Contains(subject, m.DossierCode) {
		subject += " [" + m.DossierCode + "]"
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	e := email.NewEmail()
	from, to := formatAddress(m.From.Name, m.From.Address), formatAddress(m.ToName, m.To)
	e.Headers.Set("From", from)
	e.Headers.Set("To", to)
	if m.ReplyTo != "" {
		e.Headers.Set("Reply-To", (&mail.Address{Address: m.ReplyTo}).String())
	}
	e.Headers.Set("Subject", encodeText(subject))
	e.Headers.Set("Date", date.Format(time.RFC1123Z))
	e.Headers.Set("Message-Id", "<"+m.NotificationID+"@"+domain+">")
	e.Headers.Set("Auto-Submitted", "auto-generated")
	e.Headers.Set("X-Congthu-Notification", m.NotificationID)
	e.Text = []byte(m.Text)
	e.HTML = []byte(m.HTML)
	b, err := e.Bytes()
	if err != nil {
		return nil, "", fmt.Errorf("notify: compose: %w", err)
	}
	// The library parses From and To again and writes net/mail's form,
	// which keeps a long ASCII name as one quoted word: put ours back.
	b = setHeaderLines(b, map[string]string{"From": from, "To": to})
	return foldHeader(b), EnvelopeSender(m.NotificationID, domain), nil
}

// setHeaderLines replaces the value of the (unfolded, one-line) header
// fields named in values, in the header section of b only.
func setHeaderLines(b []byte, values map[string]string) []byte {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return b
	}
	lines := strings.Split(string(b[:end]), "\r\n")
	for i, line := range lines {
		name, _, ok := strings.Cut(line, ": ")
		if v, set := values[name]; ok && set {
			lines[i] = name + ": " + v
		}
	}
	var out bytes.Buffer
	out.Grow(len(b) + 64)
	out.WriteString(strings.Join(lines, "\r\n"))
	out.Write(b[end:])
	return out.Bytes()
}

// Check reports whether m can be composed (a sender with a domain, a
// notification ID and a recipient, no line break in a header value), and
// returns the sender's domain. The API checks a notification email when
// it accepts it; the dispatcher composes it later (see Tracker.ComposeOutbox).
func (m Email) Check() (domain string, err error) {
	_, domain, ok := strings.Cut(m.From.Address, "@")
	if !ok || domain == "" {
		return "", fmt.Errorf("notify: compose: sender %q has no domain", m.From.Address)
	}
	if m.NotificationID == "" || m.To == "" {
		return "", errors.New("notify: compose: no notification ID or recipient")
	}
	for _, v := range []string{m.From.Address, m.From.Name, m.To, m.ToName, m.ReplyTo, m.Subject, m.NotificationID} {
		if strings.ContainsAny(v, "\r\n") {
			return "", errors.New("notify: compose: line break in a header value")
		}
	}
	return domain, nil
}

// maxPlainWord is the longest word of ASCII text a header keeps as it is:
// longer ones could not be folded onto lines of 78 characters.
const maxPlainWord = 60

// plainASCII reports whether s can stay unencoded in a header: printable
// ASCII (and spaces), no word longer than maxPlainWord, nothing an RFC 2047
// decoder would take for an encoded word.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	for _, w := range strings.Split(s, " ") {
		if len(w) > maxPlainWord {
			return false
		}
	}
	return !strings.Contains(s, "=?")
}

// encodeWords B-encodes s (RFC 2047) in encoded words of at most 72
// characters (45 bytes of UTF-8 each, never splitting a character),
// separated by spaces, which decoders drop between encoded words
// (RFC 2047 §6.2): the header can fold between them, and s comes back
// exactly.
func encodeWords(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if n+size > 45 {
				break
			}
			n += size
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("=?UTF-8?B?")
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(s[:n])))
		b.WriteString("?=")
		s = s[n:]
	}
	return b.String()
}

// encodeText is an unstructured header value (the subject): B-encoded in
// words of at most 75 characters unless plain ASCII does.
func encodeText(s string) string {
	if plainASCII(s) {
		return s
	}
	if mailaddr.IsASCII(s) {
		// mime leaves ASCII alone whatever its length.
		return encodeWords(s)
	}
	return mime.BEncoding.Encode("UTF-8", s)
}

// formatAddress is "display name <address>" for From and To: the name as
// net/mail writes it (a quoted string, or RFC 2047 Q or B encoded words
// of at most 75 characters), or, for ASCII that would not fold, encoded
// words of encodeWords.
func formatAddress(name, addr string) string {
	if name != "" && mailaddr.IsASCII(name) && !plainASCII(name) {
		return encodeWords(name) + " " + (&mail.Address{Address: addr}).String()
	}
	return (&mail.Address{Name: name, Address: addr}).String()
}

// foldHeader folds header lines longer than 78 characters at spaces
// (RFC 5322 §2.2.3), leaving the body alone.
func foldHeader(b []byte) []byte {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b) + 64)
	for _, line := range strings.Split(string(b[:end]), "\r\n") {
		for len(line) > 78 {
			cut := strings.LastIndexByte(line[:78], ' ')
			if cut <= 0 || strings.TrimSpace(line[:cut]) == "" {
				cut = strings.IndexByte(line[78:], ' ')
				if cut < 0 {
					break
				}
				cut += 78
			}
			out.WriteString(line[:cut])
			out.WriteString("\r\n")
			line = line[cut:] // keeps the space: it starts the continuation
		}
		out.WriteString(line)
		out.WriteString("\r\n")
	}
	out.Write(b[end+2:])
	return out.Bytes()
}
