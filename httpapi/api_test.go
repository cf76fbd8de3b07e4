package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/outbox"
	"congthu/queue"
	"congthu/templates"
)

func backends(t *testing.T, fn func(t *testing.T, backend string)) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

func TestDossierEventAndReads(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		ev := event("ev-1")
		r := e.do("POST", "/v1/dossiers/000.00.12.H26-260315-0001/events", e.live, ev)
		if r.code != http.StatusCreated {
			t.Fatalf("POST event: %d %s", r.code, r.body)
		}
		var created createdView
		r.json(t, &created)
		if len(created.Notifications) != 2 || created.Notifications[0].Channel != "email" || created.Notifications[1].Channel != "sms" {
			t.Fatalf("created: %+v", created)
		}
		em, sm := created.Notifications[0], created.Notifications[1]
		if em.Status != "created" || em.Template.ID != "dossier-received-email" || em.Template.Version < 1 ||
			!strings.Contains(em.Subject, "000.00.12.H26-260315-0001") || em.EmailAddress != "an.nguyen@example.com" {
			t.Errorf("email notification: %+v", em)
		}
		if sm.PhoneNumber != "+84912345678" || sm.SMSEncoding != "GSM-7" || sm.SMSParts < 1 || strings.Contains(sm.SMSText, "đ") {
			t.Errorf("sms notification: %+v", sm)
		}

		// Replay: same body (other key order, other whitespace) → 200, same body, nothing new.
		j := `{"status":"received",  "event_id":"ev-1","applicant":{"phone":"0912 345 678","email":"an.nguyen@example.com","name":"Nguyễn Văn An"},
			"procedure":"Cấp giấy phép xây dựng nhà ở riêng lẻ","agency":"Ủy ban nhân dân quận Hoàn Kiếm","agency_short":"UBND Q.Hoàn Kiếm",
			"received_at":"2026-03-15T09:00:00+07:00","appointment_at":"2026-03-29T16:00:00+07:00","handling_unit":"motcua.hoankiem@hanoi.gov.vn","reference":"BO-2026-0001"}`
		r2 := e.do("POST", "/v1/dossiers/000.00.12.H26-260315-0001/events", e.live, j)
		if r2.code != http.StatusOK || !bytes.Equal(r2.body, r.body) || r2.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay: %d %s (want 200 and the first body)", r2.code, r2.body)
		}
		ev["reason"] = "changed"
		if r3 := e.do("POST", "/v1/dossiers/000.00.12.H26-260315-0001/events", e.live, ev); r3.code != http.StatusConflict || !slices.Equal(r3.errFields(t), []string{"event_id"}) {
			t.Errorf("same event_id, other body: %d %s", r3.code, r3.body)
		}
		if r3 := e.do("POST", "/v1/dossiers/OTHER-1/events", e.live, event("ev-1")); r3.code != http.StatusConflict {
			t.Errorf("same event_id, other dossier: %d %s", r3.code, r3.body)
		}
		if ns, _ := e.nst.Notifications(ctx, notifydb.NotificationFilter{Service: "motcua"}); len(ns) != 2 {
			t.Errorf("notifications stored: %d, want 2", len(ns))
		}

		// The live email is in the outbox, to be composed when
		// delivered from what the notification holds.
		n, err := e.nst.Notification(ctx, em.ID)
		if err != nil || n.OutboxID == 0 {
			t.Fatalf("stored email: %+v %v", n, err)
		}
		if ob, err := e.st.Outbox().State(ctx, n.OutboxID); err != nil || len(ob.Raw) != 0 {
			t.Errorf("outbox message before delivery: %v\n%+v", err, ob)
		}
		raw, err := e.tracker.ComposeOutbox(ctx, n.OutboxID)
		if err != nil || !bytes.Contains(raw, []byte("Reply-To: <motcua.hoankiem@hanoi.gov.vn>")) || !bytes.Contains(raw, []byte("multipart/alternative")) ||
			!bytes.Contains(raw, []byte("Message-Id: <"+em.ID+"@hanoi.gov.vn>")) || !bytes.Contains(raw, []byte("From: =?utf-8?q?=E1=BB=A6y_ban")) ||
			!bytes.Contains(raw, []byte("To: =?utf-8?q?Nguy=E1=BB=85n_V=C4=83n_An?= <an.nguyen@example.com>")) {
			t.Errorf("composed message: %v\n%s", err, raw)
		}
		ob, _ := e.st.Outbox().State(ctx, n.OutboxID)
		if ob.MailFrom != "bounce+"+em.ID+"@hanoi.gov.vn" {
			t.Errorf("envelope sender %q", ob.MailFrom)
		}
		// The outbox job is queued by the enqueuer, soon after the commit.
		waitFor(t, "the outbox job", func() bool {
			st, _ := e.q.Stats(ctx, outbox.JobQueue)
			return st.Ready == 1
		})
		if st, _ := e.q.Stats(ctx, "sms"); st.Ready != 1 {
			t.Errorf("sms queue: %+v", st)
		}

		// GET one.
		r = e.do("GET", "/v1/notifications/"+em.ID, e.live, nil)
		var got notificationView
		r.json(t, &got)
		if r.code != 200 || got.ID != em.ID || !strings.Contains(got.HTML, "Nguyễn Văn An") || len(got.Events) != 1 || got.Events[0].Status != "created" || got.Attempts == nil {
			t.Errorf("GET notification: %d %s", r.code, r.body)
		}
		if r := e.do("GET", "/v1/notifications/"+em.ID, e.other, nil); r.code != http.StatusForbidden {
			t.Errorf("other service: %d", r.code)
		}
		if r := e.do("GET", "/v1/notifications/"+em.ID, e.test, nil); r.code != http.StatusNotFound {
			t.Errorf("test key on a live notification: %d", r.code)
		}
		if r := e.do("GET", "/v1/notifications/0195a9b0-0000-7000-8000-000000000000", e.live, nil); r.code != http.StatusNotFound {
			t.Errorf("unknown notification: %d", r.code)
		}

		// Lists.
		var list listView
		r = e.do("GET", "/v1/notifications?reference=BO-2026-0001&limit=1", e.live, nil)
		r.json(t, &list)
		if r.code != 200 || len(list.Notifications) != 1 || list.Notifications[0].ID != sm.ID || list.Links["next"] == "" {
			t.Fatalf("list page 1: %d %s", r.code, r.body)
		}
		r = e.do("GET", list.Links["next"], e.live, nil)
		list = listView{}
		r.json(t, &list)
		if len(list.Notifications) != 1 || list.Notifications[0].ID != em.ID {
			t.Errorf("list page 2: %s", r.body)
		}
		r = e.do("GET", "/v1/dossiers/000.00.12.H26-260315-0001/notifications?status=created", e.live, nil)
		list = listView{}
		r.json(t, &list)
		if len(list.Notifications) != 2 {
			t.Errorf("dossier list: %s", r.body)
		}
		if r := e.do("GET", "/v1/dossiers/000.00.12.H26-260315-0001/notifications", e.other, nil); !strings.Contains(string(r.body), `"notifications":[]`) {
			t.Errorf("other service sees: %s", r.body)
		}
		if r := e.do("GET", "/v1/notifications?status=bogus", e.live, nil); r.code != 422 {
			t.Errorf("bad status filter: %d", r.code)
		}

		// Templates.
		if r := e.do("GET", "/v1/templates", e.live, nil); r.code != 200 || !strings.Contains(string(r.body), "dossier-fee_due-sms") {
			t.Errorf("templates: %d", r.code)
		}
		if r := e.do("GET", "/v1/templates/dossier-received-email", e.live, nil); r.code != 200 || !strings.Contains(string(r.body), `"applicant.name"`) {
			t.Errorf("template: %d %s", r.code, r.body)
		}
		var pv previewView
		r = e.do("POST", "/v1/templates/dossier-received-sms/preview", e.test, map[string]any{"personalisation": map[string]any{
			"dossier_code": "000.12", "agency_short": "UBND Q.Hoàn Kiếm", "received_at": "2026-03-15T09:00:00+07:00", "appointment_at": "2026-03-29T16:00:00+07:00"}})
		r.json(t, &pv)
		if r.code != 200 || pv.SMSEncoding != "GSM-7" || pv.SMSParts != 1 || !strings.Contains(pv.SMSText, "Hoan Kiem") || !strings.Contains(pv.SMSText, "15/03/2026") {
			t.Errorf("preview sms: %d %s", r.code, r.body)
		}
		pv = previewView{}
		r = e.do("POST", "/v1/templates/dossier-delayed-email/preview", e.live, nil)
		r.json(t, &pv)
		if r.code != 200 || pv.Subject == "" || !strings.Contains(pv.HTML, "<html") || pv.Text == "" {
			t.Errorf("preview email with sample: %d %s", r.code, r.body)
		}
		if r := e.do("POST", "/v1/templates/dossier-received-email/preview", e.live, map[string]any{"personalisation": map[string]any{"dossier_code": "1"}}); r.code != 422 ||
			!slices.Contains(r.errFields(t), "personalisation.applicant.name") {
			t.Errorf("preview missing: %d %s", r.code, r.body)
		}
		if r := e.do("GET", "/v1/templates/nope", e.live, nil); r.code != 404 {
			t.Errorf("unknown template: %d", r.code)
		}

		// Health, metrics, OpenAPI.
		if r := e.do("GET", "/healthz", "", nil); r.code != 200 {
			t.Errorf("healthz %d", r.code)
		}
		if r := e.do("GET", "/readyz", "", nil); r.code != 200 {
			t.Errorf("readyz %d %s", r.code, r.body)
		}
		r = e.do("GET", "/metrics", "", nil)
		for _, want := range []string{`congthu_http_requests_total{route="POST /v1/dossiers/{code}/events",code="201"} 1`,
			`congthu_notifications_pending{channel="email",status="created"} 1`, `congthu_queue_jobs{queue="sms",state="ready"} 1`,
			`congthu_http_request_duration_seconds_bucket{route="POST /v1/dossiers/{code}/events",le="+Inf"}`} {
			if !strings.Contains(string(r.body), want) {
				t.Errorf("metrics: missing %q in\n%s", want, r.body)
			}
		}
		if r := e.do("GET", "/v1/openapi.json", "", nil); r.code != 200 || !bytes.Equal(r.body, OpenAPI) {
			t.Errorf("openapi: %d", r.code)
		}
	})
}

