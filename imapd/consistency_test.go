package imapd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"congthu/internal/testenv"
)

// recorder collects a client's unsolicited responses.
type recorder struct {
	mu       sync.Mutex
	expunged []uint32
	flags    map[uint32][]imap.Flag
	exists   []uint32
	keywords [][]imap.Flag
}

func (r *recorder) handler() *imapclient.UnilateralDataHandler {
	r.flags = map[uint32][]imap.Flag{}
	return &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) { r.mu.Lock(); r.expunged = append(r.expunged, seq); r.mu.Unlock() },
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if d.NumMessages != nil {
				r.exists = append(r.exists, *d.NumMessages)
			}
			if d.Flags != nil {
				r.keywords = append(r.keywords, d.Flags)
			}
		},
		Fetch: func(m *imapclient.FetchMessageData) {
			b, err := m.Collect()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.flags[b.SeqNum] = b.Flags
			r.mu.Unlock()
		},
	}
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.expunged, r.exists, r.keywords = nil, nil, nil
	r.flags = map[uint32][]imap.Flag{}
	r.mu.Unlock()
}

// TestTwoSessions: changes of one session reach the other at its next
// command, with the right sequence numbers.
func TestTwoSessions(t *testing.T) {
	backends(t, func(t *testing.T, eo envOptions) {
		e := newEnv(t, eo)
		for i := range 3 {
			e.deliver("", message(fmt.Sprintf("Thư %d", i+1), "vp@hanoi.gov.vn", "x"))
		}
		var ra, rb recorder
		a, b := e.client(ra.handler()), e.client(rb.handler())
		for _, c := range []*imapclient.Client{a, b} {
			if d, err := c.Select("INBOX", nil).Wait(); err != nil || d.NumMessages != 3 {
				t.Fatalf("SELECT = %+v, %v", d, err)
			}
		}
		ra.reset()
		rb.reset()

		// A flags message 2 with a new keyword: B hears FLAGS and FETCH.
		if _, err := a.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{"$DaDoc", imap.FlagFlagged}}, nil).Collect(); err != nil {
			t.Fatal(err)
		}
		if err := b.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		// imapclient hands unsolicited FETCH to the handler in a goroutine.
		waitFor(t, func() bool {
			rb.mu.Lock()
			defer rb.mu.Unlock()
			return slices.Contains(rb.flags[2], "$DaDoc")
		})
		rb.mu.Lock()
		if len(rb.keywords) == 0 || !slices.Contains(rb.keywords[len(rb.keywords)-1], "$DaDoc") {
			t.Errorf("B got no FLAGS with the new keyword: %v", rb.keywords)
		}
		rb.mu.Unlock()
		// A does not hear its own change back as unsolicited FETCH.
		if err := a.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		ra.mu.Lock()
		if len(ra.flags) != 0 {
			t.Errorf("A got its own change back: %v", ra.flags)
		}
		ra.mu.Unlock()

		// A expunges message 1; a delivery comes in; B sees both.
		if _, err := a.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
			t.Fatal(err)
		}
		if seqs, err := a.Expunge().Collect(); err != nil || !slices.Equal(seqs, []uint32{1}) {
			t.Fatalf("EXPUNGE = %v, %v", seqs, err)
		}
		e.deliver("", message("Thư 4", "vp@hanoi.gov.vn", "x"))
		// B fetches by sequence number before it hears of the expunge:
		// message 1 is still "there" for it, and no EXPUNGE is sent
		// during FETCH (RFC 9051 section 7.5.1).
		rb.reset()
		msgs, err := b.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{UID: true}).Collect()
		if err != nil || len(msgs) != 1 || msgs[0].SeqNum != 2 {
			t.Fatalf("B FETCH 2 = %+v, %v", msgs, err)
		}
		rb.mu.Lock()
		if len(rb.expunged) != 0 {
			t.Errorf("EXPUNGE sent during FETCH: %v", rb.expunged)
		}
		rb.mu.Unlock()
		if err := b.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		rb.mu.Lock()
		if !slices.Equal(rb.expunged, []uint32{1}) || len(rb.exists) == 0 || rb.exists[len(rb.exists)-1] != 3 {
			t.Errorf("B after NOOP: expunged %v exists %v, want [1] and 3", rb.expunged, rb.exists)
		}
		rb.mu.Unlock()
		if err := a.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		if a.Mailbox().NumMessages != 3 || b.Mailbox().NumMessages != 3 {
			t.Errorf("counts A %d B %d, want 3", a.Mailbox().NumMessages, b.Mailbox().NumMessages)
		}
		ua, ub := views(t, a), views(t, b)
		if !slices.EqualFunc(ua, ub, viewEqual) {
			t.Errorf("views differ:\nA %v\nB %v", ua, ub)
		}
	})
}

// waitFor waits up to a second for cond.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Error("condition not met within a second")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type view struct {
	seq   uint32
	uid   imap.UID
	flags []imap.Flag
}

func viewEqual(a, b view) bool {
	return a.seq == b.seq && a.uid == b.uid && sameFlags(a.flags, b.flags)
}

func views(t testing.TB, c *imapclient.Client) []view {
	t.Helper()
	if c.Mailbox().NumMessages == 0 {
		return nil
	}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatalf("FETCH 1:*: %v", err)
	}
	var out []view
	for _, m := range msgs {
		out = append(out, view{m.SeqNum, m.UID, m.Flags})
	}
	return out
}

