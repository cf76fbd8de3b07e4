package changebus

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"congthu/internal/testenv"
)

// TestRelay: two nodes' buses over one real Redis. A change published on
// A reaches B's subscribers (account 0: not carried) and only once A's;
// a malformed notice on the channel is skipped.
func TestRelay(t *testing.T) {
	rdb := testenv.RedisClient(t, testenv.Redis(t))
	ch := testenv.Name("changebus-test-")
	log := slog.New(slog.DiscardHandler)
	type change struct{ account, mailbox, modseq int64 }
	subscribe := func(b *Bus) chan change {
		c := make(chan change, 16)
		b.Subscribe(func(a, m, s int64) { c <- change{a, m, s} })
		return c
	}
	a, b := New(), New()
	gotA, gotB := subscribe(a), subscribe(b)
	ra := StartRelay(a, rdb, ch, log)
	defer ra.Close()
	rb := StartRelay(b, rdb, ch, log)
	defer rb.Close()

	// Wait until both relays are subscribed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := rdb.PubSubNumSub(context.Background(), ch).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n[ch] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("relays not subscribed: %v", n)
		}
		time.Sleep(10 * time.Millisecond)
	}

	if err := rdb.Publish(context.Background(), ch, "garbage").Err(); err != nil {
		t.Fatal(err)
	}
	a.Publish(7, 42, 1001)
	if c := <-gotA; c != (change{7, 42, 1001}) {
		t.Errorf("A's subscriber got %+v", c)
	}
	select {
	case c := <-gotB:
		if c != (change{0, 42, 1001}) {
			t.Errorf("B's subscriber got %+v, want mailbox 42 modseq 1001 from another node", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the change on A did not reach B")
	}
	// B relays nothing back, and A skips its own notice.
	select {
	case c := <-gotA:
		t.Errorf("A got its own change again: %+v", c)
	case c := <-gotB:
		t.Errorf("B got a second change: %+v", c)
	case <-time.After(300 * time.Millisecond):
	}
}

func FuzzParseNotice(f *testing.F) {
	f.Add("abc 1 2")
	f.Add("x -1 9223372036854775807")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		node, m, q, err := parseNotice(s)
		if err == nil {
			if n2, m2, q2, err := parseNotice(formatNotice(node, m, q)); err != nil || n2 != node || m2 != m || q2 != q {
				t.Errorf("round trip of %q: %q %d %d %v", s, n2, m2, q2, err)
			}
		}
	})
}
