package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

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

	mu       sync.Mutex
	conns    map[*trackedConn]struct{}
	draining bool
	closed   bool
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
		conns:  map[*trackedConn]struct{}{},
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
	return s.serve(ln, nil)
}

// ServeTLS accepts connections on ln for the implicit-TLS (port 465, RFC
// 8314) role: every connection starts with a TLS handshake using
// Options.TLSConfig.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opts.TLSConfig == nil {
		return errors.New("smtpd: ServeTLS needs Options.TLSConfig")
	}
	return s.serve(ln, s.opts.TLSConfig)
}

func (s *Server) serve(ln net.Listener, tlsConfig *tls.Config) error {
	s.mu.Lock()
	stopped := s.draining || s.closed
	s.mu.Unlock()
	if stopped {
		ln.Close()
		return nil
	}
	err := s.smtp.Serve(&listener{Listener: ln, srv: s, tlsConfig: tlsConfig})
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
	s.mu.Lock()
	if s.draining || s.closed {
		s.mu.Unlock()
		return nil
	}
	s.draining = true
	s.mu.Unlock()

	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("smtpd: panic in shutdown", "panic", r)
				done <- fmt.Errorf("smtpd: panic in shutdown: %v", r)
			}
		}()
		// Closes the listeners and waits for every connection to end.
		err := s.smtp.Shutdown(context.Background())
		if errors.Is(err, smtp.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s.closeIdle()
		select {
		case err := <-done:
			s.cancel()
			return err
		case <-ctx.Done():
			s.closeAll()
			s.cancel()
			<-done
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close closes all listeners and connections at once, aborting open
// transactions (nothing of them was acknowledged).
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.smtp.Close()
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	s.closeAll()
	s.cancel()
	return err
}

// closeIdle closes connections that are not inside a mail transaction.
func (s *Server) closeIdle() {
	s.mu.Lock()
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		sess := c.session()
		if sess == nil {
			c.Close()
			continue
		}
		if sess.closeIfIdle() {
			c.Close()
		}
	}
}

func (s *Server) closeAll() {
	s.mu.Lock()
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining || s.closed
}

// track registers a new connection; false when MaxConnections is reached.
func (s *Server) track(c net.Conn) (*trackedConn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) >= s.opts.MaxConnections || s.draining || s.closed {
		return nil, false
	}
	tc := &trackedConn{Conn: c, srv: s}
	s.conns[tc] = struct{}{}
	return tc, true
}

func (s *Server) untrack(c *trackedConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// listener wraps the caller's listener to count and track connections and,
// for implicit TLS, to wrap them in a TLS server.
type listener struct {
	net.Listener
	srv       *Server
	tlsConfig *tls.Config
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc, ok := l.srv.track(c)
		if !ok {
			l.srv.log.Warn("smtpd: connection refused: too many connections", "remote", c.RemoteAddr().String())
			if l.tlsConfig == nil {
				// RFC 5321 section 3.1: 421 instead of the greeting.
				c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				io.WriteString(c, "421 4.7.0 Too many connections, try again later\r\n")
			}
			c.Close()
			continue
		}
		if l.tlsConfig != nil {
			return tls.Server(tc, l.tlsConfig), nil
		}
		return tc, nil
	}
}

// trackedConn is an accepted connection the server can find its session
// from and close during Shutdown.
type trackedConn struct {
	net.Conn
	srv *Server

	mu   sync.Mutex
	sess *session

	closeOnce sync.Once
	closeErr  error
}

func (c *trackedConn) session() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

func (c *trackedConn) setSession(s *session) {
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
}

func (c *trackedConn) Close() error {
	c.closeOnce.Do(func() {
		c.srv.untrack(c)
		c.closeErr = c.Conn.Close()
	})
	return c.closeErr
}

// trackedOf finds the trackedConn under a go-smtp connection (plain, or TLS
// after STARTTLS or on the implicit-TLS listener).
func trackedOf(c net.Conn) *trackedConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	t, _ := c.(*trackedConn)
	return t
}

// errorLog sends go-smtp's internal errors (panics, accept errors) to slog.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Printf(format string, v ...any) {
	l.log.Warn("smtpd: " + fmt.Sprintf(format, v...))
}

func (l errorLog) Println(v ...any) {
	l.log.Warn("smtpd: " + fmt.Sprint(v...))
}
