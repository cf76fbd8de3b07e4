package wire

import (
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// command parses the line read by Next: tag SP name [SP arguments].
func (d *Decoder) command() *Command {
	d.tag = d.tagString()
	d.sp()
	cmd := &Command{Tag: d.tag}
	cmd.Name = d.commandName()
	d.name = cmd.Name
	if cmd.Name == "UID" {
		cmd.UID = true
		d.sp()
		cmd.Name = d.commandName()
		switch cmd.Name {
		case "FETCH", "STORE", "SEARCH", "COPY", "MOVE", "SORT", "THREAD", "EXPUNGE":
		default:
			d.fail("unknown UID command")
		}
	}
	switch cmd.Name {
	case "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "NAMESPACE", "IDLE", "CHECK", "CLOSE", "UNSELECT":
	case "EXPUNGE":
		if cmd.UID {
			d.sp()
			cmd.Args = &Expunge{UIDs: d.numSet(true, false).(imap.UIDSet)}
		}
	case "AUTHENTICATE":
		cmd.Args = d.authenticate()
	case "LOGIN":
		d.sp()
		a := &Login{Username: d.astring()}
		d.sp()
		a.Password = d.astring()
		cmd.Args = a
	case "ENABLE":
		a := &Enable{}
		for d.take(' ') {
			if len(a.Caps) >= d.lim.MaxItems {
				d.fail("too many items")
			}
			a.Caps = append(a.Caps, imap.Cap(d.upperAtom()))
		}
		if len(a.Caps) == 0 {
			d.fail("ENABLE needs a capability")
		}
		cmd.Args = a
	case "SELECT", "EXAMINE":
		cmd.Args = d.selectArgs(cmd.Name == "EXAMINE")
	case "CREATE":
		cmd.Args = d.create()
	case "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "GETQUOTAROOT":
		d.sp()
		cmd.Args = &Mailbox{Mailbox: d.mailbox()}
	case "RENAME":
		d.sp()
		a := &Rename{From: d.mailbox()}
		d.sp()
		a.To = d.mailbox()
		cmd.Args = a
	case "LIST":
		cmd.Args = d.listArgs()
	case "LSUB":
		d.sp()
		a := &List{Reference: d.mailbox()}
		d.sp()
		a.Patterns = []string{d.listMailbox()}
		cmd.Args = a
	case "STATUS":
		d.sp()
		a := &Status{Mailbox: d.mailbox()}
		d.sp()
		a.Options = d.statusItems()
		cmd.Args = a
	case "APPEND":
		cmd.Args = d.appendArgs()
	case "SEARCH":
		cmd.Args = d.search()
	case "FETCH":
		cmd.Args = d.fetch(cmd.UID)
	case "STORE":
		cmd.Args = d.store(cmd.UID)
	case "COPY", "MOVE":
		d.sp()
		a := &Copy{NumSet: d.numSet(cmd.UID, true)}
		d.sp()
		a.Mailbox = d.mailbox()
		cmd.Args = a
	case "SORT":
		cmd.Args = d.sort()
	case "THREAD":
		cmd.Args = d.thread()
	case "ID":
		cmd.Args = d.id()
	case "GETQUOTA":
		d.sp()
		cmd.Args = &Quota{Root: d.astring()}
	case "SETQUOTA":
		cmd.Args = d.setQuota()
	case "CANCELUPDATE":
		a := &CancelUpdate{}
		for d.take(' ') {
			if len(a.Tags) >= d.lim.MaxItems {
				d.fail("too many items")
			}
			a.Tags = append(a.Tags, d.str())
		}
		if len(a.Tags) == 0 {
			d.fail("CANCELUPDATE needs a tag")
		}
		cmd.Args = a
	default:
		// The arguments are not ours to judge: skip them (with any
		// non-synchronizing literal) and let the caller answer BAD.
		if err := d.skipRest(); err != nil {
			if se, ok := err.(*SyntaxError); ok {
				panic(se)
			}
			panic(ioError{err})
		}
		cmd.Args = &Unknown{}
		return cmd
	}
	d.end()
	return cmd
}

// commandName reads a command name: letters only, upper-cased.
func (d *Decoder) commandName() string {
	name := d.upperWord(func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
	})
	if name == "" {
		d.fail("missing command name")
	}
	return name
}

func (d *Decoder) authenticate() *Authenticate {
	d.sp()
	a := &Authenticate{Mechanism: d.upperAtom()}
	if d.take(' ') {
		a.HasInitial = true
		if d.take('=') {
			a.Initial = []byte{}
			return a
		}
		start := d.pos
		for d.pos < len(d.line) && d.line[d.pos] != ' ' {
			d.pos++
		}
		b, err := decodeBase64(string(d.line[start:d.pos]))
		if err != nil || d.pos == start {
			d.fail("invalid base64 initial response")
		}
		a.Initial = b
	}
	return a
}

