package main

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/config"
	"congthu/dispatcher"
	"congthu/internal/testenv"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/outbox"
	"congthu/queue"
	"congthu/store"
	"congthu/webhook"
)

// serve starts with work already waiting in Redis (test-key
// notifications, an outbox entry, a callback): the workers take it at
// once, while the rest of the server is still being built. Under -race
// this fails when a component is changed after the workers reading it
// have started (the tracker's metrics observer was).
func TestServeStartsWithJobsWaiting(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.RedisURL = testenv.Redis(t)
	cfg.Hostname = "mail.hanoi.gov.vn"
	cfg.API.SenderDomain = "hanoi.gov.vn"
	cfg.Delivery.Smarthost = "127.0.0.1:1" // refused: the entry stays queued
	cfg.Listen = config.Listen{Submission: "off", Submissions: "off", IMAP: "off", IMAPS: "off", MX: "off", HTTP: "off"}
	cfg.Admin.Addr = "off"

	st, err := openStore(ctx, cfg, store.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	nst := notifydb.New(st)
	if _, err := st.AddDomain(ctx, "hanoi.gov.vn"); err != nil {
		t.Fatal(err)
	}
	if _, err := nst.AddAPIKey(ctx, "motcua", "hash", "ct_live_x", false); err != nil {
		t.Fatal(err)
	}
	note := func(id string) notifydb.NewNotification {
		return notifydb.NewNotification{Notification: notifydb.Notification{ID: id, Channel: "email", Recipient: id + "@example.com",
			TemplateID: "dossier-received-email", TemplateVersion: 1, DossierCode: "000.12", Reference: "ref-" + id,
			Subject: "Hồ sơ", Text: "Hồ sơ đã tiếp nhận", FromAddress: "noreply@hanoi.gov.vn"}, MailFrom: "bounce+" + id + "@hanoi.gov.vn"}
	}
	var tests []notifydb.NewNotification
	for i := range 20 {
		n := note(fmt.Sprintf("test-%02d", i))
		n.Test = true
		tests = append(tests, n)
	}
	res, err := nst.CreateNotifications(ctx, []*notifydb.NotificationRequest{
		{Service: "motcua", Test: true, Notifications: tests},
		{Service: "motcua", Notifications: []notifydb.NewNotification{note("live")}},
	})
	if err != nil || res[0].Err != nil || res[1].Err != nil || len(res[1].OutboxIDs) != 1 {
		t.Fatalf("CreateNotifications: %+v %v", res, err)
	}
	outboxID := res[1].OutboxIDs[0]
	st.Close()

	ropt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	qc := queue.NewClient(rdb)
	jobs := []queue.Job{
		{ID: dispatcher.JobID(outboxID), Queue: dispatcher.Queue},
		{ID: webhook.JobID(1), Queue: webhook.Queue},
	}
	for _, n := range tests {
		jobs = append(jobs, queue.Job{ID: notify.JobID(n.ID), Queue: notify.QueueTest})
	}
	for _, j := range jobs {
		if _, err := qc.Enqueue(ctx, j); err != nil {
			t.Fatal(err)
		}
	}

	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- serve(sctx, cfg, log) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := qc.Stats(ctx, notify.QueueTest)
		if err == nil && s.Ready+s.InFlight+s.Delayed == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("test-key jobs not done: %+v %v", s, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop")
	}

	st, err = openStore(ctx, cfg, store.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	nst = notifydb.New(st)
	for _, n := range tests {
		got, err := nst.Notification(ctx, n.ID)
		if err != nil || got.Status != notifydb.NotificationDelivered {
			t.Errorf("%s: %+v %v", n.ID, got, err)
		}
	}
	if o, err := st.Outbox().State(ctx, outboxID); err != nil || o.Recipients[0].Status != outbox.Queued {
		t.Errorf("outbox entry: %+v %v", o, err)
	}
}
