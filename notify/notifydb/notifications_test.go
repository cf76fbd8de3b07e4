package notifydb

import (
	"congthu/store"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"congthu/internal/sqldb"
)

func newNote(id, channel, recipient string) NewNotification {
	return NewNotification{Notification: Notification{ID: id, Channel: channel, Recipient: recipient,
		TemplateID: "dossier-received-" + channel, TemplateVersion: 1, DossierCode: "000.12", Reference: "ref-" + id}}
}

func TestAPIKeysAndServices(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		k, err := s.AddAPIKey(ctx, "motcua", "hash1", "ct_live_abc", false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddAPIKey(ctx, "motcua", "hash1", "x", false); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate hash: got %v, want ErrExists", err)
		}
		kt, err := s.AddAPIKey(ctx, "motcua", "hash2", "ct_test_abc", true)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.APIKeyByHash(ctx, "hash2")
		if err != nil || !got.Test || got.Service != "motcua" || got.ID != kt.ID {
			t.Errorf("APIKeyByHash: got %+v, %v", got, err)
		}
		if _, err := s.APIKeyByHash(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown hash: got %v", err)
		}
		if err := s.RevokeAPIKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeAPIKey(ctx, 9999); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoke unknown: got %v", err)
		}
		keys, err := s.APIKeys(ctx, "")
		if err != nil || len(keys) != 2 || keys[0].RevokedAt.IsZero() || !keys[1].RevokedAt.IsZero() {
			t.Errorf("APIKeys: got %+v, %v", keys, err)
		}
		if err := s.SetServiceCallback(ctx, "motcua", "https://cb.example/x", "secret"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetServiceCallback(ctx, "other", "", "ignored"); err != nil {
			t.Fatal(err)
		}
		svcs, err := s.APIServices(ctx)
		if err != nil || len(svcs) != 2 || svcs[0].CallbackURL != "https://cb.example/x" || svcs[0].CallbackSecret != "secret" || svcs[1].CallbackSecret != "" {
			t.Errorf("APIServices: got %+v, %v", svcs, err)
		}
	})
}

