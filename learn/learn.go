// Package learn teaches rspamd from how civil servants file their mail:
// imapd tells Queue (its Learner) of messages moved or copied into Junk
// (spam) and moved out of Junk (not spam); Queue puts one job per message
// and direction on the queue "learn", with the ID
//
//	learn:spam:<mailbox id>:<uid>   or   learn:ham:<mailbox id>:<uid>
//
// and Handler, run by a queue worker with concurrency 1, reads the message
// from the store and posts it to rspamd's /learnspam or /learnham. A job
// ID names one message in one direction, so a message is learnt at most
// once per direction while its job lives (the queue keeps one copy of an
// ID); and since jobs run one at a time, rspamd's own check (it does not
// learn a message twice for one class; two learns at once can both pass
// it) covers copies of one message under other UIDs.
//
// Learning is best effort: the store holds no record of it, so a job lost
// with Redis (or never queued because Redis was down at the move) is not
// restored. A message expunged before its job runs is skipped.
package learn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"congthu/filter/rspamd"
	"congthu/queue"
	"congthu/store"
)

// QueueName is the queue of learning jobs.
const QueueName = "learn"

// Queue queues learning jobs; it is imapd's Learner.
type Queue struct {
	q   *queue.Client
	log *slog.Logger
}

// NewQueue returns the Learner that queues on q.
func NewQueue(q *queue.Client, log *slog.Logger) *Queue { return &Queue{q: q, log: log} }

// jobID names the job of one message and direction.
func jobID(mailboxID int64, uid uint32, spam bool) string {
	dir := "ham"
	if spam {
		dir = "spam"
	}
	return "learn:" + dir + ":" + strconv.FormatInt(mailboxID, 10) + ":" + strconv.FormatUint(uint64(uid), 10)
}

// parseJobID reads jobID's form back.
func parseJobID(id string) (mailboxID int64, uid uint32, spam bool, err error) {
	parts := strings.Split(id, ":")
	if len(parts) != 4 || parts[0] != "learn" || (parts[1] != "spam" && parts[1] != "ham") {
		return 0, 0, false, fmt.Errorf("learn: bad job id %q", id)
	}
	mb, err1 := strconv.ParseInt(parts[2], 10, 64)
	u, err2 := strconv.ParseUint(parts[3], 10, 32)
	if err1 != nil || err2 != nil || mb <= 0 || u == 0 {
		return 0, 0, false, fmt.Errorf("learn: bad job id %q", id)
	}
	return mb, uint32(u), parts[1] == "spam", nil
}

// Filed queues a job per message; a failure is logged (learning is best
// effort), never returned to the IMAP client.
func (l *Queue) Filed(ctx context.Context, mailboxID int64, uids []uint32, spam bool) {
	jobs := make([]queue.Job, len(uids))
	for i, u := range uids {
		jobs[i] = queue.Job{ID: jobID(mailboxID, u, spam), Queue: QueueName}
	}
	if err := l.q.EnqueueMany(context.WithoutCancel(ctx), jobs); err != nil {
		l.log.Warn("learn: queueing failed; these messages are not learnt", "mailbox", mailboxID, "messages", len(uids), "spam", spam, "err", err)
	}
}

// Store reads messages; *store.Store satisfies it.
type Store interface {
	Message(ctx context.Context, mailboxID int64, uid uint32) (*store.Message, error)
}

// Learner teaches a message; *rspamd.Client satisfies it.
type Learner interface {
	Learn(ctx context.Context, msg []byte, spam bool) error
}

// Handler runs learning jobs.
type Handler struct {
	st  Store
	rs  Learner
	log *slog.Logger
}

// NewHandler returns the queue.Handler of QueueName.
func NewHandler(st Store, rs Learner, log *slog.Logger) *Handler {
	return &Handler{st: st, rs: rs, log: log}
}

// Handle learns the job's message: a bad ID is a permanent job error, a
// message gone is done, an rspamd failure is tried again by the queue.
func (h *Handler) Handle(ctx context.Context, j *queue.Job) error {
	mb, uid, spam, err := parseJobID(j.ID)
	if err != nil {
		return queue.Permanent(err)
	}
	m, err := h.st.Message(ctx, mb, uid)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if err := h.rs.Learn(ctx, m.Raw, spam); err != nil {
		var re *rspamd.Error
		if errors.As(err, &re) && re.Status >= 400 && re.Status < 500 {
			// Refused (a wrong password, a message it will not
			// learn): trying again would not help.
			h.log.Warn("learn: rspamd refused", "job", j.ID, "err", err)
			return queue.Permanent(err)
		}
		return err
	}
	h.log.Debug("learn: learnt", "job", j.ID)
	return nil
}
