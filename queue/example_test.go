package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/queue"
)

// The dispatcher's side: a worker for the outbound mail queue with the mail
// retry schedule, and a sweeper that restores what Redis forgot.
func ExampleWorker() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// Pool: at least the total concurrency plus a few.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", PoolSize: 64})
	defer rdb.Close()
	c := queue.NewClient(rdb)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if warnings, err := c.CheckRedis(ctx); err != nil {
		log.Error("redis unusable", "err", err)
		return
	} else {
		for _, w := range warnings {
			log.Warn(w)
		}
	}

	schedule := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour}
	w := queue.NewWorker(c, log, queue.WorkerOptions{ShutdownTimeout: 30 * time.Second})
	w.Handle("outbound", queue.HandlerFunc(func(ctx context.Context, j *queue.Job) error {
		// Load the outbox row j.ID from the store; if it is already sent,
		// return nil (jobs can run twice). Deliver; on a 5xx reply:
		return queue.Permanent(errors.New("550 5.1.1 no such user"))
		// on a 4xx reply, return a plain error: the Backoff below applies,
		// or queue.RetryAt(t, err) for a time of the dispatcher's choosing.
	}), queue.HandlerOptions{
		Concurrency: 20,
		Backoff: func(attempt int) time.Duration {
			return schedule[min(attempt, len(schedule))-1]
		},
	})

	var src queue.Source // the store
	sw := queue.NewSweeper(c, src, log, queue.SweeperOptions{Queues: []string{"outbound"}})
	go sw.Run(ctx)
	w.Run(ctx)
}

// Enqueue after the row is committed to the store; a duplicate is harmless.
func ExampleClient_Enqueue() {
	c := queue.NewClient(redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}))
	ctx := context.Background()
	c.Enqueue(ctx, queue.Job{ID: "outbox:123", Queue: "outbound"})
	c.EnqueueIn(ctx, queue.Job{ID: "notification:9", Queue: "sms"}, 10*time.Minute)
}
