package wire

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// fetch reads FETCH sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
// "(" fetch-att *(SP fetch-att) ")") [SP "(" fetch-modifiers ")"]
// (RFC 9051 section 6.4.5, RFC 7162 CHANGEDSINCE and VANISHED).
func (d *Decoder) fetch(uid bool) *Fetch {
	d.sp()
	a := &Fetch{NumSet: d.numSet(uid, true)}
	d.sp()
	o := &a.Options
	if d.peek() == '(' {
		d.list(false, func() { d.fetchAtt(a) })
	} else {
		save := d.pos
		switch d.upperMacro() {
		case "ALL":
			o.Flags, o.InternalDate, o.RFC822Size, o.Envelope = true, true, true, true
		case "FAST":
			o.Flags, o.InternalDate, o.RFC822Size = true, true, true
		case "FULL":
			o.Flags, o.InternalDate, o.RFC822Size, o.Envelope = true, true, true, true
			o.BodyStructure = &imap.FetchItemBodyStructure{}
		default:
			d.pos = save
			d.fetchAtt(a)
		}
	}
	if d.take(' ') {
		d.list(false, func() {
			switch d.upperAtom() {
			case "CHANGEDSINCE":
				d.sp()
				o.ChangedSince = d.modSeq(false)
			case "VANISHED":
				if !uid {
					d.fail("VANISHED needs UID FETCH")
				}
				a.Vanished = true
			default:
				d.fail("unknown FETCH modifier")
			}
		})
		if a.Vanished && o.ChangedSince == 0 {
			d.fail("VANISHED needs CHANGEDSINCE")
		}
	}
	return a
}

// upperMacro reads letters only (so "ALL" is not read from "BODY[...").
func (d *Decoder) upperMacro() string {
	return d.upperWord(func(c byte) bool { c |= 0x20; return c >= 'a' && c <= 'z' })
}

// fetchAtt reads one fetch-att.
func (d *Decoder) fetchAtt(a *Fetch) {
	o := &a.Options
	name := d.upperWord(func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.'
	})
	switch name {
	case "ENVELOPE":
		o.Envelope = true
	case "FLAGS":
		o.Flags = true
	case "INTERNALDATE":
		o.InternalDate = true
	case "RFC822.SIZE":
		o.RFC822Size = true
	case "UID":
		o.UID = true
	case "MODSEQ":
		o.ModSeq = true
	case "BODYSTRUCTURE":
		o.BodyStructure = &imap.FetchItemBodyStructure{Extended: true}
	case "RFC822":
		a.RFC822 = true
	case "RFC822.HEADER":
		a.RFC822Header = true
	case "RFC822.TEXT":
		a.RFC822Text = true
	case "BODY", "BODY.PEEK":
		if d.peek() != '[' {
			if name == "BODY.PEEK" {
				d.fail("BODY.PEEK needs a section")
			}
			if o.BodyStructure == nil {
				o.BodyStructure = &imap.FetchItemBodyStructure{}
			}
			return
		}
		s := &imap.FetchItemBodySection{Peek: name == "BODY.PEEK"}
		d.section(s)
		s.Partial = d.partial()
		o.BodySection = append(o.BodySection, s)
	case "BINARY", "BINARY.PEEK":
		s := &imap.FetchItemBinarySection{Peek: name == "BINARY.PEEK"}
		d.expect('[')
		s.Part = d.sectionPart()
		d.expect(']')
		s.Partial = d.partial()
		o.BinarySection = append(o.BinarySection, s)
	case "BINARY.SIZE":
		s := &imap.FetchItemBinarySectionSize{}
		d.expect('[')
		s.Part = d.sectionPart()
		d.expect(']')
		o.BinarySectionSize = append(o.BinarySectionSize, s)
	default:
		d.fail("unknown FETCH attribute")
	}
}

// sectionPart reads nz-number *("." nz-number), maybe empty.
func (d *Decoder) sectionPart() []int {
	var part []int
	for d.peek() >= '1' && d.peek() <= '9' {
		if len(part) >= d.lim.MaxDepth {
			d.fail("section part too deep")
		}
		part = append(part, int(d.nzNumber()))
		if !(d.peek() == '.' && d.pos+1 < len(d.line) && d.line[d.pos+1] >= '1' && d.line[d.pos+1] <= '9') {
			break
		}
		d.pos++
	}
	return part
}

// section reads "[" [section-spec] "]" (RFC 9051 section 9).
func (d *Decoder) section(s *imap.FetchItemBodySection) {
	d.expect('[')
	s.Part = d.sectionPart()
	if len(s.Part) > 0 && !d.take('.') {
		d.expect(']')
		return
	}
	if d.take(']') {
		if len(s.Part) > 0 {
			d.fail("bad section")
		}
		return
	}
	spec := d.upperMacroDots()
	switch spec {
	case "HEADER":
		s.Specifier = imap.PartSpecifierHeader
	case "TEXT":
		s.Specifier = imap.PartSpecifierText
	case "MIME":
		if len(s.Part) == 0 {
			d.fail("MIME needs a part number")
		}
		s.Specifier = imap.PartSpecifierMIME
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		s.Specifier = imap.PartSpecifierHeader
		d.sp()
		fields := []string{}
		d.list(false, func() { fields = append(fields, d.astring()) })
		if spec == "HEADER.FIELDS" {
			s.HeaderFields = fields
		} else {
			s.HeaderFieldsNot = fields
		}
	default:
		d.fail("bad section")
	}
	d.expect(']')
}

func (d *Decoder) upperMacroDots() string {
	start := d.pos
	for d.pos < len(d.line) {
		c := d.line[d.pos] | 0x20
		if (c < 'a' || c > 'z') && d.line[d.pos] != '.' {
			break
		}
		d.pos++
	}
	return strings.ToUpper(string(d.line[start:d.pos]))
}

// partial reads ["<" number "." nz-number ">"].
func (d *Decoder) partial() *imap.SectionPartial {
	if !d.take('<') {
		return nil
	}
	off := d.number64()
	d.expect('.')
	n := d.nzNumber()
	d.expect('>')
	return &imap.SectionPartial{Offset: int64(off), Size: int64(n)}
}