func TestTemplateEndpoints(t *testing.T) {
	e := newEnv(t, "sqlite")
	r := e.do("POST", "/v1/notifications/email", e.live, map[string]any{"template_id": "generic-email", "email_address": "a@example.com",
		"personalisation": map[string]any{"subject": "Thông báo lịch tiếp dân", "body": "Nội dung **quan trọng** <script>x</script>", "agency": "Sở Tư pháp"},
		"reference":       "r1"}, "Idempotency-Key", "k-1")
	var v notificationView
	r.json(t, &v)
	if r.code != 201 || v.Subject != "Thông báo lịch tiếp dân" || v.Reference != "r1" {
		t.Fatalf("email: %d %s", r.code, r.body)
	}
	r2 := e.do("POST", "/v1/notifications/email", e.live, map[string]any{"template_id": "generic-email", "email_address": "a@example.com",
		"personalisation": map[string]any{"subject": "Thông báo lịch tiếp dân", "body": "Nội dung **quan trọng** <script>x</script>", "agency": "Sở Tư pháp"},
		"reference":       "r1"}, "Idempotency-Key", "k-1")
	if r2.code != 200 || !bytes.Equal(r2.body, r.body) {
		t.Errorf("replay: %d %s", r2.code, r2.body)
	}
	if r3 := e.do("POST", "/v1/notifications/email", e.live, map[string]any{"template_id": "generic-email", "email_address": "b@example.com",
		"personalisation": map[string]any{"subject": "x", "body": "y"}}, "Idempotency-Key", "k-1"); r3.code != 409 {
		t.Errorf("other body, same key: %d %s", r3.code, r3.body)
	}
	n, _ := e.nst.Notification(ctx, v.ID)
	if strings.Contains(n.HTML, "<script>") || !strings.Contains(n.HTML, "&lt;script&gt;") {
		t.Errorf("value not escaped in HTML")
	}
	r = e.do("POST", "/v1/notifications/sms", e.live, map[string]any{"template_id": "generic-sms", "phone_number": "+84 912 345 678",
		"personalisation": map[string]any{"body": "Lịch hẹn đã đổi"}})
	v = notificationView{}
	r.json(t, &v)
	if r.code != 201 || v.PhoneNumber != "+84912345678" || v.SMSText != "Lich hen da doi" {
		t.Errorf("sms: %d %s", r.code, r.body)
	}
	if r := e.do("POST", "/v1/notifications/sms", e.live, map[string]any{"template_id": "generic-email", "phone_number": "0912345678"}); r.code != 422 ||
		!slices.Contains(r.errFields(t), "template_id") {
		t.Errorf("email template on sms: %d %s", r.code, r.body)
	}
	long := strings.Repeat("Thông báo rất dài. ", 40)
	if r := e.do("POST", "/v1/notifications/sms", e.live, map[string]any{"template_id": "generic-sms", "phone_number": "0912345678",
		"personalisation": map[string]any{"body": long}}); r.code != 422 || !slices.Contains(r.errFields(t), "phone_number") || !strings.Contains(string(r.body), "parts") {
		t.Errorf("SMS over the part limit: %d %s", r.code, r.body)
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t, "sqlite", func(o *Options) { o.MaxBodyBytes = 64 << 10 })
	path := "/v1/dossiers/000.12/events"
	revoked := e.addKey("motcua", false)
	keys, _ := e.nst.APIKeys(ctx, "motcua")
	e.nst.RevokeAPIKey(ctx, keys[len(keys)-1].ID)
	bad := func(mod func(m map[string]any)) map[string]any {
		ev := event("ev-err")
		mod(ev)
		return ev
	}
	for _, c := range []struct {
		name   string
		method string
		path   string
		key    string
		body   any
		code   int
		fields []string
	}{
		{"malformed JSON", "POST", path, e.live, `{"event_id":`, 400, nil},
		{"not an object", "POST", path, e.live, `[1,2]`, 400, nil},
		{"trailing data", "POST", path, e.live, `{"event_id":"x"} {}`, 400, nil},
		{"no key", "POST", path, "", event("x"), 401, []string{"Authorization"}},
		{"bad key", "POST", path, "ct_live_nonsense", event("x"), 401, []string{"Authorization"}},
		{"revoked key", "POST", path, revoked, event("x"), 403, []string{"Authorization"}},
		{"unknown route", "GET", "/v1/nope", e.live, nil, 404, nil},
		{"too large", "POST", path, e.live, `{"reason":"` + strings.Repeat("a", 70<<10) + `"}`, 413, nil},
		{"bad code", "POST", "/v1/dossiers/a_b/events", e.live, event("x"), 422, []string{"code"}},
		{"bad email", "POST", path, e.live, bad(func(m map[string]any) { m["applicant"].(map[string]any)["email"] = "an@@x" }), 422, []string{"applicant.email"}},
		{"landline", "POST", path, e.live, bad(func(m map[string]any) { m["applicant"].(map[string]any)["phone"] = "024 3825 3536" }), 422, []string{"applicant.phone"}},
		{"missing fields", "POST", path, e.live, bad(func(m map[string]any) { delete(m, "procedure"); delete(m, "appointment_at") }), 422, []string{"appointment_at", "procedure"}},
		{"bad time", "POST", path, e.live, bad(func(m map[string]any) { m["received_at"] = "15/03/2026" }), 422, []string{"received_at"}},
		{"amount not integer", "POST", path, e.live, bad(func(m map[string]any) { m["amount"] = 1.5 }), 422, []string{"amount"}},
		{"unknown field", "POST", path, e.live, bad(func(m map[string]any) { m["apointment_at"] = "x" }), 422, []string{"apointment_at"}},
		{"bad status", "POST", path, e.live, bad(func(m map[string]any) { m["status"] = "lost" }), 422, []string{"status"}},
		{"bad channel", "POST", path, e.live, bad(func(m map[string]any) { m["channels"] = []string{"fax"} }), 422, []string{"channels[0]"}},
		{"no address", "POST", path, e.live, bad(func(m map[string]any) { m["applicant"] = map[string]any{"name": "An"} }), 422, []string{"applicant"}},
		{"sms without phone", "POST", path, e.live, bad(func(m map[string]any) {
			m["applicant"] = map[string]any{"name": "An", "email": "a@example.com"}
			m["channels"] = []string{"sms"}
		}), 422, []string{"applicant.phone"}},
		{"unknown channel", "POST", "/v1/notifications/fax", e.live, `{"template_id":"generic-sms","phone_number":"0912345678"}`, 404, []string{"channel"}},
		{"reply_to on sms", "POST", "/v1/notifications/sms", e.live, `{"template_id":"generic-sms","phone_number":"0912345678","reply_to":"a@b.vn","personalisation":{"body":"x"}}`, 422, []string{"reply_to"}},
		{"urgent email", "POST", "/v1/notifications/email", e.live, `{"template_id":"generic-email","email_address":"a@b.vn","urgent":true,"personalisation":{"subject":"s","body":"x"}}`, 422, []string{"urgent"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, c.key, c.body)
			if r.code != c.code {
				t.Fatalf("got %d %s, want %d", r.code, r.body, c.code)
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("content type %q", r.header.Get("Content-Type"))
			}
			got := r.errFields(t)
			if c.fields != nil && !slices.Equal(got, c.fields) {
				t.Errorf("fields %q, want %q (%s)", got, c.fields, r.body)
			}
			if c.code == 422 && strings.Contains(c.name, "landline") && !strings.Contains(string(r.body), "not a mobile number") {
				t.Errorf("landline message: %s", r.body)
			}
		})
	}
	if ns, _ := e.nst.Notifications(ctx, notifydb.NotificationFilter{Service: "motcua"}); len(ns) != 0 {
		t.Errorf("failed requests created %d notifications", len(ns))
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, "sqlite", func(o *Options) { o.RateLimit = 3 })
	// Each event costs 2 (email + sms): the second must wait.
	if r := e.do("POST", "/v1/dossiers/000.12/events", e.live, event("rl-1")); r.code != 201 {
		t.Fatalf("first: %d %s", r.code, r.body)
	}
	r := e.do("POST", "/v1/dossiers/000.12/events", e.live, event("rl-2"))
	if r.code != 429 || r.header.Get("Retry-After") == "" || r.header.Get("Retry-After") == "0" {
		t.Fatalf("second: %d %s Retry-After %q", r.code, r.body, r.header.Get("Retry-After"))
	}
	// A replay costs nothing; another key has its own bucket.
	if r := e.do("POST", "/v1/dossiers/000.12/events", e.live, event("rl-1")); r.code != 200 {
		t.Errorf("replay while limited: %d", r.code)
	}
	if r := e.do("POST", "/v1/dossiers/000.12/events", e.test, event("rl-3")); r.code != 201 {
		t.Errorf("other key: %d %s", r.code, r.body)
	}
}

