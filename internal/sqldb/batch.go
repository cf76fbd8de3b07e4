package sqldb

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Batcher is the group commit, for writes that many goroutines make at
// once (deliveries, a notification's status changes): concurrent calls are
// run in one transaction, with one commit and one WAL sync. If the shared
// transaction fails, each call is retried in a transaction of its own, so
// one bad call fails alone.
//
// On SQLite the batches run one after another on the only writer, and the
// wait for a batch's WAL sync happens outside it: the next batch (made of
// what arrived meanwhile) executes while the previous one's fdatasync is
// in flight. Callers of a NewBatcher get their result at the commit, with
// a function that waits for the sync covering it (begun at the commit), so
// they can do other work (queue jobs) meanwhile; Do waits at once. Callers
// of a NewDurableBatcher get theirs once the batch is durable and its hook
// has run. On PostgreSQL, whose COMMIT returns once durable, up to
// BatcherOptions.InFlight batches run at once on their own connections.
type Batcher[Q, R any] struct {
	db *DB
	// run stores the requests in one transaction (WriteTxNoSync: the
	// batcher's callers wait for durability) and returns one result and
	// one error per request (a request that failed alone wrote nothing),
	// or an error of the transaction as a whole.
	run  func(ctx context.Context, reqs []Q) ([]R, []error, error)
	opts BatcherOptions
	// after, if set, is called with a request's result once it is
	// durable, before its caller has it.
	after func(R)
	// durable, if set, is called with a batch's results once it is
	// durable, before its callers have them (NewDurableBatcher).
	durable func(rs []R, errs []error)

	mu     sync.RWMutex
	closed bool
	reqs   chan *txItem[Q, R]
	done   chan struct{}

	// syncing counts the WAL syncs started for committed batches, which
	// Close waits for: a commit's callers are told it is durable, not
	// that the database closed under it.
	syncing sync.WaitGroup

	batches, items atomic.Int64 // transactions run and requests in them
}

// BatcherOptions tunes a Batcher; the zero value is the default of the
// small writes (notifications, SMS).
type BatcherOptions struct {
	// Max is the most requests in one transaction (default 256).
	Max int
	// Queue is how many requests may wait for a batch (default 256).
	Queue int
	// InFlight is how many batches run at once on PostgreSQL (default 2;
	// SQLite's one writer runs one).
	InFlight int
	// NoGather: a batch never waits for more requests; it takes what is
	// waiting when the writer is free. Otherwise, on SQLite, a batch
	// smaller than the previous one waits up to a millisecond to fill.
	NoGather bool
}

type txItem[Q, R any] struct {
	ctx context.Context
	req Q
	res chan txResult[R]
}

type txResult[R any] struct {
	r   R
	seq uint64 // the commit's number (SQLite)
	err error
}

const (
	txBatchMax      = 256
	txBatchInFlight = 2 // PostgreSQL
	// txBatchGather is how long a batch may wait to fill up to the size of
	// the previous one (at most txBatchGatherMax requests).
	txBatchGather    = time.Millisecond
	txBatchGatherMax = 16
)

// NewBatcher starts a group commit on db. run stores the requests it is
// given in one transaction (WriteTxNoSync: the batcher's callers wait for
// durability) and returns one result and one error per request (a request
// that failed alone must have written nothing), or an error of the
// transaction as a whole. after, if set, is called with a request's result
// once it is durable, before its caller has it. db.Close stops the
// batcher (as does Close).
func NewBatcher[Q, R any](db *DB, opts BatcherOptions, run func(ctx context.Context, reqs []Q) ([]R, []error, error), after func(R)) *Batcher[Q, R] {
	return newBatcher(db, opts, run, after, nil)
}

// NewDurableBatcher starts a group commit on db whose callers are answered
// only once their batch is durable, as Deliver's callers are: a
// committed batch waits for its WAL sync on a goroutine of its own (the
// next batch runs meanwhile), then durable is called once with the
// results and errors of all its requests (in run's order), whether or not
// their callers are still waiting, and then the callers have their
// results. DoCommitted's durable function has nothing left to wait for.
func NewDurableBatcher[Q, R any](db *DB, opts BatcherOptions, run func(ctx context.Context, reqs []Q) ([]R, []error, error), durable func(rs []R, errs []error)) *Batcher[Q, R] {
	return newBatcher(db, opts, run, nil, durable)
}

