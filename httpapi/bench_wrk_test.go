package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkDossierEventsWrk is BenchmarkDossierEvents with the load from
// wrk (Debian package wrk), a C load generator in a process of its own,
// instead of Go's HTTP client in the benchmark's process: 20 connections
// on 2 threads post distinct dossier events for CONGTHU_BENCH_SECONDS
// (default 10). It reports the events/s that got a 201 and wrk's latency
// percentiles, and checks that the store holds every notification the
// 201s announced. Run:
//
//	go test -run XXX -bench DossierEventsWrk -benchtime 1x ./httpapi/
func BenchmarkDossierEventsWrk(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk not installed (apt-get install wrk)")
	}
	secs, _ := strconv.Atoi(os.Getenv("CONGTHU_BENCH_SECONDS"))
	if secs <= 0 {
		secs = 10
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			for range b.N {
				benchWrk(b, wrk, backend, secs)
			}
		})
	}
}

// wrkScript posts the event body with a unique event_id (thread number and
// counter) to one of 1,000 dossiers, and prints the counts and latency
// percentiles (µs) for the benchmark to parse.
const wrkScript = `
local n = 0
local threads = {}
function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end
function request()
	n = n + 1
	local body = string.gsub(wrk.body, "@ID@", "w" .. tid .. "-" .. n)
	return wrk.format("POST", "/v1/dossiers/HS-" .. (n % 1000) .. "/events", nil, body)
end
function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT requests=%d status_errors=%d socket_errors=%d duration_us=%d p50=%d p90=%d p99=%d\n",
		summary.requests, e.status, e.connect + e.read + e.write + e.timeout, summary.duration,
		latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
`

var wrkResult = regexp.MustCompile(`RESULT requests=(\d+) status_errors=(\d+) socket_errors=(\d+) duration_us=(\d+) p50=(\d+) p90=(\d+) p99=(\d+)`)

func benchWrk(b *testing.B, wrk, backend string, secs int) {
	// The rate limiter runs (a Redis round trip per request), with a
	// limit the benchmark cannot reach.
	e := newEnv(b, backend, func(o *Options) { o.RateLimit = 1 << 30 })
	body, err := json.Marshal(event("@ID@"))
	if err != nil {
		b.Fatal(err)
	}
	if strings.Contains(string(body), "]==]") {
		b.Fatal("event body cannot be a Lua long string")
	}
	script := filepath.Join(b.TempDir(), "events.lua")
	lua := "wrk.method = \"POST\"\nwrk.body = [==[" + string(body) + "]==]\n" + wrkScript
	if err := os.WriteFile(script, []byte(lua), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	out, err := exec.Command(wrk, "-t2", "-c20", fmt.Sprintf("-d%ds", secs), "--timeout", "10s", "-s", script,
		"-H", "Authorization: Bearer "+e.live, "-H", "Content-Type: application/json", e.ts.URL).CombinedOutput()
	b.StopTimer()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	m := wrkResult.FindStringSubmatch(string(out))
	if m == nil {
		b.Fatalf("wrk printed no result:\n%s", out)
	}
	v := make([]int64, len(m))
	for i := 1; i < len(m); i++ {
		v[i], _ = strconv.ParseInt(m[i], 10, 64)
	}
	requests, statusErrs, sockErrs, dur := v[1], v[2], v[3], time.Duration(v[4])*time.Microsecond
	if statusErrs > 0 || sockErrs > 0 {
		b.Fatalf("%d responses other than 2xx and %d socket errors out of %d requests:\n%s", statusErrs, sockErrs, requests, out)
	}
	// Every 201 is an event whose two notifications are committed (wrk
	// may close connections with requests in flight at the end: those
	// can commit without being counted, never the other way round).
	counts, err := e.nst.NotificationCounts(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var stored int64
	for _, c := range counts {
		stored += c.Count
	}
	if stored < 2*requests || stored > 2*(requests+20) {
		b.Fatalf("the store holds %d notifications for %d accepted events (want 2 each)", stored, requests)
	}
	commits, events := e.nst.CreateBatches()
	b.ReportMetric(float64(requests)/dur.Seconds(), "events/s")
	b.ReportMetric(float64(v[5])/1000, "p50-ms")
	b.ReportMetric(float64(v[6])/1000, "p90-ms")
	b.ReportMetric(float64(v[7])/1000, "p99-ms")
	b.ReportMetric(float64(events)/float64(max(commits, 1)), "events/commit")
	b.ReportMetric(0, "ns/op")
}
