package console

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"congthu/internal/totp"
	"congthu/loginlimit"
	"congthu/notify/notifydb"
	"congthu/store"
)

// TestSignInSessionCookie: signing in sets a session cookie HttpOnly,
// SameSite=Strict, Secure only under TLS; the store keeps only its hash;
// signing out ends it.
func TestSignInSessionCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		e := newEnv(t, envOpts{mod: func(o *Options) { o.Secure = secure }})
		c := e.client()
		r := c.signIn(adminAddr, password, "")
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/" {
			t.Fatalf("sign in: %d to %q, want 303 to /admin/", r.StatusCode, r.Header.Get("Location"))
		}
		var sc *http.Cookie
		for _, ck := range r.Cookies() {
			if ck.Name == sessionCookie {
				sc = ck
			}
		}
		if sc == nil {
			t.Fatal("no session cookie")
		}
		if !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure != secure || sc.Path != "/admin" {
			t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Secure=%v, Path=/admin", sc, secure)
		}
		if _, err := e.st.ConsoleSessionOf(ctx, sc.Value); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the cookie's value is stored as is: %v", err)
		}
		if _, err := e.st.ConsoleSessionOf(ctx, hashToken(sc.Value)); err != nil {
			t.Errorf("the cookie's hash is not stored: %v", err)
		}
		if secure {
			continue // the test server is plain HTTP: the jar keeps no Secure cookie
		}
		if r := c.get("/admin/"); r.StatusCode != http.StatusOK {
			t.Fatalf("dashboard: %d", r.StatusCode)
		}
		tok := c.csrf("/admin/")
		if r := c.post("/admin/logout", url.Values{"csrf": {tok}}); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: %d", r.StatusCode)
		}
		if _, err := e.st.ConsoleSessionOf(ctx, hashToken(sc.Value)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session still stored after logout: %v", err)
		}
		if r := c.get("/admin/"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/admin/login") {
			t.Errorf("after logout: %d %q, want a redirect to sign in", r.StatusCode, r.Header.Get("Location"))
		}
	}
}

// TestSignInRefused: wrong password, unknown account, an account
// without a role, and a disabled one all get the same answer.
func TestSignInRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	if _, err := e.st.AddAccount(ctx, "thuong@hanoi.gov.vn", password); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AddAccount(ctx, "khoa@hanoi.gov.vn", password); err != nil {
		t.Fatal(err)
	}
	e.st.SetRole(ctx, "khoa@hanoi.gov.vn", store.RoleAdmin)
	e.st.SetDisabled(ctx, "khoa@hanoi.gov.vn", true)
	for _, tc := range []struct{ addr, pw string }{
		{adminAddr, "sai mật khẩu"}, {"ai@hanoi.gov.vn", password}, {"thuong@hanoi.gov.vn", password}, {"khoa@hanoi.gov.vn", password},
	} {
		r := e.client().signIn(tc.addr, tc.pw, "")
		if r.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: got %d, want 401", tc.addr, r.StatusCode)
		}
		mustContain(t, tc.addr, r.body, errLogin)
		for _, ck := range r.Cookies() {
			if ck.Name == sessionCookie && ck.MaxAge >= 0 {
				t.Errorf("%s: got a session cookie", tc.addr)
			}
		}
	}
}

// TestLoginForgedForm: a sign-in without its form token is refused.
func TestLoginForgedForm(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.client()
	r := c.post("/admin/login", url.Values{"address": {adminAddr}, "password": {password}})
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("sign in without token: got %d, want 403", r.StatusCode)
	}
}

