package smtpd

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"congthu/store"
)

// checkingMXStore records violations of the MX's promises in what reaches
// the store.
type checkingMXStore struct {
	MXStore
	mu   sync.Mutex
	errs []string
}

func (s *checkingMXStore) Deliver(ctx context.Context, d *store.Delivery) (*store.DeliveryResult, error) {
	var bad []string
	if len(d.Remote) > 0 || d.MailFrom != "" {
		bad = append(bad, "relayed: "+strings.Join(d.Remote, ","))
	}
	if !bytes.HasPrefix(d.Raw, []byte("Authentication-Results: "+mxHostname+";")) {
		bad = append(bad, "no Authentication-Results first")
	}
	if err := checkLineEndings(d.Raw); err != nil {
		bad = append(bad, "stored "+err.Error())
	}
	if len(bad) > 0 {
		s.mu.Lock()
		s.errs = append(s.errs, bad...)
		s.mu.Unlock()
	}
	return s.MXStore.Deliver(ctx, d)
}

func (s *checkingMXStore) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.errs
	s.errs = nil
	return e
}

// FuzzMX feeds arbitrary command streams to an MX server. It must not
// panic or hang, never relay, and store only CRLF-clean messages carrying
// our Authentication-Results.
func FuzzMX(f *testing.F) {
	tx := "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@" + domain + ">\r\nDATA\r\nFrom: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n.\r\n"
	for _, seed := range []string{
		"EHLO x\r\nQUIT\r\n",
		"EHLO mta.example.org\r\n" + tx + "QUIT\r\n",
		"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<vanthu@" + domain + ">\r\nRCPT TO:<x@example.org>\r\nDATA\r\nFrom: MAILER-DAEMON@x\r\n\r\nbounce\r\n.\r\n",
		"EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<relay@example.net>\r\nDATA\r\nFrom: a@example.org\r\n\r\nx\r\n.\r\n",
		"EHLO x\r\nMAIL FROM:<a@example.org> SIZE=99999999999\r\nRCPT TO:<bob@" + domain + ">\r\nBDAT 5 LAST\r\nhello",
		"EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@" + domain + ">\r\nDATA\r\nFrom: a@example.org\r\n\r\nx\n.\nMAIL FROM:<b@example.org>\r\n.\r\n",
		"EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@" + domain + ">\r\nDATA\r\nAuthentication-Results: " + mxHostname + "; spf=pass\r\nFrom: giamdoc@" + domain + "\r\nDKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; h=from; bh=x; b=y\r\n\r\nx\r\n.\r\n",
		"EHLO x\r\nSTARTTLS\r\n\x16\x03\x01\x00\x05hello",
		"EHLO x\r\nAUTH PLAIN AGFsaWNlAHg=\r\nRSET\r\nNOOP\r\nVRFY a\r\nDATA\r\n\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}

	fx := newMXFixture(f, "sqlite")
	st := &checkingMXStore{MXStore: fx.st}
	e := newMX(f, fx, MXOptions{Common: Common{ReadTimeout: 2 * time.Second, DataTimeout: 2 * time.Second, MaxMessageBytes: 64 << 10}, CheckTimeout: 2 * time.Second})
	e.srv.st = st
	e.srv.log = slog.New(slog.DiscardHandler)
	ln := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		e.srv.Serve(ln)
	}()
	f.Cleanup(func() { e.srv.Close(); <-served })

	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		sc := &loopbackPipe{Conn: server, closed: make(chan struct{})}
		ln.conns <- sc
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			io.Copy(io.Discard, client)
		}()
		client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := client.Write(in); isTimeout(err) {
			t.Fatalf("server stopped reading input for 5s")
		}
		time.Sleep(time.Millisecond)
		client.Close()
		select {
		case <-sc.closed:
		case <-time.After(10 * time.Second):
			t.Fatal("server did not close the connection after the client hung up")
		}
		<-drained
		if errs := st.take(); len(errs) > 0 {
			t.Fatalf("input %q: %v", in, errs)
		}
	})
}
