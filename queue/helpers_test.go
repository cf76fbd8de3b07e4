package queue

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/internal/testenv"
)

// TestMain lets the test binary double as a worker process that a test can
// SIGKILL mid-job (see TestKilledWorker).
func TestMain(m *testing.M) {
	if os.Getenv("CONGTHU_QUEUE_HELPER") == "worker" {
		helperWorker()
		return
	}
	os.Exit(m.Run())
}

// helperWorker handles one queue with a handler that announces each job on
// stdout and then hangs, until it is killed.
func helperWorker() {
	opt, err := redis.ParseURL(os.Getenv("CONGTHU_QUEUE_REDIS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	rdb := redis.NewClient(opt)
	w := NewWorker(NewClient(rdb), slog.New(slog.NewTextHandler(os.Stderr, nil)), WorkerOptions{Consumer: "doomed"})
	err = w.Handle(os.Getenv("CONGTHU_QUEUE_NAME"), HandlerFunc(func(ctx context.Context, j *Job) error {
		fmt.Printf("started %s %d\n", j.ID, j.Deliveries)
		select {}
	}), HandlerOptions{Concurrency: 1, Lease: time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w.Run(context.Background())
}

func newRedis(t testing.TB, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.PoolSize = 100
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func newClient(t testing.TB) *Client {
	t.Helper()
	return NewClient(newRedis(t, testenv.Redis(t)))
}

func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startWorker runs a worker for one queue until the test ends (or stop is
// called) and returns stop, which waits for Run to return.
func startWorker(t testing.TB, c *Client, queue string, h Handler, qo HandlerOptions, wo WorkerOptions) (stop func() error) {
	t.Helper()
	w := NewWorker(c, testLog(t), wo)
	if err := w.Handle(queue, h, qo); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = fmt.Errorf("worker did not stop")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustStats(t testing.TB, c *Client, q string) Stats {
	t.Helper()
	st, err := c.Stats(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// recorder is a handler that records the jobs it ran.
type recorder struct {
	mu   sync.Mutex
	jobs []Job
	at   []time.Time
	fn   func(j *Job) error
}

func (r *recorder) Handle(ctx context.Context, j *Job) error {
	r.mu.Lock()
	r.jobs = append(r.jobs, *j)
	r.at = append(r.at, time.Now())
	fn := r.fn
	r.mu.Unlock()
	if fn != nil {
		return fn(j)
	}
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.jobs)
}

func (r *recorder) snapshot() ([]Job, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Job(nil), r.jobs...), append([]time.Time(nil), r.at...)
}

// lines feeds the lines of rd to a channel.
func lines(rd io.Reader) <-chan string {
	ch := make(chan string, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(rd)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}
