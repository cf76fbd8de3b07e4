package main

import (
	"strings"
	"testing"
)

// service callback set: the secret from stdin, and URLs that would aim
// callbacks inside refused unless the operator allows their network.
func TestServiceCallbackSet(t *testing.T) {
	env := map[string]string{"CONGTHU_DATA_DIR": t.TempDir()}
	if code, _, errs := runCLI(t, env, "", "domain", "add", "hanoi.gov.vn"); code != 0 { // creates the store
		t.Fatalf("domain add: exit %d: %s", code, errs)
	}
	const secret = "0123456789abcdef-bi-mat"
	run := func(env map[string]string, stdin string, args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, env, stdin, append([]string{"service", "callback", "set"}, args...)...)
	}
	if code, out, errs := run(env, secret+"\n", "motcua", "--url", "https://203.162.4.191/cb", "--secret-stdin"); code != 0 || !strings.Contains(out, "callback of motcua set") {
		t.Fatalf("--secret-stdin: exit %d, %q %q", code, out, errs)
	}
	for _, c := range []struct {
		url, want string
	}{
		{"http://127.0.0.1:8080/cb", "loopback"},
		{"http://127.1.2.3/cb", "loopback"},
		{"http://[::1]:8080/cb", "loopback"},
		{"http://[::ffff:127.0.0.1]/cb", "loopback"},
		{"http://localhost:8080/cb", "loopback"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://[fe80::1]/cb", "link-local"},
		{"http://10.0.0.1/cb", "private"},
		{"http://172.16.5.4/cb", "private"},
		{"http://192.168.1.1/cb", "private"},
		{"http://[fd00::1]/cb", "private"},
		{"http://0.0.0.0:8080/cb", "unspecified"},
		{"http://224.0.0.1/cb", "multicast"},
		{"http://100.64.0.1/cb", "not a public address"},
	} {
		code, _, errs := run(env, secret+"\n", "motcua", "--url", c.url, "--secret-stdin")
		if code != 1 || !strings.Contains(errs, "refused") || !strings.Contains(errs, c.want) || !strings.Contains(errs, "CONGTHU_API_CALLBACK_ALLOW") {
			t.Errorf("%s: exit %d, stderr %q; want exit 1, refused, %q", c.url, code, errs, c.want)
		}
	}
	for _, u := range []string{"ftp://203.162.4.191/cb", "file:///etc/passwd", "gopher://127.0.0.1:6379/_x", "http:///cb"} {
		if code, _, errs := run(env, secret+"\n", "motcua", "--url", u, "--secret-stdin"); code != 2 || !strings.Contains(errs, "not an http(s) URL") {
			t.Errorf("%s: exit %d, stderr %q; want exit 2, not an http(s) URL", u, code, errs)
		}
	}
	// The refused URLs were not stored.
	if _, out, _ := runCLI(t, env, "", "service", "list"); !strings.Contains(out, "https://203.162.4.191/cb") {
		t.Errorf("service list after refusals: %q", out)
	}

	// An operator allows an internal back office.
	allowed := map[string]string{"CONGTHU_DATA_DIR": env["CONGTHU_DATA_DIR"], "CONGTHU_API_CALLBACK_ALLOW": "10.20.0.0/16, 127.0.0.1"}
	for _, u := range []string{"http://10.20.3.4/cb", "http://127.0.0.1:8080/cb"} {
		if code, _, errs := run(allowed, secret+"\n", "motcua", "--url", u, "--secret-stdin"); code != 0 {
			t.Errorf("%s with the allow list: exit %d, stderr %q", u, code, errs)
		}
	}
	if code, _, errs := run(allowed, secret+"\n", "motcua", "--url", "http://10.21.0.1/cb", "--secret-stdin"); code != 1 || !strings.Contains(errs, "private") {
		t.Errorf("outside the allow list: exit %d, stderr %q", code, errs)
	}
	bad := map[string]string{"CONGTHU_DATA_DIR": env["CONGTHU_DATA_DIR"], "CONGTHU_API_CALLBACK_ALLOW": "backoffice.local"}
	if code, _, errs := run(bad, secret+"\n", "motcua", "--url", "https://203.162.4.191/cb", "--secret-stdin"); code != 1 || !strings.Contains(errs, "api.callback_allow (CONGTHU_API_CALLBACK_ALLOW)") {
		t.Errorf("bad allow list: exit %d, stderr %q", code, errs)
	}

	// Secrets: stdin, the deprecated flag with a warning, never neither or both.
	if code, _, errs := run(env, "short\n", "motcua", "--url", "https://203.162.4.191/cb", "--secret-stdin"); code != 2 || !strings.Contains(errs, "at least 16") {
		t.Errorf("short secret: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := run(env, "", "motcua", "--url", "https://203.162.4.191/cb"); code != 2 || !strings.Contains(errs, "--secret-stdin") {
		t.Errorf("no secret: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := run(env, secret+"\n", "motcua", "--url", "https://203.162.4.191/cb", "--secret-stdin", "--secret", secret); code != 2 || !strings.Contains(errs, "not both") {
		t.Errorf("both secrets: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := run(env, "", "motcua", "--url", "https://203.162.4.191/cb", "--secret", secret); code != 0 || !strings.Contains(errs, "deprecated") {
		t.Errorf("--secret: exit %d, stderr %q; want 0 and a deprecation warning", code, errs)
	}
	// A name that does not resolve now is set with a warning (checked
	// again at each delivery).
	if code, _, errs := run(env, secret+"\n", "motcua", "--url", "https://callback.invalid/cb", "--secret-stdin"); code != 0 || !strings.Contains(errs, "does not resolve") {
		t.Errorf("unresolved host: exit %d, stderr %q", code, errs)
	}
	// An empty --url removes the callback, no secret needed.
	if code, _, errs := run(env, "", "motcua", "--url", ""); code != 0 {
		t.Errorf("remove: exit %d, stderr %q", code, errs)
	}
}
