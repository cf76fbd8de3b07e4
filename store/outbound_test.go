package store

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestRecordOutboxAttemptsGroupCommit: the outcomes of concurrent
// deliveries share transactions, each caller returns once its outcome is
// stored, and an outcome that names a recipient twice across callers
// keeps the first final state.
func TestRecordOutboxAttemptsGroupCommit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		const n = 64
		ids := make([]int64, n)
		for i := range ids {
			res, err := s.Deliver(ctx, &Delivery{
				Raw:      []byte(fmt.Sprintf("From: an@example.gov.vn\r\nSubject: %d\r\n\r\nbody\r\n", i)),
				MailFrom: "an@example.gov.vn",
				Remote:   []string{"a@other.vn", "b@other.vn"},
			})
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = res.OutboxID
		}
		b0, r0 := s.recordBatch.Stats()
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i, id := range ids {
			wg.Add(2)
			go func() {
				defer wg.Done()
				errs <- s.RecordOutboxAttempts(ctx, []OutboxAttempt{
					{OutboxID: id, Address: "a@other.vn", Status: OutboxDelivered, Started: time.Now()},
					{OutboxID: id, Address: "b@other.vn", Status: OutboxQueued, LastError: fmt.Sprint("451 try ", i), NextAttempt: time.Now().Add(time.Hour), Started: time.Now()},
				}, false)
			}()
			go func() {
				defer wg.Done()
				// The same recipient again, as a job that ran twice: the first
				// final outcome stays, whichever call came first.
				errs <- s.RecordOutboxAttempts(ctx, []OutboxAttempt{
					{OutboxID: id, Address: "a@other.vn", Status: OutboxFailed, LastError: "550 no", Started: time.Now()},
				}, false)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		batches, reqs := s.recordBatch.Stats()
		if reqs-r0 != 2*n {
			t.Errorf("the batcher saw %d requests, want %d", reqs-r0, 2*n)
		}
		if batches-b0 >= reqs-r0 {
			t.Errorf("%d concurrent calls ran in %d transactions: no group commit", reqs-r0, batches-b0)
		}
		for i, id := range ids {
			st, err := s.OutboxState(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]OutboxRecipientState{}
			for _, r := range st.Recipients {
				got[r.Address] = r
			}
			if a := got["a@other.vn"]; a.Status != OutboxDelivered && a.Status != OutboxFailed {
				t.Errorf("entry %d: a@other.vn is %s, want a final state", i, a.Status)
			}
			if b := got["b@other.vn"]; b.Status != OutboxQueued || b.LastError != fmt.Sprint("451 try ", i) {
				t.Errorf("entry %d: b@other.vn is %+v, want queued after 451 try %d", i, b, i)
			}
		}
	})
}
