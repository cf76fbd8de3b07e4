package store

// Bounces of notification email that come back after the remote server's
// 250 (to bounce+<id>@..., see notify.EnvelopeSender): the MX records them
// here before it answers 250.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// BounceTarget reports whether id names a live email notification, the
// only kind whose return path bounces come back to. ErrNotFound otherwise.
func (s *Store) BounceTarget(ctx context.Context, id string) error {
	var channel string
	var test int
	err := s.r().row(ctx, "SELECT channel, test FROM notifications WHERE id = ?", id).Scan(&channel, &test)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (channel != "email" || test != 0)) {
		return fmt.Errorf("store: bounce for notification %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: bounce for notification %s: %w", id, err)
	}
	return nil
}

// RecordBounce records that the remote side reported email notification
// id as failed for good after accepting it (detail: the remote status and
// diagnostic): the notification becomes permanent-failure, with the
// status event (and its callback) and the SMS fallback that a 5xx during
// delivery makes, in one transaction. Exactly as for that 5xx: while the
// email's outbox recipient is still queued (the dispatcher retrying), the
// recipient fails with detail and the entry goes; once it was delivered,
// the delivered notification becomes permanent-failure. A notification
// already in a failure status changes nothing (the bounce arrived twice,
// or after the 72-hour expiry): the record is empty. The caller passes
// the record to the same hook as the dispatcher does
// (notify.Tracker.OutboxRecorded), which queues the callbacks and the SMS.
// ErrNotFound when id is not a live email notification.
func (s *Store) RecordBounce(ctx context.Context, id, detail string, at time.Time) (*OutboxRecord, error) {
	detail = statusDetail(detail)
	rec := &OutboxRecord{}
	err := s.writeTx(ctx, func(tx dbtx, _ changes) error {
		*rec = OutboxRecord{}
		if err := s.lockEvents(ctx, tx); err != nil {
			return err
		}
		var status, channel, recipient string
		var test int
		var outbox sql.NullInt64
		err := tx.row(ctx, "SELECT status, channel, test, recipient, outbox_id FROM notifications WHERE id = ?"+s.dialect.forUpdate, id).
			Scan(&status, &channel, &test, &recipient, &outbox)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (channel != "email" || test != 0)) {
			return fmt.Errorf("store: bounce for notification %s: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("store: bounce for notification %s: %w", id, err)
		}
		switch status {
		case NotificationPermanentFailure, NotificationTemporaryFailure, NotificationTechnicalFailure:
			return nil
		}
		if outbox.Valid {
			// Still queued: the dispatcher's own path for a 5xx.
			n, err := s.recordAttempts(ctx, tx, []OutboxAttempt{{OutboxID: outbox.Int64, Address: recipient,
				Status: OutboxFailed, LastError: detail, Notification: id}}, true, rec)
			if err != nil || n > 0 {
				return err
			}
		}
		// Delivered (or its recipient no longer queued): the same
		// status change and fallback, out of delivered.
		ev, err := s.setStatusAfter(ctx, tx, id, NotificationPermanentFailure, detail, at, true)
		if err != nil {
			return err
		}
		if ev == nil {
			return nil
		}
		rec.Events = append(rec.Events, *ev)
		n, created, err := s.createSMSFallback(ctx, tx, id, "")
		if err != nil {
			return err
		}
		if created {
			rec.Fallbacks = append(rec.Fallbacks, Fallback{Email: id, SMS: n})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}
