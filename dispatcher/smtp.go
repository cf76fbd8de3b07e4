package dispatcher

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"congthu/internal/mailaddr"
	"congthu/mtasts"
)

// Resolver is the DNS a Dispatcher needs: MX records and host addresses.
// *net.Resolver implements it.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// maxRcptsPerTransaction is the most RCPT TO commands in one transaction:
// every server must accept 100 (RFC 5321 4.5.3.1.8).
const maxRcptsPerTransaction = 100

// transport delivers messages over SMTP to remote hosts: it finds the
// hosts (MX, A/AAAA fallback, or the smarthost), limits connections per
// destination domain and keeps a small pool of idle connections per host.
type transport struct {
	o   *Options
	log *slog.Logger

	requireTLS map[string]bool

	mu     sync.Mutex
	limits map[string]chan struct{} // destination domain -> connection slots
	idle   map[string][]*remoteConn // host address -> idle connections, oldest first
	closed bool
}

func newTransport(o *Options, log *slog.Logger) *transport {
	t := &transport{o: o, log: log, requireTLS: map[string]bool{}, limits: map[string]chan struct{}{}, idle: map[string][]*remoteConn{}}
	for _, d := range o.RequireTLS {
		t.requireTLS[strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))] = true
	}
	return t
}

// remoteConn is one SMTP connection to a remote host (a client session),
// idle between transactions.
type remoteConn struct {
	c        *smtp.Client
	conn     net.Conn
	addr     string // ip:port
	host     string // the name we connected to (MX host or smarthost)
	tls      bool
	verified bool // the certificate is valid for host
	utf8     bool
	msgs     int
	created  time.Time
	lastUsed time.Time
}

func (s *remoteConn) close() {
	if s.c != nil {
		s.c.Close()
	} else if s.conn != nil {
		s.conn.Close()
	}
}

// quit says QUIT politely (bounded by a short deadline) and closes.
func (s *remoteConn) quit() {
	s.conn.SetDeadline(time.Now().Add(2 * time.Second))
	if err := s.c.Quit(); err != nil {
		s.c.Close()
	}
}

// maxConns is the most sessions open at once to one destination: the
// smarthost's limit when there is one, else MaxPerDomain.
func (t *transport) maxConns() int {
	if t.o.Smarthost != "" {
		return t.o.SmarthostMaxConnections
	}
	return t.o.MaxPerDomain
}

