package queue

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"congthu/internal/testenv"
)

// table is a Source over an in-memory table of rows, standing in for the
// store: a row is due while it is not done and its due time has passed.
type table struct {
	mu   sync.Mutex
	rows map[string]*row // by queue + "/" + id
	hits int             // Due calls
}

type row struct {
	queue, id string
	due       time.Time
	done      bool
}

func (tb *table) add(queue, id string, due time.Time) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.rows == nil {
		tb.rows = map[string]*row{}
	}
	tb.rows[queue+"/"+id] = &row{queue: queue, id: id, due: due}
}

func (tb *table) markDone(queue, id string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if r := tb.rows[queue+"/"+id]; r != nil {
		r.done = true
	}
}

func (tb *table) pending() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	n := 0
	for _, r := range tb.rows {
		if !r.done {
			n++
		}
	}
	return n
}

// Due implements Source, paging by ID.
func (tb *table) Due(ctx context.Context, queue string, before time.Time, cursor string, limit int) ([]Job, string, error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.hits++
	var ids []string
	for _, r := range tb.rows {
		if r.queue == queue && !r.done && !r.due.After(before) && r.id > cursor {
			ids = append(ids, r.id)
		}
	}
	slices.Sort(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	var jobs []Job
	for _, id := range ids {
		jobs = append(jobs, Job{ID: id, Payload: []byte("from store " + id)})
	}
	next := ""
	if len(ids) == limit {
		next = ids[len(ids)-1]
	}
	return jobs, next, nil
}

func TestSweeperRestoresAfterFlushAll(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartRedis(t)
	c := NewClient(newRedis(t, srv.URL(0)))
	const q = "outbound"
	src := &table{}
	now := time.Now()
	for i := range 30 {
		id := fmt.Sprintf("outbox:%03d", i)
		src.add(q, id, now.Add(-time.Minute))
		if _, err := c.Enqueue(ctx, Job{ID: id, Queue: q}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 { // not due yet: a later retry, waiting in Redis
		id := fmt.Sprintf("outbox:later%d", i)
		src.add(q, id, now.Add(time.Hour))
		c.EnqueueIn(ctx, Job{ID: id, Queue: q}, time.Hour)
	}
	sw := NewSweeper(c, src, testLog(t), SweeperOptions{Queues: []string{q}, Batch: 7})
	if n, err := sw.Sweep(ctx); n != 0 || err != nil {
		t.Fatalf("sweep with everything in Redis: got %d, %v, want 0, nil", n, err)
	}

	if err := c.rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// Some jobs come back through the normal path before the sweep.
	for i := range 4 {
		c.Enqueue(ctx, Job{ID: fmt.Sprintf("outbox:%03d", i), Queue: q})
	}
	n, err := sw.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 26 {
		t.Errorf("got %d restored, want 26 (30 due, 4 already back)", n)
	}
	if n, _ := sw.Sweep(ctx); n != 0 {
		t.Errorf("second sweep: got %d restored, want 0", n)
	}
	if st := mustStats(t, c, q); st.Ready != 30 || st.Delayed != 0 {
		t.Errorf("got %+v, want 30 ready and nothing delayed", st)
	}

	// Workers start on the flushed Redis and do every due job.
	rec := &recorder{fn: func(j *Job) error { src.markDone(q, j.ID); return nil }}
	startWorker(t, c, q, rec, HandlerOptions{Concurrency: 4}, WorkerOptions{})
	waitFor(t, 5*time.Second, "due jobs done", func() bool { return src.pending() == 5 })
	waitFor(t, 2*time.Second, "empty queue", func() bool { return mustStats(t, c, q).Ready == 0 })
	if got := rec.count(); got != 30 {
		t.Errorf("got %d runs, want 30", got)
	}
}

func TestSweeperRunRestoresWithinInterval(t *testing.T) {
	srv := testenv.StartRedis(t)
	c := NewClient(newRedis(t, srv.URL(0)))
	const q = "notify-email"
	src := &table{}
	for i := range 10 {
		src.add(q, fmt.Sprintf("notification:%d", i), time.Now())
	}
	rec := &recorder{fn: func(j *Job) error { src.markDone(q, j.ID); return nil }}
	startWorker(t, c, q, rec, HandlerOptions{Concurrency: 4}, WorkerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewSweeper(c, src, testLog(t), SweeperOptions{Queues: []string{q}, Interval: 200 * time.Millisecond}).Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	waitFor(t, 5*time.Second, "swept jobs done", func() bool { return src.pending() == 0 })
	// Redis loses everything again while new rows become due.
	c.rdb.FlushAll(context.Background())
	for i := range 10 {
		src.add(q, fmt.Sprintf("notification:new%d", i), time.Now())
	}
	waitFor(t, 5*time.Second, "new rows done after flush", func() bool { return src.pending() == 0 })
	if got := rec.count(); got < 20 {
		t.Errorf("got %d runs, want at least 20", got)
	}
}
