// Package smpptest runs an SMSC for tests of SMPP clients: the script
// sms/smpp/testdata/smsc.pl, built on Debian's libnet-smpp-perl (Net::SMPP,
// a third-party SMPP 3.4 implementation), so that congthu's client is
// checked against a codec it did not write. It is what mtasts/ststest is
// for MTA-STS senders.
//
// The SMSC listens on 127.0.0.1 and prints one line per event (BIND,
// SUBMIT, ACK, NACK, DLR, ...; the script's header lists them with their
// key=value fields and its flags). The test reads them back as Events.
package smpptest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Script is the path of smsc.pl, for tests that run it themselves.
var Script = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "smsc.pl")
}()

// SMSC is a running test SMSC.
type SMSC struct {
	// Addr is where it listens, 127.0.0.1:port.
	Addr string

	cmd    *exec.Cmd
	done   chan struct{}
	stop   sync.Once
	mu     sync.Mutex
	lines  []string
	change chan struct{} // closed and replaced on every new line
}

// Start runs the SMSC with the script's flags (e.g. "--dlr", "delivered")
// and stops it when t ends. It fails t if perl or Net::SMPP is missing or
// the SMSC does not listen within 10 s.
func Start(t testing.TB, flags ...string) *SMSC {
	t.Helper()
	if err := exec.Command("perl", "-MNet::SMPP", "-e1").Run(); err != nil {
		t.Fatalf("perl with Net::SMPP missing (apt-get install libnet-smpp-perl): %v", err)
	}
	cmd := exec.Command("perl", append([]string{Script}, flags...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &SMSC{cmd: cmd, done: make(chan struct{}), change: make(chan struct{})}
	go func() {
		defer close(s.done)
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
		s.Stop()
		if t.Failed() {
			t.Logf("SMSC log (%d lines):\n%s", len(s.Lines()), strings.Join(tail(s.Lines(), 60), "\n"))
		}
	})
	ev := s.WaitEvent(t, 10*time.Second, "LISTENING", nil)
	s.Addr = "127.0.0.1:" + ev["port"]
	return s
}

// Stop kills the SMSC and waits until it has gone; what it printed stays
// readable. Stopping twice is harmless.
func (s *SMSC) Stop() {
	s.stop.Do(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		<-s.done
	})
}

// Lines returns what the SMSC printed so far, one event a line.
func (s *SMSC) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// Log returns what the SMSC printed so far, for failure messages.
func (s *SMSC) Log() string {
	l := s.Lines()
	if len(l) == 0 {
		return ""
	}
	return strings.Join(l, "\n") + "\n"
}

func tail(l []string, n int) []string {
	if len(l) > n {
		return l[len(l)-n:]
	}
	return l
}

// Event is one line: its first word under "", then its key=value pairs.
type Event map[string]string

// ParseEvent splits one line the SMSC printed.
func ParseEvent(line string) Event {
	f := strings.Fields(line)
	ev := Event{}
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

// Events returns the events named kind that match want (all keys equal).
func (s *SMSC) Events(kind string, want Event) []Event {
	var out []Event
	for _, l := range s.Lines() {
		ev := ParseEvent(l)
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

// Count returns how many events named kind the SMSC printed so far.
func (s *SMSC) Count(kind string) int { return len(s.Events(kind, nil)) }

// WaitEvent waits for the first event of kind matching want.
func (s *SMSC) WaitEvent(t testing.TB, timeout time.Duration, kind string, want Event) Event {
	t.Helper()
	return s.WaitEvents(t, timeout, kind, want, 1)[0]
}

// WaitEvents waits until n events of kind match want and returns them.
func (s *SMSC) WaitEvents(t testing.TB, timeout time.Duration, kind string, want Event, n int) []Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ch := s.change
		s.mu.Unlock()
		if evs := s.Events(kind, want); len(evs) >= n {
			return evs
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %d %s %v from the SMSC within %v; got %d", n, kind, want, timeout, len(s.Events(kind, want)))
		}
	}
}

// Settled waits (up to 5 s) until at least n events named kind were
// printed, then a moment more for any extra one, and returns the count.
// The SMSC prints after it answers, so a line may trail the answer.
func (s *SMSC) Settled(kind string, n int) int {
	deadline := time.Now().Add(5 * time.Second)
	for s.Count(kind) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	return s.Count(kind)
}
