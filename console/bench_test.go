package console

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"congthu/internal/sqldb"
	"congthu/notify/notifydb"
	"congthu/store"
)

// The sizes of the console benchmark's store: a city's notifications of
// a few months and its mailboxes.
const (
	benchNotifications = 100_000
	benchAccounts      = 10_000
	benchDays          = 30
)

// seedBench fills the store with benchAccounts accounts (rows only:
// the pages read no mailbox) and benchNotifications notifications spread
// over benchDays days, four per dossier, each with its created event and,
// for most, a final one. It writes rows directly, in large transactions:
// the API's path would take minutes.
func seedBench(b *testing.B, e *env) (dossierCode, phoneNum, notificationID string) {
	b.Helper()
	db := e.st.DB()
	now := time.Now()
	hash, err := store.HashPassword("không dùng để đăng nhập")
	if err != nil {
		b.Fatal(err)
	}
	const chunk = 500
	for start := 0; start < benchAccounts; start += chunk {
		err := db.WriteTx(ctx, func(tx sqldb.Tx) error {
			var sb strings.Builder
			var args []any
			sb.WriteString("INSERT INTO accounts (address, domain, password_hash, created_at, password_changed_at) VALUES ")
			for i := start; i < start+chunk && i < benchAccounts; i++ {
				if i > start {
					sb.WriteString(", ")
				}
				sb.WriteString("(?, ?, ?, ?, ?)")
				t := sqldb.Micro(now.Add(-time.Duration(i) * time.Minute))
				args = append(args, fmt.Sprintf("cb%05d.phong%d@hanoi.gov.vn", i, i%30), "hanoi.gov.vn", hash, t, t)
			}
			_, err := tx.Exec(ctx, sb.String(), args...)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	statuses := []string{notifydb.NotificationDelivered, notifydb.NotificationDelivered, notifydb.NotificationDelivered,
		notifydb.NotificationDelivered, notifydb.NotificationDelivered, notifydb.NotificationSending, notifydb.NotificationPermanentFailure,
		notifydb.NotificationTechnicalFailure}
	span := time.Duration(benchDays) * 24 * time.Hour
	for start := 0; start < benchNotifications; start += chunk {
		err := db.WriteTx(ctx, func(tx sqldb.Tx) error {
			var ns, es strings.Builder
			var nargs, eargs []any
			ns.WriteString(`INSERT INTO notifications (id, service, channel, template_id, template_version, recipient, dossier_code,
				event_id, dossier_status, subject, body_text, body_html, sms_text, sms_encoding, sms_parts, status, created_at, updated_at,
				sent_at, completed_at, price_vnd) VALUES `)
			es.WriteString("INSERT INTO notification_events (notification_id, service, status, detail, at, created_at) VALUES ")
			for i := start; i < start+chunk && i < benchNotifications; i++ {
				if i > start {
					ns.WriteString(", ")
					es.WriteString(", ")
				}
				// Oldest first, so that IDs grow with time as UUIDv7s do.
				created := now.Add(-span + time.Duration(i)*(span/benchNotifications))
				id := fmt.Sprintf("%012x-0000-7000-8000-%012d", created.UnixMilli(), i)
				dossier := fmt.Sprintf("000.00.12.H26-%06d", i/4)
				ch, to, tpl := "email", fmt.Sprintf("nguoidan%05d@example.com", i%benchAccounts), "dossier-received-email"
				if i%2 == 1 {
					ch, to, tpl = "sms", fmt.Sprintf("+8491%07d", i%benchAccounts), "dossier-received-sms"
				}
				st := statuses[i%len(statuses)]
				var done int64
				if st != notifydb.NotificationSending {
					done = sqldb.Micro(created.Add(time.Duration(500+i%5000) * time.Millisecond))
				}
				c := sqldb.Micro(created)
				var price int64 // what the dashboard's spend adds up
				if ch == "sms" && st != notifydb.NotificationSending {
					price = 1600 // 2 parts at 800 đồng
				}
				ns.WriteString("(?, 'motcua', ?, ?, 1, ?, ?, ?, 'received', ?, ?, ?, ?, 'UCS-2', 2, ?, ?, ?, ?, ?, ?)")
				nargs = append(nargs, id, ch, tpl, to, dossier, fmt.Sprintf("ev-%d", i/4), "Hồ sơ "+dossier+" đã được tiếp nhận",
					"Kính gửi Ông/Bà Nguyễn Văn An, hồ sơ "+dossier+" đã được tiếp nhận.", "<p>Kính gửi Ông/Bà Nguyễn Văn An</p>",
					"Ho so "+dossier+" da duoc tiep nhan", st, c, c, c, done, price)
				es.WriteString("(?, 'motcua', 'created', '', ?, ?)")
				eargs = append(eargs, id, c, c)
				if done != 0 {
					es.WriteString(", (?, 'motcua', ?, '', ?, ?)")
					eargs = append(eargs, id, st, done, done)
				}
			}
			if _, err := tx.Exec(ctx, ns.String(), nargs...); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, es.String(), eargs...)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	// A callback for each status event past "created" (the back
	// office's URL set), one in a hundred failing.
	if _, err := db.Write().Exec(ctx, `INSERT INTO notification_callbacks (event_id, state, attempts, next_attempt_at, last_error, updated_at)
		SELECT id, CASE WHEN id % 100 = 0 THEN 'failed' ELSE 'done' END, 1, at, CASE WHEN id % 100 = 0 THEN 'HTTP 503' ELSE '' END, at
		FROM notification_events WHERE status <> 'created'`); err != nil {
		b.Fatal(err)
	}
	// What autovacuum would have done by then.
	if e.st.Backend() == "postgres" {
		if _, err := db.Write().Exec(ctx, "VACUUM ANALYZE notifications, notification_events, notification_callbacks"); err != nil {
			b.Fatal(err)
		}
	}
	i := benchNotifications - 3 // a recent SMS
	return fmt.Sprintf("000.00.12.H26-%06d", i/4), fmt.Sprintf("09 1%07d", i%benchAccounts),
		fmt.Sprintf("%012x-0000-7000-8000-%012d", now.Add(-span+time.Duration(i)*(span/benchNotifications)).UnixMilli(), i)
}

// BenchmarkPages times the console's pages (server side: the handler
// with a signed-in session, no network) with 100,000 notifications and
// 10,000 accounts, on SQLite and PostgreSQL. Each page must answer in
// under 100 ms; ms/page is reported.
func BenchmarkPages(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, envOpts{backend: backend, redis: true})
			t0 := time.Now()
			code, phone, id := seedBench(b, e)
			b.Logf("%s: seeded %d notifications and %d accounts in %v", backend, benchNotifications, benchAccounts, time.Since(t0).Round(time.Millisecond))
			var cookie *http.Cookie
			for _, ck := range e.client().signIn(adminAddr, password, "").Cookies() {
				if ck.Name == sessionCookie {
					cookie = ck
				}
			}
			if cookie == nil {
				b.Fatal("no session")
			}
			h := e.srv.Handler()
			for _, p := range []struct{ name, path, want string }{
				{"dashboard", "/admin/", "Thông báo 7 ngày qua: 2333"}, // 23,333 of the 100,000 (without Redis: no queue figures)
				{"lookup-dossier", "/admin/lookup?q=" + url.QueryEscape(code), "Kết quả: 4 thông báo"},
				{"lookup-phone", "/admin/lookup?q=" + url.QueryEscape(phone), "Kết quả: 10 thông báo"},
				{"lookup-email", "/admin/lookup?q=nguoidan00042@example.com", "Kết quả: 10 thông báo"},
				{"timeline", "/admin/notifications/" + id, "Diễn biến"},
				{"accounts", "/admin/accounts", "cb00000"},
				{"accounts-search", "/admin/accounts?q=phong7@", "cb00007"},
				{"audit", "/admin/audit", "login"},
				{"templates", "/admin/templates", "dossier-received-email"},
				{"template-preview", "/admin/templates/dossier-received-email", "dossier-received-email"},
				{"account", "/admin/accounts/cb00042.phong12@hanoi.gov.vn", "cb00042.phong12@hanoi.gov.vn"},
				{"services", "/admin/services", "HTTP 503"},
				{"queues", "/admin/queues", "Hàng đợi"},
			} {
				b.Run(p.name, func(b *testing.B) {
					var worst time.Duration
					for b.Loop() {
						r := httptest.NewRequest("GET", p.path, nil)
						r.AddCookie(cookie)
						w := httptest.NewRecorder()
						t := time.Now()
						h.ServeHTTP(w, r)
						if d := time.Since(t); d > worst {
							worst = d
						}
						if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), p.want) {
							b.Fatalf("%s: %d, want 200 with %q:\n%.3000s", p.path, w.Code, p.want, w.Body.String())
						}
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
					b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
					b.ReportMetric(0, "ns/op")
				})
			}
			// The month's first dashboard: no reading of the spend yet
			// (after a start, or on the 1st), so the page starts one and
			// waits for it up to spendFirstWait.
			b.Run("dashboard-first", func(b *testing.B) {
				var worst time.Duration
				for b.Loop() {
					b.StopTimer()
					<-e.srv.spend.wait()
					e.srv.spend.forget()
					r := httptest.NewRequest("GET", "/admin/", nil)
					r.AddCookie(cookie)
					w := httptest.NewRecorder()
					b.StartTimer()
					t := time.Now()
					h.ServeHTTP(w, r)
					if d := time.Since(t); d > worst {
						worst = d
					}
					if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Chi phí SMS và Zalo tháng") {
						b.Fatalf("dashboard: %d\n%.3000s", w.Code, w.Body.String())
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
				b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
				b.ReportMetric(0, "ns/op")
			})
			// The dashboard's spend reads this month so far; at a
			// month's end that is up to all 30 seeded days: the query
			// alone over them.
			b.Run("usage-30-days", func(b *testing.B) {
				now := time.Now()
				for b.Loop() {
					u, err := e.nst.Usage(ctx, now.Add(-31*24*time.Hour), now.Add(time.Hour), "")
					if err != nil || len(u) != 2 || u[1].Channel != "sms" || u[1].CostVND == 0 {
						b.Fatalf("usage %+v %v", u, err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/query")
				b.ReportMetric(0, "ns/op")
			})
		})
	}
}

// forget drops the reading of the spend (no reading may be under way).
func (c *spendCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at, c.rows = time.Time{}, nil
}
