package notifydb

// Read queries of the operator console: notifications across every
// service by dossier code or recipient, what a notification's timeline
// shows besides its status events, and the dashboard's counts. The indexes
// they use are migration 0016.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"congthu/internal/sqldb"
)

// Lookup selects notifications of every service for the console: by
// dossier code, or by recipient (an email address or an E.164 number).
type Lookup struct {
	DossierCode string
	Recipient   string
	Limit       int // default 100, at most 500
}

// LookupNotifications returns the notifications that match l, newest
// first. The content columns (bodies) are left empty: a list shows none.
func (s *Store) LookupNotifications(ctx context.Context, l Lookup) ([]Notification, error) {
	if l.Limit <= 0 || l.Limit > 500 {
		l.Limit = 100
	}
	var col, val string
	switch {
	case l.DossierCode != "":
		col, val = "dossier_code", l.DossierCode
	case l.Recipient != "":
		col, val = "recipient", l.Recipient
	default:
		return nil, nil
	}
	rows, err := s.r().Query(ctx, "SELECT "+notificationSummaryColumns+" FROM notifications WHERE "+col+" = ? ORDER BY id DESC LIMIT ?", val, l.Limit)
	if err != nil {
		return nil, fmt.Errorf("notifydb: lookup: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("notifydb: lookup: %w", err)
		}
		out = append(out, *n)
	}
	return out, rows.Err()
}

// SMSPart is one part of a live SMS as the provider took it, with its
// receipt.
type SMSPart struct {
	Provider      string
	MessageID     string
	Part          int
	State         string // pending until a receipt, then the receipt's state
	ReceiptStatus string // the provider's own status text
	UpdatedAt     time.Time
}

// SMSParts returns the parts a provider accepted for an SMS notification.
func (s *Store) SMSParts(ctx context.Context, id string) ([]SMSPart, error) {
	rows, err := s.r().Query(ctx, `SELECT provider, message_id, part, state, receipt_status, updated_at
		FROM sms_message_ids WHERE notification_id = ? ORDER BY part, provider`, id)
	if err != nil {
		return nil, fmt.Errorf("notifydb: sms parts: %w", err)
	}
	defer rows.Close()
	var out []SMSPart
	for rows.Next() {
		var p SMSPart
		var u int64
		if err := rows.Scan(&p.Provider, &p.MessageID, &p.Part, &p.State, &p.ReceiptStatus, &u); err != nil {
			return nil, fmt.Errorf("notifydb: sms parts: %w", err)
		}
		p.UpdatedAt = sqldb.FromMicro(u)
		out = append(out, p)
	}
	return out, rows.Err()
}

// FallbackFrom returns the email notification whose SMS fallback is the
// notification id; "" when it is none's.
func (s *Store) FallbackFrom(ctx context.Context, id string) (string, error) {
	var email string
	err := s.r().Row(ctx, "SELECT notification_id FROM sms_fallbacks WHERE sms_notification_id = ?", id).Scan(&email)
	if errors.Is(err, sql.ErrNoRows) || id == "" {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("notifydb: fallback of %s: %w", id, err)
	}
	return email, nil
}

// CallbackDelivery is the callback of one status event.
type CallbackDelivery struct {
	Callback
	Status    string // the event's status
	At        time.Time
	UpdatedAt time.Time // of the last attempt
}

