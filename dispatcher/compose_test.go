package dispatcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"congthu/internal/testdns"
	"congthu/notify/notifydb"
	"congthu/outbox"
	"congthu/store"
)

// composeTracker composes notification email (composed), unless err is
// set, and records the status events the notification hook reports.
type composeTracker struct {
	nst   *notifydb.Store
	mu    sync.Mutex
	err   error
	calls int
	done  []string
}

// attach makes ct compose e's entries and subscribes it, through the
// store's notification hook, to their outcomes.
func (c *composeTracker) attach(e *env, recorded func(context.Context, *notifydb.NotificationRecord)) {
	c.nst = e.nst
	if recorded == nil {
		recorded = c.OutboxRecorded
	}
	e.st.Outbox().AddHook(e.nst.NotificationHook(recorded))
}

func (c *composeTracker) OutboxRecorded(_ context.Context, rec *notifydb.NotificationRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range rec.Events {
		c.done = append(c.done, ev.NotificationID+" "+ev.Status+" "+ev.Detail)
	}
}

func (c *composeTracker) Compose(ctx context.Context, id int64) ([]byte, error) {
	c.mu.Lock()
	err := c.err
	c.calls++
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	n, err := c.nst.NotificationByOutbox(ctx, id)
	if err != nil {
		return nil, err
	}
	return composed(n), nil
}

// composed is the message composeTracker makes of n. The dispatcher sends
// what Compose returns as it is (with a DKIM signature on top); the real
// composition is package notify's and is tested there.
func composed(n *notifydb.Notification) []byte {
	return []byte("From: <" + n.FromAddress + ">\r\nTo: <" + n.Recipient + ">\r\nSubject: notification " + n.ID +
		"\r\nMessage-Id: <" + n.ID + "@local.test>\r\nX-Congthu-Notification: " + n.ID +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.ReplaceAll(n.Text, "\n", "\r\n"))
}

// notificationEmail stores a live notification email from local.test to
// rcpt, as the API does, and returns its outbox entry.
func (e *env) notificationEmail(id, rcpt string) int64 {
	e.t.Helper()
	if _, err := e.nst.AddAPIKey(e.ctx, "motcua", "hash-"+id, "h", false); err != nil {
		e.t.Fatal(err)
	}
	n := notifydb.NewNotification{Notification: notifydb.Notification{ID: id, Channel: "email", Recipient: rcpt,
		TemplateID: "dossier-received-email", TemplateVersion: 1, DossierCode: "000.00.12.H26-260315-0001",
		Subject: "Hồ sơ đã được tiếp nhận", Text: "Kính gửi ông Nguyễn Văn An,\n\nHồ sơ đã được tiếp nhận.\n",
		HTML:        "<p>Kính gửi ông Nguyễn Văn An,</p><p>Hồ sơ đã được tiếp nhận.</p>",
		FromAddress: "noreply@local.test", FromName: "UBND quận Hoàn Kiếm", ToName: "Nguyễn Văn An", ReplyTo: "motcua@local.test"},
		MailFrom: "bounce+" + id + "@local.test"}
	res, err := e.nst.CreateNotifications(e.ctx, []*notifydb.NotificationRequest{{Service: "motcua", Notifications: []notifydb.NewNotification{n}}})
	if err != nil || res[0].Err != nil || len(res[0].OutboxIDs) != 1 {
		e.t.Fatalf("CreateNotifications: %+v %v", res, err)
	}
	return res[0].OutboxIDs[0]
}

// exampleOrgMX points example.org's MX at 127.0.0.1 (the sink's port is
// Options.Port).
func (e *env) exampleOrgMX() {
	e.mx("example.org", testdns.MX{Pref: 10, Host: "mx.example.org"})
	e.dns.SetA("mx.example.org", "127.0.0.1")
}

// wantFailed checks that rcpt of outbox entry id failed for good, with a
// reason containing reason.
func (e *env) wantFailed(id int64, rcpt, reason string) {
	e.t.Helper()
	if r := e.state(id)[rcpt]; r.Status != outbox.Failed || !strings.Contains(r.LastError, reason) {
		e.t.Errorf("entry %d, %s: %+v, want failed with %q", id, rcpt, r, reason)
	}
}

