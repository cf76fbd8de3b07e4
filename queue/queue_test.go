package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEnqueueDedup(t *testing.T) {
	ctx := context.Background()
	type step struct {
		in        time.Duration // 0: Enqueue now
		wantAdded bool
	}
	tests := []struct {
		name                 string
		steps                []step
		wantReady, wantDelay int64
	}{
		{"ready twice", []step{{0, true}, {0, false}}, 1, 0},
		{"delayed twice", []step{{time.Hour, true}, {time.Hour, false}}, 0, 1},
		{"delayed then later", []step{{time.Minute, true}, {time.Hour, false}}, 0, 1},
		{"delayed then sooner", []step{{time.Hour, true}, {time.Minute, true}}, 0, 1},
		{"delayed then now", []step{{time.Hour, true}, {0, true}}, 1, 0},
		{"ready then delayed", []step{{0, true}, {time.Hour, false}}, 1, 0},
	}
	c := newClient(t)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := fmt.Sprintf("dedup%d", i)
			for n, s := range tc.steps {
				j := Job{ID: "outbox:1", Queue: q, Payload: []byte("x")}
				var added bool
				var err error
				if s.in == 0 {
					added, err = c.Enqueue(ctx, j)
				} else {
					added, err = c.EnqueueIn(ctx, j, s.in)
				}
				if err != nil {
					t.Fatal(err)
				}
				if added != s.wantAdded {
					t.Errorf("step %d: got added %v, want %v", n, added, s.wantAdded)
				}
			}
			st := mustStats(t, c, q)
			if st.Ready != tc.wantReady || st.Delayed != tc.wantDelay {
				t.Errorf("got ready %d delayed %d, want %d %d", st.Ready, st.Delayed, tc.wantReady, tc.wantDelay)
			}
		})
	}
	t.Run("sooner moves the due time", func(t *testing.T) {
		q := "dedup-due"
		c.EnqueueIn(ctx, Job{ID: "a", Queue: q}, time.Hour)
		c.EnqueueIn(ctx, Job{ID: "a", Queue: q}, time.Minute)
		l, err := c.List(ctx, q, Delayed, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 1 || time.Until(l[0].DueAt) > 2*time.Minute {
			t.Errorf("got %+v, want one job due in a minute", l)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		if _, err := c.Enqueue(ctx, Job{Queue: "x"}); err == nil {
			t.Error("got no error for a job without ID")
		}
		if _, err := c.Enqueue(ctx, Job{ID: "a", Queue: "bad{name}"}); err == nil {
			t.Error("got no error for a bad queue name")
		}
	})
}

func TestKeysShareHashTag(t *testing.T) {
	k, err := keysOf("outbound")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range k {
		if !strings.HasPrefix(key, "congthu:{outbound}:") {
			t.Errorf("got key %q, want prefix congthu:{outbound}:", key)
		}
	}
}

func TestWorkerHandlesAndAcks(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	const q, n = "outbound", 50
	for i := range n {
		if _, err := c.Enqueue(ctx, Job{ID: fmt.Sprintf("outbox:%d", i), Queue: q, Payload: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	startWorker(t, c, q, rec, HandlerOptions{Concurrency: 8}, WorkerOptions{})
	waitFor(t, 5*time.Second, "all jobs", func() bool { return rec.count() >= n })
	waitFor(t, 2*time.Second, "empty queue", func() bool { return mustStats(t, c, q) == Stats{Queue: q} })
	jobs, _ := rec.snapshot()
	seen := map[string]bool{}
	for _, j := range jobs {
		if seen[j.ID] {
			t.Errorf("job %s ran twice", j.ID)
		}
		seen[j.ID] = true
		if j.Queue != q || j.Deliveries != 1 || j.Attempt != 0 || j.EnqueuedAt.IsZero() {
			t.Errorf("got job %+v, want queue %s, 1 delivery, attempt 0, enqueue time", j, q)
		}
		if want := strings.TrimPrefix(j.ID, "outbox:"); string(j.Payload) != want {
			t.Errorf("got payload %q, want %q", j.Payload, want)
		}
	}
	if len(seen) != n {
		t.Errorf("got %d distinct jobs, want %d", len(seen), n)
	}
	// The live index is empty, so the same IDs can be enqueued again.
	if added, _ := c.Enqueue(ctx, Job{ID: "outbox:1", Queue: q}); !added {
		t.Error("got added false after the job was done, want true")
	}
}

func TestDelayedOrder(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	const q = "notify-email"
	rec := &recorder{}
	startWorker(t, c, q, rec, HandlerOptions{Concurrency: 1}, WorkerOptions{})
	t0 := time.Now()
	due := map[string]time.Time{}
	for _, d := range []struct {
		id string
		in time.Duration
	}{{"c", 300 * time.Millisecond}, {"a", 100 * time.Millisecond}, {"b", 200 * time.Millisecond}} {
		due[d.id] = t0.Add(d.in)
		if _, err := c.EnqueueAt(ctx, Job{ID: d.id, Queue: q}, due[d.id]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 3*time.Second, "three jobs", func() bool { return rec.count() == 3 })
	jobs, at := rec.snapshot()
	var order []string
	for i, j := range jobs {
		order = append(order, j.ID)
		late := at[i].Sub(due[j.ID])
		if late < 0 || late > time.Second {
			t.Errorf("job %s started %v after its due time, want within [0, 1s]", j.ID, late)
		}
		t.Logf("job %s started %v after due", j.ID, late)
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(order, want) {
		t.Errorf("got order %v, want %v", order, want)
	}
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	const q = "sms"
	fail := errors.New("smsc busy")
	retryAt := time.Now().Add(300 * time.Millisecond)
	rec := &recorder{fn: func(j *Job) error {
		switch {
		case j.ID == "plain" && j.Attempt < 2:
			return fail
		case j.ID == "at" && j.Attempt == 0:
			return RetryAt(retryAt, fail)
		}
		return nil
	}}
	var mu sync.Mutex
	var backoffs []int
	startWorker(t, c, q, rec, HandlerOptions{Concurrency: 2, Backoff: func(n int) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		backoffs = append(backoffs, n)
		return 50 * time.Millisecond
	}}, WorkerOptions{})
	c.Enqueue(ctx, Job{ID: "plain", Queue: q})
	c.Enqueue(ctx, Job{ID: "at", Queue: q})
	waitFor(t, 5*time.Second, "5 runs", func() bool { return rec.count() == 5 })
	waitFor(t, 2*time.Second, "empty queue", func() bool { return mustStats(t, c, q) == Stats{Queue: q} })
	jobs, at := rec.snapshot()
	var plain []Job
	for i, j := range jobs {
		if j.ID == "plain" {
			plain = append(plain, j)
		}
		if j.ID == "at" && j.Attempt == 1 {
			if at[i].Before(retryAt) || at[i].After(retryAt.Add(time.Second)) {
				t.Errorf("RetryAt job ran at %v, want within a second after %v", at[i], retryAt)
			}
			if j.LastError != "retry at "+retryAt.Format(time.RFC3339)+": smsc busy" {
				t.Errorf("got LastError %q", j.LastError)
			}
		}
	}
	for i, j := range plain {
		if j.Attempt != i {
			t.Errorf("run %d: got attempt %d, want %d", i, j.Attempt, i)
		}
		if i > 0 && j.LastError != "smsc busy" {
			t.Errorf("run %d: got LastError %q, want %q", i, j.LastError, "smsc busy")
		}
		if !j.EnqueuedAt.Equal(plain[0].EnqueuedAt) {
			t.Errorf("run %d: EnqueuedAt changed from %v to %v", i, plain[0].EnqueuedAt, j.EnqueuedAt)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(backoffs, []int{1, 2}) {
		t.Errorf("got Backoff calls %v, want [1 2]", backoffs)
	}
}

func TestPermanentFailureAndDeadLetters(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	const q = "callback"
	healed := make(chan struct{})
	rec := &recorder{fn: func(j *Job) error {
		select {
		case <-healed:
			return nil
		default:
		}
		if j.ID == "limited" {
			return errors.New("timeout")
		}
		return Permanent(fmt.Errorf("550 no such user"))
	}}
	startWorker(t, c, q, rec, HandlerOptions{Concurrency: 2, MaxAttempts: 3, Backoff: func(int) time.Duration { return 10 * time.Millisecond }}, WorkerOptions{})
	c.Enqueue(ctx, Job{ID: "perm", Queue: q, Payload: []byte("p")})
	c.Enqueue(ctx, Job{ID: "limited", Queue: q})
	waitFor(t, 5*time.Second, "two dead letters", func() bool { return mustStats(t, c, q).Dead == 2 })
	if n := rec.count(); n != 4 {
		t.Errorf("got %d runs, want 4 (1 permanent + 3 attempts)", n)
	}
	dead, err := c.List(ctx, q, Dead, 0)
	if err != nil {
		t.Fatal(err)
	}
	errs := map[string]string{}
	for _, d := range dead {
		errs[d.ID] = d.LastError
		if d.DiedAt.IsZero() || d.State != Dead {
			t.Errorf("got %+v, want state dead and a time of death", d)
		}
	}
	if want := "permanent failure: 550 no such user"; errs["perm"] != want {
		t.Errorf("got error %q, want %q", errs["perm"], want)
	}
	if want := "gave up after 3 attempts: timeout"; errs["limited"] != want {
		t.Errorf("got error %q, want %q", errs["limited"], want)
	}

	// The sweeper does not bring dead letters back.
	src := &table{}
	src.add("callback", "perm", time.Now().Add(-time.Minute))
	sw := NewSweeper(c, src, testLog(t), SweeperOptions{Queues: []string{q}})
	if n, err := sw.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("sweep: got %d, %v, want 0 restored", n, err)
	}

	close(healed)
	if ok, err := c.Retry(ctx, q, "perm"); !ok || err != nil {
		t.Fatalf("retry: got %v, %v, want true, nil", ok, err)
	}
	if ok, _ := c.Retry(ctx, q, "perm"); ok {
		t.Error("second retry of the same job: got true, want false")
	}
	waitFor(t, 3*time.Second, "retried job done", func() bool { return rec.count() == 5 })
	jobs, _ := rec.snapshot()
	if j := jobs[4]; j.ID != "perm" || string(j.Payload) != "p" {
		t.Errorf("got %s %q, want perm with its payload", j.ID, j.Payload)
	}
	if n, err := c.RetryAllDead(ctx, q); n != 1 || err != nil {
		t.Errorf("retry all: got %d, %v, want 1, nil", n, err)
	}
	waitFor(t, 3*time.Second, "queue empty", func() bool { return mustStats(t, c, q) == Stats{Queue: q} })
}

func TestDrop(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	const q = "outbound"
	c.Enqueue(ctx, Job{ID: "ready", Queue: q})
	c.EnqueueIn(ctx, Job{ID: "delayed", Queue: q}, time.Hour)
	// A dead letter and an in-flight job, made by a worker.
	block := make(chan struct{})
	started := make(chan struct{}, 1)
	stop := startWorker(t, c, q, HandlerFunc(func(ctx context.Context, j *Job) error {
		if j.ID == "dead" {
			return Permanent(errors.New("bad"))
		}
		if j.ID == "ready" {
			started <- struct{}{}
			<-block
			return errors.New("fails after being dropped")
		}
		return nil
	}), HandlerOptions{Concurrency: 2}, WorkerOptions{})
	<-started // "ready" is now in flight
	c.Enqueue(ctx, Job{ID: "dead", Queue: q})
	waitFor(t, 3*time.Second, "dead letter", func() bool { return mustStats(t, c, q).Dead == 1 })
	if st := mustStats(t, c, q); st.InFlight != 1 || st.Delayed != 1 {
		t.Fatalf("got %+v, want 1 in flight, 1 delayed, 1 dead", st)
	}
	for _, id := range []string{"ready", "delayed", "dead", "nothing"} {
		ok, err := c.Drop(ctx, q, id)
		if err != nil {
			t.Fatal(err)
		}
		if want := id != "nothing"; ok != want {
			t.Errorf("drop %s: got %v, want %v", id, ok, want)
		}
	}
	close(block) // the dropped in-flight job fails: no retry must appear
	stop()
	if st := mustStats(t, c, q); st != (Stats{Queue: q}) {
		t.Errorf("got %+v, want an empty queue", st)
	}
}