// slot takes a connection slot for domain, waiting while the domain has
// maxConns sessions open. It returns the function that gives it back.
func (t *transport) slot(ctx context.Context, domain string) (func(), error) {
	t.mu.Lock()
	ch := t.limits[domain]
	if ch == nil {
		ch = make(chan struct{}, t.maxConns())
		t.limits[domain] = ch
	}
	t.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// host is one place to try: a name and its addresses, in order.
type host struct {
	name  string
	addrs []string // ip:port
}

// deliver sends msg from mailFrom to rcpts, all in domain, and returns the
// outcome per recipient (nil: delivered). It never returns an error of its
// own: every failure is some recipient's DeliveryError.
func (t *transport) transfer(ctx context.Context, domain, mailFrom string, rcpts []string, msg []byte) []*DeliveryError {
	out := make([]*DeliveryError, len(rcpts))
	fill := func(e *DeliveryError) {
		for i := range out {
			out[i] = e
		}
	}
	// DNS first, outside the connection slot.
	hosts, derr := t.hosts(ctx, domain)
	if derr != nil {
		fill(derr)
		return out
	}
	pol, derr := t.policy(ctx, domain, hosts)
	if derr != nil {
		fill(derr)
		return out
	}
	if pol != nil && pol.Mode == mtasts.Enforce {
		hosts = slices.DeleteFunc(hosts, func(h host) bool { return !pol.Matches(h.name) })
	}
	limitKey := domain
	if t.o.Smarthost != "" {
		limitKey = "smarthost " + t.o.Smarthost
	}
	release, err := t.slot(ctx, limitKey)
	if err != nil {
		fill(temporary("4.4.7", "shutting down before delivery: %v", err))
		return out
	}
	defer release()
	tp := tlsPolicy{require: t.requireTLS[domain]}
	if pol != nil {
		tp.domain, tp.mode = domain, pol.Mode
		if pol.Mode == mtasts.Enforce {
			tp.require, tp.verify = true, true
		}
	}
	var last *DeliveryError
	for _, h := range hosts {
		addrs := h.addrs
		if addrs == nil {
			var err *DeliveryError
			addrs, err = t.addrs(ctx, h.name)
			if err != nil {
				last = err
				continue
			}
		}
		for _, addr := range addrs {
			res, hostErr := t.transferHost(ctx, h.name, addr, domain, tp, mailFrom, rcpts, msg)
			if hostErr == nil {
				return res
			}
			last = hostErr
			t.log.Info("dispatcher: host failed, trying the next", "domain", domain, "host", h.name, "addr", addr, "err", hostErr.Error())
			if ctx.Err() != nil {
				fill(last)
				return out
			}
		}
	}
	if last == nil {
		last = temporary("4.4.4", "no host to deliver to")
	}
	// RFC 5321 5.1: only after every host failed is the attempt over;
	// the reply of the last one tried is reported.
	fill(last)
	return out
}

// tlsPolicy is what TLS a delivery needs.
type tlsPolicy struct {
	require bool   // no delivery in clear (Options.RequireTLS, MTA-STS enforce)
	verify  bool   // the certificate must be valid for the MX host's name (MTA-STS enforce)
	mode    string // the domain's MTA-STS mode, "" without a policy
	domain  string
}

// policy finds the MTA-STS policy of domain (RFC 8461) when mail goes to
// its MX hosts. Under enforce, delivery waits (a temporary failure) when
// no MX host matches the policy; under testing that is only logged.
func (t *transport) policy(ctx context.Context, domain string, hosts []host) (*mtasts.Policy, *DeliveryError) {
	if t.o.Smarthost != "" || t.o.MTASTS == nil {
		return nil, nil
	}
	pol, err := t.o.MTASTS.Lookup(ctx, domain)
	if err != nil {
		t.log.Warn("dispatcher: MTA-STS policy not refreshed", "domain", domain, "applies", policyMode(pol), "err", err)
	}
	if pol == nil {
		return nil, nil
	}
	matching := 0
	for _, h := range hosts {
		if pol.Matches(h.name) {
			matching++
		} else {
			t.log.Warn("dispatcher: MX host not in the MTA-STS policy", "domain", domain, "host", h.name, "mode", pol.Mode, "policy_mx", strings.Join(pol.MX, " "))
		}
	}
	if matching == 0 && pol.Mode == mtasts.Enforce {
		return nil, temporary("4.7.5", "no MX host of %s matches its MTA-STS policy (mx: %s)", domain, strings.Join(pol.MX, ", "))
	}
	return pol, nil
}

func policyMode(p *mtasts.Policy) string {
	if p == nil {
		return "none"
	}
	return p.Mode
}

// hosts returns where to deliver mail for domain: the smarthost, or the
// MX hosts in preference order (equal preferences shuffled, RFC 5321 5.1),
// or the domain itself when it has no MX records (the implicit MX, RFC
// 5321 5.1). A null MX (RFC 7505) is a permanent failure.
func (t *transport) hosts(ctx context.Context, domain string) ([]host, *DeliveryError) {
	if t.o.Smarthost != "" {
		name, port, err := net.SplitHostPort(t.o.Smarthost)
		if err != nil {
			return nil, temporary("4.3.5", "bad smarthost %q: %v", t.o.Smarthost, err)
		}
		if ip, err := netip.ParseAddr(name); err == nil {
			return []host{{name: name, addrs: []string{net.JoinHostPort(ip.String(), port)}}}, nil
		}
		addrs, derr := t.lookupAddrs(ctx, name, port)
		if derr != nil {
			return nil, derr
		}
		return []host{{name: name, addrs: addrs}}, nil
	}
	mxs, err := t.o.Resolver.LookupMX(ctx, domain)
	if err != nil && len(mxs) == 0 {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			// No MX: the domain is its own mail host. If it has no
			// address either, the lookup below fails for good.
			addrs, derr := t.lookupAddrs(ctx, domain, strconv.Itoa(t.o.Port))
			if derr != nil {
				return nil, derr
			}
			return []host{{name: domain, addrs: addrs}}, nil
		}
		return nil, temporary("4.4.3", "DNS lookup of MX records of %s failed: %v", domain, err)
	}
	// RFC 7505 3: a single MX with the root as exchange means the domain
	// accepts no mail.
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		return nil, &DeliveryError{Code: 556, Status: "5.1.10", Message: fmt.Sprintf("domain %s accepts no mail (null MX, RFC 7505)", domain), Permanent: true}
	}
	var list []*net.MX
	for _, mx := range mxs {
		if mx.Host != "." && mx.Host != "" {
			list = append(list, mx)
		}
	}
	if len(list) == 0 {
		addrs, derr := t.lookupAddrs(ctx, domain, strconv.Itoa(t.o.Port))
		if derr != nil {
			return nil, derr
		}
		return []host{{name: domain, addrs: addrs}}, nil
	}
	rand.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
	slices.SortStableFunc(list, func(a, b *net.MX) int { return cmp.Compare(a.Pref, b.Pref) })
	out := make([]host, len(list))
	for i, mx := range list {
		out[i] = host{name: strings.TrimSuffix(mx.Host, ".")}
	}
	// The first host's addresses now, outside the connection slot; the
	// others' only if they are needed.
	if addrs, err := t.addrs(ctx, out[0].name); err == nil {
		out[0].addrs = addrs
	}
	return out, nil
}

