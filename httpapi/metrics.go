package httpapi

// Prometheus metrics, written in the text exposition format (version
// 0.0.4) by hand: the handful of counters and histograms here do not
// justify client_golang and the modules it pulls in (client_model, common,
// procfs, protobuf), none of which are in this module's go.sum.

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"congthu/internal/metrics"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/outbox"
	"congthu/webhook"
)

var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

var deliveryBuckets = []float64{1, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600, 72 * 3600}

type histogram struct {
	buckets []float64
	counts  []uint64
	sum     float64
	n       uint64
}

func newHistogram(b []float64) *histogram {
	return &histogram{buckets: b, counts: make([]uint64, len(b))}
}

func (h *histogram) observe(v float64) {
	for i, b := range h.buckets {
		if v <= b {
			h.counts[i]++
		}
	}
	h.sum += v
	h.n++
}

func (h *histogram) write(b *strings.Builder, name, labels string) {
	sep := ""
	if labels != "" {
		sep = ","
	}
	for i, ub := range h.buckets {
		fmt.Fprintf(b, "%s_bucket{%s%sle=\"%s\"} %d\n", name, labels, sep, strconv.FormatFloat(ub, 'g', -1, 64), h.counts[i])
	}
	fmt.Fprintf(b, "%s_bucket{%s%sle=\"+Inf\"} %d\n", name, labels, sep, h.n)
	fmt.Fprintf(b, "%s_sum{%s} %s\n", name, labels, strconv.FormatFloat(h.sum, 'g', -1, 64))
	fmt.Fprintf(b, "%s_count{%s} %d\n", name, labels, h.n)
}

type routeCode struct {
	route string
	code  int
}

type Metrics struct {
	mu       sync.Mutex
	requests map[routeCode]uint64
	latency  map[string]*histogram // by route
	delivery map[string]*histogram // by channel
	finals   map[[2]string]uint64  // channel, status
	filters  map[[2]string]uint64  // filter, server: failed calls

	countsMu sync.Mutex
	counts   []notifydb.NotificationCount
	countsAt time.Time

	// reg holds what the other components count (the mail side:
	// SMTP, delivery, the outbox, logins), written after the API's own.
	reg *metrics.Registry
}

// NewMetrics returns the API's metrics. Build them before the workers
// whose Tracker reports to ObserveDelivery.
func NewMetrics() *Metrics {
	return &Metrics{requests: map[routeCode]uint64{}, latency: map[string]*histogram{},
		delivery: map[string]*histogram{}, finals: map[[2]string]uint64{}, filters: map[[2]string]uint64{},
		reg: metrics.NewRegistry()}
}

// Registry is the registry /metrics serves beside the API's own
// families: the process's other components register theirs in it.
func (m *Metrics) Registry() *metrics.Registry { return m.reg }

// FilterFailed is the content filters' failure observer (smtpd's
// FilterOptions.OnFailure): it counts a call to filter ("clamd",
// "rspamd") from server ("smtp", "mx") that failed or timed out.
func (m *Metrics) FilterFailed(filter, server string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.filters[[2]string{filter, server}]++
}

func (m *Metrics) observeRequest(route string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[routeCode{route, code}]++
	h := m.latency[route]
	if h == nil {
		h = newHistogram(latencyBuckets)
		m.latency[route] = h
	}
	h.observe(d.Seconds())
}

// ObserveDelivery is the observer to give notify.NewTracker: it counts a
// notification's final status and its latency.
func (m *Metrics) ObserveDelivery(channel, status string, latency time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.finals[[2]string{channel, status}]++
	if status != notifydb.NotificationDelivered {
		return
	}
	h := m.delivery[channel]
	if h == nil {
		h = newHistogram(deliveryBuckets)
		m.delivery[channel] = h
	}
	h.observe(latency.Seconds())
}

