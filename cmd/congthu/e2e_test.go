package main

// End-to-end tests against the built binary, with third-party clients
// (Python's smtplib and imaplib) and go-imap's client.

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"congthu/internal/testenv"
)

// node is one `congthu serve` process.
type node struct {
	bin  string
	env  []string
	cmd  *exec.Cmd
	logs *syncBuffer
	addr map[string]string // listener name -> 127.0.0.1:port
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newNode prepares a node with its own data dir and ports; extra
// environment (database, redis) is added by the caller.
func newNode(t testing.TB, extra ...string) *node {
	t.Helper()
	n := &node{bin: testenv.GoBinary(t), addr: map[string]string{}}
	dir := t.TempDir()
	n.env = append(os.Environ(),
		"CONGTHU_CONFIG=",
		"CONGTHU_DATA_DIR="+dir,
		"CONGTHU_HOSTNAME=localhost",
		"CONGTHU_MX_ADDR=off",
		"CONGTHU_HTTP_ADDR=off",
		"CONGTHU_ADMIN_ADDR=off",
	)
	// Ports distinct from each other and from any the caller already
	// chose (an HTTP or SMSC address in extra).
	taken := strings.Join(extra, " ") + " "
	var ports []int
	for {
		ports = testenv.FreePorts(t, 4)
		clash := false
		for _, p := range ports {
			if strings.Contains(taken, fmt.Sprintf(":%d ", p)) || strings.Contains(taken, fmt.Sprintf(":%d/", p)) {
				clash = true
			}
		}
		if !clash {
			break
		}
	}
	for i, l := range []struct{ name, env string }{
		{"submission", "CONGTHU_SUBMISSION_ADDR"}, {"submissions", "CONGTHU_SUBMISSIONS_ADDR"},
		{"imap", "CONGTHU_IMAP_ADDR"}, {"imaps", "CONGTHU_IMAPS_ADDR"},
	} {
		a := fmt.Sprintf("127.0.0.1:%d", ports[i])
		n.addr[l.name] = a
		n.env = append(n.env, l.env+"="+a)
	}
	n.env = append(n.env, extra...)
	return n
}

// admin runs an admin subcommand of the binary, fails the test on error
// and returns its standard output (stderr names the store it opened).
func (n *node) admin(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(n.bin, args...)
	cmd.Env = n.env
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("congthu %v: %v: %s%s", args, err, out, stderr.Bytes())
	}
	return string(out)
}

