package imapd

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"congthu/envelope"
	"congthu/imapd/wire"
	"congthu/store"
)

// fetchSection is a body section to answer, with the name the answer
// gives it when it is one of RFC822, RFC822.HEADER and RFC822.TEXT.
type fetchSection struct {
	*imap.FetchItemBodySection
	name string
}

// Fetch implements FETCH and UID FETCH (RFC 9051 section 6.4.5): FLAGS,
// INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY and BODYSTRUCTURE, BODY[...]
// and BODY.PEEK[...] with partials, RFC822, RFC822.HEADER, RFC822.TEXT,
// and BINARY[...] / BINARY.SIZE[...] (RFC 3516). A non-PEEK body section
// sets \Seen, and the new flags are returned with the data (section
// 6.4.5, BODY[]).
func (s *session) Fetch(a *wire.Fetch, byUID bool) error {
	s.count()
	sel := s.sel
	options := &a.Options
	sections := make([]fetchSection, 0, len(options.BodySection)+3)
	for _, bs := range options.BodySection {
		sections = append(sections, fetchSection{FetchItemBodySection: bs})
	}
	if a.RFC822 {
		sections = append(sections, fetchSection{&imap.FetchItemBodySection{}, "RFC822"})
	}
	if a.RFC822Header {
		sections = append(sections, fetchSection{&imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}, "RFC822.HEADER"})
	}
	if a.RFC822Text {
		sections = append(sections, fetchSection{&imap.FetchItemBodySection{Specifier: imap.PartSpecifierText}, "RFC822.TEXT"})
	}

	markSeen := false
	headerOnly := options.BodyStructure == nil && len(options.BinarySection) == 0 && len(options.BinarySectionSize) == 0
	for _, bs := range sections {
		if !bs.Peek {
			markSeen = true
		}
		if len(bs.Part) > 0 || bs.Specifier != imap.PartSpecifierHeader {
			headerOnly = false
		}
	}
	for _, bs := range options.BinarySection {
		if !bs.Peek {
			markSeen = true
		}
	}
	markSeen = markSeen && !sel.readOnly

	if a.Vanished {
		if !s.qresync {
			return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "VANISHED needs ENABLE QRESYNC"}
		}
		if err := s.writeVanishedSince(a.NumSet, options.ChangedSince); err != nil {
			return err
		}
	}
	if options.ModSeq || options.ChangedSince > 0 {
		s.enableCondStore() // RFC 7162 section 3.1: a CONDSTORE enabling command
	}
	var (
		refs    []msgRef
		flagsOf map[uint32][]string
		modseq  map[uint32]int64
		changed map[uint32]bool
	)
	// What is queued goes first: a queued flag change is written with the
	// flags of now, which must not be newer than those this FETCH shows.
	s.writeTaken(false, false)
	if markSeen {
		res, err := s.setFlags(a.NumSet, store.FlagsAdd, []string{store.FlagSeen}, 0)
		if err != nil {
			return s.fail("fetch", err)
		}
		refs, flagsOf, modseq, changed = res.refs, res.flags, res.modseq, res.changed
	} else {
		refs, flagsOf, modseq = sel.resolveView(a.NumSet)
	}
	// Keywords new to the mailbox are announced before the FETCH
	// responses that may show them (RFC 9051 section 7.3.5).
	s.writeMailboxFlags()
	if options.ChangedSince > 0 {
		// RFC 7162 section 3.1.4.1: only messages changed since, with
		// their MODSEQ.
		options.ModSeq = true
		kept := refs[:0]
		for _, r := range refs {
			if uint64(modseq[r.uid]) > options.ChangedSince {
				kept = append(kept, r)
			}
		}
		refs = kept
	}
	if len(refs) == 0 {
		return nil
	}
	seqOf := make(map[uint32]uint32, len(refs))
	for _, r := range refs {
		seqOf[r.uid] = r.seq
	}
	byUID = byUID || options.UID

	if len(sections) == 0 && !needsBytes(options) {
		// FLAGS, ENVELOPE, INTERNALDATE, RFC822.SIZE: metadata and the
		// envelope stored at delivery, no message bytes.
		for msg, err := range s.srv.st.Envelopes(s.ctx, sel.mb.id, uidsOf(refs), options.Envelope) {
			if err != nil {
				return s.fail("fetch", err)
			}
			seq, ok := seqOf[msg.UID]
			if !ok {
				continue
			}
			var env *envelope.Envelope
			if options.Envelope {
				var err error
				if env, err = envelope.Decode(msg.Envelope); err != nil {
					return s.fail("fetch", fmt.Errorf("message %d: %w", msg.UID, err))
				}
			}
			if err := s.fetchOne(seq, &msg.MessageMeta, nil, 0, env, options, sections, byUID, changed[msg.UID], flagsOf, modseq); err != nil {
				return err
			}
		}
		return nil
	}

	for msg, err := range s.srv.st.MessagesByUID(s.ctx, sel.mb.id, uidsOf(refs), headerOnly) {
		if err != nil {
			return s.fail("fetch", err)
		}
		seq, ok := seqOf[msg.UID]
		if !ok {
			continue
		}
		hdrLen := min(max(msg.HeaderLen, 0), len(msg.Raw))
		var env *envelope.Envelope
		if options.Envelope {
			env = envelope.Extract(msg.Raw[:hdrLen])
		}
		if err := s.fetchOne(seq, &msg.MessageMeta, msg.Raw, hdrLen, env, options, sections, byUID, changed[msg.UID], flagsOf, modseq); err != nil {
			return err
		}
	}
	return nil
}

