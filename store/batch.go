package store

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// txBatcher is a group commit for small writes that many goroutines make
// at once (a notification's status changes, say): concurrent calls are run
// in one transaction, with one commit and one WAL sync. Up to inFlight
// batches run at once, so one executes while another waits for its sync.
// If the shared transaction fails, each call is retried in a transaction
// of its own, so one bad call fails alone.
type txBatcher[Q, R any] struct {
	s *Store
	// run stores the requests in one transaction, durably, and returns
	// one result and one error per request (a request that failed alone
	// wrote nothing), or an error of the transaction as a whole.
	run func(ctx context.Context, reqs []Q) ([]R, []error, error)

	mu     sync.RWMutex
	closed bool
	reqs   chan *txItem[Q, R]
	done   chan struct{}

	batches, items atomic.Int64 // transactions run and requests in them
}

type txItem[Q, R any] struct {
	ctx context.Context
	req Q
	res chan txResult[R]
}

type txResult[R any] struct {
	r   R
	err error
}

const (
	txBatchMax      = 256
	txBatchInFlight = 2
)

func newTxBatcher[Q, R any](s *Store, run func(ctx context.Context, reqs []Q) ([]R, []error, error)) *txBatcher[Q, R] {
	b := &txBatcher[Q, R]{s: s, run: run, reqs: make(chan *txItem[Q, R], txBatchMax), done: make(chan struct{})}
	go b.loop()
	return b
}

// do runs req in the next batch and returns its result once durable.
func (b *txBatcher[Q, R]) do(ctx context.Context, req Q) (R, error) {
	var zero R
	it := &txItem[Q, R]{ctx: ctx, req: req, res: make(chan txResult[R], 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return zero, errClosed
	}
	select {
	case b.reqs <- it:
	case <-ctx.Done():
		b.mu.RUnlock()
		return zero, ctx.Err()
	}
	b.mu.RUnlock()
	select {
	case r := <-it.res:
		return r.r, r.err
	case <-ctx.Done():
		// It may still commit: status changes are idempotent.
		return zero, ctx.Err()
	}
}

// close runs what was submitted and stops.
func (b *txBatcher[Q, R]) close() {
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

func (b *txBatcher[Q, R]) loop() {
	sem := make(chan struct{}, txBatchInFlight)
	defer func() {
		for range txBatchInFlight {
			sem <- struct{}{}
		}
		close(b.done)
	}()
	for first := range b.reqs {
		// Take a slot first: what arrives meanwhile joins this batch.
		sem <- struct{}{}
		batch := []*txItem[Q, R]{first}
	drain:
		for len(batch) < txBatchMax {
			select {
			case it, ok := <-b.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, it)
			default:
				break drain
			}
		}
		go func() {
			defer func() { <-sem }()
			b.runBatch(batch)
		}()
	}
}

func (b *txBatcher[Q, R]) runBatch(batch []*txItem[Q, R]) {
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
		b.s.log.Warn("store: batched transaction failed, retrying its requests one by one", "requests", len(live), "err", err)
		for _, it := range live {
			b.runBatch([]*txItem[Q, R]{it})
		}
		return
	}
	for i, it := range live {
		switch {
		case err != nil:
			it.res <- txResult[R]{err: err}
		case errs[i] != nil:
			it.res <- txResult[R]{err: errs[i]}
		default:
			it.res <- txResult[R]{r: rs[i]}
		}
	}
}

// exec runs one batch, recovering a panic.
func (b *txBatcher[Q, R]) exec(reqs []Q) (rs []R, errs []error, err error) {
	defer func() {
		if p := recover(); p != nil {
			b.s.log.Error("store: panic in batched transaction", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("store: internal error in batched transaction: %v", p)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), txBatchTimeout)
	defer cancel()
	return b.run(ctx, reqs)
}

const txBatchTimeout = 2 * time.Minute // as the delivery group commit
