package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"congthu/internal/testenv"
)

// sink is a go-smtp server standing in for the remote side (here the
// smarthost all remote mail goes to); it counts messages by Message-ID.
type sink struct {
	mu   sync.Mutex
	seen map[string]int
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

type sinkSession struct{ s *sink }

func (*sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (*sinkSession) Reset()                               {}
func (*sinkSession) Logout() error                        { return nil }
func (ss *sinkSession) Data(r io.Reader) error {
	br := bufio.NewReader(r)
	id := ""
	for {
		line, err := br.ReadString('\n')
		if err != nil || line == "\r\n" {
			break
		}
		if strings.HasPrefix(strings.ToLower(line), "message-id:") {
			id = strings.TrimSpace(line[len("message-id:"):])
		}
	}
	io.Copy(io.Discard, br)
	ss.s.mu.Lock()
	ss.s.seen[id]++
	ss.s.mu.Unlock()
	return nil
}

func startSink(t *testing.T) (*sink, string) {
	t.Helper()
	s := &sink{seen: map[string]int{}}
	srv := smtp.NewServer(s)
	srv.Domain = "sink.example"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s, ln.Addr().String()
}

// Submit 5,000 messages to remote recipients, kill -9 congthu midway,
// restart it: every message that got a 250 reaches the remote side. Zero
// lost is required; duplicates are counted and reported.
func TestE2ECrashLosesNothing(t *testing.T) {
	const total, sessions = 5000, 10
	sk, sinkAddr := startSink(t)
	n := newNode(t, "CONGTHU_REDIS_URL="+testenv.Redis(t), "CONGTHU_SMARTHOST="+sinkAddr, "CONGTHU_IMAP_ADDR=off", "CONGTHU_IMAPS_ADDR=off",
		"CONGTHU_SMTP_MAX_MESSAGES_PER_ACCOUNT_PER_HOUR=-1") // one account sends them all
	delete(n.addr, "imap")
	delete(n.addr, "imaps")
	n.admin(t, "", "domain", "add", "hanoi.gov.vn")
	const pw = "mat-khau-cua-an-1"
	n.admin(t, pw+"\n", "user", "add", "--password-stdin", "nva.stp@hanoi.gov.vn")
	n.start(t)

	var acked sync.Map // Message-ID -> true once 250 came back
	var nacked, next atomic.Int64
	killed := make(chan struct{})
	var killOnce sync.Once
	var wg sync.WaitGroup
	for s := 0; s < sessions; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *smtp.Client
			for {
				i := next.Add(1)
				if i > total {
					break
				}
				if i == total/2 {
					killOnce.Do(func() {
						n.cmd.Process.Signal(syscall.SIGKILL)
						<-n.done
						n.cmd = nil
						close(killed)
					})
				}
				id := fmt.Sprintf("<crash-%d@hanoi.gov.vn>", i)
				msg := fmt.Sprintf("From: nva.stp@hanoi.gov.vn\r\nTo: citizen%d@example.org\r\nSubject: crash %d\r\nMessage-ID: %s\r\n\r\n%s\r\n", i, i, id, strings.Repeat("x", 1000))
				for attempt := 0; ; attempt++ {
					if c == nil {
						var err error
						c, err = smtp.DialTLS(n.addr["submissions"], &tls.Config{InsecureSkipVerify: true})
						if err == nil {
							if err = c.Auth(sasl.NewPlainClient("", "nva.stp@hanoi.gov.vn", pw)); err != nil {
								c.Close()
								c = nil
							}
						}
						if err != nil {
							// The server is down: wait for the restart.
							time.Sleep(100 * time.Millisecond)
							if attempt > 600 {
								t.Errorf("cannot reconnect: %v", err)
								return
							}
							continue
						}
					}
					err := c.SendMail("nva.stp@hanoi.gov.vn", []string{fmt.Sprintf("citizen%d@example.org", i)}, strings.NewReader(msg))
					if err == nil {
						acked.Store(id, true)
						break
					}
					// No 250: the client may send again, as a real
					// one would.
					nacked.Add(1)
					c.Close()
					c = nil
				}
			}
			if c != nil {
				c.Quit()
			}
		}()
	}
	<-killed
	time.Sleep(500 * time.Millisecond)
	n.start(t)
	wg.Wait()

	want := 0
	acked.Range(func(any, any) bool { want++; return true })
	if want != total {
		t.Fatalf("%d messages acknowledged, want %d", want, total)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		missing := 0
		sk.mu.Lock()
		acked.Range(func(k, _ any) bool {
			if sk.seen[k.(string)] == 0 {
				missing++
			}
			return true
		})
		sk.mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged messages never reached the remote side", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
	sk.mu.Lock()
	dups := 0
	for _, c := range sk.seen {
		if c > 1 {
			dups += c - 1
		}
	}
	sk.mu.Unlock()
	t.Logf("%d messages acknowledged, all delivered; %d duplicate deliveries; %d submissions without a 250 (retried by the client)", want, dups, nacked.Load())
	n.stop(t)
}
