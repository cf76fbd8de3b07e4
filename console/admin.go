package console

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"congthu/dkim"
	"congthu/notify/notifydb"
	"congthu/outbox"
	"congthu/queue"
	"congthu/sms"
	"congthu/store"
	"congthu/templates"
	"congthu/webhook"
)

func parseInt(s string) (int64, error) { return strconv.ParseInt(strings.TrimSpace(s), 10, 64) }

// ---- accounts

type accountsView struct {
	Q        string
	Accounts []store.AccountRow
	Next     string
	Domains  []store.Domain
}

func (s *Server) accounts(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query().Get("q")
	rows, err := s.d.Store.SearchAccounts(r.Context(), q, r.URL.Query().Get("after"), 50)
	if err != nil {
		s.fail(w, r, sess, "search accounts", err)
		return
	}
	ds, err := s.d.Store.Domains(r.Context())
	if err != nil {
		s.fail(w, r, sess, "domains", err)
		return
	}
	v := accountsView{Q: q, Accounts: rows, Domains: ds}
	if len(rows) == 50 {
		v.Next = rows[len(rows)-1].Address
	}
	s.renderFlash(w, r, http.StatusOK, "accounts", sess, "Tài khoản", r.URL.Query().Get("msg"), v)
}

// oneTimePassword is a password shown once: 16 characters from an
// alphabet without look-alikes.
func oneTimePassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 16)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

type passwordView struct {
	Address  string
	Password string
	Created  bool
}

// createAccount creates an account with a one-time password shown once.
func (s *Server) createAccount(w http.ResponseWriter, r *http.Request, sess *session) {
	addr := strings.TrimSpace(r.PostFormValue("address"))
	pw := oneTimePassword()
	a, err := s.d.Store.AddAccount(r.Context(), addr, pw)
	if err != nil {
		msg := "Không tạo được tài khoản " + addr + ": "
		switch {
		case errors.Is(err, store.ErrExists):
			msg += "địa chỉ đã có."
		case errors.Is(err, store.ErrNotFound):
			msg += "tên miền không do máy chủ này phục vụ."
		case errors.Is(err, store.ErrInvalid):
			msg += "địa chỉ không hợp lệ."
		default:
			s.fail(w, r, sess, "create account", err)
			return
		}
		http.Redirect(w, r, "/admin/accounts?msg="+urlQueryEscape(msg), http.StatusSeeOther)
		return
	}
	s.auditf(r, sess, "account.create", a.Address, "")
	s.render(w, r, http.StatusOK, "password", sess, "Mật khẩu dùng một lần", passwordView{Address: a.Address, Password: pw, Created: true})
}

type accountView struct {
	A       *store.ConsoleUser
	Aliases []string
	Quota   *store.Quota
	Msg     string
}

func (s *Server) account(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := r.Context()
	u, err := s.d.Store.ConsoleUser(ctx, r.PathValue("address"))
	if errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, r, sess, http.StatusNotFound, "Không có tài khoản này.")
		return
	} else if err != nil {
		s.fail(w, r, sess, "read account", err)
		return
	}
	v := accountView{A: u, Msg: r.URL.Query().Get("msg")}
	if v.Aliases, err = s.d.Store.Aliases(ctx, u.Address); err != nil {
		s.fail(w, r, sess, "aliases", err)
		return
	}
	if v.Quota, err = s.d.Store.QuotaOf(ctx, u.Address); err != nil {
		s.fail(w, r, sess, "quota", err)
		return
	}
	s.renderFlash(w, r, http.StatusOK, "account", sess, "Tài khoản "+u.Address, v.Msg, v)
}

