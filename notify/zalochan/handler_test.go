package zalochan_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"congthu/internal/testenv"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/notify/zalochan"
	"congthu/queue"
	"congthu/zns"
	"congthu/zns/znstest"
)

// clock is a settable Now.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.t.Load()) }
func (c *clock) add(d time.Duration) { c.t.Add(int64(d)) }
func newClock(t time.Time) *clock    { c := &clock{}; c.t.Store(t.UnixNano()); return c }
func retryAt(err error) (time.Time, bool) {
	var r *queue.RetryError
	if !errors.As(err, &r) {
		return time.Time{}, false
	}
	return r.At, true
}

// zaloFixture is a store with one live Zalo notification (with its SMS
// fallback attached), a tracker over a real queue, and a ZNS peer.
type zaloFixture struct {
	st  *notifydb.Store
	tr  *notify.Tracker
	z   *znstest.Server
	clk *clock
	h   *zalochan.Handler
}

func newZaloFixture(t *testing.T, phone string, o zalochan.Options) *zaloFixture {
	t.Helper()
	st, _ := openStores(t, "sqlite")
	q := queue.NewClient(testenv.RedisClient(t, testenv.Redis(t)))
	tr := notify.NewTracker(st, q, nil, nil)
	z := znstest.New(znstest.Options{AppID: "app", AppSecret: "sec", OASecret: "oa", RefreshToken: "r0"})
	t.Cleanup(z.Close)
	c := &zns.Client{APIURL: z.URL(), OAuthURL: z.URL(), AppID: "app", AppSecret: "sec"}
	clk := newClock(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	o.Sender, o.Tokens, o.Now = c, zalochan.NewTokens(st, c, zalochan.TokenOptions{AppID: "app", Initial: "r0"}), clk.now
	if _, err := st.AddAPIKey(ctx, "motcua", "hash1", "ct_live_abc", false); err != nil {
		t.Fatal(err)
	}
	n := notifydb.NewNotification{Notification: notifydb.Notification{ID: "z1", Channel: "zalo", Recipient: phone,
		TemplateID: "dossier-received-zalo", TemplateVersion: 1, DossierCode: "000.12", EventID: "e1",
		ZNSTemplateID: "248001", ZNSData: `{"customer_name":"Nguyễn Văn An"}`},
		Fallback: &notifydb.SMSFallback{Phone: phone, TemplateID: "dossier-received-sms", TemplateVersion: 1, Text: "Hồ sơ", SMSText: "Ho so", SMSEncoding: "GSM-7", SMSParts: 1}}
	if res, err := st.CreateNotification(ctx, &notifydb.NotificationRequest{Service: "motcua", Notifications: []notifydb.NewNotification{n}}); err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	return &zaloFixture{st: st, tr: tr, z: z, clk: clk, h: zalochan.NewHandler(st, tr, o)}
}

func (f *zaloFixture) run(t *testing.T, attempt int) error {
	t.Helper()
	return f.tr.Handler(f.h).Handle(ctx, &queue.Job{ID: notify.JobID("z1"), Queue: "zalo", Attempt: attempt})
}

func (f *zaloFixture) notes(t *testing.T) (zalo *notifydb.Notification, sms []notifydb.Notification) {
	t.Helper()
	all, err := f.st.Notifications(ctx, notifydb.NotificationFilter{Service: "motcua", DossierCode: "000.12"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range all {
		if all[i].Channel == "zalo" {
			zalo = &all[i]
		} else {
			sms = append(sms, all[i])
		}
	}
	return zalo, sms
}

// TestHandlerReceiptTimeout: accepted by Zalo, no receipt: the job comes
// back at the timeout and the SMS fallback goes then, once; the Zalo
// notification stays sending, so a late receipt still counts.
func TestHandlerReceiptTimeout(t *testing.T) {
	f := newZaloFixture(t, "+84912345678", zalochan.Options{ReceiptTimeout: 30 * time.Minute, PriceVND: 250})
	err := f.run(t, 0)
	at, ok := retryAt(err)
	if !ok || time.Until(at) < 29*time.Minute {
		t.Fatalf("after the send: %v, want a retry in 30m", err)
	}
	if len(f.z.Sent()) != 1 {
		t.Fatalf("sent %d", len(f.z.Sent()))
	}
	zl, sms := f.notes(t)
	if zl.Status != "sending" || zl.PriceVND != 250 || len(sms) != 0 {
		t.Fatalf("after the send: %+v, sms %d", zl, len(sms))
	}
	f.clk.add(10 * time.Minute)
	if _, ok := retryAt(f.run(t, 1)); !ok {
		t.Fatal("before the timeout: no retry")
	}
	f.clk.add(21 * time.Minute)
	for range 2 { // the sweeper may run it again: still one SMS
		if err := f.run(t, 2); err != nil {
			t.Fatalf("after the timeout: %v", err)
		}
	}
	zl, sms = f.notes(t)
	if len(sms) != 1 || sms[0].Status != "created" || !strings.Contains(sms[0].StatusDetail, "fallback for zalo z1 (no receipt from Zalo within 30m0s)") {
		t.Fatalf("fallback %+v", sms)
	}
	if zl.Status != "sending" || len(f.z.Sent()) != 1 {
		t.Errorf("zalo after the timeout: %s, sent %d", zl.Status, len(f.z.Sent()))
	}
	// The late receipt finds the notification.
	id, err := f.st.ZNSReceipt(ctx, f.z.Sent()[0].MsgID, time.Now())
	if err != nil || id != "z1" {
		t.Fatalf("receipt: %q %v", id, err)
	}
}

// TestHandlerOutcomes: -124 is refreshed and sent once more; not on Zalo is
// a permanent failure with the SMS fallback; Zalo down is retried until
// the timeout from the first try, then temporary-failure and the SMS.
func TestHandlerOutcomes(t *testing.T) {
	t.Run("token", func(t *testing.T) {
		f := newZaloFixture(t, "+84912345678", zalochan.Options{})
		if _, ok := retryAt(f.run(t, 0)); !ok {
			t.Fatal("first send")
		}
		f.z.ExpireAccess() // Zalo answers -124 to the token we hold
		n := notifydb.NewNotification{Notification: notifydb.Notification{ID: "z2", Channel: "zalo", Recipient: "+84912345679",
			TemplateID: "dossier-received-zalo", TemplateVersion: 1, DossierCode: "000.13", ZNSTemplateID: "248001", ZNSData: `{"a":"b"}`}}
		if res, err := f.st.CreateNotification(ctx, &notifydb.NotificationRequest{Service: "motcua", Notifications: []notifydb.NewNotification{n}}); err != nil || res.Err != nil {
			t.Fatal(err, res.Err)
		}
		if _, ok := retryAt(f.tr.Handler(f.h).Handle(ctx, &queue.Job{ID: notify.JobID("z2"), Queue: "zalo"})); !ok {
			t.Fatal("send after -124: not accepted")
		}
		if ok, refused := f.z.Refreshes(); ok != 2 || refused != 0 || len(f.z.Sent()) != 2 {
			t.Errorf("refreshes %d ok %d refused, sent %d; want 2, 0, 2", ok, refused, len(f.z.Sent()))
		}
	})
	t.Run("not on zalo", func(t *testing.T) {
		f := newZaloFixture(t, "+84900000003", zalochan.Options{})
		f.z.Fail("+84900000003", -118)
		if err := f.run(t, 0); err != nil {
			t.Fatal(err)
		}
		zl, sms := f.notes(t)
		if zl.Status != "permanent-failure" || !strings.Contains(zl.StatusDetail, "not reachable on Zalo") {
			t.Errorf("zalo %s %q", zl.Status, zl.StatusDetail)
		}
		if len(sms) != 1 || !strings.Contains(sms[0].StatusDetail, "(permanent-failure)") {
			t.Errorf("sms %+v", sms)
		}
	})
	t.Run("zalo down", func(t *testing.T) {
		f := newZaloFixture(t, "+84912345678", zalochan.Options{ReceiptTimeout: 5 * time.Minute})
		f.z.Fail("+84912345678", -100) // an application error: temporary
		for i := range 3 {
			if _, ok := retryAt(f.run(t, i)); !ok {
				t.Fatalf("try %d: no retry", i)
			}
			f.clk.add(time.Minute)
		}
		f.clk.add(3 * time.Minute)
		if err := f.run(t, 3); err != nil {
			t.Fatal(err)
		}
		zl, sms := f.notes(t)
		if zl.Status != "temporary-failure" || !strings.Contains(zl.StatusDetail, "Zalo unavailable for 5m0s") {
			t.Errorf("zalo %s %q", zl.Status, zl.StatusDetail)
		}
		if len(sms) != 1 || !strings.Contains(sms[0].StatusDetail, "(temporary-failure)") {
			t.Errorf("sms %+v", sms)
		}
	})
}

// TestEvents: the webhook verifies before it reads, answers each fault
// with its status, and a receipt makes the notification delivered.
func TestEvents(t *testing.T) {
	f := newZaloFixture(t, "+84912345678", zalochan.Options{})
	if _, ok := retryAt(f.run(t, 0)); !ok {
		t.Fatal("send")
	}
	ev := zalochan.NewEvents(f.st, f.tr, "app", "oa", nil)
	post := func(body, sig string) (int, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/v1/zalo/events", strings.NewReader(body))
		req.Header.Set("X-ZEvent-Signature", sig)
		ev.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	signed := func(body, ts string) string { return zns.Sign("app", "oa", []byte(body), ts) }
	msg := f.z.Sent()[0].MsgID
	receipt := `{"app_id":"app","event_name":"user_received_message","timestamp":"1765000000000","message":{"msg_id":"` + msg + `"}}`
	for _, c := range []struct {
		body, sig string
		code      int
		want      string
	}{
		{receipt, "mac=" + strings.Repeat("0", 64), 401, `"field":"X-ZEvent-Signature"`},
		{receipt, "", 401, "signature"},
		{receipt, signed(receipt, "1765000000001"), 401, "signature"}, // signed with another timestamp
		{strings.Repeat("x", zns.MaxEventBytes+1), "", 413, "64 KiB"},
		{`{"app_id":"app","event_name":"user_received_message","timestamp":"1"}`, signed(`{"app_id":"app","event_name":"user_received_message","timestamp":"1"}`, "1"), 400, "message.msg_id"},
		{`{"event_name":"follow","timestamp":"1"}`, signed(`{"event_name":"follow","timestamp":"1"}`, "1"), 200, ""},
	} {
		code, body := post(c.body, c.sig)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%.60s: %d %s, want %d containing %q", c.body, code, body, c.code, c.want)
		}
	}
	if zl, _ := f.notes(t); zl.Status != "sending" {
		t.Fatalf("refused events changed the notification: %s", zl.Status)
	}
	if code, body := post(receipt, signed(receipt, "1765000000000")); code != 200 {
		t.Fatalf("receipt: %d %s", code, body)
	}
	if zl, _ := f.notes(t); zl.Status != "delivered" || zl.StatusDetail != zalochan.ReceivedDetail {
		t.Errorf("after the receipt: %s %q", zl.Status, zl.StatusDetail)
	}
	// A receipt for a msg_id not recorded yet is kept, then applied.
	early := `{"app_id":"app","event_name":"user_received_message","timestamp":"2","message":{"msg_id":"future"}}`
	if code, _ := post(early, signed(early, "2")); code != 200 {
		t.Fatalf("early receipt: %d", code)
	}
	if id, err := f.st.ZNSReceipt(ctx, "future", time.Now()); err != nil || id != "" {
		t.Fatalf("early receipt found %q %v", id, err)
	}
}
