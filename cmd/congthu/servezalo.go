package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/config"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/notify/zalochan"
	"congthu/queue"
	"congthu/sms/policy"
)

// zaloConcurrency is how many Zalo messages are sent at once by a node.
// A send is two group commits and an HTTP round trip, so throughput is
// about zaloConcurrency over that time; the HTTP client keeps as many
// connections.
const zaloConcurrency = 1024

// startZalo starts the Zalo channel: the token keeper over the store, the
// handler on queue "zalo" (quiet hours and per-number limits shared with
// SMS: the same Redis counters), and the janitor of early receipts. It
// returns the webhook of Zalo's events (POST /v1/zalo/events).
func startZalo(ctx context.Context, r *runner, cfg *config.Config, st *notifydb.Store, qc *queue.Client, rdb *redis.Client,
	tracker *notify.Tracker, log *slog.Logger) (http.Handler, error) {
	client, tokens, err := zaloClient(cfg, st, log)
	if err != nil {
		return nil, err
	}
	quiet, err := policy.ParseQuietHours(cfg.SMS.QuietHours)
	if err != nil {
		return nil, err
	}
	limits := policy.Limits{Max: cfg.SMS.MaxPerHour, Window: time.Hour, DuplicateWindow: cfg.SMS.DuplicateWindow.D()}
	h := zalochan.NewHandler(st, tracker, zalochan.Options{
		Sender: client, Tokens: tokens, Limiter: policy.NewLimiter(rdb, limits), Limits: limits, QuietHours: quiet,
		ReceiptTimeout: cfg.Zalo.ReceiptTimeout.D(), PriceVND: cfg.Zalo.PriceVND, Logger: log,
	})
	w := queue.NewWorker(qc, log.With("component", "zalo-worker"), queue.WorkerOptions{})
	w.Handle(notify.ChannelZalo, tracker.Handler(h), queue.HandlerOptions{Concurrency: zaloConcurrency, Lease: 30 * time.Second})
	r.goRun("zalo worker", func() error { return w.Run(ctx) })
	r.goRun("zalo janitor", func() error {
		tick := time.NewTicker(time.Hour)
		defer tick.Stop()
		for {
			if n, err := st.PurgeZNSEarlyReceipts(ctx, time.Now().Add(-7*24*time.Hour)); err != nil {
				log.Warn("zalo: purge early receipts failed", "err", err)
			} else if n > 0 {
				log.Info("zalo: early receipts purged", "count", n)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
	})
	return zalochan.NewEvents(st, tracker, cfg.Zalo.AppID, cfg.Zalo.OASecret, log), nil
}

// reminderOptions are the appointment reminders of the configuration (nil
// when api.reminder_lead is 0): a phone channel's reminder that falls in
// the SMS quiet hours goes before they begin.
func reminderOptions(cfg *config.Config) (*notify.Reminders, error) {
	if cfg.API.ReminderLead.D() == 0 {
		return nil, nil
	}
	quiet, err := policy.ParseQuietHours(cfg.SMS.QuietHours)
	if err != nil {
		return nil, err
	}
	return &notify.Reminders{Lead: cfg.API.ReminderLead.D(), MinNotice: cfg.API.ReminderMinNotice.D(), PhoneTime: quiet.Before}, nil
}
