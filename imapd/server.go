package imapd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"congthu/changebus"
	"congthu/connlimit"
	"congthu/loginlimit"
	"congthu/store"
)

// Store is what imapd needs of the system of record; *store.Store
// implements it.
type Store interface {
	Authenticate(ctx context.Context, address, password string) (*store.Account, error)

	Mailboxes(ctx context.Context, accountID int64) ([]store.Mailbox, error)
	Mailbox(ctx context.Context, accountID int64, name string) (*store.Mailbox, error)
	CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (*store.Mailbox, error)
	DeleteMailbox(ctx context.Context, accountID int64, name string) error
	RenameMailbox(ctx context.Context, accountID int64, from, to string) error
	SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error
	Subscriptions(ctx context.Context, accountID int64) ([]string, error)
	Status(ctx context.Context, mailboxID int64) (*store.MailboxStatus, error)
	MailboxHead(ctx context.Context, mailboxID int64) (*store.MailboxHead, error)

	Append(ctx context.Context, mailboxID int64, raw []byte, flags []string, date time.Time) (*store.AppendResult, error)
	AppendAll(ctx context.Context, mailboxID int64, msgs []store.AppendMessage) ([]store.AppendResult, error)
	QuotaOf(ctx context.Context, address string) (*store.Quota, error)
	Messages(ctx context.Context, mailboxID int64) ([]store.MessageMeta, error)
	ChangesSince(ctx context.Context, mailboxID int64, modseq int64) (*store.Changes, error)
	MessagesByUID(ctx context.Context, mailboxID int64, uids []uint32, headerOnly bool) iter.Seq2[*store.Message, error]
	Envelopes(ctx context.Context, mailboxID int64, uids []uint32, withEnvelope bool) iter.Seq2[*store.MessageEnvelope, error]
	SearchTexts(ctx context.Context, mailboxID int64, uids []uint32) iter.Seq2[*store.SearchText, error]
	Headers(ctx context.Context, mailboxID int64, uids []uint32) iter.Seq2[*store.MessageHeader, error]
	SetFlags(ctx context.Context, mailboxID int64, uids []uint32, op store.StoreOp, flags []string, unchangedSince int64) ([]store.FlagUpdate, error)
	Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, error)
	Copy(ctx context.Context, srcMailboxID int64, uids []uint32, dstMailboxID int64) (*store.CopyResult, error)
	Move(ctx context.Context, srcMailboxID int64, uids []uint32, dstMailboxID int64) (*store.CopyResult, error)
	ClaimRecent(ctx context.Context, mailboxID int64) (from, to uint32, err error)
}

var _ Store = (*store.Store)(nil)

// LoginLimiter throttles failed logins per client IP and per account;
// *loginlimit.Limiter implements it. A nil LoginLimiter disables
// throttling.
type LoginLimiter interface {
	// Check says how long to hold the attempt back, or that the IP or the
	// account is locked out for now.
	Check(ip netip.Addr, account string) (wait time.Duration, locked bool)
	// Fail records a failed attempt.
	Fail(ip netip.Addr, account string)
	// Succeed records a successful login.
	Succeed(ip netip.Addr, account string)
}

var _ LoginLimiter = (*loginlimit.Limiter)(nil)

// Defaults for Options.
const (
	DefaultAppendLimit = 25 << 20
	DefaultIdlePoll    = 15 * time.Second
	DefaultIdleTimeout = 30 * time.Minute
	// maxAppendLimit is what APPENDLIMIT can say (a 32-bit number, RFC 7889).
	maxAppendLimit = 1<<32 - 1
)

// Learner learns from how users file their mail: a message moved or
// copied into the Junk mailbox (special use \Junk) is spam, one moved out
// of Junk into any mailbox but Trash is not. Filed is called after the
// command committed, with the messages' mailbox and UIDs there; it must
// not block (package learn queues the work).
type Learner interface {
	Filed(ctx context.Context, mailboxID int64, uids []uint32, spam bool)
}

