package dispatcher

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"

	"congthu/internal/mailaddr"
	"congthu/mailhdr"
	"congthu/outbox"
	"congthu/store"
)

// dsnRecipient is one recipient reported in a DSN.
type dsnRecipient struct {
	addr       string
	action     string // "failed" or "delayed" (RFC 3464 2.3.3)
	err        *DeliveryError
	expired    bool      // failed because the message grew too old
	retryUntil time.Time // for "delayed": Will-Retry-Until
}

// report sends the sender of an outbox entry a DSN about rcpts (all with
// the same action), into the sender's INBOX, when the sender is a local
// account. No DSN goes to the null sender (a DSN is never sent about a
// DSN, RFC 3461 5.2 / RFC 5321 6.1) nor to a sender outside this server:
// mail whose envelope sender is not local is the notifications' mail,
// whose outcome the outbox hooks are told (outbox.Store.AddHook).
func (d *Dispatcher) report(ctx context.Context, log *slog.Logger, st *outbox.State, origHeader []byte, rcpts []dsnRecipient, now time.Time) {
	if strings.TrimSpace(strings.Trim(st.MailFrom, "<>")) == "" {
		log.Info("dispatcher: no DSN for the null sender", "action", rcpts[0].action, "recipients", len(rcpts))
		return
	}
	acc, err := d.st.ResolveRecipient(ctx, st.MailFrom)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("dispatcher: sender is not local; no DSN", "action", rcpts[0].action, "recipients", len(rcpts))
		return
	}
	if err != nil {
		log.Error("dispatcher: cannot resolve the sender for a DSN", "err", err)
		return
	}
	msg := buildDSN(dsnInfo{
		reportingMTA: d.o.Hostname,
		sender:       st.MailFrom,
		arrival:      st.CreatedAt,
		now:          now,
		outboxID:     st.ID,
		rcpts:        rcpts,
		header:       origHeader,
	})
	if _, err := d.st.Deliver(ctx, &store.Delivery{Raw: msg, Local: []store.LocalTarget{{AccountID: acc.ID}}}); err != nil {
		log.Error("dispatcher: cannot deliver the DSN to the sender", "action", rcpts[0].action, "err", err)
		return
	}
	d.o.Metrics.dsn(rcpts[0].action)
	log.Info("dispatcher: DSN delivered to the sender", "action", rcpts[0].action, "recipients", len(rcpts))
}

// dsnInfo is what a DSN says.
type dsnInfo struct {
	reportingMTA string
	sender       string
	arrival, now time.Time
	outboxID     int64
	rcpts        []dsnRecipient
	header       []byte // the original message's header section
}

// buildDSN composes a delivery status notification (RFC 3464): a
// multipart/report (RFC 6522) with a human-readable part in Vietnamese and
// English, a message/delivery-status part (message/global-delivery-status,
// RFC 6533, when an address is not ASCII) and the original header section
// as text/rfc822-headers. Lines end in CRLF.
func buildDSN(in dsnInfo) []byte {
	boundary := "=_dsn_" + randomHex(12)
	delayed := in.rcpts[0].action == "delayed"
	intl := !mailaddr.IsASCII(in.sender)
	for _, r := range in.rcpts {
		if !mailaddr.IsASCII(r.addr) {
			intl = true
		}
	}
	origSubject, origMessageID := "", ""
	if h, err := mailhdr.Parse(in.header); err == nil {
		origSubject, _ = h.Value("Subject")
		origMessageID, _ = h.Value("Message-ID")
		if dec, err := new(mime.WordDecoder).DecodeHeader(origSubject); err == nil {
			origSubject = dec
		}
	}

	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }

	subject := "Thư không gửi được / Undelivered mail"
	if delayed {
		subject = "Thư đang được gửi chậm / Delayed mail (still trying)"
	}
	if origSubject != "" {
		subject += ": " + oneLine(origSubject, 200)
	}
	w("From: %s <MAILER-DAEMON@%s>", mime.QEncoding.Encode("utf-8", "Hệ thống thư / Mail Delivery System"), in.reportingMTA)
	w("To: <%s>", clean(in.sender))
	w("Subject: %s", mime.QEncoding.Encode("utf-8", subject))
	w("Date: %s", in.now.Format(time.RFC1123Z))
	w("Message-ID: <dsn.%d.%s@%s>", in.outboxID, randomHex(8), in.reportingMTA)
	if origMessageID != "" && mailaddr.IsASCII(origMessageID) && len(origMessageID) < 900 {
		w("In-Reply-To: %s", origMessageID)
		w("References: %s", origMessageID)
	}
	// RFC 3834 5: an automatic reply; nobody should answer it
	// automatically.
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"", boundary)
	w("")
	w("This is a delivery status notification (RFC 3464) in MIME format.")
	w("")

	// 1. The human-readable part.
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=utf-8")
	w("Content-Transfer-Encoding: quoted-printable")
	w("")
	var text bytes.Buffer
	writeHuman(&text, in, delayed)
	qp := quotedprintable.NewWriter(&b)
	qp.Write(text.Bytes())
	qp.Close()
	w("")

	// 2. The machine-readable part (RFC 3464 2.2, 2.3).
	w("--%s", boundary)
	addrType := "rfc822"
	if intl {
		w("Content-Type: message/global-delivery-status")
		addrType = "utf-8"
	} else {
		w("Content-Type: message/delivery-status")
	}
	w("")
	w("Reporting-MTA: dns; %s", in.reportingMTA)
	w("X-Congthu-Outbox-ID: %d", in.outboxID)
	w("Arrival-Date: %s", in.arrival.Format(time.RFC1123Z))
	for _, r := range in.rcpts {
		w("")
		w("Final-Recipient: %s; %s", addrType, clean(r.addr))
		w("Action: %s", r.action)
		status := r.err.dsnStatus()
		if r.action == "failed" && !strings.HasPrefix(status, "5") {
			// An expired message failed for good: the class is 5
			// (RFC 3463 2), the detail what kept failing.
			status = "5" + status[1:]
		}
		if r.action == "delayed" && !strings.HasPrefix(status, "4") {
			status = "4" + status[1:]
		}
		w("Status: %s", status)
		if r.err.RemoteMTA != "" {
			w("Remote-MTA: dns; %s", clean(r.err.RemoteMTA))
		}
		if r.err.Code != 0 {
			w("Diagnostic-Code: smtp; %s", oneLine(r.err.Diagnostic(), 900))
		} else {
			w("Diagnostic-Code: X-Congthu; %s", oneLine(r.err.Message, 900))
		}
		w("Last-Attempt-Date: %s", in.now.Format(time.RFC1123Z))
		if r.action == "delayed" && !r.retryUntil.IsZero() {
			w("Will-Retry-Until: %s", r.retryUntil.Format(time.RFC1123Z))
		}
	}
	w("")

	// 3. The original header section (RFC 6522 3; RFC 6533 for
	// internationalized headers).
	w("--%s", boundary)
	if intl {
		w("Content-Type: message/global-headers")
	} else {
		w("Content-Type: text/rfc822-headers")
	}
	if !mailaddr.IsASCII(string(in.header)) {
		w("Content-Transfer-Encoding: 8bit")
	}
	w("")
	b.Write(crlf(bytes.TrimRight(in.header, "\r\n")))
	w("")
	w("--%s--", boundary)
	return b.Bytes()
}

