package smtpd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"congthu/connlimit"
	"congthu/store"
)

// MXStore is what the MX server needs from the store; *store.Store
// satisfies it.
type MXStore interface {
	IsLocalDomain(ctx context.Context, name string) (bool, error)
	ResolveRecipient(ctx context.Context, address string) (*store.Account, error)
	Deliver(ctx context.Context, d *store.Delivery) (*store.DeliveryResult, error)
	// OverQuota reports whether an account is full (refused at RCPT).
	OverQuota(ctx context.Context, accountID int64) (bool, error)
}

var _ MXStore = (*store.Store)(nil)

// MXOptions configures an MXServer. Zero fields take the defaults shown;
// the zero value of every bool is the strict choice.
type MXOptions struct {
	Common
	// CheckTimeout bounds the DNS work of SPF, DKIM and DMARC for one
	// message (default 30 seconds); what is not answered by then is a
	// temperror.
	CheckTimeout time.Duration
	// MaxMessagesPerIPPerMinute caps mail transactions (MAIL commands)
	// per client address and minute, as a token bucket that refills
	// continuously (default 120; negative: no cap). Past it MAIL gets
	// 451 4.7.1.
	MaxMessagesPerIPPerMinute int
	// Resolver answers the SPF, DKIM and DMARC lookups (default
	// net.DefaultResolver). The integrator builds it from
	// CONGTHU_DNS_RESOLVER.
	Resolver *net.Resolver
	// DNSCacheTTL is how long TXT answers (SPF, DMARC, DKIM keys; also
	// "no such name") are reused, net.Resolver reporting no TTLs
	// (default 1 minute; negative: no cache). Temporary errors are not
	// cached.
	DNSCacheTTL time.Duration
	// QuarantineToInbox delivers mail that DMARC says to quarantine to
	// the INBOX with an X-Congthu-Quarantine: header field. Default
	// false: it goes to the recipient's Junk mailbox, flagged $Junk.
	QuarantineToInbox bool
	// NoDMARCReject treats a DMARC "p=reject" failure as quarantine.
	// Default false: such mail is refused at the end of DATA with 550
	// 5.7.1 (RFC 7489 section 6.7).
	NoDMARCReject bool
	// AllowLocalSpoofing accepts mail whose From: is in one of our own
	// domains although neither SPF nor DKIM passes aligned with it, if
	// our published DMARC policy (if any) allows it. Default false: such
	// mail is refused like a DMARC reject, whatever is published (our
	// domains' mail never legitimately enters through the MX without
	// our DKIM signature or an SPF pass).
	AllowLocalSpoofing bool
	// MaxReceived is the most Received: fields an incoming message may
	// have before it is taken for a mail loop (default 50; RFC 5321
	// section 6.3). Past it: 554 5.4.6.
	MaxReceived int
	// Bounces, if set, takes mail to notification return paths
	// bounce+<id>@ of served domains: 550 5.1.1 for an id that names no
	// notification, else the bounce is recorded before the 250.
	Bounces Bounces
}

func (o MXOptions) withDefaults() MXOptions {
	o.Common = o.Common.withDefaults()
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = 30 * time.Second
	}
	if o.MaxMessagesPerIPPerMinute == 0 {
		o.MaxMessagesPerIPPerMinute = 120
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.DNSCacheTTL == 0 {
		o.DNSCacheTTL = time.Minute
	}
	if o.MaxReceived <= 0 {
		o.MaxReceived = 50
	}
	return o
}

// MXServer is the inbound SMTP server (RFC 5321 relay-in, port 25) for
// mail from other servers to local recipients. Create it with NewMX,
// start it with Serve, stop it with Shutdown or Close.
type MXServer struct {
	opts MXOptions
	st   MXStore
	log  *slog.Logger
	smtp *smtp.Server
	rate *rate[netip.Addr] // nil: no message rate limit (keyed by limitKey)
	res  resolver
	dir  *dirCache

	// ctx is the parent of every session's context; cancelled by Close
	// and at the end of Shutdown.
	ctx    context.Context
	cancel context.CancelFunc

	conns    *connSet
	exemptFn func(netip.Addr) bool
	spool    *spooler
}

