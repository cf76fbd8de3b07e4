package main

import (
	"context"
	"maps"
	"strings"
	"testing"

	"congthu/internal/testenv"
	"congthu/store"
)

func testUserQuota(t *testing.T, env map[string]string) {
	run := func(env map[string]string, args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, env, "", args...)
	}
	ok := func(want string, args ...string) {
		t.Helper()
		code, out, errs := run(env, args...)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 0 and %q", args, code, out, errs, want)
		}
	}
	fail := func(wantCode int, want string, args ...string) {
		t.Helper()
		code, _, errs := run(env, args...)
		if code != wantCode || !strings.Contains(errs, want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", args, code, errs, wantCode, want)
		}
	}
	if code, _, errs := runCLI(t, env, "", "domain", "add", "hanoi.gov.vn"); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := runCLI(t, env, "mat-khau-rat-dai-1\n", "user", "add", "--password-stdin", "an@hanoi.gov.vn"); code != 0 {
		t.Fatal(errs)
	}
	st, err := store.Open(context.Background(), store.Options{URL: env["CONGTHU_DATABASE_URL"], DataDir: env["CONGTHU_DATA_DIR"]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := st.Account(context.Background(), "an@hanoi.gov.vn")
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte("Subject: x\r\n\r\n" + strings.Repeat("a", 1500) + "\r\n")
	if _, err := st.Deliver(context.Background(), &store.Delivery{Raw: raw, Local: []store.LocalTarget{{AccountID: acc.ID}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	ok("used     1516 bytes (1.5 KiB)\nlimit    none (unlimited), the default (mailbox.quota)", "user", "quota", "AN@hanoi.gov.vn")
	withDefault := maps.Clone(env)
	withDefault["CONGTHU_MAILBOX_QUOTA"] = "1M"
	if code, out, _ := run(withDefault, "user", "quota", "an@hanoi.gov.vn"); code != 0 || !strings.Contains(out, "limit    1M, the default") || !strings.Contains(out, "0% of the limit") {
		t.Errorf("quota with a default: exit %d, %q", code, out)
	}
	ok("quota of an@hanoi.gov.vn set to 2G", "user", "quota", "an@hanoi.gov.vn", "2g")
	ok("limit    2G, set for this account", "user", "quota", "an@hanoi.gov.vn")
	ok("quota of an@hanoi.gov.vn set to 1K", "user", "quota", "an@hanoi.gov.vn", "1024")
	ok("used     1516 bytes (1.5 KiB), 148% of the limit", "user", "quota", "an@hanoi.gov.vn")
	ok("set to none (unlimited)", "user", "quota", "an@hanoi.gov.vn", "none")
	ok("limit    none (unlimited), set for this account", "user", "quota", "an@hanoi.gov.vn")
	ok("is the default again", "user", "quota", "an@hanoi.gov.vn", "default")
	if code, out, _ := run(withDefault, "user", "quota", "an@hanoi.gov.vn"); code != 0 || !strings.Contains(out, "limit    1M, the default") {
		t.Errorf("quota back to the default: exit %d, %q", code, out)
	}
	fail(2, `not a size like 2G`, "user", "quota", "an@hanoi.gov.vn", "2 gigabytes")
	fail(2, `not a size like 2G`, "user", "quota", "an@hanoi.gov.vn", "1.5G")
	fail(2, "want ADDRESS [SIZE]", "user", "quota")
	fail(1, "no such account", "user", "quota", "ghost@hanoi.gov.vn")
	fail(1, "no such account", "user", "quota", "ghost@hanoi.gov.vn", "1G")
}

func TestUserQuotaSQLite(t *testing.T) {
	testUserQuota(t, map[string]string{"CONGTHU_DATA_DIR": t.TempDir()})
}

func TestUserQuotaPostgres(t *testing.T) {
	testUserQuota(t, map[string]string{"CONGTHU_DATA_DIR": t.TempDir(), "CONGTHU_DATABASE_URL": testenv.Postgres(t)})
}
