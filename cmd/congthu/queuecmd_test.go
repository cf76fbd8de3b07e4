package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/internal/testenv"
	"congthu/outbox"
	"congthu/queue"
	"congthu/store"
)

func TestQueueCLI(t *testing.T) {
	url := testenv.Redis(t)
	dir := t.TempDir()
	env := map[string]string{"CONGTHU_REDIS_URL": url, "CONGTHU_DATA_DIR": dir}
	opt, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	q := queue.NewClient(rdb)
	ctx := context.Background()

	// The store holds outbox entries 1 and 2 (the system of record of
	// the outbound jobs below).
	st, err := store.Open(ctx, store.Options{DataDir: dir}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for want := int64(1); want <= 2; want++ {
		res, err := st.Deliver(ctx, &store.Delivery{Raw: []byte("Subject: x\r\n\r\nbody\r\n"), MailFrom: "an@example.gov.vn", Remote: []string{"a@other.vn"}})
		if err != nil || res.OutboxID != want {
			t.Fatalf("Deliver: got outbox %d, %v, want %d", res.OutboxID, err, want)
		}
	}

	// Three jobs: one ready, one delayed, one that dies.
	for _, j := range []struct {
		id    string
		delay time.Duration
	}{{"outbox:1", 0}, {"outbox:2", time.Hour}, {"outbox:3", 0}} {
		if _, err := q.EnqueueIn(ctx, queue.Job{ID: j.id, Queue: "outbound"}, j.delay); err != nil {
			t.Fatal(err)
		}
	}
	// A worker that fails outbox:3 permanently and leaves outbox:1 alone
	// by failing it with a retry far in the future.
	w := queue.NewWorker(q, slog.New(slog.NewTextHandler(io.Discard, nil)), queue.WorkerOptions{Block: 100 * time.Millisecond})
	w.Handle("outbound", queue.HandlerFunc(func(ctx context.Context, j *queue.Job) error {
		if j.ID == "outbox:3" {
			return queue.Permanent(errors.New("550 5.1.1 no such user"))
		}
		return queue.RetryAt(time.Now().Add(time.Hour), errors.New("451 try later"))
	}), queue.HandlerOptions{})
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := q.Stats(ctx, "outbound")
		if err != nil {
			t.Fatal(err)
		}
		if s.Dead == 1 && s.Delayed == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs not settled: %+v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done

	code, out, errs := runCLI(t, env, "", "queue", "stats")
	if code != 0 || !strings.Contains(out, "outbound") {
		t.Fatalf("queue stats: exit %d, %q %q", code, out, errs)
	}
	fields := strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1])
	if got := strings.Join(fields[1:5], " "); got != "0 0 2 1" {
		t.Errorf("queue stats: got ready/inflight/delayed/dead %q, want %q\n%s", got, "0 0 2 1", out)
	}
	code, out, _ = runCLI(t, env, "", "queue", "list", "--dead")
	if code != 0 || !strings.Contains(out, "outbox:3") || !strings.Contains(out, "550 5.1.1 no such user") {
		t.Errorf("queue list --dead: exit %d, %q", code, out)
	}
	code, out, _ = runCLI(t, env, "", "queue", "list")
	if code != 0 || !strings.Contains(out, "outbox:1") || !strings.Contains(out, "outbox:2") || strings.Contains(out, "outbox:3") {
		t.Errorf("queue list: exit %d, %q", code, out)
	}
	if code, _, errs := runCLI(t, env, "", "queue", "retry", "outbox:9"); code != 1 || !strings.Contains(errs, "no dead letter outbox:9") {
		t.Errorf("retry of a missing job: exit %d, %q", code, errs)
	}
	if code, out, errs := runCLI(t, env, "", "queue", "retry", "outbox:3"); code != 0 || !strings.Contains(out, "1 job(s)") {
		t.Errorf("retry: exit %d, %q %q", code, out, errs)
	}
	if s, _ := q.Stats(ctx, "outbound"); s.Dead != 0 || s.Ready != 1 {
		t.Errorf("after retry: %+v, want 0 dead, 1 ready", s)
	}
	if code, out, errs := runCLI(t, env, "", "queue", "drop", "--reason", "wrong dossier", "outbox:2"); code != 0 ||
		!strings.Contains(out, "cancelled 1 recipients of outbox 2") || !strings.Contains(out, "dropped") {
		t.Errorf("drop: exit %d, %q %q", code, out, errs)
	}
	if s, _ := q.Stats(ctx, "outbound"); s.Delayed != 1 {
		t.Errorf("after drop: %+v, want 1 delayed", s)
	}
	// The drop sticks: the store no longer has entry 2 due, so the
	// sweeper does not bring the job back; entry 1 is still due.
	if due, err := st.Outbox().DuePage(ctx, time.Now().Add(time.Hour), 0, 10); err != nil || !slices.Equal(due, []int64{1}) {
		t.Errorf("OutboxDue after drop: got %v, %v, want [1]", due, err)
	}
	if ob, err := st.Outbox().State(ctx, 2); err != nil || ob.Recipients[0].Status != outbox.Failed || ob.Recipients[0].LastError != "cancelled by operator: wrong dossier" {
		t.Errorf("outbox 2 after drop: got %+v, %v", ob, err)
	}
	// Again: nothing left to cancel, nothing in Redis.
	if code, out, errs := runCLI(t, env, "", "queue", "drop", "outbox:2"); code != 0 || !strings.Contains(out, "cancelled 0 recipients") || !strings.Contains(out, "not in the queues") {
		t.Errorf("second drop: exit %d, %q %q", code, out, errs)
	}
	if code, out, errs := runCLI(t, env, "", "queue", "drop", "outbox:9"); code != 1 || !strings.Contains(out, "outbox 9 is not in the store") || !strings.Contains(errs, "no job outbox:9") {
		t.Errorf("drop of an unknown job: exit %d, %q %q", code, out, errs)
	}
	if code, _, errs := runCLI(t, env, "", "queue", "retry"); code != 2 || !strings.Contains(errs, "one job ID or --all-dead") {
		t.Errorf("retry without args: exit %d, %q", code, errs)
	}
	if code, _, errs := runCLI(t, map[string]string{"CONGTHU_DATA_DIR": t.TempDir()}, "", "queue", "stats"); code != 1 || !strings.Contains(errs, "no Redis configured") {
		t.Errorf("no redis: exit %d, %q", code, errs)
	}
}
