package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// WorkerOptions configure a Worker. The zero value is usable.
type WorkerOptions struct {
	// Consumer names the worker in the consumer groups. Default:
	// hostname-pid-random, unique per Worker.
	Consumer string
	// ShutdownTimeout is how long Run lets running handlers finish after
	// its context is done; then it cancels their contexts and leaves their
	// jobs pending, to be reclaimed after the lease. Default 10 s.
	ShutdownTimeout time.Duration
	// Block is the longest one XREADGROUP waits for a job; it bounds how
	// long Run takes to stop reading. Default 1 s.
	Block time.Duration
}

// HandlerOptions configure how a Worker runs the handler of one queue. The
// zero value is usable.
type HandlerOptions struct {
	// Concurrency is how many jobs of the queue run at once. Default 10.
	Concurrency int
	// Lease is how long a job may sit in flight without word from its
	// worker before another worker reclaims it. A live worker renews the
	// lease of its running jobs every Lease/3, so Lease bounds how long a
	// job waits after its worker died, not how long a handler may run.
	// Default 5 min.
	Lease time.Duration
	// MaxDeliveries is how many times one copy of a job is handed to
	// workers (the first delivery and reclaims after workers died) before
	// it is dead-lettered. Default 5.
	MaxDeliveries int
	// MaxAttempts dead-letters a job whose handler failed this many times
	// in a row; 0, the default, means no limit: the caller's handler ends
	// a job by returning ErrPermanent.
	MaxAttempts int
	// Backoff is the delay before the next attempt after the attempt-th
	// failure (1 after the first) when the handler returns a plain error.
	// Default DefaultBackoff.
	Backoff func(attempt int) time.Duration
	// Timeout bounds one run of the handler (its context is cancelled);
	// 0, the default, means none.
	Timeout time.Duration
	// MoverInterval is the longest the mover waits between looks for due
	// delayed jobs; it wakes sooner when it knows the next due time.
	// Default 500 ms.
	MoverInterval time.Duration
}

// Worker runs handlers for jobs of one or more queues: register them with
// Handle, then call Run. For each job it calls the handler and then
//
//   - on nil: acknowledges and deletes the job;
//   - on an error wrapping ErrPermanent, or the MaxAttempts-th failure: moves
//     the job to the dead letters with the error;
//   - on a *RetryError: schedules the next attempt at its At;
//   - on any other error or a panic: schedules the next attempt after
//     Backoff(Attempt+1).
//
// A retry is a new copy of the job with Attempt one higher and LastError set.
type Worker struct {
	c      *Client
	log    *slog.Logger
	opts   WorkerOptions
	queues []*runner

	running   atomic.Bool
	abandoned atomic.Bool // handlers were cancelled at shutdown: leave their jobs pending
	returned  atomic.Bool // Run returned: late handlers touch nothing
}

// NewWorker returns a Worker that takes jobs through c and logs to log.
func NewWorker(c *Client, log *slog.Logger, opts WorkerOptions) *Worker {
	if opts.Consumer == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		rand.Read(b)
		opts.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.Block <= 0 {
		opts.Block = time.Second
	}
	return &Worker{c: c, log: log.With("consumer", opts.Consumer), opts: opts}
}

// Consumer returns the worker's consumer name in the groups.
func (w *Worker) Consumer() string { return w.opts.Consumer }

// Handle registers h for queue. Call it before Run, once per queue.
func (w *Worker) Handle(queue string, h Handler, opts HandlerOptions) error {
	if w.running.Load() {
		return errors.New("queue: Handle after Run")
	}
	k, err := keysOf(queue)
	if err != nil {
		return err
	}
	for _, r := range w.queues {
		if r.name == queue {
			return fmt.Errorf("queue: %s handled twice", queue)
		}
	}
	if h == nil {
		return fmt.Errorf("queue: nil handler for %s", queue)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 10
	}
	if opts.Lease <= 0 {
		opts.Lease = 5 * time.Minute
	}
	if opts.MaxDeliveries <= 0 {
		opts.MaxDeliveries = 5
	}
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff
	}
	if opts.MoverInterval <= 0 {
		opts.MoverInterval = 500 * time.Millisecond
	}
	w.queues = append(w.queues, &runner{
		w: w, name: queue, k: k, h: h, o: opts,
		log:      w.log.With("queue", queue),
		sem:      make(chan struct{}, opts.Concurrency),
		inflight: map[string]bool{},
		acks:     make(chan ackReq),
	})
	return nil
}