func newBatcher[Q, R any](db *DB, opts BatcherOptions, run func(ctx context.Context, reqs []Q) ([]R, []error, error), after func(R), durable func([]R, []error)) *Batcher[Q, R] {
	if opts.Max <= 0 {
		opts.Max = txBatchMax
	}
	if opts.Queue <= 0 {
		opts.Queue = txBatchMax
	}
	if opts.InFlight <= 0 {
		opts.InFlight = txBatchInFlight
	}
	b := &Batcher[Q, R]{db: db, run: run, opts: opts, after: after, durable: durable, reqs: make(chan *txItem[Q, R], opts.Queue), done: make(chan struct{})}
	db.mu.Lock()
	if db.closed {
		b.closed = true
		close(b.reqs)
	} else {
		db.batchers = append(db.batchers, b)
	}
	db.mu.Unlock()
	go b.loop()
	return b
}

// Do runs req in the next batch and returns its result once durable.
func (b *Batcher[Q, R]) Do(ctx context.Context, req Q) (R, error) {
	r, durable, err := b.DoCommitted(ctx, req)
	if err != nil {
		return r, err
	}
	if err := durable(); err != nil {
		var zero R
		return zero, err
	}
	return r, nil
}

// DoCommitted runs req in the next batch and returns its result once
// committed, with a function that returns once the commit is durable (or
// the sync failed): nothing may be acknowledged before it returned nil.
func (b *Batcher[Q, R]) DoCommitted(ctx context.Context, req Q) (R, func() error, error) {
	var zero R
	it := &txItem[Q, R]{ctx: ctx, req: req, res: make(chan txResult[R], 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return zero, nil, ErrClosed
	}
	select {
	case b.reqs <- it:
	case <-ctx.Done():
		b.mu.RUnlock()
		return zero, nil, ctx.Err()
	}
	b.mu.RUnlock()
	var res txResult[R]
	select {
	case res = <-it.res:
	case <-ctx.Done():
		// It may still commit: status changes are idempotent.
		return zero, nil, ctx.Err()
	}
	if res.err != nil {
		// A request that failed alone wrote nothing, but its error may
		// come from what another one of the batch wrote: it is said
		// once that is durable.
		if err := b.db.WaitDurable(res.seq); err != nil {
			return zero, nil, err
		}
		return zero, nil, res.err
	}
	return res.r, func() error {
		if err := b.db.WaitDurable(res.seq); err != nil {
			return err
		}
		if b.after != nil {
			b.after(res.r)
		}
		return nil
	}, nil
}

// Close runs what was submitted and stops, once the WAL syncs of its
// commits have returned.
func (b *Batcher[Q, R]) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	close(b.reqs)
	b.mu.Unlock()
	<-b.done
}

func (b *Batcher[Q, R]) loop() {
	inFlight := 1 // SQLite's one writer
	if !b.db.SyncsAfterCommit() {
		inFlight = b.opts.InFlight
	}
	sem := make(chan struct{}, inFlight)
	defer func() {
		for range inFlight {
			sem <- struct{}{}
		}
		b.syncing.Wait()
		close(b.done)
	}()
	last := 0 // size of the previous batch
	for first := range b.reqs {
		// Take a slot first: what arrives meanwhile joins this batch.
		sem <- struct{}{}
		batch := []*txItem[Q, R]{first}
		// Under concurrent load (the previous batch had several
		// requests) a smaller batch waits up to txBatchGather for more,
		// as PostgreSQL's commit_delay does: a commit's cost is mostly
		// per batch (the pages it writes), so fewer, fuller batches do
		// more per second. A lone request never waits.
		want := 0
		if inFlight == 1 && last > 1 && !b.opts.NoGather {
			want = min(last, txBatchGatherMax)
		}
		batch = GatherBatch(b.reqs, batch, b.opts.Max, want, txBatchGather)
		last = len(batch)
		if inFlight == 1 {
			// On the loop's own goroutine: no goroutine to start (and
			// grow a stack for) per batch.
			b.runBatch(batch)
			<-sem
			continue
		}
		go func() {
			defer func() { <-sem }()
			b.runBatch(batch)
		}()
	}
}

