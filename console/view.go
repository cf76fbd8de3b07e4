package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"congthu/internal/vntime"
	"congthu/notify/notifydb"
	"congthu/outbox"
	"congthu/phone"
)

// page is what the layout renders around a page's own data.
type page struct {
	Title string
	User  string
	Role  string
	Admin bool
	CSRF  string
	Nav   string // the current section, for aria-current
	Flash string
	// FlashBad shows Flash as an error (query bad=1 after a redirect).
	FlashBad bool
	Data     any
	Status   int
}

// parsePages parses the layout with each page template.
func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(webFS, "web/pages/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		t, err := template.Must(base.Clone()).ParseFS(webFS, n)
		if err != nil {
			return nil, fmt.Errorf("console: %s: %w", n, err)
		}
		out[strings.TrimSuffix(path.Base(n), ".html")] = t
	}
	return out, nil
}

// render writes a page with the layout.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, sess *session, title string, data any) {
	s.renderFlash(w, r, status, name, sess, title, "", data)
}

func (s *Server) renderFlash(w http.ResponseWriter, r *http.Request, status int, name string, sess *session, title, flash string, data any) {
	t, ok := s.pages[name]
	if !ok {
		panic("console: no page " + name)
	}
	p := page{Title: title, Data: data, Nav: name, Flash: flash, Status: status, FlashBad: flash != "" && r.URL.Query().Get("bad") == "1"}
	if sess != nil {
		p.User, p.Role, p.Admin, p.CSRF = sess.user.Address, sess.user.Role, roleOf(sess.user.Role) == roleAdmin, sess.csrf
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout.html", p); err != nil {
		s.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// errorPage answers status with a message.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, sess *session, status int, msg string) {
	s.render(w, r, status, "error", sess, http.StatusText(status), msg)
}

// fail logs an error of ours and answers 500 (503 when the store or
// Redis cannot be reached is not told apart: the log says).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, sess *session, what string, err error) {
	s.log.Error("console: "+what, "path", r.URL.Path, "err", err)
	s.errorPage(w, r, sess, http.StatusInternalServerError, "Đã có lỗi phía máy chủ ("+what+"). Chi tiết ở nhật ký của máy chủ.")
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func urlPathEscape(s string) string { return url.PathEscape(s) }

var funcs = template.FuncMap{
	"datetime": formatDateTime,
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return vntime.In(t).Format("02/01/2006")
	},
	"status": statusLabel,
	"statusClass": func(st string) string {
		switch st {
		case notifydb.NotificationDelivered:
			return "ok"
		case notifydb.NotificationCreated, notifydb.NotificationSending, notifydb.NotificationScheduled:
			return "wait"
		case notifydb.NotificationCancelled:
			return ""
		}
		return "bad"
	},
	"channel": channelLabel,
	"outboxStatus": func(st string) string {
		switch st {
		case outbox.Queued:
			return "đang chờ gửi lại"
		case outbox.Delivered:
			return "máy chủ nhận đã nhận thư"
		case outbox.Failed:
			return "thất bại vĩnh viễn"
		case outbox.Expired:
			return "quá hạn, đã thôi gửi"
		}
		return st
	},
	"recipient":   maskedRecipient,
	"dong":        formatDong,
	"bytes":       formatBytes,
	"duration":    formatDuration,
	"age":         formatAge,
	"pathEscape":  url.PathEscape,
	"queryEscape": url.QueryEscape,
	"add":         func(a, b int) int { return a + b },
}

// formatDateTime is dd/mm/yyyy HH:MM in Vietnam's zone.
func formatDateTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return vntime.In(t).Format("02/01/2006 15:04")
}

// statusLabel is a notification status in Vietnamese.
func statusLabel(st string) string {
	switch st {
	case notifydb.NotificationCreated:
		return "Đã tạo"
	case notifydb.NotificationSending:
		return "Đang gửi"
	case notifydb.NotificationDelivered:
		return "Đã đến người nhận"
	case notifydb.NotificationPermanentFailure:
		return "Lỗi vĩnh viễn"
	case notifydb.NotificationTemporaryFailure:
		return "Lỗi tạm thời"
	case notifydb.NotificationTechnicalFailure:
		return "Lỗi kỹ thuật"
	case notifydb.NotificationScheduled:
		return "Hẹn gửi"
	case notifydb.NotificationCancelled:
		return "Đã hủy"
	}
	return st
}

// channelLabel is a channel's name in Vietnamese.
func channelLabel(ch string) string {
	switch ch {
	case "email":
		return "Thư điện tử"
	case "sms":
		return "SMS"
	case "zalo":
		return "Zalo"
	}
	return ch
}

// maskedRecipient shows a phone number in full to the desk (they are
// talking to its owner) but formatted for reading: +84 912 345 678.
func maskedRecipient(r string) string {
	if strings.HasPrefix(r, "+84") && len(r) == 12 {
		return r[:3] + " " + r[3:6] + " " + r[6:9] + " " + r[9:]
	}
	return r
}

// formatDong is an amount in đồng: 1.500.000 đồng.
func formatDong(n int64) string {
	neg := n < 0
	if neg {
		n = -n
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String() + " đồng"
	}
	return b.String() + " đồng"
}

// formatBytes is a size in KB, MB or GB (Vietnamese decimal comma).
func formatBytes(n int64) string {
	f := float64(n)
	u := "B"
	for _, next := range []string{"KB", "MB", "GB", "TB"} {
		if f < 1024 {
			break
		}
		f /= 1024
		u = next
	}
	if u == "B" {
		return fmt.Sprintf("%d B", n)
	}
	return strings.Replace(fmt.Sprintf("%.1f %s", f, u), ".", ",", 1)
}

// formatDuration is a latency for people: 850 ms, 2,4 giây, 3 phút.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return strings.Replace(fmt.Sprintf("%.1f giây", d.Seconds()), ".", ",", 1)
	case d < time.Hour:
		return fmt.Sprintf("%d phút", int(d.Minutes()))
	}
	return strings.Replace(fmt.Sprintf("%.1f giờ", d.Hours()), ".", ",", 1)
}

// formatAge is how long ago, for people: 5 phút, 3 giờ, 2 ngày.
func formatAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "dưới 1 phút"
	case d < time.Hour:
		return fmt.Sprintf("%d phút", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d giờ", int(d.Hours()))
	}
	return fmt.Sprintf("%d ngày", int(d.Hours()/24))
}

// query is what the lookup box was given, read as one of the three.
type query struct {
	DossierCode string
	Recipient   string
	Kind        string // "dossier", "phone", "email"
}

// parseQuery reads the lookup box: an email address (has @), a
// Vietnamese mobile number in any common form (phone.Parse), else a
// dossier code.
func parseQuery(q string) (query, bool) {
	q = strings.TrimSpace(q)
	if q == "" || len(q) > 320 {
		return query{}, false
	}
	if strings.Contains(q, "@") {
		return query{Recipient: strings.ToLower(q), Kind: "email"}, true
	}
	if p, err := phone.Parse(q); err == nil {
		return query{Recipient: p, Kind: "phone"}, true
	}
	if len(q) > 64 {
		return query{}, false
	}
	return query{DossierCode: q, Kind: "dossier"}, true
}
