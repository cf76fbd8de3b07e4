package learn_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"congthu/filter/rspamd"
	"congthu/imapd"
	"congthu/internal/testenv"
	"congthu/learn"
	"congthu/queue"
	"congthu/store"
)

// TestFiledIntoJunk: a real IMAP client moves a message into Junk and
// back, and copies another into Junk twice; a real rspamd learns the
// first as spam, then as ham, and the second once.
func TestFiledIntoJunk(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	rsRedis := testenv.StartRedis(t)
	d := testenv.StartRspamd(t, rsRedis.Addr)
	rs := &rspamd.Client{URL: d.Controller, Password: d.Password}

	st, err := store.Open(ctx, store.Options{DataDir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.AddDomain(ctx, "hanoi.gov.vn"); err != nil {
		t.Fatal(err)
	}
	acct, err := st.AddAccount(ctx, "vp@hanoi.gov.vn", "mật-khẩu-đủ-dài-1")
	if err != nil {
		t.Fatal(err)
	}
	for i, body := range []string{"Trúng thưởng 100 triệu, bấm vào đây ngay.", "Vay tiền nhanh lãi suất 0%, liên hệ ngay."} {
		raw := "From: <khuyenmai@example.net>\r\nTo: <vp@hanoi.gov.vn>\r\nSubject: Quảng cáo " + string(rune('A'+i)) +
			"\r\nMessage-ID: <" + testenv.Name("m") + "@example.net>\r\nDate: Sun, 6 Dec 2026 10:00:00 +0700\r\n\r\n" + body + "\r\n"
		if _, err := st.Deliver(ctx, &store.Delivery{Raw: []byte(raw), InternalDate: time.Now(), Local: []store.LocalTarget{{AccountID: acct.ID}}}); err != nil {
			t.Fatal(err)
		}
	}

	rdb := testenv.RedisClient(t, testenv.Redis(t))
	qc := queue.NewClient(rdb)
	w := queue.NewWorker(qc, log, queue.WorkerOptions{Block: 100 * time.Millisecond})
	w.Handle(learn.QueueName, learn.NewHandler(st, rs, log), queue.HandlerOptions{Concurrency: 1})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(wctx) }()
	t.Cleanup(func() { stop(); <-done })

	srv := imapd.New(imapd.Options{AllowInsecureAuth: true, Learner: learn.NewQueue(qc, log)}, st, nil, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c, err := imapclient.DialInsecure(ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("vp@hanoi.gov.vn", "mật-khẩu-đủ-dài-1").Wait(); err != nil {
		t.Fatal(err)
	}
	waitLearned := func(want int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			n, err := rs.Learned(ctx)
			if err == nil && n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("rspamd learned %d (%v), want %d", n, err, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(imap.UIDSetNum(1), "Junk").Wait(); err != nil {
		t.Fatal(err)
	}
	waitLearned(1)
	if _, err := c.Select("Junk", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(imap.SeqSetNum(1), "INBOX").Wait(); err != nil {
		t.Fatal(err)
	}
	waitLearned(2) // the same message, now as ham
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := c.Copy(imap.UIDSetNum(2), "Junk").Wait(); err != nil {
			t.Fatal(err)
		}
	}
	waitLearned(3)
	time.Sleep(time.Second) // the second copy's job has run by now
	if n, _ := rs.Learned(ctx); n != 3 {
		t.Errorf("one message copied twice into Junk learned as %d, want once (3 in all)", n-2)
	}
	// Moving into Trash from INBOX teaches nothing.
	if _, err := c.Move(imap.UIDSetNum(2), "Trash").Wait(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n, _ := rs.Learned(ctx); n != 3 {
		t.Errorf("a move to Trash was learnt: %d", n)
	}
}