// addrs resolves an MX host to ip:port addresses.
func (t *transport) addrs(ctx context.Context, name string) ([]string, *DeliveryError) {
	return t.lookupAddrs(ctx, name, strconv.Itoa(t.o.Port))
}

func (t *transport) lookupAddrs(ctx context.Context, name, port string) ([]string, *DeliveryError) {
	if ip, err := netip.ParseAddr(name); err == nil {
		return []string{net.JoinHostPort(ip.String(), port)}, nil
	}
	ips, err := t.o.Resolver.LookupIPAddr(ctx, name)
	if err != nil || len(ips) == 0 {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return nil, permanent("5.1.2", "host %s not found in DNS", name)
		}
		return nil, temporary("4.4.3", "DNS lookup of %s failed: %v", name, err)
	}
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip.IP.String(), port))
	}
	return out, nil
}

// transferHost runs one transaction on a connection to addr. hostErr is set
// when the host could not take the transaction (no connection, greeting or
// EHLO refused, MAIL FROM deferred): the caller tries the next host.
// Otherwise res has every recipient's outcome.
func (t *transport) transferHost(ctx context.Context, name, addr, domain string, tp tlsPolicy, from string, rcpts []string, msg []byte) (res []*DeliveryError, hostErr *DeliveryError) {
	for try := 0; ; try++ {
		s, reused := t.get(addr, name, tp)
		if s == nil {
			var err error
			s, err = t.dial(ctx, name, addr, tp)
			if err != nil {
				return nil, classify(err, name)
			}
		}
		res, hostErr, broken := t.transaction(ctx, s, from, rcpts, msg)
		if broken {
			s.close()
			if reused && try == 0 && hostErr != nil && hostErr.Code == 0 {
				// A pooled connection the server had closed:
				// try once more on a fresh one.
				continue
			}
		} else {
			t.put(s)
		}
		return res, hostErr
	}
}

