package imapd

import (
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestFetchmail fetches a mailbox with fetchmail (Debian 12's 6.4) over
// IMAP with STARTTLS on the plain listener, the server's certificate
// checked, into an MDA that writes each message to a file. Every unseen
// message arrives byte for byte (fetchmail hands an MDA LF line endings),
// the one already seen is left alone, and with "keep" the fetched
// messages stay on the server marked \Seen. A second run fetches nothing.
func TestFetchmail(t *testing.T) {
	fetchmail, err := exec.LookPath("fetchmail")
	if err != nil {
		t.Skip("fetchmail not installed")
	}
	e := newEnv(t, envOptions{})
	msgs := []string{
		message("Hồ sơ 000.12.34", "motcua@hanoi.gov.vn", "Đã xử lý.\r\n.dòng bắt đầu bằng dấu chấm\r\nFrom đầu dòng"),
		message("Thư mới", "vp@hanoi.gov.vn", strings.Repeat(strings.Repeat("Nội dung dài. ", 60)+"\r\n", 40)),
		message("Công văn số 12", "vp@hanoi.gov.vn", "x"),
	}
	for _, m := range msgs {
		e.deliver("", m)
	}
	seen := message("Đã đọc", "vp@hanoi.gov.vn", "đã đọc trước")
	e.deliver("", seen, `\Seen`)

	dir := t.TempDir()
	certFile := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsConfig(t).Certificates[0].Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(e.addr)
	// sslproto without ssl: STARTTLS, and fetchmail gives up rather than
	// log in without it.
	rc := fmt.Sprintf(`set invisible
poll localhost service %s proto IMAP
  user "%s" password "%s"
  sslproto "TLS1.2+" sslcertck sslcertfile "%s"
  keep no rewrite
  mda "/bin/sh -c 'cat > %s/$$'"
`, port, testUser, testPass, certFile, out)
	rcFile := filepath.Join(dir, "fetchmailrc")
	if err := os.WriteFile(rcFile, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() string {
		t.Helper()
		cmd := exec.Command(fetchmail, "-f", rcFile, "-N", "-v", "--pidfile", filepath.Join(dir, "pid"))
		cmd.Env = append(os.Environ(), "HOME="+dir, "FETCHMAILHOME="+dir)
		b, err := cmd.CombinedOutput()
		// Exit 1 is "no mail", which the second run expects.
		if err != nil && cmd.ProcessState.ExitCode() != 1 {
			t.Fatalf("fetchmail: %v\n%s\nserver log:\n%s", err, b, e.log)
		}
		return string(b)
	}
	log := run()
	if !strings.Contains(log, "STARTTLS") {
		t.Errorf("fetchmail did not use STARTTLS:\n%s", log)
	}

	files, _ := filepath.Glob(filepath.Join(out, "*"))
	var got []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	var want []string
	for _, m := range msgs {
		want = append(want, strings.ReplaceAll(m, "\r\n", "\n"))
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(got) != len(want) {
		t.Errorf("the MDA got %d messages, want the %d unseen ones\nfetchmail:\n%s", len(got), len(want), log)
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			n := 0
			for n < len(got[i]) && n < len(want[i]) && got[i][n] == want[i][n] {
				n++
			}
			t.Errorf("message %d (%d bytes, want %d) differs from byte %d: got %q, want %q", i, len(got[i]), len(want[i]), n, got[i][n:min(n+80, len(got[i]))], want[i][n:min(n+80, len(want[i]))])
		}
	}

	c := e.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	fetched, err := c.Fetch(imap.SeqSetNum(1, 2, 3, 4), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(fetched) != 4 {
		t.Fatalf("%d messages on the server after fetchmail with keep, want 4", len(fetched))
	}
	for _, m := range fetched {
		if !slices.Contains(m.Flags, imap.FlagSeen) || slices.Contains(m.Flags, imap.FlagDeleted) {
			t.Errorf("message %d has flags %v after fetchmail, want \\Seen and not \\Deleted", m.SeqNum, m.Flags)
		}
	}
	c.Logout().Wait()

	if log := run(); strings.Contains(log, "reading message") {
		t.Errorf("a second run fetched again:\n%s", log)
	}
	if again, _ := filepath.Glob(filepath.Join(out, "*")); len(again) != len(files) {
		t.Errorf("%d files after a second run, want %d", len(again), len(files))
	}
}
