package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"congthu/notify/notifydb"
	"congthu/outbox"
	"congthu/webhook"
)

// receiver is a callback endpoint that verifies signatures and can be told
// to fail.
type receiver struct {
	mu       sync.Mutex
	secret   string
	fail     int // answer 500 to this many requests first
	requests int
	got      []webhook.Payload
	badSig   int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if err := webhook.Verify(rc.secret, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		rc.badSig++
		w.WriteHeader(401)
		return
	}
	if rc.fail > 0 {
		rc.fail--
		w.WriteHeader(500)
		return
	}
	var p webhook.Payload
	json.Unmarshal(body, &p)
	rc.got = append(rc.got, p)
}

func (rc *receiver) payloads() []webhook.Payload {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]webhook.Payload(nil), rc.got...)
}

func TestTestKeysCallbacksAndEvents(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		rc := &receiver{secret: "bí-mật-chung", fail: 1}
		cbSrv := httptest.NewServer(rc)
		t.Cleanup(cbSrv.Close)
		if err := e.nst.SetServiceCallback(ctx, "motcua", cbSrv.URL, rc.secret); err != nil {
			t.Fatal(err)
		}
		fast := func(int) time.Duration { return 200 * time.Millisecond }
		e.startWorker(t, webhook.NewHandler(e.nst, testLog(), webhook.Options{Backoff: fast, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}), fast)

		cases := []struct {
			email, phone string
			wantEmail    string
			wantSMS      string
		}{
			{"an@example.com", "0912345678", notifydb.NotificationDelivered, notifydb.NotificationDelivered},
			{"temp-fail@simulator.congthu.test", "+84900000001", notifydb.NotificationTemporaryFailure, notifydb.NotificationTemporaryFailure},
			{"perm-fail@simulator.congthu.test", "0900000002", notifydb.NotificationPermanentFailure, notifydb.NotificationPermanentFailure},
		}
		var ids []string
		for i, c := range cases {
			ev := event(fmt.Sprintf("tk-%d", i))
			ev["applicant"] = map[string]any{"name": "Trần Thị Bình", "email": c.email, "phone": c.phone}
			r := e.do("POST", "/v1/dossiers/TK-1/events", e.test, ev)
			if r.code != 201 {
				t.Fatalf("test key event: %d %s", r.code, r.body)
			}
			var cv createdView
			r.json(t, &cv)
			for _, n := range cv.Notifications {
				if !n.Test {
					t.Errorf("not marked test: %+v", n)
				}
				ids = append(ids, n.ID)
			}
		}
		for i, id := range ids {
			want := cases[i/2].wantEmail
			if i%2 == 1 {
				want = cases[i/2].wantSMS
			}
			waitFor(t, "final status of "+id, func() bool {
				n, err := e.nst.Notification(ctx, id)
				return err == nil && n.Status == want
			})
			n, _ := e.nst.Notification(ctx, id)
			if n.OutboxID != 0 {
				t.Errorf("test notification %s went to the outbox", id)
			}
		}
		// Nothing for the outside world.
		if st, _ := e.q.Stats(ctx, outbox.JobQueue); st.Ready+st.Delayed+st.InFlight != 0 {
			t.Errorf("test key queued outbox jobs: %+v", st)
		}
		if st, _ := e.q.Stats(ctx, "sms"); st.Ready+st.Delayed+st.InFlight != 0 {
			t.Errorf("test key queued sms jobs: %+v", st)
		}

		// Callbacks: sending + final for each of 6 notifications = 12,
		// the first answered 500 and retried; all signatures valid.
		waitFor(t, "12 callbacks", func() bool { return len(rc.payloads()) == 12 })
		rc.mu.Lock()
		if rc.badSig != 0 || rc.requests != 13 {
			t.Errorf("callback requests %d (want 13: one retried), bad signatures %d", rc.requests, rc.badSig)
		}
		rc.mu.Unlock()
		finals := 0
		for _, p := range rc.payloads() {
			if p.Final {
				finals++
				if p.Status == "sending" || p.Status == "created" {
					t.Errorf("final with status %s", p.Status)
				}
			}
			if p.Dossier != "TK-1" || !p.Test || p.Cursor == 0 {
				t.Errorf("payload %+v", p)
			}
		}
		if finals != 6 {
			t.Errorf("final callbacks %d, want 6", finals)
		}
		waitFor(t, "callbacks marked done", func() bool {
			due, _ := e.nst.CallbacksDue(ctx, time.Now().Add(time.Hour), 0, 100)
			return len(due) == 0
		})

		// Events: replay everything from cursor 0 in pages, then from the middle.
		var all []webhook.Payload
		cursor := int64(0)
		for {
			var page eventsView
			r := e.do("GET", fmt.Sprintf("/v1/events?after=%d&limit=5", cursor), e.test, nil)
			r.json(t, &page)
			if r.code != 200 {
				t.Fatalf("events: %d %s", r.code, r.body)
			}
			all = append(all, page.Events...)
			if page.NextCursor == cursor {
				break
			}
			cursor = page.NextCursor
		}
		if len(all) != 18 { // 6 × created, sending, final
			t.Fatalf("events: got %d, want 18", len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i].Cursor <= all[i-1].Cursor {
				t.Errorf("cursor not increasing at %d", i)
			}
		}
		var rest eventsView
		e.do("GET", fmt.Sprintf("/v1/events?after=%d", all[9].Cursor), e.test, nil).json(t, &rest)
		if len(rest.Events) != 8 || rest.Events[0].Cursor != all[10].Cursor {
			t.Errorf("events after the middle: %d", len(rest.Events))
		}
		if r := e.do("GET", "/v1/events?after=x", e.test, nil); r.code != 422 {
			t.Errorf("bad cursor: %d", r.code)
		}
		// Timeline of one.
		var v notificationView
		e.do("GET", "/v1/notifications/"+ids[0], e.test, nil).json(t, &v)
		if len(v.Events) != 3 || v.Events[2].Status != "delivered" || v.CompletedAt == nil {
			t.Errorf("timeline: %+v", v.Events)
		}
		if r := e.do("GET", "/metrics", "", nil); !strings.Contains(string(r.body), `congthu_notification_delivery_seconds_count{channel="email"} 1`) {
			t.Errorf("delivery histogram missing:\n%s", r.body)
		}
	})
}

