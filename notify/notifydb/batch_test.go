package notifydb

import (
	"congthu/internal/sqldb"
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
		batches0 := statusBatches(s)
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
		if tx := statusBatches(s) - batches0; tx >= n {
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

// Concurrent CreateNotification calls are group-committed; two with the
// same idempotency key, even in one batch, create once and replay once.
func TestCreateNotificationGroupCommitted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, s *Store) {
		if _, err := s.AddAPIKey(ctx, "motcua", "h", "ct", false); err != nil {
			t.Fatal(err)
		}
		const n = 40
		var wg sync.WaitGroup
		res := make([]NotificationResult, n+2)
		errs := make([]error, n+2)
		for i := range n {
			wg.Go(func() {
				res[i], errs[i] = s.CreateNotification(ctx, &NotificationRequest{Service: "motcua", IdempotencyKey: fmt.Sprintf("ev-%d", i),
					RequestHash: "h", Status: 201, Response: []byte(`{}`), Notifications: []NewNotification{newNote(fmt.Sprintf("c%03d", i), "sms", "+84912345678")}})
			})
		}
		for k := range 2 {
			wg.Go(func() {
				res[n+k], errs[n+k] = s.CreateNotification(ctx, &NotificationRequest{Service: "motcua", IdempotencyKey: "same",
					RequestHash: fmt.Sprintf("h%d", k), Status: 201, Response: []byte(fmt.Sprintf(`{"k":%d}`, k)),
					Notifications: []NewNotification{newNote(fmt.Sprintf("s%d", k), "sms", "+84912345678")}})
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || res[i].Err != nil || res[i].Replayed || len(res[i].Events) != 1 {
				t.Fatalf("request %d: %+v, %v", i, res[i], errs[i])
			}
		}
		a, b := res[n], res[n+1]
		if errs[n] != nil || errs[n+1] != nil || a.Replayed == b.Replayed {
			t.Fatalf("same key twice: %+v / %+v (%v, %v): want one created, one replayed", a, b, errs[n], errs[n+1])
		}
		won, replay := a, b
		if a.Replayed {
			won, replay = b, a
		}
		if replay.RequestHash != won.RequestHash || string(replay.Response) != string(won.Response) {
			t.Fatalf("replay %+v does not repeat the first %+v", replay, won)
		}
		if batches, items := s.CreateBatches(); items != n+2 || batches >= n+2 {
			t.Errorf("%d requests in %d group commits: not grouped", items, batches)
		}
	})
}

// The SMS dispatcher's concurrent writes share transactions of the store's
// one batcher, a write that fails fails alone, and Close stops the batcher
// (nothing of the store is left behind it).
func TestSMSWritesGroupCommitted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, s *Store) {
		if _, err := s.AddAPIKey(ctx, "motcua", "h", "ct", false); err != nil {
			t.Fatal(err)
		}
		const n = 60
		var notes []NewNotification
		for i := range n {
			notes = append(notes, newNote(fmt.Sprintf("s%03d", i), "sms", "+84912345678"))
		}
		if _, err := s.CreateNotifications(ctx, []*NotificationRequest{{Service: "motcua", Notifications: notes}}); err != nil {
			t.Fatal(err)
		}
		batches0, items0 := s.smsBatch.Stats()
		var wg sync.WaitGroup
		evs := make([]*NotificationEvent, n)
		errs := make([]error, n)
		var ghostErr error
		for i := range n {
			wg.Go(func() { evs[i], errs[i] = s.BeginSMSSend(ctx, fmt.Sprintf("s%03d", i), false) })
		}
		wg.Go(func() { _, ghostErr = s.BeginSMSSend(ctx, "ghost", false) })
		wg.Wait()
		if !errors.Is(ghostErr, ErrNotFound) {
			t.Fatalf("missing notification: err %v, want ErrNotFound", ghostErr)
		}
		for i := range n {
			if errs[i] != nil || evs[i] == nil || evs[i].Status != NotificationSending {
				t.Fatalf("send %d: %+v, %v", i, evs[i], errs[i])
			}
		}
		if _, items := s.smsBatch.Stats(); items-items0 < n+1 {
			t.Errorf("batcher ran %d writes, want at least %d", items-items0, n+1)
		}
		if batches, _ := s.smsBatch.Stats(); batches-batches0 >= n {
			t.Errorf("%d concurrent writes took %d transactions: not grouped", n+1, batches-batches0)
		}
		s.mail.Close()
		select {
		case <-s.smsBatch.Done():
		default:
			t.Error("SMS batcher still running after Close")
		}
		if _, err := s.BeginSMSSend(ctx, "s000", false); !errors.Is(err, sqldb.ErrClosed) {
			t.Errorf("write after Close: %v, want errClosed", err)
		}
	})
}

// statusBatches is how many transactions the status batcher ran.
func statusBatches(s *Store) int64 {
	b, _ := s.statusBatch.Stats()
	return b
}
