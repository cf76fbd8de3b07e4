package notifydb

import (
	"slices"
	"testing"
	"time"
)

// TestCancelNotification: the notification an entry carries fails
// when an operator cancels the entry.
func TestCancelNotification(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, err := s.AddAPIKey(ctx, "motcua", "h", "ct", false); err != nil {
			t.Fatal(err)
		}
		if err := s.SetServiceCallback(ctx, "motcua", "http://cb.test/", "k"); err != nil {
			t.Fatal(err)
		}
		email := newNote("0001", "email", "an@example.com")
		email.MailFrom = "bounce+0001@hanoi.gov.vn"
		res, err := s.CreateNotifications(ctx, []*NotificationRequest{{Service: "motcua", Notifications: []NewNotification{email}}})
		if err != nil || res[0].Err != nil || len(res[0].OutboxIDs) != 1 {
			t.Fatalf("CreateNotifications: %+v %v", res, err)
		}
		if n, err := s.outbox.Cancel(ctx, res[0].OutboxIDs[0], "wrong dossier"); err != nil || n != 1 {
			t.Fatalf("Cancel: got %d, %v, want 1", n, err)
		}
		if err := s.OutboxCancelled(ctx, res[0].OutboxIDs[0]); err != nil {
			t.Fatalf("OutboxCancelled: %v", err)
		}
		no, err := s.Notification(ctx, "0001")
		if err != nil || no.Status != NotificationPermanentFailure {
			t.Fatalf("Notification: got %+v, %v, want permanent-failure", no, err)
		}
		evs, err := s.NotificationEvents(ctx, "0001")
		if err != nil || len(evs) == 0 {
			t.Fatalf("NotificationEvents: %v %v", evs, err)
		}
		last := evs[len(evs)-1]
		if last.Status != NotificationPermanentFailure || last.Detail != "cancelled by operator" {
			t.Errorf("last event: got %+v, want permanent-failure, cancelled by operator", last)
		}
		// The service hears about it: the sweeper finds the callback due.
		if due, err := s.CallbacksDue(ctx, time.Now().Add(time.Minute), 0, 10); err != nil || !slices.Contains(due, last.ID) {
			t.Errorf("CallbacksDue: got %v, %v, want event %d", due, err, last.ID)
		}
	})
}
