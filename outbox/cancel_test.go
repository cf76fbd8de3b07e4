package outbox_test

import (
	"congthu/outbox"
	"congthu/store"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestCancel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, st *store.Store) {
		s := st.Outbox()
		raw := []byte("From: an@example.gov.vn\r\nSubject: x\r\n\r\nbody\r\n")
		res, err := st.Deliver(ctx, &store.Delivery{Raw: raw, MailFrom: "an@example.gov.vn", Remote: []string{"a@other.vn", "b@other.vn"}})
		if err != nil {
			t.Fatal(err)
		}
		id := res.OutboxID
		if st, err := s.State(ctx, id); err != nil || len(st.Recipients) != 2 {
			t.Fatalf("State of ordinary mail: %+v, %v", st, err)
		}
		// One recipient already delivered: cancel leaves it alone.
		if err := s.RecordAttempts(ctx, []outbox.Attempt{{OutboxID: id, Address: "a@other.vn", Status: outbox.Delivered}}, false); err != nil {
			t.Fatal(err)
		}
		n, err := s.Cancel(ctx, id, "spam run")
		if err != nil || n != 1 {
			t.Fatalf("Cancel: got %d, %v, want 1", n, err)
		}
		ob, err := s.State(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ob.Recipients {
			want, wantErr := outbox.Failed, "cancelled by operator: spam run"
			if r.Address == "a@other.vn" {
				want, wantErr = outbox.Delivered, ""
			}
			if r.Status != want || r.LastError != wantErr {
				t.Errorf("recipient %s: got %s %q, want %s %q", r.Address, r.Status, r.LastError, want, wantErr)
			}
		}
		if due, err := s.DuePage(ctx, time.Now().Add(time.Hour), 0, 10); err != nil || slices.Contains(due, id) {
			t.Errorf("DuePage after cancel: got %v, %v, want no %d", due, err, id)
		}
		if due, err := s.DuePage(ctx, time.Now().Add(time.Hour), 0, 10); err != nil || len(due) != 0 {
			t.Errorf("DuePage after cancel: got %v, %v, want none", due, err)
		}
		if n, err := s.Cancel(ctx, id, "again"); err != nil || n != 0 {
			t.Errorf("second Cancel: got %d, %v, want 0", n, err)
		}
		if n, err := s.Cancel(ctx, 999999, "x"); !errors.Is(err, outbox.ErrNotFound) || n != 0 {
			t.Errorf("Cancel(unknown): got %d, %v, want ErrNotFound", n, err)
		}
	})
}
