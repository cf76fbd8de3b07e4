package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dmarc"
	"github.com/emersion/go-smtp"

	"congthu/dkim"
	"congthu/internal/testdns"
	"congthu/store"
)

const mxHostname = "mx.ubnd.hcm.gov.vn"

// mxFixture is a store with the local domain and its accounts, shared by
// the MX tests (creating accounts hashes passwords, slow under -race):
// alice (alias vanthu@), bob.
type mxFixture struct {
	st         testStore
	alice, bob *store.Account
}

func newMXFixture(t testing.TB, backend string) *mxFixture {
	t.Helper()
	ctx := context.Background()
	st := openStore(t, backend)
	fx := &mxFixture{st: st}
	if _, err := st.AddDomain(ctx, domain); err != nil {
		t.Fatal(err)
	}
	var err error
	if fx.alice, err = st.AddAccount(ctx, "alice@"+domain, alicePass); err != nil {
		t.Fatal(err)
	}
	if fx.bob, err = st.AddAccount(ctx, "bob@"+domain, bobPass); err != nil {
		t.Fatal(err)
	}
	if err := st.AddAlias(ctx, "alice@"+domain, "vanthu@"+domain); err != nil {
		t.Fatal(err)
	}
	return fx
}

// mxEnv is a running MX server over a fixture's store with its own test
// DNS server.
type mxEnv struct {
	*mxFixture
	srv       *MXServer
	dns       *testdns.Server
	addr      string
	clientTLS *tls.Config
	logs      *syncBuffer
}

// newMX starts an MX server; opts.Hostname, TLSConfig and Resolver are
// filled in.
func newMX(t testing.TB, fx *mxFixture, opts MXOptions) *mxEnv {
	t.Helper()
	e := &mxEnv{mxFixture: fx, dns: testdns.Start(t), logs: &syncBuffer{}}
	serverTLS, clientTLS, _ := testCerts(t)
	e.clientTLS = clientTLS
	opts.Hostname = mxHostname
	if opts.TLSConfig == nil {
		opts.TLSConfig = serverTLS
	}
	opts.Resolver = e.dns.Resolver()
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv = NewMX(opts, fx.st, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := e.srv.Serve(ln); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		e.srv.Close()
		wg.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

// dial connects as a sending MTA and says EHLO.
func (e *mxEnv) dial(t testing.TB, helo string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello(helo); err != nil {
		t.Fatal(err)
	}
	return c
}

// mxMessage is a message from another organization, with a token that
// finds it again in a mailbox.
func mxMessage(from, to, token string) []byte {
	return []byte("From: \"Sở Tư pháp\" <" + from + ">\r\n" +
		"To: <" + to + ">\r\n" +
		"Subject: =?UTF-8?B?" + "VGjDtG5nIGLDoW8=" + "?= " + token + "\r\n" +
		"Date: Thu, 02 Jan 2025 08:00:00 +0700\r\n" +
		"Message-ID: <" + token + "@example.org>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Kính gửi Ủy ban,\r\nVăn bản số " + token + ".\r\n")
}

var (
	dkimKeyOnce sync.Once
	dkimKey     []byte
	dkimKeyErr  error
)

// testDKIMKey is one RSA key for all tests (generating is slow).
func testDKIMKey(t testing.TB) []byte {
	t.Helper()
	dkimKeyOnce.Do(func() { dkimKey, dkimKeyErr = dkim.GenerateKey() })
	if dkimKeyErr != nil {
		t.Fatal(dkimKeyErr)
	}
	return dkimKey
}

// signed returns msg with a DKIM signature for d=domain, s=sel, and
// publishes the key in e's DNS.
func (e *mxEnv) signed(t testing.TB, msg []byte, domain, sel string) []byte {
	t.Helper()
	key := testDKIMKey(t)
	txt, err := dkim.TXTRecord(key)
	if err != nil {
		t.Fatal(err)
	}
	e.dns.SetTXT(sel+"._domainkey."+domain, txt)
	sig, err := dkim.Sign(msg, domain, sel, key)
	if err != nil {
		t.Fatal(err)
	}
	return append(sig, msg...)
}

// find returns the message containing token in an account's mailbox, or
// nil.
func (e *mxEnv) find(t testing.TB, acct *store.Account, mailbox, token string) *store.Message {
	t.Helper()
	ctx := context.Background()
	mb, err := e.st.Mailbox(ctx, acct.ID, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	metas, err := e.st.Messages(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var found *store.Message
	for _, m := range metas {
		msg, err := e.st.Message(ctx, mb.ID, m.UID)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(msg.Raw, []byte(token)) {
			if found != nil {
				t.Fatalf("token %s twice in %s", token, mailbox)
			}
			found = msg
		}
	}
	return found
}

// where reports the mailboxes of acct holding token: "INBOX", "Junk",
// "INBOX+Junk" or "".
func (e *mxEnv) where(t testing.TB, acct *store.Account, token string) string {
	t.Helper()
	var in []string
	for _, mb := range []string{"INBOX", "Junk"} {
		if e.find(t, acct, mb, token) != nil {
			in = append(in, mb)
		}
	}
	return strings.Join(in, "+")
}

// header parses the header section of a stored message.
func header(t testing.TB, raw []byte) textproto.MIMEHeader {
	t.Helper()
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("parse header: %v", err)
	}
	return h
}

// authResults returns the (unfolded) Authentication-Results field of a
// stored message, which must have exactly one.
func authResultsOf(t testing.TB, raw []byte) string {
	t.Helper()
	ar := header(t, raw).Values("Authentication-Results")
	if len(ar) != 1 {
		t.Fatalf("%d Authentication-Results fields, want 1: %q", len(ar), ar)
	}
	return strings.Join(strings.Fields(ar[0]), " ")
}

func mustContain(t testing.TB, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s %q lacks %q", what, s, w)
		}
	}
}

var tokenSeq struct {
	mu sync.Mutex
	n  int
}

// newToken is unique within the test binary.
func newToken(name string) string {
	tokenSeq.mu.Lock()
	defer tokenSeq.mu.Unlock()
	tokenSeq.n++
	return fmt.Sprintf("tok%d%s", tokenSeq.n, strings.NewReplacer(" ", "", "/", "", "_", "").Replace(name))
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func dmarcMode(s string) dmarc.AlignmentMode { return dmarc.AlignmentMode(s) }

func parseDMARC(s string) (*dmarc.Record, error) { return dmarc.Parse(s) }
