package queue

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"congthu/internal/testenv"
)

// EnqueueMany enqueues across queues in one round trip, keeps Enqueue's
// idempotence, and still works after Redis forgot its scripts.
func TestEnqueueMany(t *testing.T) {
	ctx := context.Background()
	opt, err := redis.ParseURL(testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	c := NewClient(rdb)
	var jobs []Job
	for i := range 10 {
		jobs = append(jobs, Job{ID: fmt.Sprintf("j%d", i), Queue: []string{"qa", "qb"}[i%2]})
	}
	if err := c.EnqueueMany(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	if err := c.EnqueueMany(ctx, jobs); err != nil { // again: no copies
		t.Fatal(err)
	}
	if err := c.Redis().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.EnqueueMany(ctx, append(jobs, Job{ID: "j10", Queue: "qa"}, Job{ID: "j11", Queue: "qb"})); err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v", err)
	}
	for q, want := range map[string]int64{"qa": 6, "qb": 6} {
		st, err := c.Stats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if st.Ready != want {
			t.Errorf("%s: %d ready, want %d", q, st.Ready, want)
		}
	}
	if err := c.EnqueueMany(ctx, []Job{{ID: "x", Queue: "qa"}, {Queue: "qa"}}); err == nil {
		t.Error("a job without ID was accepted")
	}
}
