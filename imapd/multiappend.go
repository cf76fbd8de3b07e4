package imapd

import (
	"errors"
	"strconv"

	"github.com/emersion/go-imap/v2"

	"congthu/imapd/wire"
	"congthu/store"
)

// Append stores messages (RFC 9051 section 6.3.12) and answers their UIDs
// with APPENDUID (RFC 4315 section 3). A missing mailbox answers
// TRYCREATE.
//
// Several messages are RFC 3502 MULTIAPPEND: they are stored in one
// transaction, all or none. A message over the APPENDLIMIT, an empty one,
// one the store cannot parse, or a total over the account's quota fails
// the whole command and nothing is stored. The decoder bounds the count
// (wire.Limits.MaxAppendMessages) and refuses a literal over the
// APPENDLIMIT before reading it; a refused literal fails the command
// before it reaches here.
func (s *session) Append(a *wire.Append) (result, error) {
	s.count()
	mb, err := s.srv.st.Mailbox(s.ctx, s.acct.ID, a.Mailbox)
	if errors.Is(err, store.ErrNotFound) {
		return result{}, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	} else if err != nil {
		return result{}, s.fail("append", err)
	}
	for _, m := range a.Messages {
		if len(m.Literal) > int(s.AppendLimit()) {
			return result{}, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "Message too big"}
		}
		if len(m.Literal) == 0 {
			return result{}, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Empty message"}
		}
	}
	var res []store.AppendResult
	if len(a.Messages) == 1 {
		// One message goes through the group commit.
		m := a.Messages[0]
		r, err := s.srv.st.Append(s.ctx, mb.ID, m.Literal, storeFlags(m.Options.Flags), m.Options.Time)
		if err != nil {
			return result{}, s.fail("append", err)
		}
		res = []store.AppendResult{*r}
	} else {
		msgs := make([]store.AppendMessage, len(a.Messages))
		for i, m := range a.Messages {
			msgs[i] = store.AppendMessage{Raw: m.Literal, Flags: storeFlags(m.Options.Flags), Date: m.Options.Time}
		}
		if res, err = s.srv.st.AppendAll(s.ctx, mb.ID, msgs); err != nil {
			return result{}, s.fail("append", err)
		}
	}
	var uids imap.UIDSet
	for _, r := range res {
		uids.AddNum(imap.UID(r.UID))
	}
	validity := res[len(res)-1].UIDValidity
	return result{code: "APPENDUID " + strconv.FormatUint(uint64(validity), 10) + " " + uids.String(), text: "APPEND completed"}, nil
}