// TestConcurrentClients: several clients append, flag and expunge in one
// mailbox at once; afterwards every view is the same, UIDs ascend with
// sequence numbers and no UID was handed out twice.
func TestConcurrentClients(t *testing.T) {
	backends(t, func(t *testing.T, eo envOptions) {
		e := newEnv(t, eo)
		const clients, rounds = 4, 12
		cs := make([]*imapclient.Client, clients)
		for i := range cs {
			cs[i] = e.client(nil)
			if _, err := cs[i].Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
		}
		var (
			mu   sync.Mutex
			uids = map[imap.UID]bool{}
			wg   sync.WaitGroup
		)
		errs := make(chan error, clients)
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(i), 7))
				for r := range rounds {
					raw := message(fmt.Sprintf("Client %d round %d", i, r), "a@hanoi.gov.vn", "x")
					cmd := c.Append("INBOX", int64(len(raw)), nil)
					cmd.Write([]byte(raw))
					cmd.Close()
					d, err := cmd.Wait()
					if err != nil {
						errs <- fmt.Errorf("append: %w", err)
						return
					}
					mu.Lock()
					if uids[d.UID] {
						errs <- fmt.Errorf("UID %d handed out twice", d.UID)
					}
					uids[d.UID] = true
					mu.Unlock()
					if n := c.Mailbox().NumMessages; n > 0 {
						seq := uint32(rnd.IntN(int(n))) + 1
						flag := []imap.Flag{imap.FlagFlagged, imap.FlagSeen, "$Nhan"}[rnd.IntN(3)]
						if _, err := c.Store(imap.SeqSetNum(seq), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{flag}}, nil).Collect(); err != nil {
							errs <- fmt.Errorf("store: %w", err)
							return
						}
					}
					if r%3 == 2 {
						if _, err := c.Store(imap.UIDSetNum(d.UID), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
							errs <- fmt.Errorf("store deleted: %w", err)
							return
						}
						if _, err := c.Expunge().Collect(); err != nil {
							errs <- fmt.Errorf("expunge: %w", err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// Converge: a second NOOP round makes sure every queue is drained.
		for range 2 {
			for _, c := range cs {
				if err := c.Noop().Wait(); err != nil {
					t.Fatal(err)
				}
			}
		}
		want := views(t, cs[0])
		if len(want) != clients*rounds-clients*rounds/3 {
			t.Errorf("%d messages, want %d", len(want), clients*rounds-clients*rounds/3)
		}
		for i := 1; i < len(want); i++ {
			if want[i].uid <= want[i-1].uid || want[i].seq != uint32(i+1) {
				t.Fatalf("view not in UID order: %v", want)
			}
		}
		for i, c := range cs[1:] {
			if got := views(t, c); !slices.EqualFunc(got, want, viewEqual) {
				t.Errorf("client %d view differs:\n%v\nwant\n%v", i+1, got, want)
			}
		}
		// And the store agrees.
		metas, err := e.st.Messages(context.Background(), mustMailbox(t, e, "INBOX"))
		if err != nil {
			t.Fatal(err)
		}
		if len(metas) != len(want) {
			t.Errorf("store has %d messages, clients %d", len(metas), len(want))
		}
		for i := range metas {
			if i < len(want) && (imap.UID(metas[i].UID) != want[i].uid || !sameFlags(imapFlags(metas[i].Flags), want[i].flags)) {
				t.Errorf("message %d: store %d %v, client %d %v", i+1, metas[i].UID, metas[i].Flags, want[i].uid, want[i].flags)
			}
		}
	})
}

func mustMailbox(t testing.TB, e *env, name string) int64 {
	t.Helper()
	mb, err := e.st.Mailbox(context.Background(), e.acct.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	return mb.ID
}

// TestRedisBridge: two servers share one PostgreSQL database and one
// Redis; a delivery through the store of A wakes an IDLE client of B.
func TestRedisBridge(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	url, rurl, ch := testenv.Postgres(t), testenv.Redis(t), testenv.Name("imapd-test-")
	a := newEnv(t, envOptions{url: url, redis: rurl, ch: ch})
	b := newEnv(t, envOptions{url: url, redis: rurl, ch: ch, noAcc: true, opts: Options{IdlePoll: time.Minute}})
	b.acct = a.acct

	exists := make(chan uint32, 16)
	c := b.client(&imapclient.UnilateralDataHandler{Mailbox: func(d *imapclient.UnilateralDataMailbox) {
		if d.NumMessages != nil {
			exists <- *d.NumMessages
		}
	}})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let B's subscription settle
	for i := range 3 {
		start := time.Now()
		a.deliver("", message(fmt.Sprintf("Liên thông %d", i), "vp@hanoi.gov.vn", "x"))
		select {
		case n := <-exists:
			if n != uint32(i+1) {
				t.Errorf("EXISTS %d, want %d", n, i+1)
			}
			t.Logf("B woke %v after the delivery on A", time.Since(start))
		case <-time.After(time.Second):
			t.Fatalf("delivery %d on A did not wake IDLE on B within a second", i)
		}
	}
	idle.Close()
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}