// A replay is found by the commit, not by a lookup before it: the tokens
// it took are given back, and a reused key whose new body fails rendering
// still gets its 409 rather than the 422.
func TestReplayCostsNothing(t *testing.T) {
	e := newEnv(t, "sqlite", func(o *Options) { o.RateLimit = 4 })
	if r := e.do("POST", "/v1/dossiers/000.12/events", e.live, event("rp-1")); r.code != 201 {
		t.Fatalf("first: %d %s", r.code, r.body)
	}
	for i := range 3 {
		if r := e.do("POST", "/v1/dossiers/000.12/events", e.live, event("rp-1")); r.code != 200 || r.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay %d: %d %s", i, r.code, r.body)
		}
	}
	// Each event costs 2 of the 4 tokens: the replays gave theirs back.
	if r := e.do("POST", "/v1/dossiers/000.12/events", e.live, event("rp-2")); r.code != 201 {
		t.Fatalf("a new event after the replays: %d %s", r.code, r.body)
	}

	fee := event("rp-3")
	fee["status"] = "fee_due" // without the amount its templates need
	if r := e.do("POST", "/v1/dossiers/000.12/events", e.test, fee); r.code != 422 || !slices.Contains(r.errFields(t), "amount") {
		t.Fatalf("fee_due without amount: %d %s, want 422 naming amount", r.code, r.body)
	}
	fee["event_id"] = "rp-1"
	if r := e.do("POST", "/v1/dossiers/000.12/events", e.live, fee); r.code != 409 || !slices.Equal(r.errFields(t), []string{"event_id"}) {
		t.Errorf("reused event_id with a body that fails rendering: %d %s, want 409", r.code, r.body)
	}
	if ns, _ := e.nst.Notifications(ctx, notifydb.NotificationFilter{Service: "motcua"}); len(ns) != 4 {
		t.Errorf("notifications stored: %d, want 4 (two events)", len(ns))
	}
}

