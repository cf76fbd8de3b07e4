package outbox_test

import (
	"congthu/outbox"
	"congthu/store"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestRecordAttemptsGroupCommit: the outcomes of concurrent
// deliveries share transactions, each caller returns once its outcome is
// stored, and an outcome that names a recipient twice across callers
// keeps the first final state.
func TestRecordAttemptsGroupCommit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, st *store.Store) {
		s := st.Outbox()
		const n = 64
		ids := make([]int64, n)
		for i := range ids {
			res, err := st.Deliver(ctx, &store.Delivery{
				Raw:      []byte(fmt.Sprintf("From: an@example.gov.vn\r\nSubject: %d\r\n\r\nbody\r\n", i)),
				MailFrom: "an@example.gov.vn",
				Remote:   []string{"a@other.vn", "b@other.vn"},
			})
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = res.OutboxID
		}
		b0, r0 := s.RecordBatchStats()
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i, id := range ids {
			wg.Add(2)
			go func() {
				defer wg.Done()
				errs <- s.RecordAttempts(ctx, []outbox.Attempt{
					{OutboxID: id, Address: "a@other.vn", Status: outbox.Delivered, Started: time.Now()},
					{OutboxID: id, Address: "b@other.vn", Status: outbox.Queued, LastError: fmt.Sprint("451 try ", i), NextAttempt: time.Now().Add(time.Hour), Started: time.Now()},
				}, false)
			}()
			go func() {
				defer wg.Done()
				// The same recipient again, as a job that ran twice: the first
				// final outcome stays, whichever call came first.
				errs <- s.RecordAttempts(ctx, []outbox.Attempt{
					{OutboxID: id, Address: "a@other.vn", Status: outbox.Failed, LastError: "550 no", Started: time.Now()},
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
		batches, reqs := s.RecordBatchStats()
		if reqs-r0 != 2*n {
			t.Errorf("the batcher saw %d requests, want %d", reqs-r0, 2*n)
		}
		if batches-b0 >= reqs-r0 {
			t.Errorf("%d concurrent calls ran in %d transactions: no group commit", reqs-r0, batches-b0)
		}
		for i, id := range ids {
			st, err := s.State(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]outbox.RecipientState{}
			for _, r := range st.Recipients {
				got[r.Address] = r
			}
			if a := got["a@other.vn"]; a.Status != outbox.Delivered && a.Status != outbox.Failed {
				t.Errorf("entry %d: a@other.vn is %s, want a final state", i, a.Status)
			}
			if b := got["b@other.vn"]; b.Status != outbox.Queued || b.LastError != fmt.Sprint("451 try ", i) {
				t.Errorf("entry %d: b@other.vn is %+v, want queued after 451 try %d", i, b, i)
			}
		}
	})
}
