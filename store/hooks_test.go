package store

import (
	"sync"
	"testing"
	"time"
)

// Options.Outbox.Added is called after the commit, once per outbox entry,
// and Options.Changed once per changed mailbox.
func TestHooks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, _ *Store) {
		var mu sync.Mutex
		var added []int64
		changed := map[int64]int64{}
		s := b.open(t, func(o *Options) {
			o.Outbox.Added = func(id int64) {
				mu.Lock()
				added = append(added, id)
				mu.Unlock()
			}
			o.Changed = func(accountID, mailboxID, modseq int64) {
				mu.Lock()
				changed[mailboxID] = modseq
				mu.Unlock()
			}
		})
		as := setup(t, s, "a")
		local := deliver(t, s, msg("local only"), LocalTarget{AccountID: as[0].ID})
		res, err := s.Deliver(ctx, &Delivery{Raw: msg("to a citizen"), MailFrom: "a@example.gov.vn",
			Local: []LocalTarget{{AccountID: as[0].ID}}, Remote: []string{"citizen@example.org"}})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(added) != 1 || added[0] != res.OutboxID || res.OutboxID == 0 {
			t.Errorf("Added: got %v, want [%d]", added, res.OutboxID)
		}
		mb := local.Local[0].MailboxID
		if got, want := changed[mb], res.Local[0].ModSeq; got != want {
			t.Errorf("Changed for INBOX: got modseq %d, want %d", got, want)
		}
		// A panicking hook does not break delivery.
		p := b.open(t, func(o *Options) { o.Outbox.Added = func(int64) { panic("boom") } })
		done := make(chan error, 1)
		go func() {
			_, err := p.Deliver(ctx, &Delivery{Raw: msg("x"), MailFrom: "a@example.gov.vn", Remote: []string{"c@example.org"}})
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("deliver with a panicking hook: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("deliver with a panicking hook hung")
		}
	})
}
