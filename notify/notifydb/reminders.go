package notifydb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"congthu/internal/sqldb"
)

// Scheduled notifications (reminders). One is made with the event that
// schedules it, status scheduled and ScheduledFor its time, and nothing to
// send yet: a live email gets no outbox entry and no channel's job is
// queued. ReleaseDue makes the due ones created (a live email's outbox
// entry in the same transaction) for the caller to queue; a later event
// cancels them (NotificationRequest.CancelScheduled), as does
// CancelScheduled. The store is their only record: a restart or a lost
// queue neither drops nor doubles one, since release is a status change
// that happens once.

// cancelScheduled cancels in tx the scheduled notifications of the
// service's dossier; their events go to res.Events.
func (s *Store) cancelScheduled(ctx context.Context, tx dbtx, service, dossier, reason string, now time.Time, res *NotificationResult) error {
	rows, err := tx.Query(ctx, "SELECT id FROM notifications WHERE service = ? AND dossier_code = ? AND status = ?", service, dossier, NotificationScheduled)
	if err != nil {
		return fmt.Errorf("notifydb: scheduled of %s: %w", dossier, err)
	}
	ids, err := scanStrings(rows)
	if err != nil {
		return fmt.Errorf("notifydb: scheduled of %s: %w", dossier, err)
	}
	for _, id := range ids {
		ev, err := s.setStatus(ctx, tx, id, NotificationCancelled, reason, now)
		if err != nil {
			return err
		}
		if ev != nil {
			res.Events = append(res.Events, *ev)
		}
	}
	return nil
}

// ErrNotScheduled: the notification is not (or no longer) scheduled.
var ErrNotScheduled = errors.New("notifydb: notification is not scheduled")

// CancelScheduled cancels one scheduled notification of service, with
// detail as its status detail, and returns the event (enqueue its
// callback). ErrNotFound (also for another service's), ErrNotScheduled.
func (s *Store) CancelScheduled(ctx context.Context, service, id, detail string) (*NotificationEvent, error) {
	var ev *NotificationEvent
	err := s.writeTx(ctx, func(tx dbtx) error {
		if err := s.lockEvents(ctx, tx); err != nil {
			return err
		}
		var cur, svc string
		err := tx.Row(ctx, "SELECT status, service FROM notifications WHERE id = ?"+s.dialect.ForUpdate, id).Scan(&cur, &svc)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && svc != service) {
			return fmt.Errorf("notifydb: notification %s: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("notifydb: notification %s: %w", id, err)
		}
		if cur != NotificationScheduled {
			return fmt.Errorf("notifydb: notification %s is %s: %w", id, cur, ErrNotScheduled)
		}
		ev, err = s.setStatus(ctx, tx, id, NotificationCancelled, detail, time.Time{})
		return err
	})
	return ev, err
}

// ReleaseDue makes up to limit scheduled notifications due at now created,
// each in its own transaction: a live email gets its outbox entry
// (mailFrom gives its envelope sender) and the entry is queued by the
// outbox. It returns the released notifications, for the caller to queue
// the others' jobs (a lost enqueue is restored by the sweeper). Nodes may
// run it at once: each notification is released once.
func (s *Store) ReleaseDue(ctx context.Context, now time.Time, limit int, mailFrom func(*Notification) (string, error)) ([]Notification, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r().Query(ctx, "SELECT id FROM notifications WHERE status = ? AND scheduled_for <= ? ORDER BY scheduled_for LIMIT ?",
		NotificationScheduled, sqldb.Micro(now), limit)
	if err != nil {
		return nil, fmt.Errorf("notifydb: due scheduled: %w", err)
	}
	ids, err := scanStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("notifydb: due scheduled: %w", err)
	}
	var out []Notification
	for _, id := range ids {
		var n *Notification
		var outboxID int64
		err := s.writeTx(ctx, func(tx dbtx) error {
			n, outboxID = nil, 0
			if err := s.lockEvents(ctx, tx); err != nil {
				return err
			}
			v, err := scanNotification(tx.Row(ctx, "SELECT "+notificationColumns+" FROM notifications WHERE id = ?"+s.dialect.ForUpdate, id))
			if err != nil {
				return fmt.Errorf("notifydb: notification %s: %w", id, err)
			}
			if v.Status != NotificationScheduled {
				return nil // released or cancelled meanwhile
			}
			t := time.Now()
			var ob sql.NullInt64
			if v.Channel == "email" && !v.Test {
				from, err := mailFrom(v)
				if err != nil {
					return err
				}
				if outboxID, err = s.outbox.AddTx(ctx, tx, from, v.Recipient, t); err != nil {
					return err
				}
				ob = sql.NullInt64{Int64: outboxID, Valid: true}
			}
			if _, err := tx.Exec(ctx, "UPDATE notifications SET status = ?, status_detail = '', outbox_id = ?, updated_at = ? WHERE id = ?",
				NotificationCreated, ob, sqldb.Micro(t), id); err != nil {
				return fmt.Errorf("notifydb: release %s: %w", id, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO notification_events (notification_id, service, status, detail, at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
				id, v.Service, NotificationCreated, "the reminder's time has come", sqldb.Micro(t), sqldb.Micro(t)); err != nil {
				return fmt.Errorf("notifydb: release %s: %w", id, err)
			}
			v.Status, v.OutboxID = NotificationCreated, outboxID
			n = v
			return nil
		})
		if err != nil {
			return out, err
		}
		if n != nil {
			if outboxID != 0 {
				s.outbox.Added(outboxID)
			}
			out = append(out, *n)
		}
	}
	return out, nil
}