// GatherBatch appends to batch what ch holds, up to max items; while the
// batch is smaller than want it waits for more, at most wait in all. It
// returns early when ch is closed.
func GatherBatch[T any](ch <-chan T, batch []T, max, want int, wait time.Duration) []T {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for len(batch) < max {
		select {
		case it, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, it)
			continue
		default:
		}
		if len(batch) >= want {
			return batch
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		}
		select {
		case it, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, it)
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// runBatch executes a batch, starts the WAL sync that covers it and hands
// out the results.
func (b *Batcher[Q, R]) runBatch(batch []*txItem[Q, R]) {
	live := batch[:0]
	for _, it := range batch {
		if err := it.ctx.Err(); err != nil {
			it.res <- txResult[R]{err: err}
			continue
		}
		live = append(live, it)
	}
	if len(live) == 0 {
		return
	}
	b.batches.Add(1)
	b.items.Add(int64(len(live)))
	reqs := make([]Q, len(live))
	for i, it := range live {
		reqs[i] = it.req
	}
	rs, errs, err := b.exec(reqs)
	if err == nil && (len(rs) != len(live) || len(errs) != len(live)) {
		err = fmt.Errorf("store: internal error: batched transaction returned %d results and %d errors for %d requests", len(rs), len(errs), len(live))
	}
	if err != nil && len(live) > 1 {
		b.db.log.Warn("store: batched transaction failed, retrying its requests one by one", "requests", len(live), "err", err)
		for _, it := range live {
			b.runBatch([]*txItem[Q, R]{it})
		}
		return
	}
	if err == nil && b.durable != nil {
		b.finishDurable(live, rs, errs)
		return
	}
	var seq uint64
	if err == nil && b.db.SyncsAfterCommit() {
		seq = b.db.Committed() // taken after the commit returned
		// Start the sync now; callers wait for it.
		b.syncing.Add(1)
		go func() {
			defer b.syncing.Done()
			b.db.WaitDurable(seq)
		}()
	}
	for i, it := range live {
		switch {
		case err != nil:
			it.res <- txResult[R]{err: err}
		case errs[i] != nil:
			it.res <- txResult[R]{err: errs[i], seq: seq}
		default:
			it.res <- txResult[R]{r: rs[i], seq: seq}
		}
	}
}

// finishDurable answers a committed batch of a batcher with a Durable
// hook: once the commit is durable, the hook runs, then every caller has
// its result. On SQLite this happens on a goroutine of its own, so the next
// batch runs while this one's WAL sync is in flight.
func (b *Batcher[Q, R]) finishDurable(live []*txItem[Q, R], rs []R, errs []error) {
	finish := func(syncErr error) {
		if syncErr != nil {
			b.db.log.Error("store: WAL sync failed after a group commit", "requests", len(live), "err", syncErr)
			for _, it := range live {
				it.res <- txResult[R]{err: syncErr}
			}
			return
		}
		b.durable(rs, errs)
		for i, it := range live {
			if errs[i] != nil {
				it.res <- txResult[R]{err: errs[i]}
			} else {
				it.res <- txResult[R]{r: rs[i]}
			}
		}
	}
	if !b.db.SyncsAfterCommit() {
		finish(nil)
		return
	}
	seq := b.db.Committed() // taken after the commit returned
	b.syncing.Add(1)
	go func() {
		defer b.syncing.Done()
		finish(b.db.WaitDurable(seq))
	}()
}

// exec runs one batch, recovering a panic.
func (b *Batcher[Q, R]) exec(reqs []Q) (rs []R, errs []error, err error) {
	defer func() {
		if p := recover(); p != nil {
			b.db.log.Error("store: panic in batched transaction", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("store: internal error in batched transaction: %v", p)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), txBatchTimeout)
	defer cancel()
	return b.run(ctx, reqs)
}

const txBatchTimeout = 2 * time.Minute // as the delivery group commit

// Stats returns how many transactions the batcher ran and how many
// requests they held.
func (b *Batcher[Q, R]) Stats() (batches, requests int64) {
	return b.batches.Load(), b.items.Load()
}

// Done is closed once the batcher has stopped (Close, DB.Close).
func (b *Batcher[Q, R]) Done() <-chan struct{} { return b.done }
