package testenv

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EICAR is the EICAR anti-virus test file: harmless, and recognised as
// malware by every scanner. Clamd's signature for it is the one
// StartClamd writes (no signature download happens).
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// EICARSignature is the name clamd reports for EICAR with StartClamd's
// signature file.
const EICARSignature = "Eicar-Test-Signature-congthu.UNOFFICIAL"

// Spammy in a Subject makes StartRspamd's rspamd score a message 8
// (symbol CONGTHU_TEST_SPAMMY): "add header", between its add_header (6)
// and reject (15) thresholds.
const Spammy = "CONGTHU-TEST-SPAMMY"

// GTUBE is the spam test pattern rspamd rejects.
const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// Clamd is a clamd process owned by a test.
type Clamd struct {
	// Addr is "127.0.0.1:port"; Socket the Unix socket it also listens on.
	Addr, Socket string
	cmd          *exec.Cmd
	conf         string
}

// StartClamd starts a clamd (Debian's clamav-daemon) of the test's own on
// a free port and a Unix socket in a temporary directory, with one
// signature: EICAR's MD5 and size. It is stopped at cleanup.
func StartClamd(t testing.TB) *Clamd {
	t.Helper()
	if _, err := exec.LookPath("clamd"); err != nil {
		t.Fatalf("clamd not installed (scripts/test.sh installs clamav-daemon): %v", err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	sum := md5.Sum([]byte(EICAR))
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	sig := fmt.Sprintf("%s:%d:%s\n", hex.EncodeToString(sum[:]), len(EICAR), strings.TrimSuffix(EICARSignature, ".UNOFFICIAL"))
	if err := os.WriteFile(filepath.Join(db, "congthu.hdb"), []byte(sig), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Clamd{Addr: fmt.Sprintf("127.0.0.1:%d", FreePort(t)), Socket: filepath.Join(dir, "clamd.ctl"), conf: filepath.Join(dir, "clamd.conf")}
	host, port, _ := net.SplitHostPort(c.Addr)
	conf := fmt.Sprintf("Foreground yes\nDatabaseDirectory %s\nTCPAddr %s\nTCPSocket %s\nLocalSocket %s\nLogFile %s\nPidFile %s\nStreamMaxLength 30M\n",
		db, host, port, c.Socket, filepath.Join(dir, "clamd.log"), filepath.Join(dir, "clamd.pid"))
	if os.Geteuid() == 0 {
		conf += "User root\n"
	}
	if err := os.WriteFile(c.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Start(t)
	t.Cleanup(c.Stop)
	return c
}

// Start starts clamd (again, after Stop) and waits until it answers.
func (c *Clamd) Start(t testing.TB) {
	t.Helper()
	c.cmd = exec.Command("clamd", "-c", c.conf)
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("clamd: %v", err)
	}
	go c.cmd.Wait()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", c.Addr, time.Second)
		if err != nil {
			continue
		}
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		conn.Write([]byte("zPING\x00"))
		b := make([]byte, 5)
		n, _ := conn.Read(b)
		conn.Close()
		if string(b[:n]) == "PONG\x00" {
			return
		}
	}
	c.Stop()
	log, _ := os.ReadFile(filepath.Join(filepath.Dir(c.conf), "clamd.log"))
	t.Fatalf("clamd on %s did not answer: %s", c.Addr, log)
}

// Stop kills clamd.
func (c *Clamd) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Kill()
		for i := 0; i < 50; i++ {
			if conn, err := net.DialTimeout("tcp", c.Addr, 100*time.Millisecond); err == nil {
				conn.Close()
				time.Sleep(100 * time.Millisecond)
				continue
			}
			break
		}
	}
}

// Rspamd is an rspamd process owned by a test.
type Rspamd struct {
	// URL is the normal worker (checks); Controller the controller
	// (checks and learning, with Password).
	URL, Controller, Password string
	cmd                       *exec.Cmd
	done                      chan struct{}
	args                      []string
}

// rspamdPassword is the controller password of StartRspamd, and
// rspamdPasswordHash its hash as rspamadm pw made it.
const (
	rspamdPassword     = "congthu-test"
	rspamdPasswordHash = "$2$4u4zm9cw6k6si5jaxt15ff8qej1ys7sy$xxiz56rcg9b466apoktbeqpt54mou6y9mwguo1eaur6gjbfc9iub"
)

