package queue

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// Source is what the sweeper needs from the system of record: the jobs that
// are due. The store implements it.
type Source interface {
	// Due returns up to limit jobs of queue whose work is due at or before
	// before, in an order of the source's choosing, starting after cursor
	// ("" for the first page), and the cursor of the next page ("" when
	// there are no more).
	Due(ctx context.Context, queue string, before time.Time, cursor string, limit int) (jobs []Job, next string, err error)
}

// SweeperOptions configure a Sweeper.
type SweeperOptions struct {
	// Queues to sweep. Required.
	Queues []string
	// Interval between sweeps. Default 30 s.
	Interval time.Duration
	// Batch is how many jobs one call of Source.Due returns and one
	// script checks. Default 500.
	Batch int
	// Grace leaves alone jobs that became due less than Grace ago, to give
	// the normal enqueue after a commit time to happen. Default 0.
	Grace time.Duration
}

// Sweeper re-enqueues jobs the store says are due but Redis does not hold
// (not ready, not in flight, not delayed, not dead), so that losing Redis
// loses no work. Run it on every node: sweeps are idempotent.
//
// The check is one Lua script per batch that looks each ID up in the queue's
// live index and verifies the entry it points at. Races are harmless but can
// run a job twice: a job that a worker finishes between Source.Due and the
// script is enqueued again, and its (idempotent) handler then finds nothing
// to do. A job dead-lettered in Redis is not re-enqueued; after Redis lost
// its dead letters, jobs the store still calls due come back and are tried
// again.
type Sweeper struct {
	c    *Client
	src  Source
	log  *slog.Logger
	opts SweeperOptions
}

// NewSweeper returns a Sweeper that restores jobs from src through c.
func NewSweeper(c *Client, src Source, log *slog.Logger, opts SweeperOptions) *Sweeper {
	if opts.Interval <= 0 {
		opts.Interval = 30 * time.Second
	}
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	return &Sweeper{c: c, src: src, log: log, opts: opts}
}

// Run sweeps at once and then every Interval until ctx is done. Failures are
// logged and the next sweep tries again. It returns ctx's error.
func (s *Sweeper) Run(ctx context.Context) error {
	for {
		s.sweepLogged(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.opts.Interval):
		}
	}
}

func (s *Sweeper) sweepLogged(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("queue: panic in sweeper", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	n, err := s.Sweep(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("queue: sweep failed", "err", err, "restored", n)
	}
}

// Sweep makes one pass over every queue and returns how many jobs it
// restored. It goes on with the other queues when one fails and returns the
// first error.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	total := 0
	var first error
	for _, q := range s.opts.Queues {
		n, err := s.sweepQueue(ctx, q)
		total += n
		if n > 0 {
			s.log.Warn("queue: restored due jobs that Redis had lost", "queue", q, "count", n)
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return total, first
}

func (s *Sweeper) sweepQueue(ctx context.Context, queue string) (int, error) {
	before := time.Now().Add(-s.opts.Grace)
	cursor := ""
	total := 0
	for {
		jobs, next, err := s.src.Due(ctx, queue, before, cursor, s.opts.Batch)
		if err != nil {
			return total, fmt.Errorf("queue: sweep %s: due jobs: %w", queue, err)
		}
		if len(jobs) > 0 {
			for i := range jobs {
				jobs[i].Queue = queue
			}
			n, err := s.c.restore(ctx, queue, jobs)
			total += n
			if err != nil {
				return total, fmt.Errorf("queue: sweep %s: %w", queue, err)
			}
		}
		if next == "" || next == cursor {
			return total, nil
		}
		cursor = next
	}
}