// start runs `congthu serve` and waits until every listener accepts.
func (n *node) start(t testing.TB) {
	t.Helper()
	n.logs = &syncBuffer{}
	n.cmd = exec.Command(n.bin, "serve")
	n.cmd.Env = n.env
	n.cmd.Stdout = n.logs
	n.cmd.Stderr = n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.done = make(chan error, 1)
	go func() { n.done <- n.cmd.Wait() }()
	t.Cleanup(func() {
		if n.cmd != nil && n.cmd.ProcessState == nil {
			n.cmd.Process.Kill()
			<-n.done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range n.addr {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-n.done:
				t.Fatalf("congthu serve exited early: %v\n%s", err, n.logs)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("listener %s not up after 20s\n%s", a, n.logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// stop sends SIGTERM and requires a clean exit (status 0) within 15 s.
func (n *node) stop(t testing.TB) {
	t.Helper()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.done:
		if err != nil {
			t.Fatalf("congthu serve did not exit cleanly on SIGTERM: %v\n%s", err, n.logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("congthu serve still running 15s after SIGTERM\n%s", n.logs)
	}
	n.cmd = nil
}

func python(t *testing.T, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command("python3", append([]string{filepath.Join("testdata", script)}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, out)
	}
	return string(out)
}

type readResult struct {
	UIDValidity uint32   `json:"uidvalidity"`
	UID         uint32   `json:"uid"`
	Flags       []string `json:"flags"`
	Count       int      `json:"count"`
}

func readInbox(t *testing.T, n *node, user, pass, out string, flag bool) readResult {
	t.Helper()
	host, port, _ := net.SplitHostPort(n.addr["imaps"])
	args := []string{host, port, user, pass, out}
	if flag {
		args = append(args, "--flag")
	}
	s := python(t, "read.py", args...)
	var r readResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(s[strings.LastIndex(strings.TrimSpace(s), "\n")+1:])), &r); err != nil {
		t.Fatalf("read.py output %q: %v", s, err)
	}
	return r
}

// checkSameMessage checks that what IMAP returned is exactly what was
// submitted, after the Received: field the server prepends.
func checkSameMessage(t *testing.T, sentFile, gotFile string) {
	t.Helper()
	sent, err := os.ReadFile(sentFile)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(gotFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < len(sent) || !bytes.Equal(got[len(got)-len(sent):], sent) {
		t.Fatalf("stored message differs from the submitted one (got %d bytes, sent %d)", len(got), len(sent))
	}
	if !bytes.HasPrefix(got, []byte("Received: ")) {
		t.Errorf("stored message does not start with Received:, starts %q", got[:min(60, len(got))])
	}
}

func testSubmitReadRestart(t *testing.T, extra ...string) {
	n := newNode(t, extra...)
	n.admin(t, "", "domain", "add", "hanoi.gov.vn")
	const pa, pb = "mat-khau-cua-an-1", "mat-khau-cua-binh-2"
	n.admin(t, pa+"\n", "user", "add", "--password-stdin", "nva.stp@hanoi.gov.vn")
	n.admin(t, pb+"\n", "user", "add", "--password-stdin", "ttb.sotp@hanoi.gov.vn")
	n.start(t)

	dir := t.TempDir()
	sent := filepath.Join(dir, "sent.eml")
	host, port, _ := net.SplitHostPort(n.addr["submission"])
	python(t, "send.py", host, port, "nva.stp@hanoi.gov.vn", pa, "ttb.sotp@hanoi.gov.vn", sent)

	got1 := filepath.Join(dir, "got1.eml")
	r1 := readInbox(t, n, "ttb.sotp@hanoi.gov.vn", pb, got1, true)
	checkSameMessage(t, sent, got1)
	if r1.Count != 1 {
		t.Errorf("INBOX has %d messages, want 1", r1.Count)
	}
	for _, f := range []string{`\Flagged`, `$Important`} {
		if !contains(r1.Flags, f) {
			t.Errorf("flags after STORE: got %v, want %s among them", r1.Flags, f)
		}
	}

	// Implicit TLS submission works too.
	host, port, _ = net.SplitHostPort(n.addr["submissions"])
	python(t, "send.py", host, port, "nva.stp@hanoi.gov.vn", pa, "ttb.sotp@hanoi.gov.vn", filepath.Join(dir, "sent2.eml"), "--implicit-tls")

	n.stop(t)
	if !strings.Contains(n.logs.String(), "login") {
		t.Errorf("no login lines in the log:\n%s", n.logs)
	}
	if strings.Contains(n.logs.String(), pa) || strings.Contains(n.logs.String(), pb) {
		t.Errorf("a password appears in the log")
	}
	n.start(t)
	defer n.stop(t)

	// After the restart: the first message unchanged, same UIDVALIDITY,
	// UID and flags; the second one after it.
	got2 := filepath.Join(dir, "got2.eml")
	r2 := readInbox(t, n, "ttb.sotp@hanoi.gov.vn", pb, got2, false)
	if r2.Count != 2 {
		t.Fatalf("INBOX has %d messages after restart, want 2", r2.Count)
	}
	if r2.UIDValidity != r1.UIDValidity || r2.UID <= r1.UID {
		t.Errorf("after restart: uidvalidity %d uid %d; before: %d %d", r2.UIDValidity, r2.UID, r1.UIDValidity, r1.UID)
	}
	checkSameMessage(t, filepath.Join(dir, "sent2.eml"), got2)
	verify := exec.Command("python3", "-c", `
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL(sys.argv[1], int(sys.argv[2]), ssl_context=ctx)
m.login(sys.argv[3], sys.argv[4]); m.select("INBOX")
typ, d = m.uid("FETCH", sys.argv[5], "(FLAGS BODY.PEEK[])")
sys.stdout.buffer.write(d[0][0] + b"\n" + d[0][1])
`, strings.Split(n.addr["imaps"], ":")[0], strings.Split(n.addr["imaps"], ":")[1], "ttb.sotp@hanoi.gov.vn", pb, fmt.Sprint(r1.UID))
	out, err := verify.Output()
	if err != nil {
		t.Fatalf("fetch first message after restart: %v", err)
	}
	meta, body, _ := bytes.Cut(out, []byte("\n"))
	if !bytes.Contains(meta, []byte(`\Flagged`)) || !bytes.Contains(meta, []byte(`$Important`)) {
		t.Errorf("flags after restart: %s", meta)
	}
	got1b, _ := os.ReadFile(got1)
	if !bytes.Equal(body, got1b) {
		t.Errorf("first message changed across the restart (%d vs %d bytes)", len(body), len(got1b))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestE2ESubmitReadRestartSQLite(t *testing.T) {
	testSubmitReadRestart(t, "CONGTHU_REDIS_URL="+testenv.Redis(t))
}

func TestE2ESubmitReadRestartPostgres(t *testing.T) {
	testSubmitReadRestart(t, "CONGTHU_REDIS_URL="+testenv.Redis(t), "CONGTHU_DATABASE_URL="+testenv.Postgres(t))
}

// Two `congthu serve` processes share one PostgreSQL and one Redis: a
// message submitted on node A wakes an IDLE client on node B within a
// second (Redis pub/sub).
func TestE2ETwoNodesIdleWakeup(t *testing.T) {
	pg, rd := testenv.Postgres(t), testenv.Redis(t)
	a := newNode(t, "CONGTHU_DATABASE_URL="+pg, "CONGTHU_REDIS_URL="+rd)
	b := newNode(t, "CONGTHU_DATABASE_URL="+pg, "CONGTHU_REDIS_URL="+rd)
	a.admin(t, "", "domain", "add", "hanoi.gov.vn")
	const pw = "mat-khau-cua-an-1"
	a.admin(t, pw+"\n", "user", "add", "--password-stdin", "nva.stp@hanoi.gov.vn")
	a.start(t)
	defer a.stop(t)
	b.start(t)
	defer b.stop(t)

	exists := make(chan uint32, 16)
	c, err := imapclient.DialTLS(b.addr["imaps"], &imapclient.Options{
		TLSConfig: &tls.Config{InsecureSkipVerify: true},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("nva.stp@hanoi.gov.vn", pw).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}

	for i := 1; i <= 3; i++ {
		sent := time.Now()
		submit(t, a.addr["submissions"], "nva.stp@hanoi.gov.vn", pw, "nva.stp@hanoi.gov.vn",
			fmt.Sprintf("Subject: =?UTF-8?B?SOG7kyBzxqE=?= %d\r\nFrom: nva.stp@hanoi.gov.vn\r\nTo: nva.stp@hanoi.gov.vn\r\n\r\nBody %d\r\n", i, i))
		acked := time.Since(sent)
		select {
		case n := <-exists:
			woke := time.Since(sent)
			t.Logf("message %d: 250 after %v, EXISTS %d on the other node after %v", i, acked, n, woke)
			if n != uint32(i) {
				t.Errorf("EXISTS %d, want %d", n, i)
			}
			if woke-acked > time.Second {
				t.Errorf("IDLE woke %v after the 250, want under 1s", woke-acked)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("no EXISTS on node B within 3s of message %d", i)
		}
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	c.Logout().Wait()
}

// submit sends one message over implicit-TLS submission with go-smtp's client.
func submit(t *testing.T, addr, user, pass, to, msg string) {
	t.Helper()
	c, err := smtp.DialTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail(user, []string{to}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	c.Quit()
}