// Run takes and handles jobs until ctx is done, then stops reading, lets
// running handlers finish for up to ShutdownTimeout, cancels the rest (their
// jobs stay pending and are reclaimed after the lease) and returns. It
// returns an error only if it cannot start or had to abandon handlers.
// Redis being unreachable is logged and retried, never returned.
func (w *Worker) Run(ctx context.Context) error {
	if len(w.queues) == 0 {
		return errors.New("queue: Run without any Handle")
	}
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("queue: Run called twice")
	}
	for _, r := range w.queues {
		if err := r.ensureGroup(ctx); err != nil {
			r.log.Warn("queue: cannot create consumer group yet; will retry", "err", err)
		}
	}
	// Handlers and the lease keeper outlive ctx until shutdown is over.
	hctx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()
	bctx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()

	var fetchers, handlers, background sync.WaitGroup
	for _, r := range w.queues {
		r.ackerCtx = bctx
		w.goSafe(&fetchers, r.log, "fetcher", func() { r.fetch(ctx, hctx, &handlers) })
		w.goSafe(&background, r.log, "mover", func() { r.move(bctx) })
		w.goSafe(&background, r.log, "lease keeper", func() { r.keepLeases(bctx) })
		w.goSafe(&background, r.log, "acker", func() { r.ackLoop(bctx) })
	}
	<-ctx.Done()
	fetchers.Wait()

	var err error
	done := make(chan struct{})
	go func() { handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.opts.ShutdownTimeout):
		w.abandoned.Store(true)
		hardStop()
		select {
		case <-done:
		case <-time.After(time.Second):
			err = errors.New("queue: handlers still running after shutdown timeout; their jobs stay pending for reclaim")
			w.log.Error(err.Error())
		}
	}
	stopBackground()
	background.Wait()

	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	for _, r := range w.queues {
		// Forget this consumer if it holds nothing; with jobs pending it
		// must stay, for XAUTOCLAIM to take them.
		scriptDeleteConsumers.Run(cctx, w.c.rdb, r.k, group, 0, w.opts.Consumer)
	}
	w.returned.Store(true)
	return err
}

// goSafe runs fn in a goroutine counted by wg, logging a panic.
func (w *Worker) goSafe(wg *sync.WaitGroup, log *slog.Logger, what string, fn func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if p := recover(); p != nil {
				log.Error("queue: panic in "+what, "panic", p, "stack", string(debug.Stack()))
			}
		}()
		fn()
	}()
}

// runner handles one queue for a Worker.
type runner struct {
	w    *Worker
	name string
	k    keys
	h    Handler
	o    HandlerOptions
	log  *slog.Logger
	sem  chan struct{} // one token per running handler

	mu       sync.Mutex
	inflight map[string]bool // entry IDs this worker is running

	cursor   string          // where the next XAUTOCLAIM starts; fetch's own
	acks     chan ackReq     // successes, acknowledged in batches by ackLoop
	ackerCtx context.Context // done when ackLoop no longer takes requests
}

type ackReq struct {
	eid, id string
	done    chan error
}

