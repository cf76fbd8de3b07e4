package notify

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"congthu/queue"
	"congthu/store"
)

// Channel fallback. A dossier event's email that may
// fall back carries the event's SMS variant, rendered by the API when the
// event was accepted (store.SMSFallback: the applicant gave a phone number
// but the event's channels did not include sms). When that email ends in
// permanent-failure (a 5xx, a bounce, or the test-key simulator's
// perm-fail address) and no SMS of the event exists, Fallback creates the
// SMS notification (status created, detail "fallback for email <id>
// (permanent-failure)") and queues it: on QueueSMS for live keys, on
// QueueTest for test keys, where it is simulated like any test SMS.
//
// The notification hook (store.NotificationHook) creates the fallback in
// the transaction that records the email's permanent failure, so
// no crash comes between them. SetStatus (the test-key simulator, the
// other callers) calls Fallback whenever it is asked for permanent-failure,
// changed or not, so a caller that runs again after a crash still creates
// it; creation is idempotent in the store, and a lost enqueue is restored
// by the sweeper.

// Fallback creates and queues the SMS fallback of email notification id,
// if it has one that is due. It returns the SMS notification's id, or ""
// when there is none.
func (t *Tracker) Fallback(ctx context.Context, id string) (string, error) {
	if _, _, err := t.st.SMSFallbackOf(ctx, id); errors.Is(err, store.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	smsID, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	n, created, err := t.st.CreateSMSFallback(ctx, id, smsID.String())
	if err != nil || n == nil {
		return "", err
	}
	if !store.NotificationStatusFinal(n.Status) {
		t.enqueueFallback(ctx, n, created)
	}
	return n.ID, nil
}

// enqueueFallback queues fallback SMS n: on QueueSMS, or QueueTest for a
// test key.
func (t *Tracker) enqueueFallback(ctx context.Context, n *store.Notification, created bool) {
	q := QueueSMS
	if n.Test {
		q = QueueTest
	}
	if _, err := t.q.Enqueue(ctx, queue.Job{ID: JobID(n.ID), Queue: q}); err != nil {
		t.log.Warn("notify: enqueue fallback SMS failed; the sweeper will retry", "notification", n.ID, "err", err)
	}
	if created {
		t.log.Info("notify: email failed permanently; SMS fallback queued", "sms", n.ID, "detail", n.StatusDetail)
	}
}
