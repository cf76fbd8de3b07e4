package notify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"congthu/bounce"
	"congthu/notify/notifydb"
)

// Bounces takes the bounces that come back to notification mail's return
// path bounce+<id>@<domain> through the MX (smtpd.MXOptions.Bounces): a
// permanent failure makes the notification permanent-failure through the
// dispatcher's own path (notifydb.Store.RecordBounce, the notification hook's recording, then Tracker.OutboxRecorded
// for the callback and the SMS fallback); delays, successes and messages
// that say nothing readable change nothing and are logged.
type Bounces struct {
	st  *notifydb.Store
	t   *Tracker // nil without Redis: the sweeper queues the jobs later
	log *slog.Logger
}

// NewBounces returns the bounce handler; t may be nil.
func NewBounces(st *notifydb.Store, t *Tracker, log *slog.Logger) *Bounces {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bounces{st: st, t: t, log: log}
}

// ReturnPath reports whether address has the form bounce+<id>@... and, if
// so, the id of the live email notification it names ("" when the id is
// malformed or names none).
func (b *Bounces) ReturnPath(ctx context.Context, address string) (id string, isReturnPath bool, err error) {
	id, ok := NotificationFromBounce(address)
	if !ok {
		return "", false, nil
	}
	if u, perr := uuid.Parse(id); perr != nil || u.String() != id {
		return "", true, nil
	}
	if err := b.st.BounceTarget(ctx, id); errors.Is(err, notifydb.ErrNotFound) {
		return "", true, nil
	} else if err != nil {
		return "", true, err
	}
	return id, true, nil
}

// Record reads a bounce for notification id and records what it says,
// durably, before the MX answers 250. It returns what it did, for the log.
func (b *Bounces) Record(ctx context.Context, id string, msg io.Reader) (string, error) {
	rep := bounce.Parse(msg)
	if !rep.Permanent() {
		b.log.Info("notify: bounce changes nothing", "notification", id, "action", rep.Action, "status", rep.Status, "report", rep.String())
		return "ignored: " + rep.String(), nil
	}
	rec, err := b.st.RecordBounce(ctx, id, rep.String(), time.Now())
	if err != nil {
		return "", err
	}
	if len(rec.Events) == 0 {
		return "already final: " + rep.String(), nil
	}
	if b.t != nil {
		b.t.OutboxRecorded(ctx, rec)
	}
	b.log.Info("notify: bounce recorded", "notification", id, "status", rep.Status, "report", rep.String())
	return "permanent-failure: " + rep.String(), nil
}
