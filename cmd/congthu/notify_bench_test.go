package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"congthu/internal/testenv"
)

// latencySink records when each notification email arrives, by the
// X-Congthu-Notification header.
type latencySink struct {
	mu      sync.Mutex
	arrived map[string]time.Time
}

func (s *latencySink) NewSession(*smtp.Conn) (smtp.Session, error) { return &latencySession{s}, nil }

type latencySession struct{ s *latencySink }

func (*latencySession) Mail(string, *smtp.MailOptions) error { return nil }
func (*latencySession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (*latencySession) Reset()                               {}
func (*latencySession) Logout() error                        { return nil }
func (ls *latencySession) Data(r io.Reader) error {
	now := time.Now()
	br := bufio.NewReader(r)
	id := ""
	for {
		line, err := br.ReadString('\n')
		if err != nil || line == "\r\n" {
			break
		}
		if strings.HasPrefix(line, "X-Congthu-Notification:") {
			id = strings.TrimSpace(line[len("X-Congthu-Notification:"):])
		}
	}
	io.Copy(io.Discard, br)
	ls.s.mu.Lock()
	ls.s.arrived[id] = now
	ls.s.mu.Unlock()
	return nil
}

// BenchmarkE2ENotify posts dossier events to the running binary at a fixed
// rate (CONGTHU_BENCH_RATE, default 500/s) for CONGTHU_BENCH_SECONDS
// (default 60) and reports how long after the API's 201 each email reached
// the remote side (a go-smtp sink as the smarthost): p50, p95, p99.
//
//	go test -run XXX -bench E2ENotify -benchtime 1x ./cmd/congthu
func BenchmarkE2ENotify(b *testing.B) {
	rate, _ := strconv.Atoi(os.Getenv("CONGTHU_BENCH_RATE"))
	if rate <= 0 {
		rate = 500
	}
	secs, _ := strconv.Atoi(os.Getenv("CONGTHU_BENCH_SECONDS"))
	if secs <= 0 {
		secs = 60
	}
	sink := &latencySink{arrived: map[string]time.Time{}}
	srv := smtp.NewServer(sink)
	srv.Domain = "mx.example.org"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	n := newNode(b, "CONGTHU_REDIS_URL="+testenv.Redis(b), "CONGTHU_SMARTHOST="+ln.Addr().String(),
		"CONGTHU_API_SENDER_DOMAIN=hanoi.gov.vn", "CONGTHU_HTTP_ADDR="+httpAddr, "CONGTHU_API_RATE_LIMIT=1000000",
		"CONGTHU_LOG_LEVEL=warn", "CONGTHU_DELIVERY_WORKERS="+os.Getenv("CONGTHU_DELIVERY_WORKERS"))
	n.admin(b, "", "domain", "add", "hanoi.gov.vn")
	key := strings.TrimSpace(n.admin(b, "", "apikey", "create", "--service", "bench"))
	n.start(b)
	defer n.stop(b)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var mu sync.Mutex
	created := map[string]time.Time{}
	var wg sync.WaitGroup
	total := rate * secs
	// Paced by an absolute schedule, not a Ticker: a Ticker drops the
	// ticks its reader misses when the CPU is busy, which would offer
	// less than the rate. A late request goes out at once.
	period := time.Second / time.Duration(rate)
	b.ResetTimer()
	start := time.Now()
	var failed int
	for i := 0; i < total; i++ {
		if d := time.Until(start.Add(time.Duration(i) * period)); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := fmt.Sprintf(`{"event_id":"e%d","status":"received","channels":["email"],
				"applicant":{"name":"Nguyễn Văn An","email":"an%d@example.org"},
				"procedure":"Cấp giấy phép xây dựng","agency":"UBND quận Hoàn Kiếm",
				"received_at":"2026-03-15T09:00:00+07:00","appointment_at":"2026-03-29T16:00:00+07:00"}`, i, i)
			req, _ := http.NewRequest("POST", "http://"+httpAddr+"/v1/dossiers/000.00.12.H26-"+strconv.Itoa(i)+"/events", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
				return
			}
			at := time.Now()
			rb, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				mu.Lock()
				failed++
				mu.Unlock()
				return
			}
			var r struct {
				Notifications []struct {
					ID string `json:"id"`
				} `json:"notifications"`
			}
			if err := json.Unmarshal(rb, &r); err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
				return
			}
			mu.Lock()
			for _, nt := range r.Notifications {
				created[nt.ID] = at
			}
			mu.Unlock()
		}(i)
	}
	issued := time.Since(start)
	wg.Wait()
	sent := time.Since(start)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		sink.mu.Lock()
		got := len(sink.arrived)
		sink.mu.Unlock()
		mu.Lock()
		want := len(created)
		mu.Unlock()
		if got >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var lat []time.Duration
	missing := 0
	// CONGTHU_BENCH_TRACE=FILE writes each email's 201 time (ms since
	// the start) and latency (ms), to see when the slow ones were.
	var trace *bufio.Writer
	if path := os.Getenv("CONGTHU_BENCH_TRACE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		trace = bufio.NewWriter(f)
		defer trace.Flush()
	}
	sink.mu.Lock()
	for id, c := range created {
		if a, ok := sink.arrived[id]; ok {
			lat = append(lat, a.Sub(c))
			if trace != nil {
				fmt.Fprintf(trace, "%d %d\n", c.Sub(start).Milliseconds(), a.Sub(c).Milliseconds())
			}
		} else {
			missing++
		}
	}
	sink.mu.Unlock()
	slices.Sort(lat)
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	within1s := 0
	for _, l := range lat {
		if l <= time.Second {
			within1s++
		}
	}
	b.ReportMetric(float64(total)/issued.Seconds(), "offered/s")
	b.ReportMetric(float64(len(created))/sent.Seconds(), "events/s")
	b.ReportMetric(float64(q(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.95).Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(100*float64(within1s)/float64(max(1, len(created))), "%within1s")
	b.ReportMetric(float64(missing), "missing")
	b.ReportMetric(float64(failed), "failed")
}
