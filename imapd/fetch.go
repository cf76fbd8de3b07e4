package imapd

import (
	"bytes"
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"congthu/envelope"
	"congthu/store"
)

// Fetch implements FETCH and UID FETCH (RFC 9051 section 6.4.5): FLAGS,
// INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY and BODYSTRUCTURE, BODY[...]
// and BODY.PEEK[...] with partials, and BINARY[...] / BINARY.SIZE[...]
// (RFC 3516). A non-PEEK body section sets \Seen, and the new flags are
// returned with the data (section 6.4.5, BODY[]).
func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) (ferr error) {
	s.count()
	sel := s.sel

	markSeen := false
	headerOnly := options.BodyStructure == nil && len(options.BinarySection) == 0 && len(options.BinarySectionSize) == 0
	for _, bs := range options.BodySection {
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

	var (
		refs    []msgRef
		flagsOf map[uint32][]string
		changed map[uint32]bool
	)
	if markSeen {
		var err error
		refs, flagsOf, changed, err = s.setFlags(numSet, store.FlagsAdd, []string{store.FlagSeen})
		if err != nil {
			return s.fail("fetch", err)
		}
	} else {
		refs = sel.resolve(numSet)
	}
	if len(refs) == 0 {
		return nil
	}
	seqOf := make(map[uint32]uint32, len(refs))
	for _, r := range refs {
		seqOf[r.uid] = r.seq
	}
	_, byUID := numSet.(imap.UIDSet)
	byUID = byUID || options.UID

	if !needsBytes(options) {
		// FLAGS, ENVELOPE, INTERNALDATE, RFC822.SIZE: metadata and the
		// envelope stored at delivery, no message bytes; many small
		// responses, written in large pieces.
		if cc := corkOf(s.conn.NetConn()); cc != nil {
			cc.cork()
			defer func() {
				if err := cc.uncork(); err != nil && ferr == nil {
					ferr = err
				}
			}()
		}
		for msg, err := range s.srv.st.Envelopes(s.ctx, sel.mb.id, uidsOf(refs), options.Envelope) {
			if err != nil {
				return s.fail("fetch", err)
			}
			seq, ok := seqOf[msg.UID]
			if !ok {
				continue
			}
			var env *imap.Envelope
			if options.Envelope {
				var err error
				if env, err = envelope.Decode(msg.Envelope); err != nil {
					return s.fail("fetch", fmt.Errorf("message %d: %w", msg.UID, err))
				}
			}
			if err := s.fetchOne(w.CreateMessage(seq), &msg.MessageMeta, nil, 0, env, options, byUID, changed[msg.UID], flagsOf); err != nil {
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
		var env *imap.Envelope
		if options.Envelope {
			env = envelope.Extract(msg.Raw[:hdrLen])
		}
		if err := s.fetchOne(w.CreateMessage(seq), &msg.MessageMeta, msg.Raw, hdrLen, env, options, byUID, changed[msg.UID], flagsOf); err != nil {
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
func (s *session) fetchOne(mw *imapserver.FetchResponseWriter, msg *store.MessageMeta, raw []byte, hdrLen int, env *imap.Envelope, options *imap.FetchOptions, byUID, seenChanged bool, flagsOf map[uint32][]string) error {
	if byUID {
		mw.WriteUID(imap.UID(msg.UID))
	}
	if options.Flags || seenChanged {
		flags := msg.Flags
		if f, ok := flagsOf[msg.UID]; ok {
			flags = f
		}
		mw.WriteFlags(s.clientFlags(msg.UID, flags))
	}
	if options.InternalDate {
		mw.WriteInternalDate(msg.InternalDate)
	}
	if options.RFC822Size {
		mw.WriteRFC822Size(msg.Size)
	}
	if options.Envelope {
		mw.WriteEnvelope(env)
	}
	if options.BodyStructure != nil {
		mw.WriteBodyStructure(bodyStructure(raw))
	}
	for _, bs := range options.BodySection {
		b := noNUL(bodySection(raw, hdrLen, bs))
		wc := mw.WriteBodySection(bs, int64(len(b)))
		_, werr := wc.Write(b)
		if cerr := wc.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return werr
		}
	}
	for _, bs := range options.BinarySection {
		var b []byte
		if !sectionTooDeep(bs.Part) {
			b = imapserver.ExtractBinarySection(bytes.NewReader(raw), bs)
		}
		wc := mw.WriteBinarySection(bs, int64(len(b)))
		_, werr := wc.Write(b)
		if cerr := wc.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return werr
		}
	}
	for _, bs := range options.BinarySectionSize {
		var n uint32
		if !sectionTooDeep(bs.Part) {
			n = imapserver.ExtractBinarySectionSize(bytes.NewReader(raw), bs)
		}
		mw.WriteBinarySectionSize(bs, n)
	}
	return mw.Close()
}

// bodySection returns a BODY[...] section. The whole message, its header
// and its text come straight from the stored bytes (so BODY[] is exactly
// what was received, RFC 9051 section 6.4.5); other sections go through
// imapserver's MIME walker.
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
		return nil
	}
	return imapserver.ExtractBodySection(bytes.NewReader(raw), bs)
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
