package notify

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"congthu/internal/testenv"
	"congthu/notify/notifydb"
	"congthu/queue"
	"congthu/store"
)

func TestJobOf(t *testing.T) {
	for _, c := range []struct {
		channel string
		test    bool
		queue   string
	}{
		{ChannelEmail, false, ""},
		{ChannelEmail, true, QueueTest},
		{ChannelSMS, false, "sms"},
		{ChannelSMS, true, QueueTest},
		{"zalo", false, "zalo"},
	} {
		j, ok := JobOf("n1", c.channel, c.test)
		if ok != (c.queue != "") || j.Queue != c.queue || (ok && j.ID != "notification:n1") {
			t.Errorf("JobOf(%s, test=%v) = %+v, %v; want queue %q", c.channel, c.test, j, ok, c.queue)
		}
	}
}

func TestFallbackFor(t *testing.T) {
	for _, c := range []struct {
		channels []string
		phone    string
		ok       bool
		from     string
	}{
		{[]string{"email"}, "+84912345678", true, ChannelEmail},
		{[]string{"email"}, "", false, ""},
		{[]string{"email", "sms"}, "+84912345678", false, ""},
		{[]string{"sms"}, "+84912345678", false, ""},
		{nil, "+84912345678", false, ""},
		{[]string{"email", "zalo", "sms"}, "+84912345678", true, ChannelZalo},
		{[]string{"zalo", "sms"}, "+84912345678", true, ChannelZalo},
		{[]string{"email", "zalo"}, "+84912345678", false, ""},
		{[]string{"sms", "zalo"}, "+84912345678", false, ""},
		{[]string{"email", "zalo", "sms"}, "", false, ""},
	} {
		from, to, ok := FallbackFor(c.channels, c.phone)
		if ok != c.ok || (ok && (from != c.from || to != ChannelSMS)) {
			t.Errorf("FallbackFor(%v, %q) = %q, %q, %v; want ok=%v", c.channels, c.phone, from, to, ok, c.ok)
		}
	}
}

func TestFallbackProblem(t *testing.T) {
	if p := FallbackProblem([]string{"email", "sms", "zalo"}); p == "" {
		t.Error("sms before zalo: no problem reported")
	}
	for _, ok := range [][]string{{"email", "zalo", "sms"}, {"sms"}, {"zalo"}, {"email", "sms"}} {
		if p := FallbackProblem(ok); p != "" {
			t.Errorf("%v: %s", ok, p)
		}
	}
}

// recordingChannel is a Channel that records what it was asked to send.
type recordingChannel struct {
	name string
	sent []string
	err  error
}

func (c *recordingChannel) Name() string { return c.name }
func (c *recordingChannel) Send(_ context.Context, n *notifydb.Notification, attempt int) error {
	c.sent = append(c.sent, n.ID)
	return c.err
}

// TestChannelHandler runs Tracker.Handler over a real store and queue:
// only live, not final notifications of the channel reach Send, and the
// sweeper's Source finds them on the channel's queue.
func TestChannelHandler(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	nst := notifydb.New(st)
	q := queue.NewClient(testenv.RedisClient(t, testenv.Redis(t)))
	tr := NewTracker(nst, q, nil, nil)
	st.Outbox().AddHook(nst.NotificationHook(tr.OutboxRecorded))
	if _, err := nst.AddAPIKey(ctx, "motcua", "hash1", "ct_live_abc", false); err != nil {
		t.Fatal(err)
	}

	note := func(id, channel, recipient string, test bool) notifydb.NewNotification {
		return notifydb.NewNotification{Notification: notifydb.Notification{ID: id, Channel: channel, Recipient: recipient, Test: test,
			TemplateID: "dossier-received-" + channel, TemplateVersion: 1, DossierCode: "000.12", Reference: "ref-" + id}}
	}
	if res, err := nst.CreateNotification(ctx, &notifydb.NotificationRequest{Service: "motcua", Notifications: []notifydb.NewNotification{
		note("live-sms", "sms", "+84912345678", false),
		note("done-sms", "sms", "+84912345679", false),
		note("live-email", "email", "a@example.vn", false),
	}}); err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	if res, err := nst.CreateNotification(ctx, &notifydb.NotificationRequest{Service: "motcua", Test: true, Notifications: []notifydb.NewNotification{
		note("test-sms", "sms", "+84912345678", true),
	}}); err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	if _, err := tr.SetStatus(ctx, "done-sms", notifydb.NotificationDelivered, "", time.Now()); err != nil {
		t.Fatal(err)
	}

	ch := &recordingChannel{name: "sms", err: queue.RetryAt(time.Now().Add(time.Minute), errors.New("later"))}
	h := tr.Handler(ch)
	run := func(id string) error { return h.Handle(ctx, &queue.Job{ID: JobID(id), Queue: "sms", Attempt: 2}) }

	if err := run("live-sms"); err == nil || errors.Is(err, queue.ErrPermanent) {
		t.Errorf("live sms: got %v, want Send's retry", err)
	}
	if err := run("done-sms"); err != nil {
		t.Errorf("delivered sms: got %v, want nil", err)
	}
	for _, id := range []string{"test-sms", "live-email", "no-such"} {
		if err := run(id); !errors.Is(err, queue.ErrPermanent) {
			t.Errorf("%s: got %v, want a permanent job error", id, err)
		}
	}
	if !slices.Equal(ch.sent, []string{"live-sms"}) {
		t.Errorf("Send got %v, want [live-sms]", ch.sent)
	}

	due := func(queueName string) []string {
		jobs, _, err := tr.Source().Due(ctx, queueName, time.Now().Add(time.Minute), "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, j := range jobs {
			if j.Queue != queueName {
				t.Errorf("job %s on queue %q, want %q", j.ID, j.Queue, queueName)
			}
			ids = append(ids, j.ID)
		}
		return ids
	}
	if got := due("sms"); !slices.Equal(got, []string{"notification:live-sms"}) {
		t.Errorf("due on sms = %v", got)
	}
	if got := due(QueueTest); !slices.Equal(got, []string{"notification:test-sms"}) {
		t.Errorf("due on %s = %v", QueueTest, got)
	}
}
