package main

import (
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
	"congthu/zns/znstest"
)

// BenchmarkE2EZalo posts dossier events with channels ["email", "zalo",
// "sms"] to the running binary at a fixed rate (CONGTHU_BENCH_RATE, default
// 500/s) for CONGTHU_BENCH_SECONDS (default 60), against the test ZNS
// server (which posts a signed receipt for every message) and a go-smtp
// sink as the smarthost. It reports how long after the API's 201 each Zalo
// request reached the ZNS server (p50, p95, p99, % within 1 s), the
// events whose Zalo message or email never arrived, and the SMS made (none
// should be: Zalo delivered every one).
//
//	go test -run XXX -bench E2EZalo -benchtime 1x ./cmd/congthu
func BenchmarkE2EZalo(b *testing.B) {
	rate, _ := strconv.Atoi(os.Getenv("CONGTHU_BENCH_RATE"))
	if rate <= 0 {
		rate = 500
	}
	secs, _ := strconv.Atoi(os.Getenv("CONGTHU_BENCH_SECONDS"))
	if secs <= 0 {
		secs = 60
	}
	// CONGTHU_BENCH_CHANNELS (a JSON list) replaces the channels, to
	// measure Zalo alone: ["zalo","sms"].
	channels := `["email","zalo","sms"]`
	if c := os.Getenv("CONGTHU_BENCH_CHANNELS"); c != "" {
		channels = c
	}
	sink := &latencySink{arrived: map[string]time.Time{}}
	srv := smtp.NewServer(sink)
	srv.Domain = "mx.example.org"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	z := znstest.New(znstest.Options{AppID: "bench", AppSecret: "s", OASecret: "oa", RefreshToken: "r0", DailyQuota: 10_000_000,
		Webhook: "http://" + httpAddr + "/v1/zalo/events", AutoReceipt: true, ReceiptDelay: 200 * time.Millisecond})
	defer z.Close()
	n := newNode(b, "CONGTHU_REDIS_URL="+testenv.Redis(b), "CONGTHU_SMARTHOST="+ln.Addr().String(),
		"CONGTHU_API_SENDER_DOMAIN=hanoi.gov.vn", "CONGTHU_HTTP_ADDR="+httpAddr, "CONGTHU_API_RATE_LIMIT=1000000",
		"CONGTHU_LOG_LEVEL=warn", "CONGTHU_SMS_QUIET_HOURS=off", "CONGTHU_REMINDER_LEAD=0s",
		"CONGTHU_ZNS_API_URL="+z.URL(), "CONGTHU_ZNS_OAUTH_URL="+z.URL(), "CONGTHU_ZNS_APP_ID=bench",
		"CONGTHU_ZNS_APP_SECRET=s", "CONGTHU_ZNS_REFRESH_TOKEN=r0", "CONGTHU_ZNS_OA_SECRET=oa")
	n.addr["http"] = httpAddr
	n.admin(b, "", "domain", "add", "hanoi.gov.vn")
	key := strings.TrimSpace(n.admin(b, "", "apikey", "create", "--service", "bench"))
	n.start(b)
	defer n.stop(b)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var mu sync.Mutex
	zaloCreated := map[string]time.Time{} // zalo notification id → 201
	emails := map[string]bool{}
	var wg sync.WaitGroup
	total := rate * secs
	period := time.Second / time.Duration(rate)
	b.ResetTimer()
	start := time.Now()
	var failed, smsMade int
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * period)); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := fmt.Sprintf(`{"event_id":"e%d","status":"received","channels":`+channels+`,
				"applicant":{"name":"Nguyễn Văn An","email":"an%d@example.org","phone":"09%08d"},
				"procedure":"Cấp giấy phép xây dựng","agency":"UBND quận Hoàn Kiếm",
				"received_at":"2026-03-15T09:00:00+07:00","appointment_at":"2026-03-29T16:00:00+07:00"}`, i, i, i)
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
			var r struct {
				Notifications []struct{ ID, Channel string } `json:"notifications"`
			}
			if resp.StatusCode != 201 || json.Unmarshal(rb, &r) != nil {
				mu.Lock()
				failed++
				mu.Unlock()
				return
			}
			mu.Lock()
			for _, nt := range r.Notifications {
				switch nt.Channel {
				case "zalo":
					zaloCreated[nt.ID] = at
				case "email":
					emails[nt.ID] = true
				default:
					smsMade++
				}
			}
			mu.Unlock()
		}(i)
	}
	issued := time.Since(start)
	wg.Wait()
	sent := time.Since(start)
	reached := func() map[string]time.Time {
		out := map[string]time.Time{}
		for _, s := range z.Sent() {
			out[s.TrackingID] = s.At
		}
		return out
	}
	var got map[string]time.Time
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		got = reached()
		sink.mu.Lock()
		mails := len(sink.arrived)
		sink.mu.Unlock()
		if (len(got) >= len(zaloCreated) && mails >= len(emails)) || time.Now().After(deadline) {
			break
		}
	}
	b.StopTimer()
	var lat []time.Duration
	missing := 0
	for id, c := range zaloCreated {
		if a, ok := got[id]; ok {
			lat = append(lat, a.Sub(c))
		} else {
			missing++
		}
	}
	sink.mu.Lock()
	mailMissing := 0
	for id := range emails {
		if _, ok := sink.arrived[id]; !ok {
			mailMissing++
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
	// SMS made later, as fallbacks: the usage report counts them.
	day := func(d int) string { return time.Now().AddDate(0, 0, d).Format(time.DateOnly) }
	req, _ := http.NewRequest("GET", "http://"+httpAddr+"/v1/usage?from="+day(-1)+"&to="+day(1), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	time.Sleep(time.Second)
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 200 {
		b.Errorf("usage: %v %v", resp, err)
	} else {
		var u struct {
			Usage []struct {
				Channel       string
				Notifications int
				Delivered     int
			} `json:"usage"`
		}
		json.NewDecoder(resp.Body).Decode(&u)
		resp.Body.Close()
		for _, r := range u.Usage {
			switch r.Channel {
			case "sms":
				smsMade += r.Notifications
			case "zalo":
				b.ReportMetric(float64(r.Delivered), "zalo-delivered")
			}
		}
	}
	b.ReportMetric(float64(total)/issued.Seconds(), "offered/s")
	b.ReportMetric(float64(len(zaloCreated))/sent.Seconds(), "events/s")
	b.ReportMetric(float64(q(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.95).Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(100*float64(within1s)/float64(max(1, len(zaloCreated))), "%within1s")
	b.ReportMetric(float64(missing), "zalo-missing")
	b.ReportMetric(float64(mailMissing), "mail-missing")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(float64(smsMade), "sms")
}
