package smtpd

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// BenchmarkMXIngest: 20 concurrent MX sessions (connections reused, like
// a busy peer MTA) sending 10 KB messages to local recipients; DNS from
// testdns with no SPF, DKIM or DMARC records (SPF none). Each 250 means the
// message is committed to the recipient's INBOX.
func BenchmarkMXIngest(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			fx := newMXFixture(b, backend)
			e := newMX(b, fx, MXOptions{})
			cs := make([]*smtp.Client, benchSessions)
			for i := range cs {
				cs[i] = e.dial(b, "mta.sender.test")
			}
			body := strings.Repeat("Kính gửi Ủy ban nhân dân, văn bản đính kèm số 123/2025/QĐ-UBND ngày 02/01.\r\n", 128)
			msg := []byte("From: <sender@sender.test>\r\nTo: <bob@" + domain + ">\r\nSubject: bench\r\n" +
				"Date: Thu, 02 Jan 2025 08:00:00 +0700\r\nMessage-ID: <bench@sender.test>\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body)
			msg = msg[:min(len(msg), 10<<10)]
			rcpts := [][]string{{"bob@" + domain}, {"alice@" + domain}, {"vanthu@" + domain}}
			b.SetBytes(int64(len(msg)))
			b.ResetTimer()
			start := time.Now()
			var next atomic.Int64
			var wg sync.WaitGroup
			for _, c := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						if _, err := send(c, "sender@sender.test", rcpts[i%len(rcpts)], msg); err != nil {
							b.Errorf("message %d: %v", i, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			if b.N >= 100 && !e.logs.Contains("spf=none") {
				b.Error("no SPF none in the log")
			}
		})
	}
}
