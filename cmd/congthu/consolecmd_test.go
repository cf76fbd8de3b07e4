package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"congthu/internal/totp"
	"congthu/store"
)

// TestUserRoleAndTOTP: user role sets, shows and takes away a console
// role; user totp prints an otpauth URI whose secret the store keeps and
// whose codes verify; --off removes it.
func TestUserRoleAndTOTP(t *testing.T) {
	env := map[string]string{"CONGTHU_DATA_DIR": t.TempDir(), "CONGTHU_HOSTNAME": "mail.hanoi.gov.vn"}
	mustRun := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errs := runCLI(t, env, stdin, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		return out
	}
	mustRun("", "domain", "add", "hanoi.gov.vn")
	mustRun("mật khẩu đủ dài 123\n", "user", "add", "--password-stdin", "an@hanoi.gov.vn")
	if out := mustRun("", "user", "role", "an@hanoi.gov.vn"); strings.TrimSpace(out) != "none" {
		t.Errorf("role of a new account: %q", out)
	}
	mustRun("", "user", "role", "an@hanoi.gov.vn", "desk")
	if out := mustRun("", "user", "role", "AN@hanoi.gov.vn"); strings.TrimSpace(out) != "desk" {
		t.Errorf("role after user role desk: %q", out)
	}
	if code, _, errs := runCLI(t, env, "", "user", "role", "an@hanoi.gov.vn", "root"); code != 2 || !strings.Contains(errs, "not admin, desk or none") {
		t.Errorf("bad role: exit %d, %q", code, errs)
	}
	if code, _, errs := runCLI(t, env, "", "user", "role", "ai@hanoi.gov.vn", "admin"); code != 1 || !strings.Contains(errs, "no such account") {
		t.Errorf("unknown account: exit %d, %q", code, errs)
	}
	uri := strings.TrimSpace(mustRun("", "user", "totp", "an@hanoi.gov.vn"))
	if !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "an@hanoi.gov.vn") {
		t.Fatalf("URI %q", uri)
	}
	_, q, _ := strings.Cut(uri, "secret=")
	secret, _, _ := strings.Cut(q, "&")
	st, err := store.Open(context.Background(), store.Options{DataDir: env["CONGTHU_DATA_DIR"]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.ConsoleUser(context.Background(), "an@hanoi.gov.vn")
	st.Close()
	if err != nil || u.TOTPSecret != secret || u.Role != store.RoleDesk {
		t.Fatalf("stored: %+v %v, want secret %s", u, err, secret)
	}
	code, _ := totp.CodeAt(secret, time.Now())
	if _, ok := totp.Verify(u.TOTPSecret, code, time.Now()); !ok {
		t.Error("a code of the printed secret does not verify")
	}
	mustRun("", "user", "totp", "--off", "an@hanoi.gov.vn")
	mustRun("", "user", "role", "an@hanoi.gov.vn", "none")
	if out := mustRun("", "user", "role", "an@hanoi.gov.vn"); strings.TrimSpace(out) != "none" {
		t.Errorf("role after none: %q", out)
	}
}