// transaction sends one message on s. broken says s must not be reused.
func (t *transport) transaction(ctx context.Context, s *remoteConn, from string, rcpts []string, msg []byte) (res []*DeliveryError, hostErr *DeliveryError, broken bool) {
	stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(time.Now()) })
	defer func() {
		if !stop() {
			broken = true // the deadline was cut short: the connection is unusable
		}
	}()
	s.lastUsed = time.Now()
	s.msgs++

	opts := &smtp.MailOptions{Size: int64(len(msg))}
	if needsUTF8(from, rcpts) {
		if !s.utf8 {
			// RFC 6531 3.4: an SMTPUTF8 message to a server without
			// the extension cannot be delivered.
			return nil, permanent("5.6.7", "%s does not support SMTPUTF8, needed for non-ASCII addresses", s.host), false
		}
		opts.UTF8 = true
	}
	if err := s.c.Mail(from, opts); err != nil {
		e := classify(err, s.host)
		if e.Code >= 500 {
			// MAIL FROM refused for good: nothing else will help.
			res = make([]*DeliveryError, len(rcpts))
			for i := range res {
				res[i] = e
			}
			return res, nil, t.reset(s) != nil
		}
		return nil, e, e.Code == 0 || t.reset(s) != nil
	}
	res = make([]*DeliveryError, len(rcpts))
	var accepted []int
	for i, r := range rcpts {
		if err := s.c.Rcpt(r, nil); err != nil {
			e := classify(err, s.host)
			if e.Code == 0 {
				// Connection lost mid-transaction: everyone not yet
				// done is deferred; the connection is gone.
				for j := i; j < len(rcpts); j++ {
					res[j] = e
				}
				for _, j := range accepted {
					res[j] = e
				}
				return res, nil, true
			}
			res[i] = e
			continue
		}
		accepted = append(accepted, i)
	}
	if len(accepted) == 0 {
		return res, nil, t.reset(s) != nil
	}
	dataErr := func(err error) ([]*DeliveryError, *DeliveryError, bool) {
		e := classify(err, s.host)
		for _, j := range accepted {
			res[j] = e
		}
		if e.Code == 0 {
			return res, nil, true
		}
		return res, nil, t.reset(s) != nil
	}
	w, err := s.c.Data()
	if err != nil {
		return dataErr(err)
	}
	s.conn.SetDeadline(time.Now().Add(t.o.DataTimeout))
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return dataErr(err)
	}
	if err := w.Close(); err != nil {
		return dataErr(err)
	}
	s.lastUsed = time.Now()
	return res, nil, false
}

// reset aborts the current transaction (RSET) so the connection can be
// reused.
func (t *transport) reset(s *remoteConn) error {
	return s.c.Reset()
}

func needsUTF8(from string, rcpts []string) bool {
	if !mailaddr.IsASCII(from) {
		return true
	}
	for _, r := range rcpts {
		if !mailaddr.IsASCII(r) {
			return true
		}
	}
	return false
}

// get takes the most recently used idle connection to addr that meets tp, if
// any: over TLS when TLS is required, and with a certificate verified for
// name when that is required.
func (t *transport) get(addr, name string, tp tlsPolicy) (*remoteConn, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.idle[addr]
	for i := len(l) - 1; i >= 0; i-- {
		s := l[i]
		if time.Since(s.lastUsed) >= t.o.IdleTimeout {
			continue // expire closes it
		}
		if (tp.require && !s.tls) || (tp.verify && (!s.verified || !strings.EqualFold(s.host, name))) {
			continue
		}
		t.idle[addr] = slices.Delete(l, i, i+1)
		return s, true
	}
	return nil, false
}

// put returns a connection to the idle pool, or closes it when it has served
// enough messages or the pool is full.
func (t *transport) put(s *remoteConn) {
	if s.msgs >= t.o.MaxMessagesPerConn {
		go s.quit()
		return
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		go s.quit()
		return
	}
	l := append(t.idle[s.addr], s)
	var drop *remoteConn
	if len(l) > t.maxConns() {
		drop, l = l[0], l[1:]
	}
	t.idle[s.addr] = l
	t.mu.Unlock()
	if drop != nil {
		go drop.quit()
	}
}

// expire closes sessions idle for longer than IdleTimeout.
func (t *transport) expire() {
	var old []*remoteConn
	t.mu.Lock()
	for addr, l := range t.idle {
		keep := l[:0]
		for _, s := range l {
			if time.Since(s.lastUsed) >= t.o.IdleTimeout {
				old = append(old, s)
			} else {
				keep = append(keep, s)
			}
		}
		if len(keep) == 0 {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = keep
		}
	}
	t.mu.Unlock()
	for _, s := range old {
		s.quit()
	}
}

// closeAll closes every idle connection and refuses new ones.
func (t *transport) closeAll() {
	t.mu.Lock()
	t.closed = true
	var all []*remoteConn
	for _, l := range t.idle {
		all = append(all, l...)
	}
	t.idle = map[string][]*remoteConn{}
	t.mu.Unlock()
	for _, s := range all {
		s.quit()
	}
}

