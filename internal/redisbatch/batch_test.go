package redisbatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/internal/testenv"
)

// Concurrent calls each get their own replies, and under load they share
// pipelines: fewer pipelines than calls.
func TestConcurrentCallsShareRoundTrips(t *testing.T) {
	rdb := testenv.RedisClient(t, testenv.Redis(t))
	ctx := context.Background()
	prefix := testenv.Name("rb")
	var pipelines atomic.Int64
	rdb.AddHook(countPipelines{&pipelines})
	b := New(rdb, nil)
	defer b.Close()

	const goroutines, calls = 20, 200
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("%s:%d", prefix, g)
			for i := 1; i <= calls; i++ {
				var incr *redis.IntCmd
				var get *redis.StringCmd
				if err := b.Do(ctx, func(p redis.Pipeliner) {
					incr = p.Incr(ctx, key)
					get = p.Get(ctx, key)
				}); err != nil {
					errs <- err
					return
				}
				if n, err := incr.Result(); err != nil || n != int64(i) {
					errs <- fmt.Errorf("goroutine %d call %d: INCR = %d, %v; want %d", g, i, n, err, i)
					return
				}
				if v, err := get.Result(); err != nil || v != fmt.Sprint(i) {
					errs <- fmt.Errorf("goroutine %d call %d: GET = %q, %v; want %d", g, i, v, err, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := int64(goroutines * calls)
	if p := pipelines.Load(); p == 0 || p >= total {
		t.Fatalf("%d calls ran in %d pipelines; want fewer pipelines than calls", total, p)
	} else {
		t.Logf("%d calls in %d pipelines (%.1f per pipeline)", total, p, float64(total)/float64(p))
	}
}

// A command error is the calling request's alone; a lost connection fails
// every command of the pipeline, and the Batcher goes on once Redis is back.
func TestErrorsReachTheirCommands(t *testing.T) {
	srv := testenv.StartRedis(t)
	rdb := testenv.RedisClient(t, srv.URL(0))
	ctx := context.Background()
	b := New(rdb, nil)
	defer b.Close()

	// Two calls in one pipeline (run directly: concurrent Do calls share
	// one only under load).
	var shared atomic.Int64 // pipelines that carried both calls' commands
	rdb.AddHook(pipelineHook(func(cmds []redis.Cmder) {
		names := ""
		for _, c := range cmds {
			names += c.Name() + " "
		}
		if strings.Contains(names, "nosuchcommand") && strings.Contains(names, "echo") {
			shared.Add(1)
		}
	}))
	var bad *redis.Cmd
	var good *redis.StringCmd
	b.run([]*call{
		{queue: func(p redis.Pipeliner) { bad = p.Do(ctx, "NOSUCHCOMMAND") }, done: make(chan struct{})},
		{queue: func(p redis.Pipeliner) { good = p.Echo(ctx, "xin chào") }, done: make(chan struct{})},
	})
	if n := shared.Load(); n != 1 {
		t.Fatalf("the two calls' commands went out together in %d pipelines, want 1", n)
	}
	if bad.Err() == nil {
		t.Fatal("unknown command: no error")
	}
	if v, err := good.Result(); err != nil || v != "xin chào" {
		t.Fatalf("ECHO = %q, %v", v, err)
	}

	srv.Stop()
	var ping *redis.StatusCmd
	if err := b.Do(ctx, func(p redis.Pipeliner) { ping = p.Ping(ctx) }); err != nil {
		t.Fatal(err)
	}
	if ping.Err() == nil {
		t.Fatal("PING with Redis down: no error")
	}
	srv.Start(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.Do(ctx, func(p redis.Pipeliner) { ping = p.Ping(ctx) })
		if ping.Err() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PING after restart: %v", ping.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Do gives up with the caller's context; after Close it refuses, and Close
// runs what was already given.
func TestContextAndClose(t *testing.T) {
	rdb := testenv.RedisClient(t, testenv.Redis(t))
	b := New(rdb, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Do(ctx, func(p redis.Pipeliner) { p.Ping(ctx) }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with a cancelled context = %v, want context.Canceled", err)
	}

	// Calls racing with Close either run (their commands answered) or
	// are refused with ErrClosed (their commands never queued).
	bg := context.Background()
	type result struct {
		ping *redis.StatusCmd
		err  error
	}
	results := make(chan result, 50)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ping *redis.StatusCmd
			err := b.Do(bg, func(p redis.Pipeliner) { ping = p.Ping(bg) })
			results <- result{ping, err}
		}()
		if i == 25 {
			go b.Close()
		}
	}
	wg.Wait()
	b.Close() // twice is fine
	close(results)
	for r := range results {
		switch {
		case errors.Is(r.err, ErrClosed):
			if r.ping != nil {
				t.Fatal("a refused call's commands were queued")
			}
		case r.err != nil:
			t.Fatal(r.err)
		case r.ping == nil || r.ping.Err() != nil:
			t.Fatalf("a call that ran has no reply: %v", r.ping)
		}
	}
	if err := b.Do(bg, func(p redis.Pipeliner) { p.Ping(bg) }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after Close = %v, want ErrClosed", err)
	}
}

// pipelineHook calls fn with the commands of every pipeline.
type pipelineHook func(cmds []redis.Cmder)

func (pipelineHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (pipelineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h pipelineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h(cmds)
		return next(ctx, cmds)
	}
}

type countPipelines struct{ n *atomic.Int64 }

func (countPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (countPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h countPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// A queue function that panics is logged; the other calls of its pipeline
// get their replies and every caller is released.
func TestPanickingQueueFunction(t *testing.T) {
	rdb := testenv.RedisClient(t, testenv.Redis(t))
	ctx := context.Background()
	var logged strings.Builder
	b := New(rdb, slog.New(slog.NewTextHandler(&logged, nil)))
	defer b.Close()
	var good *redis.StringCmd
	calls := []*call{
		{queue: func(p redis.Pipeliner) { panic("a bug in a caller") }, done: make(chan struct{})},
		{queue: func(p redis.Pipeliner) { good = p.Echo(ctx, "vẫn chạy") }, done: make(chan struct{})},
	}
	b.run(calls)
	for i, c := range calls {
		select {
		case <-c.done:
		default:
			t.Fatalf("call %d not released", i)
		}
	}
	if v, err := good.Result(); err != nil || v != "vẫn chạy" {
		t.Fatalf("ECHO after a panicking neighbour = %q, %v", v, err)
	}
	if !strings.Contains(logged.String(), "panicked") {
		t.Fatalf("the panic was not logged: %q", logged.String())
	}
}
