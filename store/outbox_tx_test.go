package store

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"congthu/internal/sqldb"
)

// countingHook counts the outcomes it is given.
type countingHook struct{ outcomes atomic.Int64 }

func (h *countingHook) OutboxRecording(context.Context, *OutboxTx, []int64) (func(context.Context, *OutboxTx, []OutboxOutcome) error, error) {
	return func(_ context.Context, _ *OutboxTx, os []OutboxOutcome) error {
		h.outcomes.Add(int64(len(os)))
		return nil
	}, nil
}

// Another store's transaction adds an outbox entry whose message is
// composed at delivery (AddOutboxTx) and records an outcome for it with
// its own hooks only (RecordOutboxAttemptsTx); OutboxAdded is the
// caller's to call.
func TestOutboxInAnotherTransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, _ *Store) {
		var added atomic.Int64
		s := b.open(t, func(o *Options) { o.OutboxAdded = func(int64) { added.Add(1) } })
		registered := &countingHook{}
		s.AddOutboxHook(registered)
		var id int64
		err := s.DB().WriteTx(ctx, func(tx sqldb.Tx) error {
			var err error
			id, err = s.AddOutboxTx(ctx, tx, "bounce+1@example.gov.vn", "an@example.org", time.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if added.Load() != 0 {
			t.Fatal("OutboxAdded called by AddOutboxTx")
		}
		s.OutboxAdded(id)
		if added.Load() != 1 {
			t.Fatalf("OutboxAdded ran %d times, want 1", added.Load())
		}
		st, err := s.OutboxState(ctx, id)
		if err != nil || len(st.Raw) != 0 || st.MailFrom != "bounce+1@example.gov.vn" || len(st.Recipients) != 1 ||
			st.Recipients[0].Address != "an@example.org" || st.Recipients[0].Status != OutboxQueued {
			t.Fatalf("OutboxState: got %+v, %v, want one queued recipient and no message yet", st, err)
		}
		own := &countingHook{}
		var n int
		err = s.DB().WriteTx(ctx, func(tx sqldb.Tx) error {
			var err error
			n, err = s.RecordOutboxAttemptsTx(ctx, tx, []OutboxAttempt{{OutboxID: id, Address: "an@example.org",
				Status: OutboxFailed, LastError: "550 5.1.1 no such user"}}, true, own)
			return err
		})
		if err != nil || n != 1 {
			t.Fatalf("RecordOutboxAttemptsTx: got %d, %v, want 1", n, err)
		}
		if got := own.outcomes.Load(); got != 1 {
			t.Errorf("the given hook saw %d outcomes, want 1", got)
		}
		if got := registered.outcomes.Load(); got != 0 {
			t.Errorf("the added hook saw %d outcomes, want none", got)
		}
		if _, err := s.OutboxState(ctx, id); err == nil {
			t.Error("finished entry not removed")
		}
	})
}