// dial opens a connection to addr: connect, greeting, EHLO, STARTTLS when
// offered (RFC 3207), EHLO again, AUTH for the smarthost. When the TLS
// handshake fails, the host is tried once more without TLS, unless TLS is
// required for the domain.
func (t *transport) dial(ctx context.Context, name, addr string, tp tlsPolicy) (*remoteConn, error) {
	s, err := t.dialOnce(ctx, name, addr, tp, false)
	if err != nil && errors.Is(err, errTLSHandshake) && !tp.require && !t.implicitTLS() && !t.smarthostNeedsTLS() {
		t.log.Warn("dispatcher: TLS handshake failed, retrying without TLS", "host", name, "addr", addr, "err", err)
		if tp.mode == mtasts.Testing {
			t.log.Warn("dispatcher: MTA-STS testing: enforce would defer this delivery", "domain", tp.domain, "host", name, "err", err)
		}
		return t.dialOnce(ctx, name, addr, tp, true)
	}
	return s, err
}

func (t *transport) implicitTLS() bool {
	return t.o.Smarthost != "" && t.o.SmarthostTLS == SmarthostImplicitTLS
}

func (t *transport) smarthostNeedsTLS() bool {
	return t.o.Smarthost != "" && t.o.SmarthostUsername != ""
}

// tlsConfig is the client TLS configuration for name. Opportunistic TLS
// to MX hosts does not insist on a valid certificate (RFC 7435: any
// encryption beats none; a failed check is logged), unless the domain's
// MTA-STS policy enforces it; the smarthost's certificate is verified
// unless SmarthostInsecureSkipVerify. *verified is set when the
// certificate is valid for name.
func (t *transport) tlsConfig(name string, tp tlsPolicy, verified *bool) *tls.Config {
	verify := tp.verify || (t.o.Smarthost != "" && !t.o.SmarthostInsecureSkipVerify)
	cfg := &tls.Config{
		ServerName:         name,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified below, by hand
		VerifyConnection: func(cs tls.ConnectionState) error {
			err := verifyChain(cs, name, t.o.RootCAs)
			*verified = err == nil
			switch {
			case err == nil:
			case verify:
				return err
			case tp.mode == mtasts.Testing:
				t.log.Warn("dispatcher: MTA-STS testing: enforce would refuse this certificate", "domain", tp.domain, "host", name, "err", err)
			default:
				t.log.Debug("dispatcher: unverified TLS certificate (opportunistic TLS goes on)", "host", name, "err", err)
			}
			return nil
		},
	}
	return cfg
}

func verifyChain(cs tls.ConnectionState, name string, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter})
	return err
}