// CallbacksOf returns the callbacks queued for a notification's status
// events, in event order.
func (s *Store) CallbacksOf(ctx context.Context, id string) ([]CallbackDelivery, error) {
	rows, err := s.r().Query(ctx, `SELECT c.event_id, c.state, c.attempts, c.next_attempt_at, c.last_error, c.updated_at, e.status, e.at
		FROM notification_events e JOIN notification_callbacks c ON c.event_id = e.id
		WHERE e.notification_id = ? ORDER BY e.id`, id)
	if err != nil {
		return nil, fmt.Errorf("notifydb: callbacks of %s: %w", id, err)
	}
	defer rows.Close()
	var out []CallbackDelivery
	for rows.Next() {
		var c CallbackDelivery
		var next, upd, at int64
		if err := rows.Scan(&c.EventID, &c.State, &c.Attempts, &next, &c.LastError, &upd, &c.Status, &at); err != nil {
			return nil, fmt.Errorf("notifydb: callbacks of %s: %w", id, err)
		}
		c.NextAttempt, c.UpdatedAt, c.At = sqldb.FromMicro(next), sqldb.FromMicro(upd), sqldb.FromMicro(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// PeriodCount is the number of notifications on one channel in one
// status created since two times: a long period and a recent part of it.
type PeriodCount struct {
	Channel, Status string
	Since, Recent   int64
}

// CountsSince counts the notifications created since since, and of them
// those created since recent (a later time), by channel and status (live
// and test alike), in one pass over the index of creation times.
func (s *Store) CountsSince(ctx context.Context, since, recent time.Time) ([]PeriodCount, error) {
	rows, err := s.r().Query(ctx, `SELECT channel, status, COUNT(*), SUM(CASE WHEN created_at >= ? THEN 1 ELSE 0 END)
		FROM notifications WHERE created_at >= ? GROUP BY channel, status ORDER BY channel, status`,
		sqldb.Micro(recent), sqldb.Micro(since))
	if err != nil {
		return nil, fmt.Errorf("notifydb: counts: %w", err)
	}
	defer rows.Close()
	var out []PeriodCount
	for rows.Next() {
		var c PeriodCount
		if err := rows.Scan(&c.Channel, &c.Status, &c.Since, &c.Recent); err != nil {
			return nil, fmt.Errorf("notifydb: counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Latency is how long notifications of one channel took from creation to
// delivery.
type Latency struct {
	Channel  string
	Count    int
	P50, P95 time.Duration
}

// latencySample bounds the deliveries a latency is computed from (the
// most recent ones).
const latencySample = 20000

// DeliveryLatency returns, per channel, the 50th and 95th percentiles of
// the time from creation to delivered of the notifications delivered
// since t (of the latest 20,000 at most).
func (s *Store) DeliveryLatency(ctx context.Context, t time.Time) ([]Latency, error) {
	rows, err := s.r().Query(ctx, `SELECT channel, completed_at - created_at FROM notifications
		WHERE completed_at >= ? AND status = ? ORDER BY completed_at DESC LIMIT ?`, sqldb.Micro(t), NotificationDelivered, latencySample)
	if err != nil {
		return nil, fmt.Errorf("notifydb: latency: %w", err)
	}
	defer rows.Close()
	by := map[string][]int64{}
	for rows.Next() {
		var ch string
		var d int64
		if err := rows.Scan(&ch, &d); err != nil {
			return nil, fmt.Errorf("notifydb: latency: %w", err)
		}
		by[ch] = append(by[ch], d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notifydb: latency: %w", err)
	}
	var out []Latency
	for ch, ds := range by {
		slices.Sort(ds)
		q := func(p float64) time.Duration {
			i := int(p*float64(len(ds)-1) + 0.5)
			return time.Duration(ds[i]) * time.Microsecond
		}
		out = append(out, Latency{Channel: ch, Count: len(ds), P50: q(0.50), P95: q(0.95)})
	}
	slices.SortFunc(out, func(a, b Latency) int {
		if a.Channel < b.Channel {
			return -1
		}
		if a.Channel > b.Channel {
			return 1
		}
		return 0
	})
	return out, nil
}

// CallbackFailure is a callback of a service that failed at least once.
type CallbackFailure struct {
	CallbackDelivery
	NotificationID string
}

// CallbackFailures returns a service's callbacks whose last attempt
// failed (still retried, or given up), most recent first, at most limit
// (default 10, at most 100).
func (s *Store) CallbackFailures(ctx context.Context, service string, limit int) ([]CallbackFailure, error) {
	if limit <= 0 || limit > 100 {
		limit = 10
	}
	// The failed callbacks newest first (notification_callbacks_failed),
	// each event looked up for its service: CROSS JOIN keeps SQLite's
	// planner from starting at the service's events instead.
	rows, err := s.r().Query(ctx, `SELECT c.event_id, c.state, c.attempts, c.next_attempt_at, c.last_error, c.updated_at, e.status, e.at, e.notification_id
		FROM notification_callbacks c CROSS JOIN notification_events e
		WHERE e.id = c.event_id AND c.last_error <> '' AND e.service = ? ORDER BY c.updated_at DESC, c.event_id DESC LIMIT ?`, service, limit)
	if err != nil {
		return nil, fmt.Errorf("notifydb: callback failures of %s: %w", service, err)
	}
	defer rows.Close()
	var out []CallbackFailure
	for rows.Next() {
		var c CallbackFailure
		var next, upd, at int64
		if err := rows.Scan(&c.EventID, &c.State, &c.Attempts, &next, &c.LastError, &upd, &c.Status, &at, &c.NotificationID); err != nil {
			return nil, fmt.Errorf("notifydb: callback failures of %s: %w", service, err)
		}
		c.NextAttempt, c.UpdatedAt, c.At = sqldb.FromMicro(next), sqldb.FromMicro(upd), sqldb.FromMicro(at)
		out = append(out, c)
	}
	return out, rows.Err()
}
