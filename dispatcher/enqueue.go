package dispatcher

import (
	"context"
	"log/slog"
	"sync/atomic"

	"congthu/queue"
)

// Enqueuer queues outbox entries for delivery as jobs of Queue. It is made
// from the queue client before the store opens, so that its Add can be
// the outbox's Options.Added callback; Run does the enqueueing.
type Enqueuer struct {
	q       *queue.Client
	log     *slog.Logger
	ch      chan int64   // outbox IDs to enqueue, from Add
	dropped atomic.Int64 // Add calls dropped because ch was full
}

// NewEnqueuer returns an Enqueuer over q.
func NewEnqueuer(q *queue.Client, log *slog.Logger) *Enqueuer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Enqueuer{q: q, log: log, ch: make(chan int64, 8192)}
}

// Add asks for the delivery of an outbox entry at once. It never blocks:
// the job is handed to Run; if that is behind (Redis down), the sweeper
// finds the entry later.
func (e *Enqueuer) Add(outboxID int64) {
	select {
	case e.ch <- outboxID:
	default:
		if e.dropped.Add(1)%1000 == 1 {
			e.log.Warn("dispatcher: enqueue backlog full; the sweeper will pick the entries up", "outbox", outboxID)
		}
	}
}

// Run enqueues what Add is given until ctx is done. The IDs that arrived
// while one round trip ran go together in the next (one pipeline), so a
// burst of commits costs a few round trips, not one each.
func (e *Enqueuer) Run(ctx context.Context) error {
	jobs := make([]queue.Job, 0, enqueueBatch)
	for {
		select {
		case <-ctx.Done():
			return nil
		case id := <-e.ch:
			jobs = append(jobs[:0], queue.Job{ID: JobID(id), Queue: Queue})
		}
	drain:
		for len(jobs) < enqueueBatch {
			select {
			case id := <-e.ch:
				jobs = append(jobs, queue.Job{ID: JobID(id), Queue: Queue})
			default:
				break drain
			}
		}
		if err := e.q.EnqueueMany(ctx, jobs); err != nil && ctx.Err() == nil {
			e.log.Warn("dispatcher: cannot enqueue; the sweeper will", "outbox", jobs[0].ID, "jobs", len(jobs), "err", err)
		}
	}
}

// enqueueBatch is the most jobs Run sends in one round trip.
const enqueueBatch = 256