// Options configures a Server. The zero value serves plain IMAP with
// LOGINDISABLED; set TLSConfig for STARTTLS and implicit TLS.
type Options struct {
	// TLSConfig is used for STARTTLS on Serve listeners and for implicit
	// TLS on ServeTLS listeners, with session tickets turned off (New
	// works on a copy). Without it, clients cannot log in unless
	// AllowInsecureAuth is set.
	TLSConfig *tls.Config
	// AllowInsecureAuth allows LOGIN and AUTHENTICATE PLAIN without TLS.
	// For loopback development only; off by default (RFC 9051 section
	// 11.1 wants TLS before credentials cross the network).
	AllowInsecureAuth bool
	// AppendLimit is the largest message APPEND accepts, in bytes (RFC 7889
	// APPENDLIMIT); 0 means DefaultAppendLimit.
	AppendLimit int64
	// IdlePoll is how often an IDLE session re-reads its mailbox's change
	// log when nothing woke it (a lost pub/sub message is then only a
	// delay); 0 means DefaultIdlePoll.
	IdlePoll time.Duration
	// IdleTimeout ends an IDLE that lasted this long without DONE: the
	// server says BYE and closes the connection (the autologout timer of
	// RFC 9051 section 5.4), and so does a wait this long between
	// commands; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Changes, if set, is subscribed to by New: the store's mailbox
	// changes, and with a changebus.Relay the other nodes', reach MailboxChanged
	// through it.
	Changes *changebus.Bus
	// Learner, if set, is told of messages a user files as spam or not
	// spam (see Learner).
	Learner Learner
	// Sessions, if set, ends logged-in sessions whose account's
	// credentials are revoked (see SessionRegistry).
	Sessions SessionRegistry
	// MaxConnections caps concurrent connections over all listeners
	// (0: DefaultMaxConnections; negative: no cap). More are told BYE
	// and closed.
	MaxConnections int
	// MaxConnectionsPerIP caps concurrent connections from one client
	// address, IPv6 per /64 (0: DefaultMaxConnectionsPerIP; negative:
	// no cap).
	MaxConnectionsPerIP int
	// LimitExempt lists client networks the per-IP cap spares.
	LimitExempt []netip.Prefix
	// LimitLoopback applies the per-IP cap to loopback clients too.
	// Default false: loopback clients are exempt.
	LimitLoopback bool
	// Metrics, if set, counts sessions, logins and commands (see
	// Metrics).
	Metrics *Metrics
	// LoginTimeout is how long a connection may stay without logging in
	// (0: DefaultLoginTimeout; negative: no bound).
	LoginTimeout time.Duration
}

func (o *Options) appendLimit() uint32 {
	switch {
	case o.AppendLimit <= 0:
		return DefaultAppendLimit
	case o.AppendLimit > maxAppendLimit:
		return maxAppendLimit
	}
	return uint32(o.AppendLimit)
}

func (o *Options) idleTimeout() time.Duration {
	if o.IdleTimeout <= 0 {
		return DefaultIdleTimeout
	}
	return o.IdleTimeout
}

func (o *Options) idlePoll() time.Duration {
	if o.IdlePoll <= 0 {
		return DefaultIdlePoll
	}
	return o.IdlePoll
}

// Server is an IMAP server over the store. Create it with New, feed it
// listeners with Serve and ServeTLS, wire its MailboxChanged to the store's Changed
// hook, and stop it with Close or Shutdown.
type Server struct {
	opts   Options
	st     Store
	lim    LoginLimiter
	log    *slog.Logger
	ctx    context.Context // cancelled by Close: sessions
	cancel context.CancelFunc

	mu        sync.Mutex
	mailboxes map[int64]*mailboxState // open in some session of this process
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup // connection goroutines

	limit *connlimit.Limiter
}

// New returns a Server for the store st. lim may be nil (no throttling);
// log must not be nil.
func New(opts Options, st Store, lim LoginLimiter, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.TLSConfig != nil {
		// No TLS session tickets: with them, offlineimap failed at random
		// right after STARTTLS (10 of 64 runs; 0 of 42 without). A mail
		// client's handful of long connections gains little from
		// resumption.
		opts.TLSConfig = opts.TLSConfig.Clone()
		opts.TLSConfig.SessionTicketsDisabled = true
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:      opts,
		st:        st,
		lim:       lim,
		log:       log,
		ctx:       ctx,
		cancel:    cancel,
		mailboxes: make(map[int64]*mailboxState),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[net.Conn]struct{}),
		limit:     opts.limiter(),
	}
	if opts.Changes != nil {
		opts.Changes.Subscribe(s.MailboxChanged)
	}
	return s
}

// Serve accepts plain connections on ln (port 143 style: STARTTLS is
// offered when Options.TLSConfig is set). It returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(s.limitListener(ln, nil))
}

// serve accepts connections on ln until it fails or Close.
func (s *Server) serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: wait and retry.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("imapd: accept", "err", err, "retry", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("imapd: accept: %w", err)
		}
		delay = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				s.wg.Done()
			}()
			s.serveConn(c)
		}()
	}
}

// ServeTLS accepts implicit-TLS connections on ln (port 993 style, RFC
// 8314), using Options.TLSConfig. It returns nil after Close.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opts.TLSConfig == nil {
		return errors.New("imapd: ServeTLS needs Options.TLSConfig")
	}
	// A session recognises implicit TLS by the *tls.Conn it is given.
	return s.serve(tls.NewListener(s.limitListener(ln, s.opts.TLSConfig), s.opts.TLSConfig))
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var err error
	for ln := range s.listeners {
		if cerr := ln.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("imapd: close: %w", err)
	}
	return nil
}

// Shutdown is Close bounded by ctx: IMAP has no graceful hand-over, so
// connections are closed (clients reconnect and resynchronise by UID).
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("imapd: panic in shutdown", "panic", v)
				done <- fmt.Errorf("imapd: panic in shutdown: %v", v)
			}
		}()
		done <- s.Close()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MailboxChanged tells the server that a mailbox changed (new message, flags,
// expunge) and now has highest modseq modseq: it wakes this process's
// sessions that have the mailbox open. It is a changebus.Func (accountID
// is not used) and never blocks.
func (s *Server) MailboxChanged(_, mailboxID, modseq int64) {
	s.mu.Lock()
	mb := s.mailboxes[mailboxID]
	s.mu.Unlock()
	if mb != nil {
		mb.signal(modseq)
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