func TestCreateNotificationsAndStatus(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, _ *Store) {
		var added []int64
		var mu sync.Mutex
		s := b.open(t, func(o *store.Options) {
			o.Outbox.Added = func(id int64) { mu.Lock(); added = append(added, id); mu.Unlock() }
		})
		if _, err := s.AddAPIKey(ctx, "motcua", "h", "ct", false); err != nil {
			t.Fatal(err)
		}
		if err := s.SetServiceCallback(ctx, "motcua", "http://cb.test/", "k"); err != nil {
			t.Fatal(err)
		}
		email := newNote("0001", "email", "an@example.com")
		email.MailFrom = "bounce+0001@hanoi.gov.vn"
		email.FromAddress, email.FromName, email.ToName, email.ReplyTo = "noreply@hanoi.gov.vn", "Sở Tư pháp", "Nguyễn Văn An", "motcua@hanoi.gov.vn"
		req := &NotificationRequest{Service: "motcua", IdempotencyKey: "ev-1", RequestHash: "h1", Status: 201, Response: []byte(`{"ok":1}`),
			Notifications: []NewNotification{email, newNote("0002", "sms", "+84912345678")}}
		bad := &NotificationRequest{Service: "ghost", Notifications: []NewNotification{newNote("0003", "sms", "+84912345678")}}
		dup := &NotificationRequest{Service: "motcua", IdempotencyKey: "ev-1", RequestHash: "h2", Status: 201, Response: []byte(`{}`),
			Notifications: []NewNotification{newNote("0004", "sms", "+84912345678")}}
		res, err := s.CreateNotifications(ctx, []*NotificationRequest{req, bad, dup})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Err != nil || res[0].Replayed || len(res[0].Events) != 2 || len(res[0].OutboxIDs) != 1 {
			t.Fatalf("first: got %+v", res[0])
		}
		if !errors.Is(res[1].Err, ErrInvalid) {
			t.Errorf("unknown service: got %+v", res[1])
		}
		if !res[2].Replayed || res[2].RequestHash != "h1" || string(res[2].Response) != `{"ok":1}` {
			t.Errorf("same key in the batch: got %+v", res[2])
		}
		if _, err := s.Notification(ctx, "0004"); !errors.Is(err, ErrNotFound) {
			t.Errorf("replayed request created a notification: %v", err)
		}
		if h, st, body, err := s.Idempotency(ctx, "motcua", false, "ev-1"); err != nil || h != "h1" || st != 201 || string(body) != `{"ok":1}` {
			t.Errorf("Idempotency: %q %d %q %v", h, st, body, err)
		}
		mu.Lock()
		if len(added) != 1 || added[0] != res[0].OutboxIDs[0] {
			t.Errorf("Added: got %v, want %v", added, res[0].OutboxIDs)
		}
		mu.Unlock()
		nid, err := s.notificationIDByOutbox(ctx, res[0].OutboxIDs[0])
		if err != nil || nid != "0001" {
			t.Fatalf("NotificationIDByOutbox: %q %v", nid, err)
		}
		// Composed when delivered: the entry holds no bytes, its
		// notification what to compose it from.
		st, err := s.outbox.State(ctx, res[0].OutboxIDs[0])
		if err != nil || len(st.Raw) != 0 {
			t.Fatalf("State of a notification: %+v, %v", st, err)
		}
		sn, err := s.NotificationByOutbox(ctx, res[0].OutboxIDs[0])
		if err != nil || sn.ID != "0001" || sn.Recipient != "an@example.com" ||
			sn.FromAddress != email.FromAddress || sn.FromName != email.FromName || sn.ToName != email.ToName ||
			sn.ReplyTo != email.ReplyTo || sn.DossierCode != "000.12" || sn.CreatedAt.IsZero() {
			t.Errorf("NotificationByOutbox: %+v %v", sn, err)
		}
		if _, err := s.NotificationByOutbox(ctx, 999999); !errors.Is(err, ErrNotFound) {
			t.Errorf("NotificationByOutbox of ordinary mail: %v, want ErrNotFound", err)
		}
		if _, err := s.notificationIDByOutbox(ctx, 999999); !errors.Is(err, ErrNotFound) {
			t.Fatalf("NotificationIDByOutbox of ordinary mail: %v, want ErrNotFound", err)
		}
		n, err := s.Notification(ctx, nid)
		if err != nil || n.Status != NotificationCreated || n.OutboxID != res[0].OutboxIDs[0] {
			t.Fatalf("Notification: %+v %v", n, err)
		}
		if n.FromAddress != email.FromAddress || n.FromName != email.FromName || n.ToName != email.ToName || n.ReplyTo != email.ReplyTo {
			t.Errorf("sender fields: got %q %q %q %q", n.FromAddress, n.FromName, n.ToName, n.ReplyTo)
		}
		// Composed when delivered: the entry holds no bytes yet.
		ob, err := s.outbox.State(ctx, n.OutboxID)
		if err == nil && len(ob.Raw) != 0 {
			t.Errorf("outbox bytes: %q, want none", ob.Raw)
		}
		if err != nil || ob.MailFrom != "bounce+0001@hanoi.gov.vn" || len(ob.Recipients) != 1 || ob.Recipients[0].Address != "an@example.com" {
			t.Errorf("Outbox: %+v %v", ob, err)
		}

		// Lifecycle.
		at := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
		steps := []struct {
			status  string
			changed bool
		}{
			{NotificationSending, true},
			{NotificationSending, false},
			{NotificationCreated, false},
			{NotificationDelivered, true},
			{NotificationPermanentFailure, false},
			{NotificationSending, false},
		}
		for _, st := range steps {
			changed, err := s.setNotificationStatus(ctx, "0001", st.status, "detail", at)
			if err != nil || changed != st.changed {
				t.Errorf("set %s: changed %v, %v; want %v", st.status, changed, err, st.changed)
			}
		}
		if _, err := s.setNotificationStatus(ctx, "0001", "bogus", "", at); !errors.Is(err, ErrInvalid) {
			t.Errorf("bogus status: %v", err)
		}
		if _, err := s.setNotificationStatus(ctx, "nope", NotificationSending, "", at); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown notification: %v", err)
		}
		n, _ = s.Notification(ctx, "0001")
		if n.Status != NotificationDelivered || !n.SentAt.Equal(at) || !n.CompletedAt.Equal(at) {
			t.Errorf("after delivery: %+v", n)
		}
		evs, err := s.NotificationEvents(ctx, "0001")
		if err != nil || len(evs) != 3 || evs[0].Status != "created" || evs[1].Status != "sending" || evs[2].Status != "delivered" {
			t.Fatalf("events: %+v %v", evs, err)
		}
		cb, err := s.Callback(ctx, evs[2].ID)
		if err != nil || cb.State != CallbackPending {
			t.Errorf("callback of delivered: %+v %v", cb, err)
		}
		if _, err := s.Callback(ctx, evs[0].ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("created event has a callback: %v", err)
		}
		due, err := s.CallbacksDue(ctx, time.Now(), 0, 10)
		if err != nil || len(due) != 2 {
			t.Errorf("CallbacksDue: %v %v", due, err)
		}
		if err := s.UpdateCallback(ctx, evs[2].ID, CallbackDone, time.Time{}, ""); err != nil {
			t.Fatal(err)
		}
		if due, _ := s.CallbacksDue(ctx, time.Now(), 0, 10); len(due) != 1 || due[0] != evs[1].ID {
			t.Errorf("CallbacksDue after done: %v", due)
		}
		all, err := s.eventsAfter(ctx, "motcua", 0, 100)
		if err != nil || len(all) != 4 {
			t.Fatalf("EventsAfter: %d %v", len(all), err)
		}
		if rest, _ := s.eventsAfter(ctx, "motcua", all[1].ID, 100); len(rest) != 2 || rest[0].ID != all[2].ID {
			t.Errorf("EventsAfter cursor: %+v", rest)
		}
		list, err := s.Notifications(ctx, NotificationFilter{Service: "motcua", DossierCode: "000.12"})
		if err != nil || len(list) != 2 || list[0].ID != "0002" {
			t.Errorf("Notifications: %+v %v", list, err)
		}
		if list, _ := s.Notifications(ctx, NotificationFilter{Service: "motcua", Status: "delivered"}); len(list) != 1 {
			t.Errorf("by status: %d", len(list))
		}
		if list, _ := s.Notifications(ctx, NotificationFilter{Service: "motcua", OlderThan: "0002"}); len(list) != 1 || list[0].ID != "0001" {
			t.Errorf("older_than: %+v", list)
		}
		if ids, _ := s.PendingNotifications(ctx, false, "sms", time.Now(), "", 10); len(ids) != 1 || ids[0] != "0002" {
			t.Errorf("PendingNotifications: %v", ids)
		}

		// Expiry after 72 h.
		evsx, err := s.ExpireNotifications(ctx, time.Now().Add(71*time.Hour), 72*time.Hour, 0)
		if err != nil || len(evsx) != 0 {
			t.Errorf("expire too early: %v %v", evsx, err)
		}
		evsx, err = s.ExpireNotifications(ctx, time.Now().Add(73*time.Hour), 72*time.Hour, 0)
		if err != nil || len(evsx) != 1 || evsx[0].NotificationID != "0002" || evsx[0].Status != NotificationTemporaryFailure || !evsx[0].Callback {
			t.Errorf("expire: %+v %v", evsx, err)
		}
	})
}

