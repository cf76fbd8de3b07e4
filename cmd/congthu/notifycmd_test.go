package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runNotifyCLI runs the notification commands in-process. Until the
// integrator adds them to commands(), it dispatches to them directly; after
// that it goes through runCLI.
func runNotifyCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	for _, c := range commands() {
		if c.name == "apikey" {
			return runCLI(t, env, "", args...)
		}
	}
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	c.configPath = env["CONGTHU_CONFIG"]
	err := dispatch(context.Background(), c, []*command{apikeyCommand(), serviceCommand(), templateCommand()}, args, "congthu")
	code := 0
	if err != nil {
		code = 1
		if _, ok := err.(usageError); ok {
			code = 2
		}
		errb.WriteString("congthu: " + err.Error() + "\n")
	}
	return code, out.String(), errb.String()
}

func TestNotifyCommands(t *testing.T) {
	env := map[string]string{"CONGTHU_DATA_DIR": t.TempDir()}
	ok := func(args ...string) string {
		t.Helper()
		code, out, errs := runNotifyCLI(t, env, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
		}
		return out
	}
	fail := func(wantCode int, want string, args ...string) {
		t.Helper()
		code, _, errs := runNotifyCLI(t, env, args...)
		if code != wantCode || !strings.Contains(errs, want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", args, code, errs, wantCode, want)
		}
	}
	ok("domain", "add", "hanoi.gov.vn") // the one command that creates a store
	key := strings.TrimSpace(ok("apikey", "create", "--service", "motcua"))
	if !strings.HasPrefix(key, "ct_live_") || strings.Contains(key, "\n") || len(key) < 40 {
		t.Errorf("live key %q", key)
	}
	tkey := strings.TrimSpace(ok("apikey", "create", "--service", "motcua", "--test"))
	if !strings.HasPrefix(tkey, "ct_test_") {
		t.Errorf("test key %q", tkey)
	}
	fail(2, "want --service", "apikey", "create")
	list := ok("apikey", "list")
	if !strings.Contains(list, "motcua") || !strings.Contains(list, "test") || strings.Contains(list, key) {
		t.Errorf("apikey list: %q", list)
	}
	ok("apikey", "revoke", "1")
	if list := ok("apikey", "list", "--service", "motcua"); !strings.Contains(list, "revoked") {
		t.Errorf("after revoke: %q", list)
	}
	fail(1, "no such API key", "apikey", "revoke", "99")
	fail(2, "not a key ID", "apikey", "revoke", "x")

	ok("service", "callback", "set", "motcua", "--url", "https://motcua.example/cb", "--secret", "0123456789abcdef")
	fail(2, "not an http(s) URL", "service", "callback", "set", "motcua", "--url", "ftp://x", "--secret", "0123456789abcdef")
	fail(2, "at least 16", "service", "callback", "set", "motcua", "--url", "https://x.example", "--secret", "short")
	if out := ok("service", "list"); !strings.Contains(out, "https://motcua.example/cb") || strings.Contains(out, "0123456789abcdef") {
		t.Errorf("service list: %q", out)
	}

	if out := ok("template", "lint"); !strings.Contains(out, "templates OK") {
		t.Errorf("lint: %q", out)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "x-sms.tmpl"), []byte("id: x-sms\nversion: 1\nchannel: sms\n---\n((unknown_field))\n"), 0o644)
	fail(1, "error(s)", "template", "lint", "--dir", bad)

	out := ok("template", "preview", "dossier-received-sms")
	if !strings.Contains(out, "GSM-7") || !strings.Contains(out, "part(s)") || !strings.Contains(out, "folded") {
		t.Errorf("preview sms: %q", out)
	}
	data := filepath.Join(t.TempDir(), "d.json")
	os.WriteFile(data, []byte(`{"subject":"Lịch tiếp dân","body":"Nội dung"}`), 0o644)
	html := filepath.Join(t.TempDir(), "o.html")
	out = ok("template", "preview", "generic-email", "--data", data, "--html", html)
	if !strings.Contains(out, "Subject: Lịch tiếp dân") {
		t.Errorf("preview email: %q", out)
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), "Nội dung") {
		t.Errorf("html file: %v", err)
	}
	fail(1, "missing required value(s): body", "template", "preview", "generic-sms", "--data", writeJSON(t, `{}`))
	fail(1, "no such template", "template", "preview", "nope")
}

func writeJSON(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(p, []byte(s), 0o644)
	return p
}
