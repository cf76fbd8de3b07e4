package dispatcher

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/redis/go-redis/v9"

	"congthu/dkim"
	"congthu/internal/testdns"
	"congthu/internal/testenv"
	"congthu/notify/notifydb"
	"congthu/outbox"
	"congthu/queue"
	"congthu/store"
)

// ---- a remote MX: a go-smtp server that records what it gets ----

type sinkMsg struct {
	from  string
	rcpts []string
	data  []byte
	tls   bool
	at    time.Time
}

type sinkOpts struct {
	addr      string // default 127.0.0.1:0
	tls       bool   // offer STARTTLS
	brokenTLS bool   // offer STARTTLS, but the handshake fails
	implicit  bool   // TLS from the first byte (smarthost on 465)
	authUser  string // require AUTH PLAIN with this user and authPass
	authPass  string
	// rcpt, if set, answers RCPT TO (nil accepts).
	rcpt func(rcpt string) error
	// data, if set, answers the end of DATA (nil accepts).
	data func() error
	// cert, if set, is the certificate offered with STARTTLS (default:
	// a self-signed one for sink.test).
	cert      *tls.Certificate
	dataDelay time.Duration
}

type sink struct {
	t    testing.TB
	o    sinkOpts
	ln   net.Listener
	srv  *smtp.Server
	addr string

	mu       sync.Mutex
	msgs     []sinkMsg
	attempts []time.Time // MAIL FROM times
	authed   []string

	conns, active, maxActive, sessions atomic.Int64
	got                                chan struct{}
}

var (
	certOnce sync.Once
	testCert tls.Certificate
)

// selfSigned returns a throwaway certificate for "mx.test" hosts.
func selfSigned(t testing.TB) tls.Certificate {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sink.test"},
			DNSNames: []string{"sink.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	return testCert
}

func startSink(t testing.TB, o sinkOpts) *sink {
	t.Helper()
	if o.addr == "" {
		o.addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		t.Fatalf("sink: listen %s: %v", o.addr, err)
	}
	s := &sink{t: t, o: o, got: make(chan struct{}, 100000), addr: ln.Addr().String()}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		n := s.active.Add(1)
		s.sessions.Add(1)
		for {
			m := s.maxActive.Load()
			if n <= m || s.maxActive.CompareAndSwap(m, n) {
				break
			}
		}
		return &sinkSession{s: s, c: c}, nil
	}))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = false
	srv.EnableSMTPUTF8 = true
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.ErrorLog = nopLogger{}
	cert := selfSigned(t)
	if o.cert != nil {
		cert = *o.cert
	}
	switch {
	case o.brokenTLS:
		// Offers STARTTLS, but speaks only TLS 1.1, which our
		// client (TLS 1.2 at least) refuses.
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10}
	case o.tls || o.implicit:
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	var l net.Listener = countingListener{ln, s}
	if o.implicit {
		l = tls.NewListener(l, srv.TLSConfig)
	}
	s.ln, s.srv = ln, srv
	go srv.Serve(l)
	t.Cleanup(s.close)
	return s
}

func (s *sink) close() { s.srv.Close() }

func (s *sink) port() string { _, p, _ := net.SplitHostPort(s.addr); return p }

func (s *sink) messages() []sinkMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkMsg(nil), s.msgs...)
}

func (s *sink) count() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.msgs) }

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

type countingListener struct {
	net.Listener
	s *sink
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.conns.Add(1)
	}
	return c, err
}

type sinkSession struct {
	s     *sink
	c     *smtp.Conn
	from  string
	rcpts []string
	user  string
}

func (ss *sinkSession) AuthMechanisms() []string {
	if ss.s.o.authUser == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *sinkSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.o.authUser || password != ss.s.o.authPass {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		ss.s.mu.Lock()
		ss.s.authed = append(ss.s.authed, username)
		ss.s.mu.Unlock()
		return nil
	}), nil
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.o.authUser != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.s.mu.Lock()
	ss.s.attempts = append(ss.s.attempts, time.Now())
	ss.s.mu.Unlock()
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if f := ss.s.o.rcpt; f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.s.o.dataDelay > 0 {
		time.Sleep(ss.s.o.dataDelay)
	}
	if f := ss.s.o.data; f != nil {
		if err := f(); err != nil {
			return err
		}
	}
	_, isTLS := ss.c.TLSConnectionState()
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, sinkMsg{from: ss.from, rcpts: append([]string(nil), ss.rcpts...), data: b, tls: isTLS, at: time.Now()})
	ss.s.mu.Unlock()
	select {
	case ss.s.got <- struct{}{}:
	default:
	}
	return nil
}