// accountAction changes an account: disable, enable, password, role,
// alias-add, alias-remove, quota.
func (s *Server) accountAction(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := r.Context()
	addr := strings.ToLower(r.PathValue("address"))
	action := r.PathValue("action")
	back := func(msg string) {
		http.Redirect(w, r, "/admin/accounts/"+urlPathEscape(addr)+"?msg="+urlQueryEscape(msg), http.StatusSeeOther)
	}
	a, err := s.d.Store.Account(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, r, sess, http.StatusNotFound, "Không có tài khoản này.")
		return
	} else if err != nil {
		s.fail(w, r, sess, "read account", err)
		return
	}
	revoked := func() {
		if s.d.Revoked == nil {
			return
		}
		if a2, err := s.d.Store.Account(ctx, addr); err == nil {
			s.d.Revoked(context.WithoutCancel(ctx), a2.ID, a2.CredentialStamp())
		}
	}
	switch action {
	case "disable", "enable":
		if err := s.d.Store.SetDisabled(ctx, addr, action == "disable"); err != nil {
			s.fail(w, r, sess, action+" account", err)
			return
		}
		if action == "disable" {
			revoked()
		}
		s.auditf(r, sess, "account."+action, addr, "")
		if action == "disable" {
			back("Đã khóa tài khoản.")
		} else {
			back("Đã mở khóa tài khoản.")
		}
	case "password":
		pw := oneTimePassword()
		if err := s.d.Store.SetPassword(ctx, addr, pw); err != nil {
			s.fail(w, r, sess, "set password", err)
			return
		}
		revoked()
		s.auditf(r, sess, "account.password", addr, "one-time password set")
		s.render(w, r, http.StatusOK, "password", sess, "Mật khẩu dùng một lần", passwordView{Address: addr, Password: pw})
	case "role":
		role := r.PostFormValue("role")
		if role == "none" {
			role = store.RoleNone
		}
		if !store.ValidRole(role) {
			back("Vai trò không hợp lệ.")
			return
		}
		if err := s.d.Store.SetRole(ctx, addr, role); err != nil {
			s.fail(w, r, sess, "set role", err)
			return
		}
		s.auditf(r, sess, "account.role", addr, "role %q", role)
		back("Đã đổi vai trò.")
	case "alias-add", "alias-remove":
		alias := strings.TrimSpace(r.PostFormValue("alias"))
		if action == "alias-add" {
			err = s.d.Store.AddAlias(ctx, addr, alias)
		} else {
			err = s.d.Store.RemoveAlias(ctx, alias)
		}
		switch {
		case errors.Is(err, store.ErrExists):
			back("Bí danh " + alias + " đã có.")
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid):
			back("Bí danh " + alias + " không hợp lệ hoặc tên miền không do máy chủ này phục vụ.")
		case err != nil:
			s.fail(w, r, sess, action, err)
		default:
			s.auditf(r, sess, "account."+action, addr, "alias %s", alias)
			back("Đã cập nhật bí danh.")
		}
	case "quota":
		q := strings.TrimSpace(r.PostFormValue("quota"))
		n := int64(store.QuotaDefault)
		if q != "" {
			mb, err := strconv.ParseInt(q, 10, 64)
			if err != nil || mb < 0 || mb > 1<<30 {
				back("Hạn mức phải là một số MB (0: không giới hạn).")
				return
			}
			n = mb << 20
		}
		if err := s.d.Store.SetQuota(ctx, addr, n); err != nil {
			s.fail(w, r, sess, "set quota", err)
			return
		}
		s.auditf(r, sess, "account.quota", addr, "quota %q MB", q)
		back("Đã đặt hạn mức.")
	default:
		s.errorPage(w, r, sess, http.StatusNotFound, "Không có thao tác này.")
	}
	_ = a // checked above: the account exists
}

// ---- queues

func (s *Server) queueNames(ctx context.Context) ([]string, error) {
	names, err := s.d.Queue.Queues(ctx)
	if err != nil {
		return nil, err
	}
	for _, q := range s.d.Queues {
		if !slices.Contains(names, q) {
			names = append(names, q)
		}
	}
	sort.Strings(names)
	return names, nil
}