// mailbox reads a mailbox name (astring) and returns it decoded: INBOX in
// any case as "INBOX", modified UTF-7 decoded unless UTF8=ACCEPT is on,
// 8-bit names refused unless it is.
func (d *Decoder) mailbox() string {
	return d.decodeName(d.astring(), false)
}

func (d *Decoder) decodeName(raw string, pattern bool) string {
	if strings.EqualFold(raw, "INBOX") {
		return "INBOX"
	}
	if d.utf8Accept {
		d.checkUTF8(raw)
		return raw
	}
	s, err := DecodeMUTF7(raw)
	if err != nil {
		for i := 0; i < len(raw); i++ {
			if raw[i] >= 0x80 {
				d.fail("8-bit mailbox name without UTF8=ACCEPT")
			}
		}
		msg := "invalid modified UTF-7 in the mailbox name"
		if pattern {
			msg = "invalid modified UTF-7 in the pattern"
		}
		panic(&SyntaxError{Msg: msg, Code: "CANNOT"})
	}
	return s
}

// listMailbox reads a LIST pattern: 1*list-char or a string.
func (d *Decoder) listMailbox() string {
	var raw string
	switch d.peek() {
	case '"', '{':
		raw = d.astring()
	default:
		start := d.pos
		for d.pos < len(d.line) {
			c := d.line[d.pos]
			if !(d.isAtomChar(c) || c == '%' || c == '*' || c == ']') {
				break
			}
			d.pos++
		}
		if d.pos == start {
			d.fail("expected a mailbox pattern")
		}
		raw = string(d.line[start:d.pos])
		d.checkUTF8(raw)
	}
	return d.decodeName(raw, true)
}

// numSet reads a sequence set (RFC 9051 sequence-set); uid picks the
// imap.UIDSet type over imap.SeqSet. "*" is 0 as in go-imap. "$" (RFC 5182)
// is imap.SearchRes() when dollarOK.
func (d *Decoder) numSet(uid, dollarOK bool) imap.NumSet {
	if d.take('$') {
		if !dollarOK {
			d.fail("$ not allowed here")
		}
		return imap.SearchRes()
	}
	var ranges []imap.SeqRange
	for {
		if len(ranges) >= d.lim.MaxItems {
			d.fail("sequence set too long")
		}
		start := d.seqNumber()
		stop := start
		if d.take(':') {
			stop = d.seqNumber()
		}
		// "b:a" is "a:b" (RFC 9051 section 9, seq-range); "*" (0) is the
		// largest number, so it goes last.
		if stop != 0 && (start == 0 || start > stop) {
			start, stop = stop, start
		}
		ranges = append(ranges, imap.SeqRange{Start: start, Stop: stop})
		if !d.take(',') {
			break
		}
	}
	if uid {
		set := make(imap.UIDSet, len(ranges))
		for i, r := range ranges {
			set[i] = imap.UIDRange{Start: imap.UID(r.Start), Stop: imap.UID(r.Stop)}
		}
		return set
	}
	return imap.SeqSet(ranges)
}

func (d *Decoder) seqNumber() uint32 {
	if d.take('*') {
		return 0
	}
	return d.nzNumber()
}

// flag reads a flag: "\" atom or a keyword atom. System flags come out in
// their canonical case; "\*" only when starOK.
func (d *Decoder) flag(starOK bool) imap.Flag {
	if d.take('\\') {
		if d.take('*') {
			if !starOK {
				d.fail(`\* is not a flag`)
			}
			return imap.FlagWildcard
		}
		name := d.atom()
		for _, f := range []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft, "\\Recent"} {
			if strings.EqualFold(string(f[1:]), name) {
				return f
			}
		}
		return imap.Flag("\\" + name)
	}
	return imap.Flag(d.atom())
}

// flagList reads "(" [flag *(SP flag)] ")".
func (d *Decoder) flagList() []imap.Flag {
	flags := []imap.Flag{}
	d.list(true, func() { flags = append(flags, d.flag(false)) })
	return flags
}

// dateTime reads an APPEND date-time (RFC 9051 section 9):
// "dd-Mon-yyyy hh:mm:ss +zzzz", day maybe space-padded.
func (d *Decoder) dateTime() time.Time {
	s := d.quoted()
	t, err := time.Parse("_2-Jan-2006 15:04:05 -0700", s)
	if err != nil {
		d.fail("invalid date-time")
	}
	return t
}

