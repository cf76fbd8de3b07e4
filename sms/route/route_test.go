package route

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// stub is a Sender that answers with the error its test sets.
type stub struct {
	name  string
	mu    sync.Mutex
	err   error
	calls int
}

func (s *stub) Name() string { return s.name }

func (s *stub) Send(ctx context.Context, m Message) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return Result{}, s.err
	}
	return Result{Provider: s.name, ProviderID: s.name + "-id", Parts: 1}, nil
}

func (s *stub) set(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *stub) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	down     = &SendError{Temporary: true, Fault: FaultProvider, Err: errors.New("down")}
	badNum   = &SendError{Fault: FaultMessage, Err: errors.New("no such subscriber")}
	unknown  = &SendError{Temporary: true, Fault: FaultProvider, UnknownOutcome: true, Err: errors.New("timeout")}
	authFail = &SendError{Fault: FaultProvider, Err: errors.New("HTTP 401")}
)

func TestRouterCircuit(t *testing.T) {
	a, b := &stub{name: "a"}, &stub{name: "b"}
	clk := &fakeClock{t: time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC)}
	r := New(a, b, Options{FailuresToSwitch: 3, Cooldown: time.Minute, Now: clk.now})
	ctx := context.Background()
	send := func() (Result, error) { return r.Send(ctx, Message{To: "+84912345678", Text: "x"}) }

	// Healthy primary: it takes everything.
	if res, err := send(); err != nil || res.Provider != "a" || res.ProviderID != "a-id" {
		t.Fatalf("healthy: got %+v, %v", res, err)
	}
	// Primary down: each message falls over to b; after 3 the circuit opens.
	a.set(down)
	for i := range 3 {
		if res, err := send(); err != nil || res.Provider != "b" {
			t.Fatalf("failover %d: got %+v, %v", i, res, err)
		}
	}
	if a.n() != 4 {
		t.Fatalf("a called %d times, want 4", a.n())
	}
	if h := r.Health(); h[0].State != "open" || h[0].Failures != 3 || h[1].State != "closed" {
		t.Fatalf("health: %+v", h)
	}
	// Open: a gets nothing.
	for range 5 {
		if res, _ := send(); res.Provider != "b" {
			t.Fatalf("open: sent through %q", res.Provider)
		}
	}
	if a.n() != 4 {
		t.Fatalf("a called %d times while open, want 4", a.n())
	}
	// After the cooldown one message probes a; it still fails: open again.
	clk.add(time.Minute)
	if h := r.Health(); h[0].State != "half-open" {
		t.Fatalf("after cooldown: %+v", h)
	}
	if res, err := send(); err != nil || res.Provider != "b" || a.n() != 5 {
		t.Fatalf("failed probe: got %+v, %v, a called %d", res, err, a.n())
	}
	send()
	if a.n() != 5 {
		t.Fatalf("a probed again before the cooldown: %d calls", a.n())
	}
	// a recovers: the next probe closes the circuit.
	a.set(nil)
	clk.add(time.Minute)
	if res, err := send(); err != nil || res.Provider != "a" {
		t.Fatalf("good probe: got %+v, %v", res, err)
	}
	if h := r.Health(); h[0].State != "closed" || h[0].Failures != 0 {
		t.Fatalf("after good probe: %+v", h)
	}
}

func TestRouterMessageFaultDoesNotSwitch(t *testing.T) {
	a, b := &stub{name: "a", err: badNum}, &stub{name: "b"}
	r := New(a, b, Options{FailuresToSwitch: 3})
	for range 10 {
		_, err := r.Send(context.Background(), Message{To: "+84912345678", Text: "x"})
		var se *SendError
		if !errors.As(err, &se) || se.Fault != FaultMessage || se.Provider != "a" || !errors.Is(err, ErrPermanent) {
			t.Fatalf("got %v, want a permanent message fault from a", err)
		}
	}
	if b.n() != 0 {
		t.Fatalf("b got %d messages, want 0", b.n())
	}
	if h := r.Health(); h[0].State != "closed" || h[0].Failures != 0 {
		t.Fatalf("health: %+v", h)
	}
	// A message fault between provider failures resets the count.
	a.set(down)
	r.Send(context.Background(), Message{})
	r.Send(context.Background(), Message{})
	a.set(badNum)
	r.Send(context.Background(), Message{})
	a.set(down)
	r.Send(context.Background(), Message{})
	if h := r.Health(); h[0].State != "closed" || h[0].Failures != 1 {
		t.Fatalf("count not reset by a working answer: %+v", h)
	}
}

