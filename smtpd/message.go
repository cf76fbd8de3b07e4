package smtpd

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"net/netip"
	"net/textproto"
	"strings"

	"github.com/emersion/go-smtp"
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

// maxHeaderBytes bounds the header section we parse.
const maxHeaderBytes = 1 << 20

// parseHeader parses the header section of a message whose lines end in
// CRLF (RFC 5322 section 2.2).
func parseHeader(data []byte) (textproto.MIMEHeader, error) {
	if bytes.HasPrefix(data, []byte("\r\n")) {
		return nil, errors.New("empty header section")
	}
	hdr := data
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		hdr = data[:i+4]
	} else {
		// Header only, no body.
		hdr = append(bytes.Clone(data), "\r\n"...)
	}
	if len(hdr) > maxHeaderBytes {
		return nil, errors.New("header section too large")
	}
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(hdr))).ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("parse header: %w", err)
	}
	return h, nil
}

// addressParser decodes RFC 2047 display names in any charset well enough
// to get at the addresses, which are all we look at.
var addressParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(charset string, r io.Reader) (io.Reader, error) { return r, nil },
}}

// headerSenders returns the addresses of the From: field (exactly one
// field, RFC 5322 section 3.6) and of the Sender: field if present.
func headerSenders(h textproto.MIMEHeader) ([]string, error) {
	froms := h.Values("From")
	if len(froms) != 1 {
		return nil, fmt.Errorf("%d From header fields", len(froms))
	}
	list, err := addressParser.ParseList(froms[0])
	if err != nil {
		return nil, fmt.Errorf("parse From: %w", err)
	}
	if len(list) == 0 {
		return nil, errors.New("empty From")
	}
	senders := h.Values("Sender")
	if len(senders) > 1 {
		return nil, fmt.Errorf("%d Sender header fields", len(senders))
	}
	if len(senders) == 1 {
		a, err := addressParser.Parse(senders[0])
		if err != nil {
			return nil, fmt.Errorf("parse Sender: %w", err)
		}
		list = append(list, a)
	}
	addrs := make([]string, len(list))
	for i, a := range list {
		addrs[i] = a.Address
	}
	return addrs, nil
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

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
