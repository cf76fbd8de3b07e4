// Package redisbatch merges the Redis calls of concurrent requests into
// shared pipelines: the calls that arrive while a pipeline is in flight go
// out together in the next one, as a database's group commit merges
// transactions. Under load a request then costs a share of a round trip
// (its system calls on both ends, a goroutine hand-off) instead of one of
// its own; a lone call waits for nothing.
package redisbatch

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/redis/go-redis/v9"
)

// maxCalls bounds the calls merged into one pipeline.
const maxCalls = 128

// inFlight is how many pipelines may be in flight at once: a second one
// starts while the first waits for Redis, so a burst is never held up by
// one slow round trip.
const inFlight = 2

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("redisbatch: closed")

// Batcher runs the calls given to Do in shared pipelines. It is safe for
// concurrent use.
type Batcher struct {
	rdb   redis.UniversalClient
	log   *slog.Logger
	calls chan *call
	mu    sync.RWMutex
	done  chan struct{}
	shut  bool
}

type call struct {
	queue func(redis.Pipeliner)
	done  chan struct{}
}

// New starts a Batcher over rdb. Close stops it. log hears of a queue
// function that panicked.
func New(rdb redis.UniversalClient, log *slog.Logger) *Batcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Batcher{rdb: rdb, log: log, calls: make(chan *call, maxCalls), done: make(chan struct{})}
	go b.loop()
	return b
}

// Do runs queue (which adds commands to the pipeline it is given, and must
// do nothing else) in a pipeline shared with concurrent calls, and returns
// once that pipeline has run: the commands queue added then hold their
// replies or errors (a failed connection sets the error of every command).
// The pipeline's commands run in order but not as a transaction: each
// call's commands must be independent of other calls'. Do returns ctx's
// error if ctx ends first (the commands may still run).
func (b *Batcher) Do(ctx context.Context, queue func(redis.Pipeliner)) error {
	c := &call{queue: queue, done: make(chan struct{})}
	b.mu.RLock()
	if b.shut {
		b.mu.RUnlock()
		return ErrClosed
	}
	select {
	case b.calls <- c:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close runs the calls already given and stops the Batcher.
func (b *Batcher) Close() {
	b.mu.Lock()
	if b.shut {
		b.mu.Unlock()
		return
	}
	b.shut = true
	close(b.calls)
	b.mu.Unlock()
	<-b.done
}

func (b *Batcher) loop() {
	sem := make(chan struct{}, inFlight)
	defer func() {
		for range inFlight {
			sem <- struct{}{}
		}
		close(b.done)
	}()
	for first := range b.calls {
		// Take a slot first: what arrives while waiting for it joins
		// this pipeline.
		sem <- struct{}{}
		batch := []*call{first}
	gather:
		for len(batch) < maxCalls {
			select {
			case c, ok := <-b.calls:
				if !ok {
					break gather
				}
				batch = append(batch, c)
			default:
				break gather
			}
		}
		go func() {
			defer func() { <-sem }()
			b.run(batch)
		}()
	}
}

func (b *Batcher) run(batch []*call) {
	pipe := b.rdb.Pipeline()
	for _, c := range batch {
		b.queue(c, pipe)
	}
	// The commands' own contexts (the callers') only reach hooks; the
	// pipeline as a whole belongs to no single caller.
	pipe.Exec(context.Background()) // each command holds its own error
	for _, c := range batch {
		close(c.done)
	}
}

// queue runs one call's queue function; a panic in it is logged, and the
// other calls of the pipeline go on (the caller finds its commands
// missing or unanswered).
func (b *Batcher) queue(c *call, pipe redis.Pipeliner) {
	defer func() {
		if r := recover(); r != nil {
			b.log.Error("redisbatch: a queue function panicked", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	c.queue(pipe)
}
