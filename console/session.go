package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"congthu/accountname"
	"congthu/internal/totp"
	"congthu/store"
)

// Cookies: the session, and the sign-in form's own token (before there
// is a session, the CSRF token of the sign-in form is derived from it).
const (
	sessionCookie = "congthu_console"
	loginCookie   = "congthu_login"
)

// touchEvery: a session's last use is written at most this often.
const touchEvery = time.Minute

type role int

const (
	roleDesk role = iota + 1
	roleAdmin
)

// session is the signed-in user of a request.
type session struct {
	user      store.ConsoleUser
	tokenHash string
	csrf      string
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, sess *session)

// newToken returns 256 random bits, base64url.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is what the store keeps of a session cookie.
func hashToken(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

// derive is a token derived from a cookie's value for one purpose: the
// CSRF token of its forms. It cannot be computed from the stored hash.
func derive(purpose, v string) string {
	h := sha256.Sum256([]byte("congthu console " + purpose + "\x00" + v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/admin", MaxAge: maxAge,
		HttpOnly: true, Secure: s.opts.Secure, SameSite: http.SameSiteStrictMode})
}

// auth wraps a page: a session is required (else the sign-in page), of
// at least role need (else 403); a POST must carry the session's CSRF
// token (else 403).
func (s *Server) auth(need role, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.session(w, r)
		if !ok {
			if r.Method != http.MethodGet {
				s.errorPage(w, r, nil, http.StatusForbidden, "Phiên làm việc đã hết hạn. Hãy đăng nhập lại.")
				return
			}
			http.Redirect(w, r, "/admin/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if !equalToken(r.PostFormValue("csrf"), sess.csrf) {
				s.errorPage(w, r, sess, http.StatusForbidden, "Biểu mẫu không hợp lệ hoặc đã cũ (thiếu mã chống giả mạo). Hãy tải lại trang rồi thử lại.")
				return
			}
		}
		if roleOf(sess.user.Role) < need {
			s.errorPage(w, r, sess, http.StatusForbidden, "Tài khoản của bạn không có quyền xem trang này.")
			return
		}
		h(w, r, sess)
	})
}

func roleOf(r string) role {
	switch r {
	case store.RoleAdmin:
		return roleAdmin
	case store.RoleDesk:
		return roleDesk
	}
	return 0
}

// session returns the request's valid session. A session idle too long,
// of an account disabled, without a role, or whose password changed since
// it began is ended.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (*session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, false
	}
	h := hashToken(c.Value)
	cs, err := s.d.Store.ConsoleSessionOf(r.Context(), h)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("console: read session", "err", err)
		}
		return nil, false
	}
	now := s.now()
	u := cs.User
	if now.Sub(cs.LastSeenAt) > s.opts.IdleTimeout || u.Disabled || roleOf(u.Role) == 0 || u.CredentialStamp() != cs.Stamp ||
		(s.opts.RequireTOTP && u.Role == store.RoleAdmin && u.TOTPSecret == "") {
		s.d.Store.RemoveConsoleSession(r.Context(), h)
		s.setCookie(w, sessionCookie, "", -1)
		return nil, false
	}
	if now.Sub(cs.LastSeenAt) > touchEvery {
		if err := s.d.Store.TouchConsoleSession(r.Context(), h, now); err != nil {
			s.log.Warn("console: touch session", "err", err)
		}
	}
	return &session{user: u, tokenHash: h, csrf: derive("csrf", c.Value)}, true
}

type loginView struct {
	CSRF  string
	Next  string
	Error string
	User  string
}

// loginPage shows the sign-in form, with a fresh sign-in token.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.session(w, r); ok {
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
		return
	}
	s.showLogin(w, r, http.StatusOK, "", "")
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, user, msg string) {
	tok := newToken()
	s.setCookie(w, loginCookie, tok, 3600)
	s.render(w, r, status, "login", nil, "Đăng nhập", loginView{CSRF: derive("login", tok), Next: safeNext(r.FormValue("next")), Error: msg, User: user})
}

// safeNext keeps a redirect after sign-in inside the console.
func safeNext(n string) string {
	if !strings.HasPrefix(n, "/admin/") || strings.HasPrefix(n, "//") || strings.ContainsAny(n, "\\\r\n") {
		return "/admin/"
	}
	return n
}

// errLogin is the one answer to every failed sign-in, so that it tells
// nothing of which part was wrong.
const errLogin = "Địa chỉ thư, mật khẩu hoặc mã xác thực không đúng, hoặc tài khoản không được dùng bảng điều khiển."

