package outbox_test

import (
	"testing"
	"time"

	"congthu/outbox"
	"congthu/store"
)

// TestStats: the backlog counts queued recipients, due or not, and dates
// the longest-waiting due one and the oldest entry, on both databases.
func TestStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, st *store.Store) {
		s := st.Outbox()
		t0 := time.Now()
		if got, err := s.Stats(ctx, t0); err != nil || got != (outbox.Stats{}) {
			t.Fatalf("empty outbox: got %+v, %v", got, err)
		}
		var ids []int64
		for range 2 {
			res, err := st.Deliver(ctx, &store.Delivery{
				Raw:      []byte("From: an@example.gov.vn\r\nSubject: x\r\n\r\nbody\r\n"),
				MailFrom: "an@example.gov.vn",
				Remote:   []string{"a@other.vn", "b@other.vn"},
			})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.OutboxID)
		}
		created := time.Now()
		// First entry: a delivered, b deferred for an hour. Second: both
		// due since they were added.
		if err := s.RecordAttempts(ctx, []outbox.Attempt{
			{OutboxID: ids[0], Address: "a@other.vn", Status: outbox.Delivered, Started: created},
			{OutboxID: ids[0], Address: "b@other.vn", Status: outbox.Queued, LastError: "451", NextAttempt: created.Add(time.Hour), Started: created},
		}, false); err != nil {
			t.Fatal(err)
		}
		now := created.Add(10 * time.Minute)
		got, err := s.Stats(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		if got.Queued != 3 || got.Due != 2 {
			t.Errorf("got %d queued, %d due; want 3, 2", got.Queued, got.Due)
		}
		if got.OldestDue.Before(t0) || got.OldestDue.After(created) {
			t.Errorf("oldest due %v, want between %v and %v", got.OldestDue, t0, created)
		}
		if got.OldestQueued.Before(t0.Truncate(time.Microsecond)) || got.OldestQueued.After(created) {
			t.Errorf("oldest queued %v, want between %v and %v", got.OldestQueued, t0, created)
		}
		// Once the second entry is done, only the deferred one is left,
		// and nothing is due.
		if err := s.RecordAttempts(ctx, []outbox.Attempt{
			{OutboxID: ids[1], Address: "a@other.vn", Status: outbox.Delivered, Started: now},
			{OutboxID: ids[1], Address: "b@other.vn", Status: outbox.Failed, LastError: "550", Started: now},
		}, true); err != nil {
			t.Fatal(err)
		}
		got, err = s.Stats(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		if got.Queued != 1 || got.Due != 0 || !got.OldestDue.IsZero() || got.OldestQueued.IsZero() {
			t.Errorf("got %+v, want 1 queued, none due, an oldest entry", got)
		}
	})
}