// needsBytes says whether a FETCH needs message bytes (body sections,
// body structure, binary sections) beyond the metadata and the envelope.
func needsBytes(o *imap.FetchOptions) bool {
	return o.BodyStructure != nil || len(o.BodySection) > 0 || len(o.BinarySection) > 0 || len(o.BinarySectionSize) > 0
}

// fetchOne writes one FETCH response. raw and hdrLen are the message
// bytes (nil when the request needs none), env its envelope (nil when not
// asked for).
func (s *session) fetchOne(seq uint32, msg *store.MessageMeta, raw []byte, hdrLen int, env *envelope.Envelope, options *imap.FetchOptions, sections []fetchSection, byUID, seenChanged bool, flagsOf map[uint32][]string, modseqOf map[uint32]int64) error {
	e := s.enc
	e.Untagged().Number(seq).Atom(" FETCH (")
	sep := false
	item := func(name string) *wire.Encoder {
		if sep {
			e.SP()
		}
		sep = true
		return e.Atom(name)
	}
	if byUID {
		item("UID ").Number(msg.UID)
	}
	if options.Flags || seenChanged {
		flags := msg.Flags
		if f, ok := flagsOf[msg.UID]; ok {
			flags = f
		}
		item("FLAGS ").Flags(s.clientFlags(msg.UID, flags))
	}
	if options.InternalDate {
		item("INTERNALDATE ").String(msg.InternalDate.Format(internalDateLayout))
	}
	if options.RFC822Size {
		item("RFC822.SIZE ").Number64(uint64(max(msg.Size, 0)))
	}
	if options.ModSeq || (s.condstore && (options.Flags || seenChanged)) {
		ms := msg.ModSeq
		if v, ok := modseqOf[msg.UID]; ok {
			ms = v
		}
		item("MODSEQ (").Number64(uint64(max(ms, 0))).Atom(")")
	}
	if options.Envelope {
		item("ENVELOPE ")
		writeEnvelope(e, env)
	}
	if bso := options.BodyStructure; bso != nil {
		bs, envs := bodyStructureEnvelopes(raw)
		if bso.Extended {
			item("BODYSTRUCTURE ")
		} else {
			item("BODY ")
		}
		writeBodyStructure(e, bs, envs, bso.Extended, 0)
	}
	for _, bs := range sections {
		b := noNUL(bodySection(raw, hdrLen, bs.FetchItemBodySection))
		if bs.name != "" {
			item(bs.name).SP()
		} else {
			item(sectionName(bs.FetchItemBodySection)).SP()
		}
		e.Literal(b)
	}
	for _, bs := range options.BinarySection {
		b := binarySection(raw, bs.Part)
		item("BINARY[").Atom(partName(bs.Part)).Atom("]")
		if bs.Partial != nil {
			e.Atom("<").Number64(uint64(bs.Partial.Offset)).Atom(">")
			b = partial(b, bs.Partial)
		}
		e.SP().Literal8(b)
	}
	for _, bs := range options.BinarySectionSize {
		n := len(binarySection(raw, bs.Part))
		item("BINARY.SIZE[").Atom(partName(bs.Part)).Atom("] ").Number(uint32(n))
	}
	e.Atom(")").CRLF()
	return e.Err()
}

