// Package smschan is the SMS channel of notifications: Handler is the
// notify.Channel of queue "sms" (jobs "notification:<id>"; its queue.Handler
// is notify.Tracker.Handler of it), Receipts.Apply takes the providers'
// delivery receipts.
//
// The two are built apart so that nothing is bound late: Receipts needs
// only the store and the tracker, so it exists before the providers (whose
// OnReceipt is Receipts.Apply), and the Handler is built last, over the
// router of those providers.
//
// One run of a job, for a notification that is not final yet:
//
//  1. Quiet hours (Options.QuietHours): a non-urgent SMS inside the
//     window stays created, with the detail and a timeline entry "held for
//     quiet hours until 07:00 29/11/2026 (Asia/Ho_Chi_Minh)", and the job
//     comes back at the window's end. Urgent SMS (API field "urgent")
//     bypass quiet hours.
//  2. Per-number limits (Options.Limiter): over the hourly rate the SMS
//     stays created with detail "rate-limited: ..., will be sent at HH:MM"
//     and the job comes back then; the same text to the same number within
//     the duplicate window is final: permanent-failure "duplicate: ...".
//  3. With no provider configured (Options.Sender nil) the SMS becomes
//     technical-failure "no SMS provider configured" at once: the back
//     office hears of it (and may use another channel) instead of waiting
//     72 hours for the expiry.
//  4. notifydb.Store.BeginSMSSend (sending, committed), then the provider.
//     Accepted: the parts' ids go to the store (notifydb.Store.RecordSMSAccepted)
//     and the SMS stays sending until receipts make it delivered or a
//     failure. Refused for good: permanent-failure. Provably not taken
//     (provider down, throttled past its retries): tried again with
//     Options.Backoff (or the provider's Retry-After).
//
// Unknown outcome (the request was written but no answer read: connection
// dropped mid-window, timeout, or a run that died mid-send and left
// notifydb.SMSSubmitting behind): the SMS is not sent again at once. It stays
// sending with detail "outcome unknown ..." and the job comes back after
// Options.UnknownOutcomeWait (default 30 min). If a receipt made it final
// by then, nothing more is done. Otherwise it is sent once more (the SMSC
// never acknowledged it, so it most likely never took it); a second unknown
// outcome ends in technical-failure, never a third send. So nothing the
// SMSC acknowledged is ever sent twice: an acknowledged part's id is in the
// store before the run ends (a store failure right then is retried in the
// run for up to a minute).
//
// Receipts: delivered when every part's receipt says delivered (SMSCs send
// one receipt per submit_sm, so one per part); permanent-failure or
// temporary-failure as soon as one part's receipt says so. Ids match in
// either spelling (smpp.MessageIDForms), and a receipt that comes before
// its submit is recorded is kept and applied then (store/sms.go).
package smschan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/queue"
	"congthu/sms/policy"
	"congthu/sms/route"
	"congthu/sms/smpp"
)

// Sender sends one SMS through a provider; *route.Router satisfies it.
// Errors should be *route.SendError (anything else counts as an unknown
// outcome).
type Sender interface {
	Send(ctx context.Context, m route.Message) (route.Result, error)
}

// Limiter enforces per-number limits; *policy.Limiter satisfies it.
type Limiter interface {
	Allow(ctx context.Context, id, e164, text string, now time.Time) (policy.Decision, error)
	Forget(ctx context.Context, id, e164, text string) error
}

// Tracker records status changes and their callbacks; *notify.Tracker
// satisfies it.
type Tracker interface {
	SetStatus(ctx context.Context, id, status, detail string, at time.Time) (changed bool, err error)
	// EnqueueCallbacks queues the callbacks of events the store made
	// (notifydb.Store.BeginSMSSend's "sending").
	EnqueueCallbacks(ctx context.Context, evs []notifydb.NotificationEvent)
}

