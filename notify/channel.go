package notify

import (
	"context"
	"fmt"

	"congthu/notify/notifydb"
	"congthu/queue"
)

// Channels. Every notification has one channel, named in the API, the
// store and the templates:
//
//	email  through the outbox, like all mail: its outcomes come back through
//	       the outbox hook (Tracker.OutboxRecorded)
//	sms    through a Channel (package notify/smschan) on the queue of its name
//
// A channel other than email is a Channel: Tracker.Handler makes the
// queue.Handler of its queue, and JobOf names the job that carries one of
// its notifications. Every channel records the same statuses (created →
// sending → delivered | permanent-failure | temporary-failure |
// technical-failure) through Tracker.SetStatus, which queues the callbacks
// and applies the fallback rules (fallback.go); test-key notifications of
// every channel go to QueueTest and are simulated (Tracker.HandleTest).

// Channel names.
const (
	ChannelEmail = "email" // through the outbox
	ChannelSMS   = "sms"
	ChannelZalo  = "zalo"
)

// A Channel sends live notifications of one kind through its provider.
type Channel interface {
	// Name is the channel's name ("sms"); its queue has the same name.
	Name() string
	// Send makes one attempt at live notification n, which is of this
	// channel and not final; attempt counts the earlier runs of its job.
	// It records what happened through the Tracker (SetStatus) and the
	// store, and returns what the queue should do next: nil when done or
	// waiting for a receipt, a queue.RetryAt or an error to run again, a
	// queue.Permanent error for a job that cannot succeed.
	Send(ctx context.Context, n *notifydb.Notification, attempt int) error
}

// QueueOf returns the queue of channel's live notifications; "" for
// email, whose job is the outbox's.
func QueueOf(channel string) string {
	if channel == ChannelEmail {
		return ""
	}
	return channel
}

// JobOf returns the job that carries notification id of channel (test:
// a test key's), false when it has none of its own (live email).
func JobOf(id, channel string, test bool) (queue.Job, bool) {
	q := QueueOf(channel)
	if test {
		q = QueueTest
	}
	if q == "" {
		return queue.Job{}, false
	}
	return queue.Job{ID: JobID(id), Queue: q}, true
}

// Handler returns the queue.Handler of ch's queue. A run reads the job's
// notification; one of another channel or a test one is a permanent job
// error; a final one is done (a permanent failure runs its fallback again:
// a crash may have come between them); otherwise ch.Send makes the attempt.
// It is idempotent as long as Send is.
func (t *Tracker) Handler(ch Channel) queue.Handler {
	name := ch.Name()
	return queue.HandlerFunc(func(ctx context.Context, j *queue.Job) error {
		n, err := JobNotification(ctx, t.st, j)
		if err != nil {
			return err
		}
		if n.Channel != name || n.Test {
			return queue.Permanent(fmt.Errorf("notify: notification %s is not a live %s notification", n.ID, name))
		}
		if n.Status == notifydb.NotificationScheduled {
			return nil // its time has not come: RunReminders queues it again then
		}
		if notifydb.NotificationStatusFinal(n.Status) {
			if n.Status == notifydb.NotificationPermanentFailure {
				_, err := t.Fallback(ctx, n.ID)
				return err
			}
			return nil
		}
		return ch.Send(ctx, n, j.Attempt)
	})
}
