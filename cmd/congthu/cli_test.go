package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"congthu/internal/testenv"
	"congthu/mtasts"
)

// runCLI runs congthu in-process with the given environment and stdin.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	code = run(context.Background(), args, c)
	return code, out.String(), errb.String()
}

func TestHelpForEveryCommand(t *testing.T) {
	var walk func(prefix []string, cmds []*command)
	walk = func(prefix []string, cmds []*command) {
		for _, cmd := range cmds {
			args := append(append([]string{}, prefix...), cmd.name)
			if len(cmd.subs) > 0 {
				walk(args, cmd.subs)
			}
			code, out, errs := runCLI(t, nil, "", append(args, "--help")...)
			if code != 0 || !strings.Contains(out, "Usage") {
				t.Errorf("%v --help: exit %d, stdout %q, stderr %q", args, code, out, errs)
			}
		}
	}
	walk(nil, commands())
	if code, out, _ := runCLI(t, nil, "", "--help"); code != 0 || !strings.Contains(out, "checkconfig") {
		t.Errorf("congthu --help: exit %d, %q", code, out)
	}
	if code, _, errs := runCLI(t, nil, "", "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, errs)
	}
}

func TestCheckconfig(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runCLI(t, map[string]string{"CONGTHU_DATA_DIR": dir}, "", "checkconfig")
	if code != 0 || !strings.Contains(out, "configuration OK") {
		t.Errorf("valid: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, _, errs = runCLI(t, map[string]string{"CONGTHU_IMAP_ADDR": "nonsense", "CONGTHU_SMTP_MAX_RECIPIENTS": "0"}, "", "checkconfig")
	if code != 1 || !strings.Contains(errs, "listen.imap (CONGTHU_IMAP_ADDR)") || !strings.Contains(errs, "smtp.max_recipients") {
		t.Errorf("invalid: exit %d, stderr %q", code, errs)
	}
	code, _, errs = runCLI(t, map[string]string{"CONGTHU_MX_LIMIT_EXEMPT": "10.0.0.0/8,relay", "CONGTHU_MX_DMARC_REJECT": "bounce"}, "", "checkconfig")
	if code != 1 || !strings.Contains(errs, "mx.limit_exempt (CONGTHU_MX_LIMIT_EXEMPT)") || !strings.Contains(errs, "mx.dmarc_reject (CONGTHU_MX_DMARC_REJECT)") {
		t.Errorf("invalid mx: exit %d, stderr %q", code, errs)
	}
	code, _, errs = runCLI(t, map[string]string{"CONGTHU_RSPAMD_URL": "localhost:11333", "CONGTHU_CLAMD_ADDR": "unix:clamd.ctl", "CONGTHU_FILTER_FAILURE": "drop"}, "", "checkconfig")
	if code != 1 || !strings.Contains(errs, "filter.rspamd_url (CONGTHU_RSPAMD_URL)") || !strings.Contains(errs, "filter.clamd_addr (CONGTHU_CLAMD_ADDR)") ||
		!strings.Contains(errs, "filter.failure (CONGTHU_FILTER_FAILURE)") {
		t.Errorf("invalid filters: exit %d, stderr %q", code, errs)
	}
	// Configured daemons that do not answer are reported, not invalid.
	closed := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	code, out, errs = runCLI(t, map[string]string{"CONGTHU_DATA_DIR": dir, "CONGTHU_CLAMD_ADDR": closed, "CONGTHU_RSPAMD_URL": "http://" + closed,
		"CONGTHU_FILTER_TIMEOUT": "1s"}, "", "checkconfig")
	if code != 0 || !strings.Contains(out, "clamd        "+closed+": NOT ANSWERING") || !strings.Contains(out, "rspamd       http://"+closed+": NOT ANSWERING") {
		t.Errorf("filters down: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	p := filepath.Join(dir, "c.toml")
	os.WriteFile(p, []byte("[listen]\nimpa = \":1\"\n"), 0o600)
	code, _, errs = runCLI(t, nil, "", "--config", p, "checkconfig")
	if code != 1 || !strings.Contains(errs, "unknown setting(s): listen.impa") {
		t.Errorf("unknown key: exit %d, stderr %q", code, errs)
	}
}

func testAdmin(t *testing.T, env map[string]string) {
	ok := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errs := runCLI(t, env, stdin, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
		}
		return out
	}
	fail := func(wantCode int, want string, stdin string, args ...string) {
		t.Helper()
		code, _, errs := runCLI(t, env, stdin, args...)
		if code != wantCode || !strings.Contains(errs, want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", args, code, errs, wantCode, want)
		}
	}
	ok("", "domain", "add", "Hanoi.gov.vn")
	fail(1, "already exists", "", "domain", "add", "hanoi.gov.vn")
	fail(1, "not valid", "", "domain", "add", "not a domain")
	if out := ok("", "domain", "list"); !strings.Contains(out, "hanoi.gov.vn") {
		t.Errorf("domain list: got %q", out)
	}
	dns := ok("", "domain", "dns", "hanoi.gov.vn")
	for _, want := range []string{"hanoi.gov.vn.\tIN\tMX\t10 localhost.", `"v=spf1 mx -all"`, "._domainkey.hanoi.gov.vn.\tIN\tTXT\t\"v=DKIM1; k=rsa; p=", "_dmarc.hanoi.gov.vn.\tIN\tTXT\t\"v=DMARC1;"} {
		if !strings.Contains(dns, want) {
			t.Errorf("domain dns: missing %q in\n%s", want, dns)
		}
	}
	if strings.Contains(dns, "_mta-sts") {
		t.Errorf("domain dns: an MTA-STS record without a published policy:\n%s", dns)
	}
	stsEnv := maps.Clone(env)
	if stsEnv == nil {
		stsEnv = map[string]string{}
	}
	stsEnv["CONGTHU_MX_MTA_STS_MODE"] = "enforce"
	stsEnv["CONGTHU_HOSTNAME"] = "mail.hanoi.gov.vn"
	if code, out, errs := runCLI(t, stsEnv, "", "domain", "dns", "hanoi.gov.vn"); code != 0 ||
		!strings.Contains(out, "_mta-sts.hanoi.gov.vn.\tIN\tTXT\t\"v=STSv1; id="+mtasts.ID("version: STSv1\r\nmode: enforce\r\nmx: mail.hanoi.gov.vn\r\nmax_age: 604800\r\n")+";\"") {
		t.Errorf("domain dns with an MTA-STS policy: exit %d, stderr %q, stdout\n%s", code, errs, out)
	}
	fail(1, "no such domain", "", "domain", "dns", "other.example")
	ok("mat-khau-rat-dai-1\n", "user", "add", "--password-stdin", "NVA.stp@hanoi.gov.vn")
	fail(1, "password too short", "short\n", "user", "add", "--password-stdin", "b@hanoi.gov.vn")
	fail(2, "use --password-stdin", "", "user", "add", "c@hanoi.gov.vn")
	fail(1, "domain is not served here", "mat-khau-rat-dai-1\n", "user", "add", "--password-stdin", "x@other.example")
	fail(1, "already exists", "mat-khau-rat-dai-1\n", "user", "add", "--password-stdin", "nva.stp@hanoi.gov.vn")
	ok("", "user", "alias", "add", "nva.stp@hanoi.gov.vn", "motcua@hanoi.gov.vn")
	if out := ok("", "user", "alias", "list", "nva.stp@hanoi.gov.vn"); !strings.Contains(out, "motcua@hanoi.gov.vn") {
		t.Errorf("alias list: got %q", out)
	}
	if out := ok("", "user", "list"); !strings.Contains(out, "nva.stp@hanoi.gov.vn") || !strings.Contains(out, "motcua@hanoi.gov.vn") || !strings.Contains(out, "active") {
		t.Errorf("user list: got %q", out)
	}
	ok("mat-khau-moi-2222\n", "user", "passwd", "--password-stdin", "nva.stp@hanoi.gov.vn")
	fail(1, "no such account", "mat-khau-moi-2222\n", "user", "passwd", "--password-stdin", "ghost@hanoi.gov.vn")
	ok("", "user", "disable", "nva.stp@hanoi.gov.vn")
	if out := ok("", "user", "list", "hanoi.gov.vn"); !strings.Contains(out, "disabled") {
		t.Errorf("user list after disable: got %q", out)
	}
	ok("", "user", "enable", "nva.stp@hanoi.gov.vn")
	fail(1, "still in use", "", "domain", "remove", "hanoi.gov.vn")
	ok("", "user", "alias", "remove", "motcua@hanoi.gov.vn")
	ok("", "user", "remove", "nva.stp@hanoi.gov.vn")
	ok("", "domain", "remove", "hanoi.gov.vn")
	if out := ok("", "domain", "list"); strings.Contains(out, "hanoi.gov.vn") {
		t.Errorf("domain list after remove: got %q", out)
	}
}

func TestAdminSQLite(t *testing.T) {
	testAdmin(t, map[string]string{"CONGTHU_DATA_DIR": t.TempDir()})
}

func TestAdminPostgres(t *testing.T) {
	testAdmin(t, map[string]string{"CONGTHU_DATA_DIR": t.TempDir(), "CONGTHU_DATABASE_URL": testenv.Postgres(t)})
}
