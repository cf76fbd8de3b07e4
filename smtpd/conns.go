package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"congthu/connlimit"
	"congthu/loginlimit"
)

// sessionConn is what a session (submission or MX) knows of its
// connection, as of the EHLO (after STARTTLS, the TLS connection).
type sessionConn struct {
	ctx     context.Context
	cancel  context.CancelFunc
	netConn net.Conn
	ip      netip.Addr
	helo    string
	tls     *tls.ConnectionState // nil without TLS
	tracked *trackedConn
	lm      *listenerMetrics // the counters of the connection's listener
	// closing: Shutdown closes this session. Guarded by the embedding
	// session's mutex, which also guards its open transaction.
	closing bool
}

// closeIdle is closeIfIdle's work, called with the session's mutex held:
// inside a mail transaction (inTx) the session is left to finish and false
// returned; otherwise it is marked closing, told 421 once (RFC 5321
// section 3.8), and true says the caller may close the connection.
func (c *sessionConn) closeIdle(inTx bool) bool {
	if inTx {
		return false
	}
	if !c.closing {
		c.closing = true
		c.netConn.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(c.netConn, c.closingReply())
	}
	return true
}

// end is Logout's work after the session's Reset: the session's context
// ends and the tracked connection forgets it (unless STARTTLS replaced it).
func (c *sessionConn) end(s idleCloser) {
	c.cancel()
	if c.tracked != nil {
		c.tracked.clearSession(s)
	}
}

// newSessionConn describes c, with a context derived from parent; lm
// counts for it unless its listener has counters of its own.
func newSessionConn(parent context.Context, c *smtp.Conn, lm *listenerMetrics) sessionConn {
	nc := c.Conn()
	ctx, cancel := context.WithCancel(parent)
	sc := sessionConn{
		ctx:     ctx,
		cancel:  cancel,
		netConn: nc,
		ip:      loginlimit.AddrOf(nc.RemoteAddr()),
		helo:    c.Hostname(),
		tracked: trackedOf(nc),
		lm:      lm,
	}
	if sc.tracked != nil && sc.tracked.lm != nil {
		sc.lm = sc.tracked.lm
	}
	if st, ok := c.TLSConnectionState(); ok {
		sc.tls = &st
	}
	return sc
}

// tlsVersion names the TLS version, "" without TLS.
func (sc *sessionConn) tlsVersion() string {
	if sc.tls == nil {
		return ""
	}
	return tls.VersionName(sc.tls.Version)
}

// connSet tracks the open connections of one server (submission or MX):
// it caps them, in total and per client address (through lim), and
// closes them during Shutdown and Close.
type connSet struct {
	log *slog.Logger
	lim *connlimit.Limiter

	// lifetime and hardLifetime bound each connection (see
	// setLifetime); 0: no bound.
	lifetime, hardLifetime time.Duration

	mu       sync.Mutex
	conns    map[*trackedConn]struct{}
	draining bool
	closed   bool
}

// newConnSet caps connections at max in total and maxPerIP per client
// (0: no cap), sparing the clients exempt names the per-client cap.
func newConnSet(log *slog.Logger, max, maxPerIP int, exempt func(netip.Addr) bool) *connSet {
	return &connSet{log: log, lim: connlimit.New(max, maxPerIP, exempt), conns: map[*trackedConn]struct{}{}}
}

// idleCloser is a session Shutdown can ask to end if it is idle.
type idleCloser interface {
	// closeIfIdle marks an idle session closing, tells the client 421
	// and returns true (the caller closes the connection); false if a
	// mail transaction is open.
	closeIfIdle() bool
}

// Replies sent instead of the greeting (RFC 5321 section 3.1).
const (
	replyTooManyConns      = "421 4.7.0 Too many connections, try again later\r\n"
	replyTooManyConnsFrom  = "421 4.7.0 Too many connections from your address, try again later\r\n"
	replyServiceNotRunning = ""
)

// track registers a new connection, or returns the reply refusing it (""
// to close it without one, when the server is stopping).
func (cs *connSet) track(c net.Conn, lm *listenerMetrics) (*trackedConn, string) {
	ip := loginlimit.AddrOf(c.RemoteAddr())
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.draining || cs.closed {
		return nil, replyServiceNotRunning
	}
	slot, why := cs.lim.Acquire(ip)
	switch why {
	case connlimit.TooMany:
		return nil, replyTooManyConns
	case connlimit.TooManyFromClient:
		return nil, replyTooManyConnsFrom
	}
	tc := &trackedConn{Conn: c, set: cs, slot: slot, lm: lm}
	cs.conns[tc] = struct{}{}
	lm.connAccepted.Inc()
	lm.open.Inc()
	tc.startLifetime(time.Now())
	return tc, ""
}

