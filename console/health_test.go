package console

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"congthu/notify/notifydb"
	"congthu/webhook"
)

// testCert makes a self-signed certificate for names valid until notAfter.
func testCert(t *testing.T, notAfter time.Time, names ...string) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMonthOf(t *testing.T) {
	// 17:30 UTC on 30 November is 00:30 on 1 December in Vietnam.
	start, end := monthOf(time.Date(2026, 11, 30, 17, 30, 0, 0, time.UTC))
	if want := time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC); !start.Equal(want) {
		t.Errorf("start %s, want %s", start.UTC(), want)
	}
	if want := time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC); !end.Equal(want) {
		t.Errorf("end %s, want %s", end.UTC(), want)
	}
}

func TestCertViews(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	soon := testCert(t, now.Add(10*24*time.Hour+time.Hour), "mail.hanoi.gov.vn", "mta-sts.hanoi.gov.vn")
	later := testCert(t, now.Add(90*24*time.Hour), "admin.hanoi.gov.vn")
	gone := testCert(t, now.Add(-36*time.Hour), "cu.hanoi.gov.vn")
	vs := certViews([]*x509.Certificate{later, soon, nil, gone}, now)
	if len(vs) != 4 {
		t.Fatalf("got %d names, want 4: %+v", len(vs), vs)
	}
	for i, want := range []struct {
		name          string
		days          int
		warn, expired bool
	}{{"cu.hanoi.gov.vn", -2, true, true}, {"mail.hanoi.gov.vn", 10, true, false}, {"mta-sts.hanoi.gov.vn", 10, true, false},
		{"admin.hanoi.gov.vn", 90, false, false}} {
		v := vs[i]
		if v.Name != want.name || v.DaysLeft != want.days || v.Warn != want.warn || v.Expired != want.expired || !v.SelfSign {
			t.Errorf("%d: got %+v, want %+v", i, v, want)
		}
	}
}

// TestDashboardHealth: the month's spend per service from the prices
// recorded at send time, the providers' states, the certificates with
// the one under 14 days warned.
func TestDashboardHealth(t *testing.T) {
	now := time.Now()
	var bound bool
	health := func(context.Context) []ProviderHealth {
		return []ProviderHealth{
			{Channel: "sms", Provider: "smpp", Target: "10.1.2.3:2775", Up: bound, Detail: "not bound to the SMSC yet"},
			{Channel: "zalo", Provider: "zns", Target: "app-1", Up: true, TokenRefreshed: now.Add(-3 * time.Hour),
				TokenExpires: now.Add(22 * time.Hour), QuotaDaily: 5000, QuotaRemaining: 4321, QuotaAt: now.Add(-time.Minute)},
		}
	}
	certs := []*x509.Certificate{testCert(t, now.Add(10*24*time.Hour+time.Hour), "mail.hanoi.gov.vn"),
		testCert(t, now.Add(200*24*time.Hour+time.Hour), "admin.hanoi.gov.vn")}
	e := newEnv(t, envOpts{mod: func(o *Options) {
		o.Health = health
		o.Certificates = func() []*x509.Certificate { return certs }
	}})
	c := e.signedIn(adminAddr)

	// The first page reads the month (on a small store within the page's
	// wait; else it says the figures are being read): before any SMS or
	// Zalo, the month is empty.
	r := c.get("/admin/")
	if strings.Contains(r.body, "Đang tính chi phí tháng này") {
		<-e.srv.spend.wait()
		r = c.get("/admin/")
	}
	mustContain(t, "empty dashboard", r.body, "Số liệu lúc "+formatDateTime(e.clock.now()))
	mustContain(t, "empty dashboard", r.body, "Chưa có tin SMS hay Zalo nào trong tháng "+now.In(time.FixedZone("", 7*3600)).Format("01/2006"))

	// Two SMS of motcua at 1.600 and 800 đồng, a Zalo of another
	// service at 300 đồng, and a test-key SMS that costs nothing.
	_, sm := e.notifications()
	if err := e.nst.SetNotificationPrice(ctx, sm.ID, 1600); err != nil {
		t.Fatal(err)
	}
	_, sm2 := e.notifications()
	if err := e.nst.SetNotificationPrice(ctx, sm2.ID, 800); err != nil {
		t.Fatal(err)
	}
	if _, err := e.nst.AddAPIKey(ctx, "phuong-hangbac", hashToken("ct_live_hangbac"), "ct_live_hang…", false); err != nil {
		t.Fatal(err)
	}
	z := sm
	z.ID = uuid.Must(uuid.NewV7()).String()
	z.Channel, z.Service, z.Fallback = "zalo", "phuong-hangbac", nil
	if res, err := e.nst.CreateNotifications(ctx, []*notifydb.NotificationRequest{{Service: "phuong-hangbac",
		Notifications: []notifydb.NewNotification{z}}}); err != nil || res[0].Err != nil {
		t.Fatalf("zalo notification: %v %v", err, res)
	}
	if err := e.nst.SetNotificationPrice(ctx, z.ID, 300); err != nil {
		t.Fatal(err)
	}

	// The empty month read above is reused for a minute.
	if r = c.get("/admin/"); !strings.Contains(r.body, "Chưa có tin SMS hay Zalo nào") {
		t.Error("the spend was read again within a minute")
	}
	// A minute on, the page still shows that reading and starts the
	// next; the page after it shows the new one.
	e.clock.add(spendMaxAge)
	if r = c.get("/admin/"); !strings.Contains(r.body, "Chưa có tin SMS hay Zalo nào") {
		t.Error("a stale reading was not shown while the next was made")
	}
	<-e.srv.spend.wait()
	r = c.get("/admin/")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("dashboard: %d\n%s", r.StatusCode, r.body)
	}
	mustContain(t, "dashboard", r.body,
		// spend: per service and the sum
		"<td>motcua</td><td class=\"num\">2 (0)</td><td class=\"num\">2.400 đồng</td><td class=\"num\">0</td><td class=\"num\">0 đồng</td><td class=\"num\">2.400 đồng</td>",
		"<td>phuong-hangbac</td><td class=\"num\">0 (0)</td><td class=\"num\">0 đồng</td><td class=\"num\">1</td><td class=\"num\">300 đồng</td><td class=\"num\">300 đồng</td>",
		"<td class=\"num\">2.700 đồng</td></tr></tfoot>",
		"Biểu đồ chi phí tháng",
		// providers
		"SMPP (SMSC 10.1.2.3:2775)", "Chưa kết nối", "not bound to the SMSC yet",
		"Zalo ZNS (ứng dụng app-1)", "Mã truy cập còn hạn", "Làm mới cách đây 3 giờ", "còn 4321 / 5000 tin",
		// certificates
		"mail.hanoi.gov.vn", "Sắp hết hạn: còn 10 ngày", "Chứng chỉ của mail.hanoi.gov.vn hết hạn sau 10 ngày",
		"admin.hanoi.gov.vn", "Còn 200 ngày", `class="warnrow"`)
	if strings.Contains(r.body, "Chứng chỉ của admin.hanoi.gov.vn") {
		t.Error("a certificate with 200 days left is warned")
	}
	if strings.Contains(r.body, "style=") {
		t.Error("inline style on the dashboard")
	}
	bound = true
	r = c.get("/admin/")
	mustContain(t, "dashboard, bound", r.body, "Đã kết nối (bound)")
	if strings.Contains(r.body, "Chưa kết nối") {
		t.Error("bound SMSC still shown as not bound")
	}
}

