package outbox_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"congthu/internal/sqldb"
	"congthu/outbox"
	"congthu/store"
)

// countingHook counts the outcomes it is given.
type countingHook struct{ outcomes atomic.Int64 }

func (h *countingHook) OutboxRecording(context.Context, *outbox.Tx, []int64) (func(context.Context, *outbox.Tx, []outbox.Outcome) error, error) {
	return func(_ context.Context, _ *outbox.Tx, os []outbox.Outcome) error {
		h.outcomes.Add(int64(len(os)))
		return nil
	}, nil
}

// Another store's transaction adds an outbox entry whose message is
// composed at delivery (AddTx) and records an outcome for it with its own
// hooks only (RecordAttemptsTx); Added is the caller's to call.
func TestOutboxInAnotherTransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, _ *store.Store) {
		var added atomic.Int64
		st := b.open(t, func(o *store.Options) { o.Outbox.Added = func(int64) { added.Add(1) } })
		s := st.Outbox()
		registered := &countingHook{}
		s.AddHook(registered)
		var id int64
		err := st.DB().WriteTx(ctx, func(tx sqldb.Tx) error {
			var err error
			id, err = s.AddTx(ctx, tx, "bounce+1@example.gov.vn", "an@example.org", time.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if added.Load() != 0 {
			t.Fatal("Added called by AddTx")
		}
		s.Added(id)
		if added.Load() != 1 {
			t.Fatalf("Added ran %d times, want 1", added.Load())
		}
		e, err := s.State(ctx, id)
		if err != nil || len(e.Raw) != 0 || e.MailFrom != "bounce+1@example.gov.vn" || len(e.Recipients) != 1 ||
			e.Recipients[0].Address != "an@example.org" || e.Recipients[0].Status != outbox.Queued {
			t.Fatalf("State: got %+v, %v, want one queued recipient and no message yet", e, err)
		}
		own := &countingHook{}
		var n int
		err = st.DB().WriteTx(ctx, func(tx sqldb.Tx) error {
			var err error
			n, err = s.RecordAttemptsTx(ctx, tx, []outbox.Attempt{{OutboxID: id, Address: "an@example.org",
				Status: outbox.Failed, LastError: "550 5.1.1 no such user"}}, true, own)
			return err
		})
		if err != nil || n != 1 {
			t.Fatalf("RecordAttemptsTx: got %d, %v, want 1", n, err)
		}
		if got := own.outcomes.Load(); got != 1 {
			t.Errorf("the given hook saw %d outcomes, want 1", got)
		}
		if got := registered.outcomes.Load(); got != 0 {
			t.Errorf("the added hook saw %d outcomes, want none", got)
		}
		if _, err := s.State(ctx, id); err == nil {
			t.Error("finished entry not removed")
		}
	})
}
