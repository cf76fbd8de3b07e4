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
		ob, err := s.OutboxState(ctx, id)
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
		if due, err := s.OutboxDuePage(ctx, time.Now().Add(time.Hour), 0, 10); err != nil || slices.Contains(due, id) {
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
