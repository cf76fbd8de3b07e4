package revoke

import (
	"context"
	"sync"
	"testing"
	"time"

	"congthu/internal/testenv"
)

type fakeStamps struct {
	mu sync.Mutex
	m  map[int64]int64
}

func (f *fakeStamps) CredentialStamps(ctx context.Context, ids []int64) (map[int64]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int64]int64{}
	for _, id := range ids {
		if v, ok := f.m[id]; ok {
			out[id] = v
		}
	}
	return out, nil
}

func (f *fakeStamps) set(id, v int64, present bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if present {
		f.m[id] = v
	} else {
		delete(f.m, id)
	}
}

// ender records which sessions were ended.
type ender struct{ ch chan string }

func (e ender) end(name string) func() { return func() { e.ch <- name } }

func (e ender) want(t *testing.T, names ...string) {
	t.Helper()
	got := map[string]bool{}
	for range names {
		select {
		case n := <-e.ch:
			got[n] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("ended %v, want %v", got, names)
		}
	}
	for _, n := range names {
		if !got[n] {
			t.Fatalf("ended %v, want %v", got, names)
		}
	}
	select {
	case n := <-e.ch:
		t.Fatalf("session %s ended too", n)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestPoll(t *testing.T) {
	st := &fakeStamps{m: map[int64]int64{1: 10, 2: 20, 3: 30}}
	r := New(Options{Store: st})
	e := ender{make(chan string, 10)}
	r.Add(1, 10, e.end("a1"))
	r.Add(2, 20, e.end("b1"))
	rm := r.Add(3, 30, e.end("c1"))
	if err := r.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.want(t)

	st.set(1, 11, true) // password changed
	st.set(2, 0, false) // disabled or removed
	rm()                // c's session ended on its own
	st.set(3, 0, false)
	r.Add(1, 11, e.end("a2")) // logged in with the new password
	if err := r.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.want(t, "a1", "b1")
	if err := r.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.want(t) // each session ends once
}

func TestNotice(t *testing.T) {
	for _, n := range []Notice{{1, 2}, {42, Removed}} {
		got, err := ParseNotice(n.String())
		if err != nil || got != n {
			t.Errorf("ParseNotice(%q) = %v, %v", n.String(), got, err)
		}
	}
	for _, s := range []string{"", "1", "1 x", "x 1", "1  2"} {
		if _, err := ParseNotice(s); err == nil {
			t.Errorf("ParseNotice(%q) succeeded", s)
		}
	}
}

// A notice on Redis ends the sessions at once, long before a poll.
func TestRedis(t *testing.T) {
	rdb := testenv.RedisClient(t, testenv.Redis(t))
	ch := testenv.Name("revoke-test:")
	st := &fakeStamps{m: map[int64]int64{7: 100}}
	r := New(Options{Store: st, Redis: rdb, Channel: ch, Poll: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	e := ender{make(chan string, 10)}
	r.Add(7, 100, e.end("old"))
	r.Add(7, 101, e.end("new"))
	// Wait for the subscription, then publish.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := rdb.PubSubNumSub(ctx, ch).Result()
		if err == nil && n[ch] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no subscriber")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := Publish(ctx, rdb, ch, Notice{AccountID: 7, Stamp: 101}); err != nil {
		t.Fatal(err)
	}
	e.want(t, "old")
	if err := Publish(ctx, rdb, ch, Notice{AccountID: 7, Stamp: Removed}); err != nil {
		t.Fatal(err)
	}
	e.want(t, "new")
}
