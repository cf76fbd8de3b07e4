package store

import (
	"context"
	"fmt"
	"time"
)

// AppendMessage is one message of AppendAll.
type AppendMessage struct {
	Raw   []byte
	Flags []string
	// Date is the internal date; zero is now.
	Date time.Time
}

// AppendAll stores several messages into one mailbox atomically (IMAP
// MULTIAPPEND, RFC 3502 section 6.3.11): in one transaction of its own,
// all of them or none. Their UIDs are consecutive, in the order given.
// An empty or unparsable message is ErrInvalid, a missing mailbox
// ErrNotFound, messages that do not fit the account's quota together
// ErrOverQuota; in each case nothing is stored. It returns once the
// commit is durable.
func (s *Store) AppendAll(ctx context.Context, mailboxID int64, msgs []AppendMessage) ([]AppendResult, error) {
	if len(msgs) == 0 {
		return nil, fmt.Errorf("store: append: no message: %w", ErrInvalid)
	}
	reqs := make([]*deliverReq, len(msgs))
	for i, m := range msgs {
		if len(m.Raw) == 0 {
			return nil, fmt.Errorf("store: append: message %d is empty: %w", i+1, ErrInvalid)
		}
		mask, kws, err := parseFlags(m.Flags)
		if err != nil {
			return nil, fmt.Errorf("store: append: message %d: %w", i+1, err)
		}
		reqs[i] = newReq(m.Raw, m.Date)
		reqs[i].targets = []target{{mailboxID: mailboxID, mask: mask, keywords: joinKeywords(kws)}}
	}
	res := make([]AppendResult, len(msgs))
	err := s.writeTx(ctx, func(tx dbtx, ch changes) error {
		for _, r := range reqs {
			r.err, r.result = nil, deliverRes{}
			r.targets[0].overQuota = false
		}
		if err := s.storeBatch(ctx, tx, reqs, ch); err != nil {
			return err
		}
		// storeBatch fails requests alone; here one failure fails all,
		// and returning it rolls the transaction back.
		for _, r := range reqs {
			if r.err != nil {
				return r.err
			}
		}
		for i, r := range reqs {
			res[i] = r.result.local[0]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
