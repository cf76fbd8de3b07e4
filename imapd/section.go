package imapd

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strings"

	"github.com/emersion/go-imap/v2"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// Body sections (RFC 9051 section 6.4.5, RFC 3516 BINARY): the part a
// section path names is found by walking the MIME tree as
// BODYSTRUCTURE reports it: a part of a multipart by its number, the
// body of a single part as its part 1, a message/rfc822 part opened when
// the path goes below it. A path to a part that does not exist gives an
// empty string, as Dovecot answers.

// findPart walks to the part path names. It returns the part's header and
// body and the media type of its parent, or ok false.
func findPart(raw []byte, path []int) (header textproto.Header, body io.Reader, parentType string, ok bool) {
	br := bufio.NewReader(bytes.NewReader(raw))
	header, err := textproto.ReadHeader(br)
	if err != nil {
		return header, nil, "", false
	}
	body = br
	h := gomessage.Header{Header: header}
	mediaType, _, _ := h.ContentType()
	if !strings.HasPrefix(mediaType, "multipart/") && len(path) > 0 && path[0] == 1 {
		path = path[1:]
	}
	for _, num := range path {
		header, body = openMessagePart(header, body, parentType)
		h := gomessage.Header{Header: header}
		mediaType, params, _ := h.ContentType()
		if !strings.HasPrefix(mediaType, "multipart/") {
			if num != 1 {
				return header, nil, "", false
			}
			continue
		}
		mr := textproto.NewMultipartReader(body, params["boundary"])
		found := false
		for j := 1; j <= num; j++ {
			p, err := mr.NextPart()
			if err != nil {
				return header, nil, "", false
			}
			if j == num {
				parentType, header, body, found = mediaType, p.Header, p, true
			}
		}
		if !found {
			return header, nil, "", false
		}
	}
	return header, body, parentType, true
}

// openMessagePart opens an encapsulated message: its header and body
// become the part's (RFC 9051 section 6.4.5: HEADER and TEXT of a
// message/rfc822 part are those of the message inside).
func openMessagePart(header textproto.Header, body io.Reader, parentType string) (textproto.Header, io.Reader) {
	h := gomessage.Header{Header: header}
	mediaType, _, _ := h.ContentType()
	if !h.Has("Content-Type") && parentType == "multipart/digest" {
		mediaType = "message/rfc822"
	}
	if mediaType == "message/rfc822" || mediaType == "message/global" {
		br := bufio.NewReader(body)
		inner, _ := textproto.ReadHeader(br)
		return inner, br
	}
	return header, body
}

// extractSection returns BODY[section] without its partial.
func extractSection(raw []byte, bs *imap.FetchItemBodySection) []byte {
	header, body, parentType, ok := findPart(raw, bs.Part)
	if !ok {
		return []byte{}
	}
	if len(bs.Part) > 0 {
		switch bs.Specifier {
		case imap.PartSpecifierHeader, imap.PartSpecifierText:
			header, body = openMessagePart(header, body, parentType)
		}
	}
	if len(bs.HeaderFields) > 0 {
		keep := make(map[string]bool, len(bs.HeaderFields))
		for _, k := range bs.HeaderFields {
			keep[strings.ToLower(k)] = true
		}
		for f := header.Fields(); f.Next(); {
			if !keep[strings.ToLower(f.Key())] {
				f.Del()
			}
		}
	}
	for _, k := range bs.HeaderFieldsNot {
		header.Del(k)
	}
	var buf bytes.Buffer
	writeHeader := true
	switch bs.Specifier {
	case imap.PartSpecifierNone:
		writeHeader = len(bs.Part) == 0
	case imap.PartSpecifierText:
		writeHeader = false
	}
	if writeHeader {
		textproto.WriteHeader(&buf, header)
	}
	switch bs.Specifier {
	case imap.PartSpecifierNone, imap.PartSpecifierText:
		io.Copy(&buf, body)
	}
	return buf.Bytes()
}

// binarySection returns BINARY[part]: the part's body with its
// Content-Transfer-Encoding undone (RFC 3516 section 4.2); for the whole
// message (no part), its header and body as they are.
func binarySection(raw []byte, part []int) []byte {
	if sectionTooDeep(part) {
		return []byte{}
	}
	header, body, _, ok := findPart(raw, part)
	if !ok {
		return []byte{}
	}
	var buf bytes.Buffer
	if len(part) == 0 {
		textproto.WriteHeader(&buf, header)
	}
	switch strings.ToLower(strings.TrimSpace(header.Get("Content-Transfer-Encoding"))) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, &base64Clean{r: body})
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	io.Copy(&buf, body) // what decodes up to an error is the answer
	return buf.Bytes()
}

// base64Clean drops what is not base64 (line breaks, spaces), as mail
// readers do.
type base64Clean struct{ r io.Reader }

func (c *base64Clean) Read(p []byte) (int, error) {
	for {
		n, err := c.r.Read(p)
		k := 0
		for _, b := range p[:n] {
			if b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '=' {
				p[k] = b
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}
