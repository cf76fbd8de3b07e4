package connlimit

import (
	"net/netip"
	"testing"
)

func TestLimiter(t *testing.T) {
	exempt := Exempt([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, true)
	l := New(5, 2, exempt)
	a := netip.MustParseAddr("198.51.100.7")
	v6a, v6b := netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff::9")
	s1, why := l.Acquire(a)
	if why != Accepted {
		t.Fatalf("1st from %s: got %v, want accepted", a, why)
	}
	if _, why := l.Acquire(a); why != Accepted {
		t.Fatalf("2nd: got %v", why)
	}
	if _, why := l.Acquire(a); why != TooManyFromClient {
		t.Errorf("3rd from one address: got %v, want TooManyFromClient", why)
	}
	l.Release(s1)
	if _, why := l.Acquire(a); why != Accepted {
		t.Errorf("after a release: got %v, want accepted", why)
	}
	// One /64 is one client.
	l.Acquire(v6a)
	if _, why := l.Acquire(v6b); why != Accepted {
		t.Fatalf("2nd in the /64: got %v", why)
	}
	if got := l.Open(); got != 4 {
		t.Errorf("open: got %d, want 4", got)
	}
	// Exempt networks and loopback skip the per-client cap, not the total.
	if _, why := l.Acquire(netip.MustParseAddr("192.0.2.1")); why != Accepted {
		t.Errorf("exempt: got %v", why)
	}
	if _, why := l.Acquire(netip.MustParseAddr("127.0.0.1")); why != TooMany {
		t.Errorf("6th connection: got %v, want TooMany", why)
	}
	if Key(netip.MustParseAddr("::ffff:10.1.2.3")) != netip.MustParseAddr("10.1.2.3") {
		t.Error("IPv4-mapped address not counted as IPv4")
	}
}
