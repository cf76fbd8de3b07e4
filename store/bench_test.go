package store

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// message10K returns a 10 KB message with a text body.
func message10K(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: an@example.gov.vn\r\nTo: binh@example.gov.vn\r\nSubject: Hồ sơ số %d\r\n"+
		"Message-ID: <%d@example.gov.vn>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", i, i)
	line := "Kính gửi Ủy ban nhân dân phường, hồ sơ đã được tiếp nhận và đang xử lý.\r\n"
	for b.Len() < 10*1024 {
		b.WriteString(line)
	}
	return []byte(b.String())
}

// BenchmarkDeliver measures durable deliveries of 10 KB messages from 20
// concurrent sessions into one INBOX.
//
//	go test -run NONE -bench BenchmarkDeliver$ -benchtime 5000x ./store
func BenchmarkDeliver(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			be := newBackend(b, name)
			s := be.open(b)
			acc := setup(b, s, "an")[0]
			raws := make([][]byte, 64)
			for i := range raws {
				raws[i] = message10K(i)
			}
			b.SetBytes(int64(len(raws[0])))
			b.SetParallelism(10) // 2 cores * 10 = 20 sessions
			var n atomic.Int64
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if _, err := s.Deliver(ctx, &Delivery{Raw: raws[i%64], Local: []LocalTarget{{AccountID: acc.ID}}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkDeliverGrowingInbox delivers 20,000 10 KB messages into one
// INBOX from 20 sessions and reports the rate of the first and the last
// 1,000: the cost of a delivery must not grow with the mailbox. b.N is
// ignored; run it once:
//
//	go test -run NONE -bench GrowingInbox -benchtime 1x ./store
func BenchmarkDeliverGrowingInbox(b *testing.B) {
	const total, window, sessions = 20000, 1000, 20
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			be := newBackend(b, name)
			s := be.open(b)
			acc := setup(b, s, "an")[0]
			raws := make([][]byte, 64)
			for i := range raws {
				raws[i] = message10K(i)
			}
			var n atomic.Int64
			var mu sync.Mutex
			stamps := map[int64]time.Time{}
			mark := func(i int64) {
				if i == 1 || i == window || i == total-window || i == total {
					mu.Lock()
					stamps[i] = time.Now()
					mu.Unlock()
				}
			}
			b.ResetTimer()
			begin := time.Now()
			var wg sync.WaitGroup
			for range sessions {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := n.Add(1)
						if i > total {
							return
						}
						if _, err := s.Deliver(ctx, &Delivery{Raw: raws[i%64], Local: []LocalTarget{{AccountID: acc.ID}}}); err != nil {
							b.Error(err)
							return
						}
						mark(i)
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(begin)
			first := float64(window) / stamps[window].Sub(begin).Seconds()
			last := float64(window) / stamps[total].Sub(stamps[total-window]).Seconds()
			b.ReportMetric(first, "first1k-msgs/s")
			b.ReportMetric(last, "last1k-msgs/s")
			b.ReportMetric(float64(total)/elapsed.Seconds(), "avg-msgs/s")
			st, _ := s.Status(ctx, inbox(b, s, acc.ID).ID)
			if st.Messages != total {
				b.Errorf("stored %d, want %d", st.Messages, total)
			}
		})
	}
}