// TestLoginLimiter: the limiter SMTP and IMAP use locks the console's
// sign-in out too, even with the right password afterwards.
func TestLoginLimiter(t *testing.T) {
	e := newEnv(t, envOpts{lim: loginlimit.Options{AccountFailures: 3, IPFailures: 100, DelayAfter: 100, Lockout: time.Hour}})
	for i := 0; i < 3; i++ {
		if r := e.client().signIn(adminAddr, "sai", ""); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: got %d, want 401", i, r.StatusCode)
		}
	}
	r := e.client().signIn(adminAddr, password, "")
	if r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("after 3 failures: got %d, want 429", r.StatusCode)
	}
	mustContain(t, "locked page", r.body, "Quá nhiều lần đăng nhập sai")
}

// TestCSRF: every POST needs the session's token: without it, or with
// another session's, 403 and nothing changes.
func TestCSRF(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.signedIn(adminAddr)
	other := e.signedIn(adminAddr).csrf("/admin/accounts")
	for _, tok := range []string{"", "x", other} {
		form := url.Values{"address": {"moi@hanoi.gov.vn"}}
		if tok != "" {
			form.Set("csrf", tok)
		}
		if r := c.post("/admin/accounts", form); r.StatusCode != http.StatusForbidden {
			t.Errorf("csrf %q: got %d, want 403", tok, r.StatusCode)
		}
	}
	if _, err := e.st.Account(ctx, "moi@hanoi.gov.vn"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("account created without a valid token: %v", err)
	}
	r := c.post("/admin/accounts", url.Values{"address": {"moi@hanoi.gov.vn"}, "csrf": {c.csrf("/admin/accounts")}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("create with token: %d\n%s", r.StatusCode, r.body)
	}
	m := regexpSecret.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no one-time password shown:\n%s", r.body)
	}
	if _, err := e.st.Authenticate(ctx, "moi@hanoi.gov.vn", m[1]); err != nil {
		t.Errorf("the one-time password shown does not sign in: %v", err)
	}
	es, err := e.st.Audit(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) == 0 || es[0].Action != "account.create" || es[0].Target != "moi@hanoi.gov.vn" || es[0].Actor != adminAddr || es[0].Remote != "127.0.0.1" {
		t.Errorf("audit: got %+v, want account.create of moi@ by %s from 127.0.0.1", es, adminAddr)
	}
	if r := c.get("/admin/audit"); r.StatusCode != http.StatusOK {
		t.Errorf("audit page: %d", r.StatusCode)
	} else {
		mustContain(t, "audit page", r.body, "account.create", "moi@hanoi.gov.vn", "127.0.0.1")
	}
}

// TestDeskRole: the desk looks up and resends; everything else is 403.
func TestDeskRole(t *testing.T) {
	e := newEnv(t, envOpts{})
	em, _ := e.notifications()
	c := e.signedIn(deskAddr)
	tok := c.csrf("/admin/lookup")
	for _, p := range []string{"/admin/", "/admin/accounts", "/admin/accounts/" + adminAddr, "/admin/queues", "/admin/services",
		"/admin/templates", "/admin/domains", "/admin/audit"} {
		if r := c.get(p); r.StatusCode != http.StatusForbidden {
			t.Errorf("desk GET %s: got %d, want 403", p, r.StatusCode)
		}
	}
	for _, p := range []string{"/admin/accounts", "/admin/accounts/" + adminAddr + "/disable", "/admin/services/keys", "/admin/queues/outbound/retry"} {
		if r := c.post(p, url.Values{"csrf": {tok}, "address": {"x@hanoi.gov.vn"}, "service": {"s"}}); r.StatusCode != http.StatusForbidden {
			t.Errorf("desk POST %s: got %d, want 403", p, r.StatusCode)
		}
	}
	if a, _ := e.st.Account(ctx, adminAddr); a.Disabled {
		t.Error("the desk disabled an account")
	}
	for _, p := range []string{"/admin/lookup?q=" + url.QueryEscape(dossier), "/admin/notifications/" + em.ID} {
		if r := c.get(p); r.StatusCode != http.StatusOK {
			t.Errorf("desk GET %s: got %d, want 200", p, r.StatusCode)
		}
	}
}

