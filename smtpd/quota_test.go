package smtpd

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"congthu/bounce"
	"congthu/store"
)

var mailboxFull = smtp.EnhancedCode{4, 2, 2}

// setQuota sets an account's own quota in the test store.
func setQuota(t testing.TB, st testStore, acct *store.Account, n int64) {
	t.Helper()
	if err := st.(interface {
		SetQuota(ctx context.Context, address string, quota int64) error
	}).SetQuota(context.Background(), acct.Address, n); err != nil {
		t.Fatal(err)
	}
}

// checkQuotaDSN checks a DSN says the message could not be delivered to
// rcpt because the mailbox is full.
func checkQuotaDSN(t testing.TB, raw []byte, rcpt string) {
	t.Helper()
	r := bounce.Parse(bytes.NewReader(raw))
	if r.Action != bounce.Failed || r.Status != "5.2.2" || !strings.Contains(string(raw), "Final-Recipient: rfc822; "+rcpt) {
		t.Errorf("DSN: got %+v, want failed 5.2.2 for %s:\n%s", r, rcpt, raw)
	}
}

// TestSubmissionQuota: a full recipient is refused at RCPT; a message
// that fits some local recipients but not others is accepted for those
// and the sender gets a DSN in its INBOX; one that fits none is refused
// at DATA.
func TestSubmissionQuota(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envConfig{backend: backend})
			c := e.login(t, "alice@"+domain, alicePass)
			msg := func(tok string) []byte {
				return []byte("From: alice@" + domain + "\r\nTo: bob@" + domain + "\r\nSubject: " + tok + "\r\n\r\n" + strings.Repeat("nội dung ", 20) + "\r\n")
			}

			// Room for one byte: taken at RCPT, refused at DATA.
			setQuota(t, e.st, e.bob, 1)
			_, err := send(c, "alice@"+domain, []string{"bob@" + domain}, msg("one"))
			wantCode(t, err, 452, mailboxFull)
			c.Reset()

			// Partial: alice (unlimited) gets it, bob does not, alice gets
			// the DSN.
			if _, err := send(c, "alice@"+domain, []string{"bob@" + domain, "alice@" + domain}, msg("partial")); err != nil {
				t.Fatalf("partial: %v", err)
			}
			if n := len(e.inbox(t, e.bob)); n != 0 {
				t.Errorf("bob's INBOX holds %d, want 0", n)
			}
			in := e.inbox(t, e.alice)
			if len(in) != 2 || !bytes.Contains(in[0].Raw, []byte("Subject: partial")) {
				t.Fatalf("alice's INBOX: %d messages, want the message and a DSN", len(in))
			}
			checkQuotaDSN(t, in[1].Raw, "bob@"+domain)

			// Full: refused at RCPT, the other recipient is kept.
			setQuota(t, e.st, e.alice, int64(len(in[0].Raw)+len(in[1].Raw)))
			if err := c.Mail("alice@"+domain, nil); err != nil {
				t.Fatal(err)
			}
			wantCode(t, c.Rcpt("alice@"+domain, nil), 452, mailboxFull)
			if err := c.Rcpt("phong@"+domain, nil); err != nil {
				t.Fatalf("RCPT to bob's alias after a full one: %v", err)
			}
			c.Reset()
			if !strings.Contains(e.logs.String(), "mailbox full") {
				t.Error("the refusal is not logged")
			}
		})
	}
}

// TestMXQuota: the same rules for mail from the internet; the DSN goes
// to the envelope sender through the outbox, from the null reverse-path,
// and none goes to the null sender.
func TestMXQuota(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			fx := newMXFixture(t, backend)
			e := newMX(t, fx, MXOptions{})
			c := e.dial(t, "mta.example.org")
			ctx := context.Background()
			from := "sender@example.org"

			setQuota(t, fx.st, fx.bob, 1)
			tok := newToken("all")
			_, err := send(c, from, []string{"bob@" + domain}, mxMessage(from, "bob@"+domain, tok))
			wantCode(t, err, 452, mailboxFull)
			c.Reset()

			tok = newToken("partial")
			if _, err := send(c, from, []string{"bob@" + domain, "vanthu@" + domain}, mxMessage(from, "bob@"+domain, tok)); err != nil {
				t.Fatalf("partial: %v", err)
			}
			if e.find(t, fx.alice, "INBOX", tok) == nil {
				t.Error("alice did not get the message")
			}
			if e.find(t, fx.bob, "INBOX", tok) != nil {
				t.Error("bob got the message past his quota")
			}
			ids, err := fx.st.Outbox().DuePage(ctx, time.Now().Add(time.Hour), 0, 10)
			if err != nil || len(ids) != 1 {
				t.Fatalf("outbox: %v, %v; want one DSN", ids, err)
			}
			st, err := fx.st.Outbox().State(ctx, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			if st.MailFrom != "" || len(st.Recipients) != 1 || st.Recipients[0].Address != from {
				t.Errorf("DSN entry: from %q to %+v, want from <> to %s", st.MailFrom, st.Recipients, from)
			}
			checkQuotaDSN(t, st.Raw, "bob@"+domain)
			if !bytes.Contains(st.Raw, []byte("Subject: partial")) && !bytes.Contains(st.Raw, []byte(tok)) {
				t.Errorf("DSN does not carry the original header:\n%s", st.Raw)
			}

			// No DSN about a message from the null sender.
			tok = newToken("null")
			if _, err := send(c, "", []string{"bob@" + domain, "alice@" + domain}, mxMessage(from, "bob@"+domain, tok)); err != nil {
				t.Fatalf("partial from <>: %v", err)
			}
			if ids, _ := fx.st.Outbox().DuePage(ctx, time.Now().Add(time.Hour), 0, 10); len(ids) != 1 {
				t.Errorf("outbox after a message from <>: %d entries, want still 1", len(ids))
			}

			// Full bob: refused at RCPT (once the server no longer
			// remembers that he had room).
			setQuota(t, fx.st, fx.bob, 0)
			if _, err := send(c, from, []string{"bob@" + domain}, mxMessage(from, "bob@"+domain, newToken("fill"))); err != nil {
				t.Fatal(err)
			}
			setQuota(t, fx.st, fx.bob, 1)
			e.srv.dir.mu.Lock()
			clear(e.srv.dir.room)
			e.srv.dir.mu.Unlock()
			if err := c.Mail(from, nil); err != nil {
				t.Fatal(err)
			}
			wantCode(t, c.Rcpt("bob@"+domain, nil), 452, mailboxFull)
			if err := c.Rcpt("alice@"+domain, nil); err != nil {
				t.Errorf("RCPT after a full one: %v", err)
			}
			c.Reset()
		})
	}
}
