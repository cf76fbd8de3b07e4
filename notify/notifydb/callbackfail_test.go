package notifydb

import (
	"fmt"
	"testing"
	"time"
)

// TestCallbackFailures: a service's callbacks whose last attempt failed,
// newest first, at most the limit asked; callbacks delivered, never
// tried, or of another service are left out.
func TestCallbackFailures(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		for _, svc := range []string{"motcua", "phuong"} {
			if _, err := s.AddAPIKey(ctx, svc, "h-"+svc, "ct", false); err != nil {
				t.Fatal(err)
			}
			if err := s.SetServiceCallback(ctx, svc, "http://cb.test/"+svc, "k"); err != nil {
				t.Fatal(err)
			}
		}
		// Eight notifications a service, each sent: a "sending" event
		// with a callback.
		events := map[string][]int64{}
		for i := range 16 {
			svc := []string{"motcua", "phuong"}[i%2]
			id := fmt.Sprintf("cbf-%02d", i)
			res, err := s.CreateNotifications(ctx, []*NotificationRequest{{Service: svc, Notifications: []NewNotification{newNote(id, "sms", "+84912345678")}}})
			if err != nil || res[0].Err != nil {
				t.Fatalf("create %s: %v %+v", id, err, res)
			}
			ev, err := s.SetNotificationStatusEvent(ctx, id, NotificationSending, "", time.Time{})
			if err != nil || ev == nil || !ev.Callback {
				t.Fatalf("sending %s: %+v %v", id, ev, err)
			}
			events[svc] = append(events[svc], ev.ID)
		}
		// motcua: events 0-4 fail in turn (4 given up), 5 is delivered
		// after a failure, 6 and 7 never tried; phuong: one failure.
		for i, ev := range events["motcua"][:6] {
			state := CallbackPending
			if i == 4 {
				state = CallbackFailed
			}
			if err := s.UpdateCallback(ctx, ev, state, time.Now().Add(time.Minute), fmt.Sprintf("HTTP 50%d", i)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond) // distinct updated_at
		}
		if err := s.UpdateCallback(ctx, events["motcua"][5], CallbackDone, time.Now(), ""); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateCallback(ctx, events["phuong"][0], CallbackPending, time.Now(), "dial tcp: refused"); err != nil {
			t.Fatal(err)
		}

		got, err := s.CallbackFailures(ctx, "motcua", 3)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		var errs []string
		for _, f := range got {
			ids = append(ids, f.EventID)
			errs = append(errs, f.LastError)
		}
		want := []int64{events["motcua"][4], events["motcua"][3], events["motcua"][2]}
		if fmt.Sprint(ids) != fmt.Sprint(want) || fmt.Sprint(errs) != "[HTTP 504 HTTP 503 HTTP 502]" {
			t.Errorf("motcua, 3: events %v %v, want %v [HTTP 504 HTTP 503 HTTP 502]", ids, errs, want)
		}
		if got[0].State != CallbackFailed || got[0].Attempts != 1 || got[0].NotificationID != "cbf-08" {
			t.Errorf("newest failure: %+v", got[0])
		}
		if all, err := s.CallbackFailures(ctx, "motcua", 100); err != nil || len(all) != 5 {
			t.Errorf("motcua, all: %d failures, %v; want 5", len(all), err)
		}
		if ph, err := s.CallbackFailures(ctx, "phuong", 10); err != nil || len(ph) != 1 || ph[0].LastError != "dial tcp: refused" {
			t.Errorf("phuong: %+v %v", ph, err)
		}
		if none, err := s.CallbackFailures(ctx, "khac", 10); err != nil || len(none) != 0 {
			t.Errorf("a service without callbacks: %+v %v", none, err)
		}
	})
}