// Options configure the Handler.
type Options struct {
	// Sender sends the SMS; nil means no provider is configured (see the
	// notes above).
	Sender Sender
	// Limiter, if set, applies per-number limits; Limits describes them
	// in status details.
	Limiter Limiter
	Limits  policy.Limits
	// QuietHours holds non-urgent SMS (zero value: off).
	QuietHours policy.QuietHours
	// UnknownOutcomeWait is how long to wait for a receipt after an
	// unknown outcome before sending once more; default 30 min.
	UnknownOutcomeWait time.Duration
	// Backoff is the delay before sending again after the attempt-th
	// temporary failure; default 30 s doubling up to 30 min.
	Backoff func(attempt int) time.Duration
	// PricePerPartVND is what one part costs, in đồng: each SMS records
	// parts × price when the provider accepts it.
	PricePerPartVND int64
	// Now is the clock for quiet hours and limits; default time.Now.
	// Queue delays are computed from it and run on the real clock.
	Now func() time.Time
	// Logger gets what happened; numbers are masked.
	Logger *slog.Logger
}

// Handler sends live SMS notifications.
type Handler struct {
	st  *notifydb.Store
	tr  Tracker
	o   Options
	log *slog.Logger
}

// NewHandler returns the SMS handler over the store and the tracker.
func NewHandler(st *notifydb.Store, tr Tracker, opts Options) *Handler {
	if opts.UnknownOutcomeWait <= 0 {
		opts.UnknownOutcomeWait = 30 * time.Minute
	}
	if opts.Backoff == nil {
		opts.Backoff = func(attempt int) time.Duration {
			d := 30 * time.Second
			for i := 1; i < attempt && d < 30*time.Minute; i++ {
				d *= 2
			}
			return min(d, 30*time.Minute)
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{st: st, tr: tr, o: opts, log: opts.Logger}
}

var (
	errHeld        = errors.New("sms: held for quiet hours")
	errRateLimited = errors.New("sms: rate-limited")
)

// later asks the queue for another run at t on the Now clock.
func (h *Handler) later(t time.Time, err error) error {
	return queue.RetryAt(time.Now().Add(t.Sub(h.o.Now())), err)
}

func localTime(t time.Time) string { return t.In(policy.Vietnam).Format("15:04 02/01/2006") }

var _ notify.Channel = (*Handler)(nil)

// Name is the channel's name, notify.ChannelSMS; its queue has that name.
func (h *Handler) Name() string { return notify.ChannelSMS }

// Send makes one attempt at live SMS n, which is not final; attempt counts
// the earlier runs of its job. It is the notify.Channel of queue "sms":
// notify.Tracker.Handler makes its queue.Handler, which reads the job's
// notification and leaves final and test ones alone. It is idempotent.
func (h *Handler) Send(ctx context.Context, n *notifydb.Notification, attempt int) error {
	id := n.ID
	log := h.log.With("notification", id)
	now := h.o.Now()

	resend := false
	send, err := h.st.SMSSend(ctx, id)
	if err != nil && !errors.Is(err, notifydb.ErrNotFound) {
		return err
	}
	if send != nil {
		switch send.State {
		case notifydb.SMSAccepted:
			// Waiting for receipts; a crash may have come between
			// their record and the status.
			out, err := h.st.SMSOutcome(ctx, id)
			if err != nil {
				return err
			}
			if out.Status != "" {
				_, err = h.tr.SetStatus(ctx, id, out.Status, out.Detail, time.Time{})
			}
			return err
		case notifydb.SMSSubmitting, notifydb.SMSUnknown:
			if send.Resends > 0 {
				_, err := h.tr.SetStatus(ctx, id, notifydb.NotificationTechnicalFailure,
					"outcome unknown twice (no answer from the provider); not sent again", time.Time{})
				return err
			}
			if send.State == notifydb.SMSSubmitting {
				// The previous run died mid-send.
				detail := "outcome unknown: the previous attempt stopped mid-send"
				if err := h.st.SetSMSSendState(ctx, id, notifydb.SMSUnknown, send.Provider, detail); err != nil {
					return err
				}
				h.st.NoteNotification(ctx, id, h.unknownDetail(detail), time.Time{})
				return queue.RetryAt(time.Now().Add(h.o.UnknownOutcomeWait), errors.New(detail))
			}
			if wait := send.UpdatedAt.Add(h.o.UnknownOutcomeWait); time.Now().Before(wait) {
				return queue.RetryAt(wait, errors.New("sms: outcome unknown, waiting for a receipt"))
			}
			resend = true
		}
	}

	if sendAt, held := h.o.QuietHours.SendAt(now, n.Urgent); held {
		h.st.NoteNotification(ctx, id, fmt.Sprintf("held for quiet hours (%s) until %s (Asia/Ho_Chi_Minh)", h.o.QuietHours, localTime(sendAt)), time.Time{})
		return h.later(sendAt, errHeld)
	}
	if h.o.Limiter != nil {
		d, err := h.o.Limiter.Allow(ctx, id, n.Recipient, n.SMSText, now)
		if err != nil {
			return fmt.Errorf("sms: limits: %w", err)
		}
		if !d.Allowed {
			switch d.Reason {
			case policy.ReasonDuplicate:
				_, err := h.tr.SetStatus(ctx, id, notifydb.NotificationPermanentFailure,
					fmt.Sprintf("duplicate: the same text went to this number less than %s ago; sent once, not again", h.dupWindow()), time.Time{})
				return err
			default:
				h.st.NoteNotification(ctx, id, fmt.Sprintf("rate-limited: this number already got %s; will be sent at %s (Asia/Ho_Chi_Minh)",
					h.rateText(), localTime(d.RetryAt)), time.Time{})
				return h.later(d.RetryAt, errRateLimited)
			}
		}
	}
	if h.o.Sender == nil {
		_, err := h.tr.SetStatus(ctx, id, notifydb.NotificationTechnicalFailure, "no SMS provider configured", time.Time{})
		return err
	}

	ev, err := h.st.BeginSMSSend(ctx, id, resend)
	if errors.Is(err, notifydb.ErrFinal) || errors.Is(err, notifydb.ErrAccepted) {
		return nil // a concurrent run got there first
	} else if err != nil {
		return err
	}
	if ev != nil {
		h.tr.EnqueueCallbacks(ctx, []notifydb.NotificationEvent{*ev})
	}
	res, err := h.o.Sender.Send(ctx, route.Message{To: n.Recipient, Text: n.SMSText, Reference: id})
	if err == nil {
		out, err := h.recordAccepted(ctx, id, notifydb.SMSAccepted, res.Provider, res.MessageIDs)
		if err != nil {
			return err
		}
		log.Debug("sms accepted", "provider", res.Provider, "parts", len(res.MessageIDs))
		if p := h.o.PricePerPartVND; p > 0 {
			if err := h.st.SetNotificationPrice(ctx, id, p*int64(len(res.MessageIDs))); err != nil {
				log.Warn("sms: record price failed", "err", err)
			}
		}
		if out.Status != "" {
			_, err = h.tr.SetStatus(ctx, id, out.Status, out.Detail, time.Time{})
		}
		return err
	}

	var se *route.SendError
	if !errors.As(err, &se) {
		se = &route.SendError{Temporary: true, UnknownOutcome: true, Err: err}
	}
	switch {
	case se.UnknownOutcome || len(se.MessageIDs) > 0:
		detail := "outcome unknown: " + se.Error()
		if len(se.MessageIDs) > 0 {
			if _, err := h.recordAccepted(ctx, id, notifydb.SMSUnknown, se.Provider, se.MessageIDs); err != nil {
				return err
			}
			detail = fmt.Sprintf("outcome unknown: %d part(s) accepted, then %s", len(se.MessageIDs), se.Error())
		}
		if err := h.st.SetSMSSendState(ctx, id, notifydb.SMSUnknown, se.Provider, detail); err != nil {
			return err
		}
		log.Warn("sms outcome unknown; waiting for a receipt", "provider", se.Provider, "err", err)
		h.st.NoteNotification(ctx, id, h.unknownDetail(detail), time.Time{})
		if resend {
			_, err := h.tr.SetStatus(ctx, id, notifydb.NotificationTechnicalFailure,
				"outcome unknown twice (no answer from the provider); not sent again", time.Time{})
			return err
		}
		return queue.RetryAt(time.Now().Add(h.o.UnknownOutcomeWait), se)
	case !se.Temporary:
		if err := h.st.SetSMSSendState(ctx, id, notifydb.SMSNotSent, se.Provider, se.Error()); err != nil {
			return err
		}
		if h.o.Limiter != nil {
			if err := h.o.Limiter.Forget(ctx, id, n.Recipient, n.SMSText); err != nil {
				log.Warn("sms: forget in limits failed", "err", err)
			}
		}
		_, err := h.tr.SetStatus(ctx, id, notifydb.NotificationPermanentFailure, "refused: "+se.Error(), time.Time{})
		return err
	default:
		if err := h.st.SetSMSSendState(ctx, id, notifydb.SMSNotSent, se.Provider, se.Error()); err != nil {
			return err
		}
		wait := max(h.o.Backoff(attempt+1), se.RetryAfter)
		log.Info("sms not sent; will retry", "provider", se.Provider, "in", wait, "err", se)
		return queue.RetryAt(time.Now().Add(wait), se)
	}
}

func (h *Handler) unknownDetail(d string) string {
	return d + fmt.Sprintf("; waiting %s for a delivery receipt before sending once more", h.o.UnknownOutcomeWait)
}

func (h *Handler) dupWindow() time.Duration {
	if h.o.Limits.DuplicateWindow > 0 {
		return h.o.Limits.DuplicateWindow
	}
	return 10 * time.Minute
}

func (h *Handler) rateText() string {
	max, w := h.o.Limits.Max, h.o.Limits.Window
	if max <= 0 {
		max = 5
	}
	if w <= 0 {
		w = time.Hour
	}
	return fmt.Sprintf("%d SMS in the last %s", max, w)
}

// recordAccepted stores the parts' ids, retrying for up to a minute: the
// provider has them, so giving up here would make the next run see an
// unknown outcome.
func (h *Handler) recordAccepted(ctx context.Context, id, state, provider string, ids []string) (notifydb.SMSOutcome, error) {
	norm := make([]string, len(ids))
	for i, m := range ids {
		norm[i] = smpp.NormalizeMessageID(m)
	}
	deadline := time.Now().Add(time.Minute)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		out, err := h.st.RecordSMSAccepted(ctx, id, state, provider, norm)
		if err == nil || errors.Is(err, notifydb.ErrNotFound) || time.Now().After(deadline) {
			return out, err
		}
		h.log.Warn("sms: record accepted ids failed; retrying", "notification", id, "err", err)
		select {
		case <-ctx.Done():
			return out, err
		case <-time.After(wait):
		}
	}
}

// Receipts applies the providers' delivery receipts.
type Receipts struct {
	st  *notifydb.Store
	tr  Tracker
	log *slog.Logger
}

// NewReceipts returns the receipt side of the channel over the store and
// the tracker; log may be nil.
func NewReceipts(st *notifydb.Store, tr Tracker, log *slog.Logger) *Receipts {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Receipts{st: st, tr: tr, log: log}
}

// Apply applies a delivery receipt from either provider (see
// route.SMPPReceipt and route.HTTPReceipt). An error means it was not
// recorded: the provider should deliver it again.
func (h *Receipts) Apply(ctx context.Context, r route.Receipt) error {
	var state string
	switch r.Outcome {
	case smpp.Delivered:
		state = notifydb.NotificationDelivered
	case smpp.PermanentFailure:
		state = notifydb.NotificationPermanentFailure
	case smpp.TemporaryFailure:
		state = notifydb.NotificationTemporaryFailure
	default:
		return nil // not final yet
	}
	forms := smpp.MessageIDForms(r.ProviderID)
	if len(forms) == 0 {
		return nil
	}
	words := r.Status
	if r.ErrorCode != "" {
		words += " err:" + r.ErrorCode
	}
	// Not bounded by the provider's deadline: an SMSC that gave up on our
	// answer sends the receipt again, which is harmless, while one that
	// never does (some don't) would lose it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	id, out, err := h.st.RecordSMSReceipt(ctx, r.Provider, forms, state, words)
	if err != nil {
		return err
	}
	if id == "" {
		h.log.Info("sms receipt for an id not recorded yet; kept", "provider", r.Provider, "message_id", r.ProviderID)
		return nil
	}
	if out.Status == "" {
		return nil
	}
	at := r.Done
	if at.IsZero() || at.After(time.Now()) {
		at = time.Now()
	}
	// A failure here, after the receipt was committed, is repaired by
	// the sweeper, which runs the job of every SMS still sending.
	_, err = h.tr.SetStatus(ctx, id, out.Status, out.Detail, at)
	return err
}
