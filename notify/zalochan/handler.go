package zalochan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/phone"
	"congthu/queue"
	"congthu/sms/policy"
	"congthu/zns"
)

// Sender sends one template message; *zns.Client satisfies it.
type Sender interface {
	Send(ctx context.Context, accessToken string, m zns.Message) (zns.Result, error)
}

// AccessTokens gives a usable access token; *Tokens satisfies it.
type AccessTokens interface {
	Access(ctx context.Context) (string, error)
	// Invalid is called when Zalo refused bad (-124): it returns a
	// refreshed token.
	Invalid(ctx context.Context, bad string) (string, error)
}

// Limiter enforces per-number limits; *policy.Limiter satisfies it (the
// SMS channel's own, so that both channels count toward one number's
// limits).
type Limiter interface {
	Allow(ctx context.Context, id, e164, text string, now time.Time) (policy.Decision, error)
	Forget(ctx context.Context, id, e164, text string) error
}

// Tracker records status changes and runs the fallback; *notify.Tracker
// satisfies it.
type Tracker interface {
	SetStatus(ctx context.Context, id, status, detail string, at time.Time) (changed bool, err error)
	EnqueueCallbacks(ctx context.Context, evs []notifydb.NotificationEvent)
	FallbackBecause(ctx context.Context, id, reason string) (string, error)
}

