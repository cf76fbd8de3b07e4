package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// usageBySum is an account's usage computed the slow way: the sum of its
// mailboxes' sizes.
func usageBySum(t *testing.T, s *Store, accountID int64) int64 {
	t.Helper()
	mbs, err := s.Mailboxes(ctx, accountID)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, mb := range mbs {
		st, err := s.Status(ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		n += st.Size
	}
	return n
}

func checkUsage(t *testing.T, s *Store, a *Account, want int64) {
	t.Helper()
	q, err := s.QuotaOf(ctx, a.Address)
	if err != nil {
		t.Fatal(err)
	}
	if sum := usageBySum(t, s, a.ID); q.Used != want || sum != want {
		t.Errorf("usage: got %d (sum of mailboxes %d), want %d", q.Used, sum, want)
	}
}

func TestQuotaUsageKept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		accs := setup(t, s, "an", "binh")
		an, binh := accs[0], accs[1]
		in := inbox(t, s, an.ID)
		arch := mustMailbox(t, s, an.ID, "Archive")
		m1, m2 := msg("một"), msg("hai hai")
		n1, n2 := int64(len(m1)), int64(len(m2))

		deliver(t, s, m1, LocalTarget{AccountID: an.ID}, LocalTarget{AccountID: binh.ID})
		// Two copies in one delivery (the Sent copy and INBOX) count twice.
		deliver(t, s, m2, LocalTarget{AccountID: an.ID}, LocalTarget{AccountID: an.ID, Mailbox: "Sent"})
		checkUsage(t, s, an, n1+2*n2)
		checkUsage(t, s, binh, n1)

		if _, err := s.Append(ctx, arch.ID, m1, nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		checkUsage(t, s, an, 2*n1+2*n2)

		// COPY adds, MOVE does not.
		if _, err := s.Copy(ctx, in.ID, []uint32{1, 2}, arch.ID); err != nil {
			t.Fatal(err)
		}
		checkUsage(t, s, an, 3*n1+3*n2)
		if _, err := s.Move(ctx, in.ID, []uint32{1}, arch.ID); err != nil {
			t.Fatal(err)
		}
		checkUsage(t, s, an, 3*n1+3*n2)

		// EXPUNGE frees, only what it removes.
		if _, err := s.SetFlags(ctx, arch.ID, []uint32{1, 2}, FlagsAdd, []string{FlagDeleted}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Expunge(ctx, arch.ID, []uint32{1}); err != nil {
			t.Fatal(err)
		}
		checkUsage(t, s, an, 2*n1+3*n2)
		if _, err := s.Expunge(ctx, arch.ID, nil); err != nil {
			t.Fatal(err)
		}
		checkUsage(t, s, an, n1+3*n2)

		// Deleting a mailbox frees its messages; renaming INBOX moves them.
		if err := s.DeleteMailbox(ctx, an.ID, "Archive"); err != nil {
			t.Fatal(err)
		}
		checkUsage(t, s, an, 2*n2)
		if err := s.RenameMailbox(ctx, an.ID, "INBOX", "Old"); err != nil {
			t.Fatal(err)
		}
		checkUsage(t, s, an, 2*n2)
		checkUsage(t, s, binh, n1)
	})
}

