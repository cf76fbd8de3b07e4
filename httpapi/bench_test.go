package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkDossierEvents posts dossier events (email + SMS each: two
// notifications, a composed email in the outbox, two status events, an
// idempotency record, two queue jobs) from 20 concurrent clients over real
// HTTP to an API on SQLite and Redis, and reports events/s and latency
// percentiles. Run: go test -run XXX -bench DossierEvents -benchtime 10000x ./httpapi/
func BenchmarkDossierEvents(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) { benchEvents(b, backend) })
	}
}

func benchEvents(b *testing.B, backend string) {
	// The rate limiter runs (a Redis round trip per request), with a
	// limit the benchmark cannot reach.
	e := newEnv(b, backend, func(o *Options) { o.RateLimit = 1 << 30 })
	const clients = 20
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i], _ = json.Marshal(event(fmt.Sprintf("bench-%d", i)))
	}
	var next atomic.Int64
	lat := make([]time.Duration, b.N)
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				req, _ := http.NewRequest("POST", fmt.Sprintf("%s/v1/dossiers/HS-%d/events", e.ts.URL, i%1000), bytes.NewReader(bodies[i]))
				req.Header.Set("Authorization", "Bearer "+e.live)
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				lat[i] = time.Since(t0)
				if res.StatusCode != http.StatusCreated {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d requests failed", f)
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	commits, events := e.nst.CreateBatches()
	b.ReportMetric(float64(events)/float64(max(commits, 1)), "events/commit")
	b.ReportMetric(0, "ns/op")
}