// login checks the sign-in form: the sign-in token, then the limiter,
// the password, the role and the TOTP code.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	c, err := r.Cookie(loginCookie)
	if err != nil || !equalToken(r.PostFormValue("csrf"), derive("login", c.Value)) {
		s.errorPage(w, r, nil, http.StatusForbidden, "Biểu mẫu đăng nhập không hợp lệ hoặc đã cũ. Hãy tải lại trang đăng nhập.")
		return
	}
	addr := strings.TrimSpace(r.PostFormValue("address"))
	password := r.PostFormValue("password")
	code := strings.TrimSpace(r.PostFormValue("code"))
	if len(addr) > 320 || len(password) > 1024 {
		s.showLogin(w, r, http.StatusUnauthorized, "", errLogin)
		return
	}
	ip, _ := netip.ParseAddr(remoteIP(r))
	key := accountname.Key(addr)
	log := s.log.With("remote", ip.String(), "user", key)
	lim := s.d.Limiter
	if lim != nil {
		wait, locked := lim.Check(ip, key)
		if locked {
			log.Warn("console: login", "result", "locked")
			s.showLogin(w, r, http.StatusTooManyRequests, addr, "Quá nhiều lần đăng nhập sai. Hãy thử lại sau.")
			return
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
	}
	fail := func(reason string) {
		if lim != nil {
			lim.Fail(ip, key)
		}
		log.Info("console: login", "result", "fail", "reason", reason)
		s.showLogin(w, r, http.StatusUnauthorized, addr, errLogin)
	}
	acc, err := s.d.Store.Authenticate(r.Context(), addr, password)
	switch {
	case errors.Is(err, store.ErrAuthFailed), errors.Is(err, store.ErrDisabled):
		fail(err.Error())
		return
	case err != nil:
		log.Error("console: login", "err", err)
		s.errorPage(w, r, nil, http.StatusServiceUnavailable, "Không kiểm tra được mật khẩu lúc này. Hãy thử lại.")
		return
	}
	u, err := s.d.Store.ConsoleUser(r.Context(), acc.Address)
	if err != nil {
		log.Error("console: login", "err", err)
		s.errorPage(w, r, nil, http.StatusServiceUnavailable, "Không kiểm tra được tài khoản lúc này. Hãy thử lại.")
		return
	}
	if roleOf(u.Role) == 0 {
		fail("no console role")
		return
	}
	if u.TOTPSecret == "" && s.opts.RequireTOTP && u.Role == store.RoleAdmin {
		log.Warn("console: login", "result", "refused", "reason", "admin without TOTP")
		s.showLogin(w, r, http.StatusForbidden, addr, "Tài khoản quản trị phải bật xác thực hai bước (congthu user totp) trước khi đăng nhập.")
		return
	}
	if u.TOTPSecret != "" {
		step, ok := totp.Verify(u.TOTPSecret, code, s.now())
		if !ok {
			fail("wrong TOTP code")
			return
		}
		if fresh, err := s.d.Store.UseTOTPStep(r.Context(), u.ID, step); err != nil || !fresh {
			fail("TOTP code used before")
			return
		}
	}
	if lim != nil {
		lim.Succeed(ip, key)
	}
	tok := newToken()
	if err := s.d.Store.AddConsoleSession(r.Context(), hashToken(tok), u.ID, u.CredentialStamp(), ip.String(), s.now()); err != nil {
		log.Error("console: login", "err", err)
		s.errorPage(w, r, nil, http.StatusServiceUnavailable, "Không tạo được phiên làm việc. Hãy thử lại.")
		return
	}
	s.setCookie(w, loginCookie, "", -1)
	s.setCookie(w, sessionCookie, tok, 0)
	sess := &session{user: *u}
	s.auditf(r, sess, "login", u.Address, "role %s", u.Role)
	log.Info("console: login", "result", "ok", "role", u.Role)
	next := safeNext(r.PostFormValue("next"))
	if u.Role == store.RoleDesk && !strings.HasPrefix(next, "/admin/lookup") && !strings.HasPrefix(next, "/admin/notifications/") {
		next = "/admin/lookup"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess *session) {
	if err := s.d.Store.RemoveConsoleSession(r.Context(), sess.tokenHash); err != nil {
		s.log.Error("console: logout", "err", err)
	}
	s.setCookie(w, sessionCookie, "", -1)
	s.auditf(r, sess, "logout", sess.user.Address, "")
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}