func TestQuotaEnforced(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		an := setup(t, s, "an")[0]
		in := inbox(t, s, an.ID)
		m := msg("0")
		n := int64(len(m))
		if err := s.SetQuota(ctx, an.Address, 3*n); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			deliver(t, s, m, LocalTarget{AccountID: an.ID})
		}
		if full, err := s.OverQuota(ctx, an.ID); err != nil || !full {
			t.Errorf("OverQuota at the limit: got %v, %v, want true", full, err)
		}
		_, err := s.Deliver(ctx, &Delivery{Raw: m, Local: []LocalTarget{{AccountID: an.ID}}})
		if !errors.Is(err, ErrOverQuota) {
			t.Errorf("deliver over quota: got %v, want ErrOverQuota", err)
		}
		if _, err := s.Append(ctx, in.ID, m, nil, time.Time{}); !errors.Is(err, ErrOverQuota) {
			t.Errorf("append over quota: got %v, want ErrOverQuota", err)
		}
		arch := mustMailbox(t, s, an.ID, "Archive")
		if _, err := s.Copy(ctx, in.ID, []uint32{1}, arch.ID); !errors.Is(err, ErrOverQuota) {
			t.Errorf("copy over quota: got %v, want ErrOverQuota", err)
		}
		if _, err := s.Move(ctx, in.ID, []uint32{1}, arch.ID); err != nil {
			t.Errorf("move over quota: got %v, want it allowed (it adds nothing)", err)
		}
		checkUsage(t, s, an, 3*n)
		if ms, _ := s.Messages(ctx, in.ID); len(ms) != 2 {
			t.Errorf("INBOX holds %d, want 2", len(ms))
		}

		// Expunge makes room.
		if _, err := s.SetFlags(ctx, in.ID, []uint32{2}, FlagsAdd, []string{FlagDeleted}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Expunge(ctx, in.ID, nil); err != nil {
			t.Fatal(err)
		}
		if full, _ := s.OverQuota(ctx, an.ID); full {
			t.Error("OverQuota after expunge: got true")
		}
		deliver(t, s, m, LocalTarget{AccountID: an.ID})
		checkUsage(t, s, an, 3*n)

		// A limit lowered below the usage removes nothing.
		if err := s.SetQuota(ctx, an.Address, n); err != nil {
			t.Fatal(err)
		}
		checkUsage(t, s, an, 3*n)
		q, _ := s.QuotaOf(ctx, an.Address)
		if q.Limit != n || q.Own != n {
			t.Errorf("quota: got %+v, want limit and own %d", q, n)
		}

		// Unlimited, then the default again.
		if err := s.SetQuota(ctx, an.Address, 0); err != nil {
			t.Fatal(err)
		}
		deliver(t, s, m, LocalTarget{AccountID: an.ID})
		if err := s.SetQuota(ctx, an.Address, QuotaDefault); err != nil {
			t.Fatal(err)
		}
		q, _ = s.QuotaOf(ctx, an.Address)
		if q.Limit != 0 || q.Own != QuotaDefault || q.Used != 4*n {
			t.Errorf("quota: got %+v, want limit 0 (the default), own %d, used %d", q, QuotaDefault, 4*n)
		}

		// The configured default applies to accounts without their own.
		s2 := b.open(t, func(o *Options) { o.DefaultQuota = 4 * n })
		if _, err := s2.Deliver(ctx, &Delivery{Raw: m, Local: []LocalTarget{{AccountID: an.ID}}}); !errors.Is(err, ErrOverQuota) {
			t.Errorf("deliver over the default quota: got %v, want ErrOverQuota", err)
		}
		if q, _ := s2.QuotaOf(ctx, an.Address); q.Limit != 4*n || q.Own != QuotaDefault {
			t.Errorf("quota with a default: got %+v, want limit %d", q, 4*n)
		}

		if err := s.SetQuota(ctx, "nobody@example.gov.vn", 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetQuota of an unknown account: got %v, want ErrNotFound", err)
		}
		if _, err := s.QuotaOf(ctx, "nobody@example.gov.vn"); !errors.Is(err, ErrNotFound) {
			t.Errorf("QuotaOf an unknown account: got %v, want ErrNotFound", err)
		}
		if err := s.SetQuota(ctx, an.Address, -2); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetQuota(-2): got %v, want ErrInvalid", err)
		}
	})
}

