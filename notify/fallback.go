package notify

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"congthu/notify/notifydb"
)

// Channel fallback. A dossier event's email that may
// fall back carries the event's SMS variant, rendered by the API when the
// event was accepted (notifydb.SMSFallback: the applicant gave a phone number
// but the event's channels did not include sms). When that email ends in
// permanent-failure (a 5xx, a bounce, or the test-key simulator's
// perm-fail address) and no SMS of the event exists, Fallback creates the
// SMS notification (status created, detail "fallback for email <id>
// (permanent-failure)") and queues it: on QueueSMS for live keys, on
// QueueTest for test keys, where it is simulated like any test SMS.
//
// The notification hook (notifydb.Store.NotificationHook) creates the fallback in
// the transaction that records the email's permanent failure, so
// no crash comes between them. SetStatus (the test-key simulator, the
// other callers) calls Fallback whenever it is asked for permanent-failure,
// changed or not, so a caller that runs again after a crash still creates
// it; creation is idempotent in the store, and a lost enqueue is restored
// by the sweeper.

// FallbackFor is the rule that decides, when an event is accepted, which
// of its notifications may fall back to which channel: the email, to
// SMS, when the applicant gave a phone number and the event's channels
// leave SMS out (an SMS of the event is sent anyway otherwise). The
// caller renders the to channel's variant and attaches it to the from
// notification (notifydb.NewNotification.Fallback); it does nothing when ok
// is false.
func FallbackFor(channels []string, phone string) (from, to string, ok bool) {
	if phone == "" {
		return "", "", false
	}
	hasEmail := false
	for _, c := range channels {
		switch c {
		case ChannelSMS:
			return "", "", false
		case ChannelEmail:
			hasEmail = true
		}
	}
	return ChannelEmail, ChannelSMS, hasEmail
}

// Fallback creates and queues the SMS fallback of email notification id,
// if it has one that is due. It returns the SMS notification's id, or ""
// when there is none.
func (t *Tracker) Fallback(ctx context.Context, id string) (string, error) {
	if _, _, err := t.st.SMSFallbackOf(ctx, id); errors.Is(err, notifydb.ErrNotFound) {
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
	if !notifydb.NotificationStatusFinal(n.Status) {
		t.enqueueFallback(ctx, n, created)
	}
	return n.ID, nil
}

// enqueueFallback queues fallback n on its channel's queue (JobOf).
func (t *Tracker) enqueueFallback(ctx context.Context, n *notifydb.Notification, created bool) {
	j, ok := JobOf(n.ID, n.Channel, n.Test)
	if !ok {
		return
	}
	if _, err := t.q.Enqueue(ctx, j); err != nil {
		t.log.Warn("notify: enqueue fallback SMS failed; the sweeper will retry", "notification", n.ID, "err", err)
	}
	if created {
		t.log.Info("notify: email failed permanently; fallback queued", "channel", n.Channel, "notification", n.ID, "detail", n.StatusDetail)
	}
}