func TestExpireStale(t *testing.T) {
	e := newEnv(t, "sqlite")
	r := e.do("POST", "/v1/dossiers/EX-1/events", e.live, event("ex-1"))
	if r.code != 201 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	now := time.Now()
	e.tracker.Now = func() time.Time { return now.Add(71 * time.Hour) }
	if n, err := e.tracker.ExpireStale(ctx); err != nil || n != 0 {
		t.Errorf("at 71 h: %d %v", n, err)
	}
	e.tracker.Now = func() time.Time { return now.Add(73 * time.Hour) }
	if n, err := e.tracker.ExpireStale(ctx); err != nil || n != 2 {
		t.Errorf("at 73 h: %d %v", n, err)
	}
	ns, _ := e.nst.Notifications(ctx, notifydb.NotificationFilter{Service: "motcua"})
	for _, n := range ns {
		if n.Status != notifydb.NotificationTemporaryFailure {
			t.Errorf("%s: %s", n.ID, n.Status)
		}
	}
	// Final statuses never change back.
	if changed, err := e.tracker.SetStatus(ctx, ns[0].ID, notifydb.NotificationDelivered, "", time.Time{}); changed || err != nil {
		t.Errorf("changed a final status: %v %v", changed, err)
	}
}

// TestCurl drives the running API with curl: one POST and one GET.
func TestCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	e := newEnv(t, "sqlite")
	body := `{"event_id":"curl-1","status":"fee_due","applicant":{"name":"Lê Văn Cường","email":"cuong@example.com"},
		"procedure":"Đăng ký kết hôn","agency":"UBND phường Tràng Tiền","amount":1500000,"fee_name":"Lệ phí đăng ký"}`
	out, err := exec.Command("curl", "-sS", "-w", "\n%{http_code}", "-X", "POST", "-H", "Authorization: Bearer "+e.live,
		"-H", "Content-Type: application/json", "--data-binary", body, e.ts.URL+"/v1/dossiers/HS-2026.001/events").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v %s", err, out)
	}
	nl := strings.LastIndexByte(string(out), '\n')
	resp, code := string(out[:max(nl, 0)]), string(out[nl+1:])
	if code != "201" {
		t.Fatalf("curl POST: %s %s", code, resp)
	}
	var cv createdView
	if err := json.Unmarshal([]byte(resp), &cv); err != nil || len(cv.Notifications) != 1 || !strings.Contains(cv.Notifications[0].Body, "1.500.000 đồng") {
		t.Fatalf("curl POST body: %v %s", err, resp)
	}
	out, err = exec.Command("curl", "-sS", "-f", "-H", "Authorization: Bearer "+e.live, e.ts.URL+"/v1/notifications/"+cv.Notifications[0].ID).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"status":"created"`) || !strings.Contains(string(out), "Lệ phí đăng ký") {
		t.Fatalf("curl GET: %v %s", err, out)
	}
	out, _ = exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", e.ts.URL+"/v1/notifications").CombinedOutput()
	if string(out) != "401" {
		t.Errorf("curl without key: %s", out)
	}
}
