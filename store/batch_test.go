package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Concurrent status changes share transactions; each caller gets its own
// event, a missing notification fails alone, and nothing is applied twice.
func TestStatusChangesGroupCommitted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, s *Store) {
		if _, err := s.AddAPIKey(ctx, "motcua", "h", "ct", false); err != nil {
			t.Fatal(err)
		}
		if err := s.SetServiceCallback(ctx, "motcua", "http://cb.test/", "k"); err != nil {
			t.Fatal(err)
		}
		const n = 60
		var notes []NewNotification
		for i := range n {
			notes = append(notes, newNote(fmt.Sprintf("b%03d", i), "sms", "+84912345678"))
		}
		if _, err := s.CreateNotifications(ctx, []*NotificationRequest{{Service: "motcua", Notifications: notes}}); err != nil {
			t.Fatal(err)
		}
		batches0 := s.statusBatch.batches.Load()
		var wg sync.WaitGroup
		evs := make([]*NotificationEvent, n)
		errs := make([]error, n)
		var ghostErr error
		for i := range n {
			wg.Go(func() {
				evs[i], errs[i] = s.SetNotificationStatusEvent(ctx, fmt.Sprintf("b%03d", i), NotificationSending, "", time.Time{})
			})
		}
		wg.Go(func() {
			_, ghostErr = s.SetNotificationStatusEvent(ctx, "ghost", NotificationSending, "", time.Time{})
		})
		wg.Wait()
		if !errors.Is(ghostErr, ErrNotFound) {
			t.Fatalf("missing notification: err %v, want ErrNotFound", ghostErr)
		}
		if tx := s.statusBatch.batches.Load() - batches0; tx >= n {
			t.Errorf("%d concurrent changes took %d transactions: not grouped", n+1, tx)
		}
		ids := map[int64]bool{}
		for i := range n {
			if errs[i] != nil || evs[i] == nil || evs[i].NotificationID != fmt.Sprintf("b%03d", i) || !evs[i].Callback {
				t.Fatalf("change %d: %+v, %v", i, evs[i], errs[i])
			}
			if ids[evs[i].ID] {
				t.Fatalf("event ID %d given twice", evs[i].ID)
			}
			ids[evs[i].ID] = true
		}
		// The same change again is no change.
		ev, err := s.SetNotificationStatusEvent(ctx, "b000", NotificationSending, "", time.Time{})
		if err != nil || ev != nil {
			t.Fatalf("repeat: %+v, %v", ev, err)
		}
		got, err := s.Notification(ctx, "b007")
		if err != nil || got.Status != NotificationSending {
			t.Fatalf("b007: %+v, %v", got, err)
		}
	})
}
