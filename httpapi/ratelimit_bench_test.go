package httpapi

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"congthu/internal/redisbatch"
)

// BenchmarkLimiterTake takes rate-limit tokens from 20 goroutines, as the
// API's concurrent requests do, with each take a round trip of its own
// (alone) and with concurrent takes sharing pipelines (batched). It
// reports the CPU time of this process per take (the Redis server's is
// not counted).
//
//	go test -run XXX -bench LimiterTake -benchtime 20000x ./httpapi/
func BenchmarkLimiterTake(b *testing.B) {
	for _, mode := range []string{"alone", "batched"} {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b, "sqlite")
			rdb := e.q.Redis()
			l := &limiter{rdb: rdb, perMinute: 1 << 30, batch: redisbatch.New(rdb, nil)}
			defer l.batch.Close()
			if mode == "alone" {
				l.batch = nil
			}
			var next sync.WaitGroup
			per := b.N / 20
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			b.ResetTimer()
			start := time.Now()
			for g := range 20 {
				next.Add(1)
				go func() {
					defer next.Done()
					for range per {
						if ok, _, err := l.take(context.Background(), int64(g), 1); err != nil || !ok {
							b.Error(ok, err)
							return
						}
					}
				}()
			}
			next.Wait()
			el := time.Since(start)
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
			b.ReportMetric(float64(cpu.Microseconds())/float64(per*20), "cpu-µs/take")
			b.ReportMetric(float64(per*20)/el.Seconds(), "takes/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