func TestRouterErrors(t *testing.T) {
	tests := []struct {
		name          string
		aErr, bErr    error
		wantProvider  string
		wantTemporary bool
		wantB         int
	}{
		{"unknown outcome is not sent twice", unknown, nil, "a", true, 0},
		{"partly accepted is not sent twice", &SendError{Temporary: true, MessageIDs: []string{"1"}}, nil, "a", true, 0},
		{"both down: temporary", down, down, "b", true, 1},
		{"a down, b refuses our account: still temporary", down, authFail, "b", true, 1},
		{"both refuse our account: permanent", authFail, authFail, "b", false, 1},
		{"plain error reads as temporary provider failure", errors.New("eof"), nil, "b", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := &stub{name: "a", err: tt.aErr}, &stub{name: "b", err: tt.bErr}
			r := New(a, b, Options{})
			res, err := r.Send(context.Background(), Message{})
			if b.n() != tt.wantB {
				t.Errorf("b called %d times, want %d", b.n(), tt.wantB)
			}
			if tt.bErr == nil && tt.wantB == 1 {
				if err != nil || res.Provider != "b" {
					t.Errorf("got %+v, %v, want sent through b", res, err)
				}
				return
			}
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want *SendError", err)
			}
			if se.Provider != tt.wantProvider || se.Temporary != tt.wantTemporary {
				t.Errorf("got provider %q temporary %v, want %q %v", se.Provider, se.Temporary, tt.wantProvider, tt.wantTemporary)
			}
		})
	}
}

func TestRouterAllOpen(t *testing.T) {
	a, b := &stub{name: "a", err: down}, &stub{name: "b", err: down}
	clk := &fakeClock{t: time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC)}
	r := New(a, b, Options{FailuresToSwitch: 2, Cooldown: time.Minute, Now: clk.now})
	r.Send(context.Background(), Message{})
	r.Send(context.Background(), Message{})
	clk.add(10 * time.Second)
	_, err := r.Send(context.Background(), Message{})
	var se *SendError
	if !errors.As(err, &se) || !errors.Is(err, ErrNoProvider) || !se.Temporary || se.RetryAfter != 50*time.Second {
		t.Fatalf("got %v (%+v), want ErrNoProvider retry after 50s", err, se)
	}
	if a.n() != 2 || b.n() != 2 {
		t.Fatalf("calls a=%d b=%d, want 2 2", a.n(), b.n())
	}
}

func TestRouterSingleProvider(t *testing.T) {
	a := &stub{name: "a", err: down}
	r := New(a, nil, Options{FailuresToSwitch: 1})
	for range 5 {
		r.Send(context.Background(), Message{})
	}
	if a.n() != 5 {
		t.Fatalf("single provider called %d times, want 5 (no circuit)", a.n())
	}
}

func TestRouterCancelledProbe(t *testing.T) {
	// A probe whose caller gives up leaves the provider half-open.
	a, b := &stub{name: "a", err: down}, &stub{name: "b"}
	clk := &fakeClock{t: time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC)}
	r := New(a, b, Options{FailuresToSwitch: 1, Cooldown: time.Minute, Now: clk.now})
	r.Send(context.Background(), Message{})
	clk.add(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.Send(ctx, Message{})
	if h := r.Health(); h[0].State != "half-open" {
		t.Fatalf("after a cancelled probe: %+v", h)
	}
	a.set(nil)
	if res, err := r.Send(context.Background(), Message{}); err != nil || res.Provider != "a" {
		t.Fatalf("probe: %+v %v", res, err)
	}
}