// TestLookup: a dossier code, a phone number in any Vietnamese form, and
// an email address find the notifications; each opens its timeline.
func TestLookup(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, envOpts{backend: backend})
			em, sm := e.notifications()
			if _, err := e.nst.SetNotificationStatusEvent(ctx, em.ID, notifydb.NotificationSending, "", time.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := e.nst.SetNotificationStatusEvent(ctx, em.ID, notifydb.NotificationPermanentFailure, "550 5.1.1 user unknown", time.Now()); err != nil {
				t.Fatal(err)
			}
			c := e.signedIn(deskAddr)
			for _, tc := range []struct {
				q     string
				wants []string
			}{
				{dossier, []string{em.ID, sm.ID}},
				{"0912345678", []string{sm.ID}},
				{"0912 345 678", []string{sm.ID}},
				{"+84 91 234 5678", []string{sm.ID}},
				{"84912345678", []string{sm.ID}},
				{"Nguyen.Van.An@Example.com", []string{em.ID}},
			} {
				r := c.get("/admin/lookup?q=" + url.QueryEscape(tc.q))
				if r.StatusCode != http.StatusOK {
					t.Fatalf("lookup %q: %d", tc.q, r.StatusCode)
				}
				mustContain(t, "lookup "+tc.q, r.body, tc.wants...)
				if len(tc.wants) == 1 && strings.Contains(r.body, map[string]string{em.ID: sm.ID, sm.ID: em.ID}[tc.wants[0]]) {
					t.Errorf("lookup %q found the other notification too", tc.q)
				}
			}
			if r := c.get("/admin/lookup?q=" + url.QueryEscape("không-có")); !strings.Contains(r.body, "Không có thông báo nào") {
				t.Errorf("lookup of nothing: %d", r.StatusCode)
			}
			r := c.get("/admin/notifications/" + em.ID)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("timeline: %d", r.StatusCode)
			}
			mustContain(t, "timeline", r.body, "Đã tạo", "Đang gửi", "Lỗi vĩnh viễn", "550 5.1.1 user unknown",
				`sandbox src="/admin/notifications/`+em.ID+`/email"`, "Gửi lại")
			f := c.get("/admin/notifications/" + em.ID + "/email")
			if f.StatusCode != http.StatusOK || !strings.Contains(f.Header.Get("Content-Security-Policy"), "sandbox") ||
				f.Header.Get("X-Frame-Options") != "SAMEORIGIN" || !strings.Contains(f.body, "<html") {
				t.Errorf("framed email: %d %q %q", f.StatusCode, f.Header.Get("Content-Security-Policy"), f.Header.Get("X-Frame-Options"))
			}
			r = c.get("/admin/notifications/" + sm.ID)
			mustContain(t, "SMS timeline", r.body, "GSM-7", "84 912 345 678")
			if t.Failed() {
				t.Log(r.body)
			}
		})
	}
}

