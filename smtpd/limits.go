package smtpd

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/emersion/go-smtp"
)

// Resources bounds what one SMTP client can hold: the time of its
// session and of its DATA transfer, the recipients it may be refused, and
// the memory its message takes. Zero fields take the defaults shown; a
// negative number turns the bound off.
type Resources struct {
	// SessionLifetime bounds a connection: past it an idle session is
	// told 421 4.4.2 and closed, one inside a mail transaction once the
	// transaction ends (default 1 hour). A client sending NOOP every few
	// minutes cannot keep its slot for ever.
	SessionLifetime time.Duration
	// MinDataRate is the slowest DATA transfer accepted, in bytes per
	// second, once the first DataTimeout has passed: a message of n bytes
	// must be received within DataTimeout + n/MinDataRate (default 4096,
	// 32 kbit/s; a 25 MiB message then has 10 minutes plus 1 h 47 min).
	MinDataRate int
	// RcptErrorLimit is the number of refused RCPT commands after which
	// the next one is answered 421 4.7.0 and the connection closed
	// (default 20, as Postfix's smtpd_hard_error_limit).
	RcptErrorLimit int
	// RcptErrorDelay is the pause before answering a RCPT for an
	// unknown user (x.1.1), which slows down address harvesting
	// (default 1 s, as Postfix's smtpd_error_sleep_time).
	RcptErrorDelay time.Duration
	// SpoolDir is where message data above SpoolThreshold is kept during
	// DATA, in files created 0600 and unlinked at once (default
	// os.TempDir()). See CleanSpool.
	SpoolDir string
	// SpoolThreshold is the most message data held in memory during
	// DATA; beyond it the data goes to a file (default 256 KiB).
	SpoolThreshold int
	// Memory bounds the bytes of messages being checked and committed
	// at once, over every server sharing it; a message waits for room
	// (at most DeliverTimeout, then 451). Default: a budget of 64 MiB per
	// server.
	Memory *MemoryBudget
}

func (r Resources) withDefaults() Resources {
	if r.SessionLifetime == 0 {
		r.SessionLifetime = time.Hour
	}
	if r.MinDataRate == 0 {
		r.MinDataRate = 4096
	}
	if r.RcptErrorLimit == 0 {
		r.RcptErrorLimit = 20
	}
	if r.RcptErrorDelay == 0 {
		r.RcptErrorDelay = time.Second
	}
	if r.SpoolThreshold <= 0 {
		r.SpoolThreshold = 256 << 10
	}
	if r.Memory == nil {
		r.Memory = NewMemoryBudget(64 << 20)
	}
	return r
}

// Replies of the resource limits.
var (
	// Postfix answers its hard error limit the same way.
	errTooManyErrors = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many errors, closing connection"}
)

// replySessionTooLong ends a session past Resources.SessionLifetime (RFC
// 3463: 4.4.2, bad connection).
const replySessionTooLong = "421 4.4.2 Session time limit reached, please reconnect\r\n"

// setLifetime sets the session lifetime of the connections: after
// res.SessionLifetime an idle session is closed; a session still inside
// a transaction is closed anyway once a whole DATA transfer at the
// minimum rate could have ended since.
func (cs *connSet) setLifetime(res Resources, dataTimeout time.Duration, maxMessage int64) {
	if res.SessionLifetime <= 0 {
		return
	}
	cs.lifetime = res.SessionLifetime
	cs.hardLifetime = res.SessionLifetime + dataTimeout
	if res.MinDataRate > 0 {
		cs.hardLifetime += time.Duration(maxMessage/int64(res.MinDataRate)) * time.Second
	} else {
		cs.hardLifetime += time.Hour
	}
}

// startLifetime arms the lifetime timer of a new connection.
func (c *trackedConn) startLifetime(start time.Time) {
	if c.set.lifetime <= 0 {
		return
	}
	c.mu.Lock()
	c.timer = time.AfterFunc(c.set.lifetime, func() { c.lifetimeOver(start) })
	c.mu.Unlock()
}

