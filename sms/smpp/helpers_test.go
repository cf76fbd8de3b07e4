package smpp

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// perlSMSC runs testdata/smsc.pl (Net::SMPP) and records what it prints.
type perlSMSC struct {
	addr   string
	mu     sync.Mutex
	lines  []string
	change chan struct{} // closed and replaced on every new line
}

// startPerlSMSC starts the Perl SMSC with flags and stops it when t ends.
func startPerlSMSC(t testing.TB, flags ...string) *perlSMSC {
	t.Helper()
	if _, err := exec.LookPath("perl"); err != nil {
		t.Fatalf("perl not found: %v", err)
	}
	if err := exec.Command("perl", "-MNet::SMPP", "-e1").Run(); err != nil {
		t.Fatalf("Net::SMPP missing (apt-get install libnet-smpp-perl): %v", err)
	}
	cmd := exec.Command("perl", append([]string{"testdata/smsc.pl"}, flags...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &perlSMSC{change: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			close(s.change)
			s.change = make(chan struct{})
			s.mu.Unlock()
		}
		io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		<-done
		if t.Failed() {
			s.mu.Lock()
			t.Logf("SMSC log (%d lines):\n%s", len(s.lines), strings.Join(tail(s.lines, 60), "\n"))
			s.mu.Unlock()
		}
	})
	ev := s.waitEvent(t, 10*time.Second, "LISTENING", nil)
	s.addr = "127.0.0.1:" + ev["port"]
	return s
}

func tail(l []string, n int) []string {
	if len(l) > n {
		return l[len(l)-n:]
	}
	return l
}

// event is one log line: its first word under "", then key=value pairs.
type event map[string]string

func parseEvent(line string) event {
	f := strings.Fields(line)
	ev := event{}
	if len(f) == 0 {
		return ev
	}
	ev[""] = f[0]
	for _, kv := range f[1:] {
		if k, v, ok := strings.Cut(kv, "="); ok {
			ev[k] = v
		}
	}
	return ev
}

// events returns the events named kind that match want (all keys equal).
func (s *perlSMSC) events(kind string, want event) []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []event
	for _, l := range s.lines {
		ev := parseEvent(l)
		if ev[""] != kind {
			continue
		}
		ok := true
		for k, v := range want {
			ok = ok && ev[k] == v
		}
		if ok {
			out = append(out, ev)
		}
	}
	return out
}

// waitEvent waits for the first event of kind matching want.
func (s *perlSMSC) waitEvent(t testing.TB, timeout time.Duration, kind string, want event) event {
	t.Helper()
	evs := s.waitEvents(t, timeout, kind, want, 1)
	return evs[0]
}

// waitEvents waits until n events of kind match want.
func (s *perlSMSC) waitEvents(t testing.TB, timeout time.Duration, kind string, want event, n int) []event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ch := s.change
		s.mu.Unlock()
		if evs := s.events(kind, want); len(evs) >= n {
			return evs
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %d %s %v from the SMSC within %v; got %d", n, kind, want, timeout, len(s.events(kind, want)))
		}
	}
}

// testLogger collects client logs and shows them when the test fails
// (goroutines may still log after the test ends, so not via t.Log).
func testLogger(t testing.TB) *slog.Logger {
	w := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			w.mu.Lock()
			t.Logf("client log:\n%s", w.b.String())
			w.mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *logBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// dial binds a client to s with fast timers for tests.
func dial(t testing.TB, addr string, mod func(*Options)) *Client {
	t.Helper()
	o := Options{
		Addr: addr, SystemID: "congthu", Password: "secret", SystemType: "VMA",
		Source: "UBND-HN", ResponseTimeout: 2 * time.Second,
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second,
		RetryBackoff: 20 * time.Millisecond, ThrottlePause: 200 * time.Millisecond,
		Logger: testLogger(t),
	}
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}
