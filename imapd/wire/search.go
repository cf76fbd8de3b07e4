package wire

import (
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// search reads SEARCH [search-return-opts] [CHARSET astring] 1*(SP
// search-key) (RFC 9051 section 6.4.4, RFC 4731, RFC 5267).
func (d *Decoder) search() *Search {
	a := &Search{}
	d.sp()
	if d.takeKeyword("RETURN") {
		d.sp()
		a.Return = d.searchReturn()
		d.sp()
	}
	if d.takeKeyword("CHARSET") {
		d.sp()
		a.Charset = strings.ToUpper(d.astring())
		d.sp()
	}
	d.searchProgram(&a.Criteria)
	return a
}

// takeKeyword consumes an atom equal (in any case) to kw followed by a
// space or the end of the line.
func (d *Decoder) takeKeyword(kw string) bool {
	save := d.pos
	if d.takeFold(kw) && (d.atEnd() || d.peek() == ' ') {
		return true
	}
	d.pos = save
	return false
}

// searchReturn reads "(" [return options] ")" of SEARCH or SORT. Which
// options a SORT may use depends on the capabilities (ESORT, CONTEXT=SORT,
// SEARCHRES), so that is the dispatch's to judge.
func (d *Decoder) searchReturn() *SearchReturn {
	r := &SearchReturn{}
	d.list(true, func() {
		switch d.upperAtom() {
		case "MIN":
			r.ReturnMin = true
		case "MAX":
			r.ReturnMax = true
		case "ALL":
			r.ReturnAll = true
		case "COUNT":
			r.ReturnCount = true
		case "SAVE":
			r.ReturnSave = true
		case "UPDATE":
			if r.Update {
				d.fail("UPDATE given twice")
			}
			r.Update = true
		case "CONTEXT":
			r.Context = true
		case "PARTIAL":
			if r.Partial != nil {
				d.fail("PARTIAL given twice")
			}
			d.sp()
			r.Partial = d.partialRange()
		default:
			d.fail("unknown RETURN option")
		}
	})
	return r
}

// partialRange reads low:high, both positive or both negative (RFC 9394).
func (d *Decoder) partialRange() *Partial {
	neg := d.take('-')
	low := int64(d.nzNumber())
	d.expect(':')
	if neg && !d.take('-') {
		d.fail("bad partial range")
	}
	high := int64(d.nzNumber())
	if neg {
		low, high = -low, -high
	}
	return &Partial{Low: low, High: high}
}

// searchProgram reads 1*(search-key) separated by spaces into c.
func (d *Decoder) searchProgram(c *imap.SearchCriteria) {
	for n := 1; ; n++ {
		if n > d.lim.MaxItems {
			d.fail("too many search keys")
		}
		d.searchKey(c)
		if d.atEnd() || d.peek() == ')' {
			return
		}
		d.sp()
	}
}

// searchKey reads one search key and adds it to c.
func (d *Decoder) searchKey(c *imap.SearchCriteria) {
	d.enter()
	defer d.leave()
	switch p := d.peek(); {
	case p == '(':
		d.pos++
		d.searchProgram(c)
		d.expect(')')
		return
	case p == '*' || p == '$' || (p >= '0' && p <= '9'):
		set := d.numSet(false, true)
		if u, ok := set.(imap.UIDSet); ok {
			c.UID = append(c.UID, u)
		} else {
			c.SeqNum = append(c.SeqNum, set.(imap.SeqSet))
		}
		return
	}
	key := d.upperAtom()
	switch key {
	case "ALL":
	case "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN":
		c.Flag = append(c.Flag, systemFlag(key))
	case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
		c.NotFlag = append(c.NotFlag, systemFlag(key[2:]))
	case "RECENT":
		c.Flag = append(c.Flag, "\\Recent")
	case "OLD":
		c.NotFlag = append(c.NotFlag, "\\Recent")
	case "NEW":
		c.Flag = append(c.Flag, "\\Recent")
		c.NotFlag = append(c.NotFlag, imap.FlagSeen)
	case "KEYWORD", "UNKEYWORD":
		d.sp()
		f := imap.Flag(d.atom())
		if key == "KEYWORD" {
			c.Flag = append(c.Flag, f)
		} else {
			c.NotFlag = append(c.NotFlag, f)
		}
	case "BCC", "CC", "FROM", "SUBJECT", "TO":
		d.sp()
		c.Header = append(c.Header, imap.SearchCriteriaHeaderField{Key: headerName(key), Value: d.astring()})
	case "HEADER":
		d.sp()
		k := d.astring()
		d.sp()
		c.Header = append(c.Header, imap.SearchCriteriaHeaderField{Key: k, Value: d.astring()})
	case "BODY":
		d.sp()
		c.Body = append(c.Body, d.astring())
	case "TEXT":
		d.sp()
		c.Text = append(c.Text, d.astring())
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE":
		d.sp()
		t := d.date()
		var sub imap.SearchCriteria
		switch key {
		case "BEFORE":
			sub.Before = t
		case "ON":
			sub.Since, sub.Before = t, t.Add(24*time.Hour)
		case "SINCE":
			sub.Since = t
		case "SENTBEFORE":
			sub.SentBefore = t
		case "SENTON":
			sub.SentSince, sub.SentBefore = t, t.Add(24*time.Hour)
		case "SENTSINCE":
			sub.SentSince = t
		}
		c.And(&sub)
	case "LARGER", "SMALLER":
		d.sp()
		n := int64(d.number64())
		switch {
		case key == "LARGER":
			c.And(&imap.SearchCriteria{Larger: n})
		case n > 0:
			c.And(&imap.SearchCriteria{Smaller: n})
		default:
			// SMALLER 0 matches nothing, but a zero Smaller means no
			// limit: NOT ALL says it.
			c.Not = append(c.Not, imap.SearchCriteria{})
		}
	case "UID":
		d.sp()
		c.UID = append(c.UID, d.numSet(true, true).(imap.UIDSet))
	case "NOT":
		d.sp()
		var sub imap.SearchCriteria
		d.searchKey(&sub)
		c.Not = append(c.Not, sub)
	case "OR":
		var pair [2]imap.SearchCriteria
		d.sp()
		d.searchKey(&pair[0])
		d.sp()
		d.searchKey(&pair[1])
		c.Or = append(c.Or, pair)
	case "MODSEQ":
		// RFC 7162 section 3.1.5: MODSEQ [entry-name SP entry-type-req SP]
		// mod-sequence-valzer.
		d.sp()
		m := &imap.SearchCriteriaModSeq{}
		if d.peek() == '"' {
			m.MetadataName = d.quoted()
			d.sp()
			switch t := imap.SearchCriteriaMetadataType(strings.ToLower(d.atom())); t {
			case imap.SearchCriteriaMetadataAll, imap.SearchCriteriaMetadataPrivate, imap.SearchCriteriaMetadataShared:
				m.MetadataType = t
			default:
				d.fail("bad MODSEQ entry type")
			}
			d.sp()
		}
		m.ModSeq = d.modSeq(true)
		if c.ModSeq != nil {
			// Two MODSEQ keys: the larger one decides.
			m.ModSeq = max(m.ModSeq, c.ModSeq.ModSeq)
		}
		c.ModSeq = m
	default:
		d.fail("unknown search key")
	}
}

func systemFlag(name string) imap.Flag {
	return imap.Flag("\\" + name[:1] + strings.ToLower(name[1:]))
}

func headerName(key string) string {
	switch key {
	case "BCC":
		return "Bcc"
	case "CC":
		return "Cc"
	}
	return key[:1] + strings.ToLower(key[1:])
}

// sort reads SORT [RETURN (...)] (sort-criteria) charset 1*(SP search-key)
// (RFC 5256 section 4, RFC 5267 section 3).
func (d *Decoder) sort() *Sort {
	a := &Sort{}
	d.sp()
	if d.takeKeyword("RETURN") {
		d.sp()
		a.Return = d.searchReturn()
		d.sp()
	}
	d.list(false, func() {
		var sc SortCriterion
		k := d.upperAtom()
		if k == "REVERSE" {
			sc.Reverse = true
			d.sp()
			k = d.upperAtom()
		}
		switch sk := SortKey(k); sk {
		case SortArrival, SortCc, SortDate, SortFrom, SortSize, SortSubject, SortTo, SortDisplayFrom, SortDisplayTo:
			sc.Key = sk
		default:
			d.fail("unknown sort key")
		}
		a.Criteria = append(a.Criteria, sc)
	})
	d.sp()
	a.Charset = strings.ToUpper(d.astring())
	d.sp()
	d.searchProgram(&a.Search)
	return a
}

// thread reads THREAD algorithm SP charset 1*(SP search-key) (RFC 5256).
func (d *Decoder) thread() *Thread {
	a := &Thread{}
	d.sp()
	a.Algorithm = imap.ThreadAlgorithm(d.upperAtom())
	d.sp()
	a.Charset = strings.ToUpper(d.astring())
	d.sp()
	d.searchProgram(&a.Search)
	return a
}
