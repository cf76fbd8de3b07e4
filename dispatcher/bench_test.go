package dispatcher

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"congthu/internal/testdns"
	"congthu/store"
)

// BenchmarkOutbound measures the outbound path end to end on a real store
// (SQLite), Redis and a local go-smtp sink standing in for one remote
// domain's MX:
//
//   - throughput: 10,000 queued 10 KB messages delivered and recorded, in
//     messages/s: signed when accepted (dkim), signed by the dispatcher
//     (dkim-at-delivery) or unsigned (nodkim);
//   - latency: enqueue (the outbox's Added callback) to the sink seeing
//     MAIL FROM, one message at a time on an idle dispatcher; median and
//     90th percentile.
//
// Run: scripts/test.sh -run '^$' -bench BenchmarkOutbound -benchtime 1x ./dispatcher/
// (or plain go test; -race slows it several times).
func BenchmarkOutbound(b *testing.B) {
	// dkim: messages signed when accepted (what submission and the API
	// do: Sign before the store), so the queue holds signed bytes; the
	// signing is timed separately and reported as sign-ms/msg.
	// dkim-at-delivery: unsigned in the queue, signed by the dispatcher
	// (mail queued by a path that does not sign). nodkim: no key.
	for _, tc := range []struct {
		name string
		mode signMode
	}{{"throughput/dkim", signAtAcceptance}, {"throughput/dkim-at-delivery", signAtDelivery}, {"throughput/nodkim", noKey}} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				benchThroughput(b, 10000, tc.mode)
			}
		})
	}
	b.Run("latency", func(b *testing.B) {
		for range b.N {
			benchLatency(b, 200)
		}
	})
}

func benchEnv(b *testing.B, workers int) (*env, *sink) {
	sk := startSink(b, sinkOpts{})
	e := newEnv(b, envOpts{noRun: true, noFinal: true, opts: func(o *Options) {
		o.Port = portOf(b, sk.addr)
		o.KeepFinished = false
		o.Workers = workers
		o.IdleTimeout = 10 * time.Second
	}})
	e.dns.SetMX("remote.test", testdns.MX{Pref: 10, Host: "mx.remote.test"})
	e.dns.SetA("mx.remote.test", "127.0.0.1")
	return e, sk
}

type signMode int

const (
	signAtAcceptance signMode = iota
	signAtDelivery
	noKey
)

func benchThroughput(b *testing.B, n int, mode signMode) {
	b.StopTimer()
	e, sk := benchEnv(b, 0)
	from := "alice@local.test"
	if mode == noKey {
		if err := e.st.SetDomainDKIM(e.ctx, "local.test", "", nil); err != nil {
			b.Fatal(err)
		}
	}
	raw := message(from, "bob@remote.test", "Báo cáo tuần", 10<<10)
	var signTime atomic.Int64
	// Queue n messages (group commit, 32 writers), then their jobs.
	ids := make([]int64, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 32 {
				msg := raw
				if mode == signAtAcceptance {
					t0 := time.Now()
					msg = e.d.o.Signer.Sign(e.ctx, from, raw)
					signTime.Add(int64(time.Since(t0)))
				}
				res, err := e.st.Deliver(e.ctx, &store.Delivery{Raw: msg, MailFrom: from, Remote: []string{fmt.Sprintf("r%d@remote.test", i)}})
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				ids[i] = res.OutboxID
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	for _, id := range ids {
		if _, err := e.q.Enqueue(e.ctx, jobFor(id)); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	b.StartTimer()
	start := time.Now()
	go func() { done <- e.d.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Minute)
	for sk.count() < n {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d delivered", sk.count(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Wait for the outcomes to be recorded (entries removed).
	for {
		due, err := e.st.Outbox().DuePage(e.ctx, time.Now().Add(time.Hour), 0, 1)
		if err != nil {
			b.Fatal(err)
		}
		if len(due) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("outcomes not recorded")
		}
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(sk.conns.Load()), "conns")
	if mode == signAtAcceptance {
		b.ReportMetric(float64(signTime.Load())/float64(n)/1e6, "sign-ms/msg")
	}
	b.ReportMetric(0, "ns/op")
}

func benchLatency(b *testing.B, n int) {
	b.StopTimer()
	e, sk := benchEnv(b, 0)
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	enq := NewEnqueuer(e.q, nil) // what the outbox's Added callback calls
	go enq.Run(ctx)
	from := "alice@local.test"
	raw := message(from, "bob@remote.test", "Thông báo", 10<<10)
	var lat []time.Duration
	for i := range n + 5 {
		res, err := e.st.Deliver(e.ctx, &store.Delivery{Raw: raw, MailFrom: from, Remote: []string{fmt.Sprintf("r%d@remote.test", i)}})
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		enq.Add(res.OutboxID)
		for sk.count() <= i {
			time.Sleep(50 * time.Microsecond)
		}
		sk.mu.Lock()
		at := sk.attempts[len(sk.attempts)-1]
		sk.mu.Unlock()
		if i >= 5 { // the first ones warm up connections
			lat = append(lat, at.Sub(t0))
		}
		time.Sleep(20 * time.Millisecond) // idle between messages
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "ms-p90")
	b.ReportMetric(0, "ns/op")
}
