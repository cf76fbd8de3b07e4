package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"congthu/store"
)

// batcher is the API's group commit: concurrent requests are stored by
// one store.CreateNotifications call (one transaction, one fsync). The
// loop takes every request waiting, up to maxBatch; while a batch commits,
// the next forms, so batches grow with the load without a timer.
type batcher struct {
	st   *store.Store
	log  *slog.Logger
	reqs chan *batchItem
	mu   sync.RWMutex
	shut bool
	done chan struct{}

	batches, items atomic.Int64 // committed, for metrics and benchmarks
}

const maxBatch = 64

var errClosed = errors.New("httpapi: server closed")

type batchItem struct {
	ctx context.Context
	req *store.NotificationRequest
	res chan batchResult
}

type batchResult struct {
	res store.NotificationResult
	err error
}

func newBatcher(st *store.Store, log *slog.Logger) *batcher {
	b := &batcher{st: st, log: log, reqs: make(chan *batchItem, 4*maxBatch), done: make(chan struct{})}
	go b.loop()
	return b
}

// submit stores req and returns its result once committed.
func (b *batcher) submit(ctx context.Context, req *store.NotificationRequest) (store.NotificationResult, error) {
	it := &batchItem{ctx: ctx, req: req, res: make(chan batchResult, 1)}
	b.mu.RLock()
	if b.shut {
		b.mu.RUnlock()
		return store.NotificationResult{}, errClosed
	}
	select {
	case b.reqs <- it:
	case <-ctx.Done():
		b.mu.RUnlock()
		return store.NotificationResult{}, ctx.Err()
	}
	b.mu.RUnlock()
	select {
	case r := <-it.res:
		return r.res, r.err
	case <-ctx.Done():
		// It may still commit; the client retries with the same key
		// and gets the replay.
		return store.NotificationResult{}, ctx.Err()
	}
}

func (b *batcher) close() {
	b.mu.Lock()
	b.shut = true
	close(b.reqs)
	b.mu.Unlock()
	<-b.done
}

// inFlight is how many batches run at once: while one waits for its
// commit to reach the disk, the next one executes (the store serializes
// the transactions themselves).
const inFlight = 2

func (b *batcher) loop() {
	sem := make(chan struct{}, inFlight)
	defer func() {
		for range inFlight {
			sem <- struct{}{}
		}
		close(b.done)
	}()
	for first := range b.reqs {
		// Wait for a slot before taking the rest: what arrives
		// meanwhile joins this batch.
		sem <- struct{}{}
		batch := []*batchItem{first}
	drain:
		for len(batch) < maxBatch {
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
			b.run(batch)
		}()
	}
}

// run commits one batch and answers its items. A panic fails the batch,
// not the process.
func (b *batcher) run(batch []*batchItem) {
	live := batch[:0]
	for _, it := range batch {
		if err := it.ctx.Err(); err != nil {
			it.res <- batchResult{err: err}
			continue
		}
		live = append(live, it)
	}
	if len(live) == 0 {
		return
	}
	reqs := make([]*store.NotificationRequest, len(live))
	for i, it := range live {
		reqs[i] = it.req
	}
	b.batches.Add(1)
	b.items.Add(int64(len(live)))
	var results []store.NotificationResult
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				b.log.Error("httpapi: panic in group commit", "panic", p, "stack", string(debug.Stack()))
				err = fmt.Errorf("httpapi: internal error in group commit: %v", p)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		results, err = b.st.CreateNotifications(ctx, reqs)
		return err
	}()
	for i, it := range live {
		if err != nil {
			it.res <- batchResult{err: err}
		} else {
			it.res <- batchResult{res: results[i]}
		}
	}
}
