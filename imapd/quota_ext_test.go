package imapd

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestQuotaExtension drives RFC 9208 GETQUOTAROOT, GETQUOTA and SETQUOTA
// with imapclient: STORAGE in units of 1024 octets (usage rounded up,
// limit down), the account's one root "", NO for other roots, SETQUOTA
// refused.
func TestQuotaExtension(t *testing.T) {
	backends(t, func(t *testing.T, eo envOptions) {
		e := newEnv(t, eo)
		ctx := context.Background()
		raw := message("hồ sơ", "motcua@hanoi.gov.vn", strings.Repeat("Nội dung ", 300))
		e.deliver("", raw)
		if err := e.st.SetQuota(ctx, testUser, 10*1024+1000); err != nil {
			t.Fatal(err)
		}
		c := e.client(nil)
		caps, err := c.Capability().Wait()
		if err != nil {
			t.Fatal(err)
		}
		if !caps.Has(imap.CapQuota) || !caps.Has(imap.Cap("QUOTA=RES-STORAGE")) || !caps.Has(imap.CapMultiAppend) {
			t.Errorf("capabilities %v lack QUOTA, QUOTA=RES-STORAGE or MULTIAPPEND", caps)
		}
		if caps.Has(imap.Cap("QUOTA=RES-MESSAGE")) {
			t.Errorf("QUOTA=RES-MESSAGE advertised without a message-count limit")
		}
		wantUsage := (int64(len(raw)) + 1023) / 1024
		check := func(what string, data []imapclient.QuotaData) {
			t.Helper()
			if len(data) != 1 || data[0].Root != "" {
				t.Fatalf("%s: got %+v, want one QUOTA for root \"\"", what, data)
			}
			got := data[0].Resources[imap.QuotaResourceStorage]
			if got.Usage != wantUsage || got.Limit != 10 {
				t.Errorf("%s: STORAGE got %d/%d, want %d/10", what, got.Usage, got.Limit, wantUsage)
			}
		}
		data, err := c.GetQuotaRoot("INBOX").Wait()
		if err != nil {
			t.Fatalf("GETQUOTAROOT: %v", err)
		}
		check("GETQUOTAROOT INBOX", data)
		one, err := c.GetQuota("").Wait()
		if err != nil {
			t.Fatalf("GETQUOTA: %v", err)
		}
		check("GETQUOTA \"\"", []imapclient.QuotaData{*one})

		no := func(what string, err error, code imap.ResponseCode) {
			t.Helper()
			var ie *imap.Error
			if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo || ie.Code != code {
				t.Errorf("%s: got %v, want NO [%s]", what, err, code)
			}
		}
		_, err = c.GetQuota("other").Wait()
		no("GETQUOTA other", err, imap.ResponseCodeNonExistent)
		_, err = c.GetQuotaRoot("Nowhere").Wait()
		no("GETQUOTAROOT of a missing mailbox", err, imap.ResponseCodeNonExistent)
		err = c.SetQuota("", map[imap.QuotaResourceType]int64{imap.QuotaResourceStorage: 1}).Wait()
		no("SETQUOTA", err, imap.ResponseCodeNoPerm)
		if q, _ := e.st.QuotaOf(ctx, testUser); q.Limit != 10*1024+1000 {
			t.Errorf("limit after SETQUOTA: %d, want unchanged", q.Limit)
		}

		// Unlimited: the mailbox has no quota root (RFC 9208 section
		// 4.3.2), and "" is no root.
		if err := e.st.SetQuota(ctx, testUser, 0); err != nil {
			t.Fatal(err)
		}
		r := dialLoggedIn(t, e, "")
		r.send("q1 GETQUOTAROOT INBOX\r\n")
		if got := r.expect("* "); got != "* QUOTAROOT INBOX\r\n" {
			t.Errorf("unlimited GETQUOTAROOT: got %q, want * QUOTAROOT INBOX with no root", got)
		}
		if got := r.expect("q1 "); !strings.HasPrefix(got, "q1 OK") {
			t.Errorf("unlimited GETQUOTAROOT: %q", got)
		}
		r.send("q2 GETQUOTA \"\"\r\n")
		if got := r.expect("q2 "); !strings.HasPrefix(got, "q2 NO [NONEXISTENT]") {
			t.Errorf("unlimited GETQUOTA: %q", got)
		}
	})
}

// TestQuotaImaplib asks for quotas with Python's imaplib.
func TestQuotaImaplib(t *testing.T) {
	e := newEnv(t, envOptions{})
	const user, pass = "py.quota@hanoi.gov.vn", "Py-pass-2026"
	acct, err := e.st.AddAccount(context.Background(), user, pass)
	if err != nil {
		t.Fatal(err)
	}
	e.acct = acct
	raw := message("hồ sơ", "motcua@hanoi.gov.vn", strings.Repeat("x", 3000))
	e.deliver("", raw)
	if err := e.st.SetQuota(context.Background(), user, 1<<20); err != nil {
		t.Fatal(err)
	}
	got := runImaplib(t, e, "imaplib_quota.py", user, pass)
	usage := (len(raw) + 1023) / 1024
	for _, want := range []string{
		"QUOTA=RES-STORAGE",
		"getquotaroot OK",
		`INBOX ""`,
		`"" (STORAGE ` + strconv.Itoa(usage) + ` 1024)`,
		`getquota OK "" (STORAGE ` + strconv.Itoa(usage) + ` 1024)`,
		"setquota NO",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("imaplib output lacks %q:\n%s", want, got)
		}
	}
}
