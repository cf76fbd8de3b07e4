package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"congthu/notify/notifydb"
	"congthu/queue"
	"congthu/webhook"
)

// Queue names (see the package doc).
const (
	QueueTest = "notify-test"
	QueueSMS  = "sms"
)

// Simulated recipients for test keys (see the package doc).
const (
	SimTempFailEmail = "temp-fail@simulator.congthu.test"
	SimPermFailEmail = "perm-fail@simulator.congthu.test"
	SimTechFailEmail = "tech-fail@simulator.congthu.test"
	SimTempFailPhone = "+84900000001"
	SimPermFailPhone = "+84900000002"
	// SimNotOnZaloPhone cannot get Zalo messages: a Zalo notification to
	// it fails permanently (and its SMS fallback is delivered).
	SimNotOnZaloPhone = "+84900000003"
)

// MaxSending is how long a notification may stay created or sending before
// ExpireStale calls it a temporary-failure.
const MaxSending = 72 * time.Hour

// JobID is the job ID of a notification on QueueTest and QueueSMS.
func JobID(notificationID string) string { return "notification:" + notificationID }

// JobNotification reads the notification of a job named by JobID. A bad
// job ID or a notification that does not exist is a queue.Permanent
// error (retrying cannot help); a store error is returned as is.
func JobNotification(ctx context.Context, st *notifydb.Store, j *queue.Job) (*notifydb.Notification, error) {
	id, ok := strings.CutPrefix(j.ID, "notification:")
	if !ok {
		return nil, queue.Permanent(fmt.Errorf("notify: bad job ID %q", j.ID))
	}
	n, err := st.Notification(ctx, id)
	if errors.Is(err, notifydb.ErrNotFound) {
		return nil, queue.Permanent(err)
	}
	return n, err
}

// SimulatedStatus is the final status a test-key notification on channel
// to recipient ends in.
func SimulatedStatus(channel, recipient string) (status, detail string) {
	if channel == ChannelZalo && recipient == SimNotOnZaloPhone {
		return notifydb.NotificationPermanentFailure, "simulated: not reachable on Zalo (test key)"
	}
	switch strings.ToLower(recipient) {
	case SimTempFailEmail, SimTempFailPhone:
		return notifydb.NotificationTemporaryFailure, "simulated temporary failure (test key)"
	case SimPermFailEmail, SimPermFailPhone:
		return notifydb.NotificationPermanentFailure, "simulated permanent failure (test key)"
	case SimTechFailEmail:
		return notifydb.NotificationTechnicalFailure, "simulated technical failure (test key)"
	}
	return notifydb.NotificationDelivered, "simulated delivery (test key)"
}

// Tracker records status changes and queues their callbacks.
type Tracker struct {
	st  *notifydb.Store
	q   *queue.Client
	log *slog.Logger
	// Now is the clock (tests set it); default time.Now.
	Now func() time.Time
	// observe, if set, is called when a notification reaches a final
	// status (see NewTracker).
	observe func(channel, status string, latency time.Duration)
	// IdempotencyRetention is how long RunExpiry keeps the API's
	// idempotency records (0: for ever).
	IdempotencyRetention time.Duration
}

// NewTracker returns a Tracker over the store and the queues. observe, if
// not nil, is called when a notification reaches a final status, with the
// time from its creation (for latency metrics); it must not block. The
// program subscribes the email notifications to the outbox's recorded
// outcomes, reported to OutboxRecorded, before anything is delivered:
// mail.Outbox().AddHook(st.NotificationHook(t.OutboxRecorded)), once per
// store.
func NewTracker(st *notifydb.Store, q *queue.Client, log *slog.Logger, observe func(channel, status string, latency time.Duration)) *Tracker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Tracker{st: st, q: q, log: log, Now: time.Now, observe: observe}
	return t
}