// NewMX returns an MX server delivering into st.
func NewMX(opts MXOptions, st MXStore, log *slog.Logger) *MXServer {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &MXServer{opts: opts, st: st, log: log, ctx: ctx, cancel: cancel}
	s.exemptFn = connlimit.Exempt(opts.LimitExempt, !opts.LimitLoopback)
	s.spool = newSpooler(opts.Resources)
	perIP := opts.MaxConnectionsPerIP
	if perIP < 0 {
		perIP = 0
	}
	s.conns = newConnSet(log, opts.MaxConnections, perIP, s.exempt)
	s.conns.setLifetime(opts.Resources, opts.DataTimeout, opts.MaxMessageBytes)
	s.dir = newDirCache(10000)
	s.res = resolver{Resolver: opts.Resolver}
	if opts.DNSCacheTTL > 0 {
		s.res.txt = newTXTCache(opts.Resolver, opts.DNSCacheTTL, 10000)
	}
	if opts.MaxMessagesPerIPPerMinute > 0 {
		s.rate = newRate[netip.Addr](opts.MaxMessagesPerIPPerMinute, time.Minute)
	}
	ss := smtp.NewServer(mxBackend{s})
	ss.Domain = opts.Hostname
	ss.TLSConfig = opts.TLSConfig
	ss.MaxMessageBytes = opts.MaxMessageBytes
	ss.MaxRecipients = opts.MaxRecipients
	ss.ReadTimeout = opts.ReadTimeout
	ss.WriteTimeout = opts.WriteTimeout
	// No AUTH on an MX: the session has no AuthSession methods, so
	// go-smtp neither advertises nor accepts it.
	ss.ErrorLog = errorLog{log}
	s.smtp = ss
	return s
}

// Serve accepts connections on ln and serves them until Shutdown or
// Close, after which it returns nil.
func (s *MXServer) Serve(ln net.Listener) error {
	if s.conns.isDraining() {
		ln.Close()
		return nil
	}
	if err := s.smtp.Serve(&listener{Listener: ln, set: s.conns, lm: s.opts.Metrics.mx}); err != nil {
		return fmt.Errorf("smtpd: serve MX %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting connections, closes idle ones (with 421) and
// waits for open mail transactions to finish before closing those too.
// If ctx ends first, the remaining connections are closed and ctx's error
// returned.
func (s *MXServer) Shutdown(ctx context.Context) error {
	return s.conns.shutdown(ctx, s.smtp, s.cancel)
}

// Close closes the listeners and connections at once, aborting open
// transactions (none of them was acknowledged).
func (s *MXServer) Close() error {
	return s.conns.close(s.smtp, s.cancel)
}

// exempt reports whether the per-IP limits spare ip.
func (s *MXServer) exempt(ip netip.Addr) bool {
	return s.exemptFn(ip)
}

// rate is a token bucket per key: perWindow tokens, refilled
// continuously over window. The MX keys it by client address (limitKey),
// submission by account.
type rate[K comparable] struct {
	perWindow float64
	window    time.Duration

	mu        sync.Mutex
	buckets   map[K]*bucket
	lastPrune time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRate[K comparable](perWindow int, window time.Duration) *rate[K] {
	return &rate[K]{perWindow: float64(perWindow), window: window, buckets: map[K]*bucket{}}
}

// allow takes a token for k; false if there is none left.
func (r *rate[K]) allow(k K, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.lastPrune) > r.window {
		// A bucket untouched for a window is full: forget it.
		for k, b := range r.buckets {
			if now.Sub(b.last) >= r.window {
				delete(r.buckets, k)
			}
		}
		r.lastPrune = now
	}
	b := r.buckets[k]
	if b == nil {
		b = &bucket{tokens: r.perWindow, last: now}
		r.buckets[k] = b
	}
	b.tokens = min(r.perWindow, b.tokens+float64(now.Sub(b.last))/float64(r.window)*r.perWindow)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
