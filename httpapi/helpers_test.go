package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/dispatcher"
	"congthu/internal/testenv"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/notify/smschan"
	"congthu/queue"
	"congthu/store"
	"congthu/templates"
	"congthu/webhook"
)

var ctx = context.Background()

func testLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// env is a running API on a real store and a real Redis.
type env struct {
	t       testing.TB
	st      *store.Store
	nst     *notifydb.Store
	q       *queue.Client
	srv     *Server
	ts      *httptest.Server
	live    string // live key of service "motcua"
	test    string // test key of service "motcua"
	other   string // live key of service "other"
	tracker *notify.Tracker
}

// openStore opens a store whose new outbox entries are enqueued on q by
// serve's enqueuer (dispatcher.Enqueuer: asynchronously, pipelined).
func openStore(t testing.TB, backend string, q *queue.Client) *store.Store {
	t.Helper()
	opts := store.Options{DataDir: t.TempDir()}
	if backend == "postgres" {
		opts = store.Options{URL: testenv.Postgres(t)}
	}
	enq := dispatcher.NewEnqueuer(q, testLog())
	ectx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); enq.Run(ectx) }()
	t.Cleanup(func() { stop(); <-done })
	opts.Outbox.Added = enq.Add
	st, err := store.Open(ctx, opts, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newEnv(t testing.TB, backend string, mod ...func(*Options)) *env {
	t.Helper()
	ropt, err := redis.ParseURL(testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(ropt)
	t.Cleanup(func() { rdb.Close() })
	q := queue.NewClient(rdb)
	st := openStore(t, backend, q)
	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Log: testLog()}
	for _, m := range mod {
		m(&opts)
	}
	nst := notifydb.New(st)
	metrics := NewMetrics()
	tracker := notify.NewTracker(nst, q, testLog(), metrics.ObserveDelivery)
	st.Outbox().AddHook(nst.NotificationHook(tracker.OutboxRecorded))
	srv := New(opts, Deps{Store: st, Outbox: st.Outbox(), Notifications: nst, Queue: q, Templates: set, Channels: testChannels(), Tracker: tracker, Metrics: metrics})
	t.Cleanup(srv.Close)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e := &env{t: t, st: st, nst: srv.nst, q: q, srv: srv, ts: ts, tracker: srv.Tracker()}
	e.live = e.addKey("motcua", false)
	e.test = e.addKey("motcua", true)
	e.other = e.addKey("other", false)
	return e
}

// testChannels are the channels serve registers, with the sender the
// tests expect.
func testChannels() *notify.Registry {
	return notify.NewRegistry(notify.EmailChannel{SenderDomain: "hanoi.gov.vn", SenderName: "Cổng dịch vụ công"}, smschan.Kind{})
}

func (e *env) addKey(service string, test bool) string {
	key, hash, hint := NewAPIKey(test)
	if _, err := e.nst.AddAPIKey(ctx, service, hash, hint, test); err != nil {
		e.t.Fatal(err)
	}
	return key
}

// startWorker runs the test-key simulator and the callback handler.
func (e *env) startWorker(t testing.TB, cb *webhook.Handler, backoff func(int) time.Duration) {
	w := queue.NewWorker(e.q, testLog(), queue.WorkerOptions{Block: 100 * time.Millisecond})
	if err := w.Handle(notify.QueueTest, queue.HandlerFunc(e.tracker.HandleTest), queue.HandlerOptions{MoverInterval: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if cb != nil {
		if err := w.Handle(webhook.Queue, cb, queue.HandlerOptions{Backoff: backoff, MoverInterval: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(wctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// resp is an HTTP response read whole.
type resp struct {
	code   int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errFields returns the fields of an error response.
func (r resp) errFields(t testing.TB) []string {
	t.Helper()
	var b errorBody
	r.json(t, &b)
	var out []string
	for _, e := range b.Errors {
		out = append(out, e.Field)
	}
	return out
}

func (e *env) do(method, path, key string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

// event returns a realistic "received" event.
func event(id string) map[string]any {
	return map[string]any{
		"event_id": id,
		"status":   "received",
		"applicant": map[string]any{
			"name": "Nguyễn Văn An", "email": "an.nguyen@example.com", "phone": "0912 345 678",
		},
		"procedure":      "Cấp giấy phép xây dựng nhà ở riêng lẻ",
		"agency":         "Ủy ban nhân dân quận Hoàn Kiếm",
		"agency_short":   "UBND Q.Hoàn Kiếm",
		"received_at":    "2026-03-15T09:00:00+07:00",
		"appointment_at": "2026-03-29T16:00:00+07:00",
		"handling_unit":  "motcua.hoankiem@hanoi.gov.vn",
		"reference":      "BO-2026-0001",
	}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
