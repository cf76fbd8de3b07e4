package imapd

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/emersion/go-imap/v2"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"congthu/envelope"
)

// Bounds of the MIME walk behind BODYSTRUCTURE and body sections: a part
// nested deeper than maxMIMEDepth (multipart or message/rfc822 levels) is
// reported as a text/plain leaf holding the rest, and a message stops
// growing parts after maxMIMEParts. Dovecot's message parser has the same
// kind of limits (100 levels, 10,000 parts).
const (
	maxMIMEDepth = 100
	maxMIMEParts = 10000
)

// bodyStructure returns the BODY/BODYSTRUCTURE of a message. It walks the
// MIME tree and always returns a structure that can be written: a
// multipart without parts (no boundary
// line, or none before the end) gets one empty text/plain part, as
// Dovecot reports it, since RFC 9051's body-type-mpart needs at least one
// body; and the depth and part count are bounded, so a hostile message
// costs time linear in its size.
func bodyStructure(raw []byte) imap.BodyStructure {
	bs, _ := bodyStructureEnvelopes(raw)
	return bs
}

// nestedEnvelopes holds the whole ENVELOPE (Date text, routes) of each
// message/rfc822 part, by the imap.Envelope its body structure holds,
// which has room for neither.
type nestedEnvelopes map[*imap.Envelope]*envelope.Envelope

// bodyStructureEnvelopes is bodyStructure with the envelopes of the
// nested messages, for writeBodyStructure.
func bodyStructureEnvelopes(raw []byte) (imap.BodyStructure, nestedEnvelopes) {
	br := bufio.NewReader(bytes.NewReader(raw))
	header, _ := textproto.ReadHeader(br)
	w := &mimeWalk{}
	return w.part(header, br, 0), w.envs
}

type mimeWalk struct {
	parts int
	envs  nestedEnvelopes
}

func (w *mimeWalk) part(rawHeader textproto.Header, r io.Reader, depth int) imap.BodyStructure {
	w.parts++
	header := gomessage.Header{Header: rawHeader}
	mediaType, typeParams, _ := header.ContentType()
	primaryType, subType, _ := strings.Cut(mediaType, "/")

	if primaryType == "multipart" && depth < maxMIMEDepth {
		bs := &imap.BodyStructureMultiPart{Subtype: subType}
		mr := textproto.NewMultipartReader(r, typeParams["boundary"])
		for w.parts < maxMIMEParts {
			p, _ := mr.NextPart()
			if p == nil {
				break
			}
			bs.Children = append(bs.Children, w.part(p.Header, p, depth+1))
		}
		if len(bs.Children) == 0 {
			bs.Children = []imap.BodyStructure{emptyTextPart()}
		}
		bs.Extended = &imap.BodyStructureMultiPartExt{
			Params:      typeParams,
			Disposition: contentDisposition(header),
			Language:    contentLanguage(header),
			Location:    header.Get("Content-Location"),
		}
		return bs
	}

	body, _ := io.ReadAll(r)
	bs := &imap.BodyStructureSinglePart{
		Type:        primaryType,
		Subtype:     subType,
		Params:      typeParams,
		ID:          header.Get("Content-Id"),
		Description: header.Get("Content-Description"),
		Encoding:    header.Get("Content-Transfer-Encoding"),
		Size:        uint32(len(body)),
	}
	encapsulated := mediaType == "message/rfc822" || mediaType == "message/global"
	if depth >= maxMIMEDepth && (primaryType == "multipart" || encapsulated) {
		// Too deep: the rest is one plain text leaf.
		bs.Type, bs.Subtype, bs.Params = "text", "plain", map[string]string{"charset": "us-ascii"}
		primaryType, encapsulated = "text", false
	}
	if encapsulated {
		cbr := bufio.NewReader(bytes.NewReader(body))
		childHeader, _ := textproto.ReadHeader(cbr)
		env := envelope.ExtractHeader(childHeader)
		if w.envs == nil {
			w.envs = nestedEnvelopes{}
		}
		w.envs[&env.Envelope] = env
		bs.MessageRFC822 = &imap.BodyStructureMessageRFC822{
			Envelope:      &env.Envelope,
			BodyStructure: w.part(childHeader, cbr, depth+1),
			NumLines:      int64(bytes.Count(body, []byte("\n"))),
		}
	}
	if primaryType == "text" {
		bs.Text = &imap.BodyStructureText{NumLines: int64(bytes.Count(body, []byte("\n")))}
	}
	bs.Extended = &imap.BodyStructureSinglePartExt{
		Disposition: contentDisposition(header),
		Language:    contentLanguage(header),
		Location:    header.Get("Content-Location"),
	}
	return bs
}

// emptyTextPart is the part given to a multipart that has none:
// ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0).
func emptyTextPart() *imap.BodyStructureSinglePart {
	return &imap.BodyStructureSinglePart{
		Type:     "text",
		Subtype:  "plain",
		Params:   map[string]string{"charset": "us-ascii"},
		Encoding: "7bit",
		Text:     &imap.BodyStructureText{},
		Extended: &imap.BodyStructureSinglePartExt{},
	}
}

func contentDisposition(header gomessage.Header) *imap.BodyStructureDisposition {
	disp, params, _ := header.ContentDisposition()
	if disp == "" {
		return nil
	}
	return &imap.BodyStructureDisposition{Value: disp, Params: params}
}

func contentLanguage(header gomessage.Header) []string {
	v := header.Get("Content-Language")
	if v == "" {
		return nil
	}
	l := strings.Split(v, ",")
	for i, lang := range l {
		l[i] = strings.TrimSpace(lang)
	}
	return l
}

// sectionTooDeep reports whether a section path goes below the depth
// bodyStructure reports; such a part does not exist for the client, and
// walking to it through that many nested readers would cost time
// quadratic in the message.
func sectionTooDeep(part []int) bool {
	return len(part) > maxMIMEDepth
}
