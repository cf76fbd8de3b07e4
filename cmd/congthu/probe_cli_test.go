package main

// Probes of the newcomer's and the local user's view of the binary: file
// modes in the data dir, admin commands run from the wrong directory,
// flags after positional arguments.

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"congthu/internal/testenv"
)

// cliRun runs the built binary in dir with env and stdin and returns its
// exit status, stdout and stderr.
func cliRun(t *testing.T, bin, dir string, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("congthu %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// dataDirModes returns every entry under dir whose mode is not private
// (0700 for directories, 0600 for files), with its mode.
func dataDirModes(t *testing.T, dir string) (bad []string, files []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // a temp file gone meanwhile
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, rel)
		if info.Mode().Perm() != want {
			bad = append(bad, rel+" "+info.Mode().String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad, files
}

// TestProbeFileModes: the first start of serve and the first account make
// every file under the data dir 0600 and the dir 0700 while the server
// runs (the old binary left the SQLite -wal and -shm files 0644, so any
// local user could read a new password hash); a file left 0644 and a dir
// left 0755 are fixed at start, with a warning naming the file.
func TestProbeFileModes(t *testing.T) {
	n := newNode(t)
	dir := envValue(n.env, "CONGTHU_DATA_DIR")
	// What an older version or a careless copy left behind.
	old := filepath.Join(dir, "old-export.txt")
	if err := os.WriteFile(old, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(old, 0o644) // whatever this process's umask
	os.Chmod(dir, 0o755)

	n.start(t)
	defer n.stop(t)
	n.admin(t, "", "domain", "add", "hanoi.gov.vn")
	n.admin(t, "mat-khau-rat-dai-1\n", "user", "add", "--password-stdin", "nva.stp@hanoi.gov.vn")

	bad, files := dataDirModes(t, dir)
	if len(bad) > 0 {
		t.Errorf("files readable by others in the data dir while serving: %v", bad)
	}
	for _, want := range []string{"congthu.db", "congthu.db-wal", "congthu.db-shm", "selfsigned-cert.pem", "selfsigned-key.pem", "old-export.txt"} {
		found := false
		for _, f := range files {
			found = found || f == want
		}
		if !found {
			t.Errorf("no %s in the data dir (have %v): the probe did not see what it checks", want, files)
		}
	}
	logs := n.logs.String()
	for _, want := range []string{"level=WARN msg=\"data dir: file was readable by others; made private\" file=" + old + " was=0644 now=0600",
		"file=" + dir + " was=0755 now=0700"} {
		if !strings.Contains(logs, want) {
			t.Errorf("serve log lacks %q:\n%s", want, logs)
		}
	}
}

// TestProbeAdminFileModes: an admin command that opens the store fixes
// the data dir too and creates nothing readable by others.
func TestProbeAdminFileModes(t *testing.T) {
	bin := testenv.GoBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	env := append(os.Environ(), "CONGTHU_CONFIG=", "CONGTHU_DATA_DIR="+dir)
	if code, _, errs := cliRun(t, bin, t.TempDir(), env, "", "domain", "add", "hanoi.gov.vn"); code != 0 {
		t.Fatalf("domain add: exit %d: %s", code, errs)
	}
	if bad, _ := dataDirModes(t, dir); len(bad) > 0 {
		t.Errorf("after domain add: %v", bad)
	}
	os.Chmod(filepath.Join(dir, "congthu.db"), 0o644)
	code, _, errs := cliRun(t, bin, t.TempDir(), env, "mat-khau-rat-dai-1\n", "user", "add", "--password-stdin", "a@hanoi.gov.vn")
	if code != 0 {
		t.Fatalf("user add: exit %d: %s", code, errs)
	}
	if bad, _ := dataDirModes(t, dir); len(bad) > 0 {
		t.Errorf("after user add: %v", bad)
	}
	if want := "file=" + filepath.Join(dir, "congthu.db") + " was=0644 now=0600"; !strings.Contains(errs, want) {
		t.Errorf("user add stderr lacks %q: %s", want, errs)
	}
}

// TestProbeAdminWrongDirectory: an admin command run where there is no
// store refuses to create one and says where it looked and how to point
// at the right one; domain add creates one and says where; every admin
// command names the store it opened.
func TestProbeAdminWrongDirectory(t *testing.T) {
	bin := testenv.GoBinary(t)
	env := append(withoutEnv(os.Environ(), "CONGTHU_DATA_DIR", "CONGTHU_DATABASE_URL"), "CONGTHU_CONFIG=")
	wd := t.TempDir()
	db := filepath.Join(wd, "data", "congthu.db")
	for _, args := range [][]string{
		{"user", "list"},
		{"user", "add", "--password-stdin", "a@hanoi.gov.vn"},
		{"apikey", "create", "--service", "x"},
		{"domain", "list"},
		{"domain", "dns", "hanoi.gov.vn"},
	} {
		code, out, errs := cliRun(t, bin, wd, env, "mat-khau-rat-dai-1\n", args...)
		if code != 1 || !strings.Contains(errs, "no store at "+db) || !strings.Contains(errs, "relative to the current directory "+wd) ||
			!strings.Contains(errs, "--config FILE") || !strings.Contains(errs, "CONGTHU_DATA_DIR=DIR") || !strings.Contains(errs, `"congthu domain add DOMAIN" creates`) {
			t.Errorf("%v from an empty directory: exit %d, stdout %q, stderr %q; want exit 1 saying where it looked", args, code, out, errs)
		}
		if _, err := os.Stat(filepath.Join(wd, "data")); err == nil {
			t.Fatalf("%v created %s", args, filepath.Join(wd, "data"))
		}
	}
	// Pointed at elsewhere, it names that.
	other := t.TempDir()
	code, _, errs := cliRun(t, bin, wd, append(env, "CONGTHU_DATA_DIR="+other), "", "user", "list")
	if code != 1 || !strings.Contains(errs, "no store at "+filepath.Join(other, "congthu.db")+" (data dir from CONGTHU_DATA_DIR)") {
		t.Errorf("user list with an empty CONGTHU_DATA_DIR: exit %d, stderr %q", code, errs)
	}
	cfg := filepath.Join(wd, "congthu.toml")
	os.WriteFile(cfg, []byte("data_dir = \""+other+"\"\n"), 0o600)
	code, _, errs = cliRun(t, bin, wd, env, "", "--config", cfg, "user", "list")
	if code != 1 || !strings.Contains(errs, "(data dir from "+cfg+")") {
		t.Errorf("user list with a config file: exit %d, stderr %q", code, errs)
	}

	code, out, errs := cliRun(t, bin, wd, env, "", "domain", "add", "hanoi.gov.vn")
	if code != 0 || !strings.Contains(errs, "congthu: store SQLite "+db+" (new)") || !strings.Contains(out, "domain hanoi.gov.vn added") {
		t.Fatalf("domain add on a fresh data dir: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, errs = cliRun(t, bin, wd, env, "", "domain", "list")
	if code != 0 || errs != "congthu: store SQLite "+db+"\n" || out != "hanoi.gov.vn\n" {
		t.Errorf("domain list: exit %d, stdout %q, stderr %q; want the store named on stderr alone", code, out, errs)
	}

	// PostgreSQL: host and database, never the password.
	pg := testenv.Postgres(t)
	code, _, errs = cliRun(t, bin, wd, append(env, "CONGTHU_DATA_DIR="+t.TempDir(), "CONGTHU_DATABASE_URL="+pg), "", "domain", "list")
	if code != 0 || !strings.Contains(errs, "congthu: store PostgreSQL ") {
		t.Errorf("domain list on PostgreSQL: exit %d, stderr %q", code, errs)
	}
	if u, err := url.Parse(pg); err != nil {
		t.Fatal(err)
	} else if pw, ok := u.User.Password(); ok && strings.Contains(errs, pw) {
		t.Errorf("domain list on PostgreSQL printed the password: %q", errs)
	}
}

// TestProbeFlagsAfterArguments: flags go before or after the positional
// arguments of every command, and "--" still ends them.
func TestProbeFlagsAfterArguments(t *testing.T) {
	n := newNode(t)
	n.admin(t, "", "domain", "add", "hanoi.gov.vn")
	n.admin(t, "mat-khau-rat-dai-1\n", "user", "add", "nva.stp@hanoi.gov.vn", "--password-stdin")
	n.admin(t, "mat-khau-rat-dai-2\n", "user", "passwd", "nva.stp@hanoi.gov.vn", "--password-stdin")
	n.admin(t, "mat-khau-rat-dai-3\n", "user", "add", "--password-stdin", "ttb@hanoi.gov.vn")
	for _, args := range [][]string{
		{"apikey", "create", "--service", "motcua", "--test"},
		{"apikey", "create", "--test", "--service", "motcua"},
	} {
		if key := n.admin(t, "", args...); !strings.HasPrefix(key, "ct_test_") {
			t.Errorf("%v: got %q, want a test key", args, key)
		}
	}
	if l := n.admin(t, "", "apikey", "list", "--service", "motcua"); strings.Count(l, "  test  ") != 2 {
		t.Errorf("apikey list: %q", l)
	}
	n.admin(t, "", "service", "callback", "set", "motcua", "--url", "https://motcua.example/cb", "--secret", "0123456789abcdef")
	n.admin(t, "", "service", "callback", "set", "--url", "https://motcua.example/cb2", "--secret", "0123456789abcdef", "motcua")
	if l := n.admin(t, "", "service", "list"); !strings.Contains(l, "https://motcua.example/cb2") {
		t.Errorf("service list: %q", l)
	}
	if out := n.admin(t, "", "sms", "parts", "Hồ sơ đã được tiếp nhận", "--fold"); !strings.Contains(out, "GSM-7") {
		t.Errorf("sms parts TEXT --fold: %q, want GSM-7 (folded)", out)
	}
	if out := n.admin(t, "", "sms", "parts", "--", "--fold"); !strings.Contains(out, "length    6 septets") {
		t.Errorf("sms parts -- --fold: %q, want --fold taken as the text", out)
	}
	cfg := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(cfg, []byte("data_dir = \""+envValue(n.env, "CONGTHU_DATA_DIR")+"\"\n"), 0o600)
	bin := testenv.GoBinary(t)
	code, out, errs := cliRun(t, bin, t.TempDir(), withoutEnv(os.Environ(), "CONGTHU_DATA_DIR", "CONGTHU_CONFIG"), "", "user", "list", "hanoi.gov.vn", "--config", cfg)
	if code != 0 || !strings.Contains(out, "nva.stp@hanoi.gov.vn") {
		t.Errorf("user list DOMAIN --config FILE: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, _, errs = cliRun(t, bin, t.TempDir(), n.env, "", "user", "add", "x@hanoi.gov.vn", "--frobnicate")
	if code != 2 || !strings.Contains(errs, "flag provided but not defined: -frobnicate") {
		t.Errorf("unknown flag after the argument: exit %d, stderr %q", code, errs)
	}
	code, _, errs = cliRun(t, bin, t.TempDir(), n.env, "", "user", "remove", "nva.stp@hanoi.gov.vn", "ttb@hanoi.gov.vn")
	if code != 2 || !strings.Contains(errs, "want exactly one ADDRESS") {
		t.Errorf("two addresses: exit %d, stderr %q", code, errs)
	}
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

func withoutEnv(env []string, keys ...string) []string {
	var out []string
outer:
	for _, e := range env {
		for _, k := range keys {
			if strings.HasPrefix(e, k+"=") {
				continue outer
			}
		}
		out = append(out, e)
	}
	return out
}

// runScript is one scripts/run.sh, started from a temp copy of the script
// with its own data dir and listeners.
type runScript struct {
	cmd   *exec.Cmd
	out   *syncBuffer
	done  chan error
	data  string
	addrs map[string]string // env var -> 127.0.0.1:port
}

func startRunScript(t *testing.T, script, bin, data string, ports []int) *runScript {
	t.Helper()
	r := &runScript{out: &syncBuffer{}, done: make(chan error, 1), data: data, addrs: map[string]string{}}
	env := append(withoutEnvPrefix(os.Environ(), "CONGTHU_"), "CONGTHU_BIN="+bin, "CONGTHU_DATA_DIR="+data, "CONGTHU_ADMIN_ADDR=off")
	for i, k := range []string{"CONGTHU_SUBMISSION_ADDR", "CONGTHU_SUBMISSIONS_ADDR", "CONGTHU_IMAP_ADDR", "CONGTHU_IMAPS_ADDR", "CONGTHU_MX_ADDR", "CONGTHU_HTTP_ADDR"} {
		r.addrs[k] = fmt.Sprintf("127.0.0.1:%d", ports[i])
		env = append(env, k+"="+r.addrs[k])
	}
	r.cmd = exec.Command("bash", script)
	r.cmd.Env = env
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.done:
			case <-time.After(40 * time.Second):
				r.cmd.Process.Kill()
			}
		}
	})
	return r
}

// waitUp waits until every listener of r accepts.
func (r *runScript) waitUp(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, a := range r.addrs {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-r.done:
				t.Fatalf("run.sh exited early: %v\n%s", err, r.out)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not up after 60s\n%s", a, r.out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// children returns the processes whose parent is pid, by command name.
func children(t *testing.T, pid int) map[string]int {
	t.Helper()
	kids := map[string]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(s[j+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		n, _ := strconv.Atoi(e.Name())
		kids[s[i+1:j]] = n
	}
	return kids
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// TestProbeRunScript: scripts/run.sh prints the listeners actually
// configured, runs a redis-server of its own inside the data dir (two
// instances on two data dirs share nothing; the old script started both
// on port 6390, so the second instance's congthu used the first one's
// Redis), refuses a second instance on the same data dir, and SIGTERM or
// Ctrl-C (SIGINT) stops congthu serve and its redis-server (the old script
// left congthu serve running).
func TestProbeRunScript(t *testing.T) {
	bin := testenv.GoBinary(t)
	src, err := os.ReadFile("../../scripts/run.sh")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	script := filepath.Join(root, "scripts", "run.sh")
	os.MkdirAll(filepath.Dir(script), 0o700)
	if err := os.WriteFile(script, src, 0o700); err != nil {
		t.Fatal(err)
	}
	ports := testenv.FreePorts(t, 12)
	a := startRunScript(t, script, bin, filepath.Join(root, "a"), ports[:6])
	a.waitUp(t)
	b := startRunScript(t, script, bin, filepath.Join(root, "b"), ports[6:])
	b.waitUp(t)

	for _, r := range []*runScript{a, b} {
		out := r.out.String()
		for _, l := range []struct{ env, words string }{
			{"CONGTHU_IMAP_ADDR", "IMAP:      127.0.0.1 port %s STARTTLS"}, {"CONGTHU_IMAPS_ADDR", "127.0.0.1 port %s SSL/TLS"},
			{"CONGTHU_SUBMISSION_ADDR", "SMTP:      127.0.0.1 port %s STARTTLS"}, {"CONGTHU_SUBMISSIONS_ADDR", "127.0.0.1 port %s SSL/TLS, normal password"},
			{"CONGTHU_MX_ADDR", "MX:        127.0.0.1 port %s (mail"}, {"CONGTHU_HTTP_ADDR", "API:       http://127.0.0.1:%s/v1/"},
		} {
			_, port, _ := net.SplitHostPort(r.addrs[l.env])
			if want := fmt.Sprintf(l.words, port); !strings.Contains(out, want) {
				t.Errorf("banner lacks %q (%s=%s):\n%s", want, l.env, r.addrs[l.env], out)
			}
		}
		for _, def := range []string{"port 1143", "port 1587", "port 2525", ":8080"} {
			if strings.Contains(out, def) {
				t.Errorf("banner shows the default %q though another is configured:\n%s", def, out)
			}
		}
	}

	ka, kb := children(t, a.cmd.Process.Pid), children(t, b.cmd.Process.Pid)
	for _, k := range []struct {
		name string
		kids map[string]int
		r    *runScript
	}{{"a", ka, a}, {"b", kb, b}} {
		if k.kids["redis-server"] == 0 || k.kids["congthu"] == 0 {
			t.Fatalf("run.sh %s: children %v, want a redis-server and congthu", k.name, k.kids)
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", k.kids["redis-server"]))
		if !strings.Contains(string(cmdline), filepath.Join(k.r.data, "redis", "redis.sock")) {
			t.Errorf("run.sh %s: redis-server %q does not listen inside its data dir", k.name, cmdline)
		}
		environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", k.kids["congthu"]))
		if !strings.Contains(string(environ), "CONGTHU_REDIS_URL=unix://"+filepath.Join(k.r.data, "redis", "redis.sock")+"\x00") {
			t.Errorf("run.sh %s: congthu serve does not use its own redis-server", k.name)
		}
	}
	if ka["redis-server"] == kb["redis-server"] {
		t.Errorf("both instances run on redis-server %d", ka["redis-server"])
	}

	// A second run.sh on a's data dir refuses and touches nothing.
	c := startRunScript(t, script, bin, a.data, testenv.FreePorts(t, 6))
	select {
	case err := <-c.done:
		want := fmt.Sprintf("another scripts/run.sh (pid %d) is running on %s", a.cmd.Process.Pid, a.data)
		if err == nil || !strings.Contains(c.out.String(), want) {
			t.Errorf("second run.sh on the same data dir: %v, output %q; want exit 1 and %q", err, c.out, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("second run.sh on the same data dir still running:\n%s", c.out)
	}
	if !alive(ka["congthu"]) || !alive(ka["redis-server"]) {
		t.Errorf("the refused run.sh stopped the first one's processes")
	}

	// SIGTERM stops a, and only a; SIGINT (Ctrl-C) stops b.
	for _, s := range []struct {
		r    *runScript
		kids map[string]int
		sig  syscall.Signal
	}{{a, ka, syscall.SIGTERM}, {b, kb, syscall.SIGINT}} {
		s.r.cmd.Process.Signal(s.sig)
		select {
		case <-s.r.done:
		case <-time.After(45 * time.Second):
			t.Fatalf("run.sh still running 45s after %v\n%s", s.sig, s.r.out)
		}
		for name, pid := range s.kids {
			if alive(pid) {
				t.Errorf("%s (pid %d) still running after run.sh got %v", name, pid, s.sig)
			}
		}
		if !strings.Contains(s.r.out.String(), "level=INFO msg=stopped") {
			t.Errorf("congthu serve did not shut down cleanly after run.sh got %v:\n%s", s.sig, s.r.out)
		}
		if s.r == a && (!alive(kb["congthu"]) || !alive(kb["redis-server"])) {
			t.Errorf("stopping one run.sh stopped the other's processes")
		}
	}
}

func withoutEnvPrefix(env []string, prefix string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}
