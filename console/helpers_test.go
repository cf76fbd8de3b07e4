package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"congthu/internal/testenv"
	"congthu/loginlimit"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/notify/smschan"
	"congthu/queue"
	"congthu/store"
	"congthu/templates"
)

var ctx = context.Background()

func testLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

const (
	adminAddr = "admin@hanoi.gov.vn"
	deskAddr  = "motcua@hanoi.gov.vn"
	password  = "mật khẩu đủ dài 123"
	dossier   = "000.00.12.H26-260301-0001"
	phoneNum  = "+84912345678"
	email     = "nguyen.van.an@example.com"
)

// clock is a settable time for idle-timeout tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a console over a real store (SQLite, or PostgreSQL), with an
// admin and a desk account, served by httptest.
type env struct {
	t     testing.TB
	st    *store.Store
	nst   *notifydb.Store
	q     *queue.Client
	srv   *Server
	ts    *httptest.Server
	clock *clock
	lim   *loginlimit.Limiter
}

type envOpts struct {
	backend string
	redis   bool
	mod     func(*Options)
	lim     loginlimit.Options
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	opts := store.Options{DataDir: t.TempDir()}
	if o.backend == "postgres" {
		opts = store.Options{URL: testenv.Postgres(t)}
	}
	st, err := store.Open(ctx, opts, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, nst: notifydb.New(st), clock: &clock{t: time.Now()}}
	if o.redis {
		e.q = queue.NewClient(testenv.RedisClient(t, testenv.Redis(t)))
	}
	if _, err := st.AddDomain(ctx, "hanoi.gov.vn"); err != nil {
		t.Fatal(err)
	}
	for addr, role := range map[string]string{adminAddr: store.RoleAdmin, deskAddr: store.RoleDesk} {
		if _, err := st.AddAccount(ctx, addr, password); err != nil {
			t.Fatal(err)
		}
		if err := st.SetRole(ctx, addr, role); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.nst.AddAPIKey(ctx, "motcua", hashToken("ct_live_motcua"), "ct_live_motc…", false); err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	o.lim.Log = testLog()
	e.lim = loginlimit.New(o.lim)
	copts := Options{Log: testLog(), Now: e.clock.now}
	if o.mod != nil {
		o.mod(&copts)
	}
	e.srv, err = New(copts, Deps{
		Store: st, Notifications: e.nst, Queue: e.q, Queues: []string{"outbound"}, Templates: set,
		Channels: notify.NewRegistry(notify.EmailChannel{SenderDomain: "hanoi.gov.vn"}, smschan.Kind{}),
		Limiter:  e.lim,
		NewAPIKey: func(test bool) (string, string, string) {
			k := "ct_live_" + newToken()
			return k, hashToken(k), k[:12] + "…"
		},
		Hostname: "mail.hanoi.gov.vn",
	})
	if err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.ts.Close)
	return e
}

// client is a browser: a cookie jar, redirects not followed.
type client struct {
	e    *env
	http *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	*http.Response
	body string
}

func (c *client) get(path string) resp {
	c.e.t.Helper()
	r, err := c.http.Get(c.e.ts.URL + path)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r, string(b)}
}

func (c *client) post(path string, form url.Values) resp {
	c.e.t.Helper()
	r, err := c.http.PostForm(c.e.ts.URL+path, form)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r, string(b)}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the forms of page path.
func (c *client) csrf(path string) string {
	c.e.t.Helper()
	r := c.get(path)
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		c.e.t.Fatalf("GET %s: %d, no csrf token in:\n%s", path, r.StatusCode, r.body)
	}
	return m[1]
}

// signIn signs in with the sign-in form; it returns the answer.
func (c *client) signIn(addr, pw, code string) resp {
	c.e.t.Helper()
	tok := c.csrf("/admin/login")
	return c.post("/admin/login", url.Values{"csrf": {tok}, "address": {addr}, "password": {pw}, "code": {code}})
}

// signedIn is a client signed in as addr.
func (e *env) signedIn(addr string) *client {
	e.t.Helper()
	c := e.client()
	if r := c.signIn(addr, password, ""); r.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in as %s: %d\n%s", addr, r.StatusCode, r.body)
	}
	return c
}

// notifications creates an email and an SMS for the dossier, as the API
// would (through notify.Builder), and returns them.
func (e *env) notifications() (emailN, smsN notifydb.NewNotification) {
	e.t.Helper()
	b := e.srv.builder
	var out []notifydb.NewNotification
	for _, ch := range []struct{ name, to string }{{"email", email}, {"sms", phoneNum}} {
		tpl, ok := b.Templates.ForStatus(templates.StatusReceived, ch.name)
		if !ok {
			e.t.Fatalf("no %s template", ch.name)
		}
		k, _ := b.Channels.Kind(ch.name)
		n, fe, err := b.Build(&notify.Message{Service: "motcua", Channel: k, Template: tpl, Data: tpl.Sample(), To: ch.to,
			ToName: "Nguyễn Văn An", Agency: "UBND phường Hàng Bạc", DossierCode: dossier, EventID: "ev-1", DossierStatus: templates.StatusReceived})
		if err != nil || len(fe) > 0 {
			e.t.Fatalf("build %s: %v %v", ch.name, err, fe)
		}
		out = append(out, n)
	}
	res, err := e.nst.CreateNotifications(ctx, []*notifydb.NotificationRequest{{Service: "motcua", Notifications: out}})
	if err != nil || res[0].Err != nil {
		e.t.Fatalf("create: %v %v", err, res)
	}
	return out[0], out[1]
}

func mustContain(t testing.TB, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

var (
	regexpSecret = regexp.MustCompile(`<p class="secret" id="otp">([^<]+)</p>`)
	regexpKey    = regexp.MustCompile(`<p class="secret" id="new-key">([^<]+)</p>`)
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
