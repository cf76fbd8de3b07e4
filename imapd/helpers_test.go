package imapd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/redis/go-redis/v9"

	"congthu/changebus"
	"congthu/store"
)

const (
	testUser = "nva.stp@hanoi.gov.vn"
	testPass = "Mật-khẩu-bí-mật-1"
)

// logBuf is a concurrency-safe log sink tests can read.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var (
	certOnce sync.Once
	testCert tls.Certificate
)

func tlsConfig(t testing.TB) *tls.Config {
	t.Helper()
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "localhost"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:     []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	return &tls.Config{Certificates: []tls.Certificate{testCert}}
}

// env is a store with one account and a server on 127.0.0.1 ports.
type env struct {
	t        testing.TB
	st       *store.Store
	srv      *Server
	acct     *store.Account
	addr     string // STARTTLS / plain
	tlsAddr  string // implicit TLS
	log      *logBuf
	notified atomic.Int64
}

type envOptions struct {
	url   string // "" = SQLite in a temp dir
	redis string // redis URL; "" = none
	ch    string
	opts  Options
	noAcc bool
}

func newEnv(t testing.TB, eo envOptions) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, log: &logBuf{}}
	log := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	bus := changebus.New()
	st, err := store.Open(ctx, store.Options{
		URL:     eo.url,
		DataDir: t.TempDir(),
		Changed: func(a, m, s int64) {
			e.notified.Add(1)
			bus.Publish(a, m, s)
		},
	}, log)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	if !eo.noAcc {
		if _, err := st.AddDomain(ctx, "hanoi.gov.vn"); err != nil && !strings.Contains(err.Error(), "exists") {
			t.Fatalf("AddDomain: %v", err)
		}
		acct, err := st.AddAccount(ctx, testUser, testPass)
		if err != nil {
			t.Fatalf("AddAccount: %v", err)
		}
		e.acct = acct
	}
	opts := eo.opts
	if opts.TLSConfig == nil {
		opts.TLSConfig = tlsConfig(t)
	}
	if eo.redis != "" {
		ro, err := redis.ParseURL(eo.redis)
		if err != nil {
			t.Fatal(err)
		}
		rc := redis.NewClient(ro)
		t.Cleanup(func() { rc.Close() })
		relay := changebus.StartRelay(bus, rc, eo.ch, log)
		t.Cleanup(relay.Close)
	}
	opts.Changes = bus
	e.srv = New(opts, st, nil, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lnTLS, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr, e.tlsAddr = ln.Addr().String(), lnTLS.Addr().String()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); e.srv.Serve(ln) }()
	go func() { defer wg.Done(); e.srv.ServeTLS(lnTLS) }()
	t.Cleanup(func() {
		e.srv.Close()
		wg.Wait()
	})
	return e
}

// client logs in over implicit TLS.
func (e *env) client(h *imapclient.UnilateralDataHandler) *imapclient.Client {
	e.t.Helper()
	c, err := imapclient.DialTLS(e.tlsAddr, &imapclient.Options{
		TLSConfig:             &tls.Config{InsecureSkipVerify: true},
		UnilateralDataHandler: h,
	})
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	e.t.Cleanup(func() { c.Close() })
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		e.t.Fatalf("login: %v", err)
	}
	// imapclient sends mailbox names in UTF-8 to a server that lists
	// IMAP4rev2, which RFC 6855 allows only after ENABLE UTF8=ACCEPT.
	if _, err := c.Enable(imap.CapUTF8Accept).Wait(); err != nil {
		e.t.Fatalf("enable: %v", err)
	}
	return c
}

// deliver puts a message in a mailbox of the test account through the store.
func (e *env) deliver(mailbox string, raw string, flags ...string) *store.AppendResult {
	e.t.Helper()
	res, err := e.st.Deliver(context.Background(), &store.Delivery{
		Raw:   []byte(raw),
		Local: []store.LocalTarget{{AccountID: e.acct.ID, Mailbox: mailbox, Flags: flags}},
	})
	if err != nil {
		e.t.Fatalf("deliver: %v", err)
	}
	return &res.Local[0]
}

// message builds a small RFC 5322 message.
func message(subject, from, body string) string {
	return fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 16 Mar 2026 09:30:00 +0700\r\nMessage-ID: <%d@hanoi.gov.vn>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n",
		from, testUser, subject, time.Now().UnixNano(), body)
}