// date reads a SEARCH date, quoted or not: "d-Mon-yyyy".
func (d *Decoder) date() time.Time {
	var s string
	if d.peek() == '"' {
		s = d.quoted()
	} else {
		s = d.atom()
	}
	t, err := time.Parse("2-Jan-2006", s)
	if err != nil {
		d.fail("invalid date")
	}
	return t
}

func (d *Decoder) selectArgs(readOnly bool) *Select {
	d.sp()
	a := &Select{Mailbox: d.mailbox()}
	a.Options.ReadOnly = readOnly
	if d.take(' ') {
		d.list(false, func() {
			switch name := d.upperAtom(); name {
			case "CONDSTORE":
				a.Options.CondStore = true
			case "QRESYNC":
				if a.QResync != nil {
					d.fail("QRESYNC given twice")
				}
				d.sp()
				a.QResync = d.qresync()
			default:
				d.fail("unknown SELECT parameter")
			}
		})
	}
	return a
}

// qresync reads "(" uidvalidity SP mod-sequence-value [SP known-uids]
// [SP seq-match-data] ")" (RFC 7162 section 7).
func (d *Decoder) qresync() *QResync {
	q := &QResync{}
	d.expect('(')
	d.enter()
	q.UIDValidity = d.nzNumber()
	d.sp()
	q.ModSeq = d.modSeq(false)
	if d.take(' ') {
		if d.peek() != '(' {
			q.KnownUIDs = d.numSet(true, false).(imap.UIDSet)
			if d.take(' ') {
				q.SeqMatch = d.seqMatch()
			}
		} else {
			q.SeqMatch = d.seqMatch()
		}
	}
	d.expect(')')
	d.leave()
	return q
}

func (d *Decoder) seqMatch() *SeqMatch {
	d.expect('(')
	m := &SeqMatch{SeqNums: d.numSet(false, false).(imap.SeqSet)}
	d.sp()
	m.UIDs = d.numSet(true, false).(imap.UIDSet)
	d.expect(')')
	return m
}

// modSeq reads a mod-sequence-value (zero allowed when zeroOK).
func (d *Decoder) modSeq(zeroOK bool) uint64 {
	n := d.number64()
	if n == 0 && !zeroOK {
		d.fail("zero mod-sequence")
	}
	return n
}

func (d *Decoder) create() *Create {
	d.sp()
	a := &Create{Mailbox: d.mailbox()}
	if d.take(' ') {
		d.list(false, func() {
			if name := d.upperAtom(); name != "USE" {
				d.fail("unknown CREATE parameter")
			}
			d.sp()
			d.list(false, func() {
				d.expect('\\')
				a.Options.SpecialUse = append(a.Options.SpecialUse, imap.MailboxAttr("\\"+d.atom()))
			})
		})
	}
	return a
}

// listArgs reads LIST [SP "(" selection options ")"] SP reference SP
// (pattern / "(" patterns ")") [SP RETURN (...)] (RFC 5258 section 6).
func (d *Decoder) listArgs() *List {
	d.sp()
	a := &List{}
	if d.peek() == '(' {
		a.Extended = true
		d.list(true, func() {
			switch d.upperAtom() {
			case "SUBSCRIBED":
				a.Options.SelectSubscribed = true
			case "REMOTE":
				a.Options.SelectRemote = true
			case "RECURSIVEMATCH":
				a.Options.SelectRecursiveMatch = true
			case "SPECIAL-USE":
				a.Options.SelectSpecialUse = true
			default:
				d.fail("unknown LIST selection option")
			}
		})
		if a.Options.SelectRecursiveMatch && !a.Options.SelectSubscribed && !a.Options.SelectSpecialUse {
			d.fail("RECURSIVEMATCH needs another selection option")
		}
		d.sp()
	}
	a.Reference = d.mailbox()
	d.sp()
	if d.peek() == '(' {
		a.Extended = true
		d.list(false, func() { a.Patterns = append(a.Patterns, d.listMailbox()) })
	} else {
		a.Patterns = []string{d.listMailbox()}
	}
	if d.take(' ') {
		if d.upperAtom() != "RETURN" {
			d.fail("expected RETURN")
		}
		a.Extended = true
		d.sp()
		d.list(true, func() {
			switch d.upperAtom() {
			case "SUBSCRIBED":
				a.Options.ReturnSubscribed = true
			case "CHILDREN":
				a.Options.ReturnChildren = true
			case "SPECIAL-USE":
				a.Options.ReturnSpecialUse = true
			case "STATUS":
				d.sp()
				o := d.statusItems()
				a.Options.ReturnStatus = &o
			default:
				d.fail("unknown LIST return option")
			}
		})
	}
	return a
}

