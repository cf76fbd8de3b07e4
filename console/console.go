// Package console is the operator console: server-rendered web pages for
// the agency's IT staff and for the one-stop-shop desk, on a listener of
// its own (config admin.addr).
//
// It is an edge, like the REST API: it reads the mail store (store), the
// notification store (notify/notifydb), the outbox and the queues, and
// changes them only through the calls the command line uses; it creates
// notifications only through notify.Builder. It has no business rules of
// its own.
//
// Who signs in: accounts given a role (store.RoleAdmin, store.RoleDesk)
// with `congthu user role`, with their mail password, throttled by the
// same loginlimit.Limiter as SMTP and IMAP, and a TOTP code (RFC 6238,
// internal/totp) when the account has a secret (required of admins with
// Options.RequireTOTP). Sessions are stored in the store (any node serves
// any session), by the SHA-256 of the cookie's value only; the cookie is
// HttpOnly, SameSite=Strict, Secure under TLS; a session unused for
// Options.IdleTimeout ends, and so does every session of an account whose
// password changes or that is disabled. Every form carries a CSRF token
// derived from the session cookie (a POST without it, or with another, is
// 403). Every change is written to the audit log (/admin/audit).
//
// The dashboard also shows this month's SMS and Zalo spend per service
// (notifydb.Usage), the providers' health (Options.Health) and the TLS
// certificates' expiry (Options.Certificates).
//
// Pages (desk: only those marked so; the rest answer 403):
//
//	GET  /admin/login, POST /admin/login, POST /admin/logout
//	GET  /admin/                          dashboard                  admin
//	GET  /admin/lookup?q=                 dossier, phone or email    desk, admin
//	GET  /admin/notifications/{id}        timeline and content       desk, admin
//	GET  /admin/notifications/{id}/email  the email as sent (framed) desk, admin
//	POST /admin/notifications/{id}/resend a new notification         desk, admin
//	GET  /admin/accounts, POST ...        accounts                   admin
//	GET  /admin/queues, POST ...          queues and dead letters    admin
//	GET  /admin/services, POST ...        services, API keys, callbacks admin
//	                                      (and a callback's test event)
//	GET  /admin/templates[/{id}]          lint and preview           admin
//	GET  /admin/domains[/{name}]          DNS records to publish     admin
//	GET  /admin/audit                     the audit log              admin
//
// The pages work without JavaScript and load nothing from elsewhere: the
// stylesheet is embedded, and the Content-Security-Policy allows nothing
// but this origin (no script at all, no inline style). Text is Vietnamese;
// times are dd/mm/yyyy HH:MM in Asia/Ho_Chi_Minh (internal/vntime).
package console

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"congthu/loginlimit"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/queue"
	"congthu/store"
	"congthu/templates"
	"congthu/webhook"
)

//go:embed web
var webFS embed.FS

// Options configures the console.
type Options struct {
	Log *slog.Logger
	// RequireTOTP refuses sign-in to admins without a TOTP secret.
	RequireTOTP bool
	// IdleTimeout ends a session unused that long (default 30 minutes).
	IdleTimeout time.Duration
	// Secure marks the session cookie Secure: the listener is TLS.
	Secure bool
	// Issuer names the service in TOTP URIs (default "congthu").
	Issuer string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Health, if set, reports the SMS and Zalo providers for the
	// dashboard (SMPP bound or not, Zalo token age and quota). It is
	// called with a context of a few seconds.
	Health func(ctx context.Context) []ProviderHealth
	// Certificates, if set, returns the TLS certificates the server
	// presents (their leaves); the dashboard shows each name's expiry.
	Certificates func() []*x509.Certificate
}

// Deps are what the console reads and changes.
type Deps struct {
	Store         *store.Store
	Notifications *notifydb.Store
	// Queue is nil without Redis: the queue pages say so, and a
	// notification sent again waits for the sweeper.
	Queue     *queue.Client
	Queues    []string // queues listed even while empty
	Templates *templates.Set
	Channels  *notify.Registry
	Limiter   *loginlimit.Limiter
	// NewAPIKey makes an API key in the API's format: the key shown
	// once, its hash to store, a hint for listings.
	NewAPIKey func(test bool) (key, hash, hint string)
	// Revoked, if set, ends the SMTP and IMAP sessions of an account
	// whose password changed or that was disabled, on every node.
	Revoked func(ctx context.Context, accountID, stamp int64)
	// CallbackAllow are the networks callbacks may reach besides public
	// addresses (api.callback_allow).
	CallbackAllow []netip.Prefix
	// CallbackClient sends a service's test event (nil:
	// webhook.NewClient with CallbackAllow, as real callbacks are sent).
	CallbackClient *http.Client
	// Hostname is the MX host named in the DNS records of domains.
	Hostname string
	// Resolver looks the domains' records up (nil: the system's).
	Resolver *net.Resolver
}

