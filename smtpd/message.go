package smtpd

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/emersion/go-smtp"

	"congthu/mailhdr"
)

var (
	// RFC 5321 section 2.3.8: lines end in CRLF; CR and LF do not appear
	// alone. Accepting them enables SMTP smuggling (a "<LF>.<LF>" that a
	// later hop takes for the end of data).
	errBareNewline = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message contains a bare CR or LF"}
	errBadHeader   = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Malformed message header"}
	errBadFrom     = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message needs exactly one valid From header field"}
)

// checkLineEndings returns an error if data has a CR not followed by LF or
// an LF not preceded by CR.
func checkLineEndings(data []byte) error {
	for i := 0; i < len(data); {
		j := bytes.IndexAny(data[i:], "\r\n")
		if j < 0 {
			return nil
		}
		j += i
		if data[j] == '\n' {
			return fmt.Errorf("bare LF at offset %d", j)
		}
		if j+1 >= len(data) || data[j+1] != '\n' {
			return fmt.Errorf("bare CR at offset %d", j)
		}
		i = j + 2
	}
	return nil
}

// Replies to a header section the header model (mailhdr) refuses. RFC
// 5322 section 3.6: exactly one From, at most one Sender; section 4.5's
// obsolete whitespace before the colon is refused, not guessed at.
var (
	errSpaceBeforeColon = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Header field name followed by whitespace before the colon"}
	errBadFieldName     = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Malformed header field name"}
	errManyFrom         = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "More than one From header field"}
	errFromAddress      = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "From header field without a valid address"}
	errManySender       = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "More than one Sender header field"}
	errSenderAddress    = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Sender header field is not one valid address"}
)

// headerReply is the reply refusing a message for an error of mailhdr's
// Parse or Senders.
func headerReply(err error) *smtp.SMTPError {
	switch {
	case errors.Is(err, mailhdr.ErrSpaceBeforeColon):
		return errSpaceBeforeColon
	case errors.Is(err, mailhdr.ErrFieldName):
		return errBadFieldName
	case errors.Is(err, mailhdr.ErrNoFrom):
		return errBadFrom
	case errors.Is(err, mailhdr.ErrManyFrom):
		return errManyFrom
	case errors.Is(err, mailhdr.ErrFromAddress):
		return errFromAddress
	case errors.Is(err, mailhdr.ErrManySender):
		return errManySender
	case errors.Is(err, mailhdr.ErrSenderAddress):
		return errSenderAddress
	}
	return errBadHeader
}

// readHeader reads the header section and who the message says sent it,
// as every check (and IMAP's ENVELOPE) reads them, or returns the reply
// refusing the message and the detail for the log.
func readHeader(data []byte) (*mailhdr.Header, mailhdr.Senders, *smtp.SMTPError, string) {
	h, err := mailhdr.Parse(data)
	if err != nil {
		return nil, mailhdr.Senders{}, headerReply(err), err.Error()
	}
	snd, err := h.Senders()
	if err != nil {
		return nil, mailhdr.Senders{}, headerReply(err), err.Error()
	}
	return h, snd, nil, ""
}

// removeTrustFields drops the Authentication-Results fields carrying our
// authserv-id and every X-Congthu-* field from a message about to be
// stored (see mailhdr.TrustField). data is returned unchanged, not
// copied, when there is none (changed false).
func removeTrustFields(data []byte, hostname string) (_ []byte, changed bool) {
	return mailhdr.Remove(data, mailhdr.NewTrustField(hostname).Drop)
}

// sanitizeDomain keeps what may appear in a domain or address literal of
// a Received: field; the EHLO argument is the client's to choose.
func sanitizeDomain(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if b.Len() >= 255 {
			break
		}
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '-', c == '_', c == ':', c == '[', c == ']':
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// sanitizeComment keeps a string safe inside a header comment.
func sanitizeComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == '(' || r == ')' || r == '\\' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// addressLiteral formats an IP as in RFC 5321 section 4.1.3.
func addressLiteral(ip netip.Addr) string {
	switch {
	case !ip.IsValid():
		return "unknown"
	case ip.Is4():
		return "[" + ip.String() + "]"
	}
	return "[IPv6:" + ip.String() + "]"
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID returns a transaction ID for replies, Received: and logs.
func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// newMessageID returns the unique left part of a Message-ID (RFC 5322
// section 3.6.4).
func newMessageID() string {
	var b [16]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}