// TestDashboardWithoutHealth: a console given no Health or Certificates
// says so rather than showing an empty table.
func TestDashboardWithoutHealth(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.signedIn(adminAddr).get("/admin/")
	mustContain(t, "dashboard", r.body, "Máy chủ này không báo tình trạng nhà cung cấp.", "Máy chủ này không báo chứng chỉ.")
}

// TestCallbackTestEvent: "Gửi sự kiện thử" sends a signed test event to
// a real receiver, shows its answer, audits it; a refusing receiver and
// an unreachable one are shown as errors; it needs the CSRF token.
func TestCallbackTestEvent(t *testing.T) {
	e := newEnv(t, envOpts{})
	const secret = "bí mật ký gọi lại 0123456789"
	status := http.StatusOK
	var got webhook.Payload
	var verr error
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verr = webhook.Verify(secret, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), body, time.Now(), time.Minute)
		json.Unmarshal(body, &got)
		w.WriteHeader(status)
	}))
	defer rcv.Close()
	if err := e.nst.SetServiceCallback(ctx, "motcua", rcv.URL+"/cb", secret); err != nil {
		t.Fatal(err)
	}
	e.srv.d.CallbackClient = webhook.NewClient(5*time.Second, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	c := e.signedIn(adminAddr)
	page := c.get("/admin/services")
	mustContain(t, "services", page.body, "Gửi sự kiện thử", `action="/admin/services/callback/test"`)
	tok := c.csrf("/admin/services")

	if r := c.post("/admin/services/callback/test", url.Values{"service": {"motcua"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("without CSRF: %d, want 403", r.StatusCode)
	}
	send := func() string {
		t.Helper()
		r := c.post("/admin/services/callback/test", url.Values{"csrf": {tok}, "service": {"motcua"}})
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("test event: %d", r.StatusCode)
		}
		return c.get(r.Header.Get("Location")).body
	}
	body := send()
	mustContain(t, "after the test event", body, "máy nhận trả lời HTTP 200, đã nhận", `class="flash"`)
	if verr != nil || got.Status != webhook.TestStatus || !got.Test {
		t.Errorf("receiver: verify %v, payload %+v", verr, got)
	}
	es, _ := e.st.Audit(ctx, 0, 1)
	if len(es) != 1 || es[0].Action != "service.callback-test" || es[0].Target != "motcua" || !strings.Contains(es[0].Detail, "HTTP 200") {
		t.Errorf("audit %+v", es)
	}

	status = http.StatusInternalServerError
	mustContain(t, "refused test event", send(), "máy nhận trả lời HTTP 500, không nhận", `class="error"`)

	rcv.Close()
	mustContain(t, "unreachable receiver", send(), "không gửi được", `class="error"`)

	if err := e.nst.SetServiceCallback(ctx, "motcua", "", ""); err != nil {
		t.Fatal(err)
	}
	r := c.post("/admin/services/callback/test", url.Values{"csrf": {tok}, "service": {"motcua"}})
	if loc, _ := url.QueryUnescape(r.Header.Get("Location")); !strings.Contains(loc, "chưa đặt địa chỉ gọi lại") {
		t.Errorf("no callback URL: %q", loc)
	}
	r = c.post("/admin/services/callback/test", url.Values{"csrf": {tok}, "service": {"khong-co"}})
	if loc, _ := url.QueryUnescape(r.Header.Get("Location")); !strings.Contains(loc, "Không có dịch vụ") {
		t.Errorf("unknown service: %q", loc)
	}
}

// TestDashboardSpendSlow: a month's spend that takes long to read never
// holds the page: the page says the figures are being read, one reading
// runs however many pages ask, and the page after it shows the figures;
// a stale reading is shown while the next is made.
func TestDashboardSpendSlow(t *testing.T) {
	e := newEnv(t, envOpts{})
	var reads atomic.Int32
	release := make(chan struct{})
	e.srv.readSpend = func(now, month time.Time) ([]notifydb.UsageRow, error) {
		reads.Add(1)
		<-release
		return []notifydb.UsageRow{{Service: "motcua", Channel: "sms", Notifications: 3, SMSParts: 4, CostVND: 3200}}, nil
	}
	c := e.signedIn(adminAddr)
	for i := range 3 {
		r := c.get("/admin/")
		if r.StatusCode != http.StatusOK {
			t.Fatalf("dashboard %d: %d", i, r.StatusCode)
		}
		mustContain(t, "dashboard while reading", r.body, "Đang tính chi phí tháng này")
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("%d readings under way, want 1", n)
	}
	close(release)
	<-e.srv.spend.wait()
	r := c.get("/admin/")
	mustContain(t, "dashboard after reading", r.body, "<td>motcua</td><td class=\"num\">3 (4)</td><td class=\"num\">3.200 đồng</td>",
		"Số liệu lúc "+formatDateTime(e.clock.now()))
	if n := reads.Load(); n != 1 {
		t.Errorf("a fresh reading was read again: %d readings", n)
	}
	e.clock.add(spendMaxAge)
	r = c.get("/admin/")
	mustContain(t, "stale dashboard", r.body, "3.200 đồng")
	<-e.srv.spend.wait()
	if n := reads.Load(); n != 2 {
		t.Errorf("a stale reading started %d readings in all, want 2", n)
	}
}

// TestDashboardSpendFailure: a reading that fails is said on the page
// (the store's error, for the admin) and tried again by the next page;
// once one succeeds the figures show and the failure is gone.
func TestDashboardSpendFailure(t *testing.T) {
	e := newEnv(t, envOpts{})
	var fail atomic.Bool
	fail.Store(true)
	e.srv.readSpend = func(now, month time.Time) ([]notifydb.UsageRow, error) {
		if fail.Load() {
			return nil, errors.New("database is locked")
		}
		return []notifydb.UsageRow{{Service: "motcua", Channel: "zalo", Notifications: 1, CostVND: 300}}, nil
	}
	c := e.signedIn(adminAddr)
	c.get("/admin/")
	<-e.srv.spend.wait()
	r := c.get("/admin/")
	mustContain(t, "failed reading", r.body, "Lần đọc chi phí gần nhất bị lỗi", "database is locked")
	fail.Store(false)
	<-e.srv.spend.wait()
	r = c.get("/admin/")
	if strings.Contains(r.body, "Đang tính chi phí") {
		<-e.srv.spend.wait()
		r = c.get("/admin/")
	}
	mustContain(t, "after a good reading", r.body, "<td>motcua</td>", "300 đồng")
	if strings.Contains(r.body, "database is locked") {
		t.Error("the old failure is still shown after a good reading")
	}
}