// SetStatus records a status change (see notifydb.Store.SetNotificationStatusEvent) and
// enqueues its callback. A lost enqueue is logged: the sweeper restores it
// from the store.
func (t *Tracker) SetStatus(ctx context.Context, id, status, detail string, at time.Time) (changed bool, err error) {
	ev, err := t.st.SetNotificationStatusEvent(ctx, id, status, detail, at)
	if err != nil {
		return false, err
	}
	if status == notifydb.NotificationPermanentFailure {
		// Channel fallback (fallback.go), also when unchanged: the
		// caller may be retrying after a crash.
		defer func() {
			if _, ferr := t.Fallback(ctx, id); ferr != nil && err == nil {
				err = ferr
			}
		}()
	}
	if ev == nil {
		return false, nil
	}
	if t.observe != nil && notifydb.NotificationStatusFinal(ev.Status) {
		t.observe(ev.Channel, ev.Status, ev.At.Sub(ev.NotificationCreatedAt))
	}
	t.EnqueueCallbacks(ctx, []notifydb.NotificationEvent{*ev})
	return true, nil
}

// EnqueueCallbacks enqueues the callback jobs of the events that have one.
func (t *Tracker) EnqueueCallbacks(ctx context.Context, evs []notifydb.NotificationEvent) {
	for _, ev := range evs {
		if !ev.Callback {
			continue
		}
		if _, err := t.q.Enqueue(ctx, queue.Job{ID: webhook.JobID(ev.ID), Queue: webhook.Queue}); err != nil {
			t.log.Warn("notify: enqueue callback failed; the sweeper will retry", "event", ev.ID, "err", err)
		}
	}
}

// OutboxRecorded is called once recorded delivery outcomes are durable
// (notifydb.Store.NotificationHook, subscribed to the outbox),
// with the notifications' status events and SMS fallbacks they made in
// the same transaction; also with what notifydb.Store.RecordBounce made. It observes
// the final statuses, enqueues the events' callbacks and the fallbacks'
// jobs. A lost enqueue is restored by the sweeper.
func (t *Tracker) OutboxRecorded(ctx context.Context, rec *notifydb.NotificationRecord) {
	if t.observe != nil {
		for _, ev := range rec.Events {
			if notifydb.NotificationStatusFinal(ev.Status) {
				t.observe(ev.Channel, ev.Status, ev.At.Sub(ev.NotificationCreatedAt))
			}
		}
	}
	t.EnqueueCallbacks(ctx, rec.Events)
	for _, f := range rec.Fallbacks {
		t.enqueueFallback(ctx, f.SMS, true)
	}
}

// ComposeOutbox composes the message of an outbox entry that an email
// notification owns and that was stored without its bytes (the
// dispatcher's Options.Compose): the notification's email from the
// rendered content and sender fields the API stored (see
// NotificationEmail). A notification that is gone, or that cannot be
// composed, wraps notifydb.ErrNotFound or notifydb.ErrInvalid (the dispatcher
// fails the recipient permanently).
func (t *Tracker) ComposeOutbox(ctx context.Context, outboxID int64) ([]byte, error) {
	n, err := t.st.NotificationByOutbox(ctx, outboxID)
	if err != nil {
		return nil, err
	}
	raw, _, err := Compose(NotificationEmail(n))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, notifydb.ErrInvalid)
	}
	return raw, nil
}

// HandleTest is the queue.Handler of QueueTest: it plays a test-key
// notification through sending to its simulated final status. Idempotent.
func (t *Tracker) HandleTest(ctx context.Context, j *queue.Job) error {
	n, err := JobNotification(ctx, t.st, j)
	if err != nil {
		return err
	}
	id := n.ID
	if !n.Test {
		return queue.Permanent(fmt.Errorf("notify: notification %s is live, not a test", id))
	}
	if n.Status == notifydb.NotificationScheduled {
		return nil // its time has not come: RunReminders queues it again then
	}
	if notifydb.NotificationStatusFinal(n.Status) {
		if n.Status == notifydb.NotificationPermanentFailure {
			_, err := t.Fallback(ctx, id) // a crash may have come before it
			return err
		}
		return nil
	}
	if _, err := t.SetStatus(ctx, id, notifydb.NotificationSending, "", t.Now()); err != nil {
		return err
	}
	status, detail := SimulatedStatus(n.Channel, n.Recipient)
	_, err = t.SetStatus(ctx, id, status, detail, t.Now())
	return err
}