// statusItems reads "(" status-att *(SP status-att) ")".
func (d *Decoder) statusItems() imap.StatusOptions {
	var o imap.StatusOptions
	d.list(false, func() {
		switch d.upperAtom() {
		case "MESSAGES":
			o.NumMessages = true
		case "RECENT":
			o.NumRecent = true
		case "UIDNEXT":
			o.UIDNext = true
		case "UIDVALIDITY":
			o.UIDValidity = true
		case "UNSEEN":
			o.NumUnseen = true
		case "DELETED":
			o.NumDeleted = true
		case "SIZE":
			o.Size = true
		case "APPENDLIMIT":
			o.AppendLimit = true
		case "DELETED-STORAGE":
			o.DeletedStorage = true
		case "HIGHESTMODSEQ":
			o.HighestModSeq = true
		default:
			d.fail("unknown STATUS item")
		}
	})
	return o
}

// appendArgs reads APPEND mailbox 1*(SP [flag-list SP] [date-time SP]
// (literal / literal8 / "UTF8" SP "(" literal8 ")")) (RFC 3502, RFC 3516,
// RFC 6855).
func (d *Decoder) appendArgs() *Append {
	d.sp()
	a := &Append{Mailbox: d.mailbox()}
	for d.take(' ') {
		if len(a.Messages) >= d.lim.MaxAppendMessages {
			d.fail("too many messages")
		}
		var m AppendMessage
		if d.peek() == '(' {
			m.Options.Flags = d.flagList()
			d.sp()
		}
		if d.peek() == '"' {
			m.Options.Time = d.dateTime()
			d.sp()
		}
		if d.takeFold("UTF8 (") {
			d.enter()
			m.UTF8 = true
			if d.peek() != '~' {
				d.fail("UTF8 needs a literal8")
			}
			m.Literal, m.Binary = d.literal(d.lim.MaxAppendLiteral, true)
			d.expect(')')
			d.leave()
		} else {
			if d.peek() != '{' && d.peek() != '~' {
				d.fail("expected the message literal")
			}
			m.Literal, m.Binary = d.literal(d.lim.MaxAppendLiteral, true)
		}
		a.Messages = append(a.Messages, m)
	}
	if len(a.Messages) == 0 {
		d.fail("APPEND needs a message")
	}
	return a
}

func (d *Decoder) store(uid bool) *Store {
	d.sp()
	a := &Store{NumSet: d.numSet(uid, true)}
	d.sp()
	if d.peek() == '(' {
		d.list(false, func() {
			if d.upperAtom() != "UNCHANGEDSINCE" {
				d.fail("unknown STORE modifier")
			}
			d.sp()
			a.Options.UnchangedSince = d.modSeq(true)
			a.HasUnchangedSince = true
		})
		d.sp()
	}
	switch {
	case d.take('+'):
		a.Flags.Op = imap.StoreFlagsAdd
	case d.take('-'):
		a.Flags.Op = imap.StoreFlagsDel
	default:
		a.Flags.Op = imap.StoreFlagsSet
	}
	switch d.upperAtom() {
	case "FLAGS":
	case "FLAGS.SILENT":
		a.Flags.Silent = true
	default:
		d.fail("expected FLAGS")
	}
	d.sp()
	if d.peek() == '(' {
		a.Flags.Flags = d.flagList()
	} else {
		a.Flags.Flags = []imap.Flag{d.flag(false)}
		for d.take(' ') {
			if len(a.Flags.Flags) >= d.lim.MaxItems {
				d.fail("too many items")
			}
			a.Flags.Flags = append(a.Flags.Flags, d.flag(false))
		}
	}
	return a
}

// id reads ID ("(" *(string SP nstring) ")" / NIL) (RFC 2971 section 3.3:
// at most 30 fields, names of at most 30 octets, values of at most 1024).
func (d *Decoder) id() *ID {
	d.sp()
	a := &ID{}
	if d.takeNIL() {
		return a
	}
	a.Params = []IDParam{}
	d.list(true, func() {
		if len(a.Params) >= 30 {
			d.fail("too many ID fields")
		}
		f := d.str()
		d.sp()
		v := d.nstring()
		if len(f) > 30 || (v != nil && len(*v) > 1024) {
			d.fail("ID field too long")
		}
		a.Params = append(a.Params, IDParam{Field: f, Value: v})
	})
	return a
}

func (d *Decoder) setQuota() *Quota {
	d.sp()
	a := &Quota{Root: d.astring(), Limits: []QuotaLimit{}}
	d.sp()
	d.list(true, func() {
		r := imap.QuotaResourceType(d.upperAtom())
		d.sp()
		n := d.number64()
		a.Limits = append(a.Limits, QuotaLimit{Resource: r, Limit: int64(n)})
	})
	return a
}
