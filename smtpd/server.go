package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-smtp"

	"congthu/connlimit"
	"congthu/loginlimit"
	"congthu/store"
)

// Store is what the submission server needs from the store; *store.Store
// satisfies it.
type Store interface {
	Authenticate(ctx context.Context, address, password string) (*store.Account, error)
	IsLocalDomain(ctx context.Context, name string) (bool, error)
	ResolveRecipient(ctx context.Context, address string) (*store.Account, error)
	CanSendAs(ctx context.Context, accountID int64, address string) (bool, error)
	Deliver(ctx context.Context, d *store.Delivery) (*store.DeliveryResult, error)
	// OverQuota reports whether an account is full (refused at RCPT).
	OverQuota(ctx context.Context, accountID int64) (bool, error)
}

var _ Store = (*store.Store)(nil)

// Server is an SMTP submission server. Create it with New, start it with
// Serve and/or ServeTLS, stop it with Shutdown or Close.
type Server struct {
	opts Options
	st   Store
	lim  *loginlimit.Limiter
	log  *slog.Logger
	smtp *smtp.Server

	// ctx is the parent of every session's context; cancelled by Close
	// and at the end of Shutdown.
	ctx    context.Context
	cancel context.CancelFunc

	conns *connSet
	spool *spooler
	// perAccount limits messages per account and hour; nil: no limit.
	perAccount *rate[int64]
}

// New returns a submission server over st. lim may be nil (no login
// throttling; not for production).
func New(opts Options, st Store, lim *loginlimit.Limiter, log *slog.Logger) *Server {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:   opts,
		st:     st,
		lim:    lim,
		log:    log,
		ctx:    ctx,
		cancel: cancel,
	}
	s.conns = newConnSet(log, opts.MaxConnections, max(opts.MaxConnectionsPerIP, 0), connlimit.Exempt(opts.LimitExempt, !opts.LimitLoopback))
	s.conns.setLifetime(opts.Resources, opts.DataTimeout, opts.MaxMessageBytes)
	s.spool = newSpooler(opts.Resources)
	if opts.MaxMessagesPerAccountPerHour > 0 {
		s.perAccount = newRate[int64](opts.MaxMessagesPerAccountPerHour, time.Hour)
	}
	ss := smtp.NewServer(backend{s})
	ss.Domain = opts.Hostname
	ss.TLSConfig = opts.TLSConfig
	ss.MaxMessageBytes = opts.MaxMessageBytes
	ss.MaxRecipients = opts.MaxRecipients
	ss.ReadTimeout = opts.ReadTimeout
	ss.WriteTimeout = opts.WriteTimeout
	// go-smtp's own check would answer "523 5.7.10"; the session decides
	// instead (see session.authAllowed) and answers 538 5.7.11.
	ss.AllowInsecureAuth = true
	ss.ErrorLog = errorLog{log}
	s.smtp = ss
	return s
}

// Serve accepts connections on ln for the STARTTLS (port 587) role and
// serves them until Shutdown or Close, after which it returns nil.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(ln, nil, s.opts.Metrics.submission)
}

// ServeTLS accepts connections on ln for the implicit-TLS (port 465, RFC
// 8314) role: every connection starts with a TLS handshake using
// Options.TLSConfig.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opts.TLSConfig == nil {
		return errors.New("smtpd: ServeTLS needs Options.TLSConfig")
	}
	return s.serve(ln, s.opts.TLSConfig, s.opts.Metrics.submissions)
}

func (s *Server) serve(ln net.Listener, tlsConfig *tls.Config, lm *listenerMetrics) error {
	if s.conns.isDraining() {
		ln.Close()
		return nil
	}
	err := s.smtp.Serve(&listener{Listener: ln, set: s.conns, tlsConfig: tlsConfig, lm: lm})
	if err != nil {
		return fmt.Errorf("smtpd: serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting connections, closes idle ones (with 421) and
// waits for open mail transactions to finish (their reply is sent) before
// closing those connections too. If ctx ends first, the remaining
// connections are closed and ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.conns.shutdown(ctx, s.smtp, s.cancel)
}

// Close closes all listeners and connections at once, aborting open
// transactions (nothing of them was acknowledged).
func (s *Server) Close() error {
	return s.conns.close(s.smtp, s.cancel)
}

func (s *Server) isDraining() bool { return s.conns.isDraining() }
