package imapd

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"congthu/store"
)

// TestIdlePollWithoutNotice: a change nobody announces (a lost Redis
// notice; here a store without the Changed hook) still reaches an IDLE
// session through the periodic poll, although IDLE skips reading the
// change log while the shared view is fresh.
func TestIdlePollWithoutNotice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.AddDomain(ctx, "hanoi.gov.vn"); err != nil {
		t.Fatal(err)
	}
	acct, err := st.AddAccount(ctx, testUser, testPass)
	if err != nil {
		t.Fatal(err)
	}
	const poll = 400 * time.Millisecond
	srv := New(Options{AllowInsecureAuth: true, IdlePoll: poll}, st, nil, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	exists := make(chan uint32, 10)
	c, err := imapclient.DialInsecure(ln.Addr().String(), &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	for i := 1; i <= 2; i++ {
		t0 := time.Now()
		if _, err := st.Deliver(ctx, &store.Delivery{Raw: []byte(message("Không báo trước", "a@hanoi.gov.vn", "x")),
			Local: []store.LocalTarget{{AccountID: acct.ID}}}); err != nil {
			t.Fatal(err)
		}
		select {
		case n := <-exists:
			if n != uint32(i) {
				t.Fatalf("EXISTS %d, want %d", n, i)
			}
			t.Logf("message %d seen after %s", i, time.Since(t0).Round(time.Millisecond))
		case <-time.After(3 * poll):
			t.Fatalf("message %d: no EXISTS within %s (IDLE poll every %s)", i, 3*poll, poll)
		}
	}
}