// PurgeIdempotency deletes the API's idempotency records older than
// retention (0: keeps them), in chunks, and returns how many.
func (t *Tracker) PurgeIdempotency(ctx context.Context, retention time.Duration) (int64, error) {
	if retention <= 0 {
		return 0, nil
	}
	const chunk = 1000
	var total int64
	before := t.Now().Add(-retention)
	for {
		n, err := t.st.PurgeIdempotency(ctx, before, chunk)
		total += n
		if err != nil || n < chunk || ctx.Err() != nil {
			return total, err
		}
	}
}

// ExpireStale turns notifications created or sending for more than
// MaxSending into temporary-failure and queues their callbacks. It returns
// how many changed.
func (t *Tracker) ExpireStale(ctx context.Context) (int, error) {
	total := 0
	for {
		evs, err := t.st.ExpireNotifications(ctx, t.Now(), MaxSending, 500)
		total += len(evs)
		t.EnqueueCallbacks(ctx, evs)
		if err != nil || len(evs) < 500 {
			return total, err
		}
	}
}

// RunExpiry runs ExpireStale now and then every interval until ctx is done
// (it returns ctx's error). Failures and panics are logged.
func (t *Tracker) RunExpiry(ctx context.Context, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.log.Error("notify: expiry sweep panicked", "panic", p, "stack", string(debug.Stack()))
				}
			}()
			if n, err := t.ExpireStale(ctx); err != nil {
				t.log.Warn("notify: expiry sweep failed", "err", err)
			} else if n > 0 {
				t.log.Info("notify: notifications expired", "count", n)
			}
			if n, err := t.PurgeIdempotency(ctx, t.IdempotencyRetention); err != nil {
				t.log.Warn("notify: idempotency purge failed", "err", err)
			} else if n > 0 {
				t.log.Info("notify: idempotency records purged", "count", n, "retention", t.IdempotencyRetention)
			}
		}()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Source is the queue.Source for QueueTest, the channels' queues (QueueOf)
// and webhook.Queue: what the store says is due. Any queue other than
// QueueTest and webhook.Queue is read as the live notifications of the
// channel of its name.
func (t *Tracker) Source() queue.Source { return source{t.st} }

type source struct{ st *notifydb.Store }

func (s source) Due(ctx context.Context, q string, before time.Time, cursor string, limit int) ([]queue.Job, string, error) {
	switch q {
	default:
		test, channel := q == QueueTest, q
		if test {
			channel = ""
		}
		ids, err := s.st.PendingNotifications(ctx, test, channel, before, cursor, limit)
		if err != nil || len(ids) == 0 {
			return nil, "", err
		}
		jobs := make([]queue.Job, len(ids))
		for i, id := range ids {
			jobs[i] = queue.Job{ID: JobID(id), Queue: q}
		}
		next := ""
		if len(ids) == limit {
			next = ids[len(ids)-1]
		}
		return jobs, next, nil
	case webhook.Queue:
		var after int64
		if cursor != "" {
			after, _ = strconv.ParseInt(cursor, 10, 64)
		}
		ids, err := s.st.CallbacksDue(ctx, before, after, limit)
		if err != nil || len(ids) == 0 {
			return nil, "", err
		}
		jobs := make([]queue.Job, len(ids))
		for i, id := range ids {
			jobs[i] = queue.Job{ID: webhook.JobID(id), Queue: q}
		}
		next := ""
		if len(ids) == limit {
			next = strconv.FormatInt(ids[len(ids)-1], 10)
		}
		return jobs, next, nil
	}
}