// With Redis unreachable the rate limit cannot be taken: a new request is
// a 503, but a client retrying a request that was answered still gets the
// first answer (the store has it).
func TestReplayWithoutRedis(t *testing.T) {
	e := newEnv(t, "sqlite", func(o *Options) { o.RateLimit = 100 })
	first := e.do("POST", "/v1/dossiers/000.12/events", e.live, event("nr-1"))
	if first.code != 201 {
		t.Fatalf("first: %d %s", first.code, first.body)
	}
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { dead.Close() })
	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Options{Log: testLog(), RateLimit: 100}, Deps{Store: e.st, Outbox: e.st.Outbox(), Notifications: e.nst, Queue: queue.NewClient(dead), Templates: set, Channels: testChannels(),
		Tracker: e.tracker, Metrics: e.srv.metrics})
	t.Cleanup(srv.Close)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	down := *e
	down.ts = ts
	if r := down.do("POST", "/v1/dossiers/000.12/events", e.live, event("nr-1")); r.code != 200 || !bytes.Equal(r.body, first.body) {
		t.Errorf("replay without Redis: %d %s, want 200 and the first body", r.code, r.body)
	}
	if r := down.do("POST", "/v1/dossiers/000.12/events", e.live, event("nr-2")); r.code != http.StatusServiceUnavailable {
		t.Errorf("new event without Redis: %d %s, want 503", r.code, r.body)
	}
}

