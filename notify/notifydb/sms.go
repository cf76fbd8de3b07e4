package notifydb

// The live SMS channel and the email → SMS fallback of dossier
// events. Migration 0005 has the tables.
//
// Sending state. A notification's status says what the back office sees;
// sms_sends says what the SMS dispatcher did, so that a retry after a
// crash, a dropped SMSC connection or a timeout never sends a message the
// provider already acknowledged: BeginSMSSend is committed before the
// provider is asked, RecordSMSAccepted after it answered. A run that finds
// SMSSubmitting left over knows its predecessor died mid-send.
//
// Receipts. Every accepted part's provider id is stored, normalised by the
// caller (smpp.NormalizeMessageID), keyed by provider. RecordSMSReceipt
// takes every spelling of a receipt's id (smpp.MessageIDForms: hex and
// decimal) and updates the part; a receipt for an id not recorded yet (the
// SMSC answered the submit and sent the receipt before our commit) is kept
// in sms_early_receipts and applied by RecordSMSAccepted. The aggregate of
// the parts (SMSOutcome) is what the notification's final status follows:
// delivered when every part was delivered, a failure as soon as one part
// failed.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"congthu/internal/sqldb"
)

// SMS sending states (sms_sends.state).
const (
	SMSSubmitting = "submitting" // the provider is being asked (or the asker died)
	SMSAccepted   = "accepted"   // every part accepted; waiting for receipts
	SMSNotSent    = "not-sent"   // provably not taken; will be tried again
	SMSUnknown    = "unknown"    // asked, no answer: may have been accepted
)

// SMS part states (sms_message_ids.state): SMSPartPending or one of
// NotificationDelivered, NotificationTemporaryFailure and
// NotificationPermanentFailure.
const SMSPartPending = "pending"

// SMSSend is the sending state of one live SMS.
type SMSSend struct {
	NotificationID string
	State          string
	Provider       string
	Attempts       int // submissions started
	Resends        int // submissions after an unknown outcome
	Detail         string
	UpdatedAt      time.Time
}

// SMSOutcome aggregates the receipts of an SMS's parts.
type SMSOutcome struct {
	Parts, Delivered, TemporaryFailed, PermanentFailed int
	// Status is the final notification status the parts add up to, or ""
	// while some part is still pending: permanent-failure if a part
	// failed permanently, else temporary-failure if one failed, else
	// delivered once every part is.
	Status string
	// Detail describes the receipts, e.g. "delivery receipt: DELIVRD".
	Detail string
}

// SMSFallback is the SMS variant of a dossier event's email, rendered when
// the event was accepted (NewNotification.Fallback).
type SMSFallback struct {
	Phone           string // E.164
	TemplateID      string
	TemplateVersion int
	Text            string // before folding
	SMSText         string // as sent
	SMSEncoding     string
	SMSParts        int
}

