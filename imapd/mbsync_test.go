package imapd

import (
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"congthu/imapd/wire"
)

// TestMbsync syncs a mailbox both ways with isync's mbsync (Debian 12's
// isync 1.4), over implicit TLS, with Vietnamese folder names on each
// side. isync 1.4 does not translate names: a Maildir folder is the
// server's name in modified UTF-7 as LIST gives it. The server's folder
// reaches the Maildir under that spelling, the Maildir's folder reaches
// the server under its Vietnamese name, and a second run changes nothing
// (no folder duplicated under another spelling, the fault raw UTF-8 names
// without UTF8=ACCEPT caused). A Maildir folder named in raw UTF-8 is
// refused by the server (BAD, RFC 6855 section 3) and mbsync says so.
func TestMbsync(t *testing.T) {
	mbsync, err := exec.LookPath("mbsync")
	if err != nil {
		t.Skip("mbsync (isync) not installed")
	}
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	const remote, local = "Hồ sơ đã xử lý", "Công văn đến"
	if _, err := e.st.CreateMailbox(ctx, e.acct.ID, remote, ""); err != nil {
		t.Fatal(err)
	}
	e.deliver(remote, message("Hồ sơ 000.12.34", "motcua@hanoi.gov.vn", "Đã xử lý."))
	e.deliver("", message("Thư mới", "vp@hanoi.gov.vn", "x"))

	dir := t.TempDir()
	certFile := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsConfig(t).Certificates[0].Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	maildir := filepath.Join(dir, "mail")
	msgDir := filepath.Join(maildir, wire.EncodeMUTF7(local))
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(msgDir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(msgDir, "cur", "1700000000.1.host:2,S"), []byte(message("Công văn số 12", "vp@hanoi.gov.vn", "Nội dung.")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(e.tlsAddr)
	cfg := fmt.Sprintf(`IMAPAccount congthu
Host localhost
Port %s
User %s
Pass "%s"
SSLType IMAPS
CertificateFile %s
AuthMechs LOGIN

IMAPStore remote
Account congthu

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Sync All
SyncState *
`, port, testUser, testPass, certFile, maildir, maildir)
	cfgFile := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() string {
		t.Helper()
		cmd := exec.Command(mbsync, "-c", cfgFile, "-a")
		cmd.Env = append(os.Environ(), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mbsync: %v\n%s\nserver log:\n%s", err, out, e.log)
		}
		return string(out)
	}
	run()

	// The server's folder and its message are in the Maildir.
	files, _ := filepath.Glob(filepath.Join(maildir, wire.EncodeMUTF7(remote), "cur", "*"))
	news, _ := filepath.Glob(filepath.Join(maildir, wire.EncodeMUTF7(remote), "new", "*"))
	if len(files)+len(news) != 1 {
		entries, _ := os.ReadDir(maildir)
		t.Errorf("Maildir folder %q holds %d messages, want 1 (Maildir: %v)", remote, len(files)+len(news), entries)
	}
	// The Maildir's folder is on the server, under its name.
	counts := func() map[string]uint32 {
		t.Helper()
		mboxes, err := e.st.Mailboxes(ctx, e.acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]uint32{}
		for _, m := range mboxes {
			st, err := e.st.Status(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			got[m.Name] = st.Messages
		}
		return got
	}
	first := counts()
	if first[local] != 1 {
		t.Errorf("server folder %q has %d messages, want 1 (mailboxes: %v)", local, first[local], first)
	}
	for name := range first {
		if strings.Contains(name, "&") {
			t.Errorf("server has a folder named in modified UTF-7: %q", name)
		}
	}
	run()
	if second := counts(); fmt.Sprint(second) != fmt.Sprint(first) {
		t.Errorf("second run changed the server: %v, was %v", second, first)
	}
	entries, _ := os.ReadDir(maildir)
	if len(entries) != len(first) {
		t.Errorf("Maildir folders %v, want one per server mailbox %v", entries, first)
	}

	// A raw UTF-8 folder name is refused, not taken as a second folder.
	for _, sub := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(maildir, "Lưu trữ", sub), 0o700)
	}
	cmd := exec.Command(mbsync, "-c", cfgFile, "-a")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "UTF8=ACCEPT") {
		t.Errorf("mbsync with a raw UTF-8 folder: %v\n%s", err, out)
	}
	if third := counts(); fmt.Sprint(third) != fmt.Sprint(first) {
		t.Errorf("the refused folder changed the server: %v, was %v", third, first)
	}
}