// ackLoop acknowledges successful jobs, all that are waiting in one script
// call: under load this saves most round trips, when idle it costs nothing.
func (r *runner) ackLoop(ctx context.Context) {
	const batch = 128
	for {
		var reqs []ackReq
		select {
		case <-ctx.Done():
			return
		case req := <-r.acks:
			reqs = append(reqs, req)
		}
	more:
		for len(reqs) < batch {
			select {
			case req := <-r.acks:
				reqs = append(reqs, req)
			default:
				break more
			}
		}
		args := make([]any, 0, 1+2*len(reqs))
		args = append(args, group)
		for _, q := range reqs {
			args = append(args, q.eid, q.id)
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := scriptAckMany.Run(cctx, r.w.c.rdb, r.k, args...).Err()
		cancel()
		for _, q := range reqs {
			q.done <- err
		}
	}
}

// ack acknowledges a successful job through ackLoop, or itself when
// ackLoop is gone.
func (r *runner) ack(eid, id string) error {
	req := ackReq{eid: eid, id: id, done: make(chan error, 1)}
	select {
	case r.acks <- req:
		return <-req.done
	case <-r.ackerCtx.Done():
		return errors.New("acker stopped")
	}
}

type delivery struct {
	eid string
	job *Job
}

func (r *runner) ensureGroup(ctx context.Context) error {
	err := r.w.c.rdb.XGroupCreateMkStream(ctx, r.k.stream(), group, "0").Err()
	if err != nil && !isBusyGroup(err) {
		return fmt.Errorf("queue: create group of %s: %w", r.name, err)
	}
	return nil
}

func isBusyGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "BUSYGROUP") }

func (r *runner) reclaimEvery() time.Duration {
	return min(max(r.o.Lease/4, 50*time.Millisecond), 30*time.Second)
}

// fetch reads jobs (reclaimed ones first, then new ones) whenever a handler
// slot is free, until ctx is done.
func (r *runner) fetch(ctx, hctx context.Context, handlers *sync.WaitGroup) {
	nextReclaim := time.Now() // at once: a crashed predecessor may have left jobs
	var trouble errLog
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		select {
		case r.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	more:
		for n < r.o.Concurrency {
			select {
			case r.sem <- struct{}{}:
				n++
			default:
				break more
			}
		}
		// Reads are not cancelled by ctx: a read cut short could leave
		// jobs delivered to us that nobody runs until the lease ends.
		rctx := context.WithoutCancel(ctx)
		var jobs []delivery
		var err error
		if !time.Now().Before(nextReclaim) {
			jobs, err = r.reclaim(rctx, n)
			nextReclaim = time.Now().Add(r.reclaimEvery())
			if r.cursor != "0-0" {
				// More of the pending list to scan: go on at once.
				nextReclaim = time.Now()
			}
		}
		if err == nil && len(jobs) < n {
			wait := max(min(r.w.opts.Block, time.Until(nextReclaim)), 10*time.Millisecond)
			var more []delivery
			more, err = r.read(rctx, n-len(jobs), wait)
			jobs = append(jobs, more...)
		}
		for range n - len(jobs) {
			<-r.sem
		}
		for _, d := range jobs {
			r.w.goSafe(handlers, r.log, "handler", func() {
				defer func() { <-r.sem }()
				r.run(hctx, d)
			})
		}
		if err == nil {
			trouble.ok(r.log, "queue: reading jobs again")
			pause = 100 * time.Millisecond
			continue
		}
		if isNoGroup(err) {
			// Redis lost the stream (flushed, restarted empty).
			if gerr := r.ensureGroup(rctx); gerr == nil {
				r.log.Warn("queue: consumer group was missing; recreated it")
				continue
			}
		}
		trouble.fail(r.log, "queue: cannot read jobs; retrying", err)
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

func (r *runner) read(ctx context.Context, n int, wait time.Duration) ([]delivery, error) {
	res, err := r.w.c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group, Consumer: r.w.opts.Consumer, Streams: []string{r.k.stream(), ">"},
		Count: int64(n), Block: wait,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []delivery
	for _, s := range res {
		for _, m := range s.Messages {
			j, err := jobFromEntry(r.name, m)
			if err != nil {
				r.log.Error("queue: dropping unreadable entry", "entry", m.ID, "err", err)
				scriptAck.Run(ctx, r.w.c.rdb, r.k, group, m.ID, "")
				continue
			}
			j.Deliveries = 1
			out = append(out, delivery{eid: m.ID, job: j})
		}
	}
	return out, nil
}

// reclaim takes over up to n jobs whose lease ran out.
func (r *runner) reclaim(ctx context.Context, n int) ([]delivery, error) {
	if r.cursor == "" {
		r.cursor = "0-0"
	}
	res, err := scriptReclaim.Run(ctx, r.w.c.rdb, r.k, group, r.w.opts.Consumer,
		r.o.Lease.Milliseconds(), n, r.o.MaxDeliveries, time.Now().UnixMilli(), r.cursor).Slice()
	if err != nil {
		r.cursor = "0-0"
		return nil, err
	}
	if len(res) != 3 {
		return nil, fmt.Errorf("queue: reclaim: bad reply %v", res)
	}
	r.cursor, _ = res[2].(string)
	if nd, _ := res[1].(int64); nd > 0 {
		r.log.Error("queue: dead-lettered jobs that kept killing workers", "count", nd, "max_deliveries", r.o.MaxDeliveries)
	}
	items, _ := res[0].([]any)
	var out []delivery
	for _, it := range items {
		f, _ := it.([]any)
		if len(f) != 4 {
			continue
		}
		eid, _ := f[0].(string)
		id, _ := f[1].(string)
		blob, _ := f[2].(string)
		dn, _ := f[3].(int64)
		j, err := decodeJob(r.name, id, blob)
		if err != nil {
			r.log.Error("queue: dropping unreadable entry", "entry", eid, "err", err)
			scriptAck.Run(ctx, r.w.c.rdb, r.k, group, eid, id)
			continue
		}
		j.Deliveries = int(dn)
		r.log.Warn("queue: reclaimed a job whose worker went silent", "job", id, "deliveries", dn)
		out = append(out, delivery{eid: eid, job: j})
	}
	return out, nil
}

// run calls the handler for one job and settles the job by the result.
func (r *runner) run(ctx context.Context, d delivery) {
	r.mu.Lock()
	r.inflight[d.eid] = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.inflight, d.eid)
		r.mu.Unlock()
	}()

	err := r.call(ctx, d.job)
	if r.w.returned.Load() || err != nil && r.w.abandoned.Load() {
		r.log.Warn("queue: shutdown cut a job short; it stays pending for reclaim", "job", d.job.ID)
		return
	}
	r.settle(d, err)
}

