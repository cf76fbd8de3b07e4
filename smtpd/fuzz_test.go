package smtpd

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"congthu/loginlimit"
	"congthu/store"
)

// pipeListener hands net.Pipe connections to the server.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 587} }

// loopbackPipe is the server's end of a pipe, from 127.0.0.1 (so that
// AllowInsecureAuth lets the fuzzer reach AUTH and beyond), reporting when
// the server closed it.
type loopbackPipe struct {
	net.Conn
	closed chan struct{}
	once   sync.Once
}

func (c *loopbackPipe) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}

func (c *loopbackPipe) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// countingStore counts successful logins and deliveries.
type countingStore struct {
	testStore
	logins, delivered atomic.Int64
}

func (s *countingStore) Authenticate(ctx context.Context, address, password string) (*store.Account, error) {
	a, err := s.testStore.Authenticate(ctx, address, password)
	if err == nil {
		s.logins.Add(1)
	}
	return a, err
}

func (s *countingStore) Deliver(ctx context.Context, d *store.Delivery) (*store.DeliveryResult, error) {
	s.delivered.Add(1)
	return s.testStore.Deliver(ctx, d)
}

// FuzzSession feeds arbitrary command streams to a server. It must not
// panic or hang, and nothing may be stored by a session that did not log
// in.
func FuzzSession(f *testing.F) {
	plain := func(u, p string) string { return base64.StdEncoding.EncodeToString([]byte("\x00" + u + "\x00" + p)) }
	auth := "AUTH PLAIN " + plain("alice@"+domain, alicePass) + "\r\n"
	tx := "MAIL FROM:<alice@" + domain + ">\r\nRCPT TO:<bob@" + domain + ">\r\nDATA\r\nFrom: alice@" + domain + "\r\nSubject: hi\r\n\r\nhello\r\n.\r\n"
	for _, seed := range []string{
		"EHLO x\r\nQUIT\r\n",
		"EHLO x\r\nMAIL FROM:<alice@" + domain + ">\r\nRCPT TO:<bob@" + domain + ">\r\nDATA\r\nhi\r\n.\r\n",
		"EHLO x\r\n" + auth + tx + "QUIT\r\n",
		"EHLO x\r\nAUTH PLAIN " + plain("alice@"+domain, "wrong") + "\r\n" + tx,
		"EHLO x\r\nAUTH LOGIN\r\n" + base64.StdEncoding.EncodeToString([]byte("bob@"+domain)) + "\r\n" + base64.StdEncoding.EncodeToString([]byte(bobPass)) + "\r\n" + tx,
		"EHLO x\r\nAUTH PLAIN\r\n*\r\nMAIL FROM:<>\r\n",
		"HELO x\r\n" + auth + "MAIL FROM:<alice@" + domain + "> SIZE=99999999999\r\nRCPT TO:<a@example.org>\r\nBDAT 5 LAST\r\nhello",
		"EHLO x\r\n" + auth + "MAIL FROM:<alice@" + domain + ">\r\nRCPT TO:<bob@" + domain + ">\r\nDATA\r\nFrom: alice@" + domain + "\r\n\r\nx\n.\nMAIL FROM:<bob@" + domain + ">\r\n.\r\n",
		"EHLO x\r\nSTARTTLS\r\n\x16\x03\x01\x00\x05hello",
		"EHLO x\r\nRSET\r\nNOOP\r\nVRFY a\r\nDATA\r\n\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}

	st := &countingStore{testStore: openStore(f, "sqlite")}
	lim := loginlimit.Options{DelayAfter: -1, AccountFailures: 1 << 30, IPFailures: 1 << 30}
	e := newEnv(f, envConfig{st: st, lim: &lim, opts: Options{Common: Common{ReadTimeout: 2 * time.Second, DataTimeout: 2 * time.Second, MaxMessageBytes: 64 << 10}, AllowInsecureAuth: true}})
	ln := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		e.srv.Serve(ln)
	}()
	f.Cleanup(func() { e.srv.Close(); <-served })
	e.srv.log = slog.New(slog.DiscardHandler)

	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		sc := &loopbackPipe{Conn: server, closed: make(chan struct{})}
		ln.conns <- sc
		st.logins.Store(0)
		st.delivered.Store(0)
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			io.Copy(io.Discard, client)
		}()
		client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, err := client.Write(in)
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			t.Fatalf("server stopped reading input for 5s")
		}
		// Let the server answer what it read, then hang up.
		time.Sleep(time.Millisecond)
		client.Close()
		select {
		case <-sc.closed:
		case <-time.After(10 * time.Second):
			t.Fatal("server did not close the connection after the client hung up")
		}
		<-drained
		if st.delivered.Load() > 0 && st.logins.Load() == 0 {
			t.Fatalf("message stored without a login, input %q", in)
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