func (s *Server) queueStats(r *http.Request) ([]queue.Stats, error) {
	if s.d.Queue == nil {
		return nil, errNoQueue
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	names, err := s.queueNames(ctx)
	if err != nil {
		return nil, err
	}
	var out []queue.Stats
	for _, n := range names {
		st, err := s.d.Queue.Stats(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

type queuesView struct {
	Stats []queue.Stats
	Err   string
	Dead  []queue.Info
}

func (s *Server) queues(w http.ResponseWriter, r *http.Request, sess *session) {
	v := queuesView{}
	st, err := s.queueStats(r)
	if err != nil {
		v.Err = err.Error()
	}
	v.Stats = st
	for _, q := range st {
		if q.Dead == 0 {
			continue
		}
		infos, err := s.d.Queue.List(r.Context(), q.Queue, queue.Dead, 100)
		if err != nil {
			v.Err = err.Error()
			break
		}
		v.Dead = append(v.Dead, infos...)
	}
	s.renderFlash(w, r, http.StatusOK, "queues", sess, "Hàng đợi", r.URL.Query().Get("msg"), v)
}

// queueAction retries or drops a job of a queue. Dropping an outbound
// mail job cancels its outbox entry too (as `congthu queue drop`), so
// the sweeper does not bring it back.
func (s *Server) queueAction(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := r.Context()
	if s.d.Queue == nil {
		s.errorPage(w, r, sess, http.StatusServiceUnavailable, "Máy chủ chạy không có Redis: không có hàng đợi.")
		return
	}
	qn, id := r.PathValue("queue"), strings.TrimSpace(r.PostFormValue("id"))
	back := func(msg string) { http.Redirect(w, r, "/admin/queues?msg="+urlQueryEscape(msg), http.StatusSeeOther) }
	switch r.PathValue("action") {
	case "retry":
		ok, err := s.d.Queue.Retry(ctx, qn, id)
		if err != nil {
			s.fail(w, r, sess, "retry job", err)
			return
		}
		if !ok {
			back("Không có thư chết " + id + " trong hàng " + qn + ".")
			return
		}
		s.auditf(r, sess, "queue.retry", qn+"/"+id, "")
		back("Đã đưa " + id + " trở lại hàng đợi.")
	case "drop":
		if oid, ok := outboxJobID(id); ok && qn == outbox.JobQueue {
			n, err := s.d.Store.Outbox().Cancel(ctx, oid, "dropped in the console by "+sess.user.Address)
			if err == nil && n > 0 {
				err = s.d.Notifications.OutboxCancelled(ctx, oid)
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				s.fail(w, r, sess, "cancel outbox entry", err)
				return
			}
		}
		ok, err := s.d.Queue.Drop(ctx, qn, id)
		if err != nil {
			s.fail(w, r, sess, "drop job", err)
			return
		}
		s.auditf(r, sess, "queue.drop", qn+"/"+id, "in queue: %v", ok)
		back("Đã bỏ " + id + ".")
	default:
		s.errorPage(w, r, sess, http.StatusNotFound, "Không có thao tác này.")
	}
}

func outboxJobID(jobID string) (int64, bool) {
	n, ok := strings.CutPrefix(jobID, "outbox:")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(n, 10, 64)
	return id, err == nil && id > 0
}

// ---- services and API keys

type serviceRow struct {
	S        notifydb.APIService
	Keys     []notifydb.APIKey
	Failures []notifydb.CallbackFailure
}

type servicesView struct {
	Services []serviceRow
	NewKey   string
	Service  string
}

func (s *Server) services(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showServices(w, r, sess, "", "", r.URL.Query().Get("msg"))
}

func (s *Server) showServices(w http.ResponseWriter, r *http.Request, sess *session, newKey, service, flash string) {
	svcs, err := s.d.Notifications.APIServices(r.Context())
	if err != nil {
		s.fail(w, r, sess, "services", err)
		return
	}
	v := servicesView{NewKey: newKey, Service: service}
	for _, sv := range svcs {
		ks, err := s.d.Notifications.APIKeys(r.Context(), sv.Name)
		if err != nil {
			s.fail(w, r, sess, "API keys", err)
			return
		}
		fs, err := s.d.Notifications.CallbackFailures(r.Context(), sv.Name, 5)
		if err != nil {
			s.fail(w, r, sess, "callback failures", err)
			return
		}
		sv.CallbackSecret = "" // never shown
		v.Services = append(v.Services, serviceRow{S: sv, Keys: ks, Failures: fs})
	}
	s.renderFlash(w, r, http.StatusOK, "services", sess, "Dịch vụ và khóa API", flash, v)
}

// createKey creates an API key (and its service if new); the key is
// shown on this answer only.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request, sess *session) {
	service := strings.TrimSpace(r.PostFormValue("service"))
	test := r.PostFormValue("test") == "1"
	if service == "" || len(service) > 100 || s.d.NewAPIKey == nil {
		http.Redirect(w, r, "/admin/services?msg="+urlQueryEscape("Tên dịch vụ không hợp lệ."), http.StatusSeeOther)
		return
	}
	key, hash, hint := s.d.NewAPIKey(test)
	k, err := s.d.Notifications.AddAPIKey(r.Context(), service, hash, hint, test)
	if err != nil {
		if errors.Is(err, store.ErrInvalid) {
			http.Redirect(w, r, "/admin/services?msg="+urlQueryEscape("Tên dịch vụ không hợp lệ."), http.StatusSeeOther)
			return
		}
		s.fail(w, r, sess, "create API key", err)
		return
	}
	s.auditf(r, sess, "apikey.create", service, "key %d (%s), test %v", k.ID, hint, test)
	s.showServices(w, r, sess, key, service, "Đã tạo khóa API. Hãy chép ngay: khóa chỉ hiện một lần.")
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, sess *session) {
	id, err := parseInt(r.PathValue("id"))
	if err != nil {
		s.errorPage(w, r, sess, http.StatusNotFound, "Không có khóa này.")
		return
	}
	if err := s.d.Notifications.RevokeAPIKey(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.errorPage(w, r, sess, http.StatusNotFound, "Không có khóa này.")
			return
		}
		s.fail(w, r, sess, "revoke API key", err)
		return
	}
	s.auditf(r, sess, "apikey.revoke", strconv.FormatInt(id, 10), "")
	http.Redirect(w, r, "/admin/services?msg="+urlQueryEscape("Đã thu hồi khóa "+strconv.FormatInt(id, 10)+"."), http.StatusSeeOther)
}

// setCallback sets (or, with an empty URL, removes) a service's callback
// URL and signing secret, with the checks of `congthu service callback
// set`: an http(s) URL reaching a public address (or a network of
// api.callback_allow), a secret of at least 16 characters.
func (s *Server) setCallback(w http.ResponseWriter, r *http.Request, sess *session) {
	name := strings.TrimSpace(r.PostFormValue("service"))
	u := strings.TrimSpace(r.PostFormValue("url"))
	secret := r.PostFormValue("secret")
	back := func(msg string) { http.Redirect(w, r, "/admin/services?msg="+urlQueryEscape(msg), http.StatusSeeOther) }
	if u != "" {
		if len(secret) < 16 {
			back("Khóa ký gọi lại phải có ít nhất 16 ký tự.")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		err := webhook.CheckURL(ctx, u, s.d.CallbackAllow, nil)
		cancel()
		var ue *webhook.UnresolvedError
		switch {
		case errors.As(err, &ue):
			// Set anyway: the address is checked at each delivery.
		case errors.Is(err, webhook.ErrRefusedAddress):
			back("Địa chỉ gọi lại bị từ chối: chỉ gọi tới địa chỉ công cộng, trừ các mạng trong api.callback_allow.")
			return
		case err != nil:
			back("Địa chỉ gọi lại không hợp lệ: " + err.Error())
			return
		}
	}
	if err := s.d.Notifications.SetServiceCallback(r.Context(), name, u, secret); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			back("Không có dịch vụ " + name + ".")
			return
		}
		s.fail(w, r, sess, "set callback", err)
		return
	}
	s.auditf(r, sess, "service.callback", name, "url %q", u)
	back("Đã lưu địa chỉ gọi lại của " + name + ".")
}

// ---- templates

type templatesView struct {
	Templates []*templates.Template
	Problems  map[string][]templates.Problem
	Other     []templates.Problem
}

// callbackTestTimeout bounds a test event, connection to answer.
const callbackTestTimeout = 10 * time.Second

// testCallback sends a signed test event to a service's callback URL,
// the way real callbacks are sent (webhook.SendTest), within
// callbackTestTimeout, and shows the receiver's answer.
func (s *Server) testCallback(w http.ResponseWriter, r *http.Request, sess *session) {
	name := strings.TrimSpace(r.PostFormValue("service"))
	back := func(msg string) { http.Redirect(w, r, "/admin/services?msg="+urlQueryEscape(msg), http.StatusSeeOther) }
	svc, err := s.d.Notifications.APIService(r.Context(), name)
	if errors.Is(err, notifydb.ErrNotFound) {
		back("Không có dịch vụ " + name + ".")
		return
	} else if err != nil {
		s.fail(w, r, sess, "read service", err)
		return
	}
	if svc.CallbackURL == "" {
		back("Dịch vụ " + name + " chưa đặt địa chỉ gọi lại.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callbackTestTimeout)
	code, err := webhook.SendTest(ctx, s.d.CallbackClient, svc, s.now())
	cancel()
	var msg string
	bad := err != nil
	switch {
	case err == nil:
		msg = fmt.Sprintf("Sự kiện thử tới %s: máy nhận trả lời HTTP %d, đã nhận.", name, code)
		s.auditf(r, sess, "service.callback-test", name, "url %q: HTTP %d", svc.CallbackURL, code)
	case code != 0:
		msg = fmt.Sprintf("Sự kiện thử tới %s: máy nhận trả lời HTTP %d, không nhận (cần mã 2xx).", name, code)
		s.auditf(r, sess, "service.callback-test", name, "url %q: HTTP %d", svc.CallbackURL, code)
	default:
		msg = fmt.Sprintf("Sự kiện thử tới %s: không gửi được: %v", name, err)
		s.auditf(r, sess, "service.callback-test", name, "url %q: %v", svc.CallbackURL, err)
	}
	if bad {
		http.Redirect(w, r, "/admin/services?bad=1&msg="+urlQueryEscape(msg), http.StatusSeeOther)
		return
	}
	back(msg)
}

func smsCounter(text string, fold bool) (string, int, error) { return sms.Count(text, fold) }

func (s *Server) templateList(w http.ResponseWriter, r *http.Request, sess *session) {
	v := templatesView{Templates: s.d.Templates.List(), Problems: map[string][]templates.Problem{}}
	known := map[string]bool{}
	for _, t := range v.Templates {
		known[t.ID] = true
	}
	for _, p := range templates.Lint(s.d.Templates, smsCounter) {
		if known[p.Template] {
			v.Problems[p.Template] = append(v.Problems[p.Template], p)
		} else {
			v.Other = append(v.Other, p)
		}
	}
	s.render(w, r, http.StatusOK, "templates", sess, "Mẫu thông báo", v)
}

type smsPreview struct {
	Label    string
	Text     string
	Encoding string
	Parts    int
	Chars    int
	Err      string
}

type templateView struct {
	T        *templates.Template
	R        *templates.Rendered
	Err      string
	SMS      []smsPreview
	Problems []templates.Problem
}

func (s *Server) template(w http.ResponseWriter, r *http.Request, sess *session) {
	t, ok := s.d.Templates.Get(r.PathValue("id"))
	if !ok {
		s.errorPage(w, r, sess, http.StatusNotFound, "Không có mẫu này.")
		return
	}
	v := templateView{T: t}
	for _, p := range templates.Lint(s.d.Templates, smsCounter) {
		if p.Template == t.ID {
			v.Problems = append(v.Problems, p)
		}
	}
	rd, err := t.Preview()
	if err != nil {
		v.Err = err.Error()
	} else {
		v.R = rd
		if t.Channel == templates.SMS {
			for _, f := range []struct {
				label string
				fold  bool
			}{{"Có dấu", false}, {"Không dấu (bỏ dấu tiếng Việt)", true}} {
				p := smsPreview{Label: f.label, Text: rd.Text}
				if f.fold {
					p.Text = sms.Fold(rd.Text)
				}
				p.Chars = len([]rune(p.Text))
				enc, parts, err := sms.Count(rd.Text, f.fold)
				p.Encoding, p.Parts = enc, parts
				if err != nil {
					p.Err = err.Error()
				}
				v.SMS = append(v.SMS, p)
			}
		}
	}
	s.render(w, r, http.StatusOK, "template", sess, "Mẫu "+t.ID, v)
}

// templateEmail serves a template's email preview for the sandboxed frame.
func (s *Server) templateEmail(w http.ResponseWriter, r *http.Request, sess *session) {
	t, ok := s.d.Templates.Get(r.PathValue("id"))
	if !ok || t.Channel != templates.Email {
		s.errorPage(w, r, sess, http.StatusNotFound, "Không có mẫu thư này.")
		return
	}
	rd, err := t.Preview()
	if err != nil {
		s.errorPage(w, r, sess, http.StatusUnprocessableEntity, "Không hiển thị được mẫu: "+err.Error())
		return
	}
	serveFramed(w, rd.HTML)
}

// ---- domains

type domainRow struct {
	Name    string
	HasDKIM bool
}

type recordCheck struct {
	dkim.Record
	Found []string
	OK    bool
	Err   string
}

type domainView struct {
	Name    string
	Records []recordCheck
	NoDKIM  bool
}

func (s *Server) domains(w http.ResponseWriter, r *http.Request, sess *session) {
	ds, err := s.d.Store.Domains(r.Context())
	if err != nil {
		s.fail(w, r, sess, "domains", err)
		return
	}
	var rows []domainRow
	for _, d := range ds {
		rows = append(rows, domainRow{Name: d.Name, HasDKIM: len(d.DKIMPrivateKey) > 0})
	}
	s.render(w, r, http.StatusOK, "domains", sess, "Tên miền", rows)
}

// domain shows the DNS records to publish for a domain beside what DNS
// answers now, each marked OK or wrong.
func (s *Server) domain(w http.ResponseWriter, r *http.Request, sess *session) {
	d, err := s.d.Store.Domain(r.Context(), r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, r, sess, http.StatusNotFound, "Không có tên miền này.")
		return
	} else if err != nil {
		s.fail(w, r, sess, "domain", err)
		return
	}
	recs, err := dkim.Records(d.Name, s.d.Hostname, d.DKIMSelector, d.DKIMPrivateKey)
	if err != nil {
		s.fail(w, r, sess, "DNS records", err)
		return
	}
	v := domainView{Name: d.Name, NoDKIM: len(d.DKIMPrivateKey) == 0}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	for _, rec := range recs {
		v.Records = append(v.Records, s.checkRecord(ctx, rec))
	}
	s.render(w, r, http.StatusOK, "domain", sess, "Tên miền "+d.Name, v)
}

// checkRecord looks a record up and compares it with what to publish.
func (s *Server) checkRecord(ctx context.Context, rec dkim.Record) recordCheck {
	c := recordCheck{Record: rec}
	name := strings.TrimSuffix(rec.Name, ".")
	switch rec.Type {
	case "MX":
		mxs, err := s.d.Resolver.LookupMX(ctx, name)
		if err != nil {
			c.Err = dnsError(err)
			return c
		}
		want := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(rec.Value, "10 "), "."))
		for _, mx := range mxs {
			host := strings.ToLower(strings.TrimSuffix(mx.Host, "."))
			c.Found = append(c.Found, strconv.Itoa(int(mx.Pref))+" "+host+".")
			c.OK = c.OK || host == want
		}
	case "TXT":
		txts, err := s.d.Resolver.LookupTXT(ctx, name)
		if err != nil {
			c.Err = dnsError(err)
			return c
		}
		prefix, _, _ := strings.Cut(rec.Value, ";")
		prefix = strings.Fields(prefix)[0]
		for _, t := range txts {
			if !strings.HasPrefix(t, prefix) {
				continue
			}
			c.Found = append(c.Found, t)
			c.OK = c.OK || normTXT(t) == normTXT(rec.Value)
		}
	}
	return c
}

func normTXT(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, ";", "; ")), " ")
}

func dnsError(err error) string {
	var de interface{ Error() string }
	if errors.As(err, &de) && strings.Contains(err.Error(), "no such host") {
		return "không có bản ghi"
	}
	return err.Error()
}