func esc(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var b strings.Builder
	m := s.metrics
	m.mu.Lock()
	b.WriteString("# HELP congthu_http_requests_total HTTP API requests by route and status code.\n# TYPE congthu_http_requests_total counter\n")
	keys := make([]routeCode, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].route != keys[j].route {
			return keys[i].route < keys[j].route
		}
		return keys[i].code < keys[j].code
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "congthu_http_requests_total{route=\"%s\",code=\"%d\"} %d\n", esc(k.route), k.code, m.requests[k])
	}
	b.WriteString("# HELP congthu_http_request_duration_seconds HTTP API request latency by route.\n# TYPE congthu_http_request_duration_seconds histogram\n")
	routes := make([]string, 0, len(m.latency))
	for r := range m.latency {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		m.latency[r].write(&b, "congthu_http_request_duration_seconds", fmt.Sprintf("route=\"%s\"", esc(r)))
	}
	b.WriteString("# HELP congthu_notification_delivery_seconds Time from creation to delivered, by channel (status changes seen by this process).\n# TYPE congthu_notification_delivery_seconds histogram\n")
	chans := make([]string, 0, len(m.delivery))
	for c := range m.delivery {
		chans = append(chans, c)
	}
	sort.Strings(chans)
	for _, c := range chans {
		m.delivery[c].write(&b, "congthu_notification_delivery_seconds", fmt.Sprintf("channel=\"%s\"", esc(c)))
	}
	b.WriteString("# HELP congthu_notification_final_total Notifications that reached a final status in this process, by channel and status.\n# TYPE congthu_notification_final_total counter\n")
	finals := make([][2]string, 0, len(m.finals))
	for k := range m.finals {
		finals = append(finals, k)
	}
	sort.Slice(finals, func(i, j int) bool { return finals[i][0]+finals[i][1] < finals[j][0]+finals[j][1] })
	for _, k := range finals {
		fmt.Fprintf(&b, "congthu_notification_final_total{channel=\"%s\",status=\"%s\"} %d\n", esc(k[0]), esc(k[1]), m.finals[k])
	}
	b.WriteString("# HELP congthu_filter_failures_total Content filter calls that failed or timed out, by filter and server.\n# TYPE congthu_filter_failures_total counter\n")
	ff := make([][2]string, 0, len(m.filters))
	for k := range m.filters {
		ff = append(ff, k)
	}
	sort.Slice(ff, func(i, j int) bool { return ff[i][0]+ff[i][1] < ff[j][0]+ff[j][1] })
	for _, k := range ff {
		fmt.Fprintf(&b, "congthu_filter_failures_total{filter=\"%s\",server=\"%s\"} %d\n", esc(k[0]), esc(k[1]), m.filters[k])
	}
	m.mu.Unlock()
	commits, committed := s.nst.CreateBatches()
	fmt.Fprintf(&b, "# HELP congthu_api_commits_total Group commits of API requests.\n# TYPE congthu_api_commits_total counter\ncongthu_api_commits_total %d\n", commits)
	fmt.Fprintf(&b, "# HELP congthu_api_committed_requests_total API requests stored by group commits.\n# TYPE congthu_api_committed_requests_total counter\ncongthu_api_committed_requests_total %d\n", committed)

	// Store and queue figures (cached 15 s). Final statuses are the
	// counters above: counting them in the store would read the whole
	// table.
	m.countsMu.Lock()
	if time.Since(m.countsAt) > 15*time.Second {
		if c, err := s.nst.PendingNotificationCounts(ctx); err == nil {
			m.counts, m.countsAt = c, time.Now()
		} else {
			s.log.Warn("httpapi: metrics: notification counts", "err", err)
		}
	}
	counts := m.counts
	m.countsMu.Unlock()
	b.WriteString("# HELP congthu_notifications_pending Notifications in the store not yet in a final status, by channel and status.\n# TYPE congthu_notifications_pending gauge\n")
	for _, c := range counts {
		fmt.Fprintf(&b, "congthu_notifications_pending{channel=\"%s\",status=\"%s\"} %d\n", esc(c.Channel), esc(c.Status), c.Count)
	}
	b.WriteString("# HELP congthu_queue_jobs Jobs in the notification queues by state.\n# TYPE congthu_queue_jobs gauge\n")
	qs := []string{notify.QueueTest, notify.QueueSMS, webhook.Queue, outbox.JobQueue}
	sort.Strings(qs)
	for _, q := range qs {
		st, err := s.q.Stats(ctx, q)
		if err != nil {
			s.log.Warn("httpapi: metrics: queue stats", "queue", q, "err", err)
			continue
		}
		for _, v := range []struct {
			state string
			n     int64
		}{{"ready", st.Ready}, {"in_flight", st.InFlight}, {"delayed", st.Delayed}, {"dead", st.Dead}} {
			fmt.Fprintf(&b, "congthu_queue_jobs{queue=\"%s\",state=\"%s\"} %d\n", esc(q), v.state, v.n)
		}
	}
	if err := m.reg.WriteText(ctx, &b); err != nil {
		s.log.Warn("httpapi: metrics", "err", err)
	}
	w.Header().Set("Content-Type", metrics.ContentType)
	w.Write([]byte(b.String()))
}