// internalDateLayout is RFC 9051's date-time.
const internalDateLayout = "_2-Jan-2006 15:04:05 -0700"

// sectionName is how the answer names a body section: BODY[part.spec
// (fields)]<origin>, without .PEEK (RFC 9051 section 7.5.2).
func sectionName(bs *imap.FetchItemBodySection) string {
	var b strings.Builder
	b.WriteString("BODY[")
	b.WriteString(partName(bs.Part))
	if bs.Specifier != imap.PartSpecifierNone {
		if len(bs.Part) > 0 {
			b.WriteByte('.')
		}
		b.WriteString(string(bs.Specifier))
		fields := bs.HeaderFields
		if len(fields) > 0 {
			b.WriteString(".FIELDS")
		} else if len(bs.HeaderFieldsNot) > 0 {
			fields = bs.HeaderFieldsNot
			b.WriteString(".FIELDS.NOT")
		}
		if len(fields) > 0 {
			b.WriteString(" (")
			for i, f := range fields {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(headerFieldName(f))
			}
			b.WriteByte(')')
		}
	}
	b.WriteByte(']')
	if bs.Partial != nil {
		b.WriteByte('<')
		b.WriteString(strconv.FormatInt(bs.Partial.Offset, 10))
		b.WriteByte('>')
	}
	return b.String()
}

// headerFieldName writes a field name of HEADER.FIELDS back: as an atom
// when it is one, quoted otherwise.
func headerFieldName(f string) string {
	ok := f != ""
	for i := 0; i < len(f) && ok; i++ {
		c := f[i]
		ok = c > ' ' && c < 0x7f && !strings.ContainsRune(`(){%*"\]`, rune(c))
	}
	if ok {
		return f
	}
	return strconv.Quote(strings.Map(func(r rune) rune {
		if r < ' ' || r >= 0x7f {
			return '?'
		}
		return r
	}, f))
}

// partName is a section part "1.2.3".
func partName(part []int) string {
	var b strings.Builder
	for i, p := range part {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(p))
	}
	return b.String()
}

// bodySection returns a BODY[...] section. The whole message, its header
// and its text come straight from the stored bytes (so BODY[] is exactly
// what was received, RFC 9051 section 6.4.5); other sections go through
// the MIME walk of section.go.
func bodySection(raw []byte, hdrLen int, bs *imap.FetchItemBodySection) []byte {
	if len(bs.Part) == 0 && len(bs.HeaderFields) == 0 && len(bs.HeaderFieldsNot) == 0 {
		switch bs.Specifier {
		case imap.PartSpecifierNone:
			return partial(raw, bs.Partial)
		case imap.PartSpecifierHeader:
			return partial(raw[:hdrLen], bs.Partial)
		case imap.PartSpecifierText:
			return partial(raw[hdrLen:], bs.Partial)
		}
	}
	if sectionTooDeep(bs.Part) {
		return []byte{}
	}
	return partial(extractSection(raw, bs), bs.Partial)
}

// partial cuts <offset.size> out of b (RFC 9051 section 6.4.5: an offset
// past the end gives an empty string).
func partial(b []byte, p *imap.SectionPartial) []byte {
	if p == nil {
		return b
	}
	if p.Offset >= int64(len(b)) || p.Offset < 0 {
		return []byte{}
	}
	b = b[p.Offset:]
	if p.Size >= 0 && p.Size < int64(len(b)) {
		b = b[:p.Size]
	}
	return b
}

// noNUL returns b with each NUL byte replaced by 0x80, as Dovecot sends
// BODY[] sections: a plain literal must not hold NUL (RFC 3501 section
// 4.3; only BINARY's literal8 may), and the size stays the same, so
// partial fetches and RFC822.SIZE still agree. b is copied only when it
// has a NUL.
func noNUL(b []byte) []byte {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return b
	}
	out := bytes.Clone(b)
	for ; i < len(out); i++ {
		if out[i] == 0 {
			out[i] = 0x80
		}
	}
	return out
}
