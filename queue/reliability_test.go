package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/internal/testenv"
)

// TestKilledWorker runs a worker in a child process, SIGKILLs it while it
// handles a job, and checks that a worker in this process reclaims the job
// after the lease and does it, with the delivery count visible.
func TestKilledWorker(t *testing.T) {
	ctx := context.Background()
	url := testenv.Redis(t)
	c := NewClient(newRedis(t, url))
	const q = "outbound"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CONGTHU_QUEUE_HELPER=worker", "CONGTHU_QUEUE_REDIS="+url, "CONGTHU_QUEUE_NAME="+q)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	out := lines(stdout)
	if _, err := c.Enqueue(ctx, Job{ID: "outbox:7", Queue: q, Payload: []byte("mail")}); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-out:
		if l != "started outbox:7 1" {
			t.Fatalf("child said %q, want %q", l, "started outbox:7 1")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("child worker did not start the job")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup at all
		t.Fatal(err)
	}
	cmd.Wait()
	killed := time.Now()

	if st := mustStats(t, c, q); st.InFlight != 1 || st.Ready != 0 {
		t.Fatalf("after the kill: got %+v, want the job in flight", st)
	}
	l, err := c.List(ctx, q, InFlight, 0)
	if err != nil || len(l) != 1 || l[0].Consumer != "doomed" || l[0].Deliveries != 1 {
		t.Fatalf("in-flight list: got %+v, %v, want outbox:7 held by doomed, 1 delivery", l, err)
	}

	rec := &recorder{}
	startWorker(t, c, q, rec, HandlerOptions{Lease: time.Second}, WorkerOptions{})
	waitFor(t, 5*time.Second, "reclaimed job", func() bool { return rec.count() == 1 })
	jobs, at := rec.snapshot()
	if j := jobs[0]; j.ID != "outbox:7" || j.Deliveries != 2 || string(j.Payload) != "mail" {
		t.Errorf("got %s deliveries %d payload %q, want outbox:7, 2, mail", j.ID, j.Deliveries, j.Payload)
	}
	if d := at[0].Sub(killed); d < 500*time.Millisecond || d > 3*time.Second {
		t.Errorf("reclaimed %v after the kill, want about the 1 s lease", d)
	}
	waitFor(t, 2*time.Second, "empty queue", func() bool { return mustStats(t, c, q) == Stats{Queue: q} })
}

// TestTooManyDeliveries dead-letters a job that was delivered more than
// MaxDeliveries times (workers kept dying on it).
func TestTooManyDeliveries(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	const q = "sms"
	k, _ := keysOf(q)
	c.Enqueue(ctx, Job{ID: "sms:poison", Queue: q})
	c.Enqueue(ctx, Job{ID: "sms:ok", Queue: q})
	if err := c.rdb.XGroupCreateMkStream(ctx, k.stream(), group, "0").Err(); err != nil {
		t.Fatal(err)
	}
	// A consumer takes both jobs and dies; the poison one was already
	// taken over four more times by workers that died too.
	res, err := c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "ghost", Streams: []string{k.stream(), ">"}, Count: 2}).Result()
	if err != nil || len(res[0].Messages) != 2 {
		t.Fatalf("ghost read: %v %v", res, err)
	}
	poison := res[0].Messages[0].ID
	for range 4 {
		c.rdb.XClaim(ctx, &redis.XClaimArgs{Stream: k.stream(), Group: group, Consumer: "ghost", Messages: []string{poison}})
	}
	time.Sleep(300 * time.Millisecond)
	rec := &recorder{}
	startWorker(t, c, q, rec, HandlerOptions{Lease: 200 * time.Millisecond, MaxDeliveries: 5}, WorkerOptions{})
	waitFor(t, 5*time.Second, "dead letter", func() bool { return mustStats(t, c, q).Dead == 1 })
	waitFor(t, 5*time.Second, "ok job", func() bool { return rec.count() == 1 })
	jobs, _ := rec.snapshot()
	if jobs[0].ID != "sms:ok" || jobs[0].Deliveries != 2 {
		t.Errorf("got %s with %d deliveries, want sms:ok with 2", jobs[0].ID, jobs[0].Deliveries)
	}
	dead, _ := c.List(ctx, q, Dead, 0)
	if len(dead) != 1 || dead[0].ID != "sms:poison" || !strings.Contains(dead[0].LastError, "delivered 6 times") {
		t.Errorf("got dead letters %+v, want sms:poison delivered 6 times", dead)
	}
}

