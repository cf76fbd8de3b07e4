package queue

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkThroughput pushes b.N jobs through enqueue → XREADGROUP →
// handler → ack, with 16 goroutines enqueueing while a worker with 50
// handler slots consumes, and reports jobs/s.
//
//	go test -run XXX -bench Throughput ./queue/
func BenchmarkThroughput(b *testing.B) {
	ctx := context.Background()
	c := newClient(b)
	const q = "bench"
	var done atomic.Int64
	all := make(chan struct{})
	n := int64(b.N)
	startWorker(b, c, q, HandlerFunc(func(ctx context.Context, j *Job) error {
		if done.Add(1) == n {
			close(all)
		}
		return nil
	}), HandlerOptions{Concurrency: 50}, WorkerOptions{})
	time.Sleep(50 * time.Millisecond) // group created, fetcher blocked
	b.ResetTimer()
	t0 := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > n {
					return
				}
				if _, err := c.Enqueue(ctx, Job{ID: fmt.Sprint("job:", i), Queue: q, Payload: []byte("payload of a typical size, tens of bytes")}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		b.Fatalf("only %d of %d jobs done", done.Load(), n)
	}
	el := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(n)/el.Seconds(), "jobs/s")
}

// BenchmarkLatency measures, on an idle worker, the time from the start of
// Enqueue to the start of the handler, and reports its median and 99th
// percentile.
func BenchmarkLatency(b *testing.B) {
	c := newClient(b)
	lat := measureLatency(b, c, b.N)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99")
}

// TestIdleLatency checks that an idle worker starts a new job within a few
// milliseconds (median), even under the race detector.
func TestIdleLatency(t *testing.T) {
	lat := measureLatency(t, newClient(t), 100)
	med := lat[len(lat)/2]
	t.Logf("enqueue → handler start: median %v, max %v", med, lat[len(lat)-1])
	if med > 20*time.Millisecond {
		t.Errorf("got median latency %v, want a few ms", med)
	}
}

func measureLatency(tb testing.TB, c *Client, n int) []time.Duration {
	ctx := context.Background()
	const q = "latency"
	started := make(chan time.Time, 1)
	startWorker(tb, c, q, HandlerFunc(func(ctx context.Context, j *Job) error {
		started <- time.Now()
		return nil
	}), HandlerOptions{Concurrency: 4}, WorkerOptions{})
	time.Sleep(50 * time.Millisecond)
	if b, ok := tb.(*testing.B); ok {
		b.ResetTimer()
	}
	lat := make([]time.Duration, 0, n)
	for i := range n {
		t0 := time.Now()
		if _, err := c.Enqueue(ctx, Job{ID: fmt.Sprint("job:", i), Queue: q}); err != nil {
			tb.Fatal(err)
		}
		select {
		case s := <-started:
			lat = append(lat, s.Sub(t0))
		case <-time.After(5 * time.Second):
			tb.Fatalf("job %d not started", i)
		}
		time.Sleep(2 * time.Millisecond) // let the worker go back to waiting
	}
	slices.Sort(lat)
	return lat
}
