package imapd

import (
	"mime"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"

	"congthu/envelope"
	"congthu/imapd/wire"
)

// writeEnvelope writes an ENVELOPE (RFC 9051 section 7.5.2): Sender and
// Reply-To default to From (with its routes); group syntax comes as
// envelope.Extract gives it (a start marker with no host, the members, an
// end marker); an obsolete source route is the address's adl (RFC 3501
// section 7.4.2), NIL without one.
func writeEnvelope(e *wire.Encoder, env *envelope.Envelope) {
	if env == nil {
		env = &envelope.Envelope{}
	}
	lists, routes := env.Lists(), env.Routes
	for _, i := range []int{1, 2} { // Sender, Reply-To
		if lists[i] == nil {
			lists[i], routes[i] = lists[0], routes[0]
		}
	}
	e.Open()
	switch {
	case env.DateText != "":
		// RFC 3501 section 7.4.2: the Date field as written.
		e.String(env.DateText)
	case !env.Date.IsZero():
		e.String(env.Date.Format(envelope.DateLayout)) // an envelope built without the text
	default:
		e.NIL()
	}
	e.SP()
	nstring(e, mime.QEncoding.Encode("utf-8", env.Subject))
	for li, l := range lists {
		e.SP()
		if len(l) == 0 {
			e.NIL()
			continue
		}
		e.List(len(l), func(i int) {
			a := l[i]
			e.Open()
			nstring(e, mime.QEncoding.Encode("utf-8", a.Name))
			e.SP()
			if i < len(routes[li]) {
				nstring(e, routes[li][i])
			} else {
				e.NIL()
			}
			e.SP()
			nstring(e, a.Mailbox)
			e.SP()
			nstring(e, a.Host)
			e.Close()
		})
	}
	e.SP()
	if len(env.InReplyTo) > 0 {
		e.String("<" + strings.Join(env.InReplyTo, "> <") + ">")
	} else {
		e.NIL()
	}
	e.SP()
	if env.MessageID != "" {
		e.String("<" + env.MessageID + ">")
	} else {
		e.NIL()
	}
	e.Close()
}

// nstring writes s, NIL when empty.
func nstring(e *wire.Encoder, s string) {
	if s == "" {
		e.NIL()
		return
	}
	e.String(s)
}

// writeBodyStructure writes BODY or BODYSTRUCTURE (RFC 9051 section
// 7.5.2, body), the ENVELOPE of a nested message from envs. A multipart
// always has a part (bodyStructure sees to it; here an empty one is
// written as text/plain) and the depth is bounded by bodyStructure's
// walk.
func writeBodyStructure(e *wire.Encoder, bs imap.BodyStructure, envs nestedEnvelopes, extended bool, depth int) {
	e.Open()
	switch bs := bs.(type) {
	case *imap.BodyStructureMultiPart:
		children := bs.Children
		if len(children) == 0 {
			children = []imap.BodyStructure{emptyTextPart()}
		}
		for _, c := range children {
			writeBodyStructure(e, c, envs, extended, depth+1)
		}
		e.SP().String(bs.Subtype)
		if extended {
			ext := bs.Extended
			if ext == nil {
				ext = &imap.BodyStructureMultiPartExt{}
			}
			e.SP()
			writeParams(e, ext.Params)
			e.SP()
			writeDisposition(e, ext.Disposition)
			e.SP()
			writeLanguage(e, ext.Language)
			e.SP()
			nstring(e, ext.Location)
		}
	case *imap.BodyStructureSinglePart:
		typ, sub := bs.Type, bs.Subtype
		if typ == "" {
			typ = "text"
		}
		if sub == "" {
			sub = "plain"
		}
		e.String(typ).SP().String(sub).SP()
		writeParams(e, bs.Params)
		e.SP()
		nstring(e, bs.ID)
		e.SP()
		nstring(e, bs.Description)
		e.SP()
		if bs.Encoding == "" {
			e.String("7bit")
		} else {
			e.String(strings.ToLower(bs.Encoding)) // Outlook for iOS wants lower case
		}
		e.SP().Number(bs.Size)
		if m := bs.MessageRFC822; m != nil && m.BodyStructure != nil {
			e.SP()
			env := envs[m.Envelope]
			if env == nil && m.Envelope != nil {
				env = &envelope.Envelope{Envelope: *m.Envelope}
			}
			writeEnvelope(e, env)
			e.SP()
			writeBodyStructure(e, m.BodyStructure, envs, extended, depth+1)
			e.SP().Number64(uint64(max(m.NumLines, 0)))
		} else if t := bs.Text; t != nil {
			e.SP().Number64(uint64(max(t.NumLines, 0)))
		}
		if extended {
			ext := bs.Extended
			if ext == nil {
				ext = &imap.BodyStructureSinglePartExt{}
			}
			e.SP().NIL().SP() // MD5
			writeDisposition(e, ext.Disposition)
			e.SP()
			writeLanguage(e, ext.Language)
			e.SP()
			nstring(e, ext.Location)
		}
	}
	e.Close()
}

func writeParams(e *wire.Encoder, params map[string]string) {
	if len(params) == 0 {
		e.NIL()
		return
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.List(len(keys), func(i int) { e.String(keys[i]).SP().String(params[keys[i]]) })
}

func writeDisposition(e *wire.Encoder, d *imap.BodyStructureDisposition) {
	if d == nil {
		e.NIL()
		return
	}
	e.Open().String(d.Value).SP()
	writeParams(e, d.Params)
	e.Close()
}

func writeLanguage(e *wire.Encoder, l []string) {
	if len(l) == 0 {
		e.NIL()
		return
	}
	e.List(len(l), func(i int) { e.String(l[i]) })
}