// TestEventCursorMonotonic checks that a reader following the cursor never
// misses an event: concurrent writers commit events while a reader pages
// with EventsAfter; afterwards every event must have been seen.
func TestEventCursorMonotonic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, err := s.AddAPIKey(ctx, "svc", "h", "ct", false); err != nil {
			t.Fatal(err)
		}
		const writers, each = 8, 15
		var done atomic.Bool
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					id := fmt.Sprintf("w%02d-%03d", w, i)
					if _, err := s.CreateNotifications(ctx, []*NotificationRequest{{Service: "svc", Notifications: []NewNotification{newNote(id, "sms", "+84912345678")}}}); err != nil {
						t.Error(err)
						return
					}
					if _, err := s.setNotificationStatus(ctx, id, NotificationDelivered, "", time.Time{}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		seen := map[int64]bool{}
		var cursor int64
		read := func() {
			evs, err := s.eventsAfter(ctx, "svc", cursor, 1000)
			if err != nil {
				t.Error(err)
				return
			}
			for _, e := range evs {
				if e.ID <= cursor {
					t.Errorf("cursor went back: %d after %d", e.ID, cursor)
				}
				seen[e.ID] = true
				cursor = e.ID
			}
		}
		go func() { wg.Wait(); done.Store(true) }()
		for !done.Load() {
			read()
		}
		read()
		all, err := s.eventsAfter(ctx, "svc", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2*writers*each {
			t.Fatalf("got %d events, want %d", len(all), 2*writers*each)
		}
		var missed []int64
		for _, e := range all {
			if !seen[e.ID] {
				missed = append(missed, e.ID)
			}
		}
		sort.Slice(missed, func(i, j int) bool { return missed[i] < missed[j] })
		if len(missed) > 0 {
			t.Errorf("the reader missed %d events: %v", len(missed), missed)
		}
	})
}

