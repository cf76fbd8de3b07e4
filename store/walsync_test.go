package store

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// Deliver returns only after a WAL sync that began after its commit (the
// SQL layer's own write paths are tested in internal/sqldb).
func TestDeliverSyncsWAL(t *testing.T) {
	s := newBackend(t, "sqlite").open(t)
	var syncs atomic.Int64
	s.db.WrapWALSync(func(real func() error) func() error {
		return func() error { syncs.Add(1); return real() }
	})
	acc := setup(t, s, "a")[0]
	before := syncs.Load()
	if _, err := s.Deliver(ctx, &Delivery{Raw: []byte("Subject: x\r\n\r\nbody\r\n"), Local: []LocalTarget{{AccountID: acc.ID}}}); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() == before {
		t.Fatal("Deliver returned without a WAL sync")
	}
}

// CreateNotificationCommitted answers at the commit; its durable function
// returns only once the WAL sync covering the commit returned, and the
// OutboxAdded hook runs only then.
func TestCreateNotificationCommittedWaitsForSync(t *testing.T) {
	var added atomic.Int64
	s := newBackend(t, "sqlite").open(t, func(o *Options) { o.OutboxAdded = func(int64) { added.Add(1) } })
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
		t.Fatal("OutboxAdded ran before the commit was durable")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if added.Load() != 1 {
		t.Fatalf("OutboxAdded ran %d times, want 1", added.Load())
	}
}

// Options the SQL layer cannot use are ErrInvalid, as any other invalid
// argument of the store.
func TestOpenInvalid(t *testing.T) {
	for _, o := range []Options{{URL: "mysql://db/congthu"}, {}, {URL: "sqlite:/tmp/a?b"}} {
		if s, err := Open(ctx, o, nil); !errors.Is(err, ErrInvalid) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Open(%+v): %v, want ErrInvalid", o, err)
		}
	}
}