// Redis restarted and lost its scripts: the rate limit and the jobs of the
// next request (sent in a pipeline shared with other requests) load them
// again, and the request succeeds with its jobs queued.
func TestRedisScriptsLost(t *testing.T) {
	e := newEnv(t, "sqlite", func(o *Options) { o.RateLimit = 5 })
	if r := e.do("POST", "/v1/dossiers/HS-NS-1/events", e.live, event("ns-1")); r.code != 201 {
		t.Fatalf("first: %d %s", r.code, r.body)
	}
	if err := e.q.Redis().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if r := e.do("POST", "/v1/dossiers/HS-NS-1/events", e.live, event("ns-2")); r.code != 201 {
		t.Fatalf("after SCRIPT FLUSH: %d %s", r.code, r.body)
	}
	waitFor(t, "the second outbox job", func() bool {
		st, _ := e.q.Stats(ctx, outbox.JobQueue)
		return st.Ready >= 2
	})
	for _, q := range []string{outbox.JobQueue, notify.QueueSMS} {
		st, err := e.q.Stats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if st.Ready != 2 {
			t.Errorf("queue %s: %d ready jobs, want 2 (one per event)", q, st.Ready)
		}
	}
	// The limit still counts: 4 of 5 tokens are gone.
	if r := e.do("POST", "/v1/dossiers/HS-NS-1/events", e.live, event("ns-3")); r.code != 429 {
		t.Fatalf("third: %d %s, want 429", r.code, r.body)
	}
}

