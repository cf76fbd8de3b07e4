package notifydb

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// TestScheduled: a scheduled notification is not pending, gets no outbox
// entry before its time, is released once when nodes race, and a later
// request's CancelScheduled or CancelScheduled cancels the rest.
func TestScheduled(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, err := s.AddAPIKeyAs(ctx, "motcua", "h", "ct", false, true); err != nil {
			t.Fatal(err)
		}
		due := time.Now().Add(-time.Second)
		em := newNote("rem-email", "email", "an@example.vn")
		em.ScheduledFor, em.MailFrom, em.FromAddress = due, "bounce+rem-email@hanoi.gov.vn", "noreply@hanoi.gov.vn"
		later := newNote("rem-later", "sms", "+84912345678")
		later.ScheduledFor = time.Now().Add(time.Hour)
		other := newNote("rem-other", "sms", "+84912345679")
		other.ScheduledFor, other.DossierCode = time.Now().Add(time.Hour), "000.13"
		if res, err := s.CreateNotification(ctx, &NotificationRequest{Service: "motcua", Notifications: []NewNotification{em, later, other}}); err != nil || res.Err != nil {
			t.Fatal(err, res.Err)
		}
		n, _ := s.Notification(ctx, "rem-email")
		if n.Status != NotificationScheduled || n.OutboxID != 0 || !n.ScheduledFor.Equal(due.Truncate(time.Microsecond)) {
			t.Fatalf("scheduled email %+v", n)
		}
		if ids, _ := s.PendingNotifications(ctx, false, "", time.Now(), "", 10); len(ids) != 0 {
			t.Errorf("pending %v", ids)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var released []Notification
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ns, err := s.ReleaseDue(ctx, time.Now(), 10, func(*Notification) (string, error) { return "bounce+rem-email@hanoi.gov.vn", nil })
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				released = append(released, ns...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		if len(released) != 1 || released[0].ID != "rem-email" || released[0].OutboxID == 0 || released[0].Status != NotificationCreated {
			t.Fatalf("released %+v", released)
		}
		// A later request for the dossier cancels what is still scheduled
		// of it, not another dossier's.
		res, err := s.CreateNotification(ctx, &NotificationRequest{Service: "motcua", CancelScheduled: "000.12", CancelReason: "cancelled: the result is ready (event e9)",
			Notifications: []NewNotification{newNote("after", "sms", "+84912345678")}})
		if err != nil || res.Err != nil {
			t.Fatal(err, res.Err)
		}
		if n, _ := s.Notification(ctx, "rem-later"); n.Status != NotificationCancelled || n.StatusDetail != "cancelled: the result is ready (event e9)" || !n.SentAt.IsZero() {
			t.Errorf("cancelled %+v", n)
		}
		if n, _ := s.Notification(ctx, "rem-email"); n.Status != NotificationCreated {
			t.Errorf("released email became %s", n.Status)
		}
		if _, err := s.CancelScheduled(ctx, "other-service", "rem-other", "x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("another service's: %v", err)
		}
		if ev, err := s.CancelScheduled(ctx, "motcua", "rem-other", "cancelled through the API"); err != nil || ev == nil || ev.Status != NotificationCancelled {
			t.Errorf("CancelScheduled: %v %v", ev, err)
		}
		if _, err := s.CancelScheduled(ctx, "motcua", "rem-other", "again"); !errors.Is(err, ErrNotScheduled) {
			t.Errorf("twice: %v", err)
		}
		u, err := s.Usage(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "")
		if err != nil || len(u) != 2 {
			t.Fatalf("usage %+v %v", u, err)
		}
	})
}
