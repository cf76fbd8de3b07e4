package main

// Probes of the newcomer's and the local user's view of the binary: file
// modes in the data dir, admin commands run from the wrong directory,
// flags after positional arguments.

import (
	"bytes"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