// Options configure the Handler.
type Options struct {
	// Sender and Tokens reach Zalo; a nil Sender means Zalo is not
	// configured: a Zalo notification becomes technical-failure at once
	// and its fallback, if any, is sent.
	Sender Sender
	Tokens AccessTokens
	// Limiter, if set, applies per-number limits; Limits describes them.
	Limiter Limiter
	Limits  policy.Limits
	// QuietHours holds non-urgent messages (zero value: off).
	QuietHours policy.QuietHours
	// ReceiptTimeout is how long after Zalo accepted a message (or after
	// the first try, while Zalo is unreachable or its answer was lost)
	// the SMS fallback waits for Zalo's receipt; default 30 min.
	ReceiptTimeout time.Duration
	// Backoff is the delay before trying again after the attempt-th
	// temporary failure; default 30 s doubling up to 10 min.
	Backoff func(attempt int) time.Duration
	// PriceVND is what one Zalo message costs, recorded on each when
	// Zalo accepts it.
	PriceVND int64
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler sends live Zalo notifications: the notify.Channel of queue
// "zalo".
type Handler struct {
	st  *notifydb.Store
	tr  Tracker
	o   Options
	log *slog.Logger
}

var _ notify.Channel = (*Handler)(nil)

// NewHandler returns the Zalo handler over the store and the tracker.
func NewHandler(st *notifydb.Store, tr Tracker, o Options) *Handler {
	if o.ReceiptTimeout <= 0 {
		o.ReceiptTimeout = 30 * time.Minute
	}
	if o.Backoff == nil {
		o.Backoff = func(attempt int) time.Duration {
			d := 30 * time.Second
			for i := 1; i < attempt && d < 10*time.Minute; i++ {
				d *= 2
			}
			return min(d, 10*time.Minute)
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{st: st, tr: tr, o: o, log: o.Logger}
}

// Name is notify.ChannelZalo; its queue has that name.
func (h *Handler) Name() string { return notify.ChannelZalo }

// later asks the queue for another run at t on the Now clock.
func (h *Handler) later(t time.Time, err error) error {
	return queue.RetryAt(time.Now().Add(t.Sub(h.o.Now())), err)
}

func localTime(t time.Time) string { return t.In(policy.Vietnam).Format("15:04 02/01/2006") }

// Send makes one attempt at live Zalo notification n, which is not final;
// attempt counts the earlier runs of its job. It is idempotent: what Zalo
// accepted is never sent again.
//
//  1. Accepted earlier: waiting for the receipt. Past ReceiptTimeout from
//     the send, the SMS fallback goes (the notification stays sending: a
//     late receipt still makes it delivered, and both reached the
//     applicant); before that, the job comes back then.
//  2. An earlier run got no answer, or died mid-send: Zalo may have the
//     message, so it is not sent again; the fallback waits for the receipt
//     as in 1, from the first try.
//  3. Quiet hours and per-number limits, as for SMS.
//  4. Sent: -124 refreshes the token and sends once more at once;
//     not on Zalo and permanent refusals are permanent-failure (the
//     fallback follows); temporary ones are tried again with Backoff until
//     ReceiptTimeout from the first try, then temporary-failure and the
//     fallback.
func (h *Handler) Send(ctx context.Context, n *notifydb.Notification, attempt int) error {
	id := n.ID
	now := h.o.Now()
	send, err := h.st.ZNSSendOf(ctx, id)
	if err != nil && !errors.Is(err, notifydb.ErrNotFound) {
		return err
	}
	if send != nil {
		switch send.State {
		case notifydb.ZNSAccepted:
			return h.awaitReceipt(ctx, id, send.SentAt, "no receipt from Zalo within "+h.o.ReceiptTimeout.String())
		case notifydb.ZNSSubmitting, notifydb.ZNSUnknown:
			if send.State == notifydb.ZNSSubmitting {
				detail := "outcome unknown: the previous attempt stopped mid-send; not sent again on Zalo"
				if err := h.st.SetZNSSendState(ctx, id, notifydb.ZNSUnknown, detail); err != nil {
					return err
				}
				h.st.NoteNotification(ctx, id, detail, time.Time{})
			}
			return h.awaitReceipt(ctx, id, send.FirstAt, "no answer from Zalo and no receipt within "+h.o.ReceiptTimeout.String())
		}
	}

	if sendAt, held := h.o.QuietHours.SendAt(now, n.Urgent); held {
		h.st.NoteNotification(ctx, id, fmt.Sprintf("held for quiet hours (%s) until %s (Asia/Ho_Chi_Minh)", h.o.QuietHours, localTime(sendAt)), time.Time{})
		return h.later(sendAt, errors.New("zalo: held for quiet hours"))
	}
	if h.o.Limiter != nil {
		d, err := h.o.Limiter.Allow(ctx, id, n.Recipient, n.ZNSTemplateID+"\x00"+n.ZNSData, now)
		if err != nil {
			return fmt.Errorf("zalo: limits: %w", err)
		}
		if !d.Allowed {
			if d.Reason == policy.ReasonDuplicate {
				_, err := h.tr.SetStatus(ctx, id, notifydb.NotificationPermanentFailure,
					"duplicate: the same message went to this number a short while ago; sent once, not again", time.Time{})
				return err
			}
			h.st.NoteNotification(ctx, id, fmt.Sprintf("rate-limited: will be sent at %s (Asia/Ho_Chi_Minh)", localTime(d.RetryAt)), time.Time{})
			return h.later(d.RetryAt, errors.New("zalo: rate-limited"))
		}
	}
	if h.o.Sender == nil || h.o.Tokens == nil {
		_, err := h.tr.SetStatus(ctx, id, notifydb.NotificationTechnicalFailure, "Zalo is not configured (CONGTHU_ZNS_APP_ID)", time.Time{})
		if err == nil {
			_, err = h.tr.FallbackBecause(ctx, id, notifydb.NotificationTechnicalFailure)
		}
		return err
	}
	var data map[string]string
	if err := json.Unmarshal([]byte(n.ZNSData), &data); err != nil {
		_, err := h.tr.SetStatus(ctx, id, notifydb.NotificationTechnicalFailure, "stored ZNS parameters unreadable: "+err.Error(), time.Time{})
		return err
	}

	ev, err := h.st.BeginZNSSend(ctx, id, now)
	if errors.Is(err, notifydb.ErrFinal) || errors.Is(err, notifydb.ErrAccepted) {
		return nil // a concurrent run got there first
	} else if err != nil {
		return err
	}
	if ev != nil {
		h.tr.EnqueueCallbacks(ctx, []notifydb.NotificationEvent{*ev})
	}
	msg := zns.Message{Phone: n.Recipient, TemplateID: n.ZNSTemplateID, Data: data, TrackingID: id}
	res, err := h.send(ctx, msg)
	if err == nil {
		return h.accepted(ctx, id, res)
	}
	var ze *zns.Error
	if !errors.As(err, &ze) {
		ze = &zns.Error{Class: zns.Temporary, Err: err}
	}
	log := h.log.With("notification", id, "to", phone.Mask(n.Recipient))
	switch {
	case ze.UnknownOutcome:
		detail := "outcome unknown: " + ze.Error() + "; not sent again on Zalo"
		if err := h.st.SetZNSSendState(ctx, id, notifydb.ZNSUnknown, detail); err != nil {
			return err
		}
		log.Warn("zalo outcome unknown; waiting for a receipt", "err", ze)
		h.st.NoteNotification(ctx, id, detail, time.Time{})
		first := now
		if s, err := h.st.ZNSSendOf(ctx, id); err == nil {
			first = s.FirstAt
		}
		return h.later(first.Add(h.o.ReceiptTimeout), ze)
	case ze.Class == zns.NotOnZalo || ze.Class == zns.Permanent:
		if err := h.st.SetZNSSendState(ctx, id, notifydb.ZNSNotSent, ze.Error()); err != nil {
			return err
		}
		h.forget(ctx, n)
		what := "refused by Zalo: "
		if ze.Class == zns.NotOnZalo {
			what = "not reachable on Zalo: "
		}
		if ze.Account {
			log.Error("zalo refuses our account or template; every message will fail until an operator acts", "err", ze)
		}
		_, err := h.tr.SetStatus(ctx, id, notifydb.NotificationPermanentFailure, what+ze.Error(), time.Time{})
		return err
	default:
		if err := h.st.SetZNSSendState(ctx, id, notifydb.ZNSNotSent, ze.Error()); err != nil {
			return err
		}
		s, err := h.st.ZNSSendOf(ctx, id)
		if err != nil {
			return err
		}
		if !now.Before(s.FirstAt.Add(h.o.ReceiptTimeout)) {
			h.forget(ctx, n)
			detail := fmt.Sprintf("Zalo unavailable for %s: %s", h.o.ReceiptTimeout, ze.Error())
			if _, err := h.tr.SetStatus(ctx, id, notifydb.NotificationTemporaryFailure, detail, time.Time{}); err != nil {
				return err
			}
			_, err := h.tr.FallbackBecause(ctx, id, notifydb.NotificationTemporaryFailure)
			return err
		}
		wait := h.o.Backoff(attempt + 1)
		log.Info("zalo not sent; will retry", "in", wait, "err", ze)
		return queue.RetryAt(time.Now().Add(wait), ze)
	}
}

// send sends m with the current access token, and once more with a
// refreshed one when Zalo says the token is invalid.
func (h *Handler) send(ctx context.Context, m zns.Message) (zns.Result, error) {
	tok, err := h.o.Tokens.Access(ctx)
	if err != nil {
		return zns.Result{}, &zns.Error{Class: zns.Temporary, Err: err}
	}
	res, err := h.o.Sender.Send(ctx, tok, m)
	var ze *zns.Error
	if errors.As(err, &ze) && ze.Class == zns.TokenInvalid {
		if tok, err = h.o.Tokens.Invalid(ctx, tok); err != nil {
			return zns.Result{}, &zns.Error{Class: zns.Temporary, Err: err}
		}
		res, err = h.o.Sender.Send(ctx, tok, m)
		if errors.As(err, &ze) && ze.Class == zns.TokenInvalid {
			ze.Class = zns.Temporary // a fresh token refused too: not the message's fault
		}
	}
	return res, err
}

// accepted records Zalo's msg_id (retrying for up to a minute: Zalo has
// the message, so losing its id would lose its receipt) and waits for the
// receipt.
func (h *Handler) accepted(ctx context.Context, id string, res zns.Result) error {
	deadline := time.Now().Add(time.Minute)
	var received time.Time
	var err error
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		received, err = h.st.RecordZNSAccepted(ctx, id, res.MsgID, h.o.Now(), h.o.PriceVND)
		if err == nil || errors.Is(err, notifydb.ErrNotFound) || time.Now().After(deadline) {
			break
		}
		h.log.Warn("zalo: record msg_id failed; retrying", "notification", id, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
	if err != nil {
		return err
	}
	if !received.IsZero() {
		_, err := h.tr.SetStatus(ctx, id, notifydb.NotificationDelivered, ReceivedDetail, received)
		return err
	}
	return h.later(h.o.Now().Add(h.o.ReceiptTimeout), errors.New("zalo: waiting for the receipt"))
}

// awaitReceipt is the run of a message Zalo may have: before
// ReceiptTimeout from since it comes back then; after, the fallback goes.
func (h *Handler) awaitReceipt(ctx context.Context, id string, since time.Time, reason string) error {
	due := since.Add(h.o.ReceiptTimeout)
	if h.o.Now().Before(due) {
		return h.later(due, errors.New("zalo: waiting for the receipt"))
	}
	smsID, err := h.tr.FallbackBecause(ctx, id, reason)
	if err != nil {
		return err
	}
	if smsID != "" {
		h.st.NoteNotification(ctx, id, reason+"; SMS "+smsID+" sent instead", time.Time{})
	}
	return nil
}

// forget takes a message that was not sent out of the per-number counts.
func (h *Handler) forget(ctx context.Context, n *notifydb.Notification) {
	if h.o.Limiter == nil {
		return
	}
	if err := h.o.Limiter.Forget(ctx, n.ID, n.Recipient, n.ZNSTemplateID+"\x00"+n.ZNSData); err != nil {
		h.log.Warn("zalo: forget in limits failed", "notification", n.ID, "err", err)
	}
}

// ReceivedDetail is the status detail of a notification Zalo's receipt
// made delivered.
const ReceivedDetail = "Zalo: user_received_message"