func TestQuotaPartialDelivery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		accs := setup(t, s, "an", "binh", "chi")
		an, binh, chi := accs[0], accs[1], accs[2]
		m := msg("x")
		n := int64(len(m))
		if err := s.SetQuota(ctx, binh.Address, n-1); err != nil {
			t.Fatal(err)
		}
		targets := []LocalTarget{{AccountID: an.ID}, {AccountID: binh.ID}, {AccountID: chi.ID}}

		// Strict: one full account fails the whole delivery.
		_, err := s.Deliver(ctx, &Delivery{Raw: m, Local: targets})
		if !errors.Is(err, ErrOverQuota) {
			t.Fatalf("strict: got %v, want ErrOverQuota", err)
		}
		checkUsage(t, s, an, 0)
		checkUsage(t, s, chi, 0)

		// Partial: the others get it.
		res, err := s.Deliver(ctx, &Delivery{Raw: m, Local: targets, PartialQuota: true})
		if err != nil {
			t.Fatalf("partial: %v", err)
		}
		if fmt.Sprint(res.OverQuota) != fmt.Sprint([]int64{binh.ID}) {
			t.Errorf("OverQuota: got %v, want [%d]", res.OverQuota, binh.ID)
		}
		// The refused delivery used no UID.
		if res.Local[0].UID != 1 || res.Local[1].UID != 0 || res.Local[2].UID != 1 {
			t.Errorf("Local: got %+v, want UID 1, none, UID 1", res.Local)
		}
		if st, _ := s.Status(ctx, inbox(t, s, binh.ID).ID); st.UIDNext != 1 || st.HighestModSeq != inbox(t, s, binh.ID).HighestModSeq {
			t.Errorf("full INBOX: UIDNEXT %d, want 1", st.UIDNext)
		}
		checkUsage(t, s, an, n)
		checkUsage(t, s, binh, 0)
		checkUsage(t, s, chi, n)

		// Partial with every account full fails, with remote recipients
		// it goes to the outbox alone.
		_, err = s.Deliver(ctx, &Delivery{Raw: m, Local: targets[1:2], PartialQuota: true})
		if !errors.Is(err, ErrOverQuota) {
			t.Errorf("partial, all full: got %v, want ErrOverQuota", err)
		}
		res, err = s.Deliver(ctx, &Delivery{Raw: m, Local: targets[1:2], PartialQuota: true, MailFrom: "an@example.gov.vn", Remote: []string{"x@example.org"}})
		if err != nil || res.OutboxID == 0 || len(res.OverQuota) != 1 {
			t.Errorf("partial, all local full, one remote: got %+v, %v", res, err)
		}
		checkUsage(t, s, binh, 0)
	})
}

// TestQuotaConcurrent delivers from many goroutines and two stores (two
// processes) into an account with room for exactly limit messages:
// exactly that many land.
func TestQuotaConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		accs := setup(t, s, "an", "binh")
		an, binh := accs[0], accs[1]
		s2 := b.open(t)
		m := func(i int) []byte { return msg(fmt.Sprintf("%04d", i)) }
		n := int64(len(m(0)))
		const limit, workers, per = 37, 12, 10
		if err := s.SetQuota(ctx, an.Address, limit*n+n/2); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		stored, refused := 0, 0
		for w := range workers {
			st := s
			if w%2 == 1 {
				st = s2
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					// Every other delivery also goes to binh, who has
					// no limit: partial deliveries keep his copy.
					d := &Delivery{Raw: m(w*per + i), Local: []LocalTarget{{AccountID: an.ID}}}
					if i%2 == 0 {
						d.Local = append(d.Local, LocalTarget{AccountID: binh.ID})
						d.PartialQuota = true
					}
					res, err := st.Deliver(ctx, d)
					mu.Lock()
					switch {
					case err == nil && len(res.OverQuota) == 0:
						stored++
					case err == nil || errors.Is(err, ErrOverQuota):
						refused++
					default:
						t.Error(err)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if stored != limit || refused != workers*per-limit {
			t.Errorf("stored %d, refused %d, want %d and %d", stored, refused, limit, workers*per-limit)
		}
		checkUsage(t, s, an, limit*n)
		checkUsage(t, s, binh, workers*per/2*n)
	})
}
