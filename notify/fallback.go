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
// of its notifications may fall back to which channel. The phone channels
// an event names are tried in order, each later one a fallback: with
// ["email", "zalo", "sms"] the email and the Zalo message are sent, and the
// SMS only if Zalo fails (from zalo, to sms; the SMS is not sent at first).
// With one phone channel it is sent as is. With none, the email falls back
// to SMS when the applicant gave a phone number. The caller renders the to
// channel's variant and attaches it to the from notification
// (notifydb.NewNotification.Fallback); it does nothing when ok is false.
// Only SMS can be a fallback (the fallback is stored as an SMS):
// a phone channel listed after sms is refused (FallbackProblem).
func FallbackFor(channels []string, phone string) (from, to string, ok bool) {
	if phone == "" {
		return "", "", false
	}
	hasEmail := false
	var phones []string
	for _, c := range channels {
		switch c {
		case ChannelEmail:
			hasEmail = true
		case ChannelSMS, ChannelZalo:
			phones = append(phones, c)
		}
	}
	switch {
	case len(phones) >= 2:
		return phones[0], phones[1], phones[1] == ChannelSMS
	case len(phones) == 1:
		return "", "", false
	}
	return ChannelEmail, ChannelSMS, hasEmail
}

// FallbackProblem is the problem with an event's channel order, or "":
// a phone channel after sms would be a fallback of SMS, which is not
// built.
func FallbackProblem(channels []string) string {
	sawSMS := false
	for _, c := range channels {
		switch {
		case c == ChannelSMS:
			sawSMS = true
		case c == ChannelZalo && sawSMS:
			return "zalo must come before sms: later phone channels are fallbacks, and only sms can be one"
		}
	}
	return ""
}

// Fallback creates and queues the SMS fallback of email notification id,
// if it has one that is due. It returns the SMS notification's id, or ""
// when there is none.
func (t *Tracker) Fallback(ctx context.Context, id string) (string, error) {
	return t.FallbackBecause(ctx, id, "")
}

// FallbackBecause is Fallback for a notification its channel gave up on
// without a permanent failure (reason says how: "no receipt from Zalo
// within 30m"); with reason "" it is Fallback. It does nothing for a
// notification that was delivered.
func (t *Tracker) FallbackBecause(ctx context.Context, id, reason string) (string, error) {
	if _, _, err := t.st.SMSFallbackOf(ctx, id); errors.Is(err, notifydb.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	smsID, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	n, created, err := t.st.CreateSMSFallbackFor(ctx, id, smsID.String(), reason)
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
		t.log.Info("notify: fallback queued", "channel", n.Channel, "notification", n.ID, "detail", n.StatusDetail)
	}
}
