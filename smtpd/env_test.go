package smtpd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/crypto/argon2"

	"congthu/internal/testenv"
	"congthu/loginlimit"
	"congthu/outbox"
	"congthu/store"
)

// testStore is the store as the tests use it: the server's Store plus what
// it takes to set up accounts and look at the result.
type testStore interface {
	Store
	AddDomain(ctx context.Context, name string) (*store.Domain, error)
	AddAccount(ctx context.Context, address, password string) (*store.Account, error)
	AddAlias(ctx context.Context, target, alias string) error
	SetPasswordHash(ctx context.Context, address, hash string) error
	Mailbox(ctx context.Context, accountID int64, name string) (*store.Mailbox, error)
	Messages(ctx context.Context, mailboxID int64) ([]store.MessageMeta, error)
	Message(ctx context.Context, mailboxID int64, uid uint32) (*store.Message, error)
	Outbox() *outbox.Store
	Close() error
}

const (
	domain    = "ubnd.hcm.gov.vn"
	alicePass = "Mật-khẩu của Alice 1"
	bobPass   = "bob-secret-2"
)

// openStore opens a store for tests: "sqlite" in a temp dir or "postgres"
// on the test cluster.
func openStore(t testing.TB, backend string) testStore {
	t.Helper()
	ctx := context.Background()
	opts := store.Options{DataDir: t.TempDir()}
	if backend == "postgres" {
		opts.URL = testenv.Postgres(t)
	}
	st, err := store.Open(ctx, opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open %s store: %v", backend, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// env is a running submission server over a fresh store with accounts:
// alice (alias vanthu@), bob (alias phong@).
type env struct {
	st         testStore
	srv        *Server
	lim        *loginlimit.Limiter
	addr       string // STARTTLS listener
	tlsAddr    string // implicit-TLS listener
	clientTLS  *tls.Config
	certDER    []byte // the server's self-signed certificate
	logs       *syncBuffer
	alice, bob *store.Account
}

type envConfig struct {
	backend string
	opts    Options
	lim     *loginlimit.Options
	st      testStore // instead of opening one
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	if cfg.backend == "" {
		cfg.backend = "sqlite"
	}
	st := cfg.st
	if st == nil {
		st = openStore(t, cfg.backend)
	}
	ctx := context.Background()
	e := &env{st: st, logs: &syncBuffer{}}
	if _, err := st.AddDomain(ctx, domain); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.alice, err = st.AddAccount(ctx, "alice@"+domain, alicePass); err != nil {
		t.Fatal(err)
	}
	if e.bob, err = st.AddAccount(ctx, "bob@"+domain, bobPass); err != nil {
		t.Fatal(err)
	}
	// Cheap hashes: the store's argon2 parameters take seconds per
	// verification under the race detector.
	for addr, pass := range map[string]string{"alice@" + domain: alicePass, "bob@" + domain: bobPass} {
		if err := st.SetPasswordHash(ctx, addr, cheapHash(pass)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddAlias(ctx, "alice@"+domain, "vanthu@"+domain); err != nil {
		t.Fatal(err)
	}
	if err := st.AddAlias(ctx, "bob@"+domain, "phong@"+domain); err != nil {
		t.Fatal(err)
	}

	serverTLS, clientTLS, der := testCerts(t)
	e.clientTLS, e.certDER = clientTLS, der
	opts := cfg.opts
	opts.Hostname = "mail.ubnd.hcm.gov.vn"
	if opts.TLSConfig == nil {
		opts.TLSConfig = serverTLS
	}
	limOpts := loginlimit.Options{DelayAfter: -1}
	if cfg.lim != nil {
		limOpts = *cfg.lim
	}
	e.lim = loginlimit.New(limOpts)
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv = New(opts, st, e.lim, log)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr, e.tlsAddr = ln.Addr().String(), tln.Addr().String()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := e.srv.Serve(ln); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := e.srv.ServeTLS(tln); err != nil {
			t.Errorf("ServeTLS: %v", err)
		}
	}()
	t.Cleanup(func() {
		e.srv.Close()
		wg.Wait()
		if bytes.Contains(e.logs.Bytes(), []byte(alicePass)) || bytes.Contains(e.logs.Bytes(), []byte(bobPass)) {
			t.Errorf("a password is in the log")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

// dial connects to the STARTTLS listener without TLS.
func (e *env) dial(t testing.TB) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialStartTLS connects to the STARTTLS listener and starts TLS.
func (e *env) dialStartTLS(t testing.TB) *smtp.Client {
	t.Helper()
	c, err := smtp.DialStartTLS(e.addr, e.clientTLS)
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// login connects, starts TLS and authenticates with PLAIN.
func (e *env) login(t testing.TB, user, pass string) *smtp.Client {
	t.Helper()
	c := e.dialStartTLS(t)
	if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
		t.Fatalf("AUTH as %s: %v", user, err)
	}
	return c
}

// send runs one transaction; it returns the DATA reply text or the first
// error.
func send(c *smtp.Client, from string, to []string, msg []byte) (string, error) {
	if err := c.Mail(from, nil); err != nil {
		return "", err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return "", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if _, err := w.Write(msg); err != nil {
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	return resp.StatusText, nil
}

// wantCode checks err is an SMTP reply with that code and enhanced code.
func wantCode(t testing.TB, err error, code int, enh smtp.EnhancedCode) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want SMTP error %d %v", err, code, enh)
	}
	if se.Code != code || se.EnhancedCode != enh {
		t.Fatalf("got %d %v %q, want %d %v", se.Code, se.EnhancedCode, se.Message, code, enh)
	}
}

// inbox returns the messages in an account's INBOX.
func (e *env) inbox(t testing.TB, acct *store.Account) []*store.Message {
	t.Helper()
	ctx := context.Background()
	mb, err := e.st.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	metas, err := e.st.Messages(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ms []*store.Message
	for _, m := range metas {
		msg, err := e.st.Message(ctx, mb.ID, m.UID)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, msg)
	}
	return ms
}

// cheapHash is an argon2id PHC string with the smallest parameters.
func cheapHash(password string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, 1, 64, 1, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=64,t=1,p=1$%s$%s", argon2.Version, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// testCerts makes a self-signed certificate for localhost and 127.0.0.1.
func testCerts(t testing.TB) (server, client *tls.Config, der []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"localhost", "mail.ubnd.hcm.gov.vn"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	client = &tls.Config{RootCAs: pool, ServerName: "localhost"}
	return server, client, der
}

func splitHostPort(t testing.TB, addr string) (host, port string) {
	t.Helper()
	var err error
	if host, port, err = net.SplitHostPort(addr); err != nil {
		t.Fatal(err)
	}
	return host, port
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }

func (b *syncBuffer) Contains(s string) bool { return strings.Contains(b.String(), s) }
