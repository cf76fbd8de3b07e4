package smtpd

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"congthu/mailhdr"
)

// Storage quotas (see store.ErrOverQuota).
//
// A local recipient whose account is already full (not one more byte
// fits) is refused at RCPT with 452 4.2.2 (RFC 3463 section 3.3, "Mailbox
// full", a persistent transient failure; RFC 5321 section 4.2.2, 452
// "insufficient system storage"): the client keeps its other recipients,
// and a sending MTA retries that one until its own queue lifetime ends and
// then tells its sender itself. Nothing of ours is sent.
//
// At the end of DATA the store decides, under the accounts' row locks,
// whether the message fits each local recipient (store.Delivery
// PartialQuota):
//
//   - it fits none of them and there is no other recipient: 452 4.2.2 for
//     the whole message, nothing is stored, the client retries later;
//   - it fits some: it is stored for those (250), and the sender gets a
//     delivery status notification (RFC 3464) listing the others, with
//     Status 5.2.2, as mox does for recipients that fail after DATA in
//     the same transaction. Submission: into the sending account's INBOX.
//     MX: through the outbox to the envelope sender, from the null
//     reverse-path; none when the reverse-path is null (RFC 5321
//     section 6.1: never a notice about a notice).
//
// A 452 for the whole message in the second case would hold back the
// recipients with room until the full one empties its mailbox, and on
// expiry the sending MTA would bounce the message for all of them;
// SMTP (unlike LMTP) has no per-recipient reply after DATA.

// errMailboxFull refuses a recipient, or a message, for its quota.
var errMailboxFull = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"}

// localRcpt is a local RCPT TO and the account it reaches.
type localRcpt struct {
	addr    string
	account int64
}

// refused returns the addresses of rcpts whose account is in over.
func refused(rcpts []localRcpt, over []int64) []string {
	var out []string
	for _, r := range rcpts {
		for _, a := range over {
			if r.account == a {
				out = append(out, r.addr)
				break
			}
		}
	}
	return out
}

// quotaDSN is a delivery status notification (RFC 3464, in a
// multipart/report of RFC 6522) telling sender that the message whose
// header section is header was not delivered to rcpts because their
// mailboxes are full, while the other recipients got it. Lines end in
// CRLF.
func quotaDSN(hostname, sender string, rcpts []string, header []byte, id string, arrival, now time.Time) []byte {
	boundary := "=_dsn_" + randHex(12)
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	subject := "Thư không gửi được / Undelivered mail"
	if h, err := mailhdr.Parse(header); err == nil {
		if s, _ := h.Value("Subject"); s != "" {
			if dec, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
				s = dec
			}
			subject += ": " + oneLine(s, 200)
		}
	}
	w("From: %s <MAILER-DAEMON@%s>", mime.QEncoding.Encode("utf-8", "Hệ thống thư / Mail Delivery System"), hostname)
	w("To: <%s>", oneLine(sender, 320))
	w("Subject: %s", mime.QEncoding.Encode("utf-8", subject))
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <dsn.%s.%s@%s>", id, randHex(8), hostname)
	// RFC 3834 section 5: an automatic reply nobody should answer.
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	w(`Content-Type: multipart/report; report-type=delivery-status; boundary="%s"`, boundary)
	w("")
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=utf-8")
	w("Content-Transfer-Encoding: 8bit")
	w("")
	w("Thư của bạn không được chuyển tới những người nhận dưới đây vì hộp thư")
	w("của họ đã đầy (vượt hạn mức dung lượng). Những người nhận khác đã nhận")
	w("được thư.")
	w("")
	w("Your message was not delivered to the recipients below because their")
	w("mailbox is full (over its storage quota). The other recipients got it.")
	w("")
	for _, r := range rcpts {
		w("  <%s>", oneLine(r, 320))
	}
	w("")
	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("")
	w("Reporting-MTA: dns; %s", hostname)
	w("X-Congthu-Transaction-ID: %s", id)
	w("Arrival-Date: %s", arrival.Format(time.RFC1123Z))
	for _, r := range rcpts {
		w("")
		w("Final-Recipient: rfc822; %s", oneLine(r, 320))
		w("Action: failed")
		w("Status: 5.2.2")
		w("Diagnostic-Code: smtp; 552 5.2.2 Mailbox full")
		w("Last-Attempt-Date: %s", now.Format(time.RFC1123Z))
	}
	w("")
	w("--%s", boundary)
	w("Content-Type: text/rfc822-headers")
	w("")
	b.Write(bytes.TrimRight(header, "\r\n"))
	w("")
	w("")
	w("--%s--", boundary)
	return b.Bytes()
}

// oneLine removes line breaks and bounds s to n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n]
	}
	return s
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// errString is err's text, "" for nil (for log attributes).
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