// TestResend: "Gửi lại" creates a new notification with the old one's
// content, audited; the old one is unchanged.
func TestResend(t *testing.T) {
	e := newEnv(t, envOpts{})
	em, _ := e.notifications()
	before, _ := e.nst.Notification(ctx, em.ID)
	c := e.signedIn(deskAddr)
	tok := c.csrf("/admin/notifications/" + em.ID)
	r := c.post("/admin/notifications/"+em.ID+"/resend", url.Values{"csrf": {tok}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("resend: %d\n%s", r.StatusCode, r.body)
	}
	loc := r.Header.Get("Location")
	id := strings.TrimPrefix(strings.Split(loc, "?")[0], "/admin/notifications/")
	if id == em.ID || id == "" {
		t.Fatalf("resend went to %q", loc)
	}
	n, err := e.nst.Notification(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if n.Recipient != em.Recipient || n.Subject != em.Subject || n.HTML != em.HTML || n.DossierCode != dossier || n.Status != notifydb.NotificationCreated || n.OutboxID == 0 || n.OutboxID == before.OutboxID {
		t.Errorf("new notification %+v", n)
	}
	after, _ := e.nst.Notification(ctx, em.ID)
	if after.Status != before.Status || after.UpdatedAt != before.UpdatedAt {
		t.Errorf("the old notification changed: %+v", after)
	}
	if r := c.get(loc); !strings.Contains(r.body, "Đã tạo thông báo mới") {
		t.Errorf("no flash after resend: %d", r.StatusCode)
	}
	es, _ := e.st.Audit(ctx, 0, 10)
	if len(es) == 0 || es[0].Action != "notification.resend" || es[0].Target != em.ID || !strings.Contains(es[0].Detail, id) {
		t.Errorf("audit %+v", es)
	}
	if r := c.post("/admin/notifications/"+em.ID+"/resend", url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Errorf("resend without token: %d, want 403", r.StatusCode)
	}
}

// TestTOTP: with a secret, sign-in needs the code, once; admins without
// one are refused when RequireTOTP is set.
func TestTOTP(t *testing.T) {
	e := newEnv(t, envOpts{mod: func(o *Options) { o.RequireTOTP = true }})
	if r := e.client().signIn(adminAddr, password, ""); r.StatusCode != http.StatusForbidden {
		t.Errorf("admin without TOTP under RequireTOTP: got %d, want 403", r.StatusCode)
	}
	secret := totp.NewSecret()
	if err := e.st.SetTOTPSecret(ctx, adminAddr, secret); err != nil {
		t.Fatal(err)
	}
	if r := e.client().signIn(adminAddr, password, ""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("no code: got %d, want 401", r.StatusCode)
	}
	if r := e.client().signIn(adminAddr, password, "000000"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong code: got %d, want 401", r.StatusCode)
	}
	code, _ := totp.CodeAt(secret, e.clock.now())
	if r := e.client().signIn(adminAddr, password, code); r.StatusCode != http.StatusSeeOther {
		t.Errorf("right code: got %d, want 303", r.StatusCode)
	}
	if r := e.client().signIn(adminAddr, password, code); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("the same code again: got %d, want 401", r.StatusCode)
	}
	// The desk needs no second factor, even under RequireTOTP.
	e.signedIn(deskAddr)
}

// TestSessionEnds: idle past the timeout, after a password change, and
// when the role is taken away.
func TestSessionEnds(t *testing.T) {
	e := newEnv(t, envOpts{mod: func(o *Options) { o.IdleTimeout = 10 * time.Minute }})
	c := e.signedIn(adminAddr)
	e.clock.add(9 * time.Minute)
	if r := c.get("/admin/"); r.StatusCode != http.StatusOK {
		t.Fatalf("after 9 minutes: %d", r.StatusCode)
	}
	e.clock.add(9 * time.Minute) // used 9 minutes ago: still on
	if r := c.get("/admin/"); r.StatusCode != http.StatusOK {
		t.Fatalf("9 minutes after the last use: %d", r.StatusCode)
	}
	e.clock.add(11 * time.Minute)
	if r := c.get("/admin/"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("11 minutes idle: got %d, want a redirect to sign in", r.StatusCode)
	}

	c = e.signedIn(adminAddr)
	if err := e.st.SetPassword(ctx, adminAddr, password); err != nil {
		t.Fatal(err)
	}
	if r := c.get("/admin/"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after a password change: got %d, want a redirect", r.StatusCode)
	}
	c = e.signedIn(deskAddr)
	e.st.SetRole(ctx, deskAddr, store.RoleNone)
	if r := c.get("/admin/lookup"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after the role was taken: got %d, want a redirect", r.StatusCode)
	}
}

// TestPages: every admin page renders with the strict policy.
func TestPages(t *testing.T) {
	e := newEnv(t, envOpts{redis: true})
	em, sm := e.notifications()
	c := e.signedIn(adminAddr)
	for _, p := range []struct{ path, want string }{
		{"/admin/", "Thông báo 24 giờ qua"},
		{"/admin/", "Chi phí SMS và Zalo tháng"},
		{"/admin/lookup", "Mã hồ sơ"},
		{"/admin/notifications/" + em.ID, "Nội dung đã gửi"},
		{"/admin/notifications/" + sm.ID, "phần"},
		{"/admin/accounts", adminAddr},
		{"/admin/accounts?q=motcua", deskAddr},
		{"/admin/accounts/" + deskAddr, "Một cửa"},
		{"/admin/queues", "Thư chết"},
		{"/admin/services", "motcua"},
		{"/admin/templates", "dossier-received-email"},
		{"/admin/templates/dossier-received-email", `sandbox src="/admin/templates/dossier-received-email/email"`},
		{"/admin/templates/dossier-received-sms", "UCS-2"},
		{"/admin/templates/dossier-received-sms", "GSM-7"},
		{"/admin/domains", "hanoi.gov.vn"},
		{"/admin/audit", "login"},
	} {
		r := c.get(p.path)
		if r.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", p.path, r.StatusCode, r.body)
			continue
		}
		mustContain(t, p.path, r.body, p.want, `lang="vi"`)
		if got := r.Header.Get("Content-Security-Policy"); got != csp {
			t.Errorf("%s: CSP %q", p.path, got)
		}
		if strings.Contains(r.body, "<script") || strings.Contains(r.body, "style=") {
			t.Errorf("%s has a script or an inline style", p.path)
		}
	}
	if r := c.get("/admin/templates/dossier-received-email/email"); r.StatusCode != http.StatusOK || r.Header.Get("Content-Security-Policy") != framedCSP {
		t.Errorf("template preview frame: %d %q", r.StatusCode, r.Header.Get("Content-Security-Policy"))
	}
	if r := c.get("/admin/nope"); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown page: %d", r.StatusCode)
	}
}