// lifetimeOver closes the connection if its session is idle, or tries
// again a little later until the hard lifetime.
func (c *trackedConn) lifetimeOver(start time.Time) {
	defer func() {
		if r := recover(); r != nil {
			c.set.log.Error("smtpd: panic in session lifetime", "panic", r)
		}
	}()
	c.overLifetime.Store(true)
	sess := c.session()
	switch {
	case sess == nil:
		// Before EHLO: no session yet.
		c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(c.Conn, replySessionTooLong)
	case sess.closeIfIdle():
	case time.Since(start) < c.set.hardLifetime:
		c.mu.Lock()
		c.timer = time.AfterFunc(5*time.Second, func() { c.lifetimeOver(start) })
		c.mu.Unlock()
		return
	}
	c.set.log.Info("smtpd: session lifetime reached", "remote", c.RemoteAddr().String(), "duration", time.Since(start).Round(time.Second))
	c.Close()
}

// stopLifetime stops the lifetime timer (the connection is closing).
func (c *trackedConn) stopLifetime() {
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
}

// closingReply is the 421 reply closeIdle sends.
func (c *sessionConn) closingReply() string {
	if c.tracked != nil && c.tracked.overLifetime.Load() {
		return replySessionTooLong
	}
	return "421 4.3.2 Service shutting down\r\n"
}

// Read reads from the connection, or ends it once a reply has told the
// client it is closed (see closeAfterReply).
func (c *trackedConn) Read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, io.EOF
	}
	return c.Conn.Read(p)
}

// closeAfterReply makes the next read from the connection end it: go-smtp
// sends the reply being written, then finds the connection over.
func (c *trackedConn) closeAfterReply() { c.closed.Store(true) }

// limitRcpt runs rcpt (one session's RCPT checks) under the connection's
// RCPT error limit: refused recipients are counted over the whole
// connection (a new EHLO does not reset them); once RcptErrorLimit were
// refused, the next RCPT is answered 421 4.7.0 and the connection closed.
// An unknown user's reply (x.1.1) is held back RcptErrorDelay first.
func (c *sessionConn) limitRcpt(res Resources, rcpt func() error) (err error) {
	defer func() { c.lm.countRcpt(err) }()
	t := c.tracked
	if t != nil && res.RcptErrorLimit > 0 && int(t.rcptErrors.Load()) >= res.RcptErrorLimit {
		t.closeAfterReply()
		return errTooManyErrors
	}
	err = rcpt()
	if err == nil {
		return nil
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.EnhancedCode[1] == 1 && se.EnhancedCode[2] == 1 && res.RcptErrorDelay > 0 {
		sleepCtx(c.ctx, res.RcptErrorDelay)
	}
	if t != nil {
		t.rcptErrors.Add(1)
	}
	return err
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// dataReader bounds a DATA transfer: no pause longer than pause, and,
// once pause has passed since the start, an average of at least minRate
// bytes per second (0: no rate bound). It sets the connection's read
// deadline as data arrives.
type dataReader struct {
	r       io.Reader
	c       net.Conn
	pause   time.Duration
	minRate int
	start   time.Time
	n       int64
	last    time.Time
}

func newDataReader(r io.Reader, c net.Conn, pause time.Duration, minRate int) *dataReader {
	return &dataReader{r: r, c: c, pause: pause, minRate: max(minRate, 0), start: time.Now()}
}

func (r *dataReader) Read(p []byte) (int, error) {
	now := time.Now()
	step := r.pause / 16
	if r.minRate > 0 {
		step = min(step, 100*time.Millisecond)
	}
	if now.Sub(r.last) > step {
		d := now.Add(r.pause)
		if r.minRate > 0 {
			lim := r.start.Add(r.pause + time.Duration(float64(r.n)/float64(r.minRate)*float64(time.Second)))
			if lim.Before(d) {
				d = lim
			}
		}
		r.c.SetReadDeadline(d)
		r.last = now
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	return n, err
}

// Rcpt implements smtp.Session: RCPT TO (RFC 5321 section 4.1.1.3), under
// the connection's RCPT error limit (limitRcpt).
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	return s.limitRcpt(s.srv.opts.Resources, func() error { return s.rcpt(to, opts) })
}

// Rcpt implements smtp.Session: RCPT TO (RFC 5321 section 4.1.1.3), under
// the connection's RCPT error limit (limitRcpt).
func (s *mxSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	return s.limitRcpt(s.srv.opts.Resources, func() error { return s.rcpt(to, opts) })
}