// Server is the console.
type Server struct {
	opts    Options
	d       Deps
	log     *slog.Logger
	pages   map[string]*template.Template
	builder *notify.Builder
	static  fs.FS
	spend   spendCache // the dashboard's month of spend, read in the background
	// readSpend makes one reading of a month's spend (refreshSpend).
	readSpend func(now, month time.Time) ([]notifydb.UsageRow, error)
}

// New returns the console.
func New(opts Options, d Deps) (*Server, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.Issuer == "" {
		opts.Issuer = "congthu"
	}
	if d.Resolver == nil {
		d.Resolver = net.DefaultResolver
	}
	if d.CallbackClient == nil {
		d.CallbackClient = webhook.NewClient(callbackTestTimeout, d.CallbackAllow)
	}
	s := &Server{opts: opts, d: d, log: opts.Log, builder: &notify.Builder{Templates: d.Templates, Channels: d.Channels}}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s.pages = pages
	s.readSpend = s.refreshSpend
	s.static, _ = fs.Sub(webFS, "web/static")
	return s, nil
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// csp is the Content-Security-Policy of every page: this origin only, no
// script, no inline style, not framed by others.
const csp = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; " +
	"base-uri 'none'; frame-ancestors 'none'"

// framedCSP is the policy of an email shown in the console's sandboxed
// frame: the message's own inline styles and embedded images, nothing
// fetched, framed by the console only.
const framedCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"

// Handler returns the console's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /admin/static/", http.StripPrefix("/admin/static/", http.FileServerFS(s.static)))
	mux.HandleFunc("GET /admin/login", s.loginPage)
	mux.HandleFunc("POST /admin/login", s.login)
	mux.Handle("POST /admin/logout", s.auth(roleDesk, s.logout))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/admin/", http.StatusSeeOther) })
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/admin/", http.StatusSeeOther) })

	desk := func(pattern string, h handlerFunc) { mux.Handle(pattern, s.auth(roleDesk, h)) }
	admin := func(pattern string, h handlerFunc) { mux.Handle(pattern, s.auth(roleAdmin, h)) }

	admin("GET /admin/{$}", s.dashboard)
	desk("GET /admin/lookup", s.lookup)
	desk("GET /admin/notifications/{id}", s.notification)
	desk("GET /admin/notifications/{id}/email", s.notificationEmail)
	desk("POST /admin/notifications/{id}/resend", s.resend)

	admin("GET /admin/accounts", s.accounts)
	admin("POST /admin/accounts", s.createAccount)
	admin("GET /admin/accounts/{address}", s.account)
	admin("POST /admin/accounts/{address}/{action}", s.accountAction)
	admin("GET /admin/queues", s.queues)
	admin("POST /admin/queues/{queue}/{action}", s.queueAction)
	admin("GET /admin/services", s.services)
	admin("POST /admin/services/keys", s.createKey)
	admin("POST /admin/services/keys/{id}/revoke", s.revokeKey)
	admin("POST /admin/services/callback", s.setCallback)
	admin("POST /admin/services/callback/test", s.testCallback)
	admin("GET /admin/templates", s.templateList)
	admin("GET /admin/templates/{id}", s.template)
	admin("GET /admin/templates/{id}/email", s.templateEmail)
	admin("GET /admin/domains", s.domains)
	admin("GET /admin/domains/{name}", s.domain)
	admin("GET /admin/audit", s.audit)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, nil, http.StatusNotFound, "Không tìm thấy trang này.")
	})
	return securityHeaders(mux)
}

// securityHeaders sets the headers every answer carries.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/admin/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// remoteIP is the client's address (the console trusts no proxy header).
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// auditf records a change made by the signed-in user.
func (s *Server) auditf(r *http.Request, sess *session, action, target, format string, args ...any) {
	e := store.AuditEntry{At: s.now(), Actor: sess.user.Address, Remote: remoteIP(r), Action: action, Target: target,
		Detail: fmt.Sprintf(format, args...)}
	if err := s.d.Store.AddAudit(r.Context(), e); err != nil {
		s.log.Error("console: audit entry not recorded", "action", action, "target", target, "err", err)
	}
}

// equalToken compares two secrets in constant time.
func equalToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// errNoQueue: the console runs without Redis.
var errNoQueue = errors.New("console: no Redis configured")

// Run removes sessions idle past the timeout, every few minutes, until
// ctx ends (the sign-in check refuses them anyway; this keeps the table
// small).
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		if n, err := s.d.Store.PurgeConsoleSessions(ctx, s.now().Add(-s.opts.IdleTimeout)); err != nil && ctx.Err() == nil {
			s.log.Warn("console: purge idle sessions", "err", err)
		} else if n > 0 {
			s.log.Info("console: idle sessions purged", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
