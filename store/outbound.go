package store

// The dispatcher's side of the outbox (issue 4): reading an entry with the
// dispatcher's bookkeeping, recording the outcomes of delivery attempts in
// one transaction, and paging through due entries for the queue sweeper.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// OutboxState is an outbox entry as the dispatcher sees it: the message's
// envelope and every recipient with its delivery state.
type OutboxState struct {
	ID         int64
	MailFrom   string
	Size       int64
	CreatedAt  time.Time
	Recipients []OutboxRecipientState
	Raw        []byte // the message, exactly as accepted ("" for a notification email composed when delivered)
	// NotificationID is the notification the entry carries ("" for
	// ordinary mail).
	NotificationID string
	// Notification, when Raw is empty, is what the message is composed
	// from: the notification's recipient, rendered content, dossier code,
	// sender fields and creation time (read with the entry, so composing
	// needs no second read).
	Notification *Notification
}

// OutboxRecipientState is one recipient's delivery state, with whether the
// sender was already sent a delay notice for it.
type OutboxRecipientState struct {
	OutboxRecipient
	DelayNotified bool
}

// OutboxAttempt is the outcome of one delivery attempt to one recipient of
// an outbox entry, as RecordOutboxAttempts stores it.
type OutboxAttempt struct {
	OutboxID int64
	Address  string // as stored in the entry (see OutboxState)
	// Status is the recipient's new state: OutboxQueued (try again at
	// NextAttempt) or a final one (OutboxDelivered, OutboxFailed,
	// OutboxExpired).
	Status      string
	NextAttempt time.Time
	// LastError is the remote reply or the local reason ("" on success).
	LastError string
	// DelayNotified marks that the sender has been told delivery is
	// delayed; it is never cleared.
	DelayNotified bool
	// NotAttempted records only DelayNotified (and Status/NextAttempt)
	// without counting an attempt or changing LastError.
	NotAttempted bool

	// Notification is the notification the entry carries (its
	// OutboxState.NotificationID; "" for ordinary mail). Its status is
	// recorded in the same transaction: sending at Started, when set and
	// the notification is still created, then the status that a final
	// outbox state means (NotificationStatusOfOutbox).
	Notification string
	Started      time.Time
}

// OutboxRecord is what RecordOutboxAttempts changed besides the outbox:
// the notifications' status events (their callbacks are to be enqueued
// when Callback is set) and the SMS fallbacks created for emails that
// failed permanently (to be queued).
type OutboxRecord struct {
	Events    []NotificationEvent
	Fallbacks []Fallback
}

// Fallback is an SMS fallback created for an email notification.
type Fallback struct {
	Email string // the email notification's ID
	SMS   *Notification
}

// NotificationStatusOfOutbox is the notification status that a final
// outbox state means: delivered, permanent-failure for a 5xx or a bounce
// (OutboxFailed), temporary-failure for a message that expired in the
// queue. It is "" for OutboxQueued.
func NotificationStatusOfOutbox(outboxStatus string) string {
	switch outboxStatus {
	case OutboxDelivered:
		return NotificationDelivered
	case OutboxFailed:
		return NotificationPermanentFailure
	case OutboxExpired:
		return NotificationTemporaryFailure
	}
	return ""
}

