package store

// Test helpers: reads and writes the tests use and the program does not.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"congthu/internal/sqldb"
	"congthu/outbox"
)

// accountByID returns an account by ID. ErrNotFound.
func (s *Store) accountByID(ctx context.Context, id int64) (*Account, error) {
	a, err := scanAccount(s.r().Row(ctx, "SELECT "+accountColumns+" FROM accounts WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: account %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: account %d: %w", id, err)
	}
	return a, nil
}

// setDisplayName sets the account's display name.
func (s *Store) setDisplayName(ctx context.Context, address, name string) error {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return fmt.Errorf("store: account %q: %w", address, ErrNotFound)
	}
	res, err := s.w().Exec(ctx, "UPDATE accounts SET display_name = ? WHERE address = ?", name, addr)
	if err != nil {
		return fmt.Errorf("store: set display name of %s: %w", addr, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: account %s: %w", addr, ErrNotFound)
	}
	return nil
}

// mailboxByID returns one mailbox by ID. ErrNotFound.
func (s *Store) mailboxByID(ctx context.Context, id int64) (*Mailbox, error) {
	m, err := scanMailbox(s.r().Row(ctx, "SELECT "+mailboxColumns+mailboxFrom+" WHERE mb.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: mailbox %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: mailbox %d: %w", id, err)
	}
	return m, nil
}

// keywords lists the keywords in use in a mailbox (for the FLAGS
// response): every keyword a message in it has carried, sorted.
func (s *Store) keywords(ctx context.Context, mailboxID int64) ([]string, error) {
	rows, err := s.r().Query(ctx, "SELECT keyword FROM mailbox_keywords WHERE mailbox_id = ? ORDER BY keyword", mailboxID)
	if err != nil {
		return nil, fmt.Errorf("store: keywords of mailbox %d: %w", mailboxID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("store: keywords of mailbox %d: %w", mailboxID, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: keywords of mailbox %d: %w", mailboxID, err)
	}
	return out, nil
}

// updateOutboxRecipient records a delivery attempt to one recipient of an
// outbox message: its new status (outbox.Queued to retry at next, or one of
// the final states), the error text, and one more attempt. ErrNotFound.
func (s *Store) updateOutboxRecipient(ctx context.Context, id int64, address, status, lastError string, next time.Time) error {
	switch status {
	case outbox.Queued, outbox.Delivered, outbox.Failed, outbox.Expired:
	default:
		return fmt.Errorf("store: outbox status %q: %w", status, ErrInvalid)
	}
	res, err := s.w().Exec(ctx, `UPDATE outbox_recipients SET status = ?, last_error = ?, next_attempt_at = ?,
		attempts = attempts + 1, updated_at = ? WHERE outbox_id = ? AND address = ?`,
		status, lastError, sqldb.Micro(next), sqldb.Micro(time.Now()), id, address)
	if err != nil {
		return fmt.Errorf("store: update outbox %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: outbox %d recipient %s: %w", id, address, ErrNotFound)
	}
	return nil
}