func (t *transport) dialOnce(ctx context.Context, name, addr string, tp tlsPolicy, noTLS bool) (*remoteConn, error) {
	d := net.Dialer{Timeout: t.o.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			conn.Close()
		}
	}()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	s := &remoteConn{addr: addr, host: name, created: time.Now(), lastUsed: time.Now()}

	greeting := "" // the greeting, when we read it ourselves
	var tlsConn *tls.Conn
	if t.implicitTLS() {
		tlsConn = tls.Client(conn, t.tlsConfig(name, tp, &s.verified))
		hctx, cancel := context.WithTimeout(ctx, t.o.CommandTimeout)
		err := tlsConn.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%w with %s: %w", errTLSHandshake, name, err)
		}
		conn = tlsConn
	} else if !noTLS {
		// The greeting and the first EHLO are ours (go-smtp cannot
		// start TLS on a client it already greeted): if STARTTLS is
		// offered, we switch to TLS and hand go-smtp a connection
		// that replays a greeting; it then says EHLO again, as RFC
		// 3207 4.2 requires after the handshake.
		conn.SetDeadline(time.Now().Add(t.o.CommandTimeout))
		// The server sends nothing unasked after a reply, so the
		// reader's buffer never holds bytes of the TLS handshake.
		rd := textproto.NewReader(bufio.NewReader(conn))
		code, msg, err := rd.ReadResponse(220)
		if err != nil {
			return nil, replyError(err, code, msg)
		}
		greeting = "220 " + firstLine(msg) + "\r\n"
		if _, err := fmt.Fprintf(conn, "EHLO %s\r\n", t.o.Hostname); err != nil {
			return nil, err
		}
		code, msg, err = rd.ReadResponse(250)
		starttls := false
		if err == nil {
			for _, l := range strings.Split(msg, "\n")[1:] {
				if strings.EqualFold(strings.TrimSpace(l), "STARTTLS") {
					starttls = true
				}
			}
		} else if code == 0 || code < 500 {
			return nil, replyError(err, code, msg)
		}
		if starttls {
			if _, err := io.WriteString(conn, "STARTTLS\r\n"); err != nil {
				return nil, err
			}
			code, msg, err := rd.ReadResponse(220)
			if err != nil {
				if code == 0 {
					return nil, err
				}
				// RFC 3207 4: 454 TLS not available: go on in clear.
				t.log.Info("dispatcher: STARTTLS refused", "host", name, "reply", fmt.Sprintf("%d %s", code, msg))
			} else {
				tlsConn = tls.Client(conn, t.tlsConfig(name, tp, &s.verified))
				hctx, cancel := context.WithTimeout(ctx, t.o.CommandTimeout)
				err := tlsConn.HandshakeContext(hctx)
				cancel()
				if err != nil {
					return nil, fmt.Errorf("%w with %s: %w", errTLSHandshake, name, err)
				}
				conn = tlsConn
			}
		}
		conn.SetDeadline(time.Time{})
	}
	s.tls = tlsConn != nil
	if !s.tls && (tp.require || t.smarthostNeedsTLS() || (t.o.Smarthost != "" && t.o.SmarthostTLS == SmarthostStartTLS)) {
		if tp.verify {
			return nil, temporary("4.7.10", "%s does not offer TLS, which the MTA-STS policy of %s requires", name, tp.domain)
		}
		return nil, temporary("4.7.10", "%s does not offer TLS, which is required for this destination", name)
	}
	if !s.tls && tp.mode == mtasts.Testing {
		t.log.Warn("dispatcher: MTA-STS testing: enforce would refuse delivery without TLS", "domain", tp.domain, "host", name)
	}
	s.conn = conn
	c := smtp.NewClient(&replayConn{Conn: conn, pending: greeting})
	c.CommandTimeout = t.o.CommandTimeout
	c.SubmissionTimeout = t.o.DataTimeout
	s.c = c
	if err := c.Hello(t.o.Hostname); err != nil {
		return nil, err
	}
	s.utf8, _ = c.Extension("SMTPUTF8")
	if t.o.Smarthost != "" && t.o.SmarthostUsername != "" {
		if !c.SupportsAuth(sasl.Plain) {
			return nil, temporary("4.7.12", "smarthost %s does not offer AUTH PLAIN", name)
		}
		if err := c.Auth(sasl.NewPlainClient("", t.o.SmarthostUsername, t.o.SmarthostPassword)); err != nil {
			// A refused login is our configuration's fault, not the
			// recipient's: keep the mail and retry (RFC 4954 6).
			e := classify(err, name)
			e.Permanent = false
			if e.Code >= 500 {
				e.Status = "4.7.8"
			}
			return nil, e
		}
	}
	if s.tls {
		st := tlsConn.ConnectionState()
		t.log.Debug("dispatcher: connected", "host", name, "addr", addr, "tls", tls.VersionName(st.Version))
	} else {
		t.log.Debug("dispatcher: connected without TLS", "host", name, "addr", addr)
	}
	ok = true
	return s, nil
}

// replyError turns a textproto reply error into an SMTP error.
func replyError(err error, code int, msg string) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		se := &smtp.SMTPError{Code: te.Code, Message: te.Msg}
		if parts := strings.SplitN(te.Msg, " ", 2); len(parts) == 2 {
			if ec, ok := parseEnhanced(parts[0]); ok {
				se.EnhancedCode = ec
				se.Message = parts[1]
			}
		}
		return se
	}
	return err
}

func parseEnhanced(s string) (smtp.EnhancedCode, bool) {
	p := strings.Split(s, ".")
	if len(p) != 3 {
		return smtp.EnhancedCode{}, false
	}
	var ec smtp.EnhancedCode
	for i, x := range p {
		n, err := strconv.Atoi(x)
		if err != nil {
			return smtp.EnhancedCode{}, false
		}
		ec[i] = n
	}
	return ec, true
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	if l == "" {
		return "ESMTP"
	}
	return l
}

// replayConn is a connection whose first reads return a reply already
// consumed from the peer (the greeting), then the peer's bytes.
type replayConn struct {
	net.Conn
	pending string
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.pending != "" {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