func (cs *connSet) untrack(c *trackedConn) {
	cs.mu.Lock()
	delete(cs.conns, c)
	cs.mu.Unlock()
	cs.lim.Release(c.slot)
}

func (cs *connSet) isDraining() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.draining || cs.closed
}

func (cs *connSet) list() []*trackedConn {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	conns := make([]*trackedConn, 0, len(cs.conns))
	for c := range cs.conns {
		conns = append(conns, c)
	}
	return conns
}

// closeIdle closes connections that are not inside a mail transaction.
func (cs *connSet) closeIdle() {
	for _, c := range cs.list() {
		sess := c.session()
		if sess == nil || sess.closeIfIdle() {
			c.Close()
		}
	}
}

func (cs *connSet) closeAll() {
	for _, c := range cs.list() {
		c.Close()
	}
}

// shutdown implements Shutdown for a server made of ss and cs; cancel
// ends the sessions' contexts.
func (cs *connSet) shutdown(ctx context.Context, ss *smtp.Server, cancel context.CancelFunc) error {
	cs.mu.Lock()
	if cs.draining || cs.closed {
		cs.mu.Unlock()
		return nil
	}
	cs.draining = true
	cs.mu.Unlock()

	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				cs.log.Error("smtpd: panic in shutdown", "panic", r)
				done <- fmt.Errorf("smtpd: panic in shutdown: %v", r)
			}
		}()
		// Closes the listeners and waits for every connection to end.
		err := ss.Shutdown(context.Background())
		if errors.Is(err, smtp.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		cs.closeIdle()
		select {
		case err := <-done:
			cancel()
			return err
		case <-ctx.Done():
			cs.closeAll()
			cancel()
			<-done
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// close implements Close.
func (cs *connSet) close(ss *smtp.Server, cancel context.CancelFunc) error {
	cs.mu.Lock()
	cs.closed = true
	cs.mu.Unlock()
	err := ss.Close()
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	cs.closeAll()
	cancel()
	return err
}

// limitKey is what per-client limits count by (see connlimit.Key).
func limitKey(ip netip.Addr) netip.Addr { return connlimit.Key(ip) }

// listener wraps the caller's listener to count and track connections and,
// for implicit TLS, to wrap them in a TLS server.
type listener struct {
	net.Listener
	set       *connSet
	tlsConfig *tls.Config
	lm        *listenerMetrics
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc, refusal := l.set.track(c, l.lm)
		if tc == nil {
			switch refusal {
			case replyTooManyConns:
				l.lm.connTooMany.Inc()
			case replyTooManyConnsFrom:
				l.lm.connTooManyFromClient.Inc()
			}
			if refusal != replyServiceNotRunning {
				l.set.log.Warn("smtpd: connection refused", "remote", c.RemoteAddr().String(), "reply", refusal[:len(refusal)-2])
				if l.tlsConfig == nil {
					// RFC 5321 section 3.1: 421 instead of the greeting.
					c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
					io.WriteString(c, refusal)
				}
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
	set  *connSet
	slot connlimit.Slot
	lm   *listenerMetrics // the listener's counters

	// overLifetime: the session lifetime has passed; closed: a reply
	// said the connection closes (reads end it); rcptErrors: refused
	// RCPTs over the connection (see limitRcpt).
	overLifetime atomic.Bool
	closed       atomic.Bool
	rcptErrors   atomic.Int32

	mu    sync.Mutex
	sess  idleCloser
	timer *time.Timer // the lifetime's

	closeOnce sync.Once
	closeErr  error
}

func (c *trackedConn) session() idleCloser {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

func (c *trackedConn) setSession(s idleCloser) {
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
}

// clearSession forgets s if it is still the connection's session (after
// STARTTLS a new one has replaced it).
func (c *trackedConn) clearSession(s idleCloser) {
	c.mu.Lock()
	if c.sess == s {
		c.sess = nil
	}
	c.mu.Unlock()
}

func (c *trackedConn) Close() error {
	c.closeOnce.Do(func() {
		c.stopLifetime()
		c.set.untrack(c)
		c.lm.open.Dec()
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
