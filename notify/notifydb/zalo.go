package notifydb

// The live Zalo channel's sending state (migration 0013). As for SMS, a
// notification's status is what the back office sees and zns_sends is what
// the channel did: BeginZNSSend is committed before Zalo is asked,
// RecordZNSAccepted after it answered with a msg_id, so that a run after a
// crash knows whether Zalo may already have the message. A receipt
// (ZNSReceipt) finds its notification by msg_id; one that comes before the
// msg_id is recorded is kept and applied by RecordZNSAccepted.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"congthu/internal/sqldb"
)

// Zalo sending states (zns_sends.state).
const (
	ZNSSubmitting = "submitting" // Zalo is being asked (or the asker died)
	ZNSAccepted   = "accepted"   // Zalo gave a msg_id; waiting for the receipt
	ZNSNotSent    = "not-sent"   // provably not taken
	ZNSUnknown    = "unknown"    // asked, no answer: Zalo may have sent it
)

// ZNSSend is the sending state of one live Zalo notification.
type ZNSSend struct {
	NotificationID string
	State          string
	MsgID          string
	Attempts       int
	Detail         string
	FirstAt        time.Time // the first submission
	SentAt         time.Time // when Zalo accepted it (zero before)
	UpdatedAt      time.Time
}

// ZNSSendOf returns the sending state of a notification; ErrNotFound when
// no submission was ever started.
func (s *Store) ZNSSendOf(ctx context.Context, id string) (*ZNSSend, error) {
	v := ZNSSend{NotificationID: id}
	var first, sent, u int64
	err := s.r().Row(ctx, "SELECT state, msg_id, attempts, detail, first_at, sent_at, updated_at FROM zns_sends WHERE notification_id = ?", id).
		Scan(&v.State, &v.MsgID, &v.Attempts, &v.Detail, &first, &sent, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("notifydb: zns send %s: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("notifydb: zns send %s: %w", id, err)
	}
	v.FirstAt, v.SentAt, v.UpdatedAt = sqldb.FromMicro(first), sqldb.FromMicro(sent), sqldb.FromMicro(u)
	return &v, nil
}

// BeginZNSSend records that a submission of notification id is about to
// start: the notification becomes sending (the event is returned, nil
// when it already was), the state ZNSSubmitting with one more attempt. It
// is committed before it returns. now is the channel's clock, recorded as
// the first try's time on the first. ErrFinal, ErrNotFound, ErrAccepted
// when Zalo already took it.
func (s *Store) BeginZNSSend(ctx context.Context, id string, now time.Time) (*NotificationEvent, error) {
	var ev *NotificationEvent
	err := s.smsWrite(ctx, func(tx dbtx) error {
		ev = nil
		var cur string
		err := tx.Row(ctx, "SELECT status FROM notifications WHERE id = ?"+s.dialect.ForUpdate, id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("notifydb: notification %s: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("notifydb: notification %s: %w", id, err)
		}
		if NotificationStatusFinal(cur) {
			return fmt.Errorf("notifydb: zns %s: %w", id, ErrFinal)
		}
		var state string
		err = tx.Row(ctx, "SELECT state FROM zns_sends WHERE notification_id = ?", id).Scan(&state)
		if err == nil && state == ZNSAccepted {
			return fmt.Errorf("notifydb: zns %s: %w", id, ErrAccepted)
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("notifydb: zns send %s: %w", id, err)
		}
		if ev, err = s.setStatus(ctx, tx, id, NotificationSending, "", time.Time{}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO zns_sends (notification_id, state, attempts, first_at, updated_at) VALUES (?, ?, 1, ?, ?)
			ON CONFLICT (notification_id) DO UPDATE SET state = excluded.state, attempts = zns_sends.attempts + 1, updated_at = excluded.updated_at`,
			id, ZNSSubmitting, sqldb.Micro(now), sqldb.Micro(time.Now())); err != nil {
			return fmt.Errorf("notifydb: begin zns send %s: %w", id, err)
		}
		return nil
	})
	return ev, err
}

// SetZNSSendState records the outcome of a submission that Zalo did not
// accept (ZNSNotSent, ZNSUnknown) with a detail. ZNSAccepted is never
// overwritten.
func (s *Store) SetZNSSendState(ctx context.Context, id, state, detail string) error {
	switch state {
	case ZNSNotSent, ZNSUnknown:
	default:
		return fmt.Errorf("notifydb: zns send state %q: %w", state, ErrInvalid)
	}
	detail = strings.ToValidUTF8(truncate(detail, 1000), "?")
	return s.smsWrite(ctx, func(tx dbtx) error {
		r, err := tx.Exec(ctx, "UPDATE zns_sends SET state = ?, detail = ?, updated_at = ? WHERE notification_id = ? AND state <> ?",
			state, detail, sqldb.Micro(time.Now()), id, ZNSAccepted)
		if err != nil {
			return fmt.Errorf("notifydb: zns send %s: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			var cur string
			if err := tx.Row(ctx, "SELECT state FROM zns_sends WHERE notification_id = ?", id).Scan(&cur); errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("notifydb: zns send %s: %w", id, ErrNotFound)
			}
		}
		return nil
	})
}

// RecordZNSAccepted records that Zalo accepted notification id as msgID
// at sentAt (the channel's clock: the receipt timeout counts from it),
// costing priceVND. When Zalo's receipt for msgID came first
// (ZNSReceipt kept it), it is taken and its time returned: the caller
// makes the notification delivered (zero: no receipt yet).
func (s *Store) RecordZNSAccepted(ctx context.Context, id, msgID string, sentAt time.Time, priceVND int64) (receivedAt time.Time, err error) {
	err = s.smsWrite(ctx, func(tx dbtx) error {
		receivedAt = time.Time{}
		now := time.Now()
		if sentAt.IsZero() {
			sentAt = now
		}
		r, err := tx.Exec(ctx, "UPDATE zns_sends SET state = ?, msg_id = ?, sent_at = ?, detail = '', updated_at = ? WHERE notification_id = ?",
			ZNSAccepted, msgID, sqldb.Micro(sentAt), sqldb.Micro(now), id)
		if err != nil {
			return fmt.Errorf("notifydb: zns accepted %s: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return fmt.Errorf("notifydb: zns send %s: %w", id, ErrNotFound)
		}
		if _, err := tx.Exec(ctx, "UPDATE notifications SET price_vnd = ? WHERE id = ?", priceVND, id); err != nil {
			return fmt.Errorf("notifydb: zns price %s: %w", id, err)
		}
		var at int64
		err = tx.Row(ctx, "SELECT received_at FROM zns_early_receipts WHERE msg_id = ?", msgID).Scan(&at)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return fmt.Errorf("notifydb: zns early receipt %s: %w", msgID, err)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM zns_early_receipts WHERE msg_id = ?", msgID); err != nil {
			return err
		}
		receivedAt = sqldb.FromMicro(at)
		return nil
	})
	return receivedAt, err
}

// ZNSReceipt finds the notification Zalo's receipt for msgID is about; a
// msg_id not recorded yet is kept for RecordZNSAccepted and "" returned.
func (s *Store) ZNSReceipt(ctx context.Context, msgID string, at time.Time) (id string, err error) {
	if msgID == "" {
		return "", fmt.Errorf("notifydb: zns receipt without msg_id: %w", ErrInvalid)
	}
	err = s.r().Row(ctx, "SELECT notification_id FROM zns_sends WHERE msg_id = ?", msgID).Scan(&id)
	if err == nil {
		return id, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("notifydb: zns receipt %s: %w", msgID, err)
	}
	err = s.smsWrite(ctx, func(tx dbtx) error {
		id = ""
		// Recorded meanwhile?
		err := tx.Row(ctx, "SELECT notification_id FROM zns_sends WHERE msg_id = ?", msgID).Scan(&id)
		if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO zns_early_receipts (msg_id, received_at, created_at) VALUES (?, ?, ?) ON CONFLICT (msg_id) DO NOTHING",
			msgID, sqldb.Micro(at), sqldb.Micro(time.Now()))
		return err
	})
	return id, err
}

// PurgeZNSEarlyReceipts deletes kept receipts older than before (their
// message was never ours, or its record never came).
func (s *Store) PurgeZNSEarlyReceipts(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.writeTx(ctx, func(tx dbtx) error {
		r, err := tx.Exec(ctx, "DELETE FROM zns_early_receipts WHERE created_at < ?", sqldb.Micro(before))
		if err != nil {
			return err
		}
		n, _ = r.RowsAffected()
		return nil
	})
	return n, err
}

// SetNotificationPrice records what sending notification id cost, in đồng.
func (s *Store) SetNotificationPrice(ctx context.Context, id string, vnd int64) error {
	return s.smsWrite(ctx, func(tx dbtx) error {
		_, err := tx.Exec(ctx, "UPDATE notifications SET price_vnd = ? WHERE id = ?", vnd, id)
		return err
	})
}
