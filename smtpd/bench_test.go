package smtpd

import (
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const benchSessions = 20

// benchClients opens n authenticated STARTTLS sessions as alice.
func benchClients(tb testing.TB, e *env, n int) []*smtp.Client {
	tb.Helper()
	cs := make([]*smtp.Client, n)
	for i := range cs {
		c, err := smtp.DialStartTLS(e.addr, e.clientTLS)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Close() })
		if err := c.Auth(sasl.NewPlainClient("", "alice@"+domain, alicePass)); err != nil {
			tb.Fatal(err)
		}
		cs[i] = c
	}
	return cs
}

// pump sends total messages over the sessions concurrently (each session
// reusing its connection), calling done with each message's sequence
// number after its 250.
func pump(tb testing.TB, cs []*smtp.Client, total int, rcpts func(i int) []string, msg []byte, done func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				if _, err := send(c, "alice@"+domain, rcpts(i), msg); err != nil {
					tb.Errorf("message %d: %v", i, err)
					return
				}
				if done != nil {
					done(i)
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkSubmission: 10 KB messages over 20 concurrent authenticated
// sessions to local recipients; each 250 means the message is durable.
func BenchmarkSubmission(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, envConfig{backend: backend, opts: Options{MaxMessagesPerAccountPerHour: -1}})
			cs := benchClients(b, e, benchSessions)
			msg := testMessage(msgOpts{from: "alice@" + domain, to: "bob@" + domain, date: true, msgID: true, attachment: 7 << 10})
			rcpts := [][]string{{"bob@" + domain}, {"phong@" + domain}, {"vanthu@" + domain}}
			b.SetBytes(int64(len(msg)))
			b.ResetTimer()
			start := time.Now()
			pump(b, cs, b.N, func(i int) []string { return rcpts[i%len(rcpts)] }, msg, nil)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// TestInboxGrowth fills one INBOX with CONGTHU_SMTPD_GROWTH messages
// (e.g. 20000) over 20 sessions and compares the rate of the first and the
// last 1000. Skipped unless that variable is set: it is slow.
//
//	CONGTHU_SMTPD_GROWTH=20000 go test -run InboxGrowth -v ./smtpd
func TestInboxGrowth(t *testing.T) {
	total, _ := strconv.Atoi(os.Getenv("CONGTHU_SMTPD_GROWTH"))
	if total < 2000 {
		t.Skip("set CONGTHU_SMTPD_GROWTH=20000 to run")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, envConfig{backend: backend, opts: Options{MaxMessagesPerAccountPerHour: -1}})
			cs := benchClients(t, e, benchSessions)
			msg := testMessage(msgOpts{from: "alice@" + domain, to: "bob@" + domain, date: true, msgID: true, attachment: 7 << 10})
			const block = 1000
			var (
				mu      sync.Mutex
				count   int
				marks   []time.Time
				started = time.Now()
			)
			marks = append(marks, started)
			pump(t, cs, total, func(int) []string { return []string{"bob@" + domain} }, msg, func(int) {
				mu.Lock()
				count++
				if count%block == 0 {
					marks = append(marks, time.Now())
				}
				mu.Unlock()
			})
			if len(marks) < 3 {
				t.Fatalf("only %d blocks", len(marks)-1)
			}
			first := block / marks[1].Sub(marks[0]).Seconds()
			last := block / marks[len(marks)-1].Sub(marks[len(marks)-2]).Seconds()
			t.Logf("%s: %d messages into one INBOX in %v: first %d at %.0f msgs/s, last %d at %.0f msgs/s",
				backend, total, time.Since(started).Round(time.Millisecond), block, first, block, last)
			if last < first/2 {
				t.Errorf("the last 1000 went at %.0f msgs/s, less than half the first 1000's %.0f", last, first)
			}
		})
	}
}
