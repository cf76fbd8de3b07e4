package httpapi

// Prometheus metrics, in the registry of internal/metrics (the text
// exposition with the standard library only): the API's own families,
// registered by NewMetrics, and whatever the process's other components
// register in the same registry (Metrics.Registry), all served at
// /metrics.

import (
	"context"
	"net/http"
	"slices"
	"strconv"
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

// Metrics are the API's metrics and the registry they are in.
type Metrics struct {
	reg      *metrics.Registry
	requests *metrics.CounterVec   // route, code
	latency  *metrics.HistogramVec // route
	delivery *metrics.HistogramVec // channel
	finals   *metrics.CounterVec   // channel, status
	filters  *metrics.CounterVec   // filter, server: failed calls

	pendingMu sync.Mutex // pending notification counts, cached
	pending   []notifydb.NotificationCount
	pendingAt time.Time
}

// serverKey carries the Server serving a scrape to the collectors that
// read its store and queues.
type serverKey struct{}

// NewMetrics returns the API's metrics in a registry of their own, which
// the process's other components register in too (Registry). Build them
// before the workers whose Tracker reports to ObserveDelivery.
func NewMetrics() *Metrics {
	reg := metrics.NewRegistry()
	m := &Metrics{
		reg:      reg,
		requests: reg.CounterVec("congthu_http_requests_total", "HTTP API requests by route and status code.", "route", "code"),
		latency:  reg.HistogramVec("congthu_http_request_duration_seconds", "HTTP API request latency by route.", latencyBuckets, "route"),
		delivery: reg.HistogramVec("congthu_notification_delivery_seconds", "Time from creation to delivered, by channel (status changes seen by this process).", deliveryBuckets, "channel"),
		finals:   reg.CounterVec("congthu_notification_final_total", "Notifications that reached a final status in this process, by channel and status.", "channel", "status"),
		filters:  reg.CounterVec("congthu_filter_failures_total", "Content filter calls that failed or timed out, by filter and server.", "filter", "server"),
	}
	// Read at scrape time from the Server answering /metrics.
	server := func(ctx context.Context) *Server { s, _ := ctx.Value(serverKey{}).(*Server); return s }
	reg.Collect("congthu_api_commits_total", "Group commits of API requests.", metrics.KindCounter, nil,
		func(ctx context.Context, add func(float64, ...string)) error {
			if s := server(ctx); s != nil {
				commits, _ := s.nst.CreateBatches()
				add(float64(commits))
			}
			return nil
		})
	reg.Collect("congthu_api_committed_requests_total", "API requests stored by group commits.", metrics.KindCounter, nil,
		func(ctx context.Context, add func(float64, ...string)) error {
			if s := server(ctx); s != nil {
				_, committed := s.nst.CreateBatches()
				add(float64(committed))
			}
			return nil
		})
	// Final statuses are the counters above: counting them in the store
	// would read the whole table.
	reg.Collect("congthu_notifications_pending", "Notifications in the store not yet in a final status, by channel and status (read through a partial index, cached 15 s).",
		metrics.KindGauge, []string{"channel", "status"}, func(ctx context.Context, add func(float64, ...string)) error {
			s := server(ctx)
			if s == nil {
				return nil
			}
			counts, err := m.pendingCounts(ctx, s.nst)
			for _, c := range counts {
				add(float64(c.Count), c.Channel, c.Status)
			}
			return err
		})
	reg.Collect("congthu_queue_jobs", "Jobs in the queues by queue and state (ready, in_flight, delayed, dead).",
		metrics.KindGauge, []string{"queue", "state"}, func(ctx context.Context, add func(float64, ...string)) error {
			s := server(ctx)
			if s == nil {
				return nil
			}
			for _, q := range s.queues() {
				st, err := s.q.Stats(ctx, q)
				if err != nil {
					s.log.Warn("httpapi: metrics: queue stats", "queue", q, "err", err)
					continue
				}
				add(float64(st.Ready), q, "ready")
				add(float64(st.InFlight), q, "in_flight")
				add(float64(st.Delayed), q, "delayed")
				add(float64(st.Dead), q, "dead")
			}
			return nil
		})
	return m
}

// Registry is the registry /metrics serves: the API's families and the
// other components' (the mail side: SMTP, delivery, the outbox, logins).
// The API's families read from its store and queues are filled in only
// when the API's own /metrics serves it.
func (m *Metrics) Registry() *metrics.Registry { return m.reg }

// FilterFailed is the content filters' failure observer (smtpd's
// FilterOptions.OnFailure): it counts a call to filter ("clamd",
// "rspamd") from server ("smtp", "mx") that failed or timed out.
func (m *Metrics) FilterFailed(filter, server string) {
	m.filters.With(filter, server).Inc()
}

// codeText is the text of the HTTP status codes, so that counting a
// request does not format one.
var codeText = func() (t [600]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

func (m *Metrics) observeRequest(route string, code int, d time.Duration) {
	var c string
	if code >= 0 && code < len(codeText) {
		c = codeText[code]
	} else {
		c = strconv.Itoa(code)
	}
	m.requests.With(route, c).Inc()
	m.latency.With(route).ObserveDuration(d)
}

// ObserveDelivery is the observer to give notify.NewTracker: it counts a
// notification's final status and its latency.
func (m *Metrics) ObserveDelivery(channel, status string, latency time.Duration) {
	m.finals.With(channel, status).Inc()
	if status != notifydb.NotificationDelivered {
		return
	}
	m.delivery.With(channel).ObserveDuration(latency)
}

// queues are the queues whose depths /metrics shows: test notifications,
// each registered channel's own (email has the outbox's), callbacks and
// the outbox's.
func (s *Server) queues() []string {
	qs := []string{notify.QueueTest, webhook.Queue, outbox.JobQueue}
	for _, name := range s.channels.Names() {
		if q := notify.QueueOf(name); q != "" && !slices.Contains(qs, q) {
			qs = append(qs, q)
		}
	}
	slices.Sort(qs)
	return qs
}

// pendingCounts are the store's pending notifications, read at most every
// 15 s.
func (m *Metrics) pendingCounts(ctx context.Context, nst *notifydb.Store) ([]notifydb.NotificationCount, error) {
	m.pendingMu.Lock()
	defer m.pendingMu.Unlock()
	if time.Since(m.pendingAt) > 15*time.Second {
		c, err := nst.PendingNotificationCounts(ctx)
		if err != nil {
			return m.pending, err
		}
		m.pending, m.pendingAt = c, time.Now()
	}
	return m.pending, nil
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	ctx = context.WithValue(ctx, serverKey{}, s)
	w.Header().Set("Content-Type", metrics.ContentType)
	if err := s.metrics.reg.WriteText(ctx, w); err != nil {
		s.log.Warn("httpapi: metrics", "err", err)
	}
}