// TestAccountsAndKeys: disable, reset password, role; create and revoke
// an API key (shown once).
func TestAccountsAndKeys(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.signedIn(adminAddr)
	tok := c.csrf("/admin/accounts")
	base := "/admin/accounts/" + deskAddr
	if r := c.post(base+"/disable", url.Values{"csrf": {tok}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", r.StatusCode)
	}
	if a, _ := e.st.Account(ctx, deskAddr); !a.Disabled {
		t.Error("not disabled")
	}
	c.post(base+"/enable", url.Values{"csrf": {tok}})
	r := c.post(base+"/password", url.Values{"csrf": {tok}})
	m := regexpSecret.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no one-time password: %d", r.StatusCode)
	}
	if _, err := e.st.Authenticate(ctx, deskAddr, m[1]); err != nil {
		t.Errorf("one-time password: %v", err)
	}
	c.post(base+"/role", url.Values{"csrf": {tok}, "role": {"admin"}})
	c.post(base+"/alias-add", url.Values{"csrf": {tok}, "alias": {"motcua.phuong@hanoi.gov.vn"}})
	c.post(base+"/quota", url.Values{"csrf": {tok}, "quota": {"500"}})
	u, _ := e.st.ConsoleUser(ctx, deskAddr)
	al, _ := e.st.Aliases(ctx, deskAddr)
	q, _ := e.st.QuotaOf(ctx, deskAddr)
	if u.Role != store.RoleAdmin || len(al) != 1 || q.Own != 500<<20 {
		t.Errorf("role %q, aliases %v, quota %d", u.Role, al, q.Own)
	}

	r = c.post("/admin/services/keys", url.Values{"csrf": {tok}, "service": {"motcua-hn"}})
	km := regexpKey.FindStringSubmatch(r.body)
	if r.StatusCode != http.StatusOK || km == nil {
		t.Fatalf("create key: %d", r.StatusCode)
	}
	k, err := e.nst.APIKeyByHash(ctx, hashToken(km[1]))
	if err != nil {
		t.Fatalf("the key shown is not stored: %v", err)
	}
	if r := c.get("/admin/services"); strings.Contains(r.body, km[1]) {
		t.Error("the key is shown again")
	}
	c.post("/admin/services/keys/"+itoa(k.ID)+"/revoke", url.Values{"csrf": {tok}})
	k, _ = e.nst.APIKeyByHash(ctx, hashToken(km[1]))
	if k == nil || k.RevokedAt.IsZero() {
		t.Errorf("not revoked: %+v", k)
	}
	es, _ := e.st.Audit(ctx, 0, 20)
	var acts []string
	for _, x := range es {
		acts = append(acts, x.Action)
	}
	for _, want := range []string{"apikey.revoke", "apikey.create", "account.quota", "account.alias-add", "account.role", "account.password", "account.enable", "account.disable"} {
		if !strings.Contains(strings.Join(acts, " "), want) {
			t.Errorf("audit lacks %s: %v", want, acts)
		}
	}
}

