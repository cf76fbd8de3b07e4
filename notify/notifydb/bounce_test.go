package notifydb

import (
	"congthu/outbox"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRecordBounce: a bounce turns a delivered email and one still queued
// into permanent-failure with its callback and SMS fallback, as a 5xx
// during delivery does; a second bounce, or one for a notification already
// failed, changes nothing; unknown and test notifications are not found.
func TestRecordBounce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, err := s.AddAPIKey(ctx, "motcua", "h", "ct", false); err != nil {
			t.Fatal(err)
		}
		if err := s.SetServiceCallback(ctx, "motcua", "http://cb.test/", "k"); err != nil {
			t.Fatal(err)
		}
		fallback := &SMSFallback{Phone: "+84912345678", TemplateID: "dossier-received-sms", TemplateVersion: 1, Text: "Hồ sơ", SMSText: "Ho so", SMSEncoding: "GSM-7", SMSParts: 1}
		var notes []NewNotification
		for _, id := range []string{"done", "queued", "expired"} {
			n := newNote(id, "email", id+"@example.com")
			n.MailFrom, n.EventID, n.Fallback = "bounce+"+id+"@hanoi.gov.vn", "ev-"+id, fallback
			notes = append(notes, n)
		}
		test := newNote("test", "email", "t@example.com")
		test.Test = true
		// Test and live notifications are created by separate requests
		// (their keys have separate idempotency scopes).
		res, err := s.CreateNotifications(ctx, []*NotificationRequest{
			{Service: "motcua", Notifications: notes},
			{Service: "motcua", Test: true, Notifications: []NewNotification{test}},
		})
		if err != nil || res[0].Err != nil || res[1].Err != nil || len(res[0].OutboxIDs) != 3 {
			t.Fatalf("CreateNotifications: %+v %v", res, err)
		}
		ids := res[0].OutboxIDs
		record := hookRecorder(s)
		if _, err := record([]outbox.Attempt{
			{OutboxID: ids[0], Address: "done@example.com", Status: outbox.Delivered, Started: time.Now()},
			{OutboxID: ids[1], Address: "queued@example.com", Status: outbox.Queued, LastError: "451 later", NextAttempt: time.Now().Add(time.Hour), Started: time.Now()},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.setNotificationStatus(ctx, "expired", NotificationTemporaryFailure, "still not delivered", timeZero); err != nil {
			t.Fatal(err)
		}

		const detail = "bounced by mx.example.com: 5.1.1 550 5.1.1 User unknown"
		for _, id := range []string{"done", "queued"} {
			rec, err := s.RecordBounce(ctx, id, detail, time.Now())
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			if len(rec.Events) != 1 || rec.Events[0].Status != NotificationPermanentFailure || rec.Events[0].Detail != detail || !rec.Events[0].Callback {
				t.Errorf("%s: events %+v, want one permanent-failure with the detail and a callback", id, rec.Events)
			}
			if len(rec.Fallbacks) != 1 || rec.Fallbacks[0].SMS.Recipient != "+84912345678" {
				t.Errorf("%s: fallbacks %+v, want the SMS", id, rec.Fallbacks)
			}
			n, err := s.Notification(ctx, id)
			if err != nil || n.Status != NotificationPermanentFailure || n.StatusDetail != detail {
				t.Errorf("%s: got %+v %v", id, n, err)
			}
			evs, _ := s.NotificationEvents(ctx, id)
			var got []string
			for _, e := range evs {
				got = append(got, e.Status)
			}
			if last := got[len(got)-1]; last != NotificationPermanentFailure {
				t.Errorf("%s: timeline %v", id, got)
			}
			if id == "done" && strings.Join(got, " ") != "created sending delivered permanent-failure" {
				t.Errorf("done: timeline %v, want delivered then permanent-failure", got)
			}
			// Twice: nothing more.
			if rec, err := s.RecordBounce(ctx, id, detail, time.Now()); err != nil || len(rec.Events)+len(rec.Fallbacks) != 0 {
				t.Errorf("%s again: %+v %v", id, rec, err)
			}
		}
		// The queued recipient failed with the bounce and its entry went,
		// so the dispatcher does not try again.
		if _, err := s.outbox.State(ctx, ids[1]); !errors.Is(err, ErrNotFound) {
			t.Errorf("queued entry kept after the bounce: %v", err)
		}
		if rec, err := s.RecordBounce(ctx, "expired", detail, time.Now()); err != nil || len(rec.Events) != 0 {
			t.Errorf("expired: %+v %v, want no change", rec, err)
		}
		if n, _ := s.Notification(ctx, "expired"); n.Status != NotificationTemporaryFailure {
			t.Errorf("expired became %s", n.Status)
		}
		for _, id := range []string{"nope", "test"} {
			if _, err := s.RecordBounce(ctx, id, detail, time.Now()); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: got %v, want ErrNotFound", id, err)
			}
			if err := s.BounceTarget(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("BounceTarget(%s): got %v, want ErrNotFound", id, err)
			}
		}
		if err := s.BounceTarget(ctx, "done"); err != nil {
			t.Errorf("BounceTarget(done): %v", err)
		}
		// Other status changes out of delivered stay refused.
		if ch, err := s.setNotificationStatus(ctx, "expired", NotificationDelivered, "", timeZero); err != nil || ch {
			t.Errorf("temporary-failure → delivered: %v %v", ch, err)
		}
	})
}
