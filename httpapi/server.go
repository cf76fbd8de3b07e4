// Package httpapi is congthu's REST API for back-office systems: dossier
// events, notifications by template, their status and events, templates
// and previews, health and metrics. See api/openapi.json (served at
// /v1/openapi.json) for the full contract.
//
// Requests authenticate with an API key (Authorization: Bearer KEY). Keys
// belong to a calling service; only their SHA-256 is stored (a key is 256
// random bits, so a fast hash is as good as a slow one). Test keys do
// everything but send nothing outside (see package notify for the
// simulated recipients).
//
// Durability: a 201 is written only after the notifications, their first
// status events, the idempotency record and (for live email) the composed
// message in the outbox are committed in one transaction; then the jobs
// are enqueued. Concurrent requests share transactions (the notification
// store's group commit: notifydb.Store.CreateNotificationCommitted). A lost
// enqueue is restored by the queue sweeper from the store.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"congthu/internal/redisbatch"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/outbox"
	"congthu/queue"
	"congthu/store"
	"congthu/templates"
)

// Options configure a Server. The zero value is usable except for the
// sender domain, which should be set.
type Options struct {
	// Log receives request and error logs; default discard.
	Log *slog.Logger
	// MaxBodyBytes bounds a request body (413 above); default 1 MiB.
	MaxBodyBytes int64
	// RateLimit is how many messages (notifications) one API key may
	// create per minute (a token bucket in Redis, refilled continuously,
	// holding at most a minute's worth); default 3000, negative: no limit.
	RateLimit int
	// KeyCacheTTL is how long a looked-up API key is trusted before the
	// store is asked again (revocation takes up to this long); default 5 s.
	KeyCacheTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Reminders, if set, schedules appointment reminders with the dossier
	// events that give an appointment.
	Reminders *notify.Reminders
	// Webhooks are the channels' providers' endpoints (pattern → handler,
	// e.g. "POST /v1/sms/receipts" for the HTTP SMS provider's delivery
	// reports). They carry no API key: each checks its provider's own
	// secret or signature.
	Webhooks map[string]http.Handler
	// MTASTSPolicy, if set, is the MTA-STS policy (RFC 8461) of our own
	// domains, served at https://mta-sts.<domain>/.well-known/mta-sts.txt
	// for every local domain (the Host header says which).
	MTASTSPolicy string
}

// Deps are the Server's collaborators, all required: the process puts
// them together (cmd/congthu serve) before the workers that share them
// start, and New changes none of them.
type Deps struct {
	Store *store.Store
	// Outbox is the outbox in Store's database: the delivery state of
	// live emails.
	Outbox *outbox.Store
	// Notifications is the notification store in Store's database.
	Notifications *notifydb.Store
	Queue         *queue.Client
	Templates     *templates.Set
	// Channels are the notification channels served: POST
	// /v1/notifications/{channel} and an event's channels name them.
	Channels *notify.Registry
	// Tracker records status changes; Metrics are the metrics its
	// observer reports to (NewMetrics, ObserveDelivery).
	Tracker *notify.Tracker
	Metrics *Metrics
}

// Server is the HTTP API.
type Server struct {
	opts     Options
	log      *slog.Logger
	st       *store.Store
	ob       *outbox.Store
	nst      *notifydb.Store
	q        *queue.Client
	set      *templates.Set
	channels *notify.Registry
	build    *notify.Builder
	tracker  *notify.Tracker
	mux      *http.ServeMux
	handler  http.Handler
	metrics  *Metrics
	keys     *keyCache
	limiter  *limiter
	redis    *redisbatch.Batcher
}

// New returns a Server. Call Close when done.
func New(opts Options, d Deps) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 3000
	}
	if opts.KeyCacheTTL <= 0 {
		opts.KeyCacheTTL = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if d.Store == nil || d.Outbox == nil || d.Notifications == nil || d.Queue == nil || d.Templates == nil || d.Channels == nil || d.Tracker == nil || d.Metrics == nil {
		panic("httpapi: New needs every member of Deps")
	}
	rb := redisbatch.New(d.Queue.Redis(), opts.Log)
	s := &Server{opts: opts, log: opts.Log, st: d.Store, ob: d.Outbox, nst: d.Notifications, q: d.Queue, set: d.Templates, channels: d.Channels,
		build: &notify.Builder{Templates: d.Templates, Channels: d.Channels, Reminders: opts.Reminders, Now: opts.Now}, tracker: d.Tracker, redis: rb,
		metrics: d.Metrics, keys: newKeyCache(opts.KeyCacheTTL), limiter: &limiter{rdb: d.Queue.Redis(), batch: rb, perMinute: opts.RateLimit}}
	s.routes()
	return s
}