func (r *runner) call(ctx context.Context, j *Job) (err error) {
	if r.o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.o.Timeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("queue: handler panicked", "job", j.ID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return r.h.Handle(ctx, j)
}

const maxErrorLen = 2000

func errText(err error) string {
	s := err.Error()
	if len(s) > maxErrorLen {
		s = s[:maxErrorLen] + "…"
	}
	return s
}

// settle acknowledges, retries or dead-letters a job after its handler
// returned err. If Redis cannot be told, the job stays pending and is
// reclaimed after the lease.
func (r *runner) settle(d delivery, err error) {
	j := d.job
	now := time.Now()
	log := r.log.With("job", j.ID, "attempt", j.Attempt, "deliveries", j.Deliveries)
	var (
		script *redis.Script
		args   []any
		what   string
	)
	var re *RetryError
	switch {
	case err == nil:
		if r.ack(d.eid, j.ID) == nil {
			return
		}
		script, args, what = scriptAck, []any{group, d.eid, j.ID}, "ack"
	case errors.Is(err, ErrPermanent) || r.o.MaxAttempts > 0 && j.Attempt+1 >= r.o.MaxAttempts:
		text := errText(err)
		if !errors.Is(err, ErrPermanent) {
			text = fmt.Sprintf("gave up after %d attempts: %s", j.Attempt+1, text)
		}
		dj := *j
		dj.LastError = text
		blob, eerr := encodeJob(&dj)
		if eerr != nil {
			log.Error("queue: cannot dead-letter job", "err", eerr)
			return
		}
		script, args, what = scriptDead, []any{group, d.eid, j.ID, blob, text, now.UnixMilli()}, "dead-letter"
		log.Error("queue: job failed for good; dead-lettered", "err", text)
	default:
		var at time.Time
		if errors.As(err, &re) {
			at = re.At
		} else {
			at = now.Add(r.o.Backoff(j.Attempt + 1))
		}
		nj := *j
		nj.Attempt++
		nj.LastError = errText(err)
		nj.Deliveries = 0
		blob, eerr := encodeJob(&nj)
		if eerr != nil {
			log.Error("queue: cannot retry job", "err", eerr)
			return
		}
		script, args, what = scriptRetry, []any{group, d.eid, j.ID, blob, at.UnixMilli(), now.UnixMilli()}, "retry"
		log.Info("queue: job failed; will retry", "err", nj.LastError, "at", at)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rerr error
	for try, pause := 0, 100*time.Millisecond; try < 4; try, pause = try+1, pause*3 {
		if rerr = script.Run(ctx, r.w.c.rdb, r.k, args...).Err(); rerr == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
	log.Error("queue: cannot "+what+" job; it stays pending and is reclaimed after the lease", "err", rerr)
}

// keepLeases renews the lease of this worker's running jobs every Lease/3.
func (r *runner) keepLeases(ctx context.Context) {
	t := time.NewTicker(max(r.o.Lease/3, 20*time.Millisecond))
	defer t.Stop()
	var trouble errLog
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		eids := make([]any, 0, len(r.inflight))
		for eid := range r.inflight {
			eids = append(eids, eid)
		}
		r.mu.Unlock()
		var err error
		for chunk := range slices.Chunk(eids, 500) {
			args := append([]any{group, r.w.opts.Consumer}, chunk...)
			if err = scriptHeartbeat.Run(ctx, r.w.c.rdb, r.k, args...).Err(); err != nil {
				break
			}
		}
		if err != nil && ctx.Err() == nil {
			trouble.fail(r.log, "queue: cannot renew leases", err)
		} else {
			trouble.ok(r.log, "queue: renewing leases again")
		}
	}
}

// move brings due delayed jobs to the stream: at least every MoverInterval,
// and at the next due time if that is sooner. Every ten minutes it also
// deletes consumers that have been idle for an hour with nothing pending.
func (r *runner) move(ctx context.Context) {
	const batch = 1000
	var trouble errLog
	nextPrune := time.Now().Add(time.Minute)
	for {
		wait := r.o.MoverInterval
		res, err := scriptMove.Run(ctx, r.w.c.rdb, r.k, time.Now().UnixMilli(), batch).Int64Slice()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			trouble.fail(r.log, "queue: cannot move due jobs", err)
		case len(res) == 2:
			trouble.ok(r.log, "queue: moving due jobs again")
			if res[0] == batch {
				continue
			}
			if res[1] >= 0 {
				wait = min(wait, max(time.Until(time.UnixMilli(res[1])), 2*time.Millisecond))
			}
		}
		if time.Now().After(nextPrune) {
			nextPrune = time.Now().Add(10 * time.Minute)
			if n, err := scriptDeleteConsumers.Run(ctx, r.w.c.rdb, r.k, group, time.Hour.Milliseconds()).Int(); err == nil && n > 0 {
				r.log.Info("queue: deleted idle consumers with nothing pending", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// errLog logs the first failure of a loop, then at most every 30 s, and the
// recovery.
type errLog struct {
	failing bool
	last    time.Time
}

func (e *errLog) fail(log *slog.Logger, msg string, err error) {
	if !e.failing || time.Since(e.last) > 30*time.Second {
		log.Warn(msg, "err", err)
		e.last = time.Now()
	}
	e.failing = true
}

func (e *errLog) ok(log *slog.Logger, msg string) {
	if e.failing {
		log.Info(msg)
	}
	e.failing = false
}
