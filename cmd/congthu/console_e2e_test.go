package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"congthu/internal/testenv"
	"congthu/queue"
	"congthu/sms/smpp/smpptest"
	"congthu/webhook"
	"congthu/zns/znstest"
)

// chromium returns Debian's Chromium, or skips the test without one
// (scripts/test.sh installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CONGTHU_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	skipOrFail(t, "no Chromium (apt-get install chromium, or CONGTHU_CHROMIUM)")
	return ""
}

// axeSource returns axe-core's script from npm (scripts/test.sh installs
// it into ~/.cache/congthu-axe, or CONGTHU_AXE_JS names it).
func axeSource(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CONGTHU_AXE_JS")
	if p == "" {
		home, _ := os.UserHomeDir()
		p = filepath.Join(home, ".cache", "congthu-axe", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		skipOrFail(t, fmt.Sprintf("no axe-core (npm install axe-core into ~/.cache/congthu-axe, or CONGTHU_AXE_JS): %v", err))
	}
	return string(b)
}

// skipOrFail skips a test whose tool is missing, but fails it in CI
// (CI=true), where scripts/test.sh installs every tool.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// axeViolation is what axe-core reports of one rule.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// TestE2EConsole drives the built binary's console in headless Chromium:
// sign in, look a dossier up and open its timeline, create an account,
// create and revoke an API key, preview a template, retry a dead letter;
// the desk gets 403 on admin pages; a POST without its CSRF token is
// refused; the session cookie's flags. Every page is checked with axe-core
// (no serious or critical violation) and photographed at 1280x800 and
// 390x844 into CONGTHU_CONSOLE_SCREENSHOTS (default: a temp dir).
func TestE2EConsole(t *testing.T) {
	exe := chromium(t)
	axe := axeSource(t)
	shots := os.Getenv("CONGTHU_CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	redisURL := testenv.Redis(t)
	ports := testenv.FreePorts(t, 3)
	httpAddr, adminAddr := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	// The SMSC starts only after the dashboard showed it not bound; Zalo
	// is the test ZNS server; callbacks go to a receiver of this test.
	z := znstest.New(znstest.Options{AppID: "app-1", AppSecret: "s3cret", OASecret: "oa-secret", RefreshToken: "r0",
		Webhook: "http://" + httpAddr + "/v1/zalo/events", AutoReceipt: true, ReceiptDelay: 50 * time.Millisecond})
	t.Cleanup(z.Close)
	const cbSecret = "khóa ký gọi lại của bộ phận một cửa"
	var cbMu sync.Mutex
	var cbTests []error // Verify's answer for each test event received
	cbRcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p webhook.Payload
		json.Unmarshal(body, &p)
		if p.Status == webhook.TestStatus {
			cbMu.Lock()
			cbTests = append(cbTests, webhook.Verify(cbSecret, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), body, time.Now(), time.Minute))
			cbMu.Unlock()
		}
	}))
	defer cbRcv.Close()
	n := newNode(t, "CONGTHU_REDIS_URL="+redisURL, "CONGTHU_API_SENDER_DOMAIN=hanoi.gov.vn", "CONGTHU_HTTP_ADDR="+httpAddr,
		"CONGTHU_ADMIN_ADDR="+adminAddr, "CONGTHU_SMARTHOST=127.0.0.1:1",
		fmt.Sprintf("CONGTHU_SMPP_ADDR=127.0.0.1:%d", ports[2]), "CONGTHU_SMPP_SYSTEM_ID=congthu", "CONGTHU_SMPP_PASSWORD=secret",
		"CONGTHU_SMS_SENDER=UBND-HN", "CONGTHU_SMS_QUIET_HOURS=off",
		"CONGTHU_ZNS_API_URL="+z.URL(), "CONGTHU_ZNS_OAUTH_URL="+z.URL(), "CONGTHU_ZNS_APP_ID=app-1",
		"CONGTHU_ZNS_APP_SECRET=s3cret", "CONGTHU_ZNS_REFRESH_TOKEN=r0", "CONGTHU_ZNS_OA_SECRET=oa-secret",
		"CONGTHU_PRICE_ZNS_VND=300", "CONGTHU_PRICE_SMS_VND=800", "CONGTHU_API_CALLBACK_ALLOW=127.0.0.0/8")
	n.addr["http"], n.addr["admin"] = httpAddr, adminAddr
	const pw = "mật khẩu quản trị 2026"
	n.admin(t, "", "domain", "add", "hanoi.gov.vn")
	for _, u := range []struct{ addr, role string }{{"quantri@hanoi.gov.vn", "admin"}, {"motcua@hanoi.gov.vn", "desk"}} {
		n.admin(t, pw+"\n", "user", "add", "--password-stdin", u.addr)
		n.admin(t, "", "user", "role", u.addr, u.role)
	}
	key := strings.TrimSpace(n.admin(t, "", "apikey", "create", "--service", "motcua-hoankiem"))
	n.admin(t, cbSecret+"\n", "service", "callback", "set", "motcua-hoankiem", "--url", cbRcv.URL+"/cb", "--secret-stdin")
	n.start(t)
	defer n.stop(t)

	// A dossier event through the API: an email and an SMS.
	const code = "000.00.12.H26-260315-0001"
	body := `{"event_id":"evt-1","status":"received","channels":["email","sms"],
		"applicant":{"name":"Nguyễn Văn An","email":"an@example.org","phone":"0912 345 678"},
		"procedure":"Cấp giấy phép xây dựng nhà ở riêng lẻ","agency":"Ủy ban nhân dân quận Hoàn Kiếm",
		"received_at":"2026-03-15T09:00:00+07:00","appointment_at":"2026-03-29T16:00:00+07:00"}`
	req, _ := http.NewRequest("POST", "http://"+httpAddr+"/v1/dossiers/"+code+"/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("POST event: %v %v", err, res)
	}
	res.Body.Close()
	// A Zalo message of another dossier, to another number: its send
	// stores Zalo's token and quota, and its price.
	zbody := `{"event_id":"evt-z","status":"received","channels":["zalo"],
		"applicant":{"name":"Trần Thị Bình","phone":"0987 654 321"},
		"procedure":"Cấp giấy phép xây dựng nhà ở riêng lẻ","agency":"Ủy ban nhân dân quận Hoàn Kiếm","agency_short":"UBND Q.Hoàn Kiếm",
		"received_at":"2026-03-15T09:00:00+07:00","appointment_at":"2026-03-29T16:00:00+07:00"}`
	req, _ = http.NewRequest("POST", "http://"+httpAddr+"/v1/dossiers/000.00.12.H26-260315-0002/events", strings.NewReader(zbody))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if res, err = http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("POST zalo event: %v %v", err, res)
	}
	res.Body.Close()
	for deadline := time.Now().Add(15 * time.Second); len(z.Sent()) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no Zalo message sent\n%s", n.logs)
		}
	}

	// A dead letter, made by a worker of this test on a queue of its own.
	rdb := testenv.RedisClient(t, redisURL)
	qc := queue.NewClient(rdb)
	const deadQueue, deadJob = "console-e2e", "thu-nghiem:1"
	if _, err := qc.Enqueue(context.Background(), queue.Job{ID: deadJob, Queue: deadQueue}); err != nil {
		t.Fatal(err)
	}
	wctx, stopWorker := context.WithCancel(context.Background())
	w := queue.NewWorker(qc, slog.New(slog.DiscardHandler), queue.WorkerOptions{})
	w.Handle(deadQueue, queue.HandlerFunc(func(context.Context, *queue.Job) error {
		return queue.Permanent(errors.New("550 5.1.1 hộp thư không tồn tại"))
	}), queue.HandlerOptions{})
	wdone := make(chan struct{})
	go func() { defer close(wdone); w.Run(wctx) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		st, _ := qc.Stats(context.Background(), deadQueue)
		if st.Dead == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job did not become a dead letter")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopWorker()
	<-wdone

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("headless", "new"), chromedp.WindowSize(1280, 800), chromedp.Flag("lang", "vi"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	base := "http://" + adminAddr

	browser := func() (context.Context, func()) {
		bctx, cancel := chromedp.NewContext(actx)
		tctx, cancel2 := context.WithTimeout(bctx, 90*time.Second)
		return tctx, func() { cancel2(); cancel() }
	}
	ctx, done := browser()
	defer done()
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, n.logs)
		}
	}
	text := func(sel string) string {
		t.Helper()
		var s string
		run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
		return s
	}
	checked := map[string]bool{}
	// check runs axe-core on the page and photographs it at both widths.
	check := func(name string) {
		t.Helper()
		if checked[name] {
			return
		}
		checked[name] = true
		var raw json.RawMessage
		run("axe on "+name, chromedp.Evaluate(axe, nil),
			chromedp.Evaluate(`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`, &raw,
				func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		var js string
		var version string
		run("axe version", chromedp.Evaluate(`axe.version`, &version))
		if version == "" {
			t.Fatalf("axe-core did not load on %s", name)
		}
		if err := json.Unmarshal(raw, &js); err != nil {
			t.Fatalf("axe on %s: %v", name, err)
		}
		var vs []axeViolation
		if err := json.Unmarshal([]byte(js), &vs); err != nil {
			t.Fatalf("axe on %s: %v", name, err)
		}
		for _, v := range vs {
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Errorf("axe on %s: %s (%s): %s at %v", name, v.ID, v.Impact, v.Help, v.Nodes)
			} else {
				t.Logf("axe on %s: %s (%s): %s", name, v.ID, v.Impact, v.Help)
			}
		}
		for _, sz := range []struct {
			w, h int64
			tag  string
		}{{1280, 800, "1280x800"}, {390, 844, "390x844"}} {
			var png []byte
			run("screenshot "+name, emulation.SetDeviceMetricsOverride(sz.w, sz.h, 1, sz.w < 600), chromedp.Sleep(50*time.Millisecond),
				chromedp.CaptureScreenshot(&png))
			if err := os.WriteFile(filepath.Join(shots, name+"-"+sz.tag+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
			if sz.w < 600 {
				var scrollW int64
				run("width "+name, chromedp.Evaluate(`document.documentElement.scrollWidth`, &scrollW))
				if scrollW > sz.w+1 {
					t.Errorf("%s at %d px wide scrolls sideways (%d px)", name, sz.w, scrollW)
				}
			}
		}
		run("restore size", emulation.ClearDeviceMetricsOverride())
	}
	h1 := func() string { return text("h1") }

	// Sign in as admin.
	run("login page", chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible("#address", chromedp.ByQuery))
	check("login")
	run("sign in", chromedp.SendKeys("#address", "quantri@hanoi.gov.vn", chromedp.ByQuery),
		chromedp.SendKeys("#password", pw, chromedp.ByQuery), chromedp.Submit("#password", chromedp.ByQuery),
		chromedp.WaitVisible(`svg.chart`, chromedp.ByQuery))
	if got := h1(); got != "Tổng quan" {
		t.Errorf("after sign-in: h1 %q", got)
	}
	// Providers: the SMSC is not listening yet; Zalo's token was stored
	// by the send above. The self-signed certificate's expiry. The
	// month's Zalo spend (300 đồng a message).
	dash := text("main")
	// The month's spend is read in the background: a page that came
	// before the reading says so, and a later one shows it.
	for deadline := time.Now().Add(15 * time.Second); strings.Contains(dash, "Đang tính chi phí") && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		run("dashboard reload", chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible("#prov", chromedp.ByQuery))
		dash = text("main")
	}
	for _, want := range []string{"SMPP (SMSC 127.0.0.1:", "Chưa kết nối", "Zalo ZNS (ứng dụng app-1)", "Mã truy cập còn hạn",
		"Làm mới cách đây", "Chứng chỉ TLS", "(tự ký)", "Chi phí SMS và Zalo tháng", "motcua-hoankiem", "300 đồng"} {
		if !strings.Contains(dash, want) {
			t.Errorf("dashboard lacks %q:\n%s", want, dash)
		}
	}
	check("dashboard")
	// The SMSC comes up: the dashboard shows the bind once serve's
	// retry (back-off up to a minute) reaches it.
	smsc := smpptest.Start(t, "--port", fmt.Sprint(ports[2]), "--dlr", "delivered")
	for deadline := time.Now().Add(75 * time.Second); ; {
		run("dashboard again", chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible("#prov", chromedp.ByQuery))
		if strings.Contains(text("main"), "Đã kết nối (bound)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard never showed the SMSC bound\n%s\n%s", text("main"), smsc.Log())
		}
		time.Sleep(time.Second)
	}
	check("dashboard-bound")

	// The session cookie's flags.
	var cookies []*network.Cookie
	run("cookies", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{base + "/admin/"}).Do(ctx)
		return err
	}))
	var session *network.Cookie
	for _, c := range cookies {
		if c.Name == "congthu_console" {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict || session.Secure || session.Path != "/admin" {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP, Path=/admin", session)
	}

	// A POST without its CSRF token, with the session: 403.
	preq, _ := http.NewRequest("POST", base+"/admin/accounts", strings.NewReader(url.Values{"address": {"gia@hanoi.gov.vn"}}.Encode()))
	preq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	preq.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
	if pres, err := http.DefaultClient.Do(preq); err != nil || pres.StatusCode != http.StatusForbidden {
		t.Errorf("POST without CSRF token: %v %v, want 403", err, pres)
	}

	// Look the dossier up and open the email's timeline.
	run("lookup", chromedp.Navigate(base+"/admin/lookup"), chromedp.SendKeys("#q", code, chromedp.ByQuery),
		chromedp.Submit("#q", chromedp.ByQuery), chromedp.WaitVisible("table", chromedp.ByQuery))
	if got := text("main"); !strings.Contains(got, "Kết quả: 2 thông báo") || !strings.Contains(got, "Thư điện tử") || !strings.Contains(got, "SMS") {
		t.Errorf("lookup page: %q", got)
	}
	check("lookup")
	run("open timeline", chromedp.Click(`//td[following-sibling::td[text()="Thư điện tử"]]/a`, chromedp.BySearch),
		chromedp.WaitVisible("ol.timeline", chromedp.ByQuery), chromedp.WaitVisible("iframe.mail", chromedp.ByQuery))
	if got := text("main"); !strings.Contains(got, "Diễn biến") || !strings.Contains(got, "Đã tạo") || !strings.Contains(got, "an@example.org") {
		t.Errorf("timeline: %q", got)
	}
	check("timeline")
	// By phone number, in another form than the one posted.
	run("lookup phone", chromedp.Navigate(base+"/admin/lookup?q="+url.QueryEscape("+84912345678")), chromedp.WaitVisible("table", chromedp.ByQuery))
	if got := text("main"); !strings.Contains(got, "Kết quả: 1 thông báo") {
		t.Errorf("lookup by phone: %q", got)
	}

	// Create an account: its one-time password is shown once.
	run("create account", chromedp.Navigate(base+"/admin/accounts"), chromedp.WaitVisible("#new-address", chromedp.ByQuery))
	check("accounts")
	run("create account", chromedp.SendKeys("#new-address", "nva.stp@hanoi.gov.vn", chromedp.ByQuery),
		chromedp.Submit("#new-address", chromedp.ByQuery), chromedp.WaitVisible("#otp", chromedp.ByQuery))
	otp := text("#otp")
	if len(otp) != 16 {
		t.Errorf("one-time password %q", otp)
	}
	check("password")
	if out := n.admin(t, "", "user", "list"); !strings.Contains(out, "nva.stp@hanoi.gov.vn") {
		t.Errorf("user list lacks the new account:\n%s", out)
	}
	run("account page", chromedp.Navigate(base+"/admin/accounts/nva.stp@hanoi.gov.vn"), chromedp.WaitVisible("#role", chromedp.ByQuery))
	check("account")

	// Create an API key (shown once), then revoke it.
	run("services", chromedp.Navigate(base+"/admin/services"), chromedp.WaitVisible("#service", chromedp.ByQuery))
	check("services")
	// A test event to motcua-hoankiem's callback: signed, answered 200.
	run("test event", chromedp.Click(`button[aria-label="Gửi sự kiện thử tới motcua-hoankiem"]`, chromedp.ByQuery),
		chromedp.WaitVisible("p.flash", chromedp.ByQuery))
	if got := text("p.flash"); !strings.Contains(got, "Sự kiện thử tới motcua-hoankiem: máy nhận trả lời HTTP 200") {
		t.Errorf("after the test event: %q", got)
	}
	cbMu.Lock()
	if len(cbTests) != 1 || cbTests[0] != nil {
		t.Errorf("test events received: %v, want one with a good signature", cbTests)
	}
	cbMu.Unlock()
	check("services-test-event")
	run("create key", chromedp.SendKeys("#service", "motcua-badinh", chromedp.ByQuery), chromedp.Submit("#service", chromedp.ByQuery),
		chromedp.WaitVisible("#new-key", chromedp.ByQuery))
	newKey := text("#new-key")
	if !strings.HasPrefix(newKey, "ct_live_") {
		t.Errorf("new key %q", newKey)
	}
	apiOK := func(k string) int {
		r, _ := http.NewRequest("GET", "http://"+httpAddr+"/v1/notifications", nil)
		r.Header.Set("Authorization", "Bearer "+k)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := apiOK(newKey); got != http.StatusOK {
		t.Errorf("the new key: API answers %d, want 200", got)
	}
	m := regexp.MustCompile(`Thu hồi khóa (\d+)`).FindAllStringSubmatch(text("main"), -1)
	if len(m) != 2 {
		t.Fatalf("revoke buttons: %v", m)
	}
	newest := m[0][1] // the new key has the higher number
	if len(m[1][1]) > len(newest) || len(m[1][1]) == len(newest) && m[1][1] > newest {
		newest = m[1][1]
	}
	run("revoke key", chromedp.Click(`//button[text()="Thu hồi khóa `+newest+`"]`, chromedp.BySearch),
		chromedp.WaitVisible(".flash", chromedp.ByQuery))
	// The API trusts a looked-up key for up to 5 s (httpapi's key cache).
	for deadline := time.Now().Add(10 * time.Second); apiOK(newKey) != http.StatusForbidden; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the revoked key is still accepted by the API")
			break
		}
	}

	// Preview a template: the email in sandboxed frames at two widths.
	run("templates", chromedp.Navigate(base+"/admin/templates"), chromedp.WaitVisible("table", chromedp.ByQuery))
	check("templates")
	run("email template", chromedp.Navigate(base+"/admin/templates/dossier-received-email"),
		chromedp.WaitVisible("iframe.phone", chromedp.ByQuery))
	var sandbox string
	var ok bool
	run("sandbox", chromedp.AttributeValue("iframe.desktop", "sandbox", &sandbox, &ok, chromedp.ByQuery))
	if !ok || sandbox != "" {
		t.Errorf("preview frame sandbox %q %v: want a fully sandboxed frame", sandbox, ok)
	}
	check("template-email")
	run("sms template", chromedp.Navigate(base+"/admin/templates/dossier-received-sms"), chromedp.WaitVisible("pre.sms", chromedp.ByQuery))
	if got := text("main"); !strings.Contains(got, "UCS-2") || !strings.Contains(got, "GSM-7") {
		t.Errorf("SMS preview lacks encodings: %q", got)
	}
	check("template-sms")

	// Retry the dead letter.
	run("queues", chromedp.Navigate(base+"/admin/queues"), chromedp.WaitVisible(`//button[text()="Thử lại `+deadJob+`"]`, chromedp.BySearch))
	if got := text("main"); !strings.Contains(got, "550 5.1.1 hộp thư không tồn tại") {
		t.Errorf("dead letter without its last error: %q", got)
	}
	check("queues")
	run("retry", chromedp.Click(`//button[text()="Thử lại `+deadJob+`"]`, chromedp.BySearch), chromedp.WaitVisible(".flash", chromedp.ByQuery))
	if st, err := qc.Stats(context.Background(), deadQueue); err != nil || st.Dead != 0 || st.Ready != 1 {
		t.Errorf("after retry: %+v %v, want the job ready again", st, err)
	}

	run("domains", chromedp.Navigate(base+"/admin/domains/hanoi.gov.vn"), chromedp.WaitVisible("pre", chromedp.ByQuery))
	check("domain")
	run("audit", chromedp.Navigate(base+"/admin/audit"), chromedp.WaitVisible("table", chromedp.ByQuery))
	if got := text("main"); !strings.Contains(got, "account.create") || !strings.Contains(got, "apikey.revoke") || !strings.Contains(got, "queue.retry") {
		t.Errorf("audit log: %q", got)
	}
	check("audit")

	// The desk: lookup works, admin pages are 403.
	dctx, ddone := browser()
	defer ddone()
	ctx = dctx
	run("desk sign in", chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible("#address", chromedp.ByQuery),
		chromedp.SendKeys("#address", "motcua@hanoi.gov.vn", chromedp.ByQuery), chromedp.SendKeys("#password", pw, chromedp.ByQuery),
		chromedp.Submit("#password", chromedp.ByQuery), chromedp.WaitVisible("#q", chromedp.ByQuery))
	for _, p := range []string{"/admin/", "/admin/accounts", "/admin/queues", "/admin/services"} {
		var status int64
		run("desk "+p, chromedp.ActionFunc(func(ctx context.Context) error {
			resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+p))
			if err != nil {
				return err
			}
			status = resp.Status
			return nil
		}))
		if status != http.StatusForbidden {
			t.Errorf("desk %s: got %d, want 403", p, status)
		}
	}
	check("forbidden")
	t.Logf("screenshots in %s", shots)
}