func TestOpenAPIFileIdentical(t *testing.T) {
	b, err := os.ReadFile("../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, OpenAPI) {
		t.Errorf("api/openapi.json and httpapi/openapi.json differ: copy one onto the other")
	}
}

// After api.idempotency_retention an event_id is forgotten: the purge
// (run by the tracker's sweep) deletes the record, and the same event is a
// new request with new notifications. Within the retention it replays.
func TestIdempotencyRetention(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	post := func() resp {
		r := e.do("POST", "/v1/dossiers/HS-RET-1/events", e.live, event("ev-ret"))
		if r.code != http.StatusCreated && r.code != http.StatusOK {
			t.Fatalf("POST: %d %s", r.code, r.body)
		}
		return r
	}
	first := post()
	if n, err := e.tracker.PurgeIdempotency(ctx, 30*24*time.Hour); err != nil || n != 0 {
		t.Fatalf("purge within the retention: %d, %v", n, err)
	}
	if r := post(); r.code != http.StatusOK || !bytes.Equal(r.body, first.body) {
		t.Fatalf("replay within the retention: %d %s", r.code, r.body)
	}
	// 31 days later.
	e.tracker.Now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
	if n, err := e.tracker.PurgeIdempotency(ctx, 30*24*time.Hour); err != nil || n != 1 {
		t.Fatalf("purge after the retention: %d, %v, want 1", n, err)
	}
	if n, err := e.tracker.PurgeIdempotency(ctx, 0); err != nil || n != 0 {
		t.Fatalf("retention 0 purges nothing: %d, %v", n, err)
	}
	again := post()
	if again.code != http.StatusCreated || bytes.Equal(again.body, first.body) {
		t.Fatalf("after the purge: %d %s, want a new 201", again.code, again.body)
	}
	if ns, _ := e.nst.Notifications(ctx, notifydb.NotificationFilter{Service: "motcua", DossierCode: "HS-RET-1"}); len(ns) != 4 {
		t.Fatalf("notifications of the dossier: %d, want 4", len(ns))
	}
}
