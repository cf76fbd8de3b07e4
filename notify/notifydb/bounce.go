package notifydb

// Bounces of notification email that come back after the remote server's
// 250 (to bounce+<id>@..., see notify.EnvelopeSender): the MX records them
// here before it answers 250.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"congthu/internal/sqldb"
	"congthu/outbox"
)

// BounceTarget reports whether id names a live email notification, the
// only kind whose return path bounces come back to. ErrNotFound otherwise.
func (s *Store) BounceTarget(ctx context.Context, id string) error {
	var channel string
	var test int
	err := s.r().Row(ctx, "SELECT channel, test FROM notifications WHERE id = ?", id).Scan(&channel, &test)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (channel != "email" || test != 0)) {
		return fmt.Errorf("notifydb: bounce for notification %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("notifydb: bounce for notification %s: %w", id, err)
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
// (the recorded function of NotificationHook), which queues the callbacks and the SMS.
// ErrNotFound when id is not a live email notification.
func (s *Store) RecordBounce(ctx context.Context, id, detail string, at time.Time) (*NotificationRecord, error) {
	detail = statusDetail(detail)
	rec := &NotificationRecord{}
	err := s.writeTx(ctx, func(tx dbtx) error {
		*rec = NotificationRecord{}
		if err := s.lockEvents(ctx, tx); err != nil {
			return err
		}
		var status, channel, recipient string
		var test int
		var outboxID sql.NullInt64
		err := tx.Row(ctx, "SELECT status, channel, test, recipient, outbox_id FROM notifications WHERE id = ?"+s.dialect.ForUpdate, id).
			Scan(&status, &channel, &test, &recipient, &outboxID)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (channel != "email" || test != 0)) {
			return fmt.Errorf("notifydb: bounce for notification %s: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("notifydb: bounce for notification %s: %w", id, err)
		}
		switch status {
		case NotificationPermanentFailure, NotificationTemporaryFailure, NotificationTechnicalFailure:
			return nil
		}
		if outboxID.Valid {
			// Still queued: the dispatcher's own path for a 5xx.
			// The notification hook records into rec (other hooks
			// are not told: the caller passes rec on).
			n, err := s.outbox.RecordAttemptsTx(ctx, tx, []outbox.Attempt{{OutboxID: outboxID.Int64, Address: recipient,
				Status: outbox.Failed, LastError: detail}}, true, &notificationHook{s: s, into: rec})
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
		n, created, err := s.createSMSFallback(ctx, tx, id, "", "")
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

// NotificationRecord is what recording the outcome of email notifications
// changed: the notifications' status events (their callbacks are to be
// enqueued when Callback is set) and the SMS fallbacks created for emails
// that failed permanently (to be queued).
type NotificationRecord struct {
	Events    []NotificationEvent
	Fallbacks []Fallback
}

// Fallback is an SMS fallback created for an email notification.
type Fallback struct {
	Email string // the email notification's ID
	SMS   *Notification
}

// notificationStatusOfOutbox is the notification status that a final
// outbox state means: delivered, permanent-failure for a 5xx or a bounce
// (outbox.Failed), temporary-failure for a message that expired in the
// queue. It is "" for outbox.Queued.
func notificationStatusOfOutbox(outboxStatus string) string {
	switch outboxStatus {
	case outbox.Delivered:
		return NotificationDelivered
	case outbox.Failed:
		return NotificationPermanentFailure
	case outbox.Expired:
		return NotificationTemporaryFailure
	}
	return ""
}

// NotificationHook returns the outbox hook (outbox.Store.AddHook) of email
// notifications: in the transaction that records an outcome of the entry
// an email notification owns, the notification becomes sending (as of the
// first attempt's start), then takes the status its outbox state means
// (notificationStatusOfOutbox); a permanent failure creates the SMS
// fallback (CreateSMSFallback), so a crash cannot lose the fallback after
// the failure is recorded. Only outcomes that changed a queued recipient
// reach the hook, so a job that ran twice, or one whose recipient an
// operator cancelled meanwhile, changes nothing. Once the transaction is
// durable, recorded (if not nil) is called with what changed.
func (s *Store) NotificationHook(recorded func(ctx context.Context, rec *NotificationRecord)) outbox.Hook {
	return &notificationHook{s: s, recorded: recorded}
}

type notificationHook struct {
	s        *Store
	recorded func(context.Context, *NotificationRecord)
	into     *NotificationRecord // instead of recorded (RecordBounce)
}

// OutboxRecording finds the notifications the entries carry and, when
// there are any, takes the events lock (before any row lock, see
// CreateNotifications).
func (h *notificationHook) OutboxRecording(ctx context.Context, otx *outbox.Tx, ids []int64) (func(context.Context, *outbox.Tx, []outbox.Outcome) error, error) {
	of := map[int64]string{}
	for len(ids) > 0 {
		n := min(len(ids), chunkSize)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		ids = ids[n:]
		rows, err := otx.Tx().Query(ctx, "SELECT outbox_id, id FROM notifications WHERE outbox_id IN ("+sqldb.Placeholders(n)+")", args...)
		if err != nil {
			return nil, fmt.Errorf("notifydb: notifications of outbox entries: %w", err)
		}
		for rows.Next() {
			var o int64
			var id string
			if err := rows.Scan(&o, &id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("notifydb: notifications of outbox entries: %w", err)
			}
			of[o] = id
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("notifydb: notifications of outbox entries: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("notifydb: notifications of outbox entries: %w", err)
		}
	}
	if len(of) == 0 {
		return nil, nil
	}
	if err := h.s.lockEvents(ctx, otx.Tx()); err != nil {
		return nil, err
	}
	return func(ctx context.Context, otx *outbox.Tx, outcomes []outbox.Outcome) error {
		rec := h.into
		if rec == nil {
			rec = &NotificationRecord{}
		}
		if err := h.s.recordEmailOutcomes(ctx, otx.Tx(), of, outcomes, rec); err != nil {
			return err
		}
		if h.into == nil && h.recorded != nil && (len(rec.Events) > 0 || len(rec.Fallbacks) > 0) {
			otx.AfterCommit(func(ctx context.Context) { h.recorded(ctx, rec) })
		}
		return nil
	}, nil
}

// recordEmailOutcomes records, in tx, the outcomes of the outbox entries
// that email notifications own (of: outbox entry → notification).
func (s *Store) recordEmailOutcomes(ctx context.Context, tx dbtx, of map[int64]string, outcomes []outbox.Outcome, rec *NotificationRecord) error {
	for _, o := range outcomes {
		id := of[o.OutboxID]
		if id == "" {
			continue
		}
		if !o.Started.IsZero() && !o.NotAttempted {
			ev, err := s.setStatus(ctx, tx, id, NotificationSending, "", o.Started)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if ev != nil {
				rec.Events = append(rec.Events, *ev)
			}
		}
		if o.InProgress {
			continue
		}
		status := notificationStatusOfOutbox(o.Status)
		if status == "" {
			continue
		}
		ev, err := s.setStatus(ctx, tx, id, status, statusDetail(o.Reply), time.Time{})
		if errors.Is(err, ErrNotFound) {
			continue // deleted by retention: nothing to tell
		} else if err != nil {
			return err
		}
		if ev != nil {
			rec.Events = append(rec.Events, *ev)
		}
		if status == NotificationPermanentFailure {
			n, created, err := s.createSMSFallback(ctx, tx, id, "", "")
			if err != nil {
				return err
			}
			if created {
				rec.Fallbacks = append(rec.Fallbacks, Fallback{Email: id, SMS: n})
			}
		}
	}
	return nil
}

// OutboxCancelled is what an operator's cancellation of outbox entry id
// (outbox.Store.Cancel, when it cancelled a recipient) means for the
// notification the entry carries: it becomes permanent-failure
// ("cancelled by operator"), with a callback to the service as for any
// final status (the notification sweeper enqueues it). Ordinary mail
// carries none: nothing changes.
func (s *Store) OutboxCancelled(ctx context.Context, id int64) error {
	nid, err := s.notificationIDByOutbox(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil // ordinary mail
	} else if err != nil {
		return err
	}
	if _, err := s.SetNotificationStatusEvent(ctx, nid, NotificationPermanentFailure, "cancelled by operator", time.Time{}); err != nil {
		return fmt.Errorf("notifydb: cancel outbox %d: notification %s: %w", id, nid, err)
	}
	return nil
}