// writeHuman writes the human-readable explanation, Vietnamese first.
func writeHuman(b *bytes.Buffer, in dsnInfo, delayed bool) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format+"\r\n", args...) }
	list := func(vi bool) {
		for _, r := range in.rcpts {
			reason := r.err.Diagnostic()
			if r.expired {
				if vi {
					reason = "đã hết thời gian thử gửi; lỗi cuối cùng: " + reason
				} else {
					reason = "gave up after retrying; last error: " + reason
				}
			}
			host := ""
			if r.err.RemoteMTA != "" {
				if vi {
					host = " (máy chủ " + r.err.RemoteMTA + ")"
				} else {
					host = " (server " + r.err.RemoteMTA + ")"
				}
			}
			w("  <%s>%s:", clean(r.addr), clean(host))
			w("      %s", oneLine(reason, 500))
		}
	}
	arrival := in.arrival.Format("15:04 02/01/2006 (-0700)")
	if delayed {
		until := in.rcpts[0].retryUntil.Format("15:04 02/01/2006 (-0700)")
		w("Thư của ông/bà gửi lúc %s chưa gửi được tới các địa chỉ sau:", arrival)
		w("")
		list(true)
		w("")
		w("Hệ thống vẫn đang tiếp tục thử gửi đến %s; ông/bà không cần gửi lại.", until)
		w("Nếu thư vẫn không gửi được, ông/bà sẽ nhận được một thông báo khác.")
		w("")
		w("-- English --")
		w("")
		w("Your message sent at %s has not yet been delivered to:", arrival)
		w("")
		list(false)
		w("")
		w("The system will keep trying until %s; you do not need to send it again.", until)
		w("If it still cannot be delivered, you will receive another notice.")
		return
	}
	w("Thư của ông/bà gửi lúc %s không gửi được tới các địa chỉ sau:", arrival)
	w("")
	list(true)
	w("")
	w("Thư sẽ không được gửi lại. Xin ông/bà kiểm tra địa chỉ người nhận.")
	w("Phần đầu (header) của thư gốc được đính kèm bên dưới.")
	w("")
	w("-- English --")
	w("")
	w("Your message sent at %s could not be delivered to:", arrival)
	w("")
	list(false)
	w("")
	w("It will not be retried. Please check the recipients' addresses.")
	w("The header of the original message is attached below.")
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// clean replaces control characters, which have no place in a header or
// status field, with '?'.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// oneLine makes s fit on one header or status line of at most n bytes.
func oneLine(s string, n int) string {
	s = clean(strings.Join(strings.Fields(s), " "))
	if len(s) > n {
		s = s[:n]
		for len(s) > 0 && s[len(s)-1] >= 0x80 && s[len(s)-1] < 0xc0 {
			s = s[:len(s)-1] // do not end inside a UTF-8 sequence
		}
		if len(s) > 0 && s[len(s)-1] >= 0xc0 {
			s = s[:len(s)-1]
		}
	}
	return s
}

// crlf turns lone LF line ends into CRLF.
func crlf(b []byte) []byte {
	if !bytes.Contains(b, []byte("\n")) {
		return b
	}
	var out bytes.Buffer
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out.WriteByte('\r')
		}
		out.WriteByte(c)
	}
	return out.Bytes()
}