// StartRspamd starts an rspamd (Debian's package and configuration) of
// the test's own on free ports, as the _rspamd user when run as root, with
// its databases in a temporary directory and redisURL (may be "") as its
// Redis for statistics (learning). It takes 5 to 30 s to load. It is
// stopped at cleanup.
func StartRspamd(t testing.TB, redisAddr string) *Rspamd {
	t.Helper()
	if _, err := exec.LookPath("rspamd"); err != nil {
		t.Fatalf("rspamd not installed (scripts/test.sh installs it): %v", err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	for _, d := range []string{"local.d", "override.d", "db", "run", "log"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ports := FreePorts(t, 3)
	r := &Rspamd{URL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), Controller: fmt.Sprintf("http://127.0.0.1:%d", ports[1]), Password: rspamdPassword}
	files := map[string]string{
		"worker-normal.inc":     fmt.Sprintf("bind_socket = \"127.0.0.1:%d\";\ncount = 1;\n", ports[0]),
		"worker-controller.inc": fmt.Sprintf("bind_socket = \"127.0.0.1:%d\";\npassword = %q;\nenable_password = %q;\n", ports[1], rspamdPasswordHash, rspamdPasswordHash),
		"worker-proxy.inc":      fmt.Sprintf("bind_socket = \"127.0.0.1:%d\";\n", ports[2]),
		"logging.inc":           "type = \"console\";\nlevel = \"error\";\n",
		// No greylisting, so that a test's plain message is "no
		// action"; and a symbol that makes a message "add header".
		"actions.conf": "greylist = null;\n",
		"multimap.conf": "CONGTHU_TEST_SPAMMY {\n  type = \"header\";\n  header = \"Subject\";\n  regexp = true;\n" +
			"  map = \"file://" + filepath.Join(dir, "spammy.map") + "\";\n  score = 8.0;\n}\n",
		// No network here: the host and DNS checks would add scores
		// that depend on the machine.
		"hfilter.conf": "enabled = false;\n",
		// What docs/mail.md tells operators to set: the chartable
		// module takes Vietnamese letters for mixed scripts.
		"headers_group.conf": "symbols = {\n  \"R_MIXED_CHARSET\" { weight = 0.0; }\n}\n",
		"rbl.conf":           "enabled = false;\n",
	}
	if err := os.WriteFile(filepath.Join(dir, "spammy.map"), []byte("/"+Spammy+"/i\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if redisAddr != "" {
		files["redis.conf"] = fmt.Sprintf("servers = %q;\n", redisAddr)
		files["classifier-bayes.conf"] = "backend = \"redis\";\nmin_learns = 1;\n"
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, "local.d", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Debian trusts the controller's loopback clients without a password
	// (secure_ip); the tests check the password, so no address is
	// trusted.
	if err := os.WriteFile(filepath.Join(dir, "override.d", "worker-controller.inc"), []byte("secure_ip = \"192.0.2.1\";\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.args = []string{"-f", "-c", "/etc/rspamd/rspamd.conf", "--var=LOCAL_CONFDIR=" + dir,
		"--var=DBDIR=" + filepath.Join(dir, "db"), "--var=RUNDIR=" + filepath.Join(dir, "run"), "--var=LOGDIR=" + filepath.Join(dir, "log")}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("_rspamd")
		if err != nil {
			t.Fatalf("rspamd: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, uid, gid) })
		r.args = append([]string{"-u", "_rspamd", "-g", "_rspamd"}, r.args...)
	}
	r.Start(t)
	t.Cleanup(r.Stop)
	return r
}

// Start starts rspamd (again, after Stop) and waits until both workers
// answer.
func (r *Rspamd) Start(t testing.TB) {
	t.Helper()
	r.cmd = exec.Command("rspamd", r.args...)
	out := &strings.Builder{}
	r.cmd.Stdout, r.cmd.Stderr = out, out
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("rspamd: %v", err)
	}
	done := make(chan struct{})
	r.done = done
	go func() { r.cmd.Wait(); close(done) }()
	client := &http.Client{Timeout: time.Second}
	up := func(u string) bool {
		resp, err := client.Get(u + "/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("rspamd exited: %.2000s", out.String())
		default:
		}
		if up(r.URL) && up(r.Controller) {
			return
		}
	}
	r.Stop()
	t.Fatalf("rspamd did not answer on %s: %.2000s", r.URL, out.String())
}

// Stop kills rspamd and its workers.
func (r *Rspamd) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Signal(os.Interrupt)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
		}
	}
}
