package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"congthu/internal/sqldb"
)

// CancelOutbox is the operator's `congthu queue drop` of an outbound job,
// like Postfix's postsuper -d: every recipient of outbox entry id still
// queued becomes OutboxFailed with last_error "cancelled by operator:
// reason", so the entry is no longer due and the queue sweeper does not
// restore its job (a job that still runs finds nothing queued and does
// nothing). No DSN is sent. It returns how many recipients it cancelled
// (0 when none was queued any more); ErrNotFound for an unknown entry.
//
// When it cancelled a recipient of an entry that carries a notification,
// that notification becomes permanent-failure ("cancelled by operator")
// after the outbox transaction, with a callback to the service as for any
// final status (the notification sweeper enqueues it).
func (s *Store) CancelOutbox(ctx context.Context, id int64, reason string) (int, error) {
	var n int
	err := s.writeTx(ctx, func(tx dbtx, _ changes) error {
		var one int
		err := tx.Row(ctx, "SELECT 1 FROM outbox WHERE id = ?", id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: outbox %d: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("store: cancel outbox %d: %w", id, err)
		}
		res, err := tx.Exec(ctx, `UPDATE outbox_recipients SET status = ?, last_error = ?, updated_at = ?
			WHERE outbox_id = ? AND status = 'queued'`,
			OutboxFailed, "cancelled by operator: "+reason, sqldb.Micro(time.Now()), id)
		if err != nil {
			return fmt.Errorf("store: cancel outbox %d: %w", id, err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("store: cancel outbox %d: %w", id, err)
		}
		n = int(k)
		return nil
	})
	if err != nil || n == 0 {
		return n, err
	}
	nid, err := s.NotificationIDByOutbox(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return n, nil // ordinary mail
	} else if err != nil {
		return n, err
	}
	if _, err := s.SetNotificationStatusEvent(ctx, nid, NotificationPermanentFailure, "cancelled by operator", time.Time{}); err != nil {
		return n, fmt.Errorf("store: cancel outbox %d: notification %s: %w", id, nid, err)
	}
	return n, nil
}
