package smpptest

import (
	"net"
	"reflect"
	"testing"
	"time"
)

func TestParseEvent(t *testing.T) {
	got := ParseEvent("ACK conn=1 seq=2 id=abc dest=84912345678 sm=4869")
	want := Event{"": "ACK", "conn": "1", "seq": "2", "id": "abc", "dest": "84912345678", "sm": "4869"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseEvent = %v, want %v", got, want)
	}
	if ev := ParseEvent(""); len(ev) != 0 {
		t.Errorf("ParseEvent(\"\") = %v", ev)
	}
}

// The SMSC listens where Addr says, logs the connection, and Stop ends it
// (twice is harmless, and the log stays).
func TestStartStop(t *testing.T) {
	s := Start(t)
	c, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Stop()
	s.Stop()
	if n := s.Count("LISTENING"); n != 1 {
		t.Errorf("%d LISTENING lines, want 1:\n%s", n, s.Log())
	}
	if _, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		t.Error("the SMSC still listens after Stop")
	}
}