// TestCallbacks: an admin sets a service's callback with the CLI's
// checks (a refused address, a short secret), the secret never shown nor
// audited; failed callbacks are listed with their last error.
func TestCallbacks(t *testing.T) {
	e := newEnv(t, envOpts{})
	em, _ := e.notifications()
	c := e.signedIn(adminAddr)
	tok := c.csrf("/admin/services")
	const secret = "bí mật ký gọi lại 0123456789"
	for _, tc := range []struct{ url, secret, msg string }{
		{"http://127.0.0.1:9/cb", secret, "bị từ chối"},
		{"https://motcua.example/cb", "ngắn", "ít nhất 16"},
		{"ftp://motcua.example/cb", secret, "không hợp lệ"},
	} {
		r := c.post("/admin/services/callback", url.Values{"csrf": {tok}, "service": {"motcua"}, "url": {tc.url}, "secret": {tc.secret}})
		loc, _ := url.QueryUnescape(r.Header.Get("Location"))
		if r.StatusCode != http.StatusSeeOther || !strings.Contains(loc, tc.msg) {
			t.Errorf("%s: %d %q, want a redirect saying %q", tc.url, r.StatusCode, loc, tc.msg)
		}
	}
	if sv, _ := e.nst.APIService(ctx, "motcua"); sv.CallbackURL != "" {
		t.Fatalf("a refused callback was set: %q", sv.CallbackURL)
	}
	e.srv.d.CallbackAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	r := c.post("/admin/services/callback", url.Values{"csrf": {tok}, "service": {"motcua"}, "url": {"http://127.0.0.1:9/cb"}, "secret": {secret}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("set: %d", r.StatusCode)
	}
	sv, _ := e.nst.APIService(ctx, "motcua")
	if sv.CallbackURL != "http://127.0.0.1:9/cb" || sv.CallbackSecret != secret {
		t.Fatalf("service %+v", sv)
	}
	ev, err := e.nst.SetNotificationStatusEvent(ctx, em.ID, notifydb.NotificationSending, "", time.Now())
	if err != nil || ev == nil || !ev.Callback {
		t.Fatalf("event %+v %v: want a callback queued", ev, err)
	}
	if err := e.nst.UpdateCallback(ctx, ev.ID, notifydb.CallbackPending, time.Now().Add(time.Minute), "dial tcp 127.0.0.1:9: connection refused"); err != nil {
		t.Fatal(err)
	}
	page := c.get("/admin/services")
	mustContain(t, "services page", page.body, "http://127.0.0.1:9/cb", "connection refused", em.ID, "đang thử lại")
	if strings.Contains(page.body, secret) {
		t.Error("the callback secret is shown")
	}
	es, _ := e.st.Audit(ctx, 0, 5)
	if len(es) == 0 || es[0].Action != "service.callback" || strings.Contains(es[0].Detail, secret) {
		t.Errorf("audit %+v", es)
	}
}