// OutboxState returns an outbox entry with its recipients (ordered by
// address), their bookkeeping and the message's bytes. ErrNotFound.
//
// It reads without a transaction (two queries instead of four on the hot
// path): the recipients may be a moment newer than the entry, which is
// harmless because RecordOutboxAttempts only changes queued recipients.
func (s *Store) OutboxState(ctx context.Context, id int64) (*OutboxState, error) {
	var m OutboxState
	var created, nCreated int64
	var n Notification
	err := s.r().row(ctx, `SELECT o.id, o.mail_from, o.size, o.created_at, b.raw, COALESCE(n.id, ''),
		COALESCE(n.recipient, ''), COALESCE(n.subject, ''), COALESCE(n.body_text, ''), COALESCE(n.body_html, ''),
		COALESCE(n.dossier_code, ''), COALESCE(n.created_at, 0), COALESCE(n.email_from, ''), COALESCE(n.email_from_name, ''),
		COALESCE(n.to_name, ''), COALESCE(n.reply_to, '')
		FROM outbox o JOIN blobs b ON b.id = o.blob_id LEFT JOIN notifications n ON n.outbox_id = o.id WHERE o.id = ? LIMIT 1`, id).Scan(
		&m.ID, &m.MailFrom, &m.Size, &created, &m.Raw, &m.NotificationID,
		&n.Recipient, &n.Subject, &n.Text, &n.HTML, &n.DossierCode, &nCreated, &n.FromAddress, &n.FromName, &n.ToName, &n.ReplyTo)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: outbox %d: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: outbox %d: %w", id, err)
	}
	m.CreatedAt = fromMicro(created)
	if len(m.Raw) == 0 && m.NotificationID != "" {
		n.ID, n.Channel, n.CreatedAt = m.NotificationID, "email", fromMicro(nCreated)
		m.Notification = &n
	}
	rows, err := s.r().query(ctx, `SELECT address, status, attempts, next_attempt_at, last_error, delay_notified
		FROM outbox_recipients WHERE outbox_id = ? ORDER BY address`, id)
	if err != nil {
		return nil, fmt.Errorf("store: outbox %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r OutboxRecipientState
		var next, notified int64
		if err := rows.Scan(&r.Address, &r.Status, &r.Attempts, &next, &r.LastError, &notified); err != nil {
			return nil, fmt.Errorf("store: outbox %d: %w", id, err)
		}
		r.NextAttempt = fromMicro(next)
		r.DelayNotified = notified != 0
		m.Recipients = append(m.Recipients, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: outbox %d: %w", id, err)
	}
	return &m, nil
}

// RecordOutboxAttempts stores the outcomes of delivery attempts, possibly
// for several outbox entries, in one transaction. Only recipients still
// queued are changed: a final state is never overwritten (a job that ran
// twice records its first outcome). When remove is true, an entry left
// without a queued recipient is deleted, with its bytes unless a mailbox
// still holds them. Attempts naming a missing entry or recipient are
// ignored (the entry was removed by an earlier run).
//
// The status of the notification an attempt carries (OutboxAttempt.
// Notification) changes in the same transaction, when the attempt changed
// its queued recipient, so the notification's status and the outbox's
// outcome are never seen apart. An email that failed permanently gets its
// SMS fallback (CreateSMSFallback) in it too: a crash cannot lose the
// fallback after the failure is recorded. The returned record lists what
// changed.
func (s *Store) RecordOutboxAttempts(ctx context.Context, attempts []OutboxAttempt, remove bool) (*OutboxRecord, error) {
	tracked := false
	for _, a := range attempts {
		switch a.Status {
		case OutboxQueued, OutboxDelivered, OutboxFailed, OutboxExpired:
		default:
			return nil, fmt.Errorf("store: outbox %d: status %q: %w", a.OutboxID, a.Status, ErrInvalid)
		}
		tracked = tracked || a.Notification != ""
	}
	rec := &OutboxRecord{}
	if len(attempts) == 0 {
		return rec, nil
	}
	err := s.writeTx(ctx, func(tx dbtx, _ changes) error {
		*rec = OutboxRecord{}
		if tracked {
			// Before any row lock (see CreateNotifications).
			if err := s.lockEvents(ctx, tx); err != nil {
				return err
			}
		}
		_, err := s.recordAttempts(ctx, tx, attempts, remove, rec)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// recordAttempts is RecordOutboxAttempts in tx (which holds the events
// lock when an attempt carries a notification). It reports how many
// attempts changed a queued recipient.
func (s *Store) recordAttempts(ctx context.Context, tx dbtx, attempts []OutboxAttempt, remove bool, rec *OutboxRecord) (int, error) {
	now := micro(time.Now())
	// The statements are prepared once per store (stmtcache.go).
	const attempted = `UPDATE outbox_recipients SET status = ?, next_attempt_at = ?, last_error = ?,
		attempts = attempts + 1, delay_notified = CASE WHEN ? = 1 THEN 1 ELSE delay_notified END, updated_at = ?
		WHERE outbox_id = ? AND address = ? AND status = 'queued'`
	const noted = `UPDATE outbox_recipients SET status = ?, next_attempt_at = ?,
		delay_notified = CASE WHEN ? = 1 THEN 1 ELSE delay_notified END, updated_at = ?
		WHERE outbox_id = ? AND address = ? AND status = 'queued'`
	var ids []int64
	seen := map[int64]bool{}
	var changed []OutboxAttempt // carrying a notification, recipient was queued
	total := 0
	for _, a := range attempts {
		notified := 0
		if a.DelayNotified {
			notified = 1
		}
		var res sql.Result
		var err error
		if a.NotAttempted {
			res, err = tx.exec(ctx, noted, a.Status, micro(a.NextAttempt), notified, now, a.OutboxID, a.Address)
		} else {
			res, err = tx.exec(ctx, attempted, a.Status, micro(a.NextAttempt), a.LastError, notified, now, a.OutboxID, a.Address)
		}
		if err != nil {
			return total, fmt.Errorf("store: record attempt for outbox %d: %w", a.OutboxID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: record attempt for outbox %d: %w", a.OutboxID, err)
		}
		total += int(n)
		if a.Notification != "" && n > 0 {
			changed = append(changed, a)
		}
		if !seen[a.OutboxID] {
			seen[a.OutboxID] = true
			ids = append(ids, a.OutboxID)
		}
	}
	if err := s.recordNotifications(ctx, tx, changed, rec); err != nil {
		return total, err
	}
	if !remove {
		return total, nil
	}
	var blobs []int64
	for len(ids) > 0 {
		n := min(len(ids), chunkSize)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		ids = ids[n:]
		rows, err := tx.query(ctx, `DELETE FROM outbox WHERE id IN (`+placeholders(n)+`) AND NOT EXISTS
			(SELECT 1 FROM outbox_recipients r WHERE r.outbox_id = outbox.id AND r.status = 'queued') RETURNING blob_id`, args...)
		if err != nil {
			return total, fmt.Errorf("store: remove finished outbox entries: %w", err)
		}
		for rows.Next() {
			var b int64
			if err := rows.Scan(&b); err != nil {
				rows.Close()
				return total, fmt.Errorf("store: remove finished outbox entries: %w", err)
			}
			blobs = append(blobs, b)
		}
		if err := rows.Close(); err != nil {
			return total, fmt.Errorf("store: remove finished outbox entries: %w", err)
		}
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("store: remove finished outbox entries: %w", err)
		}
	}
	return total, s.gcBlobs(ctx, tx, blobs)
}

// recordNotifications is RecordOutboxAttempts's part for the notifications
// that attempts carry, in its transaction (holding the events lock): only
// for attempts that changed a queued recipient, so a job that ran twice,
// or one whose recipient an operator cancelled meanwhile, changes nothing.
func (s *Store) recordNotifications(ctx context.Context, tx dbtx, attempts []OutboxAttempt, rec *OutboxRecord) error {
	for _, a := range attempts {
		if a.Notification == "" {
			continue
		}
		if !a.Started.IsZero() && !a.NotAttempted {
			ev, err := s.setStatus(ctx, tx, a.Notification, NotificationSending, "", a.Started)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if ev != nil {
				rec.Events = append(rec.Events, *ev)
			}
		}
		status := NotificationStatusOfOutbox(a.Status)
		if status == "" {
			continue
		}
		ev, err := s.setStatus(ctx, tx, a.Notification, status, statusDetail(a.LastError), time.Time{})
		if errors.Is(err, ErrNotFound) {
			continue // deleted by retention: nothing to tell
		} else if err != nil {
			return err
		}
		if ev != nil {
			rec.Events = append(rec.Events, *ev)
		}
		if status == NotificationPermanentFailure {
			n, created, err := s.createSMSFallback(ctx, tx, a.Notification, "")
			if err != nil {
				return err
			}
			if created {
				rec.Fallbacks = append(rec.Fallbacks, Fallback{Email: a.Notification, SMS: n})
			}
		}
	}
	return nil
}

// OutboxDuePage lists, in ascending ID order, the IDs greater than after of
// outbox entries with a queued recipient whose next attempt is at or before
// t: one page of the queue sweeper's walk (the last ID is the next cursor).
func (s *Store) OutboxDuePage(ctx context.Context, t time.Time, after int64, limit int) ([]int64, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.r().query(ctx, `SELECT DISTINCT outbox_id FROM outbox_recipients
		WHERE status = 'queued' AND next_attempt_at <= ? AND outbox_id > ? ORDER BY outbox_id LIMIT ?`, micro(t), after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: outbox due: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: outbox due: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: outbox due: %w", err)
	}
	return out, nil
}
