package store

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestCancelOutbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		raw := []byte("From: an@example.gov.vn\r\nSubject: x\r\n\r\nbody\r\n")
		res, err := s.Deliver(ctx, &Delivery{Raw: raw, MailFrom: "an@example.gov.vn", Remote: []string{"a@other.vn", "b@other.vn"}})
		if err != nil {
			t.Fatal(err)
		}
		id := res.OutboxID
		if st, err := s.OutboxState(ctx, id); err != nil || len(st.Recipients) != 2 {
			t.Fatalf("OutboxState of ordinary mail: %+v, %v", st, err)
		}
		// One recipient already delivered: cancel leaves it alone.
		if err := s.updateOutboxRecipient(ctx, id, "a@other.vn", OutboxDelivered, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
		n, err := s.CancelOutbox(ctx, id, "spam run")
		if err != nil || n != 1 {
			t.Fatalf("CancelOutbox: got %d, %v, want 1", n, err)
		}
		ob, err := s.Outbox(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ob.Recipients {
			want, wantErr := OutboxFailed, "cancelled by operator: spam run"
			if r.Address == "a@other.vn" {
				want, wantErr = OutboxDelivered, ""
			}
			if r.Status != want || r.LastError != wantErr {
				t.Errorf("recipient %s: got %s %q, want %s %q", r.Address, r.Status, r.LastError, want, wantErr)
			}
		}
		if due, err := s.OutboxDue(ctx, time.Now().Add(time.Hour), 10); err != nil || slices.Contains(due, id) {
			t.Errorf("OutboxDue after cancel: got %v, %v, want no %d", due, err, id)
		}
		if due, err := s.OutboxDuePage(ctx, time.Now().Add(time.Hour), 0, 10); err != nil || len(due) != 0 {
			t.Errorf("OutboxDuePage after cancel: got %v, %v, want none", due, err)
		}
		if n, err := s.CancelOutbox(ctx, id, "again"); err != nil || n != 0 {
			t.Errorf("second CancelOutbox: got %d, %v, want 0", n, err)
		}
		if n, err := s.CancelOutbox(ctx, 999999, "x"); !errors.Is(err, ErrNotFound) || n != 0 {
			t.Errorf("CancelOutbox(unknown): got %d, %v, want ErrNotFound", n, err)
		}
	})
}

func TestCancelOutboxNotification(t *testing.T) {
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
		if n, err := s.CancelOutbox(ctx, res[0].OutboxIDs[0], "wrong dossier"); err != nil || n != 1 {
			t.Fatalf("CancelOutbox: got %d, %v, want 1", n, err)
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