// timeline returns notification id's events and their statuses, spaced.
func (e *env) timeline(id string) ([]notifydb.NotificationEvent, string) {
	e.t.Helper()
	evs, err := e.nst.NotificationEvents(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Status)
	}
	return evs, strings.Join(got, " ")
}

// TestComposeAtDelivery: a notification email is stored without its
// bytes and composed by the tracker when delivered, then DKIM-signed. A
// failing Compose is retried with the job unless the error says the
// message can never be built, which fails the recipient permanently.
func TestComposeAtDelivery(t *testing.T) {
	sk := startSink(t, sinkOpts{})
	ct := &composeTracker{}
	e := newEnv(t, envOpts{noRun: true, opts: func(o *Options) { o.Port = portOf(t, sk.addr); o.Compose = ct.Compose }})
	ct.attach(e, nil)
	e.exampleOrgMX()

	id := e.notificationEmail("n-1", "an@example.org")
	if st, err := e.st.Outbox().State(e.ctx, id); err != nil || len(st.Raw) != 0 {
		t.Fatalf("stored entry: %+v %v, want no bytes and the notification", st, err)
	}

	// The store is briefly unreachable: nothing is sent or recorded,
	// and the job is tried again.
	ct.err = errors.New("store: connection refused")
	if _, err := e.d.AttemptNow(e.ctx, id); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("AttemptNow with a failing Compose: %v, want the error", err)
	}
	if r := e.state(id)["an@example.org"]; r.Status != outbox.Queued || r.Attempts != 0 || sk.count() != 0 {
		t.Fatalf("after a transient compose failure: %+v, sink %d", r, sk.count())
	}

	ct.err = nil
	if _, err := e.d.AttemptNow(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	msgs := sk.messages()
	if len(msgs) != 1 {
		t.Fatalf("sink got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.from != "bounce+n-1@local.test" || len(m.rcpts) != 1 || m.rcpts[0] != "an@example.org" {
		t.Errorf("envelope: %q -> %q", m.from, m.rcpts)
	}
	n1, err := e.nst.NotificationByOutbox(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := composed(n1); !bytes.HasSuffix(m.data, want) || !hasPrefix(m.data, "DKIM-Signature:") {
		t.Errorf("sent message is not the composed one under a DKIM signature:\n%s\nwant …\n%s", m.data, want)
	}
	vs, err := e.verifyDKIM(m.data)
	if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "local.test" {
		t.Fatalf("dkim: %+v %v", vs, err)
	}

	// A notification that cannot be composed fails at once.
	id2 := e.notificationEmail("n-2", "binh@example.org")
	ct.err = fmt.Errorf("notify: compose: sender %q has no domain: %w", "noreply", store.ErrInvalid)
	if _, err := e.d.AttemptNow(e.ctx, id2); err != nil {
		t.Fatal(err)
	}
	e.wantFailed(id2, "binh@example.org", "cannot compose")
	if sk.count() != 1 {
		t.Errorf("sink got %d messages, want still 1", sk.count())
	}
	ct.mu.Lock()
	done := strings.Join(ct.done, "\n")
	ct.mu.Unlock()
	if !strings.Contains(done, "n-1 sending") || !strings.Contains(done, "n-1 delivered") ||
		!strings.Contains(done, "n-2 permanent-failure cannot compose the message") {
		t.Errorf("tracker told: %q", done)
	}
	// The notification's timeline: sending as of the attempt's start,
	// then delivered (notifydb.TestRecordAttemptsAtomic checks that
	// they are written with the outcome, in one transaction).
	evs, got := e.timeline("n-1")
	if got != "created sending delivered" || evs[1].At.After(evs[2].At) {
		t.Errorf("n-1 timeline: %+v", evs)
	}
}

// TestComposeWithoutTracker: an entry without bytes and no tracker to
// compose it is failed, not sent empty.
func TestComposeWithoutTracker(t *testing.T) {
	sk := startSink(t, sinkOpts{})
	e := newEnv(t, envOpts{noRun: true, opts: func(o *Options) { o.Port = portOf(t, sk.addr) }})
	e.exampleOrgMX()
	id := e.notificationEmail("n-3", "an@example.org")
	if _, err := e.d.AttemptNow(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	e.wantFailed(id, "an@example.org", "nothing is set to compose")
	if sk.count() != 0 {
		t.Errorf("sink got %d messages, want 0", sk.count())
	}
}

// TestSendingMarkDuringSlowAttempt: a first attempt that outlasts
// SendingAfter marks its notification sending while it runs, as of its
// start; one that ends sooner records sending with the outcome (above).
func TestSendingMarkDuringSlowAttempt(t *testing.T) {
	sk := startSink(t, sinkOpts{dataDelay: 1500 * time.Millisecond})
	ct := &composeTracker{}
	e := newEnv(t, envOpts{noRun: true, opts: func(o *Options) {
		o.Port = portOf(t, sk.addr)
		o.Compose = ct.Compose
		o.SendingAfter = 200 * time.Millisecond
	}})
	ct.attach(e, nil)
	e.exampleOrgMX()
	id := e.notificationEmail("n-slow", "an@example.org")

	begun := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := e.d.AttemptNow(e.ctx, id)
		done <- err
	}()
	var during string
	for time.Since(begun) < 1200*time.Millisecond {
		n, err := e.nst.Notification(e.ctx, "n-slow")
		if err != nil {
			t.Fatal(err)
		}
		if during = n.Status; during == notifydb.NotificationSending {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if during != notifydb.NotificationSending {
		t.Errorf("status while the attempt ran: %q, want sending", during)
	}
	evs, got := e.timeline("n-slow")
	if got != "created sending delivered" {
		t.Fatalf("timeline: %+v", evs)
	}
	// Sending is dated when the attempt began, not when it was marked.
	if at := evs[1].At; at.Before(begun) || at.Sub(begun) > 150*time.Millisecond || evs[1].CreatedAt.Sub(at) < 150*time.Millisecond {
		t.Errorf("sending at %v, recorded %v; the attempt began %v", at, evs[1].CreatedAt, begun)
	}
	ct.mu.Lock()
	marks := strings.Count(strings.Join(ct.done, "\n"), "n-slow sending")
	ct.mu.Unlock()
	if marks != 1 {
		t.Errorf("marked sending %d times, want 1", marks)
	}
}

// panicTracker is a composeTracker whose recorded hook panics on its
// first call, and on the first report of an attempt in progress.
type panicTracker struct {
	composeTracker
	recorded, sending atomic.Int32
}

func (p *panicTracker) OutboxRecorded(ctx context.Context, rec *notifydb.NotificationRecord) {
	if len(rec.Events) == 1 && rec.Events[0].Status == notifydb.NotificationSending && p.sending.Add(1) == 1 {
		panic("sending hook panicked")
	}
	if p.recorded.Add(1) == 1 {
		panic("tracker hook panicked")
	}
	p.composeTracker.OutboxRecorded(ctx, rec)
}

// TestTrackerHookPanics: a tracker hook that panics fails one job at most
// (the outcome is already recorded, so nothing is sent twice); the
// later outcomes are still recorded, and a panic in the sending mark's timer does
// not bring the process down.
func TestTrackerHookPanics(t *testing.T) {
	sk := startSink(t, sinkOpts{dataDelay: 400 * time.Millisecond})
	pt := &panicTracker{}
	e := newEnv(t, envOpts{opts: func(o *Options) {
		o.Port = portOf(t, sk.addr)
		o.Compose = pt.Compose
		o.SendingAfter = 100 * time.Millisecond
	}})
	pt.attach(e, pt.OutboxRecorded)
	e.exampleOrgMX()
	for _, id := range []string{"n-1", "n-2"} {
		e.notificationEmail(id, id+"@example.org")
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, err := e.nst.Notification(e.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if n.Status == notifydb.NotificationDelivered {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s after 10 s (sink got %d)", id, n.Status, sk.count())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, got := e.timeline(id); got != "created sending delivered" {
			t.Errorf("%s timeline: %s", id, got)
		}
	}
	time.Sleep(300 * time.Millisecond) // a retried job would send again now
	if sk.count() != 2 || pt.recorded.Load() < 2 || pt.sending.Load() < 2 {
		t.Errorf("sink got %d messages, want 2; hooks called %d and %d times", sk.count(), pt.recorded.Load(), pt.sending.Load())
	}
}