func (ss *sinkSession) Reset()        { ss.from, ss.rcpts = "", nil }
func (ss *sinkSession) Logout() error { ss.s.active.Add(-1); return nil }

// ---- the dispatcher with a real store, Redis and DNS ----

type fakeClock struct{ off atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

type env struct {
	enq   *Enqueuer
	t     testing.TB
	ctx   context.Context
	st    *store.Store
	nst   *notifydb.Store // the notification store in st's database
	rdb   *redis.Client
	q     *queue.Client
	dns   *testdns.Server
	d     *Dispatcher
	clock *fakeClock
	alice *store.Account
	key   []byte
	final chan string // "rcpt status" from finalHook
	stop  func()
}

type envOpts struct {
	postgres bool
	redisURL string // default testenv.Redis
	noRun    bool   // do not start Run (tests call AttemptNow)
	noFinal  bool   // do not subscribe finalHook (benchmarks)
	opts     func(*Options)
}

var (
	keyOnce sync.Once
	testKey []byte
)

func dkimKey(t testing.TB) []byte {
	keyOnce.Do(func() {
		k, err := dkim.GenerateKey()
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("CONGTHU_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newEnv(t testing.TB, eo envOpts) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, ctx: ctx, clock: &fakeClock{}, final: make(chan string, 100000)}
	so := store.Options{DataDir: t.TempDir()}
	if eo.postgres {
		so.URL = testenv.Postgres(t)
	}
	var ep atomic.Pointer[Enqueuer] // made once the queue client is
	so.Outbox.Added = func(id int64) {
		if en := ep.Load(); en != nil {
			en.Add(id)
		}
	}
	st, err := store.Open(ctx, so, testLogger(t))
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	e.nst = notifydb.New(st)
	if _, err := st.AddDomain(ctx, "local.test"); err != nil {
		t.Fatal(err)
	}
	e.key = dkimKey(t)
	if err := st.SetDomainDKIM(ctx, "local.test", "sel1", e.key); err != nil {
		t.Fatal(err)
	}
	if e.alice, err = st.AddAccount(ctx, "alice@local.test", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	u := eo.redisURL
	if u == "" {
		u = testenv.Redis(t)
	}
	ro, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	ro.PoolSize = 200
	e.rdb = redis.NewClient(ro)
	t.Cleanup(func() { e.rdb.Close() })
	e.q = queue.NewClient(e.rdb)
	enq := NewEnqueuer(e.q, testLogger(t))
	e.enq = enq
	ep.Store(enq)
	e.dns = startDNS(t)
	txt, err := dkim.TXTRecord(e.key)
	if err != nil {
		t.Fatal(err)
	}
	e.dns.SetTXT("sel1._domainkey.local.test", txt)

	o := Options{
		Hostname:      "mta.local.test",
		Resolver:      e.dns.Resolver(),
		RetrySchedule: []time.Duration{50 * time.Millisecond},
		KeepFinished:  true,
		Now:           e.clock.Now,
		IdleTimeout:   2 * time.Second,
	}
	if !eo.noFinal {
		st.Outbox().AddHook(finalHook{e.final})
	}
	if eo.opts != nil {
		eo.opts(&o)
	}
	d, err := New(o, st, st.Outbox(), e.q, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	e.d = d
	if !eo.noRun {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go enq.Run(rctx)
		go func() { done <- d.Run(rctx) }()
		e.stop = func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return")
			}
		}
		t.Cleanup(func() {
			if e.stop != nil {
				e.stop()
				e.stop = nil
			}
		})
	}
	return e
}

// mx points domain's MX at 127.0.0.1 (the sinks' port is Options.Port).
func (e *env) mx(domain string, hosts ...testdns.MX) { e.dns.SetMX(domain, hosts...) }

// message returns a CRLF message from alice with a body of about size bytes.
func message(from, to, subject string, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Alice <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: Mon, 02 Feb 2026 10:00:00 +0700\r\nMessage-ID: <%d@local.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		from, to, subject, time.Now().UnixNano())
	line := "Kính gửi ông/bà, đây là nội dung thư thử nghiệm. Lorem ipsum dolor sit amet.\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	b.WriteString(".leading dot line\r\n")
	return b.Bytes()
}

// submit stores a message from alice for the remote recipients and
// enqueues its delivery; it returns the outbox ID.
func (e *env) submit(from string, rcpts []string, raw []byte) int64 {
	e.t.Helper()
	res, err := e.st.Deliver(e.ctx, &store.Delivery{Raw: raw, MailFrom: from, Remote: rcpts,
		Local: []store.LocalTarget{{AccountID: e.alice.ID, Mailbox: "Sent", Flags: []string{store.FlagSeen}}}})
	if err != nil {
		e.t.Fatalf("deliver: %v", err)
	}
	e.enq.Add(res.OutboxID)
	return res.OutboxID
}

// state returns the outbox entry's recipients by address.
func (e *env) state(id int64) map[string]outbox.RecipientState {
	e.t.Helper()
	st, err := e.st.Outbox().State(e.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		e.t.Fatalf("outbox state: %v", err)
	}
	m := map[string]outbox.RecipientState{}
	for _, r := range st.Recipients {
		m[r.Address] = r
	}
	return m
}

// waitStatus waits until rcpt of entry id has status.
func (e *env) waitStatus(id int64, rcpt, status string, timeout time.Duration) outbox.RecipientState {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var last outbox.RecipientState
	for time.Now().Before(deadline) {
		last = e.state(id)[rcpt]
		if last.Status == status {
			return last
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("outbox %d %s: status %q (attempts %d, last error %q), want %q", id, rcpt, last.Status, last.Attempts, last.LastError, status)
	return last
}

// verifyDKIM verifies the DKIM signatures of msg against the test DNS.
func (e *env) verifyDKIM(msg []byte) ([]*msgdkim.Verification, error) {
	return msgdkim.VerifyWithOptions(bytes.NewReader(msg), &msgdkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) { return e.dns.Resolver().LookupTXT(context.Background(), domain) },
	})
}

// inbox returns the raw messages in alice's INBOX.
func (e *env) inbox() [][]byte {
	e.t.Helper()
	mb, err := e.st.Mailbox(e.ctx, e.alice.ID, "INBOX")
	if err != nil {
		e.t.Fatal(err)
	}
	metas, err := e.st.Messages(e.ctx, mb.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out [][]byte
	for _, m := range metas {
		msg, err := e.st.Message(e.ctx, mb.ID, m.UID)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, msg.Raw)
	}
	return out
}

func (e *env) waitInbox(n int, timeout time.Duration) [][]byte {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		in := e.inbox()
		if len(in) >= n || time.Now().After(deadline) {
			if len(in) < n {
				e.t.Fatalf("INBOX has %d messages, want %d", len(in), n)
			}
			return in
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// smtpErr is a reply a sink gives.
func smtpErr(code int, enh [3]int, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode(enh), Message: msg}
}

// portOpts sets Options.Port to the sinks' port.
func portOf(t testing.TB, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscanf(p, "%d", &n)
	return n
}

func hasPrefix(b []byte, p string) bool { return strings.HasPrefix(string(b), p) }

func jobFor(id int64) queue.Job { return queue.Job{ID: JobID(id), Queue: Queue} }

// startDNS starts a testdns server, trying again when its TCP port (the
// same number as the UDP port it got) happens to be taken by one of the
// many short-lived connections these tests make.
func startDNS(t testing.TB) *testdns.Server {
	t.Helper()
	for try := 0; ; try++ {
		s, err := func() (s *testdns.Server, err error) {
			defer func() {
				if p := recover(); p != nil {
					f, ok := p.(fatal)
					if !ok {
						panic(p)
					}
					err = errors.New(string(f))
				}
			}()
			return testdns.Start(fatalTB{t}), nil
		}()
		if err == nil {
			return s
		}
		if try == 10 {
			t.Fatalf("testdns: %v", err)
		}
	}
}

type fatal string

// fatalTB turns Fatal into a panic that startDNS recovers.
type fatalTB struct{ testing.TB }

func (f fatalTB) Fatal(args ...any)                 { panic(fatal(fmt.Sprint(args...))) }
func (f fatalTB) Fatalf(format string, args ...any) { panic(fatal(fmt.Sprintf(format, args...))) }

// finalHook is an outbox hook that sends "rcpt status" on final for every
// recipient that reached a final state, once that is durable.
type finalHook struct{ final chan string }

func (h finalHook) OutboxRecording(context.Context, *outbox.Tx, []int64) (func(context.Context, *outbox.Tx, []outbox.Outcome) error, error) {
	return func(_ context.Context, tx *outbox.Tx, outcomes []outbox.Outcome) error {
		for _, o := range outcomes {
			if o.Final {
				s := o.Recipient + " " + o.Status
				tx.AfterCommit(func(context.Context) { h.final <- s })
			}
		}
		return nil
	}, nil
}
