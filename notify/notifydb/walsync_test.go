package notifydb

import (
	"sync/atomic"
	"testing"
	"time"

	"congthu/store"
)

// CreateNotificationCommitted answers at the commit; its durable function
// returns only once the WAL sync covering the commit returned, and the
// outbox's Added callback runs only then.
func TestCreateNotificationCommittedWaitsForSync(t *testing.T) {
	var added atomic.Int64
	s := newBackend(t, "sqlite").open(t, func(o *store.Options) { o.Outbox.Added = func(int64) { added.Add(1) } })
	if _, err := s.AddAPIKey(ctx, "motcua", "hash-c", "ct_live_c", false); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	s.db.WrapWALSync(func(real func() error) func() error {
		return func() error { <-release; return real() }
	})
	req := eventRequest(1)
	res, durable, err := s.CreateNotificationCommitted(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.OutboxIDs) != 1 {
		t.Fatalf("outbox ids %v", res.OutboxIDs)
	}
	// Committed: a reader sees it already.
	if n, err := s.Notification(ctx, req.Notifications[0].ID); err != nil || n.Status != NotificationCreated {
		t.Fatalf("notification after commit: %+v, %v", n, err)
	}
	done := make(chan error, 1)
	go func() { done <- durable() }()
	select {
	case err := <-done:
		t.Fatalf("durable returned (%v) before the WAL sync did", err)
	case <-time.After(100 * time.Millisecond):
	}
	if added.Load() != 0 {
		t.Fatal("Added ran before the commit was durable")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if added.Load() != 1 {
		t.Fatalf("Added ran %d times, want 1", added.Load())
	}
}