// Close stops what the Server runs in the background (after the HTTP
// server serving it has shut down).
func (s *Server) Close() { s.redis.Close() }

// Handler returns the HTTP handler serving the API.
func (s *Server) Handler() http.Handler { return s.handler }

// Tracker returns the tracker the server records status changes with.
func (s *Server) Tracker() *notify.Tracker { return s.tracker }

func (s *Server) routes() {
	m := http.NewServeMux()
	auth := s.auth
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	m.HandleFunc("GET /metrics", s.serveMetrics)
	m.HandleFunc("GET /v1/openapi.json", serveOpenAPI)
	m.HandleFunc("GET /.well-known/mta-sts.txt", s.mtaSTSPolicy)
	m.Handle("POST /v1/dossiers/{code}/events", auth(s.postDossierEvent))
	m.Handle("GET /v1/dossiers/{code}/notifications", auth(s.listDossierNotifications))
	m.Handle("POST /v1/notifications/{channel}", auth(s.postTemplate))
	m.Handle("GET /v1/notifications/{id}", auth(s.getNotification))
	m.Handle("DELETE /v1/notifications/{id}", auth(s.cancelNotification))
	m.Handle("GET /v1/notifications", auth(s.listNotifications))
	m.Handle("GET /v1/events", auth(s.listEvents))
	m.Handle("GET /v1/usage", auth(s.usage))
	m.Handle("GET /v1/templates", auth(s.listTemplates))
	m.Handle("GET /v1/templates/{id}", auth(s.getTemplate))
	m.Handle("POST /v1/templates/{id}/preview", auth(s.previewTemplate))
	for pattern, h := range s.opts.Webhooks {
		m.Handle(pattern, h)
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrors(w, http.StatusNotFound, fieldError{Message: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	s.mux = m
	s.handler = s.instrument(m)
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// instrument counts and times requests by route and status, and turns a
// panic into a 500 (logged with its stack).
func (s *Server) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("httpapi: panic", "panic", p, "route", r.Pattern, "stack", string(debug.Stack()))
				if sw.code == 0 {
					writeErrors(sw, http.StatusInternalServerError, fieldError{Message: "internal error"})
				}
			}
			route := r.Pattern
			if route == "" || route == "/" {
				route = "other"
			}
			if sw.code == 0 {
				sw.code = http.StatusOK
			}
			d := time.Since(start)
			s.metrics.observeRequest(route, sw.code, d)
			s.log.Debug("httpapi: request", "route", route, "status", sw.code, "duration", d)
		}()
		h.ServeHTTP(sw, r)
	})
}

// mtaSTSPolicy serves our MTA-STS policy to the sending servers of other
// domains when the request is for mta-sts.<one of our domains>.
func (s *Server) mtaSTSPolicy(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	domain, ok := strings.CutPrefix(strings.TrimSuffix(host, "."), "mta-sts.")
	if s.opts.MTASTSPolicy == "" || !ok {
		http.NotFound(w, r)
		return
	}
	local, err := s.st.IsLocalDomain(r.Context(), domain)
	if err != nil {
		s.unavailable(w, "local domain lookup", err)
		return
	}
	if !local {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=300")
	io.WriteString(w, s.opts.MTASTSPolicy)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var problems []fieldError
	if err := s.st.Ping(ctx); err != nil {
		s.log.Warn("httpapi: readyz: store", "err", err)
		problems = append(problems, fieldError{Field: "store", Message: "store not reachable"})
	}
	if err := s.q.Redis().Ping(ctx).Err(); err != nil {
		s.log.Warn("httpapi: readyz: redis", "err", err)
		problems = append(problems, fieldError{Field: "redis", Message: "redis not reachable"})
	}
	if len(problems) > 0 {
		writeErrors(w, http.StatusServiceUnavailable, problems...)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
