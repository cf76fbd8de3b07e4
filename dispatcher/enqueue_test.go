package dispatcher

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/internal/testenv"
	"congthu/queue"
)

// TestEnqueuerBurst: a burst of Adds, made before Run starts (as commits
// made while Redis is slow), all become jobs, in fewer round trips than
// jobs, and a repeated ID is one job.
func TestEnqueuerBurst(t *testing.T) {
	ro, err := redis.ParseURL(testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(ro)
	t.Cleanup(func() { rdb.Close() })
	q := queue.NewClient(rdb)
	before, err := q.Stats(context.Background(), Queue)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().UnixNano() % 1e9 * 1000 // IDs no other test uses
	enq := NewEnqueuer(q, testLogger(t))
	const n = 1000
	for i := range int64(n) {
		enq.Add(base + i)
	}
	enq.Add(base) // again
	var calls int
	rdb.AddHook(countHook{&calls})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- enq.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := q.Stats(context.Background(), Queue)
		if err != nil {
			t.Fatal(err)
		}
		if st.Ready-before.Ready == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs enqueued", st.Ready-before.Ready, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if calls == 0 || calls > 10 {
		t.Errorf("%d jobs took %d pipelines; want a few", n, calls)
	}
}

// countHook counts the pipelines sent to Redis.
type countHook struct{ n *int }

func (countHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		*h.n++
		return next(ctx, cmds)
	}
}