// PurgeIdempotency deletes the oldest records first, at most limit per
// call, only those older than the cutoff; a purged key is a new request.
func TestPurgeIdempotency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, err := s.AddAPIKey(ctx, "motcua", "hash-p", "ct_live_p", false); err != nil {
			t.Fatal(err)
		}
		base := time.Now().Add(-48 * time.Hour)
		for i := range 5 {
			n := newNote(fmt.Sprintf("p%d", i), "sms", "+84912345678")
			n.CreatedAt = base.Add(time.Duration(i) * time.Hour)
			req := &NotificationRequest{Service: "motcua", IdempotencyKey: fmt.Sprintf("ev-%d", i), RequestHash: "h", Status: 201,
				Response: []byte("{}"), Notifications: []NewNotification{n}}
			if _, err := s.CreateNotifications(ctx, []*NotificationRequest{req}); err != nil {
				t.Fatal(err)
			}
			// created_at of the record is the commit time: age it.
			if _, err := s.w().Exec(ctx, "UPDATE idempotency_keys SET created_at = ? WHERE idem_key = ?", sqldb.Micro(n.CreatedAt), req.IdempotencyKey); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.PurgeIdempotency(ctx, time.Now(), 0); !errors.Is(err, ErrInvalid) {
			t.Fatalf("limit 0: %v, want ErrInvalid", err)
		}
		// Older than base+2h30: ev-0, ev-1, ev-2; two per call.
		cut := base.Add(150 * time.Minute)
		if n, err := s.PurgeIdempotency(ctx, cut, 2); err != nil || n != 2 {
			t.Fatalf("first purge: %d, %v, want 2", n, err)
		}
		for i, want := range []bool{false, false, true, true, true} {
			_, _, _, err := s.Idempotency(ctx, "motcua", false, fmt.Sprintf("ev-%d", i))
			if got := err == nil; got != want {
				t.Fatalf("after the first purge ev-%d kept = %v (%v), want %v", i, got, err, want)
			}
		}
		if n, err := s.PurgeIdempotency(ctx, cut, 2); err != nil || n != 1 {
			t.Fatalf("second purge: %d, %v, want 1", n, err)
		}
		if n, err := s.PurgeIdempotency(ctx, cut, 2); err != nil || n != 0 {
			t.Fatalf("third purge: %d, %v, want 0", n, err)
		}
		if _, _, _, err := s.Idempotency(ctx, "motcua", false, "ev-3"); err != nil {
			t.Fatalf("ev-3 (younger than the cutoff) purged: %v", err)
		}
		// The purged key makes a new request again.
		n := newNote("p0-again", "sms", "+84912345678")
		res, err := s.CreateNotifications(ctx, []*NotificationRequest{{Service: "motcua", IdempotencyKey: "ev-0", RequestHash: "h2", Status: 201,
			Response: []byte("{}"), Notifications: []NewNotification{n}}})
		if err != nil || res[0].Replayed || res[0].Err != nil {
			t.Fatalf("reused key after purge: %+v, %v", res, err)
		}
	})
}

// The pending counts (for metrics) see created and sending notifications
// only, and on SQLite read them through the partial index, not the table.
func TestPendingNotificationCounts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, err := s.AddAPIKey(ctx, "motcua", "h", "ct", false); err != nil {
			t.Fatal(err)
		}
		var notes []NewNotification
		for i := range 5 {
			notes = append(notes, newNote(fmt.Sprintf("p%04d", i), "email", "an@example.com"))
		}
		notes = append(notes, newNote("p0100", "sms", "+84912345678"))
		if _, err := s.CreateNotification(ctx, &NotificationRequest{Service: "motcua", Notifications: notes}); err != nil {
			t.Fatal(err)
		}
		for id, st := range map[string]string{"p0000": NotificationSending, "p0001": NotificationSending, "p0002": NotificationDelivered} {
			if id == "p0002" {
				if _, err := s.setNotificationStatus(ctx, id, NotificationSending, "", time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.setNotificationStatus(ctx, id, st, "", time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.PendingNotificationCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []NotificationCount{{"email", NotificationCreated, 2}, {"email", NotificationSending, 2}, {"sms", NotificationCreated, 1}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pending counts %v, want %v", got, want)
		}
		if b.name != "sqlite" {
			return
		}
		rows, err := s.r().Query(ctx, "EXPLAIN QUERY PLAN SELECT channel, status, COUNT(*) FROM notifications WHERE status IN ('created', 'sending') GROUP BY channel, status ORDER BY channel, status")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		plan := ""
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan += detail + "; "
		}
		if !strings.Contains(plan, "notifications_pending") {
			t.Errorf("the pending counts do not use the partial index: %s", plan)
		}
	})
}
