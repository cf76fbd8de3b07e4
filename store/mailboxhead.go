package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// MailboxHead is a mailbox's counters, without its messages: what IMAP
// SELECT reads when it holds the message list already (Status would add
// a scan of every message).
type MailboxHead struct {
	UIDNext     uint32
	UIDValidity uint32
	// FirstRecentUID is the lowest UID still \Recent (RFC 3501 section
	// 2.3.2): messages at or above it are recent until ClaimRecent.
	FirstRecentUID uint32
	HighestModSeq  int64
}

// MailboxHead reads one row of a mailbox. ErrNotFound.
func (s *Store) MailboxHead(ctx context.Context, mailboxID int64) (*MailboxHead, error) {
	var uidnext, uidvalidity, firstRecent int64
	var h MailboxHead
	err := s.r().Row(ctx, "SELECT uidnext, uidvalidity, first_recent_uid, highest_modseq FROM mailboxes WHERE id = ?", mailboxID).
		Scan(&uidnext, &uidvalidity, &firstRecent, &h.HighestModSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: mailbox %d: %w", mailboxID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: mailbox %d: %w", mailboxID, err)
	}
	h.UIDNext, h.UIDValidity, h.FirstRecentUID = uint32(uidnext), uint32(uidvalidity), uint32(firstRecent)
	return &h, nil
}