// SMSSend returns the sending state of a notification. ErrNotFound when
// no submission was ever started.
func (s *Store) SMSSend(ctx context.Context, id string) (*SMSSend, error) {
	v := SMSSend{NotificationID: id}
	var u int64
	err := s.r().Row(ctx, "SELECT state, provider, attempts, resends, detail, updated_at FROM sms_sends WHERE notification_id = ?", id).
		Scan(&v.State, &v.Provider, &v.Attempts, &v.Resends, &v.Detail, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("notifydb: sms send %s: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("notifydb: sms send %s: %w", id, err)
	}
	v.UpdatedAt = sqldb.FromMicro(u)
	return &v, nil
}

// ErrFinal: the notification already has a final status.
var ErrFinal = errors.New("notifydb: notification is final")

// ErrAccepted: the provider already accepted the SMS (SMSAccepted); it
// must not be submitted again.
var ErrAccepted = errors.New("notifydb: sms already accepted")

// BeginSMSSend records that a submission of notification id is about to
// start: the notification becomes sending (the event is returned, nil
// when it already was; enqueue its callback when ev.Callback is set), the
// sending state SMSSubmitting with one more attempt (resend counts it as a
// resend after an unknown outcome). It is committed before it returns:
// call it before asking the provider. ErrFinal, ErrNotFound.
func (s *Store) BeginSMSSend(ctx context.Context, id string, resend bool) (*NotificationEvent, error) {
	var ev *NotificationEvent
	err := s.smsWrite(ctx, func(tx dbtx) error {
		ev = nil
		var cur string
		err := tx.Row(ctx, "SELECT status FROM notifications WHERE id = ?", id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("notifydb: notification %s: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("notifydb: notification %s: %w", id, err)
		}
		if NotificationStatusFinal(cur) {
			return fmt.Errorf("notifydb: sms %s: %w", id, ErrFinal)
		}
		var state string
		err = tx.Row(ctx, "SELECT state FROM sms_sends WHERE notification_id = ?", id).Scan(&state)
		if err == nil && state == SMSAccepted {
			return fmt.Errorf("notifydb: sms %s: %w", id, ErrAccepted)
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("notifydb: sms send %s: %w", id, err)
		}
		if ev, err = s.setStatus(ctx, tx, id, NotificationSending, "", time.Time{}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sms_sends (notification_id, state, attempts, resends, updated_at) VALUES (?, ?, 1, ?, ?)
			ON CONFLICT (notification_id) DO UPDATE SET state = excluded.state, attempts = sms_sends.attempts + 1,
			resends = sms_sends.resends + excluded.resends, updated_at = excluded.updated_at`,
			id, SMSSubmitting, boolInt(resend), sqldb.Micro(time.Now())); err != nil {
			return fmt.Errorf("notifydb: begin sms send %s: %w", id, err)
		}
		return nil
	})
	return ev, err
}

// SetSMSSendState records the outcome of a submission that was not
// accepted (SMSNotSent, SMSUnknown) with the provider tried and a detail.
// A state SMSAccepted is never overwritten (a concurrent run recorded the
// acceptance): that is not an error.
func (s *Store) SetSMSSendState(ctx context.Context, id, state, provider, detail string) error {
	switch state {
	case SMSSubmitting, SMSNotSent, SMSUnknown, SMSAccepted:
	default:
		return fmt.Errorf("notifydb: sms send state %q: %w", state, ErrInvalid)
	}
	detail = strings.ToValidUTF8(truncate(detail, 1000), "?")
	return s.smsWrite(ctx, func(tx dbtx) error {
		var cur string
		err := tx.Row(ctx, "SELECT state FROM sms_sends WHERE notification_id = ?", id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("notifydb: sms send %s: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("notifydb: sms send %s: %w", id, err)
		}
		if cur == SMSAccepted {
			return nil
		}
		if _, err := tx.Exec(ctx, "UPDATE sms_sends SET state = ?, provider = ?, detail = ?, updated_at = ? WHERE notification_id = ?",
			state, provider, detail, sqldb.Micro(time.Now()), id); err != nil {
			return fmt.Errorf("notifydb: sms send %s: %w", id, err)
		}
		return nil
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// RecordSMSAccepted records that provider accepted notification id as the
// parts messageIDs (normalised, in part order; ids accepted before a
// failure may be recorded too, with a state other than SMSAccepted), and
// applies receipts that came early. It returns the parts' outcome so far.
// A provider id already mapped (an SMSC that reuses ids after a restart)
// now names this notification.
func (s *Store) RecordSMSAccepted(ctx context.Context, id, state, provider string, messageIDs []string) (SMSOutcome, error) {
	var out SMSOutcome
	err := s.smsWrite(ctx, func(tx dbtx) error {
		out = SMSOutcome{}
		now := sqldb.Micro(time.Now())
		for i, mid := range messageIDs {
			if mid == "" {
				continue
			}
			partState, rs := SMSPartPending, ""
			err := tx.Row(ctx, "SELECT state, receipt_status FROM sms_early_receipts WHERE provider = ? AND message_id = ?", provider, mid).Scan(&partState, &rs)
			if err == nil {
				if _, err := tx.Exec(ctx, "DELETE FROM sms_early_receipts WHERE provider = ? AND message_id = ?", provider, mid); err != nil {
					return fmt.Errorf("notifydb: early receipt: %w", err)
				}
			} else if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("notifydb: early receipt: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO sms_message_ids (provider, message_id, notification_id, part, state, receipt_status, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (provider, message_id) DO UPDATE SET notification_id = excluded.notification_id,
				part = excluded.part, state = excluded.state, receipt_status = excluded.receipt_status, updated_at = excluded.updated_at`,
				provider, mid, id, i+1, partState, rs, now); err != nil {
				if sqldb.IsForeignKeyViolation(err) {
					return fmt.Errorf("notifydb: sms %s: %w", id, ErrNotFound)
				}
				return fmt.Errorf("notifydb: record sms ids: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, "UPDATE sms_sends SET state = ?, provider = ?, detail = '', updated_at = ? WHERE notification_id = ?",
			state, provider, now, id); err != nil {
			return fmt.Errorf("notifydb: sms send %s: %w", id, err)
		}
		var err error
		out, err = smsOutcome(ctx, tx, id)
		return err
	})
	return out, err
}

// RecordSMSReceipt records a receipt of provider for the message id
// spelled as any of forms (normalised; the first is the receipt's own
// spelling and wins when two stored ids match), with state a part state
// and receiptStatus the provider's words ("DELIVRD err:000"). It returns
// the notification and its parts' outcome. A part already final keeps its
// state. When no stored id matches, the receipt is kept for
// RecordSMSAccepted and notificationID is "".
func (s *Store) RecordSMSReceipt(ctx context.Context, provider string, forms []string, state, receiptStatus string) (notificationID string, out SMSOutcome, err error) {
	switch state {
	case SMSPartPending, NotificationDelivered, NotificationTemporaryFailure, NotificationPermanentFailure:
	default:
		return "", out, fmt.Errorf("notifydb: sms part state %q: %w", state, ErrInvalid)
	}
	if len(forms) == 0 {
		return "", out, fmt.Errorf("notifydb: receipt without id: %w", ErrInvalid)
	}
	receiptStatus = strings.ToValidUTF8(truncate(receiptStatus, 200), "?")
	err = s.smsWrite(ctx, func(tx dbtx) error {
		notificationID, out = "", SMSOutcome{}
		now := sqldb.Micro(time.Now())
		var mid string
		for _, f := range forms {
			err := tx.Row(ctx, "SELECT notification_id FROM sms_message_ids WHERE provider = ? AND message_id = ?", provider, f).Scan(&notificationID)
			if err == nil {
				mid = f
				break
			} else if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("notifydb: sms receipt: %w", err)
			}
		}
		if mid == "" {
			if state == SMSPartPending {
				return nil
			}
			for _, f := range forms {
				if _, err := tx.Exec(ctx, `INSERT INTO sms_early_receipts (provider, message_id, state, receipt_status, created_at) VALUES (?, ?, ?, ?, ?)
					ON CONFLICT (provider, message_id) DO UPDATE SET state = excluded.state, receipt_status = excluded.receipt_status`,
					provider, f, state, receiptStatus, now); err != nil {
					return fmt.Errorf("notifydb: early receipt: %w", err)
				}
			}
			return nil
		}
		if state != SMSPartPending {
			if _, err := tx.Exec(ctx, "UPDATE sms_message_ids SET state = ?, receipt_status = ?, updated_at = ? WHERE provider = ? AND message_id = ? AND state = ?",
				state, receiptStatus, now, provider, mid, SMSPartPending); err != nil {
				return fmt.Errorf("notifydb: sms receipt: %w", err)
			}
		}
		var err error
		out, err = smsOutcome(ctx, tx, notificationID)
		return err
	})
	return notificationID, out, err
}

// SMSOutcome returns the outcome of a notification's parts.
func (s *Store) SMSOutcome(ctx context.Context, id string) (SMSOutcome, error) {
	return smsOutcome(ctx, s.r(), id)
}

func smsOutcome(ctx context.Context, tx dbtx, id string) (SMSOutcome, error) {
	var out SMSOutcome
	rows, err := tx.Query(ctx, "SELECT state, receipt_status FROM sms_message_ids WHERE notification_id = ? ORDER BY part", id)
	if err != nil {
		return out, fmt.Errorf("notifydb: sms outcome: %w", err)
	}
	defer rows.Close()
	var failed, last string
	for rows.Next() {
		var st, rs string
		if err := rows.Scan(&st, &rs); err != nil {
			return out, fmt.Errorf("notifydb: sms outcome: %w", err)
		}
		out.Parts++
		switch st {
		case NotificationDelivered:
			out.Delivered++
			last = rs
		case NotificationTemporaryFailure:
			out.TemporaryFailed++
			if failed == "" {
				failed = rs
			}
		case NotificationPermanentFailure:
			out.PermanentFailed++
			failed = rs
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("notifydb: sms outcome: %w", err)
	}
	switch {
	case out.PermanentFailed > 0:
		out.Status = NotificationPermanentFailure
	case out.TemporaryFailed > 0:
		out.Status = NotificationTemporaryFailure
	case out.Parts > 0 && out.Delivered == out.Parts:
		out.Status = NotificationDelivered
	}
	switch {
	case out.Status == "":
	case failed != "":
		out.Detail = "delivery receipt: " + failed
	default:
		out.Detail = "delivery receipt: " + last
	}
	if out.Parts > 1 && out.Status != "" {
		out.Detail += fmt.Sprintf(" (%d of %d parts delivered)", out.Delivered, out.Parts)
	}
	return out, nil
}

// NoteNotification records a detail about a notification that does not
// change its status (an SMS held for quiet hours, or rate-limited): the
// status_detail shown by the API and an event with the current status in
// the timeline and in GET /v1/events. No callback is queued: the status
// did not change. A final notification, or the same detail again, changes
// nothing and reports false. ErrNotFound.
func (s *Store) NoteNotification(ctx context.Context, id, detail string, at time.Time) (bool, error) {
	detail = strings.ToValidUTF8(truncate(detail, 1000), "?")
	changed := false
	err := s.writeTx(ctx, func(tx dbtx) error {
		changed = false
		if err := s.lockEvents(ctx, tx); err != nil {
			return err
		}
		var cur, curDetail, service string
		err := tx.Row(ctx, "SELECT status, status_detail, service FROM notifications WHERE id = ?"+s.dialect.ForUpdate, id).Scan(&cur, &curDetail, &service)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("notifydb: notification %s: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("notifydb: notification %s: %w", id, err)
		}
		if NotificationStatusFinal(cur) || curDetail == detail {
			return nil
		}
		now := time.Now()
		if at.IsZero() {
			at = now
		}
		if _, err := tx.Exec(ctx, "UPDATE notifications SET status_detail = ?, updated_at = ? WHERE id = ?", detail, sqldb.Micro(now), id); err != nil {
			return fmt.Errorf("notifydb: note notification %s: %w", id, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO notification_events (notification_id, service, status, detail, at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			id, service, cur, detail, sqldb.Micro(at), sqldb.Micro(now)); err != nil {
			return fmt.Errorf("notifydb: insert notification event: %w", err)
		}
		changed = true
		return nil
	})
	return changed, err
}

func insertFallback(ctx context.Context, tx dbtx, id string, f *SMSFallback, now time.Time) error {
	if f.Phone == "" || f.SMSText == "" {
		return fmt.Errorf("notifydb: sms fallback without phone or text: %w", ErrInvalid)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO sms_fallbacks (notification_id, phone, template_id, template_version, body_text, sms_text,
		sms_encoding, sms_parts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, f.Phone, f.TemplateID, f.TemplateVersion, f.Text, f.SMSText, f.SMSEncoding, f.SMSParts, sqldb.Micro(now)); err != nil {
		return fmt.Errorf("notifydb: insert sms fallback: %w", err)
	}
	return nil
}

// SMSFallbackOf returns the SMS variant stored with an email and the id of
// the SMS notification made from it ("" while none). ErrNotFound when the
// email has none.
func (s *Store) SMSFallbackOf(ctx context.Context, emailID string) (*SMSFallback, string, error) {
	var f SMSFallback
	var smsID string
	err := s.r().Row(ctx, `SELECT phone, template_id, template_version, body_text, sms_text, sms_encoding, sms_parts, sms_notification_id
		FROM sms_fallbacks WHERE notification_id = ?`, emailID).
		Scan(&f.Phone, &f.TemplateID, &f.TemplateVersion, &f.Text, &f.SMSText, &f.SMSEncoding, &f.SMSParts, &smsID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", fmt.Errorf("notifydb: sms fallback of %s: %w", emailID, ErrNotFound)
	} else if err != nil {
		return nil, "", fmt.Errorf("notifydb: sms fallback of %s: %w", emailID, err)
	}
	return &f, smsID, nil
}

// CreateSMSFallback makes the SMS notification smsID from the SMS variant
// stored with email emailID, when that email ended in permanent-failure
// and no SMS of the same dossier event exists: status created, with an
// event saying it is a fallback. It is idempotent: once made, later calls
// return the same notification with created false. It returns nil when
// there is nothing to send (no variant, the email not failed permanently,
// or an SMS of the event already there).
func (s *Store) CreateSMSFallback(ctx context.Context, emailID, smsID string) (n *Notification, created bool, err error) {
	return s.CreateSMSFallbackFor(ctx, emailID, smsID, "")
}

// CreateSMSFallbackFor is CreateSMSFallback for a notification that is not
// a permanent failure when reason is set: the channel gave up on it
// another way (no receipt in time), which reason says.
func (s *Store) CreateSMSFallbackFor(ctx context.Context, fromID, smsID, reason string) (n *Notification, created bool, err error) {
	err = s.writeTx(ctx, func(tx dbtx) error {
		if err := s.lockEvents(ctx, tx); err != nil {
			return err
		}
		n, created, err = s.createSMSFallback(ctx, tx, fromID, smsID, reason)
		return err
	})
	return n, created, err
}

// createSMSFallback is CreateSMSFallback in tx (which holds the events
// lock). An empty smsID gets a new UUIDv7 when the SMS is made.
func (s *Store) createSMSFallback(ctx context.Context, tx dbtx, emailID, smsID, reason string) (n *Notification, created bool, err error) {
	err = func() error {
		var f SMSFallback
		var made string
		err := tx.Row(ctx, `SELECT phone, template_id, template_version, body_text, sms_text, sms_encoding, sms_parts, sms_notification_id
			FROM sms_fallbacks WHERE notification_id = ?`+s.dialect.ForUpdate, emailID).
			Scan(&f.Phone, &f.TemplateID, &f.TemplateVersion, &f.Text, &f.SMSText, &f.SMSEncoding, &f.SMSParts, &made)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return fmt.Errorf("notifydb: sms fallback of %s: %w", emailID, err)
		}
		if made != "" {
			n, err = scanNotification(tx.Row(ctx, "SELECT "+notificationColumns+" FROM notifications WHERE id = ?", made))
			if errors.Is(err, sql.ErrNoRows) {
				n, err = nil, nil
			}
			return err
		}
		e, err := scanNotification(tx.Row(ctx, "SELECT "+notificationColumns+" FROM notifications WHERE id = ?", emailID))
		if err != nil {
			return fmt.Errorf("notifydb: notification %s: %w", emailID, err)
		}
		switch {
		case e.Status == NotificationPermanentFailure:
			reason = NotificationPermanentFailure
		case reason == "" || e.Status == NotificationDelivered:
			return nil
		}
		var other string
		// The event's own SMS, or its reminder's (same time): a reminder's
		// fallback is not the event's, nor the other way round.
		err = tx.Row(ctx, "SELECT id FROM notifications WHERE service = ? AND dossier_code = ? AND event_id = ? AND channel = 'sms' AND scheduled_for = ? LIMIT 1",
			e.Service, e.DossierCode, e.EventID, sqldb.Micro(e.ScheduledFor)).Scan(&other)
		if err == nil {
			return nil // an SMS of this event exists: nothing to fall back to
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("notifydb: sms of event %s: %w", e.EventID, err)
		}
		if smsID == "" {
			id, err := uuid.NewV7()
			if err != nil {
				return err
			}
			smsID = id.String()
		}
		now := time.Now()
		v := Notification{ID: smsID, Service: e.Service, Test: e.Test, Channel: "sms", TemplateID: f.TemplateID,
			TemplateVersion: f.TemplateVersion, Recipient: f.Phone, Reference: e.Reference, DossierCode: e.DossierCode,
			EventID: e.EventID, DossierStatus: e.DossierStatus, Text: f.Text, SMSText: f.SMSText, SMSEncoding: f.SMSEncoding,
			SMSParts: f.SMSParts, Urgent: e.Urgent, Status: NotificationCreated, CreatedAt: now, UpdatedAt: now}
		detail := "fallback for " + e.Channel + " " + emailID + " (" + reason + ")"
		v.StatusDetail = detail
		if _, err := tx.Exec(ctx, `INSERT INTO notifications (id, service, test, channel, template_id, template_version, recipient,
			reference, dossier_code, event_id, dossier_status, subject, body_text, body_html, sms_text, sms_encoding, sms_parts,
			urgent, status, status_detail, created_at, updated_at, scheduled_for) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			v.ID, v.Service, boolInt(v.Test), v.Channel, v.TemplateID, v.TemplateVersion, v.Recipient, v.Reference, v.DossierCode,
			v.EventID, v.DossierStatus, v.Text, v.SMSText, v.SMSEncoding, v.SMSParts, boolInt(v.Urgent), v.Status, detail,
			sqldb.Micro(now), sqldb.Micro(now), sqldb.Micro(e.ScheduledFor)); err != nil {
			return fmt.Errorf("notifydb: insert fallback sms: %w", err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO notification_events (notification_id, service, status, detail, at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			v.ID, v.Service, NotificationCreated, detail, sqldb.Micro(now), sqldb.Micro(now)); err != nil {
			return fmt.Errorf("notifydb: insert notification event: %w", err)
		}
		if _, err := tx.Exec(ctx, "UPDATE sms_fallbacks SET sms_notification_id = ? WHERE notification_id = ?", v.ID, emailID); err != nil {
			return fmt.Errorf("notifydb: sms fallback of %s: %w", emailID, err)
		}
		v.CreatedAt, v.UpdatedAt = sqldb.FromMicro(sqldb.Micro(now)), sqldb.FromMicro(sqldb.Micro(now))
		n, created = &v, true
		return nil
	}()
	return n, created, err
}

// Group commit. The SMS dispatcher writes a few rows per message, three
// times per message, from many goroutines; one transaction (one fsync)
// each would cap it at a few hundred messages a second. smsWrite puts the
// writes that arrive while a transaction is running into the next one
// (the store's smsBatch), each in a savepoint of its own so that one
// failing does not undo the others.

// smsWrite runs fn in the next SMS batch and returns once it is durable.
// The caller's cancellation does not stop it: the batch is everyone's.
func (s *Store) smsWrite(ctx context.Context, fn func(tx dbtx) error) error {
	_, err := s.smsBatch.Do(context.WithoutCancel(ctx), fn)
	return err
}

// runSMSBatch runs the operations of one batch in one transaction, each in
// a savepoint: an operation that fails alone wrote nothing and has its
// error, and a transient error makes the whole transaction run again.
func (s *Store) runSMSBatch(ctx context.Context, ops []func(tx dbtx) error) ([]struct{}, []error, error) {
	errs := make([]error, len(ops))
	err := s.writeTxNoSync(ctx, func(tx dbtx) error {
		if err := s.lockEvents(ctx, tx); err != nil {
			return err
		}
		for i, fn := range ops {
			errs[i] = nil
			if _, err := tx.Exec(ctx, "SAVEPOINT sms"); err != nil {
				return fmt.Errorf("notifydb: savepoint: %w", err)
			}
			if err := fn(tx); err != nil {
				if sqldb.IsTransient(err) {
					return err // the whole batch is tried again
				}
				if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT sms"); rerr != nil {
					return fmt.Errorf("notifydb: rollback to savepoint: %w (after %w)", rerr, err)
				}
				errs[i] = err
			}
			if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT sms"); err != nil {
				return fmt.Errorf("notifydb: release savepoint: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return make([]struct{}, len(ops)), errs, nil
}

// PurgeSMSEarlyReceipts deletes receipts kept for ids never recorded
// (their submit's outcome stayed unknown, or another gateway sent them)
// that arrived before before, and returns how many.
func (s *Store) PurgeSMSEarlyReceipts(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w().Exec(ctx, "DELETE FROM sms_early_receipts WHERE created_at < ?", sqldb.Micro(before))
	if err != nil {
		return 0, fmt.Errorf("notifydb: purge early sms receipts: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