// TestLeaseRenewal: a handler running for several leases keeps its job; no
// other worker takes it.
func TestLeaseRenewal(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	const q = "callback"
	var runs atomic.Int32
	h := HandlerFunc(func(ctx context.Context, j *Job) error {
		runs.Add(1)
		time.Sleep(1500 * time.Millisecond)
		return nil
	})
	qo := HandlerOptions{Lease: 300 * time.Millisecond}
	startWorker(t, c, q, h, qo, WorkerOptions{})
	startWorker(t, c, q, h, qo, WorkerOptions{})
	c.Enqueue(ctx, Job{ID: "cb:1", Queue: q})
	waitFor(t, 5*time.Second, "job done", func() bool { return runs.Load() == 1 && mustStats(t, c, q) == Stats{Queue: q} })
	if n := runs.Load(); n != 1 {
		t.Errorf("got %d runs, want 1", n)
	}
}

// TestRedisRestart kills Redis under running workers and starts it again
// empty: the workers reconnect, recreate their group and carry on.
func TestRedisRestart(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartRedis(t)
	rdb := newRedis(t, srv.URL(0))
	c := NewClient(rdb)
	const q = "outbound"
	rec := &recorder{}
	startWorker(t, c, q, rec, HandlerOptions{Concurrency: 4}, WorkerOptions{})
	c.Enqueue(ctx, Job{ID: "before", Queue: q})
	waitFor(t, 3*time.Second, "job before restart", func() bool { return rec.count() == 1 })

	srv.Stop()
	if _, err := c.Enqueue(ctx, Job{ID: "during", Queue: q}); err == nil {
		t.Error("enqueue with Redis down: got no error")
	}
	time.Sleep(500 * time.Millisecond) // the workers notice
	srv.Start(t)
	waitFor(t, 10*time.Second, "enqueue after restart", func() bool {
		_, err := c.Enqueue(ctx, Job{ID: "after", Queue: q})
		return err == nil
	})
	c.EnqueueIn(ctx, Job{ID: "after-delayed", Queue: q}, 100*time.Millisecond)
	waitFor(t, 10*time.Second, "jobs after restart", func() bool { return rec.count() == 3 })
	jobs, _ := rec.snapshot()
	if jobs[1].ID != "after" || jobs[2].ID != "after-delayed" {
		t.Errorf("got %s, %s, want after, after-delayed", jobs[1].ID, jobs[2].ID)
	}
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	const q = "notify-email"
	k, _ := keysOf(q)
	if st := mustStats(t, c, q); st != (Stats{Queue: q}) {
		t.Errorf("unknown queue: got %+v, want zeros", st)
	}
	for i := range 5 {
		c.Enqueue(ctx, Job{ID: fmt.Sprint("r", i), Queue: q})
	}
	for i := range 3 {
		c.EnqueueIn(ctx, Job{ID: fmt.Sprint("d", i), Queue: q}, time.Hour)
	}
	if st := mustStats(t, c, q); st.Ready != 5 || st.Delayed != 3 || st.OldestReady <= 0 {
		t.Errorf("before any group: got %+v, want 5 ready, 3 delayed, an age", st)
	}
	time.Sleep(200 * time.Millisecond)
	c.rdb.XGroupCreateMkStream(ctx, k.stream(), group, "0")
	// Two jobs in flight with a consumer that holds them.
	c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "x", Streams: []string{k.stream(), ">"}, Count: 2})
	// One dead letter: a worker with a permanent failure on a job of its own.
	stop := startWorker(t, c, "other", HandlerFunc(func(context.Context, *Job) error { return ErrPermanent }), HandlerOptions{}, WorkerOptions{})
	c.Enqueue(ctx, Job{ID: "x", Queue: "other"})
	waitFor(t, 3*time.Second, "dead letter", func() bool { return mustStats(t, c, "other").Dead == 1 })
	stop()

	st := mustStats(t, c, q)
	want := Stats{Queue: q, Ready: 3, InFlight: 2, Delayed: 3, Dead: 0, OldestReady: st.OldestReady}
	if st != want {
		t.Errorf("got %+v, want %+v", st, want)
	}
	if st.OldestReady < 200*time.Millisecond || st.OldestReady > 5*time.Second {
		t.Errorf("got oldest ready %v, want about 200ms", st.OldestReady)
	}
	for _, tc := range []struct {
		state State
		want  []string
	}{
		{Ready, []string{"r2", "r3", "r4"}},
		{InFlight, []string{"r0", "r1"}},
		{Delayed, []string{"d0", "d1", "d2"}},
		{Dead, nil},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			l, err := c.List(ctx, q, tc.state, 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, in := range l {
				got = append(got, in.ID)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") && !(tc.state == Delayed && len(got) == 3) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	names, err := c.Queues(ctx)
	if err != nil || strings.Join(names, ",") != "notify-email,other" {
		t.Errorf("got queues %v, %v, want [notify-email other]", names, err)
	}
}

func TestCheckRedis(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartRedis(t)
	rdb := newRedis(t, srv.URL(0))
	c := NewClient(rdb)
	warns, err := c.CheckRedis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warns {
		if strings.Contains(w, "maxmemory-policy") {
			t.Errorf("noeviction: got warning %q", w)
		}
	}
	rdb.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru")
	warns, err = c.CheckRedis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(warns, "\n"), `maxmemory-policy is "allkeys-lru"`) {
		t.Errorf("allkeys-lru: got warnings %q, want one about maxmemory-policy", warns)
	}
	srv.Stop()
	if _, err := c.CheckRedis(ctx); err == nil {
		t.Error("Redis down: got no error")
	}
}

func TestGracefulShutdown(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	const q = "outbound"
	started := make(chan string, 2)
	h := HandlerFunc(func(ctx context.Context, j *Job) error {
		started <- j.ID
		if j.ID == "stuck" {
			<-ctx.Done()
			return ctx.Err()
		}
		time.Sleep(300 * time.Millisecond)
		return nil
	})
	stop := startWorker(t, c, q, h, HandlerOptions{Concurrency: 2}, WorkerOptions{ShutdownTimeout: 700 * time.Millisecond})
	c.Enqueue(ctx, Job{ID: "slow", Queue: q})
	c.Enqueue(ctx, Job{ID: "stuck", Queue: q})
	<-started
	<-started
	t0 := time.Now()
	if err := stop(); err != nil {
		t.Errorf("stop: got %v, want nil (the stuck handler returned when cancelled)", err)
	}
	if d := time.Since(t0); d < 700*time.Millisecond || d > 3*time.Second {
		t.Errorf("stop took %v, want the 700ms shutdown timeout", d)
	}
	c.Enqueue(ctx, Job{ID: "after", Queue: q}) // nobody reads it now
	st := mustStats(t, c, q)
	if st.InFlight != 1 || st.Ready != 1 {
		t.Errorf("got %+v, want the stuck job still in flight (for reclaim) and the new one ready", st)
	}
	l, _ := c.List(ctx, q, InFlight, 0)
	if len(l) != 1 || l[0].ID != "stuck" {
		t.Errorf("got in flight %+v, want stuck", l)
	}
}

func TestHandlerPanicIsRetried(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	const q = "sms"
	var runs atomic.Int32
	startWorker(t, c, q, HandlerFunc(func(ctx context.Context, j *Job) error {
		if runs.Add(1) == 1 {
			panic("boom")
		}
		if !strings.Contains(j.LastError, "boom") {
			return Permanent(errors.New("no LastError"))
		}
		return nil
	}), HandlerOptions{Backoff: func(int) time.Duration { return 0 }}, WorkerOptions{})
	c.Enqueue(ctx, Job{ID: "p", Queue: q})
	waitFor(t, 3*time.Second, "two runs and an empty queue", func() bool {
		return runs.Load() == 2 && mustStats(t, c, q) == Stats{Queue: q}
	})
}

// TestReclaimScansWholePendingList: a dead worker's job sits behind many jobs
// that live workers are busy with; a worker with one slot (XAUTOCLAIM COUNT
// 1 looks at 10 entries per call) still finds it.
func TestReclaimScansWholePendingList(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	const q = "outbound"
	k, _ := keysOf(q)
	for i := range 31 {
		c.Enqueue(ctx, Job{ID: fmt.Sprintf("j%02d", i), Queue: q})
	}
	c.rdb.XGroupCreateMkStream(ctx, k.stream(), group, "0")
	busy, _ := c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "busy", Streams: []string{k.stream(), ">"}, Count: 30}).Result()
	c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "ghost", Streams: []string{k.stream(), ">"}, Count: 1})
	var ids []string
	for _, m := range busy[0].Messages {
		ids = append(ids, m.ID)
	}
	// "busy" stays alive: it renews its leases.
	stopRenew := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		for {
			c.rdb.XClaimJustID(ctx, &redis.XClaimArgs{Stream: k.stream(), Group: group, Consumer: "busy", Messages: ids})
			select {
			case <-stopRenew:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stopRenew); <-renewed }()
	rec := &recorder{}
	startWorker(t, c, q, rec, HandlerOptions{Concurrency: 1, Lease: 300 * time.Millisecond}, WorkerOptions{})
	waitFor(t, 5*time.Second, "ghost's job", func() bool { return rec.count() >= 1 })
	time.Sleep(100 * time.Millisecond)
	jobs, _ := rec.snapshot()
	if len(jobs) != 1 || jobs[0].ID != "j30" {
		var got []string
		for _, j := range jobs {
			got = append(got, j.ID)
		}
		t.Errorf("got %v, want [j30]", got)
	}
}
